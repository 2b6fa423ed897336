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
    /// `compile_config` gets one naming the optimizer, so `load_model` restores its state; without
    /// optimizer state, `compile_config` is left empty, as Keras writes it for a model saved
    /// before `compile()`, so `load_model` builds no optimizer to restore and warns about nothing.
    /// Returns notes on what was left out.
    @discardableResult
    public static func write(_ source: any TensorSource, to path: String, format: CheckpointFormat,
                             options: WriteOptions = WriteOptions()) throws -> [String] {
        let index = source.index
        var notes: [String] = []
        guard format == .keras || format == .kerasWeightsH5 else {
            _ = try KerasLegacyH5Format().write(source, to: path, options: options) // refuses, with the hint
            throw CheckpointError(.invalidArgument, "\(format.displayName) is not a Keras 3 format", file: path)
        }
        let (architectureBytes, arch, plan) = try layout(source, path: path, format: format, options: options)
        let total = index.tensors.reduce(UInt64(0)) { $0 + UInt64($1.byteCount ?? 0) }

        let out = try AtomicOutputFile(destination: path, overwrite: options.overwrite, inputs: options.inputs)
        switch format {
        case .kerasWeightsH5:
            // libhdf5 writes the temporary file itself; the output file renames it into place.
            try writeHDF5(plan, source: source, to: out.temporaryPath, displayName: path, total: total, options: options)
        default:
            // A Keras 2 (or Keras 3 legacy .h5) model_config is translated to what Keras 3 reads.
            var configArch = arch
            var configBytes = architectureBytes
            if KerasMigration.needsTranslation(arch.json) {
                var doc = arch.json
                if doc["compile_config"] == nil, doc["training_config"] == nil, let tc = index.metadata[trainingConfigKey] {
                    doc = doc.setting("training_config", to: tc)
                }
                do {
                    let migrated = try KerasMigration.keras3Config(json: doc)
                    notes += migrated.notes
                    configBytes = migrated.config.serializedBytes(.python)
                    configArch = try KerasArchitecture(json: migrated.config)
                } catch let e as CheckpointError {
                    throw e.located(file: path)
                }
            }
            let config = try configJSON(configBytes, arch: configArch, index: index, plan: plan, file: path)
            if !plan.hasOptimizer, let cc = configArch.json["compile_config"]?.objectValue, !cc.isEmpty {
                notes.append("the compile configuration (optimizer, loss, metrics) was left out of config.json: without optimizer state, a .keras loads uncompiled, as Keras saves a model before compile()")
            }
            let (dir, _) = splitPath(path)
            let scratch = try ScratchFile(directory: dir, displayName: path, forLibHDF5: true)
            defer { scratch.remove() }
            try writeHDF5(plan, source: source, to: scratch.path, displayName: path + " (member \(weightsMember))",
                          total: total, options: options)
            var zip = KerasZipWriter(out: out)
            // The producer's version is replaced (Keras 3 reads a .keras): said, even for a migration.
            if let v = index.metadata["keras_version"]?.stringValue, !v.hasPrefix("3.") {
                notes.append("the metadata's keras_version \"\(escapeForDisplay(v))\" was written as \"\(writtenKerasVersion)\": a .keras file is read by Keras 3")
            }
            try zip.add(name: metadataMember, bytes: metadataJSON(index.metadata))
            try zip.add(name: configMember, bytes: config)
            try zip.add(name: weightsMember, file: ReadableFile(path: scratch.path))
            try zip.finish()
        }
        try out.commit()
        return notes
    }

    /// The architecture that lays out a Keras 3 file for `source` and the plan of its datasets.
    static func layout(_ source: any TensorSource, path: String, format: CheckpointFormat,
                       options: WriteOptions) throws -> ([UInt8], KerasArchitecture, KerasWritePlan) {
        let index = source.index
        if let t = index.tensors.first(where: { $0.dtype.float8 != nil }) {
            throw CheckpointError(.unsupported, "tensor \"\(escapeForDisplay(t.name))\" is \(t.dtype.rawValue), which Keras's HDF5 files cannot hold (Keras stores only numpy dtypes and bfloat16)",
                                  file: path, member: t.name, hint: "keep it in a .ckpt or .safetensors file")
        }
        guard let architectureBytes = index.architecture ?? options.layoutArchitecture else {
            throw CheckpointError(.missingPart, "a \(format.displayName) file is laid out by the model's architecture, and the checkpoint has none",
                                  file: path, hint: "pass --architecture model.json (the model's to_json())")
        }
        let arch: KerasArchitecture
        let model: KerasModelVariables
        let backend: KerasBackend = index.tensors.first { $0.name == ContainerSpec.iterationTensor }?.dtype == .int32 ? .jax : .tensorflow
        do {
            arch = try KerasArchitecture(bytes: architectureBytes)
            model = try arch.variables(options: KerasInferenceOptions(allowUnknownLayers: true, backend: backend))
        } catch let e as CheckpointError {
            var e = e
            e.reason = "the checkpoint's architecture cannot be used to lay out the file: " + e.reason
            throw e.located(file: path)
        }
        return (architectureBytes, arch, try KerasWritePlan(index: index, model: model, backend: backend, file: path))
    }

    /// Writes `index` with `payloads[i]` the data of `index.tensors[i]` (a ``ComposedSource``);
    /// `architecture` lays the file out when the index carries none.
    public static func write(_ index: CheckpointIndex, payloads: [TensorPayload], to path: String, format: CheckpointFormat,
                             architecture: [UInt8]? = nil, options: WriteOptions = WriteOptions()) throws {
        var options = options
        if options.layoutArchitecture == nil { options.layoutArchitecture = architecture }
        _ = try write(ComposedSource(index: index, payloads: payloads, path: path, format: format), to: path, format: format, options: options)
    }

    static func splitPath(_ path: String) -> (String, String) {
        guard let slash = path.lastIndex(of: "/") else { return (".", path) }
        let dir = path[..<slash].isEmpty ? "/" : String(path[..<slash])
        return (dir, String(path[path.index(after: slash)...]))
    }

    /// The metadata key under which a Keras 2 `.h5`'s `training_config` (loss, metrics) travels, so
    /// that a `.keras` made from it compiles like the original.
    public static let trainingConfigKey = "training_config"

    /// `metadata.json` as Keras writes it (`keras_version`, `date_saved`, Python's `json.dumps`
    /// spacing), followed by the checkpoint's other metadata (Keras ignores extra keys).
    static func metadataJSON(_ metadata: JSONValue) -> [UInt8] {
        var version = writtenKerasVersion
        if let v = metadata["keras_version"]?.stringValue, v.hasPrefix("3.") { version = v }
        let date = metadata["date_saved"]?.stringValue ?? currentDate()
        var members: [(String, JSONValue)] = [("keras_version", .string(version)), ("date_saved", .string(date))]
        for (k, v) in metadata.objectValue ?? [] where k != "keras_version" && k != "date_saved" && k != trainingConfigKey { members.append((k, v)) }
        return JSONValue.object(members).serializedBytes(.python)
    }

    /// Local time as Keras formats it (`%Y-%m-%d@%H:%M:%S`).
    static func currentDate() -> String { Clock.localTimestamp() ?? "1980-01-01@00:00:00" }

    /// `config.json`: the architecture as it is, unless optimizer state is written and the
    /// architecture's `compile_config` does not give Keras that optimizer (then it is added or
    /// replaced, so `load_model` builds the optimizer the state belongs to), or no optimizer state
    /// is written and `compile_config` is not empty (then it is emptied).
    static func configJSON(_ bytes: [UInt8], arch: KerasArchitecture, index: CheckpointIndex, plan: KerasWritePlan, file: String) throws -> [UInt8] {
        guard plan.hasOptimizer, let o = index.optimizer else {
            // Weights only: a compile_config naming an optimizer would make load_model build one
            // and warn that the file has none of its variables.
            if let cc = arch.json["compile_config"]?.objectValue, !cc.isEmpty {
                return arch.json.setting("compile_config", to: .object([])).serializedBytes(.python)
            }
            return bytes
        }
        let serialized = JSONValue.object([("module", .string(o.module)), ("class_name", .string(o.className)), ("config", o.config),
                                           ("registered_name", .null)])
        if let cc = arch.json["compile_config"], cc.objectValue != nil, !(cc.objectValue ?? []).isEmpty {
            if let current = cc["optimizer"], !current.isNull, compileGives(current, o, mixedPrecision: arch.usesMixedFloat16) {
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

    /// Whether compiling with `current` (a serialized optimizer from `compile_config`) gives Keras
    /// the optimizer whose state `o` is: the same class and configuration, or, for a model whose
    /// layers compute in mixed_float16, the optimizer `compile` wraps in the LossScaleOptimizer `o`.
    static func compileGives(_ current: JSONValue, _ o: OptimizerInfo, mixedPrecision: Bool) -> Bool {
        func bare(_ v: JSONValue?) -> String? {
            guard var s = v?.stringValue else { return nil }
            if let gt = s.lastIndex(of: ">") { s = String(s[s.index(after: gt)...]) }
            if let dot = s.lastIndex(of: ".") { s = String(s[s.index(after: dot)...]) }
            return s
        }
        if bare(current["class_name"]) == o.className && current["config"] == o.config { return true }
        if mixedPrecision, o.className == KerasOptimizerKind.lossScaleOptimizer.className,
           let inner = o.config["inner_optimizer"], bare(inner["class_name"]) == bare(current["class_name"]),
           inner["config"] == current["config"], o.config["name"]?.stringValue == "loss_scale_optimizer" {
            return true
        }
        return false
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
