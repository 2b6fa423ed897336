// The object graph a written TensorFlow checkpoint carries, laid out as tf.keras (≥ 2.11) lays out
// a Sequential or Functional model's `save_weights`, so that `model.load_weights(prefix)` restores
// it (TensorFlow matches checkpoint objects to Python objects by these paths):
//
//   root ─ layer_with_weights-<i> ─ [<sub-layer attribute>/...] <weight name>   (the variables)
//        └ optimizer ─ _iterations, _learning_rate, _variables/<j>, <slot list>/<k>
//
// `i` counts the model's layers that have weights, in `model.layers` order; the variables under a
// layer are named as tf.keras's `add_weight` named them (the last part of the Keras 2 name:
// `kernel`, `depthwise_kernel`), below the attributes of sub-layers (`cell` of an RNN,
// `forward_layer` of a Bidirectional). `_variables` lists the step and then the slots in
// `optimizer.variables()` order; each slot list (`_momentums`, `_velocities`, `momentums` for SGD)
// holds one slot per trainable variable. Slots are named `<Optimizer>/<slot>/<weight>` with
// tf.keras's slot names (`m`, `v`, `velocity`...).
//
// The layout comes from the architecture (the checkpoint's, or the one given); without one, each
// weight `a/b/c` goes under the layer `a` as the path `b/c`, which tf.keras matches for layers
// without sub-layers (a note says so).

struct TFWritePlan {
    struct Item {
        /// Index into the source's tensors.
        var tensor: Int
        var key: String
        var fullName: String
    }
    var items: [Item]
    var graph: TFObjectGraph
    var notes: [String]
}

enum TFObjectGraphBuilder {
    static func plan(_ index: CheckpointIndex, architecture: [UInt8]?) throws -> TFWritePlan {
        var notes: [String] = []
        var model: KerasModelVariables?
        if let architecture {
            do {
                model = try KerasArchitecture(bytes: architecture).variables(options: KerasInferenceOptions(allowUnknownLayers: true, useRecordedShapes: true))
            } catch let e as CheckpointError {
                notes.append("the architecture could not be interpreted (\(e.reason)); object paths are derived from the tensor names")
            }
        } else {
            notes.append("without an architecture, object paths are derived from the tensor names (layer/weight); tf.keras load_weights matches them for layers without sub-layers")
        }
        var b = GraphBuilder()
        var items: [TFWritePlan.Item] = []
        var layerSlots: [String: Int] = [:]
        var weightKey: [String: String] = [:]
        var weightNode: [String: Int] = [:]
        var keras2Name: [String: String] = [:]
        // Inside a nested model (a Sequential used as a layer), tf.keras tracks the inner layers
        // that have weights as `layer_with_weights-<n>` of that model, in its layers' order.
        var nestedSlots: [String: [String: Int]] = [:]
        func tfPath(_ comps: [String]) -> [String] {
            var out: [String] = []
            var prefix = ""
            var k = 0
            while k < comps.count {
                if comps[k] == "layers" && k + 1 < comps.count {
                    let key = prefix + "/" + comps[k + 1]
                    let slots = nestedSlots[prefix, default: [:]]
                    let n = slots[comps[k + 1]] ?? slots.count
                    nestedSlots[prefix, default: [:]][comps[k + 1]] = n
                    out.append("layer_with_weights-\(n)")
                    prefix = key
                    k += 2
                } else {
                    out.append(comps[k])
                    prefix += "/" + comps[k]
                    k += 1
                }
            }
            return out
        }

        // Weights.
        for (i, t) in index.tensors.enumerated() where t.role == .weight {
            var layer = TensorInfo.firstComponent(t.name)
            var path: [String] = []
            var full = t.name
            if let v = model?.variable(named: t.name) {
                layer = v.layer
                let comps = v.h5Path.split(separator: "/").map(String.init)
                if comps.count >= 4 && comps[0] == "layers" { path = tfPath(Array(comps[2..<(comps.count - 2)])) }
                full = KerasNames.stripTensorSuffix(v.keras2Name)
                path.append(String(full.split(separator: "/").last ?? Substring(v.name)))
            } else {
                path = Array(t.name.split(separator: "/").dropFirst().map(String.init))
                if path.isEmpty { path = [t.name] }
            }
            let slot: Int
            if let s = layerSlots[layer] {
                slot = s
            } else {
                slot = layerSlots.count
                layerSlots[layer] = slot
            }
            let objectPath = ["layer_with_weights-\(slot)"] + path
            let key = objectPath.joined(separator: "/") + TFNaming.valueSuffix
            let node = b.variable(at: objectPath, fullName: full, key: key)
            items.append(.init(tensor: i, key: key, fullName: full))
            weightKey[t.name] = key
            weightNode[t.name] = node
            keras2Name[t.name] = full
        }

        // The optimizer, as tf.keras >= 2.11 saves it.
        let optimizerTensors = index.tensors.indices.filter { index.tensors[$0].role == .optimizer }
        if !optimizerTensors.isEmpty {
            let kind = index.optimizer.flatMap { KerasOptimizerKind(className: $0.className) }
            let optName = kind?.className ?? index.optimizer?.className ?? "optimizer"
            var trainable: [String: Int] = [:]
            for t in index.tensors where t.role == .weight && t.trainable && trainable[t.name] == nil { trainable[t.name] = trainable.count }
            var nextVariable = 1
            var slotLists: [String: [(Int, Int)]] = [:]
            var left: [String] = []
            for i in optimizerTensors {
                let t = index.tensors[i]
                if t.name == ContainerSpec.iterationTensor {
                    let key = "optimizer/_iterations" + TFNaming.valueSuffix
                    let node = b.variable(at: ["optimizer", "_iterations"], fullName: "iteration", key: key)
                    b.link(b.node(at: ["optimizer", "_variables"]), "0", node)
                    items.append(.init(tensor: i, key: key, fullName: "iteration"))
                } else if t.name == ContainerSpec.learningRateTensor {
                    let key = "optimizer/_learning_rate" + TFNaming.valueSuffix
                    _ = b.variable(at: ["optimizer", "_learning_rate"], fullName: "learning_rate", key: key)
                    items.append(.init(tensor: i, key: key, fullName: "learning_rate"))
                } else if let slot = t.slot, let owner = t.weight, let k = trainable[owner], weightKey[owner] != nil {
                    let tfSlot = keras2Slot(slot, kind: kind)
                    let j = nextVariable
                    nextVariable += 1
                    let key = "optimizer/_variables/\(j)" + TFNaming.valueSuffix
                    let full = "\(optName)/\(tfSlot)/\(keras2Name[owner] ?? owner)"
                    let node = b.variable(at: ["optimizer", "_variables", "\(j)"], fullName: full, key: key)
                    slotLists[slotListAttribute(slot, kind: kind), default: []].append((k, node))
                    items.append(.init(tensor: i, key: key, fullName: full))
                } else {
                    // Other optimizer state keeps its name under the optimizer.
                    let rest = t.name.hasPrefix(ContainerSpec.optimizerPrefix) ? String(t.name.dropFirst(ContainerSpec.optimizerPrefix.count)) : t.name
                    var path = ["optimizer"] + rest.split(separator: "/").map(String.init)
                    // tf.keras keeps Nadam's running product as the attribute `_u_product`.
                    if path.count == 2 && path[1] == "u_product" && kind == .nadam { path[1] = "_u_product" }
                    let key = path.joined(separator: "/") + TFNaming.valueSuffix
                    _ = b.variable(at: path, fullName: t.name, key: key)
                    items.append(.init(tensor: i, key: key, fullName: t.name))
                    if path[1] != "_u_product" { left.append(t.name) }
                }
            }
            for (attr, slots) in slotLists.sorted(by: { $0.key < $1.key }) {
                let list = b.node(at: ["optimizer", attr])
                for (k, node) in slots.sorted(by: { $0.0 < $1.0 }) { b.link(list, "\(k)", node) }
            }
            // tf.keras keeps the step only as optimizer/_iterations, and the optimizer's class only
            // through its slot variables' names: say when either cannot be written.
            if let o = index.optimizer {
                let hasStep = optimizerTensors.contains { index.tensors[$0].name == ContainerSpec.iterationTensor }
                if !hasStep || slotLists.isEmpty {
                    let lost = [slotLists.isEmpty ? "class (\(o.className))" : nil, hasStep ? nil : "step (\(o.iterations))"].compactMap { $0 }
                    notes.append("the optimizer's \(lost.joined(separator: " and ")) \(lost.count == 1 ? "was" : "were") left out: a TensorFlow checkpoint holds the step only as an optimizer/iteration tensor and the class only through slot variables matched to weights, which the source does not give")
                }
            }
            if !left.isEmpty {
                notes.append("\(left.count) optimizer variable\(left.count == 1 ? "" : "s") (\(left.prefix(3).joined(separator: ", "))\(left.count > 3 ? ", …" : "")) tf.keras would not restore: written under their own names")
            }
        }
        items.sort { $0.key.utf8.lexicographicallyPrecedes($1.key.utf8) }
        for k in 1..<max(items.count, 1) where items[k].key == items[k - 1].key {
            throw CheckpointError(.duplicateName, "two tensors would be saved under the key \"\(escapeForDisplay(items[k].key))\"",
                                  member: index.tensors[items[k].tensor].name)
        }
        return TFWritePlan(items: items, graph: b.graph, notes: notes)
    }

    /// tf.keras's name of a Keras 3 slot.
    static func keras2Slot(_ slot: String, kind: KerasOptimizerKind?) -> String {
        switch (slot, kind) {
        case ("momentum", .rmsprop?): return "momentum"
        case ("momentum", _): return "m"
        case ("velocity", .rmsprop?): return "velocity"
        case ("velocity", .adafactor?): return "v"
        case ("velocity", _): return "v"
        case ("velocity_hat", _): return "vhat"
        case ("norm", _): return "u"
        default: return slot
        }
    }

    /// The optimizer attribute holding a slot list in tf.keras (`momentums` for SGD).
    static func slotListAttribute(_ slot: String, kind: KerasOptimizerKind?) -> String {
        switch (slot, kind) {
        case ("momentum", .sgd?): return "momentums"
        case ("momentum", .adamax?): return "_m"
        case ("norm", _): return "_u"
        case ("r", _): return "_r"
        case ("c", _): return "_c"
        case ("velocity", .adafactor?): return "_v"
        case ("momentum", _): return "_momentums"
        case ("velocity", _): return "_velocities"
        case ("velocity_hat", _): return "_velocity_hats"
        default: return "_" + slot + "s"
        }
    }

    /// Builds nodes by path.
    struct GraphBuilder {
        var graph = TFObjectGraph(nodes: [TFObjectGraph.Node()])
        var children: [[String: Int]] = [[:]]

        init() { graph.nodes[0].hasCheckpointValues = true }

        mutating func link(_ parent: Int, _ name: String, _ child: Int) {
            guard children[parent][name] == nil else { return }
            children[parent][name] = child
            graph.nodes[parent].children.append(.init(nodeID: child, localName: name))
        }

        mutating func node(at path: [String]) -> Int {
            var n = 0
            for name in path {
                if let c = children[n][name] {
                    n = c
                } else {
                    var node = TFObjectGraph.Node()
                    node.hasCheckpointValues = true
                    graph.nodes.append(node)
                    children.append([:])
                    let c = graph.nodes.count - 1
                    link(n, name, c)
                    n = c
                }
            }
            return n
        }

        mutating func variable(at path: [String], fullName: String, key: String) -> Int {
            let n = node(at: path)
            graph.nodes[n].attributes = [.init(name: "VARIABLE_VALUE", fullName: fullName, checkpointKey: key)]
            return n
        }
    }
}
