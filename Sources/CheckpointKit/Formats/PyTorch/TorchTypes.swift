// What a PyTorch pickle may name: torch's scalar types, and the allow-list of globals — the same
// set `torch.load(weights_only=True)` accepts by default (torch/_weights_only_unpickler.py,
// `_get_allowed_globals`), minus what has no meaning without Python (Counter's subclass checks,
// DTensor) and plus `builtins.frozenset` / `builtins.slice` / `builtins.bytes` (plain data:
// protocols 0-2 pickle `b""` as `bytes()`). numpy scalars are not in
// it: torch refuses them unless the user allow-lists them.

/// A torch dtype: its name (`float32`), element size, and the ckpt ``DType`` holding it, if any.
struct TorchScalarType: Sendable, Hashable {
    /// Torch's name without `torch.` (`float32`, `float8_e4m3fn`).
    let name: String
    /// `torch._utils._element_size`.
    let itemSize: Int
    /// nil for dtypes ckpt cannot hold today (complex, quantized, sub-byte, float4).
    let dtype: DType?
    /// The legacy typed-storage class (`FloatStorage`), if torch has one.
    let storageClass: String?

    private init(_ name: String, _ itemSize: Int, _ dtype: DType?, _ storageClass: String? = nil) {
        self.name = name
        self.itemSize = itemSize
        // A dtype ckpt learns later maps by its torch name without a change here.
        self.dtype = dtype ?? DType(rawValue: name)
        self.storageClass = storageClass
    }

    /// The untyped storage's element: a byte.
    static let byte = TorchScalarType("uint8", 1, .uint8, "ByteStorage")

    static let all: [TorchScalarType] = [
        TorchScalarType("float64", 8, .float64, "DoubleStorage"),
        TorchScalarType("float32", 4, .float32, "FloatStorage"),
        TorchScalarType("float16", 2, .float16, "HalfStorage"),
        TorchScalarType("bfloat16", 2, .bfloat16, "BFloat16Storage"),
        TorchScalarType("int64", 8, .int64, "LongStorage"),
        TorchScalarType("int32", 4, .int32, "IntStorage"),
        TorchScalarType("int16", 2, .int16, "ShortStorage"),
        TorchScalarType("int8", 1, .int8, "CharStorage"),
        byte,
        TorchScalarType("bool", 1, .bool, "BoolStorage"),
        TorchScalarType("uint16", 2, .uint16),
        TorchScalarType("uint32", 4, .uint32),
        TorchScalarType("uint64", 8, .uint64),
        TorchScalarType("complex128", 16, nil, "ComplexDoubleStorage"),
        TorchScalarType("complex64", 8, nil, "ComplexFloatStorage"),
        TorchScalarType("complex32", 4, nil),
        TorchScalarType("qint8", 1, nil, "QInt8Storage"),
        TorchScalarType("qint32", 4, nil, "QInt32Storage"),
        TorchScalarType("quint8", 1, nil, "QUInt8Storage"),
        TorchScalarType("quint4x2", 1, nil, "QUInt4x2Storage"),
        TorchScalarType("quint2x4", 1, nil, "QUInt2x4Storage"),
        TorchScalarType("float8_e4m3fn", 1, .float8_e4m3fn),
        TorchScalarType("float8_e5m2", 1, .float8_e5m2),
        TorchScalarType("float8_e4m3fnuz", 1, .float8_e4m3fnuz),
        TorchScalarType("float8_e5m2fnuz", 1, .float8_e5m2fnuz),
        TorchScalarType("float8_e8m0fnu", 1, .float8_e8m0fnu),
        TorchScalarType("float4_e2m1fn_x2", 1, nil),
        TorchScalarType("bits8", 1, nil),
        TorchScalarType("bits16", 2, nil),
        TorchScalarType("bits1x8", 1, nil),
        TorchScalarType("bits2x4", 1, nil),
        TorchScalarType("bits4x2", 1, nil),
    ] + (1...7).flatMap { [TorchScalarType("int\($0)", 1, nil), TorchScalarType("uint\($0)", 1, nil)] }

    static let byName: [String: TorchScalarType] = Dictionary(all.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
    static let byStorageClass: [String: TorchScalarType] = Dictionary(all.compactMap { t in t.storageClass.map { ($0, t) } }, uniquingKeysWith: { a, _ in a })
}

/// A global the unpickler knows. Anything else is refused (or, lenient, a placeholder).
enum PickleGlobal: Sendable, Equatable {
    case orderedDict, counter
    case rebuildTensor, rebuildTensorV2, rebuildTensorV3
    case rebuildParameter, rebuildParameterWithState, rebuildFromTypeV2
    /// A rebuild function torch allows for tensors this reader does not hold (`_rebuild_qtensor`...).
    case rebuildOpaque(String)
    /// `torch.FloatStorage` and the other legacy typed-storage classes.
    case storageClass(TorchScalarType)
    case untypedStorage, typedStorage
    case dtype(TorchScalarType)
    case size, device, parameter, getLayout
    /// `torch.Tensor`, `torch.FloatTensor`, ...
    case tensorClass(String)
    /// `torch.per_tensor_affine` and the other quantization schemes.
    case qscheme(String)
    case codecsEncode, bytearray, bytes, set, frozenset, complex, slice

    var qualifiedName: String {
        switch self {
        case .orderedDict: return "collections.OrderedDict"
        case .counter: return "collections.Counter"
        case .rebuildTensor: return "torch._utils._rebuild_tensor"
        case .rebuildTensorV2: return "torch._utils._rebuild_tensor_v2"
        case .rebuildTensorV3: return "torch._utils._rebuild_tensor_v3"
        case .rebuildParameter: return "torch._utils._rebuild_parameter"
        case .rebuildParameterWithState: return "torch._utils._rebuild_parameter_with_state"
        case .rebuildFromTypeV2: return "torch._tensor._rebuild_from_type_v2"
        case .rebuildOpaque(let f): return "torch._utils.\(f)"
        case .storageClass(let t): return "torch.\(t.storageClass ?? t.name)"
        case .untypedStorage: return "torch.storage.UntypedStorage"
        case .typedStorage: return "torch.storage.TypedStorage"
        case .dtype(let t): return "torch.\(t.name)"
        case .size: return "torch.Size"
        case .device: return "torch.device"
        case .parameter: return "torch.nn.parameter.Parameter"
        case .getLayout: return "torch.serialization._get_layout"
        case .tensorClass(let n): return n
        case .qscheme(let n): return "torch.\(n)"
        case .codecsEncode: return "_codecs.encode"
        case .bytearray: return "builtins.bytearray"
        case .bytes: return "builtins.bytes"
        case .set: return "builtins.set"
        case .frozenset: return "builtins.frozenset"
        case .complex: return "builtins.complex"
        case .slice: return "builtins.slice"
        }
    }

    /// Rebuild functions torch allows whose tensors have no plain strided data to read.
    static let opaqueRebuilds: [String: String] = [
        "_rebuild_qtensor": "quantized tensor",
        "_rebuild_sparse_tensor": "sparse tensor",
        "_rebuild_meta_tensor_no_storage": "meta tensor (no data)",
        "_rebuild_wrapper_subclass": "tensor subclass",
        "_rebuild_device_tensor_from_numpy": "tensor rebuilt from numpy",
        "_rebuild_device_tensor_from_cpu_tensor": "device tensor",
        "_rebuild_nested_tensor": "nested tensor",
    ]

    static let qschemes: Set<String> = ["per_tensor_affine", "per_tensor_symmetric", "per_channel_affine", "per_channel_symmetric", "per_channel_affine_float_qparams"]

    /// Python 2 module names protocol 0–2 pickles use (pickle's `_compat_pickle.IMPORT_MAPPING`,
    /// the part that matters here).
    static func canonicalModule(_ module: String) -> String {
        switch module {
        case "__builtin__": return "builtins"
        case "copy_reg": return "copyreg"
        default: return module
        }
    }

    /// The global `module.name` if the allow-list has it.
    static func lookup(module rawModule: String, name: String) -> PickleGlobal? {
        let module = canonicalModule(rawModule)
        switch (module, name) {
        case ("collections", "OrderedDict"): return .orderedDict
        case ("collections", "Counter"): return .counter
        case ("torch._utils", "_rebuild_tensor"): return .rebuildTensor
        case ("torch._utils", "_rebuild_tensor_v2"): return .rebuildTensorV2
        case ("torch._utils", "_rebuild_tensor_v3"): return .rebuildTensorV3
        case ("torch._utils", "_rebuild_parameter"): return .rebuildParameter
        case ("torch._utils", "_rebuild_parameter_with_state"): return .rebuildParameterWithState
        case ("torch._tensor", "_rebuild_from_type_v2"): return .rebuildFromTypeV2
        case ("torch._utils", _) where opaqueRebuilds[name] != nil: return .rebuildOpaque(name)
        case ("torch.storage", "UntypedStorage"), ("torch", "UntypedStorage"): return .untypedStorage
        case ("torch.storage", "TypedStorage"), ("torch", "TypedStorage"): return .typedStorage
        case ("torch", "Size"): return .size
        case ("torch", "device"): return .device
        case ("torch", "Tensor"), ("torch._tensor", "Tensor"): return .tensorClass("torch.Tensor")
        case ("torch.nn.parameter", "Parameter"): return .parameter
        case ("torch.serialization", "_get_layout"): return .getLayout
        case ("_codecs", "encode"): return .codecsEncode
        case ("builtins", "bytearray"): return .bytearray
        case ("builtins", "bytes"): return .bytes
        case ("builtins", "set"): return .set
        case ("builtins", "frozenset"): return .frozenset
        case ("builtins", "complex"): return .complex
        case ("builtins", "slice"): return .slice
        case ("torch", _), ("torch.cuda", _):
            if let t = TorchScalarType.byStorageClass[name] { return .storageClass(t) }
            if module == "torch", let t = TorchScalarType.byName[name] { return .dtype(t) }
            if module == "torch", qschemes.contains(name) { return .qscheme(name) }
            if name.hasSuffix("Tensor"), TorchScalarType.byStorageClass[String(name.dropLast(6)) + "Storage"] != nil {
                return .tensorClass("\(module).\(name)")
            }
            return nil
        default: return nil
        }
    }
}

/// A storage a persistent id names: torch's `('storage', type, key, location, numel)`.
struct TorchStorageRef: Sendable, Hashable {
    /// The storage key (`"0"` in a zip file, a number in a legacy one).
    let key: String
    /// The element type of the persistent id's storage class (bytes for `UntypedStorage`).
    let element: TorchScalarType
    /// `numel` as the persistent id says it, in `element`s.
    let numel: Int
    let location: String
    /// Legacy storage views: (the view's key, byte offset into the root storage, bytes).
    let view: LegacyView?

    struct LegacyView: Sendable, Hashable {
        let key: String
        let byteOffset: Int
        let byteCount: Int
    }

    /// Bytes the storage holds (checked against overflow when it was made).
    var nbytes: Int { numel * element.itemSize }
}

/// A strided tensor over a storage, as `_rebuild_tensor_v2`/`_v3` describe it.
struct TorchTensorRef: Sendable, Hashable {
    let storage: TorchStorageRef
    let scalar: TorchScalarType
    /// In elements of `scalar`.
    let storageOffset: Int
    let shape: [Int]
    let stride: [Int]
    var requiresGrad: Bool
    var isParameter: Bool
    /// File offset of the opcode that built it (in the pickle when it was inflated), for messages.
    let pickleOffset: UInt64
}
