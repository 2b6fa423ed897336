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
            throw CheckpointError(.invalidArchitecture,
                                  "the architecture's top-level class is \"\(CheckpointError.printable(cls))\"; expected a Sequential or Functional model",
                                  hint: "subclassed models have no architecture JSON; save the weights with a Sequential or Functional model")
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

/// Builds `KerasModel`/`KerasLayer` values from JSON.
struct KerasArchitectureParser {
    let dialect: KerasDialect
    private var depth = 0

    init(dialect: KerasDialect) {
        self.dialect = dialect
    }

    static let modelClasses: Set<String> = ["Sequential", "Functional", "Model"]

    /// Parses one layer entry. Returns nil only when `entry` is not an object with a class name
    /// (callers turn that into an error naming the place).
    mutating func parseLayer(_ entry: JSONValue, inheritedPolicy: KerasDTypePolicy, context: String) throws -> KerasLayer? {
        guard entry.objectValue != nil else {
            throw CheckpointError(.invalidArchitecture, "\(context) should be a layer object, found \(entry.typeDescription)")
        }
        guard let className = entry["class_name"]?.stringValue, !className.isEmpty else {
            throw CheckpointError(.invalidArchitecture, "\(context) has no \"class_name\"")
        }
        let config = entry["config"] ?? .object([])
        guard config.objectValue != nil else {
            throw CheckpointError(.invalidArchitecture,
                                  "the config of \(context) (\(CheckpointError.printable(className))) should be an object, found \(config.typeDescription)")
        }
        // Keras refuses a name that is not a string (`Operation.__init__`); so does this reader.
        for n in [config["name"], entry["name"]] {
            if let n, !n.isNull, n.stringValue == nil {
                throw CheckpointError(.invalidArchitecture,
                                      "\(context) (\(CheckpointError.printable(className))) has a \"name\" that is \(n.typeDescription), not a string")
            }
        }
        let name = config["name"]?.stringValue ?? entry["name"]?.stringValue ?? KerasNames.snakeCase(className)
        let where_ = "layer \"\(CheckpointError.printable(name))\" (\(CheckpointError.printable(className)))"
        var trainable = true
        if let t = config["trainable"], !t.isNull {
            guard let b = t.boolValue else {
                throw CheckpointError(.invalidArchitecture, "\(where_): \"trainable\" should be true or false, found \(t.typeDescription)")
            }
            trainable = b
        }
        let policy: KerasDTypePolicy
        do {
            policy = try KerasDTypePolicy(json: config["dtype"], inherited: inheritedPolicy)
        } catch let e as CheckpointError {
            var e2 = e
            e2.reason = "\(where_): " + e.reason
            throw e2
        }
        let buildConfig: JSONValue? = {
            guard let b = entry["build_config"], !b.isNull else { return nil }
            return b
        }()
        var nodes: [KerasNode] = []
        if let raw = entry["inbound_nodes"], !raw.isNull {
            guard let list = raw.arrayValue else {
                throw CheckpointError(.invalidArchitecture, "\(where_): \"inbound_nodes\" should be a list, found \(raw.typeDescription)")
            }
            for (i, n) in list.enumerated() {
                nodes.append(try parseNode(n, where: where_, index: i))
            }
        }
        var nested: KerasBox<KerasModel>? = nil
        if Self.modelClasses.contains(className) {
            depth += 1
            defer { depth -= 1 }
            guard depth <= 32 else {
                throw CheckpointError(.invalidArchitecture, "\(where_): models are nested more than 32 deep")
            }
            nested = KerasBox(try parseModel(className: className, name: name, config: config, trainable: trainable,
                                             policy: policy, buildConfig: buildConfig, where: where_))
        }
        return KerasLayer(className: className, name: name, module: entry["module"]?.stringValue,
                          registeredName: entry["registered_name"]?.stringValue, config: config, trainable: trainable,
                          dtypePolicy: policy, buildConfig: buildConfig, inboundNodes: nodes, json: entry,
                          nestedBox: nested)
    }

    private mutating func parseModel(className: String, name: String, config: JSONValue, trainable: Bool,
                                     policy: KerasDTypePolicy, buildConfig: JSONValue?, where where_: String) throws -> KerasModel {
        guard let rawLayers = config["layers"] else {
            throw CheckpointError(.invalidArchitecture, "\(where_): the model config has no \"layers\" list")
        }
        guard let list = rawLayers.arrayValue else {
            throw CheckpointError(.invalidArchitecture, "\(where_): \"layers\" should be a list, found \(rawLayers.typeDescription)")
        }
        var layers: [KerasLayer] = []
        var seen = Set<ByteName>()
        for (i, item) in list.enumerated() {
            guard let layer = try parseLayer(item, inheritedPolicy: policy, context: "entry \(i) of the layers of \(where_)") else { continue }
            guard seen.insert(ByteName(layer.name)).inserted else {
                throw CheckpointError(.invalidArchitecture,
                                      "\(where_): two layers are named \"\(CheckpointError.printable(layer.name))\"; Keras requires unique layer names")
            }
            layers.append(layer)
        }
        let hasGraph = config["input_layers"] != nil || config["output_layers"] != nil
        let kind: KerasModel.Kind = className == "Sequential" || !hasGraph ? .sequential : .functional
        var inputs: [KerasTensorReference] = []
        var outputs: [KerasTensorReference] = []
        var buildInputShape: KerasShape? = nil
        if kind == .functional {
            inputs = try parseEndpoints(config["input_layers"], key: "input_layers", where: where_)
            outputs = try parseEndpoints(config["output_layers"], key: "output_layers", where: where_)
            guard !outputs.isEmpty else {
                throw CheckpointError(.invalidArchitecture, "\(where_): \"output_layers\" is empty")
            }
        } else {
            if let s = config["build_input_shape"], !s.isNull {
                buildInputShape = try KerasShapes.parseShape(s, what: "\(where_): \"build_input_shape\"")
            } else if let b = buildConfig?["input_shape"], !b.isNull {
                buildInputShape = try? KerasShapes.parseShape(b, what: "\(where_): build_config input_shape")
            }
        }
        return KerasModel(kind: kind, className: className, name: name, trainable: trainable, dtypePolicy: policy,
                          layers: layers, inputs: inputs, outputs: outputs, buildInputShape: buildInputShape,
                          buildConfig: buildConfig)
    }

    /// `input_layers` / `output_layers`: `["name", 0, 0]`, `[["a", 0, 0], ["b", 0, 0]]`, or nested
    /// dicts/lists of such triples (flattened in order; dict members in key order like Keras's tree).
    private func parseEndpoints(_ value: JSONValue?, key: String, where where_: String) throws -> [KerasTensorReference] {
        guard let value, !value.isNull else { return [] }
        var out: [KerasTensorReference] = []
        func visit(_ v: JSONValue, depth: Int) throws {
            guard depth < 16 else {
                throw CheckpointError(.invalidArchitecture, "\(where_): \"\(key)\" nests too deep")
            }
            if let triple = Self.triple(v) {
                out.append(KerasTensorReference(layer: triple.0, nodeIndex: triple.1, tensorIndex: triple.2,
                                                argument: .positional(out.count), countsBuiltInNode: true))
                return
            }
            switch v {
            case .array(let items):
                for item in items { try visit(item, depth: depth + 1) }
            case .object(let members):
                for (_, item) in members.sorted(by: { $0.0 < $1.0 }) { try visit(item, depth: depth + 1) }
            default:
                throw CheckpointError(.invalidArchitecture,
                                      "\(where_): \"\(key)\" should hold [layer name, node index, tensor index] triples, found \(v.typeDescription)")
            }
        }
        try visit(value, depth: 0)
        return out
    }

    /// `["name", node, tensor]` or `["name", node, tensor, {kwargs}]`.
    static func triple(_ v: JSONValue) -> (String, Int, Int)? {
        guard let a = v.arrayValue, a.count == 3 || a.count == 4, let n = a[0].stringValue,
              let node = a[1].intValue, let t = a[2].intValue, node >= 0, t >= 0 else { return nil }
        if a.count == 4, a[3].objectValue == nil { return nil }
        return (n, node, t)
    }

    private func parseNode(_ node: JSONValue, where where_: String, index: Int) throws -> KerasNode {
        switch node {
        case .object:
            return try parseKeras3Node(node, where: where_, index: index)
        case .array(let entries):
            return try parseKeras2Node(entries, where: where_, index: index)
        default:
            throw CheckpointError(.invalidArchitecture,
                                  "\(where_): inbound node \(index) should be an object (Keras 3) or a list (Keras 2), found \(node.typeDescription)")
        }
    }

    /// Keras 3: `{"args": [...], "kwargs": {...}}` with `__keras_tensor__` leaves.
    private func parseKeras3Node(_ node: JSONValue, where where_: String, index: Int) throws -> KerasNode {
        var inputs: [KerasTensorReference] = []
        var keywords: [(String, JSONValue)] = []
        var positional = 0
        func collect(_ v: JSONValue, keyword: String?, depth: Int) throws {
            guard depth < 16 else {
                throw CheckpointError(.invalidArchitecture, "\(where_): inbound node \(index) nests too deep")
            }
            switch v {
            case .object(let members):
                if v["class_name"]?.stringValue == "__keras_tensor__" {
                    let cfg = v["config"] ?? .null
                    guard let history = cfg["keras_history"], let t = Self.triple(history) else {
                        throw CheckpointError(.invalidArchitecture,
                                              "\(where_): a tensor in inbound node \(index) has no valid keras_history [layer, node, tensor]")
                    }
                    var shape: KerasShape? = nil
                    if let s = cfg["shape"], !s.isNull {
                        shape = try KerasShapes.parseShape(s, what: "\(where_): the shape of an input tensor")
                    }
                    let argument: KerasTensorReference.Argument
                    if let keyword {
                        argument = .keyword(keyword)
                    } else {
                        argument = .positional(positional)
                        positional += 1
                    }
                    inputs.append(KerasTensorReference(layer: t.0, nodeIndex: t.1, tensorIndex: t.2, recordedShape: shape,
                                                       argument: argument, countsBuiltInNode: false))
                    return
                }
                for (_, item) in members.sorted(by: { $0.0 < $1.0 }) { try collect(item, keyword: keyword, depth: depth + 1) }
            case .array(let items):
                for item in items { try collect(item, keyword: keyword, depth: depth + 1) }
            default:
                return
            }
        }
        if let args = node["args"], !args.isNull {
            guard let list = args.arrayValue else {
                throw CheckpointError(.invalidArchitecture, "\(where_): \"args\" of inbound node \(index) should be a list, found \(args.typeDescription)")
            }
            for item in list { try collect(item, keyword: nil, depth: 0) }
        }
        if let kwargs = node["kwargs"], !kwargs.isNull {
            guard let members = kwargs.objectValue else {
                throw CheckpointError(.invalidArchitecture, "\(where_): \"kwargs\" of inbound node \(index) should be an object, found \(kwargs.typeDescription)")
            }
            for (k, v) in members.sorted(by: { $0.0 < $1.0 }) {
                let before = inputs.count
                try collect(v, keyword: k, depth: 0)
                if inputs.count == before { keywords.append((k, v)) }
            }
        }
        return KerasNode(inputs: inputs, keywordArguments: keywords)
    }

    /// Keras 2: `[["layer", node, tensor, {kwargs}], ...]`; tensors in kwargs are
    /// `["layer", node, tensor]` triples (tf.keras writes `MultiHeadAttention(q, v)` as
    /// `[["q", 0, 0, {"value": ["v", 0, 0]}]]`).
    private func parseKeras2Node(_ entries: [JSONValue], where where_: String, index: Int) throws -> KerasNode {
        var positional: [KerasTensorReference] = []
        var keywordTensors: [(String, KerasTensorReference)] = []
        var keywords: [(String, JSONValue)] = []
        for (i, e) in entries.enumerated() {
            guard let t = Self.triple(e), let a = e.arrayValue else {
                throw CheckpointError(.invalidArchitecture,
                                      "\(where_): entry \(i) of inbound node \(index) should be [layer name, node index, tensor index, {kwargs}], found \(e.serialized().prefix(80))")
            }
            positional.append(KerasTensorReference(layer: t.0, nodeIndex: t.1, tensorIndex: t.2,
                                                   argument: .positional(i), countsBuiltInNode: true))
            if a.count == 4, let kw = a[3].objectValue {
                for (k, v) in kw {
                    if let kt = Self.triple(v) {
                        keywordTensors.append((k, KerasTensorReference(layer: kt.0, nodeIndex: kt.1, tensorIndex: kt.2,
                                                                       argument: .keyword(k), countsBuiltInNode: true)))
                    } else if !v.isNull {
                        keywords.append((k, v))
                    }
                }
            }
        }
        let sorted = keywordTensors.sorted { $0.0 < $1.0 }.map(\.1)
        return KerasNode(inputs: positional + sorted, keywordArguments: keywords)
    }
}
