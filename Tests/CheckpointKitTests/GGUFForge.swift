@testable import CheckpointKit

/// Builds GGUF files byte by byte, in either byte order, including ones no honest writer makes.
struct GGUFForge {
    var bigEndian = false
    var version: UInt32 = 3
    var alignment = 32
    /// Written instead of the real counts when set.
    var tensorCountOverride: UInt64? = nil
    var kvCountOverride: UInt64? = nil
    private(set) var kvs: [[UInt8]] = []
    private(set) var infos: [[UInt8]] = []
    /// The data section (tensor offsets are relative to its start).
    var data: [UInt8] = []

    init(bigEndian: Bool = false) { self.bigEndian = bigEndian }

    // MARK: Encoders

    func u16(_ v: UInt16) -> [UInt8] { withUnsafeBytes(of: bigEndian ? v.bigEndian : v.littleEndian) { Array($0) } }
    func u32(_ v: UInt32) -> [UInt8] { withUnsafeBytes(of: bigEndian ? v.bigEndian : v.littleEndian) { Array($0) } }
    func u64(_ v: UInt64) -> [UInt8] { withUnsafeBytes(of: bigEndian ? v.bigEndian : v.littleEndian) { Array($0) } }
    func str(_ s: String) -> [UInt8] { rawStr(Array(s.utf8)) }
    func rawStr(_ b: [UInt8]) -> [UInt8] { u64(UInt64(b.count)) + b }
    /// An array value (without the leading ARRAY type): element type, count, encoded elements.
    func array(_ type: GGUFValueType, count: UInt64, _ elements: [UInt8]) -> [UInt8] { u32(type.rawValue) + u64(count) + elements }

    // MARK: Records

    /// A key/value record with an already encoded value.
    mutating func kv(_ key: String, _ type: GGUFValueType, _ value: [UInt8]) { kvs.append(str(key) + u32(type.rawValue) + value) }
    mutating func kvRaw(_ record: [UInt8]) { kvs.append(record) }
    mutating func string(_ key: String, _ value: String) { kv(key, .string, str(value)) }
    mutating func uint32(_ key: String, _ value: UInt32) { kv(key, .uint32, u32(value)) }

    /// A tensor info as given (nothing checked).
    mutating func info(_ name: String, ne: [UInt64], type: UInt32, offset: UInt64) {
        var r = str(name) + u32(UInt32(ne.count))
        for d in ne { r += u64(d) }
        infos.append(r + u32(type) + u64(offset))
    }
    mutating func infoRaw(_ record: [UInt8]) { infos.append(record) }

    /// A tensor whose stored bytes are `bytes` (in the file's byte order), placed at the next
    /// aligned offset of the data section.
    mutating func tensor(_ name: String, _ type: GGMLType, ne: [Int], bytes: [UInt8]) {
        while data.count % alignment != 0 { data.append(0) }
        info(name, ne: ne.map { UInt64($0) }, type: type.rawValue, offset: UInt64(data.count))
        data += bytes
    }

    /// The header, padding to the alignment, and the data.
    func bytes() -> [UInt8] {
        var out = Array("GGUF".utf8) + u32(version)
        out += u64(tensorCountOverride ?? UInt64(infos.count)) + u64(kvCountOverride ?? UInt64(kvs.count))
        for r in kvs { out += r }
        for r in infos { out += r }
        while out.count % alignment != 0 { out.append(0) }
        return out + data
    }

    /// Little-endian encoders for tensor payloads (swapped per item for a big-endian forge).
    func items<T: FixedWidthInteger>(_ values: [T]) -> [UInt8] {
        var out: [UInt8] = []
        for v in values { withUnsafeBytes(of: bigEndian ? v.bigEndian : v.littleEndian) { out += $0 } }
        return out
    }
}
