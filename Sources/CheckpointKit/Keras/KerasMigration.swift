// From a Keras 2 (tf.keras) `model.to_json()`, or the `model_config` Keras 3's legacy `.h5`
// writer stores, to the `config.json` Keras 3's `load_model` reads from a `.keras` file.
//
// - Every object becomes `{"module", "class_name", "config", "registered_name"}`: models
//   (`Sequential` under `keras`, `Functional`/`Model` as `keras.src.models.functional` `Functional`),
//   layers under `keras.layers`, initializers, regularizers and constraints under their modules,
//   dtypes as `DTypePolicy` objects (`Policy("mixed_float16")` included; an InputLayer's stays a
//   string). Keras 2's list-form `inbound_nodes` are kept: Keras 3 reads them.
// - `InputLayer`: `batch_input_shape` → `batch_shape`. A Sequential whose first layer carries
//   `batch_input_shape` gets the InputLayer tf.keras made for it (`<layer>_input`); other layers
//   lose `batch_input_shape` and `input_shape`.
// - Arguments Keras 3 removed are dropped (those tf_keras 2.x `get_config()` writes and Keras
//   3.15's constructors refuse: recurrent `time_major`/`implementation`, Embedding `input_length`,
//   BatchNormalization `fused`, transposed/depthwise/separable convolutions' `groups`...), renamed
//   ones renamed (LeakyReLU `alpha` → `negative_slope`), removed classes replaced by their
//   equivalent (ThresholdedReLU → `ReLU(threshold=theta)`, `CuDNNLSTM` → `LSTM`), one-element
//   BatchNormalization axis lists become integers.
// - Lambda and TFOpLambda layers hold Python code that Keras 3 cannot rebuild from a Keras 2
//   configuration: refused, naming the layer and its class. Classes the toolkit does not know
//   (custom layers) are kept as written, with a note: Keras 3 loads them only if the class is
//   registered.
// - `compile_config` comes from the document's `compile_config`, else a Keras 2 `training_config`
//   (optimizer in its Keras 3 form, loss and metrics).

public enum KerasMigration {
    public struct Result: Sendable {
        /// The Keras 3 configuration (`config.json` of a `.keras`).
        public var config: JSONValue
        /// What was changed that a user may want to know, or could not be translated.
        public var notes: [String]
    }

    /// Whether `json` must be translated before Keras 3 reads it from a `.keras`: a Keras 2
    /// document, or a Keras 3 legacy `model_config` (no `module` on its objects).
    public static func needsTranslation(_ json: JSONValue) -> Bool {
        json["module"] == nil || KerasArchitecture.detectDialect(json) == .keras2
    }

    /// Translates `model.to_json()` bytes (with an optional top-level `compile_config` or
    /// `training_config`).
    public static func keras3Config(_ bytes: [UInt8], limits: Limits = .default) throws -> Result {
        try keras3Config(json: JSONParser.parse(bytes, options: limits.jsonOptions))
    }

    /// Translates a parsed `model.to_json()` document. Throws `.unsupported` naming the layer and
    /// its class where Keras 3 cannot rebuild it, `.invalidArchitecture` for a malformed document.
    public static func keras3Config(json: JSONValue) throws -> Result {
        var notes: [String] = []
        let dialect = KerasArchitecture.detectDialect(json)
        var config = try model(json, dialect: dialect, notes: &notes, depth: 0)
        if let cc = json["compile_config"], let members = cc.objectValue, !members.isEmpty {
            config = config.setting("compile_config", to: cc)
        } else if let tc = json["training_config"], tc.objectValue != nil {
            config = config.setting("compile_config", to: compileConfig(trainingConfig: tc, notes: &notes))
        }
        return Result(config: config, notes: notes)
    }

    /// The Keras 3 slot name of a Keras 2 optimizer slot (`m` → `momentum`, `v` → `velocity`,
    /// older optimizers' `rms` → `velocity`...), from the optimizer's registry entry.
    public static func keras3Slot(_ slot: String, optimizer: KerasOptimizerKind) -> String {
        optimizer.entry.keras2Slots[slot] ?? slot
    }

    /// The layer classes translated (every class the toolkit models, except Lambda and the
    /// TensorFlow op layers, whose code Keras 3 cannot rebuild), plus the Keras 2 names mapped onto
    /// Keras 3 ones.
    public static var translatedLayerClasses: [String] {
        let refused: Set<String> = ["Lambda", "TFOpLambda", "SlicingOpLambda"]
        return (KerasLayerClass.allCases.map(\.rawValue).filter { !refused.contains($0) } + Array(renamedClasses.keys)).sorted()
    }

    /// Keras 2 classes Keras 3 knows under another name.
    static let renamedClasses: [String: String] = ["CuDNNLSTM": "LSTM", "CuDNNGRU": "GRU", "LSTMV1": "LSTM", "GRUV1": "GRU"]

    static let modelClasses: Set<String> = ["Sequential", "Functional", "Model"]

    // MARK: - Models and layers

    static func model(_ v: JSONValue, dialect: KerasDialect, notes: inout [String], depth: Int) throws -> JSONValue {
        guard depth < 32 else { throw CheckpointError(.invalidArchitecture, "models are nested more than 32 deep") }
        guard let cls = v["class_name"]?.stringValue, let cfg = v["config"], cfg.objectValue != nil else {
            throw CheckpointError(.invalidArchitecture, "the architecture has no \"class_name\" and \"config\" object")
        }
        guard modelClasses.contains(cls) else {
            throw CheckpointError(.unsupported, "the architecture's model class is \(CheckpointError.printable(cls)); only Sequential and Functional models are translated to Keras 3",
                                  hint: "rebuild the model in Keras 3 and load the weights as a .weights.h5")
        }
        let sequential = cls == "Sequential"
        var layers: [JSONValue] = []
        for (i, l) in (cfg["layers"]?.arrayValue ?? []).enumerated() {
            if sequential && i == 0 && l["class_name"]?.stringValue != "InputLayer", let shape = l["config"]?["batch_input_shape"], shape.arrayValue != nil {
                let name = (l["config"]?["name"]?.stringValue ?? "input") + "_input"
                let dtype = l["config"]?["dtype"].flatMap { $0.stringValue ?? $0["config"]?["name"]?.stringValue } ?? "float32"
                layers.append(.object([("module", .string("keras.layers")), ("class_name", .string("InputLayer")),
                                       ("config", .object([("batch_shape", shape), ("dtype", .string(dtype.hasPrefix("mixed_") ? "float32" : dtype)),
                                                           ("sparse", .bool(false)), ("ragged", .bool(false)), ("name", .string(name))])),
                                       ("registered_name", .null)]))
            }
            layers.append(try layer(l, dialect: dialect, notes: &notes, depth: depth + 1))
        }
        if !sequential && dialect == .keras2 { layers = renumberNestedModelCalls(layers) }
        var c = cfg.setting("layers", to: .array(layers))
        if !sequential && dialect == .keras2, let outputs = cfg["output_layers"] {
            c = c.setting("output_layers", to: renumberNestedOutputs(outputs, layers: layers))
        }
        if c["trainable"] == nil { c = c.setting("trainable", to: .bool(true)) }
        if let d = c["dtype"], !d.isNull { c = c.setting("dtype", to: try policy(d)) }
        var out: [(String, JSONValue)]
        if sequential {
            c = c.removing("build_input_shape")
            out = [("module", .string("keras")), ("class_name", .string("Sequential")), ("config", c), ("registered_name", .null)]
        } else {
            out = [("module", .string("keras.src.models.functional")), ("class_name", .string("Functional")), ("config", c),
                   ("registered_name", .string("Functional"))]
        }
        if let b = v["build_config"] { out.append(("build_config", b)) }
        for key in ["name", "inbound_nodes"] { if let x = v[key] { out.append((key, x)) } }
        return .object(out)
    }

    /// Node numbers of the models nested in a tf.keras Functional model. tf.keras gives a model
    /// built on inputs a node of its own (its graph: node 0), so the first call of a nested model is
    /// node 1; Keras 3 makes no such node for a nested model, and reads list-form and
    /// `keras_history` calls as indexes into the calls made. So a call `["inner", 1, 0]` becomes
    /// `["inner", 0, 0]` — where every call of that model is numbered from 1, as tf.keras numbers
    /// them (otherwise the model is left as written).
    static func renumberNestedModelCalls(_ layers: [JSONValue]) -> [JSONValue] {
        let nested = nestedModels(layers)
        guard !nested.isEmpty else { return layers }
        var lowest: [String: Int] = [:]
        for l in layers { visitCalls(l["inbound_nodes"] ?? .null, names: nested) { name, node in lowest[name] = min(lowest[name] ?? node, node) } }
        let shifted = Set(nested.keys.filter { (lowest[$0] ?? 0) >= 1 })
        guard !shifted.isEmpty else { return layers }
        return layers.map { l in
            guard let nodes = l["inbound_nodes"] else { return l }
            return l.setting("inbound_nodes", to: shiftCalls(nodes, names: shifted))
        }
    }

    /// A Functional model's `output_layers` naming a nested Sequential: Keras 3 subtracts the
    /// graph node itself for a nested Functional model (`get_tensor`), not for a Sequential one.
    static func renumberNestedOutputs(_ outputs: JSONValue, layers: [JSONValue]) -> JSONValue {
        let sequential = Set(nestedModels(layers).filter { $0.value == "Sequential" }.keys)
        guard !sequential.isEmpty, let list = outputs.arrayValue else { return outputs }
        let allFromOne = list.allSatisfy { o in
            guard let (name, node, _) = KerasArchitectureParser.triple(o), sequential.contains(name) else { return true }
            return node >= 1
        }
        return allFromOne ? .array(list.map { shiftCalls($0, names: sequential) }) : outputs
    }

    /// Names of the layers that are models, with their class.
    static func nestedModels(_ layers: [JSONValue]) -> [String: String] {
        var out: [String: String] = [:]
        for l in layers {
            guard let cls = l["class_name"]?.stringValue, modelClasses.contains(cls),
                  let name = l["name"]?.stringValue ?? l["config"]?["name"]?.stringValue else { continue }
            out[name] = cls
        }
        return out
    }

    static func visitCalls(_ v: JSONValue, names: [String: String], _ body: (String, Int) -> Void) {
        if let (name, node, _) = KerasArchitectureParser.triple(v), names[name] != nil { body(name, node); return }
        if let a = v.arrayValue { for x in a { visitCalls(x, names: names, body) } }
        if let o = v.objectValue { for (_, x) in o { visitCalls(x, names: names, body) } }
    }

    static func shiftCalls(_ v: JSONValue, names: Set<String>) -> JSONValue {
        if let (name, node, _) = KerasArchitectureParser.triple(v), names.contains(name), node >= 1, var a = v.arrayValue {
            a[1] = .number(node - 1)
            return .array(a)
        }
        if let a = v.arrayValue { return .array(a.map { shiftCalls($0, names: names) }) }
        if let o = v.objectValue { return .object(o.map { ($0.0, shiftCalls($0.1, names: names)) }) }
        return v
    }

    static func layer(_ v: JSONValue, dialect: KerasDialect, notes: inout [String], depth: Int) throws -> JSONValue {
        guard depth < 64 else { throw CheckpointError(.invalidArchitecture, "layers are nested more than 64 deep") }
        guard var cls = v["class_name"]?.stringValue, var cfg = v["config"], cfg.objectValue != nil else {
            throw CheckpointError(.invalidArchitecture, "a layer has no \"class_name\" and \"config\" object")
        }
        let name = cfg["name"]?.stringValue ?? v["name"]?.stringValue ?? "?"
        if modelClasses.contains(cls) { return try model(v, dialect: dialect, notes: &notes, depth: depth + 1) }
        if ["Lambda", "TFOpLambda", "SlicingOpLambda"].contains(cls) {
            throw CheckpointError(.unsupported, "layer \"\(CheckpointError.printable(name))\" is a \(cls), whose Python code Keras 3 cannot rebuild from a \(dialect == .keras2 ? "tf.keras" : "legacy") configuration",
                                  hint: "rebuild the model in Keras 3 (replacing the \(cls)) and load the weights as a .weights.h5")
        }
        if let renamed = renamedClasses[cls] { cls = renamed }
        if cls == "ThresholdedReLU" {
            // Gone in Keras 3: ReLU(threshold=theta) computes the same (x if x > theta else 0).
            cls = "ReLU"
            let theta = cfg["theta"] ?? .number("1.0")
            cfg = cfg.removing("theta").setting("max_value", to: .null).setting("negative_slope", to: .number("0.0")).setting("threshold", to: theta)
        }
        guard KerasLayerCatalog.isKnown(cls) else {
            if v["module"] != nil { return v }
            notes.append("layer \"\(CheckpointError.printable(name))\" is of class \(CheckpointError.printable(cls)), not a Keras layer the toolkit knows: its configuration is kept as it is, and Keras 3 loads it only where that class is registered")
            return v
        }
        if cls == "InputLayer" {
            if let shape = cfg["batch_input_shape"] { cfg = cfg.removing("batch_input_shape").setting("batch_shape", to: shape) }
            if let d = cfg["dtype"], !d.isNull, d.stringValue == nil { cfg = cfg.setting("dtype", to: .string(d["config"]?["name"]?.stringValue ?? "float32")) }
        } else {
            for key in ["batch_input_shape", "input_shape"] { cfg = cfg.removing(key) }
            if let d = cfg["dtype"], !d.isNull { cfg = cfg.setting("dtype", to: try policy(d)) }
        }
        for key in removedArguments(cls) { cfg = cfg.removing(key) }
        for (old, new) in renamedArguments(cls) {
            if let value = cfg[old] { cfg = cfg.removing(old).setting(new, to: value) }
        }
        if cls == "BatchNormalization", let axes = cfg["axis"]?.arrayValue {
            guard axes.count == 1 else {
                throw CheckpointError(.unsupported, "layer \"\(CheckpointError.printable(name))\" (BatchNormalization) normalizes over \(axes.count) axes; Keras 3's BatchNormalization takes one axis")
            }
            cfg = cfg.setting("axis", to: axes[0])
        }
        for (key, value) in cfg.objectValue ?? [] {
            if ["layer", "backward_layer", "cell"].contains(key), value["class_name"] != nil {
                cfg = cfg.setting(key, to: try layer(value, dialect: dialect, notes: &notes, depth: depth + 1))
            } else if key == "cells", let list = value.arrayValue {
                cfg = cfg.setting(key, to: .array(try list.map { try layer($0, dialect: dialect, notes: &notes, depth: depth + 1) }))
            } else if let module = objectModule(key) {
                cfg = cfg.setting(key, to: serializedObject(value, module: module))
            }
        }
        var out: [(String, JSONValue)] = [("module", .string("keras.layers")), ("class_name", .string(cls)), ("config", cfg), ("registered_name", .null)]
        for key in ["build_config", "name"] { if let x = v[key] { out.append((key, x)) } }
        if let nodes = v["inbound_nodes"] { out.append(("inbound_nodes", .array((nodes.arrayValue ?? []).map(node)))) }
        return .object(out)
    }

    /// A Keras 2 call `[["q", 0, 0, {"value": ["v", 0, 0]}]]` whose keyword arguments hold tensors
    /// in Keras 3's form (Keras 3 reads list-form calls, but passes their keyword arguments as they
    /// are); other calls stay as written.
    static func node(_ n: JSONValue) -> JSONValue {
        guard let entries = n.arrayValue, let first = entries.first?.arrayValue, first.count == 4,
              let kwargs = first[3].objectValue, kwargs.contains(where: { KerasArchitectureParser.triple($0.1) != nil }) else { return n }
        func tensor(_ t: (String, Int, Int)) -> JSONValue {
            .object([("class_name", .string("__keras_tensor__")),
                     ("config", .object([("shape", .array([])), ("dtype", .string("float32")),
                                         ("keras_history", .array([.string(t.0), .number(t.1), .number(t.2)]))]))])
        }
        let inputs = entries.compactMap { KerasArchitectureParser.triple($0) }.map(tensor)
        let args: [JSONValue] = inputs.count == 1 ? inputs : [.array(inputs)]
        let kw: [(String, JSONValue)] = kwargs.map { k, v in (k, KerasArchitectureParser.triple(v).map(tensor) ?? v) }
        return .object([("args", .array(args)), ("kwargs", .object(kw))])
    }

    /// Keras 2 arguments the Keras 3 class no longer takes (what tf_keras 2.x `get_config()` writes
    /// and Keras 3.15's constructor refuses).
    static func removedArguments(_ cls: String) -> [String] {
        switch cls {
        case "SimpleRNN", "RNN": return ["time_major"]
        case "LSTM", "GRU": return ["time_major", "implementation"]
        case "LSTMCell", "GRUCell": return ["implementation"]
        case "ConvLSTM1D", "ConvLSTM2D", "ConvLSTM3D": return ["time_major", "unroll"]
        case "Embedding": return ["input_length", "sparse"]
        case "BatchNormalization": return ["fused", "virtual_batch_size", "adjustment"]
        case "MultiHeadAttention": return ["query_shape", "key_shape", "value_shape", "softmax_robust_masking"]
        case "Conv1DTranspose", "Conv2DTranspose", "Conv3DTranspose", "DepthwiseConv1D", "DepthwiseConv2D": return ["groups"]
        case "SeparableConv1D", "SeparableConv2D": return ["groups", "kernel_initializer", "kernel_regularizer", "kernel_constraint"]
        case "SpatialDropout1D", "SpatialDropout2D", "SpatialDropout3D": return ["noise_shape"]
        case "Softmax": return ["robust_masking"]
        default: return []
        }
    }

    /// Keras 2 arguments Keras 3 spells differently.
    static func renamedArguments(_ cls: String) -> [String: String] {
        switch cls {
        case "LeakyReLU": return ["alpha": "negative_slope"]
        default: return [:]
        }
    }

    /// A dtype as Keras 3 writes a layer's: a `DTypePolicy` object.
    static func policy(_ d: JSONValue) throws -> JSONValue {
        if d["module"] != nil && d["class_name"]?.stringValue?.hasSuffix("DTypePolicy") == true { return d }
        guard let name = d.stringValue ?? d["config"]?["name"]?.stringValue else {
            throw CheckpointError(.invalidArchitecture, "a dtype policy has no name: \(d.serialized().prefix(80))")
        }
        return .object([("module", .string("keras")), ("class_name", .string("DTypePolicy")), ("config", .object([("name", .string(name))])),
                        ("registered_name", .null)])
    }

    static func objectModule(_ key: String) -> String? {
        if key.hasSuffix("_initializer") { return "keras.initializers" }
        if key.hasSuffix("_regularizer") { return "keras.regularizers" }
        if key.hasSuffix("_constraint") { return "keras.constraints" }
        return nil
    }

    /// `{"class_name": "GlorotUniform", "config": {...}}` → with `module` and `registered_name`;
    /// strings and nulls stay.
    static func serializedObject(_ v: JSONValue, module: String) -> JSONValue {
        guard let members = v.objectValue, v["class_name"] != nil, v["module"] == nil else { return v }
        let cls = v["class_name"]?.stringValue ?? ""
        let renamed = module == "keras.initializers" && cls == "Identity" ? "IdentityInitializer" : cls
        return .object([("module", .string(module)), ("class_name", .string(renamed))]
                       + members.filter { $0.0 != "class_name" } + [("registered_name", .null)])
    }

    // MARK: - Training configuration

    /// A Keras 2 `training_config` (or Keras 3's legacy one) as Keras 3's `compile_config`: the
    /// optimizer in its Keras 3 form, the loss, metric names.
    public static func compileConfig(trainingConfig tc: JSONValue, notes: inout [String]) -> JSONValue {
        var optimizer: JSONValue = .null
        if let o = tc["optimizer_config"], !o.isNull {
            var o = o
            if let c = o["class_name"]?.stringValue, c.hasPrefix("Custom>") { o = o.setting("class_name", to: .string(String(c.dropFirst("Custom>".count)))) }
            do {
                optimizer = try KerasOptimizerConfig(serialized: o).serialized
            } catch let e as CheckpointError {
                notes.append("the optimizer in training_config is not one Keras 3 has (\(e.reason)); the model is saved without it")
            } catch {}
        }
        var loss = tc["loss"] ?? .null
        if loss["class_name"] != nil && loss["module"] == nil {
            var config = loss["config"] ?? .object([])
            if config["reduction"]?.stringValue == "auto" { config = config.setting("reduction", to: .string("sum_over_batch_size")) }
            loss = .object([("module", .string("keras.losses")), ("class_name", loss["class_name"] ?? .null), ("config", config), ("registered_name", .null)])
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
