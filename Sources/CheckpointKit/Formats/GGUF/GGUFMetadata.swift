// GGUF metadata values as read from a file, and their JSON renderings: in full (for tests and
// `--json` consumers that ask) or summarised, so a 32k-token vocabulary does not flood `inspect`.

/// One metadata value. Integers keep their GGUF width and signedness; strings that are not valid
/// UTF-8 are decoded with U+FFFD (the header's ``GGUFHeader/notes`` say so).
public enum GGUFValue: Sendable, Equatable {
    case uint8(UInt8), int8(Int8), uint16(UInt16), int16(Int16), uint32(UInt32), int32(Int32)
    case uint64(UInt64), int64(Int64), float32(Float), float64(Double), bool(Bool)
    case string(String)
    case array(GGUFArray)

    public var type: GGUFValueType {
        switch self {
        case .uint8: return .uint8
        case .int8: return .int8
        case .uint16: return .uint16
        case .int16: return .int16
        case .uint32: return .uint32
        case .int32: return .int32
        case .uint64: return .uint64
        case .int64: return .int64
        case .float32: return .float32
        case .float64: return .float64
        case .bool: return .bool
        case .string: return .string
        case .array: return .array
        }
    }

    /// The value as an unsigned integer when it is a non-negative integer of any width.
    public var unsignedValue: UInt64? {
        switch self {
        case .uint8(let v): return UInt64(v)
        case .uint16(let v): return UInt64(v)
        case .uint32(let v): return UInt64(v)
        case .uint64(let v): return v
        case .int8(let v): return v >= 0 ? UInt64(v) : nil
        case .int16(let v): return v >= 0 ? UInt64(v) : nil
        case .int32(let v): return v >= 0 ? UInt64(v) : nil
        case .int64(let v): return v >= 0 ? UInt64(v) : nil
        default: return nil
        }
    }

    public var stringValue: String? { if case .string(let s) = self { return s } else { return nil } }
    public var arrayValue: GGUFArray? { if case .array(let a) = self { return a } else { return nil } }

    /// JSON: integers exact, float32 as the exact float32 in double precision, arrays as JSON
    /// arrays (nested when nested). With `arrayLimit`, an array longer than it becomes
    /// `{"type": "array[STRING]", "count": N, "head": [first arrayLimit / 2 values]}`.
    public func json(arrayLimit: Int? = nil) -> JSONValue {
        switch self {
        case .uint8(let v): return .number(UInt64(v))
        case .uint16(let v): return .number(UInt64(v))
        case .uint32(let v): return .number(UInt64(v))
        case .uint64(let v): return .number(v)
        case .int8(let v): return .number(Int64(v))
        case .int16(let v): return .number(Int64(v))
        case .int32(let v): return .number(Int64(v))
        case .int64(let v): return .number(v)
        case .float32(let v): return .number(Double(v))
        case .float64(let v): return .number(v)
        case .bool(let v): return .bool(v)
        case .string(let s): return .string(s)
        case .array(let a): return a.json(arrayLimit: arrayLimit)
        }
    }
}

/// A GGUF array: its element type and elements, stored compactly (fixed-size elements as their
/// little-endian bytes, strings as one byte buffer with end offsets, nested arrays as arrays).
public struct GGUFArray: Sendable, Equatable {
    enum Storage: Sendable, Equatable {
        /// `count × elementType.fixedSize` bytes, little-endian (swapped when the file was not).
        case scalars([UInt8])
        /// The strings' bytes one after another; `ends[i]` is one past the last byte of string i.
        case strings(bytes: [UInt8], ends: [Int])
        case arrays([GGUFArray])
    }

    public let elementType: GGUFValueType
    public let count: Int
    let storage: Storage

    init(elementType: GGUFValueType, count: Int, storage: Storage) {
        self.elementType = elementType
        self.count = count
        self.storage = storage
    }

    /// Element `i` (0 ≤ i < count).
    public subscript(i: Int) -> GGUFValue {
        switch storage {
        case .scalars(let bytes):
            return bytes.withUnsafeBytes { Self.scalar(elementType, $0, at: i) }
        case .strings(let bytes, let ends):
            let start = i == 0 ? 0 : ends[i - 1]
            return .string(String(decoding: bytes[start..<ends[i]], as: UTF8.self))
        case .arrays(let arrays):
            return .array(arrays[i])
        }
    }

    /// The raw UTF-8 bytes of string element `i` (string arrays only).
    public func stringBytes(_ i: Int) -> ArraySlice<UInt8>? {
        guard case .strings(let bytes, let ends) = storage else { return nil }
        return bytes[(i == 0 ? 0 : ends[i - 1])..<ends[i]]
    }

    /// The element types from this array down its first elements: `[ARRAY, INT32]` for an array
    /// of arrays of int32 (gguf-py's `types` of a field, without the leading ARRAY).
    public var typeChain: [GGUFValueType] {
        var chain = [elementType]
        if case .arrays(let a) = storage, let first = a.first { chain += first.typeChain }
        return chain
    }

    /// Every leaf element, nested arrays flattened (what gguf-py's `ReaderField.contents()` gives).
    public var flattened: [GGUFValue] {
        if case .arrays(let a) = storage { return a.flatMap(\.flattened) }
        return (0..<count).map { self[$0] }
    }

    public func json(arrayLimit: Int? = nil) -> JSONValue {
        if let limit = arrayLimit, count > limit {
            let head = (0..<max(1, limit / 2)).map { self[$0].json(arrayLimit: limit) }
            return .object([("type", .string("array[" + typeChain.map(\.name).joined(separator: "[") + String(repeating: "]", count: typeChain.count - 1) + "]")),
                            ("count", .number(count)), ("head", .array(head))])
        }
        return .array((0..<count).map { self[$0].json(arrayLimit: arrayLimit) })
    }

    static func scalar(_ type: GGUFValueType, _ b: UnsafeRawBufferPointer, at i: Int) -> GGUFValue {
        func le<T: FixedWidthInteger>(_: T.Type) -> T { T(littleEndian: b.loadUnaligned(fromByteOffset: i * MemoryLayout<T>.size, as: T.self)) }
        switch type {
        case .uint8: return .uint8(b[i])
        case .int8: return .int8(Int8(bitPattern: b[i]))
        case .bool: return .bool(b[i] != 0)
        case .uint16: return .uint16(le(UInt16.self))
        case .int16: return .int16(le(Int16.self))
        case .uint32: return .uint32(le(UInt32.self))
        case .int32: return .int32(le(Int32.self))
        case .float32: return .float32(Float(bitPattern: le(UInt32.self)))
        case .uint64: return .uint64(le(UInt64.self))
        case .int64: return .int64(le(Int64.self))
        case .float64: return .float64(Double(bitPattern: le(UInt64.self)))
        case .string, .array: return .bool(false) // never stored as scalars
        }
    }
}

/// One key/value pair of the metadata, with where its record starts in the file.
public struct GGUFMetadataEntry: Sendable, Equatable {
    public var key: String
    public var value: GGUFValue
    /// File offset of the record (its key's length field).
    public var offset: UInt64
    /// Bytes of the whole record (key, type, value).
    public var length: UInt64
}

/// Whether `bytes` are valid UTF-8 (no overlongs, no surrogates, nothing above U+10FFFF).
func isValidUTF8(_ bytes: ArraySlice<UInt8>) -> Bool { bytes.withUnsafeBufferPointer { isValidUTF8($0) } }

func isValidUTF8(_ b: UnsafeBufferPointer<UInt8>) -> Bool {
    var i = 0
    let n = b.count
    while i < n {
        let b0 = b[i]
        if b0 < 0x80 { i += 1; continue }
        let need: Int
        var lower: UInt8 = 0x80, upper: UInt8 = 0xBF
        switch b0 {
        case 0xC2...0xDF: need = 1
        case 0xE0: need = 2; lower = 0xA0
        case 0xE1...0xEC, 0xEE, 0xEF: need = 2
        case 0xED: need = 2; upper = 0x9F
        case 0xF0: need = 3; lower = 0x90
        case 0xF1...0xF3: need = 3
        case 0xF4: need = 3; upper = 0x8F
        default: return false
        }
        // The first continuation byte has a narrowed range; the others are 10xxxxxx.
        guard i + need < n, b[i + 1] >= lower, b[i + 1] <= upper else { return false }
        var k = 2
        while k <= need {
            guard b[i + k] & 0xC0 == 0x80 else { return false }
            k += 1
        }
        i += need + 1
    }
    return true
}
