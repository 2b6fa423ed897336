// Parsing of the JSON that Keras's `model.to_json()` writes, in both dialects:
//
// - Keras 3: every object is `{"module", "class_name", "config", "registered_name"}`, built layers
//   carry `build_config`, dtype policies are objects (`DTypePolicy`), `InputLayer` has `batch_shape`,
//   Functional `inbound_nodes` are `{"args": [...], "kwargs": {...}}` with `__keras_tensor__` leaves
//   (`keras_history: [layer, node, tensor]`).
// - Keras 2 / tf.keras: `{"class_name", "config"}` (tf-keras 2.13+ also writes `module` and
//   `build_config`), `batch_input_shape`, dtype strings or `Policy` objects, list-form
//   `inbound_nodes` (`[[["input_1", 0, 0, {}]]]`), `keras_version` "2.x" at the top.
//
// Nothing here guesses silently: every malformed piece becomes a `CheckpointError` that names the
// layer and says what was expected.

/// Which Keras wrote an architecture JSON.
public enum KerasDialect: String, Sendable, Hashable, CaseIterable {
    /// Keras 3 (`keras` 3.x, `model.to_json()`).
    case keras3
    /// Keras 2 (`tf.keras` / `tf-keras` 2.x).
    case keras2

    /// A human name: "Keras 3" or "Keras 2 (tf.keras)".
    public var displayName: String {
        switch self {
        case .keras3: return "Keras 3"
        case .keras2: return "Keras 2 (tf.keras)"
        }
    }
}

/// The Keras backend a model is (or was) run with. It decides one thing the architecture cannot:
/// the dtype Keras gives variables created with `dtype="int"` (the optimizer's `iteration`,
/// `Normalization`'s `count`).
public enum KerasBackend: String, Sendable, Hashable, CaseIterable {
    case tensorflow, jax, torch, numpy, openvino

    /// `int64` on TensorFlow, `int32` everywhere else (Keras `PYTHON_DTYPES_MAP["int"]`).
    public var integerDType: DType { self == .tensorflow ? .int64 : .int32 }
}

/// A Keras dtype policy: the dtype variables are stored in and the dtype layers compute in.
public struct KerasDTypePolicy: Sendable, Hashable {
    /// The policy name as Keras writes it: `float32`, `mixed_float16`, `bfloat16`...
    public var name: String
    /// The dtype of the layer's variables (`float32` for `mixed_float16`).
    public var variableDType: DType
    /// The dtype the layer computes in (`float16` for `mixed_float16`).
    public var computeDType: DType

    /// `float32`, Keras's default policy.
    public static let float32 = KerasDTypePolicy(uncheckedName: "float32", variable: .float32, compute: .float32)

    init(uncheckedName: String, variable: DType, compute: DType) {
        self.name = uncheckedName
        self.variableDType = variable
        self.computeDType = compute
    }

    /// A policy from its name (`float32`, `float16`, `bfloat16`, `float64`, `mixed_float16`,
    /// `mixed_bfloat16`). Quantized policies (`int8_from_float32`, ...) are refused: their variables
    /// differ from the float layer's and are not modelled.
    public init(name: String) throws {
        if name.hasPrefix("mixed_") {
            let compute = String(name.dropFirst("mixed_".count))
            guard compute == "float16" || compute == "bfloat16", let c = DType(name: compute) else {
                throw CheckpointError(.invalidArchitecture,
                                      "the dtype policy \"\(CheckpointError.printable(name))\" is not a Keras policy (mixed policies are mixed_float16 and mixed_bfloat16)")
            }
            self.init(uncheckedName: name, variable: .float32, compute: c)
            return
        }
        if name.contains("_from_") || name.hasPrefix("int8") || name.hasPrefix("int4") || name.hasPrefix("float8")
            || name.hasPrefix("gptq") || name.hasPrefix("awq") {
            throw CheckpointError(.unsupported,
                                  "the quantized dtype policy \"\(CheckpointError.printable(name))\" is not supported; quantized layers hold different variables than their float versions",
                                  hint: "save the model before quantizing it")
        }
        guard let t = DType(name: name) else {
            throw CheckpointError(.invalidArchitecture,
                                  "the dtype policy \"\(CheckpointError.printable(name))\" is not a Keras dtype policy name")
        }
        self.init(uncheckedName: name, variable: t, compute: t)
    }

    /// Reads a policy as Keras writes it in a layer config: a string (`"float32"`), a Keras 3
    /// object (`{"module": "keras", "class_name": "DTypePolicy", "config": {"name": ...}}`) or a
    /// Keras 2 `Policy` object. `null` or a missing value gives `inherited`.
    public init(json: JSONValue?, inherited: KerasDTypePolicy) throws {
        guard let json, !json.isNull else { self = inherited; return }
        if let s = json.stringValue {
            do {
                try self.init(name: s)
            } catch let e as CheckpointError where e.code == .invalidArchitecture {
                // A dtype that is not a variable dtype (`string` inputs, tf.keras `_infer`): layers
                // with variables never carry one; keep the enclosing policy.
                self = inherited
                self.name = s
            }
            return
        }
        guard json.objectValue != nil else {
            throw CheckpointError(.invalidArchitecture, "a dtype policy should be a string or an object, found \(json.typeDescription)")
        }
        let cls = json["class_name"]?.stringValue ?? ""
        if cls.hasPrefix("Quantized") || cls.contains("GPTQ") || cls.contains("AWQ") {
            throw CheckpointError(.unsupported, "the quantized dtype policy \(CheckpointError.printable(cls)) is not supported; quantized layers hold different variables than their float versions",
                                  hint: "save the model before quantizing it")
        }
        if cls == "DTypePolicyMap" {
            // A model-level map of per-layer policies; every layer carries its own policy.
            self = inherited
            return
        }
        let config = json["config"] ?? .null
        if let n = config["name"]?.stringValue {
            try self.init(name: n)
        } else if let n = json["name"]?.stringValue {
            try self.init(name: n)
        } else {
            throw CheckpointError(.invalidArchitecture, "the dtype policy object (\(CheckpointError.printable(cls))) has no name")
        }
    }
}

/// A tensor shape as Keras writes it; `nil` is an unknown dimension (`None`).
public typealias KerasShape = [Int?]

/// One input of a layer call in a Functional model: which layer produced it, at which call
/// (node) and which of that call's outputs.
public struct KerasTensorReference: Sendable, Hashable {
    /// How the tensor was passed to the layer.
    public enum Argument: Sendable, Hashable {
        /// Positional, flattened (a list `[a, b]` passed as the first argument gives 0 and 1).
        case positional(Int)
        /// Keyword argument (`value=`, `key=`, `mask=`...).
        case keyword(String)
    }

    /// The producing layer's name.
    public var layer: String
    /// Which call of that layer (node index as written).
    public var nodeIndex: Int
    /// Which output of that call.
    public var tensorIndex: Int
    /// The shape Keras 3 recorded with the tensor (`__keras_tensor__.config.shape`), if any.
    public var recordedShape: KerasShape?
    /// How the tensor was passed.
    public var argument: Argument
    /// Whether `nodeIndex` counts the built-in node a nested model starts with (Keras 2 node lists
    /// and both dialects' `input_layers`/`output_layers` do; Keras 3 `keras_history` does not).
    public var countsBuiltInNode: Bool

    public init(layer: String, nodeIndex: Int, tensorIndex: Int, recordedShape: KerasShape? = nil,
                argument: Argument = .positional(0), countsBuiltInNode: Bool = false) {
        self.layer = layer
        self.nodeIndex = nodeIndex
        self.tensorIndex = tensorIndex
        self.recordedShape = recordedShape
        self.argument = argument
        self.countsBuiltInNode = countsBuiltInNode
    }
}

/// One call of a layer in a Functional model.
public struct KerasNode: Sendable {
    /// Every Keras tensor passed to the call, in Keras's `node.input_tensors` order: positional
    /// arguments flattened first, then keyword arguments sorted by name.
    public var inputs: [KerasTensorReference]
    /// Keyword arguments that are not tensors (`training`, `return_attention_scores`...).
    public var keywordArguments: [(String, JSONValue)]

    public init(inputs: [KerasTensorReference], keywordArguments: [(String, JSONValue)] = []) {
        self.inputs = inputs
        self.keywordArguments = keywordArguments
    }

    /// A non-tensor keyword argument.
    public func keyword(_ name: String) -> JSONValue? {
        for (k, v) in keywordArguments where k == name { return v }
        return nil
    }
}

/// A reference-type box so that a value type can hold a value of its own type.
final class KerasBox<T: Sendable>: Sendable {
    let value: T
    init(_ value: T) { self.value = value }
}

/// One layer entry of an architecture: a layer config, or a nested model.
public struct KerasLayer: Sendable {
    /// `Dense`, `LSTM`, `Sequential`, ...
    public var className: String
    /// The layer name (`config.name`).
    public var name: String
    /// `module` (Keras 3 and tf-keras 2.13+), e.g. `keras.layers`.
    public var module: String?
    /// `registered_name` of custom objects (`my_package>MyLayer`).
    public var registeredName: String?
    /// The layer's `config` object as written.
    public var config: JSONValue
    /// `config.trainable` (true when absent).
    public var trainable: Bool
    /// `config.dtype`, resolved (inherits the enclosing policy when absent or null).
    public var dtypePolicy: KerasDTypePolicy
    /// `build_config` (Keras 3 and tf-keras 2.13+), as written.
    public var buildConfig: JSONValue?
    /// The calls of this layer in the enclosing Functional model (empty in a Sequential model).
    public var inboundNodes: [KerasNode]
    /// The whole entry as written.
    public var json: JSONValue
    let nestedBox: KerasBox<KerasModel>?

    /// For a nested Sequential or Functional model used as a layer: its parsed architecture.
    public var nestedModel: KerasModel? { nestedBox?.value }

    /// True for Sequential / Functional / Model entries.
    public var isModel: Bool { nestedBox != nil }

    /// True for Keras 3 operations recorded in a Functional graph (`keras.ops.not_equal` that an
    /// `Embedding(mask_zero=True)` adds, ...): module `keras.src.ops.*`. They are not layers: no
    /// variables, not in `model.layers`, not in the weights file.
    public var isOperation: Bool {
        guard let module else { return false }
        return module.hasPrefix("keras.src.ops") || module.hasPrefix("keras.ops")
    }
}

/// A Sequential or Functional model.
public struct KerasModel: Sendable {
    /// Sequential (a list of layers) or Functional (a graph of layer calls).
    public enum Kind: String, Sendable, Hashable {
        case sequential
        case functional
    }

    /// Sequential or Functional.
    public var kind: Kind
    /// `Sequential`, `Functional` or `Model`.
    public var className: String
    /// The model name (`config.name`).
    public var name: String
    /// `config.trainable` (false freezes every layer of the model).
    public var trainable: Bool
    /// The model's dtype policy (inherited by layers that have none).
    public var dtypePolicy: KerasDTypePolicy
    /// The layer entries in the order the JSON lists them (a Sequential's `InputLayer`, if listed, first).
    public var layers: [KerasLayer]
    /// Functional: the model inputs (`input_layers`).
    public var inputs: [KerasTensorReference]
    /// Functional: the model outputs (`output_layers`).
    public var outputs: [KerasTensorReference]
    /// Sequential: the input shape the model was built with, from `build_input_shape`,
    /// `build_config` or the first layer's `batch_input_shape`, when written.
    public var buildInputShape: KerasShape?
    /// `build_config` of the model entry.
    public var buildConfig: JSONValue?
}

/// A parsed `model.to_json()` document.
public struct KerasArchitecture: Sendable {
    /// Which Keras wrote it.
    public var dialect: KerasDialect
    /// The model.
    public var model: KerasModel
    /// `compile_config` (Keras 3 JSON of a compiled model), if present and not empty.
    public var compileConfig: JSONValue?
    /// `keras_version` (Keras 2 JSON), if present.
    public var kerasVersion: String?
    /// `backend` (Keras 2 JSON), if present.
    public var backendName: String?
    /// The whole document.
    public var json: JSONValue

    /// Whether any layer computes under the mixed_float16 policy (what setting it as the global
    /// policy gives every layer): `compile` then wraps the optimizer in a LossScaleOptimizer.
    public var usesMixedFloat16: Bool {
        func visit(_ m: KerasModel) -> Bool {
            m.dtypePolicy.name == "mixed_float16" || m.layers.contains { $0.dtypePolicy.name == "mixed_float16" || ($0.nestedModel.map(visit) ?? false) }
        }
        return visit(model)
    }

    /// Parses `model.to_json()` text.
    public init(text: String) throws {
        try self.init(json: JSONParser.parse(text))
    }

    /// Parses `model.to_json()` bytes (UTF-8).
    public init(bytes: [UInt8]) throws {
        try self.init(json: JSONParser.parse(bytes))
    }

    /// Interprets an already parsed document.
    public init(json: JSONValue) throws {
        guard json.objectValue != nil else {
            throw CheckpointError(.invalidArchitecture, "the architecture should be a JSON object (model.to_json()), found \(json.typeDescription)")
        }
        self.json = json
        self.kerasVersion = json["keras_version"]?.stringValue
        self.backendName = json["backend"]?.stringValue
        self.dialect = Self.detectDialect(json)
        if let cc = json["compile_config"], let members = cc.objectValue, !members.isEmpty {
            self.compileConfig = cc
        } else {
            self.compileConfig = nil
        }
        var parser = KerasArchitectureParser(dialect: dialect)
        guard let entry = try parser.parseLayer(json, inheritedPolicy: .float32, context: "the architecture"),
              let model = entry.nestedModel else {
            let cls = json["class_name"]?.stringValue ?? "?"
            if KerasLayerCatalog.isKnown(cls) || json["class_name"]?.stringValue == nil {
                throw CheckpointError(.invalidArchitecture,
                                      "the architecture's top-level class is \"\(CheckpointError.printable(cls))\"; expected a Sequential or Functional model")
            }
            let module = (json["module"]?.stringValue).map { " (module \(CheckpointError.printable($0)))" } ?? ""
            // keras-hub backbones and other model subclasses serialize their constructor
            // arguments, not their layers: model_from_json rebuilds them by running their code.
            throw CheckpointError(.unknownLayer,
                                  "the architecture's model class is \(CheckpointError.printable(cls))\(module), which builds its layers in its own code from its config, so its variables and their order cannot be read from the JSON",
                                  hint: "Keras's model_from_json rebuilds it with its package imported; ckpt reads and converts its weights files by their HDF5 layout, and --allow-unknown-layers applies to unknown layers inside a Sequential or Functional model, not to the model class itself")
        }
        self.model = model
    }

    /// The dialect a document was written in: `keras_version` decides when present; otherwise the
    /// Keras 3 markers (`module` at the top, `DTypePolicy` objects, `batch_shape`, dict-form nodes)
    /// against the Keras 2 ones (`batch_input_shape`, list-form nodes, dtype strings).
    static func detectDialect(_ json: JSONValue) -> KerasDialect {
        if let v = json["keras_version"]?.stringValue, let major = v.split(separator: ".").first {
            return major == "3" ? .keras3 : .keras2
        }
        var keras3 = 0
        var keras2 = 0
        if json["module"] != nil { keras3 += 2 }
        if json["build_config"] != nil { keras3 += 1 }
        func visit(_ v: JSONValue, depth: Int) {
            guard depth < 12 else { return }
            switch v {
            case .object(let members):
                for (k, value) in members {
                    switch k {
                    case "batch_shape": keras3 += 1
                    case "batch_input_shape": keras2 += 1
                    case "class_name":
                        if let s = value.stringValue {
                            if s == "DTypePolicy" || s == "FloatDTypePolicy" || s == "__keras_tensor__" { keras3 += 1 }
                            if s == "Policy" { keras2 += 1 }
                        }
                    case "inbound_nodes":
                        if let nodes = value.arrayValue, let first = nodes.first {
                            if first.objectValue != nil { keras3 += 1 } else if first.arrayValue != nil { keras2 += 1 }
                        }
                    default: break
                    }
                    visit(value, depth: depth + 1)
                }
            case .array(let items):
                for item in items { visit(item, depth: depth + 1) }
            default: break
            }
        }
        visit(json, depth: 0)
        return keras2 > keras3 ? .keras2 : .keras3
    }
}
