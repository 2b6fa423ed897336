import CheckpointSystem

// Writing Keras 3 files that Keras loads: `.weights.h5` (what `model.save_weights` writes) and
// `.keras` (what `model.save` writes: a ZIP of `metadata.json`, `config.json` and
// `model.weights.h5`, stored, in that order).
//
// The HDF5 layout comes from the architecture: every group Keras's saver visits
// (``KerasModelVariables/h5Groups``), in its order, each with its `name` attribute (a scalar
// variable-length UTF-8 string, as h5py writes it), the variables as contiguous datasets `0`, `1`...,
// then `optimizer/vars` (`name` = the optimizer's name) with the optimizer variables in
// `optimizer.variables` order. Tensors stream piece by piece; nothing holds a whole tensor.
//
// Differences from Keras's own bytes: libhdf5 lays the file out itself (h5py's object addresses
// differ), and the `model.weights.h5` member carries the fixed date 1980-01-01 like the two JSON
// members (Keras stamps it with the time of saving), so equal inputs give equal files.

extension KerasFiles {
    /// Writes `index` (with `payloads[i]` the data of `index.tensors[i]`) as a Keras 3 `.keras`
    /// (`format: .keras`) or `.weights.h5` (`.kerasWeightsH5`) file at `path`.
    ///
    /// The architecture is `index.architecture`, else `architecture` (for example the source's,
    /// when a weights-only index was made from a full checkpoint); without one the write is refused
    /// (`.missingPart`). Weights are matched to the architecture's variables by name (Keras 3
    /// path, Keras 2 name, with or without the model prefix, or the layout names a bare
    /// `.weights.h5` was read with); a missing, extra or differently shaped weight is
    /// `.weightsMismatch`. Optimizer tensors are written to `optimizer/vars` in the order the
    /// optimizer (``OptimizerInfo``) builds them; tensors that do not follow that layout are refused
    /// unless they are named `optimizer/vars/<i>`. For a `.keras`, an architecture without
    /// `compile_config` gets one naming the optimizer, so `load_model` restores its state.
    @discardableResult
    public static func write(_ source: any TensorSource, to path: String, format: CheckpointFormat,
                             options: WriteOptions = WriteOptions()) throws -> [String] {
        let index = source.index
        guard format == .keras || format == .kerasWeightsH5 else {
            _ = try KerasLegacyH5Format().write(source, to: path, options: options) // refuses, with the hint
            throw CheckpointError(.invalidArgument, "\(format.displayName) is not a Keras 3 format", file: path)
        }
        if let t = index.tensors.first(where: { $0.dtype.float8 != nil }) {
            throw CheckpointError(.unsupported, "tensor \"\(escapeForDisplay(t.name))\" is \(t.dtype.rawValue), which Keras's HDF5 files cannot hold (Keras stores only numpy dtypes and bfloat16)",
                                  file: path, member: t.name, hint: "keep it in a .ckpt or .safetensors file")
        }
        guard var architectureBytes = index.architecture ?? options.layoutArchitecture else {
            throw CheckpointError(.missingPart, "a \(format.displayName) file is laid out by the model's architecture, and the checkpoint has none",
                                  file: path, hint: "pass --architecture model.json (the model's to_json())")
        }
        var arch: KerasArchitecture
        var model: KerasModelVariables
        var notes: [String] = []
        let backend: KerasBackend = index.tensors.first { $0.name == ContainerSpec.iterationTensor }?.dtype == .int32 ? .jax : .tensorflow
        do {
            arch = try KerasArchitecture(bytes: architectureBytes)
            model = try arch.variables(options: KerasInferenceOptions(allowUnknownLayers: true, backend: backend))
        } catch let e as CheckpointError {
            var e = e
            e.reason = "the checkpoint's architecture cannot be used to lay out the file: " + e.reason
            throw e.located(file: path)
        }
        if format == .keras && arch.dialect == .keras2 {
            // Keras 3 cannot load a tf.keras configuration: translate it (KerasMigration.swift).
            do {
                let migrated = try KerasMigration.keras3Config(architectureBytes)
                architectureBytes = migrated.config.serializedBytes(.python)
                notes += migrated.notes
                arch = try KerasArchitecture(bytes: architectureBytes)
                model = try arch.variables(options: KerasInferenceOptions(allowUnknownLayers: true, backend: backend))
            } catch let e as CheckpointError {
                var e = e
                e.reason = "the Keras 2 (tf.keras) architecture cannot be translated to Keras 3: " + e.reason
                throw e.located(file: path)
            }
        }
        let plan = try KerasWritePlan(index: index, model: model, backend: backend, file: path)
        let total = index.tensors.reduce(UInt64(0)) { $0 + UInt64($1.byteCount ?? 0) }

        let out = try AtomicOutputFile(destination: path, overwrite: options.overwrite, inputs: options.inputs)
        switch format {
        case .kerasWeightsH5:
            // libhdf5 writes the temporary file itself; the output file renames it into place.
            try writeHDF5(plan, source: source, to: out.temporaryPath, displayName: path, total: total, options: options)
        default:
            let config = try configJSON(architectureBytes, arch: arch, index: index, plan: plan, file: path)
            let (dir, _) = splitPath(path)
            let scratch = try ScratchFile(directory: dir, displayName: path, forLibHDF5: true)
            defer { scratch.remove() }
            try writeHDF5(plan, source: source, to: scratch.path, displayName: path + " (member \(weightsMember))",
                          total: total, options: options)
            var zip = KerasZipWriter(out: out)
            try zip.add(name: metadataMember, bytes: metadataJSON(index.metadata))
            try zip.add(name: configMember, bytes: config)
            try zip.add(name: weightsMember, file: ReadableFile(path: scratch.path))
            try zip.finish()
        }
        try out.commit()
        return notes
    }

    /// Writes `index` with `payloads[i]` the data of `index.tensors[i]` (a ``ComposedSource``);
    /// `architecture` lays the file out when the index carries none.
    public static func write(_ index: CheckpointIndex, payloads: [TensorPayload], to path: String, format: CheckpointFormat,
                             architecture: [UInt8]? = nil, options: WriteOptions = WriteOptions()) throws {
        var options = options
        if options.layoutArchitecture == nil { options.layoutArchitecture = architecture }
        try write(ComposedSource(index: index, payloads: payloads, path: path, format: format), to: path, format: format, options: options)
    }

    static func splitPath(_ path: String) -> (String, String) {
        guard let slash = path.lastIndex(of: "/") else { return (".", path) }
        let dir = path[..<slash].isEmpty ? "/" : String(path[..<slash])
        return (dir, String(path[path.index(after: slash)...]))
    }

    /// `metadata.json` as Keras writes it (`keras_version`, `date_saved`, Python's `json.dumps`
    /// spacing), followed by the checkpoint's other metadata (Keras ignores extra keys).
    static func metadataJSON(_ metadata: JSONValue) -> [UInt8] {
        var version = writtenKerasVersion
        if let v = metadata["keras_version"]?.stringValue, v.hasPrefix("3.") { version = v }
        let date = metadata["date_saved"]?.stringValue ?? currentDate()
        var members: [(String, JSONValue)] = [("keras_version", .string(version)), ("date_saved", .string(date))]
        for (k, v) in metadata.objectValue ?? [] where k != "keras_version" && k != "date_saved" { members.append((k, v)) }
        return JSONValue.object(members).serializedBytes(.python)
    }

    /// Local time as Keras formats it (`%Y-%m-%d@%H:%M:%S`).
    static func currentDate() -> String { Clock.localTimestamp() ?? "1980-01-01@00:00:00" }

    /// `config.json`: the architecture as it is, unless optimizer state is written and the
    /// architecture's `compile_config` does not name that optimizer (then it is added or replaced,
    /// so `load_model` builds the optimizer the state belongs to).
    static func configJSON(_ bytes: [UInt8], arch: KerasArchitecture, index: CheckpointIndex, plan: KerasWritePlan, file: String) throws -> [UInt8] {
        guard plan.hasOptimizer, let o = index.optimizer else { return bytes }
        let serialized = JSONValue.object([("module", .string(o.module)), ("class_name", .string(o.className)), ("config", o.config),
                                           ("registered_name", .null)])
        if let cc = arch.json["compile_config"], cc.objectValue != nil, !(cc.objectValue ?? []).isEmpty {
            if let current = cc["optimizer"], current["class_name"]?.stringValue == o.className, current["config"] == o.config {
                return bytes
            }
            return arch.json.setting("compile_config", to: cc.setting("optimizer", to: serialized)).serializedBytes(.python)
        }
        let compile = JSONValue.object([
            ("optimizer", serialized), ("loss", .null), ("loss_weights", .null), ("metrics", .null), ("weighted_metrics", .null),
            ("run_eagerly", .bool(false)), ("steps_per_execution", .number(1)), ("jit_compile", .bool(false)),
        ])
        return arch.json.setting("compile_config", to: compile).serializedBytes(.python)
    }

    static func writeHDF5(_ plan: KerasWritePlan, source: any TensorSource, to path: String, displayName: String,
                          total: UInt64, options: WriteOptions) throws {
        let index = source.index
        let h5 = try HDF5File.create(path: path, displayName: displayName)
        let root = try h5.root()
        var done: UInt64 = 0
        for g in plan.groups {
            let group = try root.requireGroup(g.path)
            try group.setAttribute("name", string: g.name)
            for (name, t) in g.datasets {
                let info = index.tensors[t]
                let dataset = try group.createDataset(name, dtype: info.dtype, shape: info.shape)
                try stream(source, t, into: dataset, file: displayName)
                done += UInt64(info.byteCount ?? 0)
                options.progress?(done, total)
            }
        }
        try h5.close()
    }

    /// Streams tensor `t` of `source` into a dataset in pieces of about ``ContainerSpec/chunkSize`` bytes
    /// (fresh optimizer state comes as pieces of its fill value, see ``ComposedSource``).
    static func stream(_ source: any TensorSource, _ t: Int, into dataset: HDF5Dataset, file: String) throws {
        let info = source.index.tensors[t]
        let stager = ElementStager(dataset: dataset, info: info, file: file)
        try source.readTensor(t) { try stager.push($0) }
        try stager.finish()
    }
}

/// Collects bytes into whole elements and writes them to a dataset in bounded pieces.
final class ElementStager {
    let dataset: HDF5Dataset
    let item: Int
    let total: Int
    let name: String
    let file: String
    private let buffer: UnsafeMutableRawBufferPointer
    private var fill = 0
    private var next = 0

    init(dataset: HDF5Dataset, info: TensorInfo, file: String) {
        self.dataset = dataset
        self.item = info.dtype.itemSize
        self.total = info.elementCount ?? 0
        self.name = info.name
        self.file = file
        let capacity = max(item, (ContainerSpec.chunkSize / item) * item)
        buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: capacity, alignment: 16)
    }

    deinit { buffer.deallocate() }

    func push(_ bytes: UnsafeRawBufferPointer) throws {
        var rest = bytes
        while !rest.isEmpty {
            let n = min(buffer.count - fill, rest.count)
            UnsafeMutableRawBufferPointer(rebasing: buffer[fill..<(fill + n)]).copyMemory(from: UnsafeRawBufferPointer(rebasing: rest[0..<n]))
            fill += n
            rest = UnsafeRawBufferPointer(rebasing: rest[n...])
            if fill == buffer.count { try flush() }
        }
    }

    private func flush() throws {
        let elements = fill / item
        guard elements > 0 else { return }
        guard next + elements <= total else {
            throw CheckpointError(.corrupt, "the tensor's source gives more data than its shape holds", file: file, member: name)
        }
        try dataset.write(elements: next..<(next + elements), from: UnsafeRawBufferPointer(rebasing: buffer[0..<(elements * item)]))
        next += elements
        let left = fill - elements * item
        if left > 0 {
            UnsafeMutableRawBufferPointer(rebasing: buffer[0..<left]).copyMemory(from: UnsafeRawBufferPointer(rebasing: buffer[(elements * item)..<fill]))
        }
        fill = left
    }

    func finish() throws {
        try flush()
        guard fill == 0, next == total else {
            throw CheckpointError(.corrupt, "the tensor's source gives \(next * item + fill) bytes where its shape needs \(total * item)", file: file, member: name)
        }
    }
}

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
        var lossScaled = false
        var config: KerasOptimizerConfig?
        if let o = index.optimizer {
            config = try? KerasOptimizerState.config(serialized: .object([("class_name", .string(o.className)), ("config", o.config)]))
        }
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
            let expected = try config.stateVariables(trainableTensors: trainable, backend: backend)
            func key(slot: String?, weight: String?, name: String) -> String {
                if let slot, let weight { return "slot " + slot + " " + (mv.variable(named: weight)?.path ?? weight) }
                return "name " + name
            }
            // A LossScaleOptimizer's own scalars (mixed precision) come before the inner optimizer's.
            let lossScale = KerasOptimizerState.lossScaleVariables.map(\.name)
            let scaled = optimizerTensors.prefix(lossScale.count).map { index.tensors[$0].name } == lossScale
            var byKey: [ByteName: Int] = [:]
            for t in optimizerTensors.dropFirst(scaled ? lossScale.count : 0) {
                let info = index.tensors[t]
                byKey[ByteName(key(slot: info.slot, weight: info.weight, name: info.name))] = t
            }
            let matched = expected.map { byKey[ByteName(key(slot: $0.role == .slot ? $0.slot : nil, weight: $0.weight, name: $0.name))] }
            let inner = optimizerTensors.count - (scaled ? lossScale.count : 0)
            if matched.allSatisfy({ $0 != nil }) && Set(matched.compactMap { $0 }).count == inner && expected.count == inner {
                let list = matched.compactMap { $0 }
                for (e, t) in zip(expected, list) where index.tensors[t].shape != e.shape {
                    throw CheckpointError(.weightsMismatch,
                                          "optimizer tensor \"\(escapeForDisplay(index.tensors[t].name))\" is \(Keras3Reader.describe(index.tensors[t].dtype, index.tensors[t].shape)) but \(config.className) builds it \(Keras3Reader.describe(e.dtype, e.shape)) for this model",
                                          file: file, hint: hint)
                }
                order = (scaled ? Array(optimizerTensors.prefix(lossScale.count)) : []) + list
                lossScaled = scaled
            }
        }
        if order == nil {
            // Tensors that kept their HDF5 names are written back in their order.
            let names = optimizerTensors.map { index.tensors[$0].name }
            if names == (0..<names.count).map({ "optimizer/vars/\($0)" }) { order = optimizerTensors }
        }
        guard let order else {
            let cls = index.optimizer?.className ?? "the optimizer"
            throw CheckpointError(.weightsMismatch,
                                  "the checkpoint's \(optimizerTensors.count) optimizer tensors are not the state Keras's \(cls) builds for this model, so Keras could not load them",
                                  file: file, hint: "drop the optimizer state (ckpt strip), or keep it in a .ckpt")
        }
        let name = lossScaled ? "loss_scale_optimizer" : index.optimizer?.config["name"]?.stringValue ?? config?.name ?? "optimizer"
        groups.append(Group(path: "optimizer/vars", name: name, datasets: order.enumerated().map { (String($0.offset), $0.element) }))
        if lossScaled {
            // Keras also saves the inner optimizer as the LossScaleOptimizer's child.
            let inner = order.dropFirst(KerasOptimizerState.lossScaleVariables.count)
            groups.append(Group(path: "optimizer/inner_optimizer/vars", name: index.optimizer?.config["name"]?.stringValue ?? config?.name ?? "optimizer",
                                datasets: inner.enumerated().map { (String($0.offset), $0.element) }))
        }
    }

    static func numericOrder(_ datasets: [(name: String, tensor: Int)]) -> [(name: String, tensor: Int)] {
        datasets.sorted { (KerasH5Tree.decimal($0.name) ?? Int.max, $0.name) < (KerasH5Tree.decimal($1.name) ?? Int.max, $1.name) }
    }
}

/// The ZIP of a `.keras` file, as Python's `zipfile` writes it for Keras: stored members, version
/// 2.0 made on Unix, permissions 0600, no extra fields below the ZIP64 limit (2^31 - 1, Python's).
struct KerasZipWriter {
    let out: AtomicOutputFile
    private var central: [(name: [UInt8], crc: UInt32, size: UInt64, offset: UInt64, zip64: Bool)] = []
    static let zip64Limit: UInt64 = (1 << 31) - 1

    init(out: AtomicOutputFile) {
        self.out = out
    }

    mutating func add(name: String, bytes: [UInt8]) throws {
        let crc = crc32(bytes)
        try header(name: name, crc: crc, size: UInt64(bytes.count))
        try out.append(bytes)
    }

    /// Adds a whole file, copied in the kernel where possible (its CRC-32 is computed first).
    mutating func add(name: String, file: ReadableFile) throws {
        var crc: UInt32 = 0
        var at: UInt64 = 0
        var buffer = [UInt8](repeating: 0, count: 4 << 20)
        while at < file.size {
            let n = Int(min(UInt64(buffer.count), file.size - at))
            try buffer.withUnsafeMutableBytes { try file.read(at: at, into: UnsafeMutableRawBufferPointer(rebasing: $0[0..<n]), what: "\(name) data") }
            crc = buffer.withUnsafeBytes { crc32(UnsafeRawBufferPointer(rebasing: $0[0..<n]), continuing: crc) }
            at += UInt64(n)
        }
        try header(name: name, crc: crc, size: file.size)
        try out.appendCopy(from: file, at: 0, count: file.size)
    }

    private mutating func header(name: String, crc: UInt32, size: UInt64) throws {
        let nameBytes = Array(name.utf8)
        let offset = out.offset
        // Python decides ZIP64 for a member of known size when size * 1.05 exceeds the limit.
        let zip64 = Double(size) * 1.05 > Double(Self.zip64Limit)
        try out.append(zipLocalHeader(name: name, crc: crc, csize: size, usize: size, method: 0, zip64: zip64))
        central.append((nameBytes, crc, size, offset, zip64))
    }

    func finish() throws {
        let start = out.offset
        var cd: [UInt8] = []
        for c in central {
            var fields: [UInt64] = []
            if c.size > Self.zip64Limit { fields += [c.size, c.size] }
            if c.offset > Self.zip64Limit { fields.append(c.offset) }
            let version: UInt16 = fields.isEmpty && !c.zip64 ? 20 : 45
            cd.appendLE(UInt32(0x0201_4B50))
            cd.appendLE(UInt16(0x0300) | version) // made by: Unix, version 2.0 (4.5 with ZIP64)
            cd.appendLE(version)
            cd.appendLE(UInt16(c.name.contains { $0 >= 0x80 } ? 0x0800 : 0))
            cd.appendLE(UInt16(0))
            cd.appendLE(ContainerSpec.dosTime)
            cd.appendLE(ContainerSpec.dosDate)
            cd.appendLE(c.crc)
            let big = c.size > Self.zip64Limit
            cd.appendLE(big ? UInt32.max : UInt32(c.size))
            cd.appendLE(big ? UInt32.max : UInt32(c.size))
            cd.appendLE(UInt16(c.name.count))
            cd.appendLE(UInt16(fields.isEmpty ? 0 : 4 + 8 * fields.count))
            cd.appendLE(UInt16(0)) // comment
            cd.appendLE(UInt16(0)) // disk
            cd.appendLE(UInt16(0)) // internal attributes
            cd.appendLE(UInt32(0o600) << 16)
            cd.appendLE(c.offset > Self.zip64Limit ? UInt32.max : UInt32(c.offset))
            cd += c.name
            if !fields.isEmpty {
                cd.appendLE(UInt16(1))
                cd.appendLE(UInt16(8 * fields.count))
                for f in fields { cd.appendLE(f) }
            }
        }
        try out.append(cd)
        let size = UInt64(cd.count)
        let count = UInt64(central.count)
        let zip64 = count > 0xFFFF || start > Self.zip64Limit || size > Self.zip64Limit
        try out.append(zipEndRecords(entries: count, directorySize: size, directoryStart: start, zip64At: zip64 ? out.offset : nil,
                                     zip64MadeBy: 45))
    }
}
