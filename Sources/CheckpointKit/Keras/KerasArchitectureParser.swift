// Parsing layer and model entries of `model.to_json()` in both dialects (see KerasArchitecture.swift).

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
