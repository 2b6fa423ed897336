// From tf.keras (Keras 2) to Keras 3: the model configuration, the training configuration and the
// optimizer's slot names. Shared by every reader of Keras 2 checkpoints (TensorFlow checkpoints
// and SavedModels, Keras 2 `.h5`) that writes Keras 3 files.
//
// Model configuration (`model.to_json()` of tf.keras → `config.json` of a Keras 3 `.keras`):
// - the model: `Sequential` → `{"module": "keras", "class_name": "Sequential", ...}`, `Functional`
//   (or tf.keras ≤ 2.3 `Model`) → `{"module": "keras.src.models.functional", "class_name":
//   "Functional", "registered_name": "Functional", ...}`, with a `build_config` from the input
//   shape. Keras 3 reads Keras 2's list-form `inbound_nodes` itself, so they are kept.
// - `InputLayer`: `batch_input_shape` → `batch_shape`; a Sequential whose first layer carries
//   `batch_input_shape` gets an `InputLayer` in front (Keras 3 layers take no input shape).
// - every layer: `module` `keras.layers`; `batch_input_shape` and `input_shape` dropped;
//   a dtype (string or Keras 2 `Policy`) becomes a `DTypePolicy`; initializers, regularizers and constraints get their
//   Keras 3 module; arguments Keras 3 removed are dropped (`time_major`, `implementation` of RNNs,
//   `input_length` of Embedding, `fused`/`virtual_batch_size`/`adjustment` of BatchNormalization,
//   whose one-element `axis` list becomes an integer); nested layers (`Bidirectional`,
//   `TimeDistributed`, nested models) are translated the same way.
// - Lambda and TFOpLambda layers hold Python code Keras 3 cannot rebuild: refused (`.unsupported`).
//   Layers the toolkit does not model are kept as they are, with a note.
// Training configuration (`training_config`) → `compile_config`: the optimizer in its Keras 3 form,
// the loss, metric names.

public enum KerasMigration {
    public struct Result: Sendable {
        /// The Keras 3 configuration (`config.json` of a `.keras`).
        public var config: JSONValue
        /// What was changed in a way a user may want to know, or could not be translated.
        public var notes: [String]
    }

    /// Translates a tf.keras `model.to_json()` document (with an optional top-level
    /// `compile_config` or `training_config`) to Keras 3's configuration.
    public static func keras3Config(_ bytes: [UInt8], limits: Limits = .default) throws -> Result {
        let json = try JSONParser.parse(bytes, options: limits.jsonOptions)
        var notes: [String] = []
        var config = try model(json, notes: &notes, depth: 0)
        if let cc = json["compile_config"], cc.objectValue != nil, !(cc.objectValue ?? []).isEmpty {
            config = config.setting("compile_config", to: cc)
        } else if let tc = json["training_config"], tc.objectValue != nil {
            config = config.setting("compile_config", to: compileConfig(trainingConfig: tc, notes: &notes))
        }
        return Result(config: config, notes: notes)
    }

    /// The Keras 3 slot name of a Keras 2 optimizer slot (`m` → `momentum`, `v` → `velocity`,
    /// older optimizers' `rms` → `velocity`...).
    public static func keras3Slot(_ slot: String, optimizer: KerasOptimizerKind) -> String {
        KerasLegacyReader.keras3Slots(slot, kind: optimizer).first ?? slot
    }

    static let modelClasses: Set<String> = ["Sequential", "Functional", "Model"]

    static func model(_ v: JSONValue, notes: inout [String], depth: Int) throws -> JSONValue {
        guard depth < 32 else { throw CheckpointError(.invalidArchitecture, "models are nested more than 32 deep") }
        guard let cls = v["class_name"]?.stringValue, let cfg = v["config"], cfg.objectValue != nil else {
            throw CheckpointError(.invalidArchitecture, "the architecture has no class_name and config")
        }
        guard modelClasses.contains(cls) else {
            throw CheckpointError(.unsupported, "the architecture's model class is \(escapeForDisplay(cls)); only Sequential and Functional models are translated to Keras 3")
        }
        var layers: [JSONValue] = []
        let isSequential = cls == "Sequential"
        for (i, l) in (cfg["layers"]?.arrayValue ?? []).enumerated() {
            if isSequential && i == 0 && l["class_name"]?.stringValue != "InputLayer",
               let shape = l["config"]?["batch_input_shape"], shape.arrayValue != nil {
                layers.append(.object([("module", .string("keras.layers")), ("class_name", .string("InputLayer")),
                                       ("config", .object([("batch_shape", shape), ("dtype", l["config"]?["dtype"] ?? .string("float32")),
                                                           ("sparse", .bool(false)), ("ragged", .bool(false)),
                                                           ("name", .string((l["config"]?["name"]?.stringValue ?? "input") + "_input"))])),
                                       ("registered_name", .null)]))
            }
            layers.append(try layer(l, notes: &notes, depth: depth + 1))
        }
        var c = cfg.setting("layers", to: .array(layers))
        if c["trainable"] == nil { c = c.setting("trainable", to: .bool(true)) }
        let inputShape: JSONValue = layers.first { $0["class_name"]?.stringValue == "InputLayer" }?["config"]?["batch_shape"] ?? .null
        if isSequential {
            return .object([("module", .string("keras")), ("class_name", .string("Sequential")), ("config", c), ("registered_name", .null),
                            ("build_config", .object([("input_shape", inputShape)]))])
        }
        return .object([("module", .string("keras.src.models.functional")), ("class_name", .string("Functional")), ("config", c),
                        ("registered_name", .string("Functional")), ("build_config", .object([("input_shape", .null)]))])
    }

    static func layer(_ v: JSONValue, notes: inout [String], depth: Int) throws -> JSONValue {
        guard let cls = v["class_name"]?.stringValue, var cfg = v["config"], cfg.objectValue != nil else {
            throw CheckpointError(.invalidArchitecture, "a layer has no class_name and config")
        }
        let name = cfg["name"]?.stringValue ?? v["name"]?.stringValue ?? "?"
        if modelClasses.contains(cls) {
            var nested = try model(v, notes: &notes, depth: depth + 1)
            for key in ["name", "inbound_nodes"] { if let x = v[key] { nested = nested.setting(key, to: x) } }
            return nested
        }
        if cls == "Lambda" || cls == "TFOpLambda" || cls == "SlicingOpLambda" {
            throw CheckpointError(.unsupported, "layer \"\(escapeForDisplay(name))\" is a \(cls), whose Python code Keras 3 cannot rebuild from a tf.keras configuration",
                                  hint: "rebuild the model in Keras 3 and write the weights as a .weights.h5 instead")
        }
        if !KerasLayerCatalog.isKnown(cls) {
            notes.append("layer \"\(escapeForDisplay(name))\" (\(escapeForDisplay(cls))) is not a built-in layer the toolkit knows; its configuration is kept as it is")
            return v
        }
        if cls == "InputLayer" {
            if let shape = cfg["batch_input_shape"] { cfg = cfg.removing("batch_input_shape").setting("batch_shape", to: shape) }
        } else {
            for key in ["batch_input_shape", "input_shape"] { cfg = cfg.removing(key) }
        }
        // Keras 3 writes a layer's dtype as a DTypePolicy (an InputLayer's as a string).
        let policy: JSONValue? = cfg["dtype"].flatMap { d in d.stringValue.map { JSONValue.string($0) } ?? d["config"]?["name"] }
        if cls != "InputLayer", let policy {
            cfg = cfg.setting("dtype", to: .object([("module", .string("keras")), ("class_name", .string("DTypePolicy")),
                                                    ("config", .object([("name", policy)])), ("registered_name", .null)]))
        }
        let removed: [String]
        switch cls {
        case "LSTM", "GRU", "SimpleRNN", "ConvLSTM1D", "ConvLSTM2D", "ConvLSTM3D": removed = ["time_major", "implementation"]
        case "Embedding": removed = ["input_length"]
        case "BatchNormalization":
            removed = ["fused", "virtual_batch_size", "adjustment"]
            if let axes = cfg["axis"]?.arrayValue {
                guard axes.count == 1 else {
                    throw CheckpointError(.unsupported, "layer \"\(escapeForDisplay(name))\" normalizes over \(axes.count) axes; Keras 3's BatchNormalization takes one")
                }
                cfg = cfg.setting("axis", to: axes[0])
            }
        default: removed = []
        }
        for key in removed { cfg = cfg.removing(key) }
        for (key, value) in cfg.objectValue ?? [] {
            if let module = objectModule(key), value["class_name"] != nil, value["module"] == nil {
                cfg = cfg.setting(key, to: .object([("module", .string(module))] + (value.objectValue ?? []) + [("registered_name", .null)]))
            }
            if (key == "layer" || key == "backward_layer" || key == "cell"), value["class_name"] != nil {
                cfg = cfg.setting(key, to: try layer(value, notes: &notes, depth: depth + 1))
            }
        }
        var out: [(String, JSONValue)] = [("module", .string("keras.layers")), ("class_name", .string(cls)), ("config", cfg), ("registered_name", .null)]
        for key in ["build_config", "name", "inbound_nodes"] { if let x = v[key] { out.append((key, x)) } }
        return .object(out)
    }

    static func objectModule(_ key: String) -> String? {
        if key.hasSuffix("_initializer") { return "keras.initializers" }
        if key.hasSuffix("_regularizer") { return "keras.regularizers" }
        if key.hasSuffix("_constraint") { return "keras.constraints" }
        return nil
    }

    /// A tf.keras `training_config` as Keras 3's `compile_config`: the optimizer (Keras 3 form),
    /// the loss, metrics by name.
    public static func compileConfig(trainingConfig tc: JSONValue, notes: inout [String]) -> JSONValue {
        var optimizer: JSONValue = .null
        if var o = tc["optimizer_config"], !o.isNull {
            if let c = o["class_name"]?.stringValue, c.hasPrefix("Custom>") { o = o.setting("class_name", to: .string(String(c.dropFirst("Custom>".count)))) }
            if let config = try? KerasOptimizerConfig(serialized: o) {
                optimizer = config.serialized
            } else {
                notes.append("the optimizer in training_config (\(escapeForDisplay(o["class_name"]?.stringValue ?? "?"))) has no Keras 3 equivalent the toolkit knows; the model is saved uncompiled")
            }
        }
        var loss = tc["loss"] ?? .null
        if loss["class_name"] != nil && loss["module"] == nil {
            loss = .object([("module", .string("keras.losses"))] + (loss.objectValue ?? []) + [("registered_name", .null)])
        }
        func metricNames(_ v: JSONValue?) -> JSONValue {
            guard var list = v?.arrayValue else { return .null }
            if list.count == 1, let inner = list[0].arrayValue { list = inner } // one list per output; one output
            var names: [JSONValue] = []
            for m in list {
                if let s = m.stringValue { names.append(.string(s)) } else if let n = m["config"]?["name"]?.stringValue { names.append(.string(n)) }
            }
            return .array(names)
        }
        return .object([
            ("optimizer", optimizer), ("loss", loss), ("loss_weights", tc["loss_weights"] ?? .null), ("metrics", metricNames(tc["metrics"])),
            ("weighted_metrics", metricNames(tc["weighted_metrics"])), ("run_eagerly", .bool(false)), ("steps_per_execution", .number(1)),
            ("jit_compile", .bool(false)),
        ])
    }
}
