// The two enums of the GGUF format (ggml `docs/gguf.md`, gguf-py `gguf/constants.py`): the types
// of metadata values and the GGML tensor types with their block sizes.

/// The type of a GGUF metadata value (`gguf_metadata_value_type`).
public enum GGUFValueType: UInt32, Sendable, CaseIterable {
    case uint8 = 0, int8 = 1, uint16 = 2, int16 = 3, uint32 = 4, int32 = 5, float32 = 6, bool = 7
    case string = 8, array = 9, uint64 = 10, int64 = 11, float64 = 12

    /// The name gguf-py gives the type (`UINT8`, `STRING`, ...).
    public var name: String {
        switch self {
        case .uint8: return "UINT8"
        case .int8: return "INT8"
        case .uint16: return "UINT16"
        case .int16: return "INT16"
        case .uint32: return "UINT32"
        case .int32: return "INT32"
        case .float32: return "FLOAT32"
        case .bool: return "BOOL"
        case .string: return "STRING"
        case .array: return "ARRAY"
        case .uint64: return "UINT64"
        case .int64: return "INT64"
        case .float64: return "FLOAT64"
        }
    }

    /// Bytes of one value of a fixed-size type; nil for strings and arrays.
    public var fixedSize: Int? {
        switch self {
        case .uint8, .int8, .bool: return 1
        case .uint16, .int16: return 2
        case .uint32, .int32, .float32: return 4
        case .uint64, .int64, .float64: return 8
        case .string, .array: return nil
        }
    }

    /// The fewest bytes one value of this type takes in a file (a string: its 8-byte length; an
    /// array: its 4-byte element type and 8-byte count). Bounds element counts before allocating.
    var minimumEncodedSize: Int { fixedSize ?? (self == .string ? 8 : 12) }
}

/// A GGML tensor type (`ggml_type`) as GGUF files store it.
///
/// Plain types map to a ``DType`` and are served as stored. Block-quantized types are served
/// dequantized to float32, exactly as `gguf.quants.dequantize` computes them (see
/// ``GGUFDequantizer``); a type without a dequantizer here can be listed but not read.
public enum GGMLType: UInt32, Sendable, CaseIterable {
    case f32 = 0, f16 = 1, q4_0 = 2, q4_1 = 3, q5_0 = 6, q5_1 = 7, q8_0 = 8, q8_1 = 9
    case q2_K = 10, q3_K = 11, q4_K = 12, q5_K = 13, q6_K = 14, q8_K = 15
    case iq2_XXS = 16, iq2_XS = 17, iq3_XXS = 18, iq1_S = 19, iq4_NL = 20, iq3_S = 21, iq2_S = 22, iq4_XS = 23
    case i8 = 24, i16 = 25, i32 = 26, i64 = 27, f64 = 28, iq1_M = 29, bf16 = 30
    case tq1_0 = 34, tq2_0 = 35, mxfp4 = 39, nvfp4 = 40, q1_0 = 41

    /// The name ggml and gguf-py use (`F32`, `Q4_K`, `IQ2_XXS`, ...).
    public var name: String { String(describing: self).uppercased() }

    /// The type named `name` as ggml spells it (`Q4_K`), if known.
    public init?(name: String) {
        guard let t = GGMLType.allCases.first(where: { $0.name == name }) else { return nil }
        self = t
    }

    /// (elements per block, bytes per block): gguf-py's `GGML_QUANT_SIZES`.
    public var blockLayout: (blockSize: Int, typeSize: Int) {
        let qk = 256
        switch self {
        case .f32: return (1, 4)
        case .f16, .bf16: return (1, 2)
        case .f64: return (1, 8)
        case .i8: return (1, 1)
        case .i16: return (1, 2)
        case .i32: return (1, 4)
        case .i64: return (1, 8)
        case .q4_0: return (32, 2 + 16)
        case .q4_1: return (32, 2 + 2 + 16)
        case .q5_0: return (32, 2 + 4 + 16)
        case .q5_1: return (32, 2 + 2 + 4 + 16)
        case .q8_0: return (32, 2 + 32)
        case .q8_1: return (32, 4 + 4 + 32)
        case .q2_K: return (qk, 2 + 2 + qk / 16 + qk / 4)
        case .q3_K: return (qk, 2 + qk / 4 + qk / 8 + 12)
        case .q4_K: return (qk, 2 + 2 + qk / 2 + 12)
        case .q5_K: return (qk, 2 + 2 + qk / 2 + qk / 8 + 12)
        case .q6_K: return (qk, 2 + qk / 2 + qk / 4 + qk / 16)
        case .q8_K: return (qk, 4 + qk + qk / 8)
        case .iq2_XXS: return (qk, 2 + qk / 4)
        case .iq2_XS: return (qk, 2 + qk / 4 + qk / 32)
        case .iq3_XXS: return (qk, 2 + qk / 4 + qk / 8)
        case .iq1_S: return (qk, 2 + qk / 8 + qk / 16)
        case .iq4_NL: return (32, 2 + 16)
        case .iq3_S: return (qk, 2 + qk / 4 + qk / 8 + qk / 32 + 4)
        case .iq2_S: return (qk, 2 + qk / 4 + qk / 16)
        case .iq4_XS: return (qk, 2 + 2 + qk / 2 + qk / 64)
        case .iq1_M: return (qk, qk / 8 + qk / 16 + qk / 32)
        case .tq1_0: return (qk, 2 + 4 * 13)
        case .tq2_0: return (qk, 2 + 64)
        case .mxfp4: return (32, 1 + 16)
        case .nvfp4: return (64, 4 + 32)
        case .q1_0: return (128, 2 + 16)
        }
    }

    /// The dtype of a plain (unquantized) type, whose bytes are served as stored; nil for the
    /// block-quantized types.
    public var plainDType: DType? {
        switch self {
        case .f32: return .float32
        case .f16: return .float16
        case .bf16: return .bfloat16
        case .f64: return .float64
        case .i8: return .int8
        case .i16: return .int16
        case .i32: return .int32
        case .i64: return .int64
        default: return nil
        }
    }

    /// Whether ckpt decodes this quantized type (to float32, as gguf-py and ggml do).
    public var isDequantizable: Bool {
        switch self {
        case .q4_0, .q4_1, .q5_0, .q5_1, .q8_0, .q2_K, .q3_K, .q4_K, .q5_K, .q6_K, .q8_K,
             .iq4_NL, .iq4_XS, .tq1_0, .tq2_0, .mxfp4:
            return true
        default:
            return false
        }
    }

    /// For a big-endian file: byte offsets, inside one block, of the 16-bit fields to swap before
    /// decoding; nil when the block layout of this type in a big-endian file is not defined.
    ///
    /// gguf-py's `gguf_convert_endian.py` is the only producer of big-endian quantized blocks
    /// that swaps their fields (`GGUFWriter` leaves quantized bytes as they are), and it handles
    /// Q4_0, Q8_0, Q4_K, Q6_K (and MXFP4, which has no multi-byte field) only.
    var bigEndianSwappedFields: [Int]? {
        switch self {
        case .q4_0, .q8_0: return [0]
        case .q4_K: return [0, 2]
        case .q6_K: return [208]
        case .mxfp4: return []
        default: return nil
        }
    }
}
