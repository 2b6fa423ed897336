/// A model's layers as Keras's `model.summary()` lists them: each top-level layer with its class,
/// output shape and the calls it is connected to, nested models with their own layers. Built from
/// the architecture JSON by the same engine that infers the variables (no tensor data is read).
public struct ModelGraph: Sendable {
    /// One input of a layer call: `layer[node][tensor]` as Keras prints it.
    public struct Inbound: Sendable, Equatable, Hashable {
        public var layer: String
        public var node: Int
        public var tensor: Int
        public var text: String { "\(layer)[\(node)][\(tensor)]" }
    }

    /// One layer (or nested model).
    public struct Layer: Sendable, Equatable {
        public var name: String
        public var className: String
        /// Output shapes of the layer's call; nil when they cannot be computed.
        public var outputShapes: [KerasShape]?
        /// Inputs of every call, in Keras's `node.input_tensors` order (Functional models).
        public var inbound: [Inbound]
        /// A nested model's layers.
        public var children: [Layer]
        /// Parameters the architecture gives the layer (every variable it and its sub-layers own).
        public var inferredParams: Int
        public var isModel: Bool

        /// The Output Shape cell as Keras prints it: `(None, 26, 26, 8)`; several outputs as a
        /// list; `?` when unknown.
        public var outputShapeText: String {
            guard let shapes = outputShapes, !shapes.isEmpty else { return "?" }
            let texts = shapes.map(ModelGraph.shapeText)
            return texts.count == 1 ? texts[0] : "[" + texts.joined(separator: ", ") + "]"
        }

        /// The Connected to cell: `bn[0][0], gru[0][0]`, or `-`.
        public var connectedToText: String {
            inbound.isEmpty ? "-" : inbound.map(\.text).joined(separator: ", ")
        }
    }

    public var modelName: String
    /// `Sequential` or `Functional`.
    public var modelClass: String
    public var layers: [Layer]
    /// Whether Keras prints the model without a "Connected to" column: a Sequential model, or a
    /// Functional one that is a single chain (one input, one input per call, no branch).
    public var sequentialLike: Bool
    /// The variables the architecture implies (maps checkpoint tensors to top-level layers).
    public var variables: KerasModelVariables

    /// `(None, 26, 26, 8)`, as Keras's `format_layer_shape` writes a shape.
    public static func shapeText(_ shape: KerasShape) -> String {
        "(" + shape.map { $0.map(String.init) ?? "None" }.joined(separator: ", ") + ")"
    }

    /// The graph of `model.to_json()` bytes; nil when they cannot be interpreted.
    public static func read(architecture bytes: [UInt8]) -> ModelGraph? {
        guard let arch = try? KerasArchitecture(bytes: bytes) else { return nil }
        return try? ModelGraph(arch)
    }

    public init(_ arch: KerasArchitecture) throws {
        let engine = KerasModelEngine(dialect: arch.dialect, options: KerasInferenceOptions(allowUnknownLayers: true))
        let top = try engine.buildTopModel(arch.model)
        var vars: [KerasVariable] = []
        var groups: [KerasH5Group] = []
        var positions: [String: Int] = [:]
        KerasModelEngine.flatten(top.object, objectPath: "", layer: nil, variables: &vars, groups: &groups, unknownPositions: &positions)
        for i in vars.indices { vars[i].index = i }
        var unknown = top.unknown
        for i in unknown.indices { unknown[i].variablesBefore = positions[unknown[i].h5Group] ?? vars.count }
        let model = arch.model
        variables = KerasModelVariables(dialect: arch.dialect, modelName: model.name,
                                        modelClass: model.kind == .sequential ? "Sequential" : "Functional",
                                        variables: vars, unknownLayers: unknown, h5Groups: groups)
        modelName = model.name
        modelClass = model.kind == .sequential ? "Sequential" : "Functional"
        layers = Self.layers(of: top.object, model: model)
        sequentialLike = model.kind == .sequential || Self.isChain(model)
    }

    static func layers(of object: BuiltObject, model: KerasModel) -> [Layer] {
        var byName: [String: KerasLayer] = [:]
        for l in model.layers where byName[l.name] == nil { byName[l.name] = l }
        return object.children.map { child in
            let o = child.object
            let spec = byName[o.objectName]
            var inbound: [Inbound] = []
            if model.kind == .functional, let spec {
                for node in spec.inboundNodes {
                    for ref in node.inputs {
                        var n = ref.nodeIndex
                        if byName[ref.layer]?.isModel == true && ref.countsBuiltInNode && n >= 1 { n -= 1 }
                        inbound.append(Inbound(layer: ref.layer, node: n, tensor: ref.tensorIndex))
                    }
                }
            }
            let nested = o.isModel ? spec?.nestedModel.map { layers(of: o, model: $0) } ?? [] : []
            return Layer(name: o.objectName, className: o.className, outputShapes: o.outputShapes, inbound: inbound,
                         children: nested, inferredParams: params(o), isModel: o.isModel)
        }
    }

    static func params(_ o: BuiltObject) -> Int {
        var n = 0
        for v in o.own {
            let (e, overflow) = v.shape.reduce((1, false)) { acc, d in
                let (m, o) = acc.0.multipliedReportingOverflow(by: d)
                return (m, acc.1 || o)
            }
            if !overflow { n = n &+ e }
        }
        for c in o.children { n = n &+ params(c.object) }
        return n
    }

    /// Keras's `sequential_like` test for a Functional model: a single chain of calls.
    static func isChain(_ model: KerasModel) -> Bool {
        var consumers: [String: Int] = [:]
        var inputs = 0
        for layer in model.layers {
            if layer.className == "InputLayer" { inputs += 1 }
            if layer.inboundNodes.count > 1 { return false }
            for node in layer.inboundNodes {
                if node.inputs.count > 1 { return false }
                for ref in node.inputs {
                    let key = "\(ref.layer)[\(ref.nodeIndex)][\(ref.tensorIndex)]"
                    consumers[key, default: 0] += 1
                    if consumers[key, default: 0] > 1 { return false }
                }
            }
        }
        return inputs <= 1
    }
}
