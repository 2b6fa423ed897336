// A Keras 3 optimizer's configuration: the class and its `get_config()`, read from what a user
// types, from a config JSON, or from a serialized optimizer. What each class accepts comes from
// its registry entry (KerasOptimizerRegistry.swift).

extension KerasOptimizerKind {
    /// The Keras class name (`RMSprop`).
    public var className: String { rawValue }

    /// The module Keras serializes the class under.
    public var module: String { "keras.optimizers" }

    /// The name Keras gives an instance by default (`auto_name(class)`: `rm_sprop`, `adam_w`).
    /// Keras appends `_1`, `_2`... to the second and later optimizers of a Python process.
    /// (`compile` names the LossScaleOptimizer it adds `loss_scale_optimizer` too.)
    public var defaultName: String { KerasNames.snakeCase(rawValue) }

    /// A class from its name, ignoring case and underscores: `adam`, `AdamW`, `adam_w`,
    /// `rmsprop`, `RMSProp`, `sgd`...
    public init?(className: String) {
        let key = className.lowercased().keras_replacing("_", with: "")
        guard let k = Self.allCases.first(where: { $0.rawValue.lowercased() == key }) else { return nil }
        self = k
    }

    /// The class of an optimizer named the way Keras names instances: `adam`, `adam_4`, `rm_sprop`,
    /// `loss_scale_optimizer`; nil for other names.
    public init?(instanceName name: String) {
        var base = Substring(name)
        if let underscore = base.lastIndex(of: "_"), !base[base.index(after: underscore)...].isEmpty,
           base[base.index(after: underscore)...].allSatisfy(\.isNumber) {
            base = base[..<underscore]
        }
        self.init(className: String(base))
    }

    /// Whether the class wraps another optimizer (LossScaleOptimizer).
    public var isWrapper: Bool {
        switch entry.structure {
        case .standard: return false
        case .lossScaleWrapper: return true
        }
    }

    /// Keras's default learning rate.
    var defaultLearningRate: Double { entry.defaultLearningRate }

    /// Every parameter in `get_config()` order.
    var parameters: [KerasOptimizerParameter] {
        let e = entry
        switch e.structure {
        case .lossScaleWrapper:
            return [.init("name", .name, "")] + e.parameters
        case .standard:
            func common(_ key: String, _ d: String) -> String { e.commonDefaults[key] ?? d }
            return [
                .init("name", .name, ""),
                .init("learning_rate", .learningRate, ""),
                .init("weight_decay", .optionalFloat, common("weight_decay", "null")),
                .init("clipnorm", .optionalFloat, "null"),
                .init("global_clipnorm", .optionalFloat, "null"),
                .init("clipvalue", .optionalFloat, "null"),
                .init("use_ema", .bool, "false"),
                .init("ema_momentum", .float, "0.99"),
                .init("ema_overwrite_frequency", .optionalInt, "null"),
                .init("loss_scale_factor", .optionalFloat, "null"),
                .init("gradient_accumulation_steps", .optionalInt, "null"),
            ] + e.parameters
        }
    }

    /// The class names, comma-separated, for help texts and hints.
    public static var helpList: String {
        allCases.map(\.className).joined(separator: ", ")
    }

    /// Lowercased class names, for shell completion.
    public static var completionNames: [String] { allCases.map { $0.className.lowercased() } }
}

/// A Keras 3 optimizer configuration: the class and its `get_config()`.
public struct KerasOptimizerConfig: Sendable, Equatable {
    /// The optimizer class.
    public var kind: KerasOptimizerKind
    /// `get_config()` with every key Keras writes: as the file wrote it when it came complete
    /// from a file, else in Keras's order with Keras's defaults.
    public var config: JSONValue
    private var innerBox: KerasBox<KerasOptimizerConfig>?

    /// The wrapped optimizer of a LossScaleOptimizer (its `inner_optimizer`).
    public var inner: KerasOptimizerConfig? { innerBox?.value }

    /// The Keras class name.
    public var className: String { kind.className }
    /// The module Keras serializes optimizers under.
    public var module: String { kind.module }
    /// `config.name`: the prefix of the optimizer's variable paths (`adam/iteration`).
    public var name: String { config["name"]?.stringValue ?? kind.defaultName }
    /// The learning rate, nil when it is a schedule (a wrapper's is its inner optimizer's).
    public var learningRate: Double? { inner?.learningRate ?? config["learning_rate"]?.doubleValue }

    public static func == (a: Self, b: Self) -> Bool { a.kind == b.kind && a.config == b.config && a.inner == b.inner }

    /// `{"module": "keras.optimizers", "class_name": ..., "config": ..., "registered_name": null}`,
    /// as Keras 3 writes it in `compile_config`.
    public var serialized: JSONValue {
        .object([("module", .string(module)), ("class_name", .string(className)), ("config", config), ("registered_name", .null)])
    }

    /// The LossScaleOptimizer `compile` wraps this optimizer in under the mixed_float16 policy
    /// (`LossScaleOptimizer(self, name="loss_scale_optimizer")`, Keras's default scale settings).
    public func wrappedForMixedPrecision(name: String = "loss_scale_optimizer") -> KerasOptimizerConfig {
        if kind.isWrapper { return self }
        var w = self
        w.kind = .lossScaleOptimizer
        w.config = .object([("name", .string(name)), ("inner_optimizer", serialized), ("initial_scale", .number("32768.0")),
                            ("dynamic_growth_steps", .number(2000))])
        w.innerBox = KerasBox(self)
        return w
    }

    /// The optimizer that updates the weights: the wrapped one of a LossScaleOptimizer, else itself.
    public var innermost: KerasOptimizerConfig { inner?.innermost ?? self }

    /// The same optimizer with hyperparameters changed by text (`("beta_1", "0.8")`), as
    /// ``init(className:overrides:)`` reads them; the other values stay as they are.
    public func applying(_ overrides: [(String, String)]) throws -> KerasOptimizerConfig {
        guard !overrides.isEmpty else { return self }
        var members = config.objectValue ?? []
        for (key, text) in overrides {
            guard let p = kind.parameters.first(where: { $0.key == key }) else { throw Self.unknownParameter(key, kind: kind) }
            var value = try Self.parse(text: text, parameter: p, kind: kind)
            if p.kind == .learningRate, let d = value.doubleValue { value = .number(Double(Float(d))) }
            if let i = members.firstIndex(where: { $0.0 == key }) { members[i].1 = value } else { members.append((key, value)) }
        }
        return try KerasOptimizerConfig(className: className, config: .object(members))
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
        var values = try Self.defaults(kind)
        for (key, text) in overrides {
            guard let p = kind.parameters.first(where: { $0.key == key }) else {
                throw Self.unknownParameter(key, kind: kind)
            }
            values[key] = try Self.parse(text: text, parameter: p, kind: kind)
        }
        try self.init(kind: kind, values: values, verbatim: nil)
    }

    /// Takes a `get_config()` object (Keras 3, or Keras 2 whose extra keys `jit_compile`,
    /// `is_legacy_optimizer` and `decay` are dropped and `lr` is read as `learning_rate`).
    /// A complete Keras 3 config is kept exactly as written; missing keys get Keras's defaults
    /// and then the learning rate is rounded to float32 as Keras stores it.
    public init(className: String, config: JSONValue) throws {
        guard let kind = KerasOptimizerKind(className: className) else {
            throw Self.unknownClass(className)
        }
        guard let members = config.objectValue else {
            throw CheckpointError(.invalidOptimizer, "the \(kind.className) config should be an object, found \(config.typeDescription)")
        }
        var values = try Self.defaults(kind)
        var complete = true
        var given = Set<String>()
        for (rawKey, value) in members {
            if ["jit_compile", "is_legacy_optimizer", "decay"].contains(rawKey) { complete = false; continue }
            let key = rawKey == "lr" ? "learning_rate" : rawKey
            if key != rawKey { complete = false }
            guard let p = kind.parameters.first(where: { $0.key == key }) else {
                throw Self.unknownParameter(rawKey, kind: kind)
            }
            values[key] = try Self.check(value: value, parameter: p, kind: kind)
            given.insert(key)
        }
        complete = complete && kind.parameters.allSatisfy { given.contains($0.key) }
        try self.init(kind: kind, values: values, verbatim: complete ? config : nil)
    }

    /// Reads a serialized optimizer: Keras 3 `{"module", "class_name", "config"}`, Keras 2
    /// `{"class_name": "Adam", "config": {...}}`, or a name string (`"adam"`) meaning the defaults.
    /// A class name may carry a registration prefix or module path (`keras.optimizers>Adam`).
    public init(serialized: JSONValue) throws {
        if let s = serialized.stringValue {
            try self.init(className: s)
            return
        }
        guard serialized.objectValue != nil, var cls = serialized["class_name"]?.stringValue else {
            throw CheckpointError(.invalidOptimizer,
                                  "an optimizer should be a name or an object with \"class_name\" and \"config\", found \(serialized.typeDescription)")
        }
        if let gt = cls.lastIndex(of: ">") { cls = String(cls[cls.index(after: gt)...]) }
        if let dot = cls.lastIndex(of: ".") { cls = String(cls[cls.index(after: dot)...]) }
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

    /// Checks `values` as Keras's constructor does and assembles the config (or keeps `verbatim`).
    private init(kind: KerasOptimizerKind, values input: [String: JSONValue], verbatim: JSONValue?) throws {
        var values = input
        if verbatim == nil, let lr = values["learning_rate"], let d = lr.doubleValue {
            values["learning_rate"] = .number(Double(Float(d)))
        }
        for p in kind.parameters where p.kind == .optimizer {
            guard let v = values[p.key], !v.isNull else {
                throw CheckpointError(.invalidOptimizer, "\(kind.className) needs \(p.key) (the optimizer it wraps)")
            }
            let inner = try KerasOptimizerConfig(serialized: v)
            guard !inner.kind.isWrapper else {
                throw CheckpointError(.invalidOptimizer, "\(kind.className): \(p.key) is itself a \(inner.className); Keras does not nest them")
            }
            // The inner optimizer as Keras serializes it (complete, in order).
            values[p.key] = inner.serialized
            innerBox = KerasBox(inner)
        }
        let v = KerasOptimizerValues(values: values)
        if let reason = Self.commonCheck(v, kind: kind) ?? kind.entry.check(v) {
            throw CheckpointError(.invalidOptimizer, "\(kind.className): \(reason)")
        }
        self.kind = kind
        self.config = verbatim ?? .object(kind.parameters.map { ($0.key, values[$0.key] ?? .null) })
    }

    /// The base optimizer's argument checks.
    static func commonCheck(_ v: KerasOptimizerValues, kind: KerasOptimizerKind) -> String? {
        guard !kind.isWrapper else { return nil }
        let clips = ["clipnorm", "clipvalue", "global_clipnorm"].filter { !(v[$0]?.isNull ?? true) }
        if clips.count > 1 { return "only one of clipnorm, clipvalue and global_clipnorm can be set, found \(clips.joined(separator: ", "))" }
        if let g = v["gradient_accumulation_steps"], !g.isNull {
            guard let i = g.intValue, i >= 2 else { return "gradient_accumulation_steps must be an integer >= 2" }
        }
        if v.flag("use_ema") {
            if let m = v.number("ema_momentum"), m < 0 || m > 1 { return "ema_momentum must be in the range [0, 1]" }
            if let f = v["ema_overwrite_frequency"], !f.isNull, (f.intValue ?? 0) < 1 {
                return "ema_overwrite_frequency must be an integer >= 1 or None"
            }
        }
        return nil
    }

    // MARK: - Values

    static func unknownClass(_ name: String) -> CheckpointError {
        CheckpointError(.invalidOptimizer, "\"\(CheckpointError.printable(name))\" is not a known Keras optimizer",
                        hint: "use one of " + KerasOptimizerKind.helpList)
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
            case .optimizer: values[p.key] = .null
            case .float, .optionalFloat, .bool, .int, .optionalInt, .stringList: values[p.key] = try JSONParser.parse(p.defaultLiteral)
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
        case .optionalInt, .int:
            if isNone && p.kind == .optionalInt { return .null }
            guard let i = Int(t) else { throw bad(p.kind == .int ? "an integer" : "an integer or None") }
            return .number(i)
        case .float, .optionalFloat, .learningRate:
            if isNone && p.kind == .optionalFloat { return .null }
            guard let d = Double(t), d.isFinite else {
                throw bad(p.kind == .optionalFloat ? "a number or None" : "a finite number")
            }
            return .number(d)
        case .stringList:
            if t.hasPrefix("[") {
                guard let v = try? JSONParser.parse(t), let items = v.arrayValue, items.allSatisfy({ $0.stringValue != nil }) else {
                    throw bad("a list of strings")
                }
                return v
            }
            return .array(t.split(separator: ",").map { .string(String($0).keras_trimmed) }.filter { $0.stringValue?.isEmpty == false })
        case .optimizer:
            if t.hasPrefix("{") {
                guard let v = try? JSONParser.parse(t) else { throw bad("an optimizer name or a serialized optimizer") }
                return v
            }
            guard KerasOptimizerKind(className: t) != nil else { throw bad("an optimizer name (\(KerasOptimizerKind.helpList))") }
            return .string(t)
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
        case .int:
            guard value.intValue != nil else { throw bad("an integer") }
        case .optionalInt:
            guard value.isNull || value.intValue != nil else { throw bad("an integer or null") }
        case .optionalFloat:
            guard value.isNull || value.doubleValue?.isFinite == true else { throw bad("a number or null") }
        case .float:
            guard value.doubleValue?.isFinite == true else { throw bad("a number") }
        case .learningRate:
            if value.objectValue != nil { return value } // a serialized LearningRateSchedule
            guard value.doubleValue?.isFinite == true else { throw bad("a number or a learning rate schedule") }
        case .stringList:
            guard let items = value.arrayValue, items.allSatisfy({ $0.stringValue != nil }) else { throw bad("a list of strings") }
        case .optimizer:
            guard value.objectValue != nil || value.stringValue != nil else { throw bad("a serialized optimizer") }
        }
        return value
    }

    func flag(_ key: String) -> Bool { config[key]?.boolValue ?? false }
    func number(_ key: String) -> Double { config[key]?.doubleValue ?? 0 }
}

extension KerasArchitecture {
    /// The optimizer of the compiled model (`compile_config.optimizer`), nil when not compiled.
    public func optimizerConfig() throws -> KerasOptimizerConfig? {
        guard let compileConfig else { return nil }
        return try KerasOptimizerConfig.fromCompileConfig(compileConfig)
    }
}
