/// Reads little-endian integers from a byte array, knowing where in the file each byte came from.
///
/// Every read is bounds-checked without overflow; running off the end throws `.truncated` (or
/// `.corrupt` when the structure, not the file, is short) naming the file offset.
struct ByteCursor {
    let bytes: [UInt8]
    /// File offset of `bytes[0]`.
    let base: UInt64
    private(set) var position: Int
    let file: String?
    let what: String

    init(_ bytes: [UInt8], base: UInt64, file: String?, what: String, position: Int = 0) {
        self.bytes = bytes
        self.base = base
        self.file = file
        self.what = what
        self.position = position
    }

    var remaining: Int { bytes.count - position }
    var fileOffset: UInt64 { base + UInt64(position) }

    private func short(_ n: Int) -> CheckpointError {
        CheckpointError(.corrupt, "the \(what) ends \(n - remaining) bytes early", file: file, offset: fileOffset)
    }

    mutating func skip(_ n: Int) throws {
        guard n >= 0, n <= remaining else { throw short(n) }
        position += n
    }

    mutating func u8() throws -> UInt8 {
        guard remaining >= 1 else { throw short(1) }
        defer { position += 1 }
        return bytes[position]
    }

    mutating func u16le() throws -> UInt16 {
        guard remaining >= 2 else { throw short(2) }
        defer { position += 2 }
        return UInt16(bytes[position]) | UInt16(bytes[position + 1]) << 8
    }

    mutating func u32le() throws -> UInt32 {
        guard remaining >= 4 else { throw short(4) }
        defer { position += 4 }
        var v: UInt32 = 0
        for k in 0..<4 { v |= UInt32(bytes[position + k]) << (8 * k) }
        return v
    }

    mutating func u64le() throws -> UInt64 {
        guard remaining >= 8 else { throw short(8) }
        defer { position += 8 }
        var v: UInt64 = 0
        for k in 0..<8 { v |= UInt64(bytes[position + k]) << (8 * k) }
        return v
    }

    mutating func take(_ n: Int) throws -> ArraySlice<UInt8> {
        guard n >= 0, n <= remaining else { throw short(n) }
        defer { position += n }
        return bytes[position..<(position + n)]
    }
}

/// Little-endian encoding for writers.
extension Array where Element == UInt8 {
    mutating func appendLE(_ v: UInt16) {
        append(UInt8(truncatingIfNeeded: v))
        append(UInt8(truncatingIfNeeded: v >> 8))
    }

    mutating func appendLE(_ v: UInt32) {
        for k in 0..<4 { append(UInt8(truncatingIfNeeded: v >> (8 * UInt32(k)))) }
    }

    mutating func appendLE(_ v: UInt64) {
        for k in 0..<8 { append(UInt8(truncatingIfNeeded: v >> (8 * UInt64(k)))) }
    }
}

/// `a + b` for sizes and offsets taken from a file, or nil on overflow.
@inline(__always)
func checkedAdd(_ a: UInt64, _ b: UInt64) -> UInt64? {
    let (r, o) = a.addingReportingOverflow(b)
    return o ? nil : r
}
