// The shape of one optimizer's registry entry (KerasOptimizerRegistry.swift) and the context its
// `build` runs in. Generic machinery only: what a class does lives in its entry.

/// One constructor parameter of a Keras optimizer, as `get_config()` writes it.
struct KerasOptimizerParameter: Sendable {
    enum Kind: Sendable {
        case name, learningRate, float, optionalFloat, bool, int, optionalInt
        /// A list of strings (Muon's `exclude_layers`).
        case stringList
        /// A serialized optimizer (LossScaleOptimizer's `inner_optimizer`).
        case optimizer
    }

    var key: String
    var kind: Kind
    /// The default as Python prints it (JSON literal); empty for `name` and `learning_rate`.
    var defaultLiteral: String

    init(_ key: String, _ kind: Kind, _ defaultLiteral: String) {
        self.key = key
        self.kind = kind
        self.defaultLiteral = defaultLiteral
    }

    static func float(_ key: String, _ d: String) -> Self { .init(key, .float, d) }
    static func optionalFloat(_ key: String, _ d: String = "null") -> Self { .init(key, .optionalFloat, d) }
    static func bool(_ key: String, _ d: Bool) -> Self { .init(key, .bool, d ? "true" : "false") }
    static func int(_ key: String, _ d: Int) -> Self { .init(key, .int, String(d)) }
}

/// Everything the toolkit knows about one Keras optimizer class (keras/src/optimizers/<class>.py,
/// Keras 3.15). One value per class, returned by ``KerasOptimizerKind/entry``.
struct KerasOptimizerEntry: Sendable {
    /// How the class relates to the base `Optimizer`.
    enum Structure: Sendable {
        /// `Optimizer(learning_rate, weight_decay, ..., gradient_accumulation_steps, name)` then the
        /// class's own arguments; `build()` calls the base build (EMA averages, gradient
        /// accumulators) before its own slots.
        case standard
        /// `LossScaleOptimizer(inner_optimizer, ...)`: own `iteration`, `learning_rate` (0.0),
        /// `step_counter`, `dynamic_scale`, then every variable of the inner optimizer.
        case lossScaleWrapper
    }

    var structure: Structure = .standard
    /// Keras's default learning rate.
    var defaultLearningRate: Double = 0.001
    /// Arguments after the common ones, in `get_config()` order.
    var parameters: [KerasOptimizerParameter]
    /// Defaults of common arguments that this class changes (AdamW's `weight_decay`), as literals.
    var commonDefaults: [String: String] = [:]
    /// Keras's argument checks: the reason for the first one that fails, nil when all pass.
    var check: @Sendable (KerasOptimizerValues) -> String? = { _ in nil }
    /// Keras 2 (tf.keras) slot names → this class's Keras 3 slot names, where they differ.
    var keras2Slots: [String: String] = [:]
    /// Settings that change which variables exist, tried in turn when a file names the class only
    /// (the `name` attribute of `optimizer/vars`, no `compile_config`).
    var layoutVariants: [[(String, String)]] = []
    /// The class's own `build()` after the base optimizer's: appends its variables in creation order.
    var build: @Sendable (inout KerasOptimizerBuild) throws -> Void
}

/// Parameter values by key, for checks and builds.
struct KerasOptimizerValues: Sendable {
    var values: [String: JSONValue]

    subscript(_ key: String) -> JSONValue? { values[key] }
    func number(_ key: String) -> Double? { values[key]?.doubleValue }
    func flag(_ key: String) -> Bool { values[key]?.boolValue ?? false }
    /// Set to something other than null (and other than 0 / false).
    func isSet(_ key: String) -> Bool {
        guard let v = values[key], !v.isNull else { return false }
        if let b = v.boolValue { return b }
        if let d = v.doubleValue { return d != 0 }
        return true
    }
}

/// The context of an optimizer's `build(var_list)`: the trainable variables and what has been
/// created so far (in `optimizer.variables` order).
struct KerasOptimizerBuild {
    let values: KerasOptimizerValues
    let trainable: [KerasSlotReference]
    let backend: KerasBackend
    /// `config.name`: the prefix of Keras variable paths (`adam/iteration`).
    let prefix: String
    /// The prefix of checkpoint tensor names of non-slot variables (`optimizer/`, or
    /// `optimizer/loss_scale/` for a wrapper's own variables).
    let tensorPrefix: String
    /// The wrapped optimizer (LossScaleOptimizer).
    let inner: KerasOptimizerConfig?
    /// False while a wrapper builds this optimizer: LossScaleOptimizer.build runs under
    /// `no_automatic_dependency_tracking`, so variables the inner `build()` only assigns to an
    /// attribute (`self._u_product = backend.Variable(...)`) are not among its variables.
    let tracksAttributes: Bool
    private(set) var variables: [KerasOptimizerVariable] = []

    init(values: KerasOptimizerValues, trainable: [KerasSlotReference], backend: KerasBackend, prefix: String,
         tensorPrefix: String, inner: KerasOptimizerConfig?, tracksAttributes: Bool) {
        self.values = values
        self.trainable = trainable
        self.backend = backend
        self.prefix = prefix
        self.tensorPrefix = tensorPrefix
        self.inner = inner
        self.tracksAttributes = tracksAttributes
    }

    func number(_ key: String) -> Double { values.number(key) ?? 0 }
    func flag(_ key: String) -> Bool { values.flag(key) }
    func isSet(_ key: String) -> Bool { values.isSet(key) }

    mutating func append(_ v: KerasOptimizerVariable) {
        var v = v
        v.index = variables.count
        variables.append(v)
    }

    /// `add_variable(shape=(), ...)`: a scalar of the optimizer.
    mutating func scalar(_ name: String, role: KerasOptimizerVariable.Role, dtype: DType, initial: Double,
                         kerasPath: String? = nil, attribute: String? = nil) {
        append(KerasOptimizerVariable(index: 0, name: tensorPrefix + name, kerasPath: kerasPath ?? prefix + "/" + name, role: role,
                                      slot: nil, slotListAttribute: attribute, weight: nil, referenceIndex: nil, shape: [],
                                      dtype: dtype, initialValue: KerasOptimizerConfig.rounded(initial, to: dtype)))
    }

    /// `add_variable_from_reference(trainable[i], name=slot)`: shaped and typed like the weight,
    /// at `<prefix>/<weight path with _>_<slot>`.
    func slotVariable(_ slot: String, _ attribute: String, _ i: Int, fill: Double = 0, copiesWeight: Bool = false) -> KerasOptimizerVariable {
        let ref = trainable[i]
        var v = KerasOptimizerVariable(index: 0, name: "optimizer/\(slot)/\(ref.path)",
                                       kerasPath: prefix + "/" + ref.path.keras_replacing("/", with: "_") + "_" + slot,
                                       role: .slot, slot: slot, slotListAttribute: attribute, weight: ref.path, referenceIndex: i,
                                       shape: ref.shape, dtype: ref.dtype, initialValue: KerasOptimizerConfig.rounded(fill, to: ref.dtype))
        v.copiesWeight = copiesWeight
        return v
    }

    /// `add_optimizer_variables(var_list, [names])`: for each trainable variable, one slot per
    /// name (interleaved per variable). `fill` gives each slot's constant start value; slots named
    /// in `copies` start as a copy of their weight.
    mutating func slots(_ names: [(slot: String, attribute: String)], fill: [Double]? = nil, copies: Set<String> = []) {
        for i in trainable.indices {
            for (k, n) in names.enumerated() {
                append(slotVariable(n.slot, n.attribute, i, fill: fill?[k] ?? 0, copiesWeight: copies.contains(n.slot)))
            }
        }
    }

    /// The base optimizer's `build()`: EMA averages (`use_ema`), then gradient accumulators.
    mutating func baseSlots() {
        if flag("use_ema") { slots([("average", "_model_variables_moving_average")]) }
        if isSet("gradient_accumulation_steps") { slots([("gradient_accumulator", "_accumulated_gradients")]) }
    }

    /// `self.<attribute> = backend.Variable(...)` in `build()`: a variable the optimizer tracks
    /// through the attribute only (not through `add_variable`).
    mutating func attributeVariable(_ v: KerasOptimizerVariable) {
        if tracksAttributes { append(v) }
    }

    /// Appends every variable of the wrapped optimizer, after this one's own.
    mutating func appendInner() throws {
        guard let inner else { return }
        for v in try inner.stateVariables(trainable: trainable, backend: backend, tracksAttributes: false) { append(v) }
    }
}
