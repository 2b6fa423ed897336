// Keras 2 / tf.keras HDF5 files: `model.save("x.h5")` (root attributes `model_config`,
// `training_config`, `keras_version`, `backend`; weights under `model_weights/<layer>/<weight name>`
// listed by the `layer_names` / `weight_names` attributes; optimizer state under
// `optimizer_weights/<name>` listed by its `weight_names`) and `model.save_weights("x.h5")` (the same
// layer groups at the root). Mapping rules: see KerasFiles.swift.

struct KerasLegacyReader {
    let tree: KerasH5Tree
    let explicitArchitecture: [UInt8]?

    private struct LegacyWeight {
        var layer: String
        var name: String
        var path: String
        var dataset: HDF5Dataset
        var info: HDF5DatasetInfo
        var bareName: String { KerasNames.stripTensorSuffix(name) }
    }

    func read() throws -> KerasReadResult {
        var result = KerasReadResult()
        let root = try tree.file.root()
        let weightsRoot = tree.isGroup("model_weights") && tree.exists("model_weights") ? "model_weights" : ""
        let modelConfig = try root.stringAttribute("model_config")
        let trainingConfig = try root.stringAttribute("training_config")
        var metadata: [(String, JSONValue)] = []
        for key in ["keras_version", "backend"] {
            let value = try root.stringAttribute(key) ?? (weightsRoot.isEmpty ? nil : try tree.stringAttribute(key, at: weightsRoot))
            if let value { metadata.append((key, .string(value))) }
        }
        if let text = trainingConfig, let tc = try? JSONParser.parse(Array(text.utf8)), tc.objectValue != nil {
            // Loss and metrics, for a .keras made from this file (the optimizer travels on its own).
            metadata.append((KerasFiles.trainingConfigKey, tc.removing("optimizer_config")))
        }
        result.metadata = .object(metadata)
        result.producer = (metadata.first { $0.0 == "keras_version" }?.1.stringValue).map { "keras " + $0 }
        let architecture = explicitArchitecture ?? modelConfig.map { Array($0.utf8) }
        result.architecture = architecture

        // The weights as the file lists them.
        guard let layerNames = try attributeList("layer_names", at: weightsRoot) else {
            throw tree.error(.invalidHDF5, "the Keras 2 file has no layer_names attribute", at: weightsRoot.isEmpty ? "/" : weightsRoot)
        }
        var legacy: [LegacyWeight] = []
        for layer in layerNames {
            let group = KerasH5Tree.join(weightsRoot, layer)
            guard tree.isGroup(group) && tree.exists(group) else {
                throw tree.error(.invalidHDF5, "layer_names lists \"\(escapeForDisplay(layer))\" but the file has no group for it", at: group)
            }
            for name in try attributeList("weight_names", at: group) ?? [] {
                let path = KerasH5Tree.join(group, name)
                guard tree.isDataset(path) else {
                    throw tree.error(.invalidHDF5, "weight_names of layer \"\(escapeForDisplay(layer))\" lists \"\(escapeForDisplay(name))\" but the file has no dataset for it", at: path)
                }
                let (d, info) = try tree.dataset(path)
                legacy.append(LegacyWeight(layer: layer, name: name, path: path, dataset: d, info: info))
            }
        }

        var model: KerasModelVariables?
        if let architecture {
            do {
                let arch = try KerasArchitecture(bytes: architecture)
                model = try arch.variables(options: KerasInferenceOptions(allowUnknownLayers: true, useRecordedShapes: true))
            } catch let e as CheckpointError {
                if explicitArchitecture != nil { throw e.located(file: "--architecture") }
                result.notes.append("the model in model_config could not be interpreted (\(e.description)); tensors are named after the file's weight names")
            }
        } else {
            result.notes.append("no architecture was given: tensors are named after the file's weight names (dense/kernel) and marked trainable; pass --architecture model.json for Keras 3 names and trainable flags")
        }

        var weights: [KerasReadTensor]
        var renames: [ByteName: String] = [:]
        if let model {
            weights = try map(legacy, layerNames: layerNames, model: model, weightsRoot: weightsRoot, notes: &result.notes, renames: &renames)
        } else {
            weights = legacy.map { w in
                KerasReadTensor(info: TensorInfo(name: w.bareName, dtype: w.info.dtype, shape: w.info.shape), datasetPath: w.path,
                                storage: .dataset(w.dataset, w.info.dtype, address: KerasH5Tree.address(w.info)))
            }
        }
        result.tensors = weights
        let (optimizerTensors, optimizer) = try readOptimizer(trainingConfig: trainingConfig, model: model, weights: weights, renames: renames,
                                                              notes: &result.notes)
        result.tensors += optimizerTensors
        result.optimizer = optimizer
        return result
    }

    /// A string-list attribute, also in the chunked form Keras 2 uses for long lists
    /// (`layer_names0`, `layer_names1`, ...). nil when absent.
    private func attributeList(_ name: String, at group: String) throws -> [String]? {
        guard let object = try tree.file.object(group.isEmpty ? "/" : group) else { return nil }
        if let list = try object.stringArrayAttribute(name) { return list }
        var out: [String] = []
        var k = 0
        while let chunk = try object.stringArrayAttribute("\(name)\(k)") {
            out += chunk
            k += 1
        }
        return k > 0 ? out : nil
    }

    // MARK: Weights through the architecture

    private func map(_ legacy: [LegacyWeight], layerNames: [String], model mv: KerasModelVariables, weightsRoot: String,
                     notes: inout [String], renames: inout [ByteName: String]) throws -> [KerasReadTensor] {
        let hint = explicitArchitecture != nil ? "check that --architecture describes the model these weights were saved from"
            : "the file's model_config and its weights disagree"
        var assigned: [Int: LegacyWeight] = [:]
        var unknownTensors: [ByteName: [KerasReadTensor]] = [:]
        let unknownNames = Set(mv.unknownLayers.map { ByteName($0.name) })
        // tf.keras names layers from a per-process counter (dense_6 in one process, dense in
        // another); its load_weights then matches layers with weights by their order. So does this.
        let archLayers = mv.variables.reduce(into: [String]()) { l, v in if !l.contains(where: { $0.sameBytes(v.layer) }) { l.append(v.layer) } }
        let fileLayers = layerNames.filter { l in legacy.contains { $0.layer.sameBytes(l) } }
        if let missing = fileLayers.first(where: { f in !archLayers.contains(where: { $0.sameBytes(f) }) && !unknownNames.contains(ByteName(f)) }), mv.unknownLayers.isEmpty {
            guard fileLayers.count == archLayers.count else {
                throw tree.error(.weightsMismatch,
                                 "the architecture has no layer \(escapeForDisplay(missing)), and the layers cannot be matched by their order either: the file has \(fileLayers.count) layers with weights (\(fileLayers.map(escapeForDisplay).joined(separator: ", "))), the architecture \(archLayers.count) (\(archLayers.joined(separator: ", ")))",
                                 at: KerasH5Tree.join(weightsRoot, missing), hint: hint)
            }
            for (fileLayer, archLayer) in zip(fileLayers, archLayers) {
                let entries = legacy.filter { $0.layer.sameBytes(fileLayer) }
                let candidates = mv.variables.filter { $0.layer.sameBytes(archLayer) }
                guard entries.count == candidates.count, zip(candidates, entries).allSatisfy({ $0.shape == $1.info.shape }) else {
                    let have = entries.map { "\($0.name) \(Keras3Reader.describe($0.info.dtype, $0.info.shape))" }.joined(separator: ", ")
                    let want = candidates.map { "\($0.path) \(Keras3Reader.describe($0.dtype, $0.shape))" }.joined(separator: ", ")
                    throw tree.error(.weightsMismatch,
                                     "the architecture has no layer \(escapeForDisplay(missing)); matched by order, the file's layer \(escapeForDisplay(fileLayer)) [\(have)] does not fit the architecture's \(archLayer) [\(want)]",
                                     at: KerasH5Tree.join(weightsRoot, fileLayer), hint: hint)
                }
                for (v, w) in zip(candidates, entries) { assigned[v.index] = w }
            }
            for (a, b) in zip(fileLayers, archLayers) { renames[ByteName(a)] = b }
            let renamed = zip(fileLayers, archLayers).filter { !$0.sameBytes($1) }.map { "\(escapeForDisplay($0)) → \($1)" }
            notes.append("the file's layer names differ from the architecture's; its layers with weights were matched by their order, as tf.keras load_weights does: " + renamed.joined(separator: ", "))
            return try mv.variables.map { v in
                guard let w = assigned[v.index] else {
                    throw tree.error(.weightsMismatch, "the architecture's weight \"\(v.path)\" has no dataset in the file", at: weightsRoot, hint: hint)
                }
                return KerasReadTensor(info: TensorInfo(name: v.path, dtype: w.info.dtype, shape: w.info.shape, role: .weight, trainable: v.trainable),
                                       datasetPath: w.path, storage: .dataset(w.dataset, w.info.dtype, address: KerasH5Tree.address(w.info)))
            }
        }
        for layer in layerNames {
            let entries = legacy.filter { $0.layer.sameBytes(layer) }
            let group = KerasH5Tree.join(weightsRoot, layer)
            if unknownNames.contains(ByteName(layer)) {
                unknownTensors[ByteName(layer)] = entries.map { w in
                    KerasReadTensor(info: TensorInfo(name: w.bareName, dtype: w.info.dtype, shape: w.info.shape), datasetPath: w.path,
                                    storage: .dataset(w.dataset, w.info.dtype, address: KerasH5Tree.address(w.info)))
                }
                continue
            }
            let candidates = mv.variables.filter { $0.layer == layer }
            // By name first (dense/kernel:0 is the Keras 2 name of dense/kernel), else by position.
            let byName = entries.map { mv.variable(named: $0.name) }
            let named = byName.compactMap { $0 }
            if named.count == entries.count, Set(named.map(\.index)).count == named.count,
               named.allSatisfy({ v in candidates.contains { $0.index == v.index } }),
               zip(named, entries).allSatisfy({ $0.shape == $1.info.shape }) {
                for (v, w) in zip(named, entries) { assigned[v.index] = w }
                continue
            }
            if entries.count == candidates.count, zip(candidates, entries).allSatisfy({ $0.shape == $1.info.shape }) {
                for (v, w) in zip(candidates, entries) { assigned[v.index] = w }
                continue
            }
            let have = entries.map { "\($0.name) \(Keras3Reader.describe($0.info.dtype, $0.info.shape))" }.joined(separator: ", ")
            let want = candidates.map { "\($0.path) \(Keras3Reader.describe($0.dtype, $0.shape))" }.joined(separator: ", ")
            throw tree.error(.weightsMismatch,
                             "the file holds \(entries.count) weight\(entries.count == 1 ? "" : "s") for layer \"\(escapeForDisplay(layer))\" [\(have)], the architecture gives it \(candidates.count) [\(want)]",
                             at: group, hint: hint)
        }
        for v in mv.variables where assigned[v.index] == nil {
            throw tree.error(.weightsMismatch,
                             "the architecture's weight \"\(v.path)\" \(Keras3Reader.describe(v.dtype, v.shape)) of layer \"\(v.layer)\" has no dataset in the file",
                             at: KerasH5Tree.join(weightsRoot, v.layer), hint: hint)
        }
        func tensor(_ v: KerasVariable) throws -> KerasReadTensor {
            guard let w = assigned[v.index] else {
                throw tree.error(.weightsMismatch, "the architecture's weight \"\(v.path)\" has no dataset in the file", at: weightsRoot, hint: hint)
            }
            return KerasReadTensor(info: TensorInfo(name: v.path, dtype: w.info.dtype, shape: w.info.shape, role: .weight, trainable: v.trainable),
                                   datasetPath: w.path, storage: .dataset(w.dataset, w.info.dtype, address: KerasH5Tree.address(w.info)))
        }
        if unknownTensors.isEmpty { return try mv.variables.map(tensor) }
        let list = mv.unknownLayers.map { "\"\($0.name)\" (\($0.className))" }.joined(separator: ", ")
        notes.append("the variables of \(list) are not modelled: the file's weights for them keep their Keras 2 names and are marked trainable")
        var out: [KerasReadTensor] = []
        var placed = Set<Int>()
        for layer in layerNames {
            if let u = unknownTensors[ByteName(layer)] { out += u; continue }
            for v in mv.variables where v.layer == layer && placed.insert(v.index).inserted { out.append(try tensor(v)) }
        }
        for v in mv.variables where placed.insert(v.index).inserted { out.append(try tensor(v)) }
        return out
    }

    // MARK: Optimizer

    private func readOptimizer(trainingConfig: String?, model: KerasModelVariables?, weights: [KerasReadTensor], renames: [ByteName: String],
                               notes: inout [String]) throws -> ([KerasReadTensor], OptimizerInfo?) {
        guard tree.isGroup("optimizer_weights") && tree.exists("optimizer_weights"),
              let names = try attributeList("weight_names", at: "optimizer_weights"), !names.isEmpty else { return ([], nil) }
        var items: [(name: String, bare: String, path: String, dataset: HDF5Dataset, info: HDF5DatasetInfo)] = []
        for name in names {
            let path = KerasH5Tree.join("optimizer_weights", name)
            guard tree.isDataset(path) else {
                throw tree.error(.invalidHDF5, "optimizer_weights lists \"\(escapeForDisplay(name))\" but the file has no dataset for it", at: path)
            }
            let (d, info) = try tree.dataset(path)
            items.append((name, KerasNames.stripTensorSuffix(name), path, d, info))
        }
        func isIteration(_ bare: String) -> Bool {
            bare == "iteration" || bare == "iter" || bare.hasSuffix("/iter") || bare.hasSuffix("/iteration") || bare == "iterations"
        }
        var iterations: Int64 = 0
        if let it = items.first(where: { isIteration($0.bare) }) {
            iterations = try KerasOptimizerState.integerScalar(it.dataset, it.info) ?? 0
        }

        var config: KerasOptimizerConfig?
        var className: String?
        if let text = trainingConfig {
            do {
                let tc = try JSONParser.parse(Array(text.utf8))
                if let serialized = tc["optimizer_config"], !serialized.isNull {
                    className = serialized["class_name"]?.stringValue
                    config = try KerasOptimizerState.config(serialized: serialized)
                }
            } catch let e as CheckpointError {
                notes.append("the optimizer in training_config is not one whose state the toolkit models (\(e.reason)); its variables keep their Keras 2 names")
            }
        }

        // Keras 2 names its slots `<Opt>/<slot>/<weight>:0` (tf.keras 2.11+) or `<Opt>/<weight>/<slot>:0`
        // (older optimizers); each is matched to the Keras 3 slot it corresponds to.
        var mapped: [KerasReadTensor]?
        if let config, let model {
            let trainable = weights.filter { $0.info.trainable }.map(\.info)
            let backend: KerasBackend = items.first(where: { isIteration($0.bare) })?.info.dtype == .int32 ? .jax : .tensorflow
            if let expected = try? config.stateVariables(trainableTensors: trainable, backend: backend) {
                var byExpected: [Int: Int] = [:]
                var ok = true
                for (k, item) in items.enumerated() {
                    var found: Int?
                    // Keras 3's own writer of this layout names them by their Keras 3 path.
                    let rest = item.bare.split(separator: "/", maxSplits: 1).dropFirst().first.map(String.init)
                    if let e = expected.indices.first(where: { e in
                        byExpected[e] == nil && expected[e].shape == item.info.shape
                            && (expected[e].kerasPath == item.bare || rest.map { expected[e].kerasPath.hasSuffix("/" + $0) } == true)
                    }) {
                        found = e
                    } else if isIteration(item.bare) {
                        found = expected.firstIndex { $0.role == .iteration }
                    } else {
                        for (slot, fileWeight) in Self.parses(item.bare) {
                            var weight = fileWeight
                            if let slash = weight.firstIndex(of: "/"), let to = renames[ByteName(String(weight[..<slash]))] {
                                weight = to + weight[slash...]
                            }
                            guard let v = model.variable(named: weight) else { continue }
                            let slots = Self.keras3Slots(slot, kind: config.kind)
                            if let e = expected.indices.first(where: { expected[$0].role == .slot && byExpected[$0] == nil && expected[$0].weight == v.path
                                && slots.contains(expected[$0].slot ?? "") && expected[$0].shape == item.info.shape }) {
                                found = e
                                break
                            }
                        }
                    }
                    guard let e = found, byExpected[e] == nil else { ok = false; break }
                    byExpected[e] = k
                }
                if ok {
                    var out: [KerasReadTensor] = []
                    for (e, v) in expected.enumerated() {
                        if let k = byExpected[e] {
                            let item = items[k]
                            out.append(KerasReadTensor(info: TensorInfo(name: v.name, dtype: item.info.dtype, shape: item.info.shape, role: .optimizer,
                                                                        slot: v.slot, weight: v.weight),
                                                       datasetPath: item.path, storage: .dataset(item.dataset, item.info.dtype, address: KerasH5Tree.address(item.info))))
                        } else if v.role == .learningRate, let lr = config.learningRate {
                            // Keras 2 does not save the learning rate variable; Keras 3 sets it from the config.
                            let bits = Float(lr).bitPattern
                            out.append(KerasReadTensor(info: v.tensorInfo, datasetPath: nil,
                                                       storage: .bytes([UInt8(bits & 0xFF), UInt8(bits >> 8 & 0xFF), UInt8(bits >> 16 & 0xFF), UInt8(bits >> 24)])))
                        } else {
                            ok = false
                            break
                        }
                    }
                    if ok { mapped = out }
                }
            }
            if mapped == nil {
                notes.append("the Keras 2 optimizer variables could not all be matched to the state Keras 3's \(config.className) builds for this model; they keep their Keras 2 names under optimizer/legacy/")
            }
        } else if model == nil {
            notes.append("without an architecture the optimizer's slots cannot be matched to weights: its variables keep their Keras 2 names under optimizer/legacy/")
        }
        let tensors = mapped ?? items.map { item in
            KerasReadTensor(info: TensorInfo(name: "optimizer/legacy/" + item.bare, dtype: item.info.dtype, shape: item.info.shape, role: .optimizer),
                            datasetPath: item.path, storage: .dataset(item.dataset, item.info.dtype, address: KerasH5Tree.address(item.info)))
        }
        let info = OptimizerInfo(className: config?.className ?? className ?? "unknown", module: config?.module ?? "keras.optimizers",
                                 config: config?.config ?? .object([]), iterations: iterations)
        return (tensors, info)
    }

    /// The (slot, weight) readings of a Keras 2 optimizer variable name, new style first.
    static func parses(_ bare: String) -> [(String, String)] {
        let parts = bare.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        guard parts.count >= 3 else { return [] }
        var out: [(String, String)] = []
        out.append((parts[1], parts[2...].joined(separator: "/")))               // Adam/m/dense/kernel
        out.append((parts[parts.count - 1], parts[1..<(parts.count - 1)].joined(separator: "/"))) // Adam/dense/kernel/m
        return out
    }

    /// Keras 3 slot names a Keras 2 slot name may correspond to (the class's registry entry says
    /// where they differ).
    static func keras3Slots(_ legacy: String, kind: KerasOptimizerKind) -> [String] {
        [kind.entry.keras2Slots[legacy] ?? legacy]
    }
}
