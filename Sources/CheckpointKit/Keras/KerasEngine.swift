// The engine that walks a model the way Keras 3 deserializes it: it orders layers like
// `keras/src/ops/function.py` `map_graph`, propagates shapes through the graph, builds every
// layer's variables with the right name scope, and records where Keras 3's saver
// (`keras/src/saving/saving_lib.py` `_save_state`) puts each variable.

/// A variable as a layer's `build()` creates it, with its names resolved.
struct BuiltVariable: Sendable {
    var name: String
    var path: String
    var scopedPath: String
    var keras2Name: String
    var shape: [Int]
    var dtype: DType
    /// The `trainable=` argument of `add_weight` (decides the H5 order: trainable-created first).
    var createdTrainable: Bool
    /// Effective: created trainable and every enclosing layer/model trainable.
    var trainable: Bool
}

/// A Keras object (model, layer, RNN cell, attention projection) and what it owns.
struct BuiltObject: Sendable {
    var objectName: String
    var className: String
    var isModel: Bool = false
    var unknownReason: KerasUnknownLayer.Reason? = nil
    var canonicalScope: [String] = []
    var scopedScope: [String] = []
    /// Variables in creation order.
    var own: [BuiltVariable] = []
    /// Sub-objects in Keras's `_layers` tracking order (= `model.weights` order), each with the
    /// attribute path the saver reaches it through (`cell`, `forward_layer`, `layers/dense_1`).
    var children: [(attribute: String, object: BuiltObject)] = []
    /// Output shapes of the object's (first) call inside its model, when known (the layer table's
    /// Output Shape column).
    var outputShapes: [KerasShape]? = nil

    /// `_trainable_variables + _non_trainable_variables`: the order of `weights` and of `vars/<i>`.
    var ownInSaveOrder: [BuiltVariable] { own.filter(\.createdTrainable) + own.filter { !$0.createdTrainable } }
}

/// The three name scopes an object is built in.
struct KerasScope: Sendable {
    /// Scope of the canonical path (as `model_from_json` of this JSON gives it).
    var canonical: [String]
    /// Scope when everything is built inside its parent (code-built models, JSON without build_config).
    var scoped: [String]
    /// tf.keras name scope.
    var keras2: [String]

    static let root = KerasScope(canonical: [], scoped: [], keras2: [])

    func joined(_ name: String, standalone: Bool, keras2Transparent: Bool = false) -> KerasScope {
        KerasScope(canonical: standalone ? [name] : canonical + [name], scoped: scoped + [name],
                   keras2: keras2Transparent ? keras2 : keras2 + [name])
    }
}

/// What the enclosing object passes to a layer it builds.
struct KerasParent: Sendable {
    /// Scope of the enclosing object (the layer's own name is appended).
    var scope: KerasScope
    /// Effective trainability of the enclosing object.
    var trainable: Bool
    /// Whether tf.keras names this layer's variables without the layer's own scope (the layer
    /// wrapped by `TimeDistributed`).
    var keras2Transparent: Bool = false
}

/// The input tensors of one layer call.
struct LayerInputs: Sendable {
    var tensors: [(argument: KerasTensorReference.Argument, shape: KerasShape)]

    static let empty = LayerInputs(tensors: [])

    init(tensors: [(argument: KerasTensorReference.Argument, shape: KerasShape)]) {
        self.tensors = tensors
    }

    init(single shape: KerasShape) {
        self.tensors = [(.positional(0), shape)]
    }

    init(positional shapes: [KerasShape]) {
        self.tensors = shapes.enumerated().map { (.positional($0.offset), $0.element) }
    }

    /// Keyword tensors that are masks, states or flags, not layer inputs.
    static func isAuxiliaryKeyword(_ k: String) -> Bool {
        k == "mask" || k.hasSuffix("_mask") || k == "initial_state" || k == "constants" || k == "training"
            || k == "states"
    }

    /// Positional input shapes (the main inputs), in order.
    var positional: [KerasShape] {
        tensors.compactMap { if case .positional = $0.argument { return $0.shape } else { return nil } }
    }

    /// Input shapes that are not masks/states: positional ones, then named main inputs.
    var main: [KerasShape] {
        tensors.compactMap {
            switch $0.argument {
            case .positional: return $0.shape
            case .keyword(let k): return Self.isAuxiliaryKeyword(k) ? nil : $0.shape
            }
        }
    }

    /// The input passed as keyword `name`, or else positional `position`.
    func named(_ name: String, position: Int) -> KerasShape? {
        for t in tensors { if case .keyword(let k) = t.argument, k == name { return t.shape } }
        let p = positional
        return p.indices.contains(position) ? p[position] : nil
    }

    var first: KerasShape? { main.first }
}

/// Result of building one object.
struct BuildResult: Sendable {
    var object: BuiltObject
    /// Output shapes of the call; nil when they cannot be computed.
    var outputs: [KerasShape]?
}

struct KerasModelEngine {
    let dialect: KerasDialect
    let options: KerasInferenceOptions

    init(dialect: KerasDialect, options: KerasInferenceOptions) {
        self.dialect = dialect
        self.options = options
    }

    struct TopResult {
        var object: BuiltObject
        var unknown: [KerasUnknownLayer]
    }

    func buildTopModel(_ model: KerasModel) throws -> TopResult {
        let result = try buildModel(model, callInputs: nil, parent: KerasParent(scope: .root, trainable: true), top: true)
        var unknown: [KerasUnknownLayer] = []
        Self.collectUnknown(result.object, objectPath: "", into: &unknown)
        return TopResult(object: result.object, unknown: unknown)
    }

    // MARK: - Models

    /// Builds a Sequential or Functional model (top-level or nested).
    func buildModel(_ model: KerasModel, callInputs: [KerasShape]?, parent: KerasParent, top: Bool) throws -> BuildResult {
        // A model builds itself when it is deserialized, outside any enclosing scope. A Sequential
        // model builds its layers inside its own name scope; a Functional model calls them
        // outside any. tf.keras names a nested model's variables after the inner layers only.
        let trainable = parent.trainable && model.trainable
        let childScope: KerasScope
        switch model.kind {
        case .sequential: childScope = KerasScope(canonical: [model.name], scoped: [model.name], keras2: [])
        case .functional: childScope = .root
        }
        let childParent = KerasParent(scope: childScope, trainable: trainable)
        var object = BuiltObject(objectName: model.name, className: model.kind == .sequential ? "Sequential" : "Functional")
        object.isModel = true
        object.canonicalScope = [model.name]
        object.scopedScope = [model.name]
        let outputs: [KerasShape]?
        switch model.kind {
        case .sequential:
            let r = try buildSequential(model, callInputs: callInputs, parent: childParent)
            object.children = r.children
            outputs = r.outputs
        case .functional:
            let r = try buildFunctional(model, parent: childParent)
            object.children = r.children
            outputs = r.outputs
        }
        return BuildResult(object: object, outputs: outputs)
    }

    /// The H5 attribute of each layer of a model: `layers/<snake_case class>[_<n>]`.
    static func layerAttributes(_ layers: [KerasLayer]) -> [String] {
        var used: [String: Int] = [:]
        return layers.map { layer in
            let base = KerasNames.snakeCase(KerasLayerCatalog.pythonClassName(layer.className))
            if let n = used[base] {
                used[base] = n + 1
                return "layers/\(base)_\(n + 1)"
            }
            used[base] = 0
            return "layers/\(base)"
        }
    }

    static func inputLayerShape(_ layer: KerasLayer) throws -> KerasShape {
        let cfg = KerasConfig(layer)
        for key in ["batch_shape", "batch_input_shape"] {
            if let s = cfg[key] { return try KerasShapes.parseShape(s, what: "\(cfg.place): \"\(key)\"") }
        }
        if let s = cfg["shape"] {
            let inner = try KerasShapes.parseShape(s, what: "\(cfg.place): \"shape\"")
            let batch = try cfg.optionalInt("batch_size")
            return [batch] + inner
        }
        if let s = cfg["input_shape"] {
            return [nil] + (try KerasShapes.parseShape(s, what: "\(cfg.place): \"input_shape\""))
        }
        throw cfg.error("the InputLayer has no \"batch_shape\" (Keras 3) or \"batch_input_shape\" (Keras 2)")
    }

    private func buildSequential(_ model: KerasModel, callInputs: [KerasShape]?, parent: KerasParent) throws
        -> (children: [(attribute: String, object: BuiltObject)], outputs: [KerasShape]?) {
        var layers = model.layers
        var current: KerasShape? = nil
        if let first = layers.first, first.className == "InputLayer" {
            current = try Self.inputLayerShape(first)
            layers.removeFirst()
        } else if let s = model.buildInputShape {
            current = s
        } else if let first = layers.first {
            let cfg = KerasConfig(first)
            for key in ["batch_input_shape", "batch_shape"] {
                if let s = cfg[key] { current = try KerasShapes.parseShape(s, what: "\(cfg.place): \"\(key)\""); break }
            }
            if current == nil, let s = cfg["input_shape"] {
                current = [nil] + (try KerasShapes.parseShape(s, what: "\(cfg.place): \"input_shape\""))
            }
        }
        if current == nil, let c = callInputs?.first { current = c }
        if let bad = layers.firstIndex(where: { $0.className == "InputLayer" }) {
            throw CheckpointError(.invalidArchitecture,
                                  "Sequential model \"\(CheckpointError.printable(model.name))\": layer \(bad + 1) is an InputLayer; only the first layer of a Sequential model may be one")
        }
        let attributes = Self.layerAttributes(layers)
        var children: [(attribute: String, object: BuiltObject)] = []
        var previous: String? = nil
        for (layer, attribute) in zip(layers, attributes) {
            let inputs = current.map { LayerInputs(single: $0) }
            let r = try buildLayerReportingInput(layer, inputs: inputs, node: nil, parent: parent,
                                                 missingInputReason: {
                                                     if let previous {
                                                         return "the output shape of the previous layer \"\(CheckpointError.printable(previous))\" cannot be computed"
                                                     }
                                                     return "Sequential model \"\(CheckpointError.printable(model.name))\" records no input shape (no InputLayer, build_input_shape or batch_input_shape)"
                                                 })
            var child = r.object
            child.outputShapes = r.outputs
            children.append((attribute, child))
            current = r.outputs?.first
            previous = layer.name
        }
        return (children, current.map { [$0] })
    }

    // MARK: - Functional graphs

    struct NodeKey: Hashable {
        var layer: Int
        var node: Int
    }

    private func buildFunctional(_ model: KerasModel, parent: KerasParent) throws
        -> (children: [(attribute: String, object: BuiltObject)], outputs: [KerasShape]?) {
        let layers = model.layers
        var index: [ByteName: Int] = [:]
        for (i, l) in layers.enumerated() { index[ByteName(l.name)] = i }
        let modelPlace = "Functional model \"\(CheckpointError.printable(model.name))\""
        // Calls of every layer; an InputLayer has one implicit call.
        let nodes: [[KerasNode]] = layers.map { l in
            l.className == "InputLayer" && l.inboundNodes.isEmpty ? [KerasNode(inputs: [])] : l.inboundNodes
        }

        func resolve(_ ref: KerasTensorReference, from place: String) throws -> NodeKey {
            guard let li = index[ByteName(ref.layer)] else {
                throw CheckpointError(.invalidArchitecture,
                                      "\(modelPlace): \(place) refers to a layer \"\(CheckpointError.printable(ref.layer))\" that the model does not have")
            }
            let count = nodes[li].count
            var n = ref.nodeIndex
            if layers[li].isModel && ref.countsBuiltInNode && n >= 1 { n -= 1 }
            if n >= count, ref.nodeIndex < count { n = ref.nodeIndex }
            guard n < count else {
                throw CheckpointError(.invalidArchitecture,
                                      "\(modelPlace): \(place) refers to call \(ref.nodeIndex) of layer \"\(CheckpointError.printable(ref.layer))\", which is called \(count) time(s)")
            }
            return NodeKey(layer: li, node: n)
        }

        // Resolve every reference once.
        var parents: [NodeKey: [(ref: KerasTensorReference, key: NodeKey)]] = [:]
        for (li, list) in nodes.enumerated() {
            for (ni, node) in list.enumerated() {
                let place = "call \(ni) of layer \"\(CheckpointError.printable(layers[li].name))\""
                parents[NodeKey(layer: li, node: ni)] = try node.inputs.map { ($0, try resolve($0, from: place)) }
            }
        }
        let outputKeys = try model.outputs.map { ($0, try resolve($0, from: "output_layers")) }
        let inputKeys = try model.inputs.map { ($0, try resolve($0, from: "input_layers")) }

        let order = try Self.mapGraph(outputs: outputKeys.map(\.1), inputs: inputKeys.map(\.1), parents: parents,
                                      isInput: { layers[$0.layer].className == "InputLayer" },
                                      name: { layers[$0].name }, modelPlace: modelPlace)

        // Evaluate calls like functional_from_config: layers in JSON order, each layer's calls in
        // order, repeating until every call whose inputs exist is done.
        var outputsOf: [NodeKey: [KerasShape]?] = [:]
        var built: [Int: BuildResult] = [:]
        var nextNode = Array(repeating: 0, count: layers.count)
        var progress = true
        while progress {
            progress = false
            for li in layers.indices {
                while nextNode[li] < nodes[li].count {
                    let key = NodeKey(layer: li, node: nextNode[li])
                    let refs = parents[key] ?? []
                    guard refs.allSatisfy({ outputsOf[$0.key] != nil }) else { break }
                    let layer = layers[li]
                    var tensors: [(argument: KerasTensorReference.Argument, shape: KerasShape)] = []
                    var missing: String? = nil
                    for (ref, pk) in refs {
                        var shape: KerasShape? = nil
                        if options.useRecordedShapes, let r = ref.recordedShape { shape = r }
                        if shape == nil, let produced = outputsOf[pk] ?? nil {
                            guard produced.indices.contains(ref.tensorIndex) else {
                                throw CheckpointError(.invalidArchitecture,
                                                      "\(modelPlace): call \(key.node) of layer \"\(CheckpointError.printable(layer.name))\" uses output \(ref.tensorIndex) of layer \"\(CheckpointError.printable(ref.layer))\", which has \(produced.count) output(s)")
                            }
                            shape = produced[ref.tensorIndex]
                        }
                        if shape == nil, let r = ref.recordedShape { shape = r }
                        if let shape {
                            tensors.append((ref.argument, shape))
                        } else if case .keyword(let k) = ref.argument, LayerInputs.isAuxiliaryKeyword(k) {
                            continue
                        } else if missing == nil {
                            missing = ref.layer
                        }
                    }
                    let node = nodes[li][key.node]
                    let inputs: LayerInputs? = missing == nil ? LayerInputs(tensors: tensors) : nil
                    if layer.isOperation {
                        // A keras.ops operation: no variables; elementwise ops broadcast their inputs.
                        let shapes = inputs.map { KerasLayerCatalog.operationOutput(layer.className, $0) } ?? nil
                        outputsOf[key] = .some(shapes)
                        if built[li] == nil {
                            built[li] = BuildResult(object: BuiltObject(objectName: layer.name, className: layer.className), outputs: shapes)
                        }
                    } else if layer.className == "InputLayer" {
                        let s = try Self.inputLayerShape(layer)
                        outputsOf[key] = .some([s])
                        if built[li] == nil {
                            built[li] = BuildResult(object: BuiltObject(objectName: layer.name, className: "InputLayer"), outputs: [s])
                        }
                    } else if let first = built[li] {
                        // A later call: same variables, outputs for these inputs.
                        if layer.isModel {
                            outputsOf[key] = .some(first.outputs)
                        } else if let inputs {
                            outputsOf[key] = .some((try? buildLayer(layer, inputs: inputs, node: node, parent: parent).outputs) ?? nil)
                        } else {
                            outputsOf[key] = .some(nil)
                        }
                    } else {
                        let missingLayer = missing
                        let r = try buildLayerReportingInput(layer, inputs: inputs, node: node, parent: parent, missingInputReason: {
                            "the output shape of layer \"\(CheckpointError.printable(missingLayer ?? "?"))\" cannot be computed and the JSON records no shape"
                        })
                        built[li] = r
                        outputsOf[key] = .some(r.outputs)
                    }
                    nextNode[li] += 1
                    progress = true
                }
            }
        }
        for li in layers.indices where nextNode[li] < nodes[li].count {
            let key = NodeKey(layer: li, node: nextNode[li])
            if order.contains(li) {
                let waiting = (parents[key] ?? []).first { outputsOf[$0.key] == nil }.map { layers[$0.key.layer].name } ?? "?"
                throw CheckpointError(.invalidArchitecture,
                                      "\(modelPlace): call \(key.node) of layer \"\(CheckpointError.printable(layers[li].name))\" waits for layer \"\(CheckpointError.printable(waiting))\", which is never computed (the graph has a loop or a disconnected node)")
            }
        }
        // model.layers: the graph's operations that are layers.
        let layerOrder = order.filter { !layers[$0].isOperation }
        let attributes = Self.layerAttributes(layerOrder.map { layers[$0] })
        var children: [(attribute: String, object: BuiltObject)] = []
        for (li, attribute) in zip(layerOrder, attributes) {
            guard let r = built[li] else {
                throw CheckpointError(.invalidArchitecture,
                                      "\(modelPlace): layer \"\(CheckpointError.printable(layers[li].name))\" is part of the graph but is never called")
            }
            var child = r.object
            child.outputShapes = r.outputs
            children.append((attribute, child))
        }
        var outs: [KerasShape] = []
        for (ref, key) in outputKeys {
            guard let produced = outputsOf[key] ?? nil, produced.indices.contains(ref.tensorIndex) else {
                return (children, nil)
            }
            outs.append(produced[ref.tensorIndex])
        }
        return (children, outs)
    }

    /// `map_graph`: the model's operations ordered by decreasing depth, ties by first DFS visit.
    static func mapGraph(outputs: [NodeKey], inputs: [NodeKey], parents: [NodeKey: [(ref: KerasTensorReference, key: NodeKey)]],
                         isInput: (NodeKey) -> Bool, name: (Int) -> String, modelPlace: String) throws -> [Int] {
        var finished = Set<NodeKey>()
        var inProgress = Set<NodeKey>()
        var nodesInDecreasingDepth: [NodeKey] = []
        var operationIndex: [Int: Int] = [:]
        // Iterative version of _build_map_helper.
        for out in outputs {
            if finished.contains(out) { continue }
            var stack: [(node: NodeKey, next: Int)] = []
            func enter(_ n: NodeKey) throws -> Bool {
                if finished.contains(n) { return false }
                if inProgress.contains(n) {
                    throw CheckpointError(.invalidArchitecture,
                                          "\(modelPlace): layer \"\(CheckpointError.printable(name(n.layer)))\" is part of a cycle")
                }
                if operationIndex[n.layer] == nil { operationIndex[n.layer] = operationIndex.count }
                inProgress.insert(n)
                return true
            }
            if try enter(out) { stack.append((out, 0)) }
            while let top = stack.last {
                let deps = isInput(top.node) ? [] : (parents[top.node] ?? [])
                if top.next < deps.count {
                    stack[stack.count - 1].next += 1
                    let d = deps[top.next].key
                    if try enter(d) { stack.append((d, 0)) }
                } else {
                    stack.removeLast()
                    inProgress.remove(top.node)
                    finished.insert(top.node)
                    nodesInDecreasingDepth.append(top.node)
                }
            }
        }
        let inGraph = Set(nodesInDecreasingDepth)
        var nodeDepth: [NodeKey: Int] = [:]
        var opDepth: [Int: Int] = [:]
        for node in nodesInDecreasingDepth.reversed() {
            var depth = nodeDepth[node] ?? 0
            nodeDepth[node] = depth
            depth = max(depth, opDepth[node.layer] ?? 0)
            opDepth[node.layer] = depth
            nodeDepth[node] = depth
            let deps = isInput(node) ? [] : (parents[node] ?? [])
            for d in deps where inGraph.contains(d.key) {
                nodeDepth[d.key] = max(depth + 1, nodeDepth[d.key] ?? 0)
            }
        }
        for input in inputs where opDepth[input.layer] == nil && isInput(input) {
            opDepth[input.layer] = 0
            operationIndex[input.layer] = -1
        }
        return opDepth.keys.sorted { a, b in
            let da = opDepth[a] ?? 0, db = opDepth[b] ?? 0
            if da != db { return da > db }
            return (operationIndex[a] ?? 0) < (operationIndex[b] ?? 0)
        }
    }

    // MARK: - Layers

    /// Whether Keras builds this layer on its own when deserializing it (its config carries the
    /// shapes it was built with), so that its variables are named outside any enclosing scope.
    func isStandalone(_ layer: KerasLayer) -> Bool {
        if dialect == .keras2 { return true }
        guard let b = layer.buildConfig else { return false }
        if let s = b["input_shape"], !s.isNull { return true }
        if let s = b["shapes_dict"], !s.isNull { return true }
        return false
    }

    /// Shapes from `build_config`.
    static func recordedInputs(_ layer: KerasLayer) throws -> LayerInputs? {
        guard let b = layer.buildConfig else { return nil }
        let what = "layer \"\(CheckpointError.printable(layer.name))\": build_config"
        if let s = b["input_shape"], !s.isNull {
            return LayerInputs(positional: try KerasShapes.parseShapes(s, what: what))
        }
        if let d = b["shapes_dict"], let members = d.objectValue {
            var tensors: [(argument: KerasTensorReference.Argument, shape: KerasShape)] = []
            for (k, v) in members where !v.isNull {
                let name = k.hasSuffix("_shape") ? String(k.dropLast("_shape".count)) : k
                tensors.append((.keyword(name), try KerasShapes.parseShape(v, what: what)))
            }
            return LayerInputs(tensors: tensors)
        }
        return nil
    }

    /// Builds a layer whose input may be unknown; turns "unknown input" into an unresolved layer
    /// (with `allowUnknownLayers`) or an error.
    func buildLayerReportingInput(_ layer: KerasLayer, inputs: LayerInputs?, node: KerasNode?, parent: KerasParent,
                                  missingInputReason: () -> String) throws -> BuildResult {
        var effective = inputs
        if options.useRecordedShapes || effective == nil, let recorded = try Self.recordedInputs(layer) {
            effective = recorded
        }
        if layer.className == "InputLayer" {
            let s = try Self.inputLayerShape(layer)
            return BuildResult(object: BuiltObject(objectName: layer.name, className: "InputLayer"), outputs: [s])
        }
        guard let effective else {
            if layer.isModel, let m = layer.nestedModel {
                return try buildModel(m, callInputs: nil, parent: parent, top: false)
            }
            if !KerasLayerCatalog.isKnown(KerasLayerCatalog.modelledClassName(layer)) {
                return try unknownLayer(layer, parent: parent)
            }
            if KerasLayerCatalog.isWeightless(layer.className) {
                // No variables to infer; the output shape stays unknown.
                var object = BuiltObject(objectName: layer.name, className: layer.className)
                let scope = parent.scope.joined(layer.name, standalone: isStandalone(layer))
                object.canonicalScope = scope.canonical
                object.scopedScope = scope.scoped
                return BuildResult(object: object, outputs: nil)
            }
            if options.allowUnknownLayers {
                var object = BuiltObject(objectName: layer.name, className: layer.className)
                let scope = parent.scope.joined(layer.name, standalone: isStandalone(layer))
                object.canonicalScope = scope.canonical
                object.scopedScope = scope.scoped
                object.unknownReason = .inputShapeUnknown
                return BuildResult(object: object, outputs: nil)
            }
            throw CheckpointError(.invalidArchitecture,
                                  "cannot determine the input shape of layer \"\(CheckpointError.printable(layer.name))\" (\(CheckpointError.printable(layer.className))): \(missingInputReason())",
                                  hint: "allow unknown layers to take the variables of such layers from the weights file as they are")
        }
        var r = try buildLayer(layer, inputs: effective, node: node, parent: parent)
        if let inputs, options.useRecordedShapes, !layer.isModel, !Self.sameShapes(inputs, effective) {
            // Outputs follow the call's inputs when they differ from the build shapes.
            if let o = try? buildLayer(layer, inputs: inputs, node: node, parent: parent).outputs { r.outputs = o }
        }
        return r
    }

    static func sameShapes(_ a: LayerInputs, _ b: LayerInputs) -> Bool {
        a.main == b.main
    }

    func unknownLayer(_ layer: KerasLayer, parent: KerasParent) throws -> BuildResult {
        guard options.allowUnknownLayers else {
            let custom = layer.registeredName.map { " (registered as \"\(CheckpointError.printable($0))\")" } ?? ""
            throw CheckpointError(.unknownLayer,
                                  "layer \"\(CheckpointError.printable(layer.name))\" is of class \(CheckpointError.printable(layer.className))\(custom), whose variables are not known",
                                  hint: "allow unknown layers to take that layer's variables from the weights file as they are")
        }
        var object = BuiltObject(objectName: layer.name, className: layer.className)
        let scope = parent.scope.joined(layer.name, standalone: isStandalone(layer))
        object.canonicalScope = scope.canonical
        object.scopedScope = scope.scoped
        object.unknownReason = .unknownClass
        return BuildResult(object: object, outputs: nil)
    }

    /// Builds one layer (any class) with known input shapes.
    func buildLayer(_ layer: KerasLayer, inputs: LayerInputs, node: KerasNode?, parent: KerasParent) throws -> BuildResult {
        if layer.isModel, let m = layer.nestedModel {
            return try buildModel(m, callInputs: inputs.main, parent: parent, top: false)
        }
        let className = KerasLayerCatalog.modelledClassName(layer)
        guard KerasLayerCatalog.isKnown(className) else {
            return try unknownLayer(layer, parent: parent)
        }
        let cfg = KerasConfig(name: layer.name, className: className, config: layer.config)
        for key in ["quantization_config", "quantization_mode"] {
            if cfg[key] != nil {
                throw CheckpointError(.unsupported, "\(cfg.place): quantized layers are not supported; their variables differ from the float layer's",
                                      hint: "save the model before quantizing it")
            }
        }
        if let r = cfg["lora_rank"], (r.intValue ?? 1) != 0 {
            throw CheckpointError(.unsupported, "\(cfg.place): LoRA-enabled layers (lora_rank) are not supported",
                                  hint: "merge the LoRA weights before saving")
        }
        let scope = parent.scope.joined(layer.name, standalone: isStandalone(layer), keras2Transparent: parent.keras2Transparent)
        var b = LayerBuild(engine: self, layer: layer, cfg: cfg, inputs: inputs, node: node, scope: scope,
                           trainable: parent.trainable && layer.trainable, policy: layer.dtypePolicy)
        try KerasLayerCatalog.build(className, &b)
        try KerasShapes.checkBounds(b.outputs, place: cfg.place)
        var object = BuiltObject(objectName: layer.name, className: className)
        object.canonicalScope = scope.canonical
        object.scopedScope = scope.scoped
        object.own = b.own
        object.children = b.children
        return BuildResult(object: object, outputs: b.outputs)
    }

    // MARK: - Flattening

    static func joinPath(_ parent: String, _ attribute: String) -> String {
        parent.isEmpty ? attribute : parent + "/" + attribute
    }

    /// Walks the built tree: variables in `model.weights` order with their H5 datasets, and the
    /// H5 groups in the saver's visiting order.
    static func flatten(_ object: BuiltObject, objectPath: String, layer: (name: String, className: String)?,
                        variables: inout [KerasVariable], groups: inout [KerasH5Group]) {
        flattenVariables(object, objectPath: objectPath, layer: layer, into: &variables)
        flattenGroups(object, objectPath: objectPath, into: &groups)
    }

    private static func flattenVariables(_ object: BuiltObject, objectPath: String, layer: (name: String, className: String)?,
                                         into variables: inout [KerasVariable]) {
        let groupPath = joinPath(objectPath, "vars")
        for (i, v) in object.ownInSaveOrder.enumerated() {
            variables.append(KerasVariable(index: variables.count, path: v.path, name: v.name, shape: v.shape, dtype: v.dtype,
                                           trainable: v.trainable, layer: layer?.name ?? object.objectName,
                                           layerClass: layer?.className ?? object.className,
                                           h5Path: groupPath + "/\(i)", keras2Name: v.keras2Name, scopedPath: v.scopedPath))
        }
        for child in object.children {
            let top = layer ?? (object.isModel && objectPath.isEmpty ? nil : (object.objectName, object.className))
            let childLayer = top ?? (child.object.objectName, child.object.className)
            flattenVariables(child.object, objectPath: joinPath(objectPath, child.attribute), layer: childLayer, into: &variables)
        }
    }

    /// `_name_key`: public attributes first, then `_`-prefixed ones, each sorted.
    static func attributeSortKey(_ a: String) -> String { a.hasPrefix("_") ? "~" + a : a }

    private static func flattenGroups(_ object: BuiltObject, objectPath: String, into groups: inout [KerasH5Group]) {
        groups.append(KerasH5Group(path: joinPath(objectPath, "vars"), objectName: object.objectName,
                                   datasetCount: object.unknownReason == nil ? object.own.count : nil))
        guard object.unknownReason == nil else { return }
        // Attributes in `_name_key` order; a list attribute (`cells/...`) keeps its list order.
        let ordered = object.isModel ? object.children
            : object.children.enumerated().sorted { a, b in
                let ka = attributeSortKey(String(a.element.attribute.split(separator: "/").first ?? ""))
                let kb = attributeSortKey(String(b.element.attribute.split(separator: "/").first ?? ""))
                return ka != kb ? ka < kb : a.offset < b.offset
            }.map(\.element)
        for child in ordered {
            flattenGroups(child.object, objectPath: joinPath(objectPath, child.attribute), into: &groups)
        }
    }

    static func collectUnknown(_ object: BuiltObject, objectPath: String, into out: inout [KerasUnknownLayer]) {
        if let reason = object.unknownReason {
            var prefixes: [String] = []
            for s in [object.canonicalScope, object.scopedScope] where !s.isEmpty {
                let p = s.joined(separator: "/") + "/"
                if !prefixes.contains(p) { prefixes.append(p) }
            }
            out.append(KerasUnknownLayer(name: object.objectName, className: object.className, reason: reason,
                                         h5Group: objectPath, pathPrefixes: prefixes))
            return
        }
        for child in object.children {
            collectUnknown(child.object, objectPath: joinPath(objectPath, child.attribute), into: &out)
        }
    }
}

/// The state of one layer's `build()`: what it reads and what it creates.
struct LayerBuild {
    let engine: KerasModelEngine
    let layer: KerasLayer
    let cfg: KerasConfig
    let inputs: LayerInputs
    let node: KerasNode?
    let scope: KerasScope
    /// Effective trainability.
    let trainable: Bool
    let policy: KerasDTypePolicy
    var own: [BuiltVariable] = []
    var children: [(attribute: String, object: BuiltObject)] = []
    var outputs: [KerasShape]? = nil
    /// Keras 2 spells some variable names differently (`depthwise_kernel` for Keras 3's `kernel`).
    var keras2Renames: [String: String] = [:]

    init(engine: KerasModelEngine, layer: KerasLayer, cfg: KerasConfig, inputs: LayerInputs, node: KerasNode?,
         scope: KerasScope, trainable: Bool, policy: KerasDTypePolicy) {
        self.engine = engine
        self.layer = layer
        self.cfg = cfg
        self.inputs = inputs
        self.node = node
        self.scope = scope
        self.trainable = trainable
        self.policy = policy
    }

    var backend: KerasBackend { engine.options.backend }

    /// The main input shape (the first input).
    func input() throws -> KerasShape {
        guard let s = inputs.first else { throw cfg.error("the layer has no input") }
        return s
    }

    /// A dimension of a shape that must be known; Python indexing (negative from the end).
    func dim(_ shape: KerasShape, _ axis: Int, _ what: String) throws -> Int {
        guard let a = KerasShapes.axis(axis, rank: shape.count) else {
            throw cfg.error("axis \(axis) is out of range for the \(what) shape \(KerasShapes.describe(shape))")
        }
        guard let d = shape[a] else {
            throw cfg.error("dimension \(axis) of the \(what) shape \(KerasShapes.describe(shape)) is undefined, but the layer's variables depend on it")
        }
        return d
    }

    /// `add_weight`: a variable of this object.
    mutating func addWeight(_ name: String, _ shape: KerasShape, dtype: DType? = nil, trainable createdTrainable: Bool = true) throws {
        var concrete: [Int] = []
        for d in shape {
            guard let d else {
                throw cfg.error("variable \"\(name)\" would have the undefined shape \(KerasShapes.describe(shape)); an input dimension it depends on is unknown")
            }
            guard d >= 0 else { throw cfg.error("variable \"\(name)\" would have the negative shape \(KerasShapes.describe(shape))") }
            concrete.append(d)
        }
        guard TensorInfo.elementCount(concrete) != nil else {
            throw cfg.error("variable \"\(name)\" would have the shape \(KerasShapes.describe(shape)), whose size overflows")
        }
        let keras2Var = keras2Renames[name] ?? name
        own.append(BuiltVariable(name: name,
                                 path: (scope.canonical + [name]).joined(separator: "/"),
                                 scopedPath: (scope.scoped + [name]).joined(separator: "/"),
                                 keras2Name: (scope.keras2 + [keras2Var]).joined(separator: "/") + ":0",
                                 shape: concrete, dtype: dtype ?? policy.variableDType,
                                 createdTrainable: createdTrainable, trainable: createdTrainable && trainable))
    }

    /// A sub-object created in `build()` (an RNN cell, an attention projection): always named
    /// inside this layer's scope.
    mutating func addSubLayer(attribute: String, name: String, className: String,
                              _ body: (inout LayerBuild) throws -> Void) throws {
        let sub = KerasLayer(className: className, name: name, module: nil, registeredName: nil, config: .object([]),
                             trainable: true, dtypePolicy: policy, buildConfig: nil, inboundNodes: [], json: .null,
                             nestedBox: nil)
        var b = LayerBuild(engine: engine, layer: sub, cfg: KerasConfig(name: name, className: className, config: .object([])),
                           inputs: inputs, node: nil, scope: scope.joined(name, standalone: false),
                           trainable: trainable, policy: policy)
        b.keras2Renames = keras2Renames
        try body(&b)
        var object = BuiltObject(objectName: name, className: className)
        object.canonicalScope = b.scope.canonical
        object.scopedScope = b.scope.scoped
        object.own = b.own
        object.children = b.children
        children.append((attribute, object))
    }

    /// A weightless sub-object the saver still visits (MultiHeadAttention's `_softmax`).
    mutating func addEmptySubObject(attribute: String, name: String, className: String) {
        children.append((attribute, BuiltObject(objectName: name, className: className)))
    }

    /// A wrapped layer deserialized from this layer's config (Bidirectional, TimeDistributed).
    mutating func addWrapped(_ inner: KerasLayer, attribute: String, inputs: LayerInputs,
                             keras2Transparent: Bool = false) throws -> [KerasShape]? {
        let parent = KerasParent(scope: scope, trainable: trainable, keras2Transparent: keras2Transparent)
        let r = try engine.buildLayerReportingInput(inner, inputs: inputs, node: nil, parent: parent,
                                                    missingInputReason: { "the wrapper's input shape is unknown" })
        children.append((attribute, r.object))
        return r.outputs
    }

    /// Parses a layer config nested in this one (`config.layer`).
    func nestedLayer(_ key: String) throws -> KerasLayer? {
        guard let v = cfg[key] else { return nil }
        var parser = KerasArchitectureParser(dialect: engine.dialect)
        return try parser.parseLayer(v, inheritedPolicy: policy, context: "\"\(key)\" of \(cfg.place)")
    }
}
