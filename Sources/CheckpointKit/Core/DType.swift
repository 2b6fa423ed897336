/// Element types a checkpoint tensor may have (the container spec, "Data types").
public enum DType: String, Sendable, CaseIterable, Hashable, Comparable {
    case bool
    case int8, int16, int32, int64
    case uint8, uint16, uint32, uint64
    case float16, bfloat16, float32, float64
    /// 8-bit floats (the names are ml_dtypes' and PyTorch's; safetensors calls them F8_E4M3,
    /// F8_E5M2, F8_E4M3FNUZ, F8_E5M2FNUZ, F8_E8M0). See ``Float8``.
    case float8_e4m3fn, float8_e5m2, float8_e4m3fnuz, float8_e5m2fnuz, float8_e8m0fnu

    public static func < (a: DType, b: DType) -> Bool { a.rawValue < b.rawValue }

    public var itemSize: Int {
        switch self {
        case .bool, .int8, .uint8, .float8_e4m3fn, .float8_e5m2, .float8_e4m3fnuz, .float8_e5m2fnuz, .float8_e8m0fnu: return 1
        case .int16, .uint16, .float16, .bfloat16: return 2
        case .int32, .uint32, .float32: return 4
        case .int64, .uint64, .float64: return 8
        }
    }

    public var isFloatingPoint: Bool {
        switch self {
        case .float16, .bfloat16, .float32, .float64: return true
        case .float8_e4m3fn, .float8_e5m2, .float8_e4m3fnuz, .float8_e5m2fnuz, .float8_e8m0fnu: return true
        default: return false
        }
    }

    /// Whether numpy has no dtype of its own for it (bfloat16, the float8 family): stored in `.npy`
    /// as the unsigned integer of its width, holding the raw bits.
    public var numpyLacks: Bool {
        switch self {
        case .bfloat16, .float8_e4m3fn, .float8_e5m2, .float8_e4m3fnuz, .float8_e5m2fnuz, .float8_e8m0fnu: return true
        default: return false
        }
    }

    /// The float8 layout, or nil for other dtypes.
    public var float8: Float8.Format? {
        switch self {
        case .float8_e4m3fn: return .e4m3fn
        case .float8_e5m2: return .e5m2
        case .float8_e4m3fnuz: return .e4m3fnuz
        case .float8_e5m2fnuz: return .e5m2fnuz
        case .float8_e8m0fnu: return .e8m0fnu
        default: return nil
        }
    }

    public var isSignedInteger: Bool {
        switch self {
        case .int8, .int16, .int32, .int64: return true
        default: return false
        }
    }

    /// The `.npy` `descr` this dtype is stored as. bfloat16 and float8 have no numpy type; they are
    /// stored as `<u2` / `|u1` holding the raw bits and the manifest's `dtype` says which (spec,
    /// "bfloat16 and float8").
    public var npyDescr: String {
        switch self {
        case .bool: return "|b1"
        case .int8: return "|i1"
        case .uint8, .float8_e4m3fn, .float8_e5m2, .float8_e4m3fnuz, .float8_e5m2fnuz, .float8_e8m0fnu: return "|u1"
        case .int16: return "<i2"
        case .uint16, .bfloat16: return "<u2"
        case .int32: return "<i4"
        case .uint32: return "<u4"
        case .int64: return "<i8"
        case .uint64: return "<u8"
        case .float16: return "<f2"
        case .float32: return "<f4"
        case .float64: return "<f8"
        }
    }

    /// Parses a numpy type string. Returns the dtype and whether the data is big-endian.
    /// `nil` for anything else (objects, strings, structured, complex, datetimes).
    public static func fromNPY(descr: String) -> (DType, bigEndian: Bool)? {
        guard let first = descr.first else { return nil }
        var order: Character = "="
        var body = Substring(descr)
        if "<>|=".contains(first) { order = first; body = body.dropFirst() }
        let t: DType
        switch body {
        case "b1", "?": t = .bool
        case "i1": t = .int8
        case "u1": t = .uint8
        case "i2": t = .int16
        case "u2": t = .uint16
        case "i4": t = .int32
        case "u4": t = .uint32
        case "i8": t = .int64
        case "u8": t = .uint64
        case "f2", "e": t = .float16
        case "f4": t = .float32
        case "f8": t = .float64
        default: return nil
        }
        let big = order == ">" && t.itemSize > 1
        return (t, big)
    }

    /// safetensors dtype names (`F32`, `BF16`, ...).
    public var safetensorsName: String {
        switch self {
        case .bool: return "BOOL"
        case .int8: return "I8"
        case .int16: return "I16"
        case .int32: return "I32"
        case .int64: return "I64"
        case .uint8: return "U8"
        case .uint16: return "U16"
        case .uint32: return "U32"
        case .uint64: return "U64"
        case .float16: return "F16"
        case .bfloat16: return "BF16"
        case .float32: return "F32"
        case .float64: return "F64"
        case .float8_e4m3fn: return "F8_E4M3"
        case .float8_e5m2: return "F8_E5M2"
        case .float8_e4m3fnuz: return "F8_E4M3FNUZ"
        case .float8_e5m2fnuz: return "F8_E5M2FNUZ"
        case .float8_e8m0fnu: return "F8_E8M0"
        }
    }

    public init?(safetensorsName: String) {
        guard let t = DType.allCases.first(where: { $0.safetensorsName == safetensorsName }) else { return nil }
        self = t
    }

    /// Keras / numpy dtype names (`float32`, `bfloat16`, `bool`).
    public init?(name: String) {
        if let t = DType(rawValue: name) { self = t; return }
        switch name {
        case "half": self = .float16
        case "float", "single": self = .float32
        case "double": self = .float64
        default: return nil
        }
    }
}
