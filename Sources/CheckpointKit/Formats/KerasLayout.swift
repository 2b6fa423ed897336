// The HDF5 side of Keras files: the tree of a file, Keras 3 layout names, and the Keras 3 reader
// (`layers/<group>/vars/<i>`, `optimizer/vars/<i>`). The mapping rules are described at the top of
// KerasFiles.swift.

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

/// Every object of an HDF5 file, walked once.
struct KerasH5Tree {
    let file: HDF5File
    let nodes: [HDF5Node]
    // HDF5 paths compared as bytes (ByteName), as libhdf5 compares link names.
    private let kinds: [ByteName: HDF5LinkKind]
    private let children: [ByteName: [String]]

    init(file: HDF5File) throws {
        self.file = file
        nodes = try file.walk()
        var kinds: [ByteName: HDF5LinkKind] = [:]
        var children: [ByteName: [String]] = [:]
        for node in nodes where node.path != "/" {
            kinds[ByteName(node.path)] = node.kind
            let (parent, name) = Self.split(node.path)
            children[ByteName(parent), default: []].append(name)
        }
        self.kinds = kinds
        self.children = children
    }

    /// `a/b/c` → (`a/b`, `c`); `a` → (``, `a`).
    static func split(_ path: String) -> (String, String) {
        guard let slash = path.lastIndex(of: "/") else { return ("", path) }
        return (String(path[..<slash]), String(path[path.index(after: slash)...]))
    }

    static func join(_ a: String, _ b: String) -> String { a.isEmpty ? b : a + "/" + b }

    func isGroup(_ path: String) -> Bool { path.isEmpty || kinds[ByteName(path)] == .group }
    func isDataset(_ path: String) -> Bool { kinds[ByteName(path)] == .dataset }
    func exists(_ path: String) -> Bool { path.isEmpty || kinds[ByteName(path)] != nil }
    func childNames(_ path: String) -> [String] { children[ByteName(path)] ?? [] }

    /// The path as it is in the file: as given, or with `layers` spelled
    /// `_layer_checkpoint_dependencies` (`.keras` files of Keras 2.13). nil when neither exists.
    func resolve(_ path: String) -> String? {
        if exists(path) { return path }
        if path.hasPrefix("layers/") || path == "layers" {
            let alt = path.split(separator: "/", omittingEmptySubsequences: false)
                .map { $0 == "layers" ? "_layer_checkpoint_dependencies" : String($0) }.joined(separator: "/")
            if exists(alt) { return alt }
        }
        return nil
    }

    /// The member an error names: `model.weights.h5/layers/dense/vars/0` inside a `.keras`.
    func member(_ path: String) -> String { file.location.member("/" + path) }

    func error(_ code: CheckpointError.Code, _ reason: String, at path: String?, hint: String? = nil) -> CheckpointError {
        CheckpointError(code, reason, file: file.fileName, member: path.map(member), hint: hint)
    }

    func dataset(_ path: String) throws -> (HDF5Dataset, HDF5DatasetInfo) {
        let d = try file.dataset(path)
        return (d, try d.info())
    }

    /// Where a dataset's bytes lie in the file, when they lie there as they are (contiguous, no filters).
    static func address(_ info: HDF5DatasetInfo) -> UInt64? {
        info.layout == .contiguous && info.filters.isEmpty ? info.offset : nil
    }

    func stringAttribute(_ name: String, at path: String) throws -> String? {
        guard let object = try file.object(path.isEmpty ? "/" : path) else { return nil }
        return try object.stringAttribute(name)
    }

    /// Keras 2 files carry `layer_names` at the root (weights only) or a `model_weights` group.
    func isLegacyLayout() throws -> Bool {
        if isGroup("model_weights") && kinds[ByteName("model_weights")] != nil { return true }
        return try file.root().hasAttribute("layer_names")
    }

    /// The canonical decimal names (`0`, `1`, ... `10`) among a group's datasets, in numeric order,
    /// and every other child name.
    func numberedDatasets(in group: String) -> (numbers: [Int], others: [String]) {
        var numbers: [Int] = []
        var others: [String] = []
        for name in childNames(group) {
            if isDataset(Self.join(group, name)), let n = Self.decimal(name) { numbers.append(n) } else { others.append(name) }
        }
        return (numbers.sorted(), others)
    }

    static func decimal(_ s: String) -> Int? {
        guard !s.isEmpty, s.utf8.count <= 9, s.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }), s == "0" || !s.hasPrefix("0") else { return nil }
        return Int(s)
    }

    /// The datasets of a `vars` group in Keras's order: numbered ones numerically, then the others by name.
    func varsDatasets(_ group: String) -> [String] {
        let (numbers, others) = numberedDatasets(in: group)
        return numbers.map(String.init) + others.filter { isDataset(Self.join(group, $0)) }.sorted()
    }

    /// Every `vars` group at or below `base`, in the order Keras's saver visits objects: an object's
    /// own `vars` first, then its attributes (public names before `_`-prefixed ones, each sorted).
    func varsGroups(under base: String) -> [String] {
        let prefix = base.isEmpty ? "" : base + "/"
        var groups: [String] = []
        for node in nodes where node.kind == .group && node.path != "/" && node.path.hasPrefix(prefix) {
            if node.path.hasSuffix("/vars") || node.path == "vars" { groups.append(node.path) }
        }
        return groups.sorted { a, b in
            let ka = Self.visitKey(String(a.dropFirst(prefix.count)))
            let kb = Self.visitKey(String(b.dropFirst(prefix.count)))
            return ka.lexicographicallyPrecedes(kb)
        }
    }

    static func visitKey(_ relative: String) -> [String] {
        let parts = relative.split(separator: "/").map(String.init)
        return parts.enumerated().map { i, p in
            if i == parts.count - 1 && p == "vars" { return "" }
            return p.hasPrefix("_") ? "~" + p : p
        }
    }
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
        var config: KerasOptimizerConfig?
        var className: String?
        var candidates: [KerasOptimizerConfig] = []
        var guessed = false
        if let cc = arch?.compileConfig, let serialized = cc["optimizer"], !serialized.isNull {
            className = serialized["class_name"]?.stringValue ?? serialized.stringValue
            do {
                let c = try KerasOptimizerState.config(serialized: serialized)
                config = c
                candidates = [c]
            } catch let e as CheckpointError {
                notes.append("the optimizer in compile_config is not one whose state the toolkit models (\(e.reason)); its variables keep their HDF5 names optimizer/vars/<i>")
            }
        } else if let attr = nameAttribute, let kind = KerasOptimizerState.kind(fromName: attr) {
            className = kind.className
            guessed = true
            let lr = contiguous && items.count > 1 ? try KerasOptimizerState.floatScalar(items[1].dataset, items[1].info) : nil
            candidates = KerasOptimizerState.guesses(kind: kind, name: attr, learningRate: lr)
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
            // Mixed precision wraps the optimizer in a LossScaleOptimizer, whose own four scalars
            // (iteration, learning rate, step counter, dynamic scale) come first.
            let isInt: (DType) -> Bool = { $0 == .int32 || $0 == .int64 }
            let lossScaled = items.count > 4 && items.prefix(4).allSatisfy { $0.info.shape.isEmpty }
                && isInt(items[0].info.dtype) && items[1].info.dtype == .float32 && isInt(items[2].info.dtype) && items[3].info.dtype == .float32
            search: for mask in masks {
                let trainable = weights.indices.filter { weights[$0].info.trainable && !mask.contains($0) }.map { weights[$0].info }
                for c in candidates {
                    guard let expected = try? c.stateVariables(trainableTensors: trainable, backend: backend) else { continue }
                    for prefix in lossScaled ? [0, 4] : [0] {
                        let rest = items.dropFirst(prefix)
                        if expected.count == rest.count && zip(expected, rest).allSatisfy({ $0.shape == $1.info.shape }) {
                            layout = (prefix == 4 ? KerasOptimizerState.lossScaleVariables : []) + expected.map { ($0.name, $0.slot, $0.weight) }
                            config = c
                            nonTrainable = mask
                            if prefix == 4 { iterations = try KerasOptimizerState.integerScalar(items[4].dataset, items[4].info) }
                            break search
                        }
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
                                 module: config?.module ?? "keras.optimizers",
                                 config: config?.config ?? .object(nameAttribute.map { [("name", JSONValue.string($0))] } ?? []),
                                 iterations: iterations ?? 0)
        return (tensors, info)
    }
}

/// Helpers shared by the readers and the writer for optimizer state.
enum KerasOptimizerState {
    /// A serialized optimizer whose class name may carry a registration prefix (`Custom>Adam`,
    /// `keras.optimizers>Adam`) or a module path.
    static func config(serialized: JSONValue) throws -> KerasOptimizerConfig {
        guard let cls = serialized["class_name"]?.stringValue else { return try KerasOptimizerConfig(serialized: serialized) }
        var bare = cls
        if let gt = bare.lastIndex(of: ">") { bare = String(bare[bare.index(after: gt)...]) }
        if let dot = bare.lastIndex(of: ".") { bare = String(bare[bare.index(after: dot)...]) }
        return try KerasOptimizerConfig(serialized: serialized.setting("class_name", to: .string(bare)))
    }

    /// The variables a LossScaleOptimizer (mixed precision) keeps before its inner optimizer's.
    static let lossScaleVariables: [(name: String, slot: String?, weight: String?)] = [
        ("optimizer/loss_scale/iteration", nil, nil), ("optimizer/loss_scale/learning_rate", nil, nil),
        ("optimizer/loss_scale/step_counter", nil, nil), ("optimizer/loss_scale/dynamic_scale", nil, nil),
    ]

    /// `adam`, `adam_1`, `rm_sprop`, `Adam` → the class; nil for names Keras did not generate.
    static func kind(fromName name: String) -> KerasOptimizerKind? {
        var base = Substring(name)
        if let underscore = base.lastIndex(of: "_"), !base[base.index(after: underscore)...].isEmpty,
           base[base.index(after: underscore)...].allSatisfy(\.isNumber) {
            base = base[..<underscore]
        }
        return KerasOptimizerKind(className: String(base))
    }

    /// Configurations to try for a class known only by name: Keras's defaults, and the variants
    /// that change which variables exist.
    static func guesses(kind: KerasOptimizerKind, name: String, learningRate: Float?) -> [KerasOptimizerConfig] {
        var variants: [[(String, String)]] = [[]]
        switch kind {
        case .sgd: variants.append([("momentum", "0.9")])
        case .adam, .adamW: variants.append([("amsgrad", "true")])
        case .rmsprop:
            variants += [[("momentum", "0.9")], [("centered", "true")], [("momentum", "0.9"), ("centered", "true")]]
        default: break
        }
        var common: [(String, String)] = [("name", name)]
        if let lr = learningRate, lr.isFinite { common.append(("learning_rate", "\(Double(lr))")) }
        return variants.compactMap { try? KerasOptimizerConfig(className: kind.className, overrides: common + $0) }
    }

    /// The value of an integer scalar dataset (the step counter).
    static func integerScalar(_ d: HDF5Dataset, _ info: HDF5DatasetInfo) throws -> Int64? {
        guard info.shape.isEmpty, [.int32, .int64, .uint32, .uint64, .int16, .uint16, .int8, .uint8].contains(info.dtype) else { return nil }
        let bytes = try d.read()
        var v: UInt64 = 0
        for (k, b) in bytes.enumerated() { v |= UInt64(b) << (8 * UInt64(k)) }
        switch info.dtype {
        case .int32: return Int64(Int32(truncatingIfNeeded: v))
        case .int16: return Int64(Int16(truncatingIfNeeded: v))
        case .int8: return Int64(Int8(truncatingIfNeeded: v))
        case .int64: return Int64(bitPattern: v)
        default: return v > UInt64(Int64.max) ? nil : Int64(v)
        }
    }

    static func floatScalar(_ d: HDF5Dataset, _ info: HDF5DatasetInfo) throws -> Float? {
        guard info.shape.isEmpty, info.dtype == .float32 else { return nil }
        let bytes = try d.read()
        guard bytes.count == 4 else { return nil }
        return Float(bitPattern: UInt32(bytes[0]) | UInt32(bytes[1]) << 8 | UInt32(bytes[2]) << 16 | UInt32(bytes[3]) << 24)
    }
}
