// Which tensor of a checkpoint goes to which dataset of a Keras 3 file, in the saver's order.

/// Which tensor goes to which dataset, in the order Keras's saver creates them.
struct KerasWritePlan {
    struct Group {
        var path: String
        var name: String
        var datasets: [(name: String, tensor: Int)]
    }

    var groups: [Group] = []
    var hasOptimizer = false

    init(index: CheckpointIndex, model mv: KerasModelVariables, backend: KerasBackend, file: String) throws {
        let hint = "the tensors must be the weights of the model the architecture describes"
        var topNames: [String: String] = [:]
        for g in mv.h5Groups where topNames[g.path] == nil { topNames[g.path] = g.objectName }
        var byLayoutName: [ByteName: Int] = [:]
        for v in mv.variables {
            let (group, dataset) = KerasH5Tree.split(v.h5Path)
            byLayoutName[ByteName(KerasLayoutNames.name(group: group, dataset: dataset, topName: { topNames[$0] }))] = v.index
        }

        var tensorOf: [Int: Int] = [:]
        var extra: [String: [(name: String, tensor: Int)]] = [:] // unknown layers: group path → datasets
        for (t, info) in index.tensors.enumerated() where info.role == .weight {
            if let v = mv.variable(named: info.name)?.index ?? byLayoutName[ByteName(info.name)] {
                if let other = tensorOf[v] {
                    throw CheckpointError(.weightsMismatch,
                                          "tensors \"\(escapeForDisplay(index.tensors[other].name))\" and \"\(escapeForDisplay(info.name))\" are both the architecture's weight \"\(mv.variables[v].path)\"",
                                          file: file, hint: hint)
                }
                tensorOf[v] = t
                continue
            }
            if let u = mv.unknownLayer(owning: info.name) {
                let candidates = KerasNames.candidates(info.name, modelName: mv.modelName)
                var placed = false
                for c in candidates {
                    guard let prefix = u.pathPrefixes.first(where: { c.hasPrefix($0) }) else { continue }
                    let relative = String(c.dropFirst(prefix.count))
                    let (group, dataset) = KerasH5Tree.split(relative)
                    guard group == "vars" || group.hasSuffix("/vars"), KerasH5Tree.decimal(dataset) != nil else { continue }
                    extra[KerasH5Tree.join(u.h5Group, group), default: []].append((dataset, t))
                    placed = true
                    break
                }
                if placed { continue }
                throw CheckpointError(.unknownLayer,
                                      "tensor \"\(escapeForDisplay(info.name))\" belongs to layer \"\(u.name)\" (\(u.className)), whose variables the toolkit does not model, and its name does not say where Keras keeps it (<layer>/vars/<i>)",
                                      file: file)
            }
            throw CheckpointError(.weightsMismatch, "tensor \"\(escapeForDisplay(info.name))\" \(Keras3Reader.describe(info.dtype, info.shape)) is not a weight of the architecture",
                                  file: file, hint: hint)
        }
        for v in mv.variables {
            guard let t = tensorOf[v.index] else {
                throw CheckpointError(.weightsMismatch,
                                      "the checkpoint has no tensor for the architecture's weight \"\(v.path)\" \(Keras3Reader.describe(v.dtype, v.shape)) of layer \"\(v.layer)\"",
                                      file: file, hint: hint)
            }
            let info = index.tensors[t]
            guard info.shape == v.shape else {
                throw CheckpointError(.weightsMismatch,
                                      "tensor \"\(escapeForDisplay(info.name))\" is \(Keras3Reader.describe(info.dtype, info.shape)) but the architecture's weight \"\(v.path)\" is \(Keras3Reader.describe(v.dtype, v.shape))",
                                      file: file, hint: hint)
            }
        }

        // Groups in the saver's order; an unknown layer's groups where its own group is visited.
        let unknownRoots = Set(mv.unknownLayers.map { KerasH5Tree.join($0.h5Group, "vars") })
        let variablesByGroup = Dictionary(grouping: mv.variables, by: { KerasH5Tree.split($0.h5Path).0 })
        for g in mv.h5Groups {
            var datasets: [(name: String, tensor: Int)] = []
            for v in variablesByGroup[g.path] ?? [] {
                if let t = tensorOf[v.index] { datasets.append((KerasH5Tree.split(v.h5Path).1, t)) }
            }
            groups.append(Group(path: g.path, name: g.objectName, datasets: Self.numericOrder(datasets)))
            if unknownRoots.contains(g.path) {
                let base = String(g.path.dropLast("/vars".count))
                if let own = extra.removeValue(forKey: g.path) {
                    groups[groups.count - 1].datasets = Self.numericOrder(own)
                }
                let nested = extra.keys.filter { $0.hasPrefix(base + "/") }.sorted { a, b in
                    KerasH5Tree.visitKey(String(a.dropFirst(base.count + 1))).lexicographicallyPrecedes(KerasH5Tree.visitKey(String(b.dropFirst(base.count + 1))))
                }
                for path in nested {
                    let parts = path.split(separator: "/").map(String.init)
                    let name = parts.count >= 2 ? parts[parts.count - 2] : path
                    groups.append(Group(path: path, name: name, datasets: Self.numericOrder(extra.removeValue(forKey: path) ?? [])))
                }
            }
        }
        if let (path, _) = extra.first {
            throw CheckpointError(.unknownLayer, "no group of the architecture holds \(path)", file: file)
        }

        // Optimizer state.
        let optimizerTensors = index.tensors.indices.filter { index.tensors[$0].role == .optimizer }
        guard !optimizerTensors.isEmpty else { return }
        hasOptimizer = true
        var order: [Int]?
        var config: KerasOptimizerConfig?
        if let o = index.optimizer {
            config = try? KerasOptimizerConfig(serialized: .object([("class_name", .string(o.className)), ("config", o.config)]))
            // Checkpoints made before the wrapper was modelled name its scalars without saying so.
            if let c = config, !c.kind.isWrapper,
               optimizerTensors.contains(where: { index.tensors[$0].name == "optimizer/loss_scale/step_counter" }) {
                config = c.wrappedForMixedPrecision()
            }
        }
        var expected: [KerasOptimizerVariable] = []
        if let config {
            let trainable: [TensorInfo]
            if mv.unknownLayers.isEmpty {
                trainable = mv.trainableVariables.compactMap { v in
                    tensorOf[v.index].map { TensorInfo(name: v.path, dtype: index.tensors[$0].dtype, shape: v.shape) }
                }
            } else {
                trainable = index.tensors.filter { $0.role == .weight && $0.trainable }.map { t in
                    var t = t
                    if let v = mv.variable(named: t.name) { t.name = v.path }
                    return t
                }
            }
            expected = try config.stateVariables(trainableTensors: trainable, backend: backend)
            func key(slot: String?, weight: String?, name: String) -> String {
                if let slot, let weight { return "slot " + slot + " " + (mv.variable(named: weight)?.path ?? weight) }
                return "name " + name
            }
            var byKey: [ByteName: Int] = [:]
            for t in optimizerTensors {
                let info = index.tensors[t]
                byKey[ByteName(key(slot: info.slot, weight: info.weight, name: info.name))] = t
            }
            let matched = expected.map { byKey[ByteName(key(slot: $0.role == .slot ? $0.slot : nil, weight: $0.weight, name: $0.name))] }
            if matched.allSatisfy({ $0 != nil }) && Set(matched.compactMap { $0 }).count == optimizerTensors.count && expected.count == optimizerTensors.count {
                let list = matched.compactMap { $0 }
                for (e, t) in zip(expected, list) where index.tensors[t].shape != e.shape {
                    throw CheckpointError(.weightsMismatch,
                                          "optimizer tensor \"\(escapeForDisplay(index.tensors[t].name))\" is \(Keras3Reader.describe(index.tensors[t].dtype, index.tensors[t].shape)) but \(config.className) builds it \(Keras3Reader.describe(e.dtype, e.shape)) for this model",
                                          file: file, hint: hint)
                }
                order = list
            }
        }
        if order == nil, index.optimizer?.className == "MultiOptimizer" {
            // Keras saves each sub-optimizer's variables again under optimizer/optimizers/<name>/vars
            // and loads them from there; without a model of the class those groups cannot be made.
            throw CheckpointError(.unsupported,
                                  "the optimizer is a MultiOptimizer, whose sub-optimizers Keras also saves in groups of their own that ckpt does not model; Keras would skip their state when loading this file",
                                  file: file, hint: "keep the optimizer state in a .ckpt, or drop it (ckpt strip) and rebuild with one optimizer")
        }
        if order == nil {
            // Tensors that kept their HDF5 names are written back in their order.
            let names = optimizerTensors.map { index.tensors[$0].name }
            if names == (0..<names.count).map({ "optimizer/vars/\($0)" }) { order = optimizerTensors; expected = [] }
        }
        guard let order else {
            let cls = index.optimizer?.className ?? "the optimizer"
            throw CheckpointError(.weightsMismatch,
                                  "the checkpoint's \(optimizerTensors.count) optimizer tensors are not the state Keras's \(cls) builds for this model, so Keras could not load them",
                                  file: file, hint: "drop the optimizer state (ckpt strip), or keep it in a .ckpt")
        }
        let name = index.optimizer?.config["name"]?.stringValue ?? config?.name ?? "optimizer"
        groups.append(Group(path: "optimizer/vars", name: name, datasets: order.enumerated().map { (String($0.offset), $0.element) }))
        if let inner = config?.inner, !expected.isEmpty {
            // Keras also saves the wrapped optimizer as the wrapper's child: its variables again.
            let own = expected.filter { $0.name.hasPrefix("optimizer/loss_scale/") }.count
            groups.append(Group(path: "optimizer/inner_optimizer/vars", name: inner.name,
                                datasets: order.dropFirst(own).enumerated().map { (String($0.offset), $0.element) }))
        }
    }

    static func numericOrder(_ datasets: [(name: String, tensor: Int)]) -> [(name: String, tensor: Int)] {
        datasets.sorted { (KerasH5Tree.decimal($0.name) ?? Int.max, $0.name) < (KerasH5Tree.decimal($1.name) ?? Int.max, $1.name) }
    }
}
