// Keras 3 optimizers: their `get_config()` and the state `optimizer.build(model.trainable_variables)`
// creates (keras/src/optimizers/*.py, Keras 3.15).

/// The optimizer classes whose state is modelled.
public enum KerasOptimizerKind: String, Sendable, Hashable, CaseIterable {
    case sgd = "SGD"
    case adam = "Adam"
    case adamW = "AdamW"
    case rmsprop = "RMSprop"
    case adagrad = "Adagrad"
    case adadelta = "Adadelta"
    case adamax = "Adamax"
    case nadam = "Nadam"
    case ftrl = "Ftrl"
    case lion = "Lion"
    case adafactor = "Adafactor"
    case lamb = "Lamb"

    /// The Keras class name (`RMSprop`).
    public var className: String { rawValue }

    /// The name Keras gives an instance by default (`auto_name(class)`: `rm_sprop`, `adam_w`).
    /// Keras appends `_1`, `_2`... to the second and later optimizers of a Python process.
    public var defaultName: String { KerasNames.snakeCase(rawValue) }

    /// A class from its name, ignoring case and underscores: `adam`, `AdamW`, `adam_w`,
    /// `rmsprop`, `RMSProp`, `sgd`...
    public init?(className: String) {
        let key = className.lowercased().keras_replacing("_", with: "")
        guard let k = Self.allCases.first(where: { $0.rawValue.lowercased() == key }) else { return nil }
        self = k
    }

    /// Constructor parameters after the common ones, in `get_config()` order, with Keras's
    /// defaults as Python prints them.
    var specificParameters: [KerasOptimizerParameter] {
        switch self {
        case .sgd:
            return [.init("momentum", .float, "0.0"), .init("nesterov", .bool, "false")]
        case .adam, .adamW:
            return [.init("beta_1", .float, "0.9"), .init("beta_2", .float, "0.999"), .init("epsilon", .float, "1e-07"),
                    .init("amsgrad", .bool, "false")]
        case .rmsprop:
            return [.init("rho", .float, "0.9"), .init("momentum", .float, "0.0"), .init("epsilon", .float, "1e-07"),
                    .init("centered", .bool, "false")]
        case .adagrad:
            return [.init("initial_accumulator_value", .float, "0.1"), .init("epsilon", .float, "1e-07")]
        case .adadelta:
            return [.init("rho", .float, "0.95"), .init("epsilon", .float, "1e-07")]
        case .adamax, .nadam, .lamb:
            return [.init("beta_1", .float, "0.9"), .init("beta_2", .float, "0.999"), .init("epsilon", .float, "1e-07")]
        case .ftrl:
            return [.init("learning_rate_power", .float, "-0.5"), .init("initial_accumulator_value", .float, "0.1"),
                    .init("l1_regularization_strength", .float, "0.0"), .init("l2_regularization_strength", .float, "0.0"),
                    .init("l2_shrinkage_regularization_strength", .float, "0.0"), .init("beta", .float, "0.0")]
        case .lion:
            return [.init("beta_1", .float, "0.9"), .init("beta_2", .float, "0.99")]
        case .adafactor:
            return [.init("beta_2_decay", .float, "-0.8"), .init("epsilon_1", .float, "1e-30"),
                    .init("epsilon_2", .float, "0.001"), .init("clip_threshold", .float, "1.0"),
                    .init("relative_step", .bool, "true")]
        }
    }

    /// Keras's default learning rate (SGD 0.01, the others 0.001).
    var defaultLearningRate: Double { self == .sgd ? 0.01 : 0.001 }

    /// Every parameter in `get_config()` order.
    var parameters: [KerasOptimizerParameter] {
        [
            .init("name", .name, ""),
            .init("learning_rate", .learningRate, ""),
            .init("weight_decay", .optionalFloat, self == .adamW ? "0.004" : "null"),
            .init("clipnorm", .optionalFloat, "null"),
            .init("global_clipnorm", .optionalFloat, "null"),
            .init("clipvalue", .optionalFloat, "null"),
            .init("use_ema", .bool, "false"),
            .init("ema_momentum", .float, "0.99"),
            .init("ema_overwrite_frequency", .optionalInt, "null"),
            .init("loss_scale_factor", .optionalFloat, "null"),
            .init("gradient_accumulation_steps", .optionalInt, "null"),
        ] + specificParameters
    }
}

/// One constructor parameter of a Keras optimizer.
struct KerasOptimizerParameter: Sendable {
    enum Kind: Sendable { case name, learningRate, float, optionalFloat, bool, optionalInt }
    var key: String
    var kind: Kind
    /// The default as Python prints it (JSON literal).
    var defaultLiteral: String

    init(_ key: String, _ kind: Kind, _ defaultLiteral: String) {
        self.key = key
        self.kind = kind
        self.defaultLiteral = defaultLiteral
    }
}

/// A Keras 3 optimizer configuration: the class and its `get_config()`.
public struct KerasOptimizerConfig: Sendable, Equatable {
    /// The optimizer class.
    public var kind: KerasOptimizerKind
    /// `get_config()` with every key Keras writes, in Keras's order.
    public var config: JSONValue

    /// The Keras class name.
    public var className: String { kind.className }
    /// The module Keras serializes optimizers under.
    public var module: String { "keras.optimizers" }
    /// `config.name`: the prefix of the optimizer's variable paths (`adam/iteration`).
    public var name: String { config["name"]?.stringValue ?? kind.defaultName }
    /// The learning rate, nil when it is a schedule.
    public var learningRate: Double? { config["learning_rate"]?.doubleValue }

    /// `{"module": "keras.optimizers", "class_name": ..., "config": ..., "registered_name": null}`,
    /// as Keras 3 writes it in `compile_config`.
    public var serialized: JSONValue {
        .object([("module", .string(module)), ("class_name", .string(className)), ("config", config), ("registered_name", .null)])
    }

    /// The optimizer part of a checkpoint index.
    public func optimizerInfo(iterations: Int64 = 0) -> OptimizerInfo {
        OptimizerInfo(className: className, module: module, config: config, iterations: iterations)
    }

    /// Builds the config `keras.optimizers.<Class>(**overrides).get_config()` returns, from a class
    /// name (case-insensitive) and hyperparameters given as text (`learning_rate=0.01` →
    /// `("learning_rate", "0.01")`). Floats are printed as Python prints them; the learning rate is
    /// rounded to float32 as Keras stores it. Unknown classes, unknown or malformed parameters and
    /// values Keras refuses are `.invalidOptimizer` errors.
    public init(className: String, overrides: [(String, String)] = []) throws {
        guard let kind = KerasOptimizerKind(className: className) else {
            throw Self.unknownClass(className)
        }
        self.kind = kind
        var values = try Self.defaults(kind)
        for (key, text) in overrides {
            guard let p = kind.parameters.first(where: { $0.key == key }) else {
                throw Self.unknownParameter(key, kind: kind)
            }
            values[key] = try Self.parse(text: text, parameter: p, kind: kind)
        }
        self.config = try Self.finish(values, kind: kind)
    }

    /// Takes a `get_config()` object (Keras 3, or Keras 2 whose extra keys `jit_compile`,
    /// `is_legacy_optimizer` and `decay` are dropped and `lr` is read as `learning_rate`).
    /// Missing keys get Keras's defaults; the learning rate is rounded to float32 as Keras stores it.
    public init(className: String, config: JSONValue) throws {
        guard let kind = KerasOptimizerKind(className: className) else {
            throw Self.unknownClass(className)
        }
        guard let members = config.objectValue else {
            throw CheckpointError(.invalidOptimizer, "the \(kind.className) config should be an object, found \(config.typeDescription)")
        }
        self.kind = kind
        var values = try Self.defaults(kind)
        for (rawKey, value) in members {
            if ["jit_compile", "is_legacy_optimizer", "decay"].contains(rawKey) { continue }
            let key = rawKey == "lr" ? "learning_rate" : rawKey
            guard let p = kind.parameters.first(where: { $0.key == key }) else {
                throw Self.unknownParameter(rawKey, kind: kind)
            }
            values[key] = try Self.check(value: value, parameter: p, kind: kind)
        }
        self.config = try Self.finish(values, kind: kind)
    }

    /// Reads a serialized optimizer: Keras 3 `{"module", "class_name", "config"}`, Keras 2
    /// `{"class_name": "Adam", "config": {...}}`, or a name string (`"adam"`) meaning the defaults.
    public init(serialized: JSONValue) throws {
        if let s = serialized.stringValue {
            try self.init(className: s)
            return
        }
        guard serialized.objectValue != nil, let cls = serialized["class_name"]?.stringValue else {
            throw CheckpointError(.invalidOptimizer,
                                  "an optimizer should be a name or an object with \"class_name\" and \"config\", found \(serialized.typeDescription)")
        }
        if cls == "LossScaleOptimizer" {
            throw CheckpointError(.invalidOptimizer,
                                  "LossScaleOptimizer (mixed-precision loss scaling) is not supported; its state differs from the inner optimizer's",
                                  hint: "compile the model with loss scaling disabled, or give the inner optimizer explicitly")
        }
        let config = serialized["config"] ?? .object([])
        try self.init(className: cls, config: config.isNull ? .object([]) : config)
    }

    /// The optimizer of a compiled model: `compile_config.optimizer` (or a Keras 2 training config's
    /// `optimizer_config`). nil when there is none.
    public static func fromCompileConfig(_ compileConfig: JSONValue) throws -> KerasOptimizerConfig? {
        if let o = compileConfig["optimizer"], !o.isNull { return try KerasOptimizerConfig(serialized: o) }
        if let o = compileConfig["optimizer_config"], !o.isNull { return try KerasOptimizerConfig(serialized: o) }
        return nil
    }

    // MARK: - Values

    static func unknownClass(_ name: String) -> CheckpointError {
        CheckpointError(.invalidOptimizer, "\"\(CheckpointError.printable(name))\" is not a known Keras optimizer",
                        hint: "use one of " + KerasOptimizerKind.allCases.map(\.className).joined(separator: ", "))
    }

    static func unknownParameter(_ key: String, kind: KerasOptimizerKind) -> CheckpointError {
        CheckpointError(.invalidOptimizer, "\(kind.className) has no parameter \"\(CheckpointError.printable(key))\"",
                        hint: "its parameters are " + kind.parameters.map(\.key).joined(separator: ", "))
    }

    static func defaults(_ kind: KerasOptimizerKind) throws -> [String: JSONValue] {
        var values: [String: JSONValue] = [:]
        for p in kind.parameters {
            switch p.kind {
            case .name: values[p.key] = .string(kind.defaultName)
            case .learningRate: values[p.key] = .number(Double(Float(kind.defaultLearningRate)))
            default: values[p.key] = try JSONParser.parse(p.defaultLiteral)
            }
        }
        return values
    }

    /// Parses a value typed by a user.
    static func parse(text: String, parameter p: KerasOptimizerParameter, kind: KerasOptimizerKind) throws -> JSONValue {
        let t = text.keras_trimmed
        func bad(_ expected: String) -> CheckpointError {
            CheckpointError(.invalidOptimizer, "\(kind.className) \(p.key) should be \(expected), found \"\(CheckpointError.printable(text))\"")
        }
        let isNone = ["none", "null"].contains(t.lowercased())
        switch p.kind {
        case .name:
            guard !t.isEmpty else { throw bad("a non-empty name") }
            return .string(t)
        case .bool:
            switch t.lowercased() {
            case "true", "1", "yes": return .bool(true)
            case "false", "0", "no": return .bool(false)
            default: throw bad("true or false")
            }
        case .optionalInt:
            if isNone { return .null }
            guard let i = Int(t) else { throw bad("an integer or None") }
            return .number(i)
        case .float, .optionalFloat, .learningRate:
            if isNone && p.kind == .optionalFloat { return .null }
            guard let d = Double(t), d.isFinite else {
                throw bad(p.kind == .optionalFloat ? "a number or None" : "a finite number")
            }
            return .number(d)
        }
    }

    /// Checks a value from a config JSON; keeps its literal text.
    static func check(value: JSONValue, parameter p: KerasOptimizerParameter, kind: KerasOptimizerKind) throws -> JSONValue {
        func bad(_ expected: String) -> CheckpointError {
            CheckpointError(.invalidOptimizer, "\(kind.className) \(p.key) should be \(expected), found \(value.typeDescription) \(value.serialized().prefix(40))")
        }
        switch p.kind {
        case .name:
            guard value.stringValue != nil else { throw bad("a string") }
        case .bool:
            guard value.boolValue != nil else { throw bad("true or false") }
        case .optionalInt:
            guard value.isNull || value.intValue != nil else { throw bad("an integer or null") }
        case .optionalFloat:
            guard value.isNull || value.doubleValue?.isFinite == true else { throw bad("a number or null") }
        case .float:
            guard value.doubleValue?.isFinite == true else { throw bad("a number") }
        case .learningRate:
            if value.objectValue != nil { return value } // a serialized LearningRateSchedule
            guard value.doubleValue?.isFinite == true else { throw bad("a number or a learning rate schedule") }
        }
        return value
    }

    /// Applies Keras's float32 storage of the learning rate and Keras's argument checks; returns
    /// the config in `get_config()` order.
    static func finish(_ input: [String: JSONValue], kind: KerasOptimizerKind) throws -> JSONValue {
        var values = input
        if let lr = values["learning_rate"], let d = lr.doubleValue {
            values["learning_rate"] = .number(Double(Float(d)))
        }
        func number(_ k: String) -> Double? { values[k]?.doubleValue }
        func fail(_ reason: String) -> CheckpointError { CheckpointError(.invalidOptimizer, "\(kind.className): \(reason)") }
        let clips = ["clipnorm", "clipvalue", "global_clipnorm"].filter { !(values[$0]?.isNull ?? true) }
        if clips.count > 1 { throw fail("only one of clipnorm, clipvalue and global_clipnorm can be set, found \(clips.joined(separator: ", "))") }
        if let g = values["gradient_accumulation_steps"], !g.isNull {
            guard let i = g.intValue, i >= 2 else { throw fail("gradient_accumulation_steps must be an integer >= 2") }
        }
        if values["use_ema"]?.boolValue == true {
            if let m = number("ema_momentum"), m < 0 || m > 1 { throw fail("ema_momentum must be in the range [0, 1]") }
            if let f = values["ema_overwrite_frequency"], !f.isNull, (f.intValue ?? 0) < 1 {
                throw fail("ema_overwrite_frequency must be an integer >= 1 or None")
            }
        }
        switch kind {
        case .sgd:
            if let m = number("momentum"), m < 0 || m > 1 { throw fail("momentum must be a float between [0, 1]") }
        case .adamW:
            if values["weight_decay"]?.isNull ?? true { throw fail("weight_decay must be a float, found None") }
        case .ftrl:
            if let v = number("initial_accumulator_value"), v < 0 { throw fail("initial_accumulator_value needs to be positive or zero") }
            if let v = number("learning_rate_power"), v > 0 { throw fail("learning_rate_power needs to be negative or zero") }
            for k in ["l1_regularization_strength", "l2_regularization_strength", "l2_shrinkage_regularization_strength"] {
                if let v = number(k), v < 0 { throw fail("\(k) needs to be positive or zero") }
            }
        case .lion:
            if let v = number("beta_1"), v <= 0 || v > 1 { throw fail("beta_1 must be in the (0, 1] range") }
        default:
            break
        }
        return .object(kind.parameters.map { ($0.key, values[$0.key] ?? .null) })
    }

    func flag(_ key: String) -> Bool { config[key]?.boolValue ?? false }
    func number(_ key: String) -> Double { config[key]?.doubleValue ?? 0 }
}

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
        let prefix = name
        var out: [KerasOptimizerVariable] = []
        func append(_ v: KerasOptimizerVariable) {
            var v = v
            v.index = out.count
            out.append(v)
        }
        append(KerasOptimizerVariable(index: 0, name: "optimizer/iteration", kerasPath: prefix + "/iteration", role: .iteration,
                                      slot: nil, slotListAttribute: nil, weight: nil, referenceIndex: nil, shape: [],
                                      dtype: backend.integerDType, initialValue: 0))
        if let lr = learningRate {
            append(KerasOptimizerVariable(index: 0, name: "optimizer/learning_rate", kerasPath: prefix + "/learning_rate",
                                          role: .learningRate, slot: nil, slotListAttribute: nil, weight: nil, referenceIndex: nil,
                                          shape: [], dtype: .float32, initialValue: Self.rounded(lr, to: .float32)))
        }
        func slotVariable(_ slot: String, _ attr: String, _ i: Int, fill: Double = 0) -> KerasOptimizerVariable {
            let ref = trainable[i]
            return KerasOptimizerVariable(index: 0, name: "optimizer/\(slot)/\(ref.path)",
                                          kerasPath: prefix + "/" + ref.path.keras_replacing("/", with: "_") + "_" + slot,
                                          role: .slot, slot: slot, slotListAttribute: attr, weight: ref.path, referenceIndex: i,
                                          shape: ref.shape, dtype: ref.dtype, initialValue: Self.rounded(fill, to: ref.dtype))
        }
        /// `add_optimizer_variables(vars, [names])`: interleaved per variable.
        func slots(_ names: [(String, String)], fill: [Double]? = nil) {
            for i in trainable.indices {
                for (k, n) in names.enumerated() { append(slotVariable(n.0, n.1, i, fill: fill?[k] ?? 0)) }
            }
        }
        if flag("use_ema") { slots([("average", "_model_variables_moving_average")]) }
        if let g = config["gradient_accumulation_steps"], !g.isNull { slots([("gradient_accumulator", "_accumulated_gradients")]) }
        switch kind {
        case .sgd:
            if number("momentum") != 0 { slots([("momentum", "momentums")]) }
        case .adam, .adamW:
            slots([("momentum", "_momentums"), ("velocity", "_velocities")])
            if flag("amsgrad") { slots([("velocity_hat", "_velocity_hats")]) }
        case .rmsprop:
            slots([("velocity", "_velocities")])
            if number("momentum") > 0 { slots([("momentum", "_momentums")]) }
            if flag("centered") { slots([("average_gradient", "_average_gradients")]) }
        case .adagrad:
            slots([("accumulator", "_accumulators")], fill: [number("initial_accumulator_value")])
        case .adadelta:
            slots([("accumulated_grad", "_accumulated_grads"), ("accumulated_delta_var", "_accumulated_delta_vars")])
        case .adamax:
            slots([("momentum", "_m"), ("norm", "_u")])
        case .nadam:
            slots([("momentum", "_momentums"), ("velocity", "_velocities")])
            let dtype = trainable.first?.dtype ?? .float32
            append(KerasOptimizerVariable(index: 0, name: "optimizer/u_product", kerasPath: "variable", role: .other, slot: nil,
                                          slotListAttribute: "_u_product", weight: nil, referenceIndex: nil, shape: [],
                                          dtype: dtype, initialValue: 1))
        case .ftrl:
            slots([("accumulator", "_accumulators"), ("linear", "_linears")], fill: [number("initial_accumulator_value"), 0])
        case .lion:
            slots([("momentum", "_momentums")])
        case .lamb:
            slots([("momentum", "_momentums"), ("velocity", "_velocities")])
        case .adafactor:
            for (i, ref) in trainable.enumerated() {
                for (slot, attr) in [("r", "_r"), ("c", "_c")] {
                    var v = slotVariable(slot, attr, i)
                    if ref.shape.count < 2 {
                        // backend.Variable(0, name=var.name): an int32 scalar placeholder, no scope.
                        v.shape = []
                        v.dtype = .int32
                        v.kerasPath = ref.variableName
                    } else {
                        v.shape = slot == "r" ? Array(ref.shape.dropLast()) : Array(ref.shape.dropLast(2)) + [ref.shape[ref.shape.count - 1]]
                        v.kerasPath = prefix + "/" + ref.variableName
                    }
                    append(v)
                }
                append(slotVariable("velocity", "_v", i))
            }
        }
        return out
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

extension KerasArchitecture {
    /// The optimizer of the compiled model (`compile_config.optimizer`), nil when not compiled.
    public func optimizerConfig() throws -> KerasOptimizerConfig? {
        guard let compileConfig else { return nil }
        return try KerasOptimizerConfig.fromCompileConfig(compileConfig)
    }
}
