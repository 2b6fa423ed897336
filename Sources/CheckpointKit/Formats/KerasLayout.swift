// The Keras 3 reader (`layers/<group>/vars/<i>`, `optimizer/vars/<i>`) and layout names. The
// mapping rules are described at the top of KerasFiles.swift.

/// One tensor found in a Keras file.
struct KerasReadTensor: Sendable {
    var info: TensorInfo
    var datasetPath: String?
    var storage: KerasFileSource.Storage
}

/// What a reader makes of a file.
struct KerasReadResult: Sendable {
    var tensors: [KerasReadTensor] = []
    var architecture: [UInt8]?
    var optimizer: OptimizerInfo?
    var metadata: JSONValue = .object([])
    var producer: String?
    var notes: [String] = []
}

/// Names for tensors that the architecture does not name: taken from the Keras 3 HDF5 layout.
enum KerasLayoutNames {
    /// `layers/dense/vars` + `0` → `dense/vars/0` (the top-level layer's `name` attribute, then the
    /// path below its group); `layers/lstm/cell/vars` → `lstm/cell/vars/1`; `vars` → `<model>/vars/0`;
    /// anything else (`optimizer/vars`) → the HDF5 path.
    static func name(group: String, dataset: String, topName: (String) -> String?) -> String {
        let parts = group.split(separator: "/").map(String.init)
        if parts.count >= 2, parts[0] == "layers" || parts[0] == "_layer_checkpoint_dependencies" {
            let top = topName(parts[0] + "/" + parts[1] + "/vars") ?? parts[1]
            return ([clean(top, fallback: parts[1])] + parts[2...] + [dataset]).joined(separator: "/")
        }
        if parts == ["vars"] {
            let model = topName("vars") ?? "model"
            return clean(model, fallback: "model") + "/vars/" + dataset
        }
        return group + "/" + dataset
    }

    /// A `name` attribute is used only if it is a plain path component.
    private static func clean(_ name: String, fallback: String) -> String {
        name.isEmpty || name.contains("/") || name == "." || name == ".." ? fallback : name
    }
}

/// The Keras 3 layout (`.keras` member, `.weights.h5`).
struct Keras3Reader {
    let tree: KerasH5Tree
    /// The architecture JSON, whether the user gave it (errors then are errors) or the file holds it
    /// (a model the toolkit cannot interpret falls back to layout names), and what to call it.
    var architecture: (bytes: [UInt8], explicit: Bool, label: String)?

    init(tree: KerasH5Tree) {
        self.tree = tree
    }

    private var fileName: String { tree.file.fileName }

    func read() throws -> KerasReadResult {
        var result = KerasReadResult()
        let backend = detectBackend()
        var model: (KerasArchitecture, KerasModelVariables)?
        if let a = architecture {
            if a.explicit { result.architecture = a.bytes }
            do {
                let arch = try KerasArchitecture(bytes: a.bytes)
                let mv = try arch.variables(options: KerasInferenceOptions(allowUnknownLayers: true, backend: backend))
                model = (arch, mv)
            } catch let e as CheckpointError {
                if a.explicit { throw e.located(file: a.label) }
                result.notes.append("the model in \(a.label) could not be interpreted (\(e.description)); tensors are named after the HDF5 layout")
            }
        }
        var unknownWeights = Set<Int>()
        if let (_, mv) = model {
            result.tensors = try mapWeights(mv, result: &result)
            unknownWeights = Set(result.tensors.indices.filter { i in !mv.variables.contains { $0.path == result.tensors[i].info.name } })
        } else {
            result.tensors = try layoutWeights()
            if architecture == nil && !result.tensors.isEmpty {
                result.notes.append("no architecture was given: tensors are named after the HDF5 layout (dense/vars/0) and marked trainable; pass --architecture model.json (the model's to_json()) for Keras variable names")
            }
        }
        var nonTrainable = Set<Int>()
        let (optimizerTensors, optimizer) = try readOptimizer(architecture: model?.0, weights: model == nil ? nil : result.tensors,
                                                              unknownWeights: unknownWeights, backend: backend, nonTrainable: &nonTrainable,
                                                              notes: &result.notes)
        if !nonTrainable.isEmpty {
            for i in nonTrainable { result.tensors[i].info.trainable = false }
            let names = nonTrainable.sorted().map { result.tensors[$0].info.name }.joined(separator: ", ")
            result.notes.append("the optimizer state shows that \(names) \(nonTrainable.count == 1 ? "is" : "are") not trainable")
        }
        result.tensors += optimizerTensors
        result.optimizer = optimizer
        return result
    }

    /// int32 iteration counters mean JAX/torch, int64 TensorFlow (only `dtype="int"` variables differ).
    private func detectBackend() -> KerasBackend {
        guard let p = tree.resolve("optimizer/vars/0"), tree.isDataset(p), let info = try? tree.dataset(p).1 else { return .tensorflow }
        return info.dtype == .int32 ? .jax : .tensorflow
    }

    private var mismatchHint: String {
        guard let a = architecture else { return "" }
        return a.explicit ? "check that \(a.label) is the to_json() of the model these weights were saved from"
            : "the file's \(a.label) and its weights disagree"
    }

    // MARK: Weights through the architecture

    private func mapWeights(_ mv: KerasModelVariables, result: inout KerasReadResult) throws -> [KerasReadTensor] {
        var claimed = Set<ByteName>()
        var groupIndex: [ByteName: Int] = [:]
        for (i, g) in mv.h5Groups.enumerated() where groupIndex[ByteName(g.path)] == nil { groupIndex[ByteName(g.path)] = i }

        var known: [(group: Int, tensor: KerasReadTensor)] = []
        for v in mv.variables {
            let what = "the weight \"\(v.path)\" \(Self.describe(v.dtype, v.shape)) of layer \"\(v.layer)\" (\(v.layerClass))"
            guard let p = tree.resolve(v.h5Path), tree.isDataset(p) else {
                throw tree.error(.weightsMismatch, "the file has no dataset here for \(what) of the architecture", at: v.h5Path, hint: mismatchHint)
            }
            let (d, info) = try tree.dataset(p)
            guard info.shape == v.shape else {
                throw tree.error(.weightsMismatch, "the dataset is \(Self.describe(info.dtype, info.shape)) but the architecture expects \(what) here",
                                 at: p, hint: mismatchHint)
            }
            claimed.insert(ByteName(p))
            let t = TensorInfo(name: v.path, dtype: info.dtype, shape: info.shape, role: .weight, trainable: v.trainable)
            known.append((groupIndex[ByteName(KerasH5Tree.split(v.h5Path).0)] ?? Int.max, KerasReadTensor(info: t, datasetPath: p, storage: .dataset(d, info.dtype, address: KerasH5Tree.address(info)))))
        }
        for g in mv.h5Groups {
            guard let n = g.datasetCount, let gp = tree.resolve(g.path), tree.isGroup(gp) else { continue }
            for child in tree.childNames(gp) where !claimed.contains(ByteName(KerasH5Tree.join(gp, child))) {
                throw tree.error(.weightsMismatch,
                                 "the group holds \(tree.childNames(gp).count) entries, but the architecture gives \"\(g.objectName)\" \(n) variable\(n == 1 ? "" : "s"); \"\(child)\" is not one of them",
                                 at: gp, hint: mismatchHint)
            }
        }

        var unknown: [(group: Int, tensors: [KerasReadTensor])] = []
        for u in mv.unknownLayers {
            guard let base = tree.resolve(u.h5Group), tree.isGroup(base) else { continue }
            let prefix = u.pathPrefixes.first ?? (u.name + "/")
            var tensors: [KerasReadTensor] = []
            for group in tree.varsGroups(under: base) {
                for name in tree.varsDatasets(group) {
                    let p = KerasH5Tree.join(group, name)
                    let (d, info) = try tree.dataset(p)
                    let relative = String(p.dropFirst(base.count + 1))
                    let t = TensorInfo(name: prefix + relative, dtype: info.dtype, shape: info.shape, role: .weight, trainable: true)
                    tensors.append(KerasReadTensor(info: t, datasetPath: p, storage: .dataset(d, info.dtype, address: KerasH5Tree.address(info))))
                    claimed.insert(ByteName(p))
                }
            }
            unknown.append((groupIndex[ByteName(KerasH5Tree.join(u.h5Group, "vars"))] ?? Int.max, tensors))
        }
        if !mv.unknownLayers.isEmpty {
            let list = mv.unknownLayers.map { "\"\($0.name)\" (\($0.className))" }.joined(separator: ", ")
            result.notes.append("the variables of layer\(mv.unknownLayers.count == 1 ? "" : "s") \(list) are not modelled: the file's datasets for \(mv.unknownLayers.count == 1 ? "it" : "them") are kept as they are, named <layer>/<path>/vars/<i> and marked trainable")
        }

        for node in tree.nodes where node.kind == .dataset && !claimed.contains(ByteName(node.path)) {
            if node.path.hasPrefix("optimizer/") { continue }
            throw tree.error(.weightsMismatch, "the dataset is not a variable of the architecture (no layer of the model is saved here)",
                             at: node.path, hint: mismatchHint)
        }

        var out: [KerasReadTensor] = []
        var pending = unknown.sorted { $0.group < $1.group }[...]
        for k in known {
            while let first = pending.first, first.group < k.group {
                out += first.tensors
                pending = pending.dropFirst()
            }
            out.append(k.tensor)
        }
        for rest in pending { out += rest.tensors }
        return out
    }

    static func describe(_ dtype: DType, _ shape: [Int]) -> String {
        "\(dtype.rawValue) " + "(" + shape.map(String.init).joined(separator: ", ") + (shape.count == 1 ? ",)" : ")")
    }

    // MARK: Weights from the layout alone

    private func topName(_ group: String) -> String? {
        (try? tree.stringAttribute("name", at: group)) ?? nil
    }

    private func layoutWeights() throws -> [KerasReadTensor] {
        var out: [KerasReadTensor] = []
        var claimed = Set<ByteName>()
        var groups = tree.varsGroups(under: "").filter { !$0.hasPrefix("optimizer/") }
        if let root = groups.firstIndex(of: "vars") { groups.insert(groups.remove(at: root), at: 0) }
        for group in groups {
            for name in tree.varsDatasets(group) {
                let p = KerasH5Tree.join(group, name)
                let (d, info) = try tree.dataset(p)
                let t = TensorInfo(name: KerasLayoutNames.name(group: group, dataset: name, topName: topName), dtype: info.dtype,
                                   shape: info.shape, role: .weight, trainable: true)
                out.append(KerasReadTensor(info: t, datasetPath: p, storage: .dataset(d, info.dtype, address: KerasH5Tree.address(info))))
                claimed.insert(ByteName(p))
            }
        }
        for node in tree.nodes where node.kind == .dataset && !claimed.contains(ByteName(node.path)) && !node.path.hasPrefix("optimizer/") {
            let (d, info) = try tree.dataset(node.path)
            let t = TensorInfo(name: node.path, dtype: info.dtype, shape: info.shape, role: .weight, trainable: true)
            out.append(KerasReadTensor(info: t, datasetPath: node.path, storage: .dataset(d, info.dtype, address: KerasH5Tree.address(info))))
        }
        return out
    }

    // MARK: Optimizer

    private func readOptimizer(architecture arch: KerasArchitecture?, weights: [KerasReadTensor]?, unknownWeights: Set<Int>,
                               backend: KerasBackend, nonTrainable: inout Set<Int>,
                               notes: inout [String]) throws -> ([KerasReadTensor], OptimizerInfo?) {
        guard let group = tree.resolve("optimizer/vars"), tree.isGroup(group) else { return ([], nil) }
        let (numbers, others) = tree.numberedDatasets(in: group)
        guard !numbers.isEmpty || !others.isEmpty else { return ([], nil) }
        let names = tree.varsDatasets(group)
        var items: [(path: String, name: String, dataset: HDF5Dataset, info: HDF5DatasetInfo)] = []
        for name in names {
            let p = KerasH5Tree.join(group, name)
            let (d, info) = try tree.dataset(p)
            items.append((p, name, d, info))
        }
        let contiguous = others.isEmpty && numbers == Array(0..<numbers.count)
        let nameAttribute = try tree.stringAttribute("name", at: group)
        var iterations = contiguous ? try KerasOptimizerState.integerScalar(items[0].dataset, items[0].info) : nil

        // The class and configuration: compile_config first, else the optimizer's name attribute.
        // Under the mixed_float16 policy `compile` wraps the optimizer it is given in a
        // LossScaleOptimizer, so a plain optimizer in compile_config may have a wrapper's state.
        var config: KerasOptimizerConfig?
        var className: String?
        var unmodelled: JSONValue?   // a compile_config optimizer kept as it is
        var candidates: [KerasOptimizerConfig] = []
        var guessed = false
        if let cc = arch?.compileConfig, let serialized = cc["optimizer"], !serialized.isNull {
            className = serialized["class_name"]?.stringValue ?? serialized.stringValue
            do {
                let c = try KerasOptimizerConfig(serialized: serialized)
                config = c
                candidates = c.kind.isWrapper ? [c] : [c, c.wrappedForMixedPrecision()]
            } catch let e as CheckpointError {
                unmodelled = serialized
                notes.append("the optimizer in compile_config is not one whose state the toolkit models (\(e.reason)); its variables keep their HDF5 names optimizer/vars/<i> and its configuration is kept as it is")
            }
        } else if let attr = nameAttribute, let kind = KerasOptimizerState.kind(fromName: attr) {
            className = kind.className
            guessed = true
            if kind.isWrapper {
                // The wrapped optimizer's class from the name Keras writes on its own group.
                if let innerName = try tree.stringAttribute("name", at: "optimizer/inner_optimizer/vars"),
                   let innerKind = KerasOptimizerState.kind(fromName: innerName) {
                    let lr = contiguous && items.count > 5 ? try KerasOptimizerState.floatScalar(items[5].dataset, items[5].info) : nil
                    candidates = KerasOptimizerState.guesses(kind: innerKind, name: innerName, learningRate: lr)
                        .map { $0.wrappedForMixedPrecision(name: attr) }
                }
            } else {
                let lr = contiguous && items.count > 1 ? try KerasOptimizerState.floatScalar(items[1].dataset, items[1].info) : nil
                candidates = KerasOptimizerState.guesses(kind: kind, name: attr, learningRate: lr)
            }
            config = candidates.first
        }

        var layout: [(name: String, slot: String?, weight: String?)]?
        if contiguous, let weights {
            // Layers the toolkit does not model have unknown trainable flags. Keras saves a layer's
            // trainable variables before its non-trainable ones, so the non-trainable ones of each
            // vars group are a suffix of it: when all-trainable does not give the file's shapes,
            // try the suffixes, fewest non-trainable variables first.
            var flexible: [ByteName: [Int]] = [:]
            for i in weights.indices where unknownWeights.contains(i) {
                flexible[ByteName(KerasH5Tree.split(weights[i].datasetPath ?? "").0), default: []].append(i)
            }
            var masks: [Set<Int>] = [[]]
            for (_, members) in flexible.sorted(by: { $0.key < $1.key }) where masks.count * (members.count + 1) <= 4096 {
                masks = masks.flatMap { m in (0...members.count).map { k in m.union(members.suffix(k)) } }
            }
            masks.sort { $0.count < $1.count }
            search: for mask in masks {
                let trainable = weights.indices.filter { weights[$0].info.trainable && !mask.contains($0) }.map { weights[$0].info }
                for c in candidates {
                    guard let expected = try? c.stateVariables(trainableTensors: trainable, backend: backend) else { continue }
                    if expected.count == items.count && zip(expected, items).allSatisfy({ $0.shape == $1.info.shape }) {
                        layout = expected.map { ($0.name, $0.slot, $0.weight) }
                        config = c
                        nonTrainable = mask
                        // The true step: a wrapper's own counter stays 0, its inner optimizer's counts.
                        if let k = expected.firstIndex(where: { $0.role == .iteration }) {
                            iterations = try KerasOptimizerState.integerScalar(items[k].dataset, items[k].info)
                        }
                        break search
                    }
                }
            }
            let trainable = weights.filter { $0.info.trainable }.map(\.info)
            if layout == nil, let c = config {
                let expected = (try? c.stateVariables(trainableTensors: trainable, backend: backend))?.count
                notes.append("the file's \(items.count) optimizer variables do not have the shapes \(c.className) builds for this model"
                             + (expected.map { " (\($0) variables)" } ?? "") + "; they keep their HDF5 names optimizer/vars/<i>")
            } else if layout != nil && guessed {
                notes.append("the optimizer class (\(className ?? "?")) was taken from the name of optimizer/vars; its hyperparameters other than the learning rate are Keras's defaults")
            }
        } else if weights == nil {
            notes.append("without an architecture the optimizer's slots cannot be matched to weights: its variables keep their HDF5 names optimizer/vars/<i>")
        } else if !contiguous {
            notes.append("the optimizer's datasets are not numbered 0 to \(items.count - 1): they keep their HDF5 names")
        }

        var tensors: [KerasReadTensor] = []
        for (k, item) in items.enumerated() {
            let info: TensorInfo
            if let layout {
                let v = layout[k]
                info = TensorInfo(name: v.name, dtype: item.info.dtype, shape: item.info.shape, role: .optimizer, slot: v.slot, weight: v.weight)
            } else {
                info = TensorInfo(name: KerasLayoutNames.name(group: "optimizer/vars", dataset: item.name, topName: { _ in nil }),
                                  dtype: item.info.dtype, shape: item.info.shape, role: .optimizer)
            }
            tensors.append(KerasReadTensor(info: info, datasetPath: item.path, storage: .dataset(item.dataset, item.info.dtype, address: KerasH5Tree.address(item.info))))
        }
        let info = OptimizerInfo(className: config?.className ?? className ?? nameAttribute ?? "unknown",
                                 module: config?.module ?? unmodelled?["module"]?.stringValue ?? "keras.optimizers",
                                 config: config?.config ?? unmodelled?["config"] ?? .object(nameAttribute.map { [("name", JSONValue.string($0))] } ?? []),
                                 iterations: iterations ?? 0)
        return (tensors, info)
    }
}
