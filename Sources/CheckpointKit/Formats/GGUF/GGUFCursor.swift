/// Reads a GGUF header front to back: integers in the file's byte order, strings, and raw runs of
/// bytes, each bounds-checked and named in errors by its file offset.
///
/// The header has no length field, so the cursor reads the file in growing windows (64 KiB,
/// doubling) and keeps what it read: never past the end of the file, and never more than
/// `limit` bytes (``Limits/maxHeaderBytes``) in all.
struct GGUFCursor {
    let file: ReadableFile
    /// Set once the version field has shown the byte order.
    var bigEndian = false
    /// Bytes `[0, buffer.count)` of the file.
    private(set) var buffer: [UInt8] = []
    private(set) var position = 0
    /// min(file size, header limit).
    let cap: Int
    let limit: UInt64
    /// What is being read, for messages: set by the parser as it goes.
    var what = "GGUF header"
    var member: String? = nil

    init(file: ReadableFile, limit: UInt64) {
        self.file = file
        self.limit = limit
        self.cap = Int(min(file.size, limit, UInt64(Int.max / 2)))
    }

    var offset: UInt64 { UInt64(position) }
    /// Bytes between here and min(end of file, header limit).
    var remaining: Int { cap - position }

    /// Makes `n` bytes from `position` available, or throws: `.truncated` past the end of the
    /// file, `.limitExceeded` past the header limit.
    mutating func need(_ n: Int) throws {
        let (end, o) = position.addingReportingOverflow(n)
        if !o && end <= buffer.count { return }
        guard n >= 0, !o, end <= cap else {
            let endText = o ? "beyond any file" : "byte \(end)"
            if !o && UInt64(end) <= file.size {
                throw CheckpointError(.limitExceeded, "the \(what) reaches \(endText), past the \(limit)-byte limit on a GGUF header (metadata and tensor infos)",
                                      file: file.path, member: member, offset: offset)
            }
            throw CheckpointError(.truncated, "the \(what) needs \(n) bytes but the file ends at byte \(file.size) (\(endText) would be needed)",
                                  file: file.path, member: member, offset: offset)
        }
        let grown = min(cap, max(end, buffer.count * 2, 64 << 10))
        let more = try file.read(at: UInt64(buffer.count), count: grown - buffer.count, what: what, member: member)
        buffer += more
    }

    mutating func bytes(_ n: Int) throws -> ArraySlice<UInt8> {
        try need(n)
        defer { position += n }
        return buffer[position..<(position + n)]
    }

    mutating func u8() throws -> UInt8 {
        try need(1)
        defer { position += 1 }
        return buffer[position]
    }

    private mutating func load<T: FixedWidthInteger>(_: T.Type) throws -> T {
        let n = MemoryLayout<T>.size
        try need(n)
        let raw = buffer.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: position, as: T.self) }
        position += n
        return bigEndian ? T(bigEndian: raw) : T(littleEndian: raw)
    }

    mutating func u16() throws -> UInt16 { try load(UInt16.self) }
    mutating func u32() throws -> UInt32 { try load(UInt32.self) }
    mutating func u64() throws -> UInt64 { try load(UInt64.self) }

    /// A length or count field: a uint64 that must fit `Int` and, at `minSize` bytes per item,
    /// in what is left of the file and the header limit.
    mutating func count(minSize: Int, of what: @autoclosure () -> String) throws -> Int {
        let at = offset
        let n = try u64()
        let (bytes, o) = n.multipliedReportingOverflow(by: UInt64(max(minSize, 1)))
        guard !o, bytes <= UInt64(remaining) else {
            let byFile = UInt64(cap) == file.size
            let left = byFile ? "the \(remaining) bytes left in the file" : "the \(remaining) bytes left under the \(limit)-byte header limit"
            throw CheckpointError(byFile ? .truncated : .limitExceeded,
                                  "the \(what()) says \(n)\(minSize > 1 ? " (at least \(minSize) bytes each)" : " bytes"), more than \(left)",
                                  file: file.path, member: member, offset: at)
        }
        return Int(n)
    }

    /// A GGUF string: uint64 byte length, then the bytes. Returns the bytes.
    mutating func stringBytes(of what: @autoclosure () -> String) throws -> ArraySlice<UInt8> {
        let n = try count(minSize: 1, of: "length of the \(what())")
        return try bytes(n)
    }

    /// Appends a GGUF string's bytes to `out` (no intermediate copy: string arrays of 100k+
    /// tokens); returns whether they are valid UTF-8.
    mutating func appendString(to out: inout [UInt8], of what: @autoclosure () -> String) throws -> Bool {
        let n = try count(minSize: 1, of: "length of the \(what())")
        try need(n)
        let start = position
        position += n
        return buffer.withUnsafeBufferPointer { b in
            let s = UnsafeBufferPointer(rebasing: b[start..<(start + n)])
            out.append(contentsOf: s)
            return isValidUTF8(s)
        }
    }

    /// A string that must be valid UTF-8 of at most `maxBytes` bytes (keys, tensor names).
    mutating func name(of what: String, maxBytes: Int) throws -> String {
        let at = offset
        let n = try count(minSize: 1, of: "length of the \(what)")
        guard n <= maxBytes else {
            throw CheckpointError(.limitExceeded, "the \(what) is \(n) bytes long, more than the \(maxBytes)-byte limit on names",
                                  file: file.path, member: member, offset: at)
        }
        let b = try bytes(n)
        guard let s = String(validating: b, as: UTF8.self) else {
            throw CheckpointError(.unsafeName, "the \(what) is not valid UTF-8", file: file.path, member: member, offset: at)
        }
        return s
    }

    /// `n` values of `size` bytes each, converted to little-endian.
    mutating func littleEndianRun(count n: Int, size: Int) throws -> [UInt8] {
        var out = Array(try bytes(n * size))
        if bigEndian && size > 1 { GGUFCursor.swapBytes(&out, size: size) }
        return out
    }

    /// Reverses the bytes of every `size`-byte item of `buffer` in place.
    static func swapBytes(_ buffer: inout [UInt8], size: Int) {
        buffer.withUnsafeMutableBytes { swapBytes($0, size: size) }
    }

    static func swapBytes(_ b: UnsafeMutableRawBufferPointer, size: Int) {
        var i = 0
        switch size {
        case 2:
            while i + 2 <= b.count { b.swapAt(i, i + 1); i += 2 }
        case 4:
            while i + 4 <= b.count { b.swapAt(i, i + 3); b.swapAt(i + 1, i + 2); i += 4 }
        case 8:
            while i + 8 <= b.count {
                b.swapAt(i, i + 7); b.swapAt(i + 1, i + 6); b.swapAt(i + 2, i + 5); b.swapAt(i + 3, i + 4)
                i += 8
            }
        default: break
        }
    }
}
