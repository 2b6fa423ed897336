/// Whether a tensor is part of the model or of the optimizer's state.
public enum TensorRole: String, Sendable, Hashable {
    case weight
    case optimizer
}

/// What a tensor is, independent of where and how it is stored.
public struct TensorInfo: Sendable, Hashable {
    /// Keras 3 variable path: `dense/kernel`, `lstm/lstm_cell/kernel`, `optimizer/momentum/dense/kernel`.
    public var name: String
    public var dtype: DType
    public var shape: [Int]
    public var role: TensorRole
    /// For weights: whether Keras lists it in `trainable_variables`. Optimizer state is never trainable.
    public var trainable: Bool
    /// For optimizer slots: the slot (`momentum`, `velocity`, ...). `nil` for weights and scalars.
    public var slot: String?
    /// For optimizer slots: the name of the weight the slot shadows.
    public var weight: String?
    /// For a tensor stored in a block-quantized encoding (a GGUF `Q4_K`, ...): that encoding's
    /// name. Its data is served decoded, as `dtype` (float32); writers refuse such a tensor
    /// unless dequantizing was asked for. nil when the stored bytes are `dtype`'s own.
    public var quantization: String?
    /// Where the tensor is in a file whose own key differs from ``name`` (a TensorFlow checkpoint
    /// key: `layer_with_weights-0/kernel/.ATTRIBUTES/VARIABLE_VALUE`); nil when the name is the key.
    public var sourceKey: String?

    public init(name: String, dtype: DType, shape: [Int], role: TensorRole = .weight, trainable: Bool = true,
                slot: String? = nil, weight: String? = nil, quantization: String? = nil, sourceKey: String? = nil) {
        self.name = name
        self.dtype = dtype
        self.shape = shape
        self.role = role
        self.trainable = role == .weight ? trainable : false
        self.slot = slot
        self.weight = weight
        self.quantization = quantization
        self.sourceKey = sourceKey
    }

    /// Product of the shape; `nil` if it overflows (checked by every reader before use).
    public var elementCount: Int? { Self.elementCount(shape) }

    /// Bytes of data (elements × item size); `nil` on overflow.
    public var byteCount: Int? {
        guard let n = elementCount else { return nil }
        let (r, o) = n.multipliedReportingOverflow(by: dtype.itemSize)
        return o ? nil : r
    }

    public static func elementCount(_ shape: [Int]) -> Int? {
        var n = 1
        for d in shape {
            guard d >= 0 else { return nil }
            let (r, o) = n.multipliedReportingOverflow(by: d)
            if o { return nil }
            n = r
        }
        return n
    }

    /// The top-level layer this tensor belongs to (`dense` for `dense/kernel`); for optimizer
    /// slots, the layer of the weight they shadow; `optimizer` for optimizer scalars.
    public var layer: String {
        if role == .optimizer {
            guard let weight else { return "optimizer" }
            return Self.firstComponent(weight)
        }
        return Self.firstComponent(name)
    }

    /// The last path component (`kernel` for `dense/kernel`).
    public var variableName: String {
        if let slash = name.lastIndex(of: "/") { return String(name[name.index(after: slash)...]) }
        return name
    }

    static func firstComponent(_ s: String) -> String {
        if let slash = s.firstIndex(of: "/") { return String(s[..<slash]) }
        return s
    }

    public var shapeDescription: String {
        "(" + shape.map(String.init).joined(separator: ", ") + (shape.count == 1 ? ",)" : ")")
    }
}

/// The optimizer state that travels with a full checkpoint.
public struct OptimizerInfo: Sendable, Equatable {
    /// Keras class name, e.g. `Adam`.
    public var className: String
    /// Keras module, e.g. `keras.optimizers`.
    public var module: String
    /// `optimizer.get_config()` as Keras wrote it.
    public var config: JSONValue
    /// The step counter (`optimizer.iterations`).
    public var iterations: Int64

    public init(className: String, module: String = "keras.optimizers", config: JSONValue, iterations: Int64) {
        self.className = className
        self.module = module
        self.config = config
        self.iterations = iterations
    }

    /// The learning rate: Keras's `learning_rate` (a wrapper's is its inner optimizer's), or
    /// torch's `lr`; nil for a schedule.
    public var learningRate: Double? {
        (config["learning_rate"] ?? config["lr"])?.doubleValue ?? config["inner_optimizer"]?["config"]?["learning_rate"]?.doubleValue
    }

    /// For a wrapper (Keras's LossScaleOptimizer): the class of the optimizer it wraps, whose
    /// step counter ``iterations`` is.
    public var innerClassName: String? { config["inner_optimizer"]?["class_name"]?.stringValue }

    /// `gradient_accumulation_steps` (of the wrapped optimizer for a wrapper), nil when not set.
    public var gradientAccumulationSteps: Int? {
        let c = config["inner_optimizer"]?["config"] ?? config
        guard let n = c["gradient_accumulation_steps"]?.intValue, n >= 2 else { return nil }
        return n
    }

    /// What Keras's `optimizer.iterations` reports: the updates applied (with gradient
    /// accumulation, ``iterations`` counts batches and Keras divides it).
    public var appliedSteps: Int64 { gradientAccumulationSteps.map { iterations / Int64($0) } ?? iterations }

    /// `step 4 (8 batches, gradient_accumulation_steps=2)`, or `step 8`.
    public var stepDescription: String {
        guard let n = gradientAccumulationSteps else { return "step \(iterations)" }
        return "step \(appliedSteps) (\(iterations) batches, gradient_accumulation_steps=\(n))"
    }

    /// `LossScaleOptimizer(Adam)` for a wrapper, else the class name.
    public var displayName: String { innerClassName.map { "\(className)(\($0))" } ?? className }
}

/// Something a file holds that is not a tensor this toolkit can serve (a complex or string `.npy`
/// member, a safetensors dtype it does not know, a ZIP member that is not an array): listed by
/// `inspect`, refused by name by `convert` unless it is asked to skip such entries.
public struct UnsupportedEntry: Sendable, Hashable {
    /// The name the file gives it (a tensor name, or a member name when it is not an array).
    public var name: String
    /// What it is, in the format's own words (`complex64 (2, 5)`, `'<U5' (3,)`, `a ZIP member`).
    public var what: String
    /// Why it is not a tensor here, one clause.
    public var reason: String
    /// Where it starts in the file, when known.
    public var offset: UInt64?

    public init(name: String, what: String, reason: String, offset: UInt64? = nil) {
        self.name = name
        self.what = what
        self.reason = reason
        self.offset = offset
    }
}

/// Everything about a checkpoint except tensor data: what it is, what it holds, where it came from.
public struct CheckpointIndex: Sendable {
    public enum Kind: String, Sendable {
        /// Weights plus optimizer state (and normally the architecture).
        case full
        /// Weights only.
        case weights
    }

    /// Tensors in the model's order: weights in `model.weights` order, then optimizer variables in
    /// `optimizer.variables` order (the order Keras saves them in).
    public var tensors: [TensorInfo]
    /// `model.to_json()` text, kept verbatim.
    public var architecture: [UInt8]?
    public var optimizer: OptimizerInfo?
    /// Free-form user metadata (epoch, monitored metric, ...): a JSON object.
    public var metadata: JSONValue
    /// Who wrote the file (`ckpt 0.1.0`, `keras 3.15.1`, ...).
    public var producer: String?
    /// Entries of the file that are not tensors this toolkit serves, in file order. They are not
    /// in ``tensors``; one of them never stops the others from being listed.
    public var unsupported: [UnsupportedEntry] = []
    /// Whether ``TensorInfo/trainable`` says something: false for a file that does not record it
    /// (a plain `.npz` or `.safetensors` read without an architecture), where every weight is
    /// listed as trainable only for want of knowing.
    public var trainabilityKnown = true

    public init(tensors: [TensorInfo], architecture: [UInt8]? = nil, optimizer: OptimizerInfo? = nil,
                metadata: JSONValue = .object([]), producer: String? = nil) {
        self.tensors = tensors
        self.architecture = architecture
        self.optimizer = optimizer
        self.metadata = metadata
        self.producer = producer
    }

    /// `full` when the file carries optimizer state, `weights` otherwise.
    public var kind: Kind {
        optimizer != nil || tensors.contains(where: { $0.role == .optimizer }) ? .full : .weights
    }

    public var weights: [TensorInfo] { tensors.filter { $0.role == .weight } }
    public var optimizerTensors: [TensorInfo] { tensors.filter { $0.role == .optimizer } }

    public func tensor(named name: String) -> TensorInfo? { tensors.first { $0.name.sameBytes(name) } }
}
