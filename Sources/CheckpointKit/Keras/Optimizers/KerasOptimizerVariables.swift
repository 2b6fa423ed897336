// The state an optimizer's `build(model.trainable_variables)` creates, in `optimizer.variables`
// order, as checkpoint tensors.

/// One variable of an optimizer's state.
public struct KerasOptimizerVariable: Sendable, Hashable {
    /// What the variable is for.
    public enum Role: String, Sendable, Hashable {
        /// The step counter (`iterations`).
        case iteration
        case learningRate = "learning_rate"
        /// One per trainable variable, shaped like it (or, for Adafactor `r`/`c`, factored).
        case slot
        /// Other state (`Nadam`'s `u_product`).
        case other
    }

    /// Position in `optimizer.variables` (= dataset `optimizer/vars/<index>` in `model.weights.h5`).
    public var index: Int
    /// The container tensor name: `optimizer/iteration`, `optimizer/learning_rate`,
    /// `optimizer/momentum/dense/kernel`, `optimizer/r/dense/kernel`, `optimizer/u_product`.
    public var name: String
    /// The Keras variable path: `adam/iteration`, `adam/dense_kernel_momentum`, `adafactor/kernel`,
    /// `bias` (Adafactor placeholders), `variable` (Nadam's u_product; Keras may number it).
    public var kerasPath: String
    /// What the variable is for.
    public var role: Role
    /// The slot (`momentum`, `velocity`, `velocity_hat`, `r`, `c`, `average`, ...); nil for scalars.
    public var slot: String?
    /// The optimizer attribute holding the slot list (`_momentums`, `momentums`, `_r`).
    public var slotListAttribute: String?
    /// The path of the trainable variable the slot shadows.
    public var weight: String?
    /// Index of that variable in `model.trainable_variables`.
    public var referenceIndex: Int?
    /// Shape: the shadowed weight's for most slots, factored for Adafactor `r`/`c`, `[]` for scalars.
    public var shape: [Int]
    /// dtype: the shadowed weight's for slots, the backend's int for `iteration`, float32 for the learning rate.
    public var dtype: DType
    /// Every element's value after `build()` (0 for most state; the learning rate; Adagrad/Ftrl
    /// accumulators' initial value; 1 for Nadam's u_product), as stored in `dtype`.
    public var initialValue: Double
    /// The slot starts as a copy of its weight (ScheduleFreeAdamW's `momentum`); then
    /// ``initialValue`` is unused.
    public var copiesWeight: Bool = false

    /// `optimizer/vars/<index>`.
    public var h5Path: String { "optimizer/vars/\(index)" }

    /// The variable as a checkpoint tensor (named by ``name``).
    public var tensorInfo: TensorInfo {
        TensorInfo(name: name, dtype: dtype, shape: shape, role: .optimizer, slot: slot, weight: weight)
    }
}

/// A trainable variable an optimizer builds slots for.
public struct KerasSlotReference: Sendable, Hashable {
    /// Variable path (`dense/kernel`).
    public var path: String
    /// The variable's shape.
    public var shape: [Int]
    /// The variable's dtype (slots copy it).
    public var dtype: DType

    public init(path: String, shape: [Int], dtype: DType) {
        self.path = path
        self.shape = shape
        self.dtype = dtype
    }

    /// The variable's own name (last path component), which Adafactor names `r`/`c` after.
    public var variableName: String {
        if let slash = path.lastIndex(of: "/") { return String(path[path.index(after: slash)...]) }
        return path
    }
}

extension KerasOptimizerConfig {
    /// The optimizer state after `optimizer.build(model.trainable_variables)`, in
    /// `optimizer.variables` order. Refused (`.unknownLayer`) when the model has layers whose
    /// variables are unknown: the trainable order would be a guess; pass the trainable variables
    /// taken from the weights file to ``stateVariables(trainable:backend:)`` instead.
    public func stateVariables(for model: KerasModelVariables, backend: KerasBackend = .tensorflow) throws -> [KerasOptimizerVariable] {
        if !model.unknownLayers.isEmpty {
            throw CheckpointError(.unknownLayer,
                                  "the optimizer state cannot be laid out: the variables of layer(s) "
                                      + model.unknownLayers.map { "\"\(CheckpointError.printable($0.name))\"" }.joined(separator: ", ")
                                      + " are unknown, so the order of the trainable variables is unknown",
                                  hint: "give the trainable variables in model.trainable_variables order, e.g. from the weights file")
        }
        return try stateVariables(trainable: model.trainableVariables.map { KerasSlotReference(path: $0.path, shape: $0.shape, dtype: $0.dtype) },
                           backend: backend)
    }

    /// The state for trainable weights given as checkpoint tensors (their names are the paths).
    public func stateVariables(trainableTensors: [TensorInfo], backend: KerasBackend = .tensorflow) throws -> [KerasOptimizerVariable] {
        try stateVariables(trainable: trainableTensors.map { KerasSlotReference(path: $0.name, shape: $0.shape, dtype: $0.dtype) },
                           backend: backend)
    }

    /// The state for `trainable` (in `model.trainable_variables` order). `backend` decides the
    /// dtype of `iteration` (int64 on TensorFlow, int32 elsewhere).
    public func stateVariables(trainable: [KerasSlotReference], backend: KerasBackend = .tensorflow) throws -> [KerasOptimizerVariable] {
        try stateVariables(trainable: trainable, backend: backend, tracksAttributes: true)
    }

    func stateVariables(trainable: [KerasSlotReference], backend: KerasBackend, tracksAttributes: Bool) throws -> [KerasOptimizerVariable] {
        let entry = kind.entry
        let wrapper = kind.isWrapper
        var b = KerasOptimizerBuild(values: KerasOptimizerValues(values: Dictionary(config.objectValue ?? [], uniquingKeysWith: { a, _ in a })),
                                    trainable: trainable, backend: backend, prefix: name,
                                    tensorPrefix: wrapper ? "optimizer/loss_scale/" : "optimizer/", inner: inner,
                                    tracksAttributes: tracksAttributes)
        // Optimizer.__init__: the step counter, then the learning rate unless it is a schedule
        // (a wrapper passes learning_rate=0.0).
        b.scalar("iteration", role: wrapper ? .other : .iteration, dtype: backend.integerDType, initial: 0)
        if wrapper {
            b.scalar("learning_rate", role: .other, dtype: .float32, initial: 0)
        } else if let lr = config["learning_rate"]?.doubleValue {
            b.scalar("learning_rate", role: .learningRate, dtype: .float32, initial: lr)
        }
        switch entry.structure {
        case .standard: b.baseSlots()
        case .lossScaleWrapper: break
        }
        try entry.build(&b)
        return b.variables
    }

    /// `x` as stored in `dtype` (float32 rounding for the learning rate and accumulators).
    static func rounded(_ x: Double, to dtype: DType) -> Double {
        switch dtype {
        case .float32: return Double(Float(x))
        case .float16: return roundBinary(x, significandBits: 10, minExponent: -14, maxFinite: 65504)
        case .bfloat16: return roundBinary(Double(Float(x)), significandBits: 7, minExponent: -126, maxFinite: 3.3895313892515355e38)
        case .float64: return x
        case .float8_e4m3fn, .float8_e5m2, .float8_e4m3fnuz, .float8_e5m2fnuz, .float8_e8m0fnu:
            return dtype.float8.map { Float8.decode(Float8.encode(x, $0), $0) } ?? x
        default: return x.rounded(.towardZero)
        }
    }

    /// Round-to-nearest-even into a binary format with `significandBits` stored bits.
    static func roundBinary(_ x: Double, significandBits: Int, minExponent: Int, maxFinite: Double) -> Double {
        guard x.isFinite, x != 0 else { return x }
        let e = max(Int(x.exponent), minExponent)
        let quantum = Double(sign: .plus, exponent: e - significandBits, significand: 1)
        let r = (x / quantum).rounded(.toNearestOrEven) * quantum
        return abs(r) > maxFinite ? (r < 0 ? -.infinity : .infinity) : r
    }
}
