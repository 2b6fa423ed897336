// What each key of a TensorFlow checkpoint is, and the name it gets in the toolkit.
//
// With an object graph (`_CHECKPOINTABLE_OBJECT_GRAPH`, every TF2 / tf.keras checkpoint), keys are
// object paths (`layer_with_weights-0/kernel/.ATTRIBUTES/VARIABLE_VALUE`) and the graph says:
// - which node holds each key (its `attributes`), with the variable's `full_name` (`dense/kernel`,
//   the tf.keras weight name without `:0`, which is the Keras name);
// - the optimizer: the root's child `optimizer`. Its child `_iterations` (tf.keras ≥ 2.11) or
//   `iter` (older optimizers) is the step; its other direct variables are hyperparameters
//   (`_learning_rate`, `beta_1`, `decay`); slots are listed in `slot_variables` (older optimizers:
//   original variable, slot name, slot variable) or, for tf.keras ≥ 2.11, are variables whose
//   `full_name` is `<optimizer name>/<slot>/<weight full name>` (`Adam/m/dense/kernel`);
// - compiled metrics (`keras_api/metrics/<i>/...`, in SavedModels): not model weights.
// Tensors are named like the Keras 3 files: weights by their Keras name, slots
// `optimizer/<Keras 3 slot>/<weight>` (m → momentum, v → velocity, ...), the step
// `optimizer/iteration`, hyperparameters `optimizer/<name>`.
//
// Without an object graph (TF1 `tf.compat.v1.train.Saver`), the keys are the variable names and
// stay the tensor names; `global_step` is the step, `<var>/<Optimizer>[_N]` (a key that extends
// another key with a capitalised component: `w/Adam`, `w/Adam_1`, `w/Momentum`) is a slot of
// `<var>`, `beta1_power`/`beta2_power` are optimizer accumulators, and the `.meta` file's
// `trainable_variables` collection, when present, gives the trainable flags.

/// What one key of a bundle is.
public struct TFKeyRole: Sendable, Equatable {
    public enum Kind: String, Sendable {
        case weight, slot, step, other
    }

    public var kind: Kind
    /// For `other`: `object_graph`, `string`, `optimizer_hyperparameter`, `optimizer_state`,
    /// `metric_state`, `optimizer_accumulator`, `non_trainable_variable`.
    public var detail: String?
    /// The variable's `full_name` in the object graph.
    public var fullName: String?
    /// The object graph node holding the key.
    public var node: Int?
    /// Weights: the Keras name (`dense/kernel`); others: nil.
    public var kerasName: String?
    public var trainable: Bool?
    /// Slots: the slot as the checkpoint names it (`m`, `velocity`, `Adam_1`), its Keras 3 name
    /// (`momentum`), the owner's Keras name and key.
    public var slot: String?
    public var keras3Slot: String?
    public var owner: String?
    public var ownerKey: String?
    /// Hyperparameters: `learning_rate`, `beta_1`...
    public var hyperparameter: String?

    public init(kind: Kind, detail: String? = nil) {
        self.kind = kind
        self.detail = detail
    }
}

/// One key of the bundle with its role and, when it is a tensor, its toolkit name.
public struct TFKey: Sendable {
    public var key: String
    public var entry: TFBundleEntry
    public var role: TFKeyRole
    /// The tensor's name in ``CheckpointIndex/tensors``; nil for keys that are not tensors.
    public var tensorName: String?
}

/// The result of naming: keys classified, and what the optimizer is.
struct TFNamingResult {
    var keys: [TFKey]
    /// The optimizer's name as its variables spell it (`Adam`), if any.
    var optimizerName: String?
    /// The optimizer class, when it could be told.
    var optimizerKind: KerasOptimizerKind?
    var isLegacyOptimizer = false
    var notes: [String] = []
}

enum TFNaming {
    static let objectGraphKey = "_CHECKPOINTABLE_OBJECT_GRAPH"
    static let valueSuffix = "/.ATTRIBUTES/VARIABLE_VALUE"

    /// An object path without the attribute suffix.
    static func objectPath(_ key: String) -> String {
        key.hasSuffix(valueSuffix) ? String(key.dropLast(valueSuffix.count)) : key
    }

    // MARK: With an object graph

    static func classify(bundle: TFBundle, graph: TFObjectGraph, model: KerasModelVariables?, trainingOptimizer: KerasOptimizerKind?) -> TFNamingResult {
        var result = TFNamingResult(keys: [])
        var nodeOfKey: [String: Int] = [:]
        var fullNameOfNode: [Int: String] = [:]
        for (i, n) in graph.nodes.enumerated() {
            for a in n.attributes where a.name == "VARIABLE_VALUE" || nodeOfKey[a.checkpointKey] == nil {
                nodeOfKey[a.checkpointKey] = i
                fullNameOfNode[i] = a.fullName
            }
        }
        let root = graph.nodes.first ?? TFObjectGraph.Node()
        let optimizerNode = root.children.first { $0.localName == "optimizer" }?.nodeID
        let underOptimizer = optimizerNode.map { reachable(graph, from: $0) } ?? []
        var metricNodes = Set<Int>()
        if let api = root.children.first(where: { $0.localName == "keras_api" })?.nodeID,
           let metrics = graph.nodes[api].children.first(where: { $0.localName == "metrics" })?.nodeID {
            metricNodes = reachable(graph, from: metrics)
        }
        let order = preorder(graph)

        // The optimizer's direct variables and slots.
        var stepNode: Int?
        var hyper: [Int: String] = [:]
        var slotOf: [Int: (slot: String, owner: Int)] = [:]
        if let o = optimizerNode {
            for c in graph.nodes[o].children where !graph.nodes[c.nodeID].attributes.isEmpty {
                switch c.localName {
                case "_iterations", "iter", "iterations": stepNode = c.nodeID
                default:
                    // Hyperparameters are configuration; other direct variables (Nadam's
                    // `_u_product`, a legacy Nadam's `momentum_cache`) are optimizer state.
                    let name = c.localName.hasPrefix("_") ? String(c.localName.dropFirst()) : c.localName
                    if hyper[c.nodeID] == nil && c.localName != "_variables" && hyperparameterNames.contains(name) {
                        hyper[c.nodeID] = name
                    }
                }
            }
            for s in graph.nodes[o].slotVariables {
                slotOf[s.slotNodeID] = (s.slotName, s.originalNodeID)
                result.isLegacyOptimizer = true
            }
            if graph.nodes[o].children.contains(where: { $0.localName == "iter" }) { result.isLegacyOptimizer = true }
        }
        // Weights: variables outside the optimizer and the metrics.
        var weightNodes: [Int] = []
        var nodeOfFullName: [String: Int] = [:]
        for n in order where fullNameOfNode[n] != nil && !underOptimizer.contains(n) && !metricNodes.contains(n) {
            weightNodes.append(n)
            if let f = fullNameOfNode[n], nodeOfFullName[f] == nil { nodeOfFullName[f] = n }
        }
        // tf.keras >= 2.11 slots: `<optimizer>/<slot>/<weight full name>`; inside a
        // LossScaleOptimizer (mixed precision) `<slot>/<weight full name>`.
        for n in underOptimizer where slotOf[n] == nil && n != stepNode && hyper[n] == nil {
            guard let f = fullNameOfNode[n] else { continue }
            let parts = f.split(separator: "/", maxSplits: 2, omittingEmptySubsequences: false)
            if parts.count == 3, let owner = nodeOfFullName[String(parts[2])] {
                slotOf[n] = (String(parts[1]), owner)
                if result.optimizerName == nil { result.optimizerName = String(parts[0]) }
            } else if parts.count >= 2, let slash = f.firstIndex(of: "/"), let owner = nodeOfFullName[String(f[f.index(after: slash)...])] {
                slotOf[n] = (String(f[..<slash]), owner)
            }
        }
        if result.optimizerName == nil, let s = stepNode, let f = fullNameOfNode[s], let slash = f.firstIndex(of: "/") {
            result.optimizerName = String(f[..<slash]) // legacy: Adam/iter
        }
        if result.optimizerName == nil, let s = slotOf.keys.first, let f = fullNameOfNode[s], let slash = f.firstIndex(of: "/") {
            result.optimizerName = String(f[..<slash]) // legacy: Adam/dense/kernel/m
        }
        result.optimizerKind = trainingOptimizer ?? result.optimizerName.flatMap { KerasOptimizerKind(className: $0) }
            ?? guessKind(Set(slotOf.values.map(\.slot)), legacy: result.isLegacyOptimizer)
        let hasSlots = !slotOf.isEmpty
        let ownersWithSlots = Set(slotOf.values.map(\.owner))

        // Weight names and trainable flags.
        var weightName: [Int: String] = [:]
        var weightKey: [Int: String] = [:]
        var trainableOf: [Int: Bool] = [:]
        var fullNameCount: [String: Int] = [:]
        for n in weightNodes { fullNameCount[fullNameOfNode[n] ?? "", default: 0] += 1 }
        for n in weightNodes {
            let full = fullNameOfNode[n] ?? ""
            if let model, let v = model.variable(named: full + ":0") ?? model.variable(named: full) {
                weightName[n] = v.path
                trainableOf[n] = v.trainable
            } else {
                // Variables made without a name (`tf.Variable(0)`) are all "Variable" in eager
                // TensorFlow: their object path (`step`, `v0`) is what tells them apart.
                let key = graph.nodes[n].attributes.first { $0.name == "VARIABLE_VALUE" }?.checkpointKey
                weightName[n] = (fullNameCount[full, default: 0] > 1 || isDefaultVariableName(full)) && key != nil ? objectPath(key ?? full) : full
                trainableOf[n] = hasSlots ? ownersWithSlots.contains(n) : !isNonTrainableByName(full)
            }
        }
        for (k, n) in nodeOfKey where weightName[n] != nil { weightKey[n] = k }

        for e in bundle.entries {
            var role = TFKeyRole(kind: .other)
            var name: String?
            if e.key == objectGraphKey {
                role.detail = "object_graph"
            } else if e.proto.dtype.dtype == nil {
                role.detail = e.proto.dtype == .string ? "string" : "unsupported_dtype"
                role.node = nodeOfKey[e.key]
            } else if let n = nodeOfKey[e.key] {
                role.node = n
                role.fullName = fullNameOfNode[n]
                if let w = weightName[n] {
                    role.kind = .weight
                    role.kerasName = w
                    role.trainable = trainableOf[n]
                    name = w
                } else if n == stepNode {
                    role.kind = .step
                    name = ContainerSpec.iterationTensor
                } else if let s = slotOf[n] {
                    role.kind = .slot
                    role.slot = s.slot
                    let k3 = result.optimizerKind.map { KerasLegacyReader.keras3Slots(s.slot, kind: $0).first ?? s.slot } ?? s.slot
                    role.keras3Slot = k3
                    role.owner = weightName[s.owner] ?? fullNameOfNode[s.owner]
                    role.ownerKey = weightKey[s.owner]
                    name = role.owner.map { ContainerSpec.slotTensorName(slot: k3, weight: $0) }
                } else if let h = hyper[n] {
                    role.detail = "optimizer_hyperparameter"
                    role.hyperparameter = h
                    // The learning rate is a variable in Keras 3 too; older optimizers' beta_1,
                    // decay... are configuration (TFOptimizerInfo.swift reads them into it).
                    name = h == "learning_rate" ? ContainerSpec.learningRateTensor : nil
                } else if metricNodes.contains(n) {
                    role.detail = "metric_state"
                } else if underOptimizer.contains(n) {
                    role.detail = "optimizer_state"
                    let path = objectPath(e.key)
                    let rest = path.hasPrefix("optimizer/") ? String(path.dropFirst("optimizer/".count)) : path
                    name = ContainerSpec.optimizerPrefix + (rest.hasPrefix("_") ? String(rest.dropFirst()) : rest)
                } else {
                    role.detail = "unreferenced"
                    name = objectPath(e.key)
                }
            } else {
                // A key the object graph does not list: keep it under its path.
                role.detail = "not_in_object_graph"
                name = objectPath(e.key)
            }
            result.keys.append(TFKey(key: e.key, entry: e.proto, role: role, tensorName: name))
        }
        orderKeys(&result, weightOrder: weightNodes, model: model)
        return result
    }

    /// Nodes reachable from `start` through `children` (`start` included).
    static func reachable(_ graph: TFObjectGraph, from start: Int) -> Set<Int> {
        var seen: Set<Int> = [start]
        var stack = [start]
        while let n = stack.popLast() {
            for c in graph.nodes[n].children where seen.insert(c.nodeID).inserted { stack.append(c.nodeID) }
        }
        return seen
    }

    /// Nodes in depth-first preorder from the root, following children in order.
    static func preorder(_ graph: TFObjectGraph) -> [Int] {
        guard !graph.nodes.isEmpty else { return [] }
        var seen: Set<Int> = [0]
        var out: [Int] = []
        var stack = [0]
        while let n = stack.popLast() {
            out.append(n)
            for c in graph.nodes[n].children.reversed() where !seen.contains(c.nodeID) { stack.append(c.nodeID) }
            for c in graph.nodes[n].children { seen.insert(c.nodeID) }
        }
        return out
    }

    /// The optimizer variables that are hyperparameters (read into its configuration), as
    /// tf.keras's optimizers name them.
    static let hyperparameterNames: Set<String> = [
        "learning_rate", "lr", "decay", "beta_1", "beta_2", "epsilon", "rho", "momentum", "initial_accumulator_value",
        "learning_rate_power", "l1_regularization_strength", "l2_regularization_strength", "l2_shrinkage_regularization_strength",
        "beta", "weight_decay", "clipnorm", "clipvalue", "global_clipnorm",
    ]

    /// TensorFlow's name for a variable made without one: `Variable`, `Variable_3`.
    static func isDefaultVariableName(_ name: String) -> Bool {
        guard name.hasPrefix("Variable") else { return false }
        let rest = name.dropFirst("Variable".count)
        return rest.isEmpty || rest.first == "_" && rest.count > 1 && rest.dropFirst().allSatisfy { $0.isASCII && $0.isNumber }
    }

    static func isNonTrainableByName(_ name: String) -> Bool {
        let last = name.split(separator: "/").last.map(String.init) ?? name
        return last.hasPrefix("moving_") || last == "count" || last == "seed_generator_state"
    }

    /// The optimizer class a set of Keras 2 slot names implies, when only one does.
    static func guessKind(_ slots: Set<String>, legacy: Bool) -> KerasOptimizerKind? {
        if slots.isEmpty { return nil }
        if slots.isSubset(of: ["m", "v", "vhat"]) && slots.contains("v") { return .adam }
        if slots == ["m", "u"] { return .adamax }
        if slots == ["m"] || slots == ["momentum"] { return .sgd }
        if slots.contains("rms") || slots.contains("velocity") && !slots.contains("m") { return .rmsprop }
        if slots == ["accumulator"] { return .adagrad }
        if slots == ["accumulator", "linear"] { return .ftrl }
        if slots.isSubset(of: ["accum_grad", "accum_var", "accumulated_grad", "accumulated_delta_var"]) { return .adadelta }
        return nil
    }

    /// Tensors in the model's order (weights in `model.weights` order, then the step, the learning
    /// rate, slots by owner and slot, other optimizer state); keys that are not tensors last.
    static func orderKeys(_ result: inout TFNamingResult, weightOrder: [Int], model: KerasModelVariables?) {
        var weightRank: [String: Int] = [:]
        if let model { for (i, v) in model.variables.enumerated() { weightRank[v.path] = i } }
        var weightKeyOfNode: [Int: String] = [:]
        for k in result.keys where k.role.kind == .weight {
            if let n = k.role.node, let name = k.tensorName, weightKeyOfNode[n] == nil { weightKeyOfNode[n] = name }
        }
        for (i, n) in weightOrder.enumerated() {
            if let name = weightKeyOfNode[n], weightRank[name] == nil { weightRank[name] = (model?.variables.count ?? 0) + i }
        }
        var slotRank: [String: Int] = [:]
        for k in result.keys where k.role.kind == .slot {
            if let s = k.role.keras3Slot, slotRank[s] == nil { slotRank[s] = slotRank.count }
        }
        func rank(_ k: TFKey) -> (Int, Int, Int, String) {
            guard let name = k.tensorName else { return (9, 0, 0, k.key) }
            switch k.role.kind {
            case .weight: return (0, weightRank[name] ?? Int.max, 0, name)
            case .step: return (1, 0, 0, name)
            case .slot: return (3, weightRank[k.role.owner ?? ""] ?? Int.max, slotRank[k.role.keras3Slot ?? ""] ?? 0, name)
            case .other:
                if k.role.hyperparameter == "learning_rate" { return (2, 0, 0, name) }
                return (k.role.detail == "optimizer_hyperparameter" || k.role.detail == "optimizer_state" ? 4 : 5, 0, 0, name)
            }
        }
        result.keys.sort { a, b in
            let ra = rank(a), rb = rank(b)
            if ra.0 != rb.0 { return ra.0 < rb.0 }
            if ra.1 != rb.1 { return ra.1 < rb.1 }
            if ra.2 != rb.2 { return ra.2 < rb.2 }
            return ra.3.utf8.lexicographicallyPrecedes(rb.3.utf8)
        }
    }

    // MARK: Without an object graph (TF1 name-based checkpoints)

    static func classifyByName(bundle: TFBundle, trainable: Set<String>?) -> TFNamingResult {
        var result = TFNamingResult(keys: [])
        let keys = Set(bundle.entries.map(\.key))
        for e in bundle.entries {
            var role = TFKeyRole(kind: .other)
            var name: String? = e.key
            if e.proto.dtype.dtype == nil {
                role.detail = e.proto.dtype == .string ? "string" : "unsupported_dtype"
                name = nil
            } else if e.key == "global_step" && e.proto.shape.isEmpty {
                role.kind = .step
            } else if let slash = e.key.lastIndex(of: "/"), keys.contains(String(e.key[..<slash])),
                      e.key[e.key.index(after: slash)...].first?.isUppercase == true {
                role.kind = .slot
                role.slot = String(e.key[e.key.index(after: slash)...])
                role.keras3Slot = role.slot
                role.owner = String(e.key[..<slash])
                role.ownerKey = role.owner
            } else if e.key.hasSuffix("_power") && e.proto.shape.isEmpty && e.key.hasPrefix("beta") {
                role.detail = "optimizer_accumulator"
            } else if let trainable, !trainable.contains(e.key) {
                role.detail = "non_trainable_variable"
                role.kind = .other
                role.kerasName = e.key
                role.trainable = false
            } else {
                role.kind = .weight
                role.kerasName = e.key
                role.trainable = true
            }
            result.keys.append(TFKey(key: e.key, entry: e.proto, role: role, tensorName: name))
        }
        if let slot = result.keys.first(where: { $0.role.kind == .slot })?.role.slot {
            let base = slot.split(separator: "_").first.map(String.init) ?? slot
            result.optimizerName = base
        }
        return result
    }
}
