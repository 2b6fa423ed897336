/// Weights + a Keras architecture JSON + a fresh optimizer → a full checkpoint, exactly as Keras
/// would build it (`model_from_json`, `compile`, `optimizer.build(model.trainable_variables)`).
public enum Rebuild {
    public struct Options: Sendable {
        /// Layers whose class is unknown take their tensors from the weights file as they are.
        public var allowUnknownLayers = false
        /// Drop mismatched and unexpected tensors (listed in the report) instead of failing.
        public var skipMismatch = false
        /// Decides the dtype of the optimizer's `iteration` (int64 on TensorFlow, int32 on JAX/torch).
        public var backend: KerasBackend = .tensorflow
        /// Tensors of unknown layers that are not trainable (glob patterns: `scaled/vars/1`,
        /// `*/vars/1`); the others are trainable unless the input is a full checkpoint whose
        /// optimizer state said otherwise.
        public var nonTrainable: [String] = []
        /// Hyperparameters changed on top of the chosen optimizer's configuration (`("beta_1", "0.8")`).
        public var optimizerOverrides: [(String, String)] = []
        /// Whether the state is a LossScaleOptimizer's around the chosen optimizer.
        public var lossScale: LossScale = .auto
        public init() {}
    }

    /// Mixed precision: under the mixed_float16 global policy `compile` wraps the optimizer in a
    /// LossScaleOptimizer, whose state Keras then saves and expects.
    public enum LossScale: String, Sendable, CaseIterable {
        /// Wrap when the architecture's layers compute in mixed_float16 (the model was built under
        /// that global policy, and Keras loads it under the same one).
        case auto
        /// Always wrap (the model will be compiled under mixed_float16).
        case yes
        /// Never wrap (the model will be compiled under float32).
        case no
    }

    /// What matched and what did not, each side named.
    public struct Report: Sendable {
        public var dialect: KerasDialect
        public var modelClass: String
        public var modelName: String
        public var layerCount: Int
        /// Weights taken from the file, in the model's order.
        public var matched: [TensorInfo] = []
        /// In the architecture, not in the weights file: (name, shape the architecture needs).
        public var missing: [(name: String, shape: [Int])] = []
        /// In the weights file, not in the architecture: (name in the file, its shape).
        public var unexpected: [(name: String, shape: [Int])] = []
        /// In both with different shapes or dtypes: (architecture name, file's shape, architecture's shape, file dtype, architecture dtype).
        public var mismatched: [(name: String, fileShape: [Int], architectureShape: [Int], fileDType: DType, architectureDType: DType)] = []
        /// Tensors of unknown layers taken as they are.
        public var takenAsIs: [String] = []
        /// Optimizer state in the input (by role, or named `optimizer/...` in formats without
        /// roles, such as an `.npz` exported from a full checkpoint): replaced by the fresh state.
        public var ignoredOptimizerState: [String] = []
        public var unknownLayers: [String] = []
        public var optimizer: KerasOptimizerConfig?
        public var optimizerVariables: [KerasOptimizerVariable] = []
        /// What the destination could not hold (from ``Convert/write(_:as:to:options:)``), and
        /// decisions taken for the user (a LossScaleOptimizer added for mixed precision).
        public var notes: [String] = []

        public var hasProblems: Bool { !missing.isEmpty || !unexpected.isEmpty || !mismatched.isEmpty }
    }

    /// The optimizer to build: explicit name with hyperparameters, a `get_config()` JSON (with or
    /// without `class_name`), or the architecture's `compile_config`.
    public enum OptimizerSource: Sendable {
        case named(String, overrides: [(String, String)])
        case config(className: String?, JSONValue)
        case fromArchitecture
    }

    /// Works out the full checkpoint (index + payloads) without writing anything.
    public static func plan(weights source: any TensorSource, architecture bytes: [UInt8], optimizer: OptimizerSource,
                            options: Options = Options()) throws -> (ComposedSource, Report) {
        let arch = try KerasArchitecture(bytes: bytes)
        var inference = KerasInferenceOptions()
        inference.allowUnknownLayers = options.allowUnknownLayers
        inference.backend = options.backend
        let model = try arch.variables(options: inference)
        var report = Report(dialect: arch.dialect, modelClass: model.modelClass, modelName: model.modelName,
                            layerCount: arch.model.layers.filter { $0.className != "InputLayer" }.count)
        report.unknownLayers = model.unknownLayers.map { "\($0.name) (\($0.className))" }

        // Optimizer configuration.
        var config: KerasOptimizerConfig
        switch optimizer {
        case .named(let name, let overrides):
            config = try KerasOptimizerConfig(className: name, overrides: overrides)
        case .config(let cls, let json):
            if let cls {
                config = try KerasOptimizerConfig(className: cls, config: json["config"] ?? json)
            } else {
                config = try KerasOptimizerConfig(serialized: json)
            }
        case .fromArchitecture:
            guard let c = try arch.optimizerConfig() else {
                throw CheckpointError(.missingPart, "no optimizer was given and the architecture has no compile_config to take one from",
                                      hint: "pass --optimizer adam (or another Keras optimizer), or --optimizer-config opt.json")
            }
            config = c
        }
        config = try config.applying(options.optimizerOverrides)
        let mixed = arch.usesMixedFloat16
        if !config.kind.isWrapper {
            switch options.lossScale {
            case .auto where mixed:
                config = config.wrappedForMixedPrecision()
                report.notes.append("the architecture's layers compute in mixed_float16, so Keras compiles it with a LossScaleOptimizer around \(config.innermost.className) (as under set_global_policy(\"mixed_float16\")); the state is the wrapper's (--loss-scale no for a model compiled under float32)")
            case .yes:
                config = config.wrappedForMixedPrecision()
            case .auto, .no:
                break
            }
        }
        report.optimizer = config

        // Match the file's weights (weights only: optimizer state in the input is ignored) against the architecture.
        let fileWeights = source.index.tensors.indices.filter { source.index.tensors[$0].role == .weight }
        report.ignoredOptimizerState = source.index.optimizerTensors.map(\.name)
        var byVariable: [Int: Int] = [:]          // variable index -> source tensor index
        var unknownOwned: [Int] = []               // source tensors of unknown layers
        for k in fileWeights {
            let t = source.index.tensors[k]
            if let v = model.variable(named: t.name) {
                if let previous = byVariable[v.index] {
                    throw CheckpointError(.weightsMismatch, "two tensors of the weights file, \"\(escapeForDisplay(source.index.tensors[previous].name))\" and \"\(escapeForDisplay(t.name))\", are both the architecture's \"\(escapeForDisplay(v.path))\"",
                                          file: source.path)
                }
                if v.shape != t.shape || v.dtype != t.dtype {
                    report.mismatched.append((v.path, t.shape, v.shape, t.dtype, v.dtype))
                    continue
                }
                byVariable[v.index] = k
            } else if model.unknownLayer(owning: t.name) != nil {
                unknownOwned.append(k)
            } else if t.name.hasPrefix(ContainerSpec.optimizerPrefix) {
                report.ignoredOptimizerState.append(t.name)
            } else {
                report.unexpected.append((t.name, t.shape))
            }
        }
        let mismatchedNames = Set(report.mismatched.map(\.name))
        for v in model.variables where byVariable[v.index] == nil && !mismatchedNames.contains(v.path) {
            report.missing.append((v.path, v.shape))
        }
        if report.hasProblems && !options.skipMismatch {
            return (try ComposedSource(index: CheckpointIndex(tensors: []), payloads: [], path: source.path, format: source.format), report)
        }

        // Weights in the model's order: an unknown layer's tensors, as they are and in the file's
        // order, where the layer sits in the graph (Keras builds the optimizer on
        // model.trainable_variables, which follows model.layers).
        var tensors: [TensorInfo] = []
        var payloads: [TensorPayload] = []
        var unknownByLayer: [Int: [Int]] = [:]
        for k in unknownOwned {
            guard let u = model.unknownLayer(owning: source.index.tensors[k].name),
                  let li = model.unknownLayers.firstIndex(of: u) else { continue }
            unknownByLayer[li, default: []].append(k)
        }
        var assumedTrainable: [String] = []
        func appendUnknown(before position: Int) {
            for (li, u) in model.unknownLayers.enumerated() where u.variablesBefore == position {
                for k in unknownByLayer[li] ?? [] {
                    var info = source.index.tensors[k]
                    info.name = KerasNames.stripModelPrefix(KerasNames.stripTensorSuffix(info.name), modelName: model.modelName)
                    if options.nonTrainable.contains(where: { Self.glob($0, matches: info.name) }) {
                        info.trainable = false
                    } else if source.index.kind != .full && info.trainable {
                        assumedTrainable.append(info.name)
                    }
                    tensors.append(info)
                    payloads.append(.source(source, k))
                    report.takenAsIs.append(info.name)
                }
            }
        }
        for v in model.variables {
            appendUnknown(before: v.index)
            guard let k = byVariable[v.index] else { continue }
            var info = v.tensorInfo
            info.name = v.path
            tensors.append(info)
            payloads.append(.source(source, k))
            report.matched.append(info)
        }
        appendUnknown(before: model.variables.count)
        if !assumedTrainable.isEmpty && options.nonTrainable.isEmpty {
            // Keras builds slots for trainable variables only: a guess could give a state it skips.
            let layers = model.unknownLayers.map { "\($0.name) (\($0.className))" }.joined(separator: ", ")
            throw CheckpointError(.unknownLayer,
                                  "the weights file does not say which variables of layer \(layers) are trainable (\(assumedTrainable.joined(separator: ", "))), and the optimizer state depends on it",
                                  file: source.path,
                                  hint: "pass --non-trainable PATTERN for the ones that are not (statistics, counters), or --non-trainable none if all are; or rebuild from a full checkpoint, whose optimizer state says")
        }

        // Fresh optimizer state for the trainable weights, in model.trainable_variables order.
        let trainable = tensors.filter(\.trainable)
        let state = try config.stateVariables(trainableTensors: trainable, backend: options.backend)
        report.optimizerVariables = state
        let weightCount = tensors.count
        for v in state {
            tensors.append(v.tensorInfo)
            if v.copiesWeight, let w = v.weight, let k = tensors.prefix(weightCount).firstIndex(where: { $0.name == w }) {
                payloads.append(payloads[k])   // ScheduleFreeAdamW's momentum starts as the weight
            } else {
                payloads.append(.fill(fillPattern(v.initialValue, v.dtype)))
            }
        }
        let index = CheckpointIndex(tensors: tensors, architecture: bytes, optimizer: config.optimizerInfo(iterations: 0),
                                    metadata: source.index.metadata, producer: source.index.producer)
        return (try ComposedSource(index: index, payloads: payloads, path: source.path, format: source.format), report)
    }

    /// Shell-style matching with `*` (any run of characters) and `?` (one character).
    static func glob(_ pattern: String, matches name: String) -> Bool {
        let p = Array(pattern), n = Array(name)
        var pi = 0, ni = 0, star = -1, mark = 0
        while ni < n.count {
            if pi < p.count && (p[pi] == "?" || p[pi] == n[ni]) {
                pi += 1; ni += 1
            } else if pi < p.count && p[pi] == "*" {
                star = pi; mark = ni; pi += 1
            } else if star >= 0 {
                pi = star + 1; mark += 1; ni = mark
            } else {
                return false
            }
        }
        while pi < p.count && p[pi] == "*" { pi += 1 }
        return pi == p.count
    }

    /// One element of `value` in `dtype`, little-endian.
    public static func fillPattern(_ value: Double, _ dtype: DType) -> [UInt8] {
        func le<T: FixedWidthInteger>(_ v: T) -> [UInt8] { withUnsafeBytes(of: v.littleEndian) { Array($0) } }
        switch dtype {
        case .float32: return le(Float(value).bitPattern)
        case .float64: return le(value.bitPattern)
        case .float16:
            #if arch(x86_64) || arch(arm64)
            return le(Float16(value).bitPattern)
            #else
            return le(UInt16(0))
            #endif
        case .bfloat16:
            // Round to nearest even from float32.
            let bits = Float(value).bitPattern
            let rounded = bits &+ 0x7FFF &+ ((bits >> 16) & 1)
            return le(UInt16(truncatingIfNeeded: rounded >> 16))
        case .float8_e4m3fn, .float8_e5m2, .float8_e4m3fnuz, .float8_e5m2fnuz, .float8_e8m0fnu:
            return [dtype.float8.map { Float8.encode(value, $0) } ?? 0]
        case .bool: return [value != 0 ? 1 : 0]
        case .int8: return le(Int8(clamping: Int64(value)))
        case .uint8: return le(UInt8(clamping: Int64(value)))
        case .int16: return le(Int16(clamping: Int64(value)))
        case .uint16: return le(UInt16(clamping: Int64(value)))
        case .int32: return le(Int32(clamping: Int64(value)))
        case .uint32: return le(UInt32(clamping: Int64(value)))
        case .int64: return le(Int64(value))
        case .uint64: return le(UInt64(max(0, value)))
        }
    }

    /// Plans and writes `path` as `format` (default: from the name, else `.ckpt`). Fails with
    /// `.weightsMismatch` when the weights do not match and `skipMismatch` is off.
    @discardableResult
    public static func run(weights source: any TensorSource, architecture: [UInt8], optimizer: OptimizerSource, to path: String,
                           format: CheckpointFormat? = nil, options: Options = Options(),
                           writeOptions: WriteOptions = WriteOptions()) throws -> Report {
        let destination = try Convert.outputFormat(for: path, explicit: format, default: .ckpt)
        let (rebuilt, planned) = try plan(weights: source, architecture: architecture, optimizer: optimizer, options: options)
        var report = planned
        if report.hasProblems && !options.skipMismatch {
            throw mismatchError(report, file: source.path)
        }
        report.notes += try Convert.write(rebuilt, as: destination, to: path, options: writeOptions).notes
        return report
    }

    public static func mismatchError(_ r: Report, file: String) -> CheckpointError {
        CheckpointError(.weightsMismatch,
                        "the weights do not match the architecture: \(r.missing.count) missing, \(r.unexpected.count) unexpected, \(r.mismatched.count) mismatched",
                        file: file, hint: "fix the inputs, or pass --skip-mismatch to rebuild without them")
    }
}

extension Rebuild.Report {
    /// The `ckpt.rebuild/1` document.
    public func json(input: String, output: String?) -> JSONValue {
        let r = self
        return .object([
            ("schema", .string("ckpt.rebuild/1")),
            ("input", .string(input)),
            ("output", output.map { .string($0) } ?? .null),
            ("dialect", .string(r.dialect.rawValue)),
            ("model_class", .string(r.modelClass)),
            ("model_name", .string(r.modelName)),
            ("matched", .array(r.matched.map { .string($0.name) })),
            ("missing", .array(r.missing.map { .object([("name", .string($0.name)), ("architecture_shape", .array($0.shape.map { .number($0) }))]) })),
            ("unexpected", .array(r.unexpected.map { .object([("name", .string($0.name)), ("file_shape", .array($0.shape.map { .number($0) }))]) })),
            ("mismatched", .array(r.mismatched.map {
                .object([("name", .string($0.name)), ("file_shape", .array($0.fileShape.map { .number($0) })),
                         ("architecture_shape", .array($0.architectureShape.map { .number($0) })),
                         ("file_dtype", .string($0.fileDType.rawValue)), ("architecture_dtype", .string($0.architectureDType.rawValue))])
            })),
            ("taken_as_is", .array(r.takenAsIs.map { .string($0) })),
            ("optimizer", r.optimizer.map { .object([("class_name", .string($0.className)), ("config", $0.config)]) } ?? .null),
            ("optimizer_variables", .array(r.optimizerVariables.map {
                .object([("name", .string($0.name)), ("keras_path", .string($0.kerasPath)), ("shape", .array($0.shape.map { .number($0) })),
                         ("dtype", .string($0.dtype.rawValue)), ("initial", .number($0.initialValue))])
            })),
        ])
    }
}
