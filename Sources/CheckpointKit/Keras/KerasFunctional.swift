// Functional graphs: calls evaluated the way `functional_from_config` does, layers ordered like
// `keras/src/ops/function.py` `map_graph`.

extension KerasModelEngine {
    struct NodeKey: Hashable {
        var layer: Int
        var node: Int
    }

    func buildFunctional(_ model: KerasModel, parent: KerasParent) throws
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
}
