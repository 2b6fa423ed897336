// A small reader and writer of the protocol buffer wire format, for the few TensorFlow messages
// the toolkit needs (TFProtos.swift, SavedModelProtos.swift). Hand-written rather than generated
// with swift-protobuf: the messages are small, only a handful of fields are read, and the reader
// here is bounded by construction (see the figures in CheckpointKit.docc/TensorFlowFormats.md).
//
// Bounds: every length is checked against the bytes that remain before anything is sliced; a
// varint longer than 10 bytes, a group (wire types 3 and 4), a field number 0, and nesting deeper
// than `maxDepth` are refused; strings must be UTF-8 of at most `maxStringBytes`. Every refusal
// is a `CheckpointError(.corrupt)` naming the file, the member and the byte offset in the file.

/// Where protocol buffer bytes came from, for error messages.
struct ProtoOrigin: Sendable {
    /// The file the bytes were read from.
    var file: String?
    /// The entry / member the message belongs to (a bundle key, `saved_model.pb`).
    var member: String?
    /// File offset of the first byte of the buffer the reader walks.
    var base: UInt64
    /// The message, for messages: "BundleEntryProto".
    var what: String
}

/// The wire types of the protocol buffer encoding.
enum ProtoWireType: UInt8 {
    case varint = 0
    case fixed64 = 1
    case lengthDelimited = 2
    case startGroup = 3
    case endGroup = 4
    case fixed32 = 5
}

/// Reads one message's fields in order from `bytes[range]`.
struct ProtoReader {
    static let maxDepth = 32
    static let maxStringBytes = 1 << 20

    let bytes: [UInt8]
    let end: Int
    private(set) var position: Int
    let origin: ProtoOrigin
    let depth: Int

    /// The field being read (for messages).
    private(set) var field: Int = 0
    private(set) var wireType: ProtoWireType = .varint

    init(_ bytes: [UInt8], range: Range<Int>? = nil, origin: ProtoOrigin, depth: Int = 0) throws {
        let r = range ?? 0..<bytes.count
        guard r.lowerBound >= 0, r.upperBound <= bytes.count else {
            throw CheckpointError(.corrupt, "the \(origin.what) lies outside its buffer", file: origin.file, member: origin.member, offset: origin.base)
        }
        guard depth <= Self.maxDepth else {
            throw CheckpointError(.corrupt, "the \(origin.what) nests messages more than \(Self.maxDepth) deep", file: origin.file,
                                  member: origin.member, offset: origin.base + UInt64(r.lowerBound))
        }
        self.bytes = bytes
        self.end = r.upperBound
        self.position = r.lowerBound
        self.origin = origin
        self.depth = depth
    }

    var fileOffset: UInt64 { origin.base + UInt64(position) }

    func error(_ reason: String, at pos: Int? = nil) -> CheckpointError {
        CheckpointError(.corrupt, "the \(origin.what) is malformed: \(reason)", file: origin.file, member: origin.member,
                        offset: origin.base + UInt64(pos ?? position))
    }

    /// Advances to the next field; false at the end of the message.
    mutating func next() throws -> Bool {
        guard position < end else { return false }
        let at = position
        let key = try varint()
        let type = UInt8(key & 7)
        guard let wt = ProtoWireType(rawValue: type) else { throw error("wire type \(type) does not exist", at: at) }
        guard wt != .startGroup && wt != .endGroup else { throw error("groups (wire types 3 and 4) are not used by this message", at: at) }
        let number = key >> 3
        guard number > 0, number <= 0x1FFF_FFFF else { throw error("field number \(number) is out of range", at: at) }
        field = Int(number)
        wireType = wt
        return true
    }

    mutating func varint() throws -> UInt64 {
        var result: UInt64 = 0
        var shift: UInt64 = 0
        let start = position
        while true {
            guard position < end else { throw error("a varint runs past the end of the message", at: start) }
            let b = bytes[position]
            position += 1
            if shift == 63 && b > 1 { throw error("a varint overflows 64 bits", at: start) }
            result |= UInt64(b & 0x7F) << shift
            if b < 0x80 { return result }
            shift += 7
            guard shift <= 63 else { throw error("a varint is longer than 10 bytes", at: start) }
        }
    }

    private mutating func fixed(_ n: Int) throws -> UInt64 {
        guard end - position >= n else { throw error("a fixed-size field runs past the end of the message") }
        var v: UInt64 = 0
        for k in 0..<n { v |= UInt64(bytes[position + k]) << (8 * UInt64(k)) }
        position += n
        return v
    }

    /// The bytes of a length-delimited field (as a range into `bytes`).
    mutating func lengthDelimited() throws -> Range<Int> {
        let at = position
        let n = try varint()
        guard n <= UInt64(end - position) else {
            throw error("a field says it holds \(n) bytes, but only \(end - position) remain in the message", at: at)
        }
        let r = position..<(position + Int(n))
        position += Int(n)
        return r
    }

    /// Skips the current field's value.
    mutating func skip() throws {
        switch wireType {
        case .varint: _ = try varint()
        case .fixed64: _ = try fixed(8)
        case .fixed32: _ = try fixed(4)
        case .lengthDelimited: _ = try lengthDelimited()
        case .startGroup, .endGroup: throw error("groups are not used by this message")
        }
    }

    private func expect(_ t: ProtoWireType, _ what: String) throws {
        guard wireType == t else { throw error("field \(field) (\(what)) has wire type \(wireType.rawValue), expected \(t.rawValue)") }
    }

    // Typed values of the current field.

    mutating func uint64() throws -> UInt64 {
        try expect(.varint, "an integer")
        return try varint()
    }

    /// int64 / int32 / enum values (two's complement in a varint).
    mutating func int64() throws -> Int64 { Int64(bitPattern: try uint64()) }

    /// An int32 field: a value that does not fit 32 bits is refused.
    mutating func int32() throws -> Int32 {
        let v = try int64()
        guard let r = Int32(exactly: v) else { throw error("field \(field) should be a 32-bit integer, found \(v)") }
        return r
    }

    mutating func bool() throws -> Bool { try uint64() != 0 }

    mutating func fixed32() throws -> UInt32 {
        try expect(.fixed32, "a fixed32")
        return UInt32(truncatingIfNeeded: try fixed(4))
    }

    mutating func bytesRange() throws -> Range<Int> {
        try expect(.lengthDelimited, "bytes")
        return try lengthDelimited()
    }

    mutating func string() throws -> String {
        let at = position
        let r = try bytesRange()
        guard r.count <= Self.maxStringBytes else { throw error("a string of \(r.count) bytes is longer than \(Self.maxStringBytes)", at: at) }
        guard let s = String(validating: bytes[r], as: UTF8.self) else { throw error("a string field is not UTF-8", at: at) }
        return s
    }

    /// A reader of the embedded message in the current field.
    mutating func message(_ what: String) throws -> ProtoReader {
        let r = try bytesRange()
        var o = origin
        o.what = what
        return try ProtoReader(bytes, range: r, origin: o, depth: depth + 1)
    }
}

/// Encodes fields in the order they are appended (writers emit fields in field-number order, as
/// protobuf's serializers do, so the bytes match TensorFlow's for the same values).
struct ProtoWriter {
    private(set) var bytes: [UInt8] = []

    static func varintBytes(_ v: UInt64) -> [UInt8] {
        var out: [UInt8] = []
        var x = v
        while x >= 0x80 {
            out.append(UInt8(truncatingIfNeeded: x) | 0x80)
            x >>= 7
        }
        out.append(UInt8(x))
        return out
    }

    mutating func appendVarint(_ v: UInt64) { bytes += Self.varintBytes(v) }

    mutating func key(_ field: Int, _ type: ProtoWireType) { appendVarint(UInt64(field) << 3 | UInt64(type.rawValue)) }

    /// A varint field, omitted when zero (proto3 default), unless `always`.
    mutating func varint(_ field: Int, _ v: UInt64, always: Bool = false) {
        guard v != 0 || always else { return }
        key(field, .varint)
        appendVarint(v)
    }

    mutating func int64(_ field: Int, _ v: Int64, always: Bool = false) { varint(field, UInt64(bitPattern: v), always: always) }

    mutating func fixed32(_ field: Int, _ v: UInt32, always: Bool = false) {
        guard v != 0 || always else { return }
        key(field, .fixed32)
        bytes.appendLE(v)
    }

    mutating func bytesField(_ field: Int, _ b: [UInt8]) {
        key(field, .lengthDelimited)
        appendVarint(UInt64(b.count))
        bytes += b
    }

    /// A string field, omitted when empty.
    mutating func string(_ field: Int, _ s: String) {
        guard !s.isEmpty else { return }
        bytesField(field, Array(s.utf8))
    }

    /// An embedded message (always written, even when empty, like a set sub-message).
    mutating func message(_ field: Int, _ m: ProtoWriter) { bytesField(field, m.bytes) }
}
