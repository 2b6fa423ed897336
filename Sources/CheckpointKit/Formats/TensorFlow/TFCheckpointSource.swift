// A TensorFlow checkpoint or SavedModel read as a checkpoint (rules: TFBundle.swift for the files,
// TFNaming.swift for the names).
//
// Opening reads the `.index`, the object graph entry and the step (and learning rate) scalars
// from the data shard, and for a SavedModel `keras_metadata.pb` and `saved_model.pb`; it never
// scans tensor data, so `inspect` takes the same time whatever the size of the `.data` files.
// Tensor bytes are read with `pread` in pieces of ``ContainerSpec/chunkSize``; each piece's
// CRC-32C is returned by ``readPiece(_:_:_:)`` and combined by ``verifyPieces(of:crcs:)`` into the
// entry's CRC, which must match the one in the index.

/// A TensorFlow checkpoint (`prefix.index` + `prefix.data-*`) or SavedModel, read as a checkpoint.
public final class TFCheckpointSource: TensorSource {
    /// The path as the user named it.
    public let path: String
    public let location: TFCheckpointLocation
    public var format: CheckpointFormat { location.savedModel != nil ? .savedModel : .tfCheckpoint }
    public let index: CheckpointIndex
    public let bundle: TFBundle
    /// Every key of the bundle with what it is, in the index's order (tensors first).
    public let keys: [TFKey]
    /// The decoded `_CHECKPOINTABLE_OBJECT_GRAPH`, nil for TF1 name-based checkpoints.
    public let objectGraph: TFObjectGraph?
    /// A SavedModel's signatures (empty for a checkpoint).
    public let signatures: [TFSignature]
    /// What could not be kept or had to be assumed, one sentence each.
    public let notes: [String]
    public let limits: Limits
    /// The data shards, in shard order.
    public let shards: [ReadableFile]
    let indexFile: ReadableFile

    /// Where a tensor's bytes are: one entry, or a partitioned variable's slices in row order.
    enum Layout: Sendable {
        case entry(TFBundleEntry, key: String)
        case slices([(entry: TFBundleEntry, key: String)])
        /// Slices along other dimensions (TensorFlow's MaxShardSizePolicy): scattered into one
        /// in-memory piece (bounded by ``Limits/maxInMemoryTensorBytes``).
        case assembled(TFSliceAssembly)
    }
    let layouts: [Layout]

    /// Every file this source reads (pass them as ``WriteOptions/inputs`` so no output replaces them).
    public var inputFiles: [ReadableFile] { [indexFile] + shards }

    /// Opens the checkpoint `path` names (see ``TFCheckpointPaths``).
    public convenience init(path: String, options: Checkpoints.OpenOptions = Checkpoints.OpenOptions()) throws {
        guard let location = try TFCheckpointPaths.resolve(path) else {
            throw CheckpointError(.notRecognized, "the path is not a TensorFlow checkpoint (no \(escapeForDisplay(path)).index, no .data shard, no SavedModel or checkpoint state file)",
                                  file: path, hint: "name the checkpoint's prefix, its .index file, or the folder holding its \"checkpoint\" file")
        }
        try self.init(path: path, location: location, options: options)
    }

    public init(path: String, location: TFCheckpointLocation, options: Checkpoints.OpenOptions = Checkpoints.OpenOptions()) throws {
        let limits = options.limits
        self.path = path
        self.location = location
        self.limits = limits
        var notes: [String] = []

        let indexPath = location.indexPath
        let indexFile = try ReadableFile(path: indexPath)
        guard indexFile.size <= limits.maxIndexBytes else {
            throw CheckpointError(.limitExceeded, "the index is \(indexFile.size) bytes (the limit is \(limits.maxIndexBytes))", file: indexPath)
        }
        self.indexFile = indexFile
        let bundle = try TFBundle(indexBytes: indexFile.read(at: 0, count: Int(indexFile.size), what: "checkpoint index"), path: indexPath, limits: limits)
        self.bundle = bundle
        let count = Int(bundle.header.numShards)
        var shards: [ReadableFile] = []
        for s in 0..<count {
            let p = TFBundle.shardPath(prefix: location.prefix, shard: s, of: count)
            guard TFCheckpointPaths.isFile(p) else {
                throw CheckpointError(.missingPart, "the index says the checkpoint has \(count) data shard\(count == 1 ? "" : "s"), but \(escapeForDisplay(p)) does not exist",
                                      file: indexPath, hint: "copy every .data file of the checkpoint next to its .index")
            }
            shards.append(try ReadableFile(path: p))
        }
        self.shards = shards
        for e in bundle.entries + Array(bundle.sliceEntries.values) {
            let end = UInt64(e.proto.offset) + UInt64(e.proto.size)
            let size = shards[Int(e.proto.shardID)].size
            guard end <= size else {
                throw CheckpointError(.corrupt, "the entry's data (bytes \(e.proto.offset) to \(end)) runs past the end of its shard \(escapeForDisplay(shards[Int(e.proto.shardID)].path)), which is \(size) bytes",
                                      file: indexPath, member: e.key, offset: e.indexOffset,
                                      hint: "the .data file is truncated or belongs to another save")
            }
        }

        // The object graph and the SavedModel's Keras parts.
        var graph: TFObjectGraph?
        if let g = bundle.entries.first(where: { $0.key == TFNaming.objectGraphKey }), g.proto.dtype == .string, g.proto.shape.isEmpty {
            guard UInt64(g.proto.size) <= limits.maxManifestBytes else {
                throw CheckpointError(.limitExceeded, "the object graph is \(g.proto.size) bytes (the limit is \(limits.maxManifestBytes))",
                                      file: indexPath, member: g.key, offset: g.indexOffset)
            }
            let strings = try Self.readStrings(g, shards: shards, limits: limits)
            guard let bytes = strings.first, strings.count == 1 else {
                throw CheckpointError(.corrupt, "the object graph entry holds \(strings.count) strings, not one", file: indexPath, member: g.key, offset: g.indexOffset)
            }
            let shard = shards[Int(g.proto.shardID)]
            graph = try TFProtos.decodeObjectGraph(bytes, origin: ProtoOrigin(file: shard.path, member: g.key,
                                                                              base: UInt64(g.proto.offset) + UInt64(g.proto.size) - UInt64(bytes.count),
                                                                              what: "TrackableObjectGraph"), limits: limits)
        }
        self.objectGraph = graph
        var parts = TFSavedModelParts()
        if let dir = location.savedModel {
            parts = try TFSavedModelParts.read(dir: dir, limits: limits)
            notes += parts.notes
        }
        self.signatures = parts.signatures
        let architecture = options.architecture ?? parts.architecture
        var model: KerasModelVariables?
        if let architecture {
            do {
                model = try KerasArchitecture(bytes: architecture).variables(options: KerasInferenceOptions(allowUnknownLayers: true, useRecordedShapes: true))
            } catch let e as CheckpointError {
                if options.architecture != nil { throw e.located(file: "--architecture") }
                notes.append("the model in keras_metadata.pb could not be interpreted (\(e.reason)); weights keep their tf.keras names")
            }
        }
        let (trainingOptimizer, trainingClass, optimizerProblem) = parts.optimizerConfig()
        if let optimizerProblem { notes.append("the optimizer in training_config (\(trainingClass ?? "?")) is not one whose state is modelled: \(optimizerProblem)") }

        // Names and roles.
        var naming: TFNamingResult
        if let graph {
            naming = TFNaming.classify(bundle: bundle, graph: graph, model: model, trainingOptimizer: trainingOptimizer?.kind)
        } else {
            naming = TFNaming.classifyByName(bundle: bundle, trainable: try Self.metaTrainable(location.prefix, limits: limits, notes: &notes))
        }
        notes += naming.notes

        // Tensors: keys with a numeric dtype and a name, partitioned variables assembled.
        var tensors: [TensorInfo] = []
        var layouts: [Layout] = []
        var used = Set<String>()
        var skipped: [String] = []
        var metricKeys = 0
        for (k, key) in naming.keys.enumerated() {
            guard var name = key.tensorName, let dtype = key.entry.dtype.dtype else {
                switch key.role.detail {
                case "object_graph", "optimizer_hyperparameter": break
                case "metric_state": metricKeys += 1
                default: skipped.append("\"\(escapeForDisplay(key.key))\" (\(key.entry.dtype.name))")
                }
                continue
            }
            let layout: Layout
            if key.entry.slices.isEmpty {
                layout = .entry(key.entry, key: key.key)
            } else {
                do {
                    if let rows = try? Self.sliceLayout(key, bundle: bundle) {
                        layout = .slices(rows)
                    } else {
                        layout = .assembled(try TFSliceAssembly(key, bundle: bundle, limits: limits))
                    }
                } catch let e as CheckpointError {
                    notes.append("the partitioned variable \"\(escapeForDisplay(key.key))\" is left out: \(e.reason)")
                    continue
                }
            }
            if used.contains(name) {
                notes.append("two keys are named \"\(escapeForDisplay(name))\"; \"\(escapeForDisplay(key.key))\" keeps its key as its name")
                name = key.key
                naming.keys[k].tensorName = name
            }
            guard used.insert(name).inserted else {
                throw CheckpointError(.duplicateName, "two tensors would be named \"\(escapeForDisplay(name))\"", file: indexPath, member: key.key)
            }
            let shape = key.entry.shape.map { Int($0) }
            var info: TensorInfo
            switch key.role.kind {
            case .weight:
                info = TensorInfo(name: name, dtype: dtype, shape: shape, role: .weight, trainable: key.role.trainable ?? true)
            case .slot:
                info = TensorInfo(name: name, dtype: dtype, shape: shape, role: .optimizer, slot: key.role.keras3Slot, weight: key.role.owner)
            case .step:
                info = TensorInfo(name: name, dtype: dtype, shape: shape, role: .optimizer)
            case .other:
                info = key.role.kerasName != nil
                    ? TensorInfo(name: name, dtype: dtype, shape: shape, role: .weight, trainable: key.role.trainable ?? false)
                    : TensorInfo(name: name, dtype: dtype, shape: shape, role: .optimizer)
            }
            info.sourceKey = key.key
            tensors.append(info)
            layouts.append(layout)
        }
        if metricKeys > 0 {
            notes.append("\(metricKeys) compiled-metric variable\(metricKeys == 1 ? " is" : "s are") not model weights and \(metricKeys == 1 ? "is" : "are") left out (keras_api/metrics/...)")
        }
        if !skipped.isEmpty {
            notes.append("\(skipped.count) entr\(skipped.count == 1 ? "y is" : "ies are") not numeric tensors and \(skipped.count == 1 ? "is" : "are") left out: " + skipped.prefix(5).joined(separator: ", ")
                         + (skipped.count > 5 ? ", …" : ""))
        }
        self.keys = naming.keys
        self.layouts = layouts

        // The optimizer.
        var optimizer: OptimizerInfo?
        let stepKey = naming.keys.first { $0.role.kind == .step }
        let hasOptimizerState = tensors.contains { $0.role == .optimizer }
        if hasOptimizerState || stepKey != nil {
            var iterations: Int64 = 0
            if let s = stepKey, let e = bundle.entries.first(where: { $0.key == s.key }) {
                iterations = try Self.readIntegerScalar(e, shards: shards) ?? 0
            }
            var hyperparameters: [String: Double] = [:]
            for h in naming.keys where h.role.detail == "optimizer_hyperparameter" {
                guard let name = h.role.hyperparameter, let e = bundle.entries.first(where: { $0.key == h.key }) else { continue }
                if let v = try Self.readFloatScalar(e, shards: shards) { hyperparameters[name] = v }
            }
            optimizer = Self.optimizerInfo(naming: naming, training: trainingOptimizer, trainingClass: trainingClass, hyperparameters: hyperparameters,
                                           iterations: iterations, hasGraph: graph != nil, notes: &notes)
            let kept = hyperparameters.keys.filter { $0 != "learning_rate" }.sorted()
            if !kept.isEmpty {
                notes.append("the optimizer's variables \(kept.joined(separator: ", ")) are hyperparameters: they are read into its configuration, not listed as tensors")
            }
            if let decay = hyperparameters["decay"], decay != 0 {
                notes.append("the optimizer's decay (\(decay)) has no Keras 3 equivalent and is not kept; use a learning rate schedule")
            }
        }

        var metadata: [(String, JSONValue)] = []
        if let v = parts.kerasVersion { metadata.append(("keras_version", .string(v))) }
        if let b = parts.backend { metadata.append(("backend", .string(b))) }
        let producer = parts.kerasVersion.map { "tf.keras " + $0 } ?? "TensorFlow (bundle producer \(bundle.header.producer))"
        self.index = CheckpointIndex(tensors: tensors, architecture: architecture, optimizer: optimizer, metadata: .object(metadata), producer: producer)
        self.notes = notes
    }
}
