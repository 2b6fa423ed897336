// What a torch.save object is: a plain state dict, or a training checkpoint
// (`{"model": state_dict, "optimizer": optimizer.state_dict(), "epoch": ...}`), or anything else.
//
// In a training checkpoint the weights keep their state-dict keys (as `model.state_dict()` would
// name them), and the optimizer's per-parameter state is matched to them the way torch does it:
// `param_groups[*]["params"]`, concatenated, lists the parameters in `model.parameters()` order,
// which is the state dict's order without its buffers. Buffers cannot be told from parameters
// by name alone, so the match is made only when it is certain: the state dict minus integer
// tensors and the usual buffer names (`running_mean`, ...) has exactly as many entries as the
// optimizer has parameters, and every slot tensor has its parameter's shape. Otherwise the state
// keeps the optimizer's own numbering, and a note says why.

/// The object of a torch file, interpreted.
struct PyTorchContents {
    var tensors: [PickleTensorEntry] = []
    var unsupported: [PyTorchUnsupportedEntry] = []
    var metadata: JSONValue = .object([])
    var optimizer: OptimizerInfo?
    /// The tensor holding the optimizer's step count, read once the data can be (0-d).
    var stepTensor: String?
    var notes: [String] = []
}

enum PyTorchStructure {
    static let modelKeys = ["model", "state_dict", "model_state_dict", "model_state", "module", "net", "network"]
    static let optimizerKeys = ["optimizer", "optimizer_state_dict", "optimizer_state", "optim", "opt"]
    static let bufferSuffixes = ["running_mean", "running_var", "num_batches_tracked"]

    static func interpret(_ root: PickleValue, limits: PickleLimits, file: String?) throws -> PyTorchContents {
        let walker = PickleWalker(limits: limits, file: file)
        var out = PyTorchContents()
        guard case .dict(let d) = root else {
            out.metadata = PickleWalker.prune(try walker.walk(root, "")).map { .object([("object", $0)]) } ?? .object([])
            out.tensors = walker.tensors
            out.unsupported = walker.unsupported
            return out
        }
        // An optimizer's state_dict saved on its own.
        if isOptimizerState(root) {
            try optimizer(d, model: [], walker: walker, into: &out)
            out.tensors = walker.tensors
            out.unsupported = walker.unsupported
            return out
        }
        let optKey = optimizerKeys.first { d[$0].map(isOptimizerState) ?? false }
            ?? (d["optimizer_states"]?.sequence.flatMap { $0.count == 1 && isOptimizerState($0[0]) ? "optimizer_states" : nil })
        let modelKey = modelKeys.first { d[$0].map(isStateDict) ?? false }
        guard optKey != nil || modelKey != nil else {
            // A plain state dict, or some other dict: flat keys, the rest as metadata.
            out.metadata = PickleWalker.prune(try walker.walk(root, "")) ?? .object([])
            out.tensors = walker.tensors
            out.unsupported = walker.unsupported
            return out
        }
        var modelCount = 0
        if let modelKey, let model = d[modelKey] {
            _ = try walker.walk(model, "")
            modelCount = walker.tensors.count
        }
        var metadata: [(String, JSONValue)] = []
        for (k, v) in zip(d.keys, d.values) {
            let key = PickleWalker.keyText(k)
            if key == modelKey { continue }
            if key == optKey, let optKey {
                let opt = optKey == "optimizer_states" ? (v.sequence?.first ?? v) : v
                if let od = opt.dictValue {
                    try optimizer(od, model: Array(walker.tensors[0..<modelCount]), walker: walker, into: &out)
                    continue
                }
            }
            if let j = PickleWalker.prune(try walker.walk(v, key)) { metadata.append((key, j)) }
        }
        out.metadata = .object(metadata)
        let trained = Set(walker.tensors.compactMap(\.weight))
        if modelCount > 0, !trained.isEmpty {
            // Buffers are not trained: with the optimizer matched, anything it does not update is frozen.
            for k in 0..<modelCount where !trained.contains(walker.tensors[k].name) { walker.tensors[k].trainable = false }
        }
        out.tensors = walker.tensors
        out.unsupported = walker.unsupported
        return out
    }

    static func isOptimizerState(_ v: PickleValue) -> Bool {
        guard let d = v.dictValue, d["state"]?.dictValue != nil, let groups = d["param_groups"]?.sequence else { return false }
        return groups.allSatisfy { $0.dictValue?["params"]?.sequence != nil }
    }

    /// A dict of tensors (a module's state_dict).
    static func isStateDict(_ v: PickleValue) -> Bool {
        guard let d = v.dictValue, d.count > 0 else { return false }
        return d.values.allSatisfy {
            switch $0 {
            case .tensor, .opaqueTensor: return true
            default: return false
            }
        }
    }

    /// The optimizer's state and groups: slots named `optimizer/<slot>/<parameter>`.
    static func optimizer(_ opt: PickleDict, model: [PickleTensorEntry], walker: PickleWalker, into out: inout PyTorchContents) throws {
        guard let state = opt["state"]?.dictValue, let groups = opt["param_groups"]?.sequence?.compactMap(\.dictValue) else { return }
        var ids: [PickleValue] = []
        for g in groups { ids += g["params"]?.sequence ?? [] }
        let names = match(ids: ids, state: state, model: model, notes: &out.notes)

        var slots = Set<String>()
        var step: Double? = nil
        var listed = Set<String>()
        func add(_ id: PickleValue, _ param: String?) throws {
            guard let entry = state.value(for: id)?.dictValue else { return }
            let label = param ?? PickleWalker.keyText(id)
            listed.insert(PickleWalker.keyText(id))
            for (k, v) in zip(entry.keys, entry.values) {
                let slot = PickleWalker.keyText(k)
                slots.insert(slot)
                let before = walker.tensors.count
                let json = try walker.walk(v, "optimizer/\(slot)/\(label)", role: .optimizer)
                for t in before..<walker.tensors.count {
                    walker.tensors[t].trainable = false
                    walker.tensors[t].slot = slot
                    walker.tensors[t].weight = param
                }
                if slot == "step" {
                    if let n = json.doubleValue { step = step ?? n }
                    else if walker.tensors.count == before + 1, out.stepTensor == nil { out.stepTensor = walker.tensors[before].name }
                }
            }
        }
        for (k, id) in ids.enumerated() { try add(id, names?[k]) }
        for id in state.keys where !listed.contains(PickleWalker.keyText(id)) { try add(id, nil) }

        // Hyperparameters: group 0's, and every group's when there are several.
        var groupJSON: [JSONValue] = []
        for (g, group) in groups.enumerated() {
            var members: [(String, JSONValue)] = []
            for (k, v) in zip(group.keys, group.values) {
                let key = PickleWalker.keyText(k)
                if key == "params" { members.append(("param_count", .number(v.sequence?.count ?? 0))); continue }
                members.append((key, try walker.walk(v, "optimizer/param_groups.\(g).\(key)", role: .optimizer)))
            }
            groupJSON.append(.object(members))
        }
        var config = groupJSON.first?.objectValue?.filter { $0.0 != "param_count" } ?? []
        if groups.count > 1 { config.append(("param_groups", .array(groupJSON))) }
        let keys = Set(groups.flatMap { $0.keys.map(PickleWalker.keyText) })
        out.optimizer = OptimizerInfo(className: guessClass(slots: slots, groupKeys: keys, first: groups.first), module: "torch.optim",
                                      config: .object(config), iterations: step.map { Int64(exactly: $0.rounded()) ?? 0 } ?? 0)
    }

    /// Parameter names for optimizer ids `ids` (in param_groups order), or nil with a note.
    static func match(ids: [PickleValue], state: PickleDict, model: [PickleTensorEntry], notes: inout [String]) -> [String]? {
        guard !model.isEmpty else {
            if !ids.isEmpty { notes.append("the optimizer state is named by parameter number: no model state dict sits beside it") }
            return nil
        }
        let candidates = model.filter { e in
            guard let dt = e.ref.scalar.dtype, dt.isFloatingPoint else { return false }
            let last = e.name.split(separator: ".").last.map(String.init) ?? e.name
            return !bufferSuffixes.contains(last)
        }
        guard candidates.count == ids.count else {
            notes.append("the optimizer state is named by parameter number: the optimizer has \(ids.count) parameters and the model state dict \(candidates.count) trainable-looking tensors, so they cannot be matched with certainty")
            return nil
        }
        for (k, id) in ids.enumerated() {
            guard let entry = state.value(for: id)?.dictValue else { continue }
            for (slot, v) in zip(entry.keys, entry.values) {
                guard case .tensor(let t) = v, !t.shape.isEmpty else { continue }
                if t.shape != candidates[k].ref.shape {
                    notes.append("the optimizer state is named by parameter number: its \"\(PickleWalker.keyText(slot))\" for parameter \(k) has shape \(t.shape) where \"\(candidates[k].name)\" has \(candidates[k].ref.shape)")
                    return nil
                }
            }
        }
        return candidates.map(\.name)
    }

    /// torch.optim's class from its state slots and param_groups keys.
    static func guessClass(slots: Set<String>, groupKeys: Set<String>, first: PickleDict?) -> String {
        func flag(_ k: String) -> Bool { if case .bool(true)? = first?[k] { return true } else { return false } }
        if slots.contains("momentum_buffer") || groupKeys.isSuperset(of: ["momentum", "dampening", "nesterov"]) { return "SGD" }
        if slots.contains("exp_inf") { return "Adamax" }
        if slots.contains("mu_product") || groupKeys.contains("momentum_decay") { return "NAdam" }
        if slots.contains("acc_delta") { return "Adadelta" }
        if slots.contains("square_avg") { return "RMSprop" }
        if slots.contains("sum") { return "Adagrad" }
        if slots.contains("prev") && slots.contains("step_size") { return "Rprop" }
        if slots.isSuperset(of: ["eta", "mu", "ax"]) { return "ASGD" }
        if slots.contains("exp_avg") && slots.contains("exp_avg_sq") || groupKeys.contains("amsgrad") {
            if !groupKeys.contains("amsgrad") { return "RAdam" }
            return flag("decoupled_weight_decay") ? "AdamW" : "Adam"
        }
        return "unknown"
    }
}
