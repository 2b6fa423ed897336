// Writing TensorFlow checkpoints: `prefix.data-00000-of-00001` (every tensor's bytes, in key
// order, then the object graph), `prefix.index` (a LevelDB table: the header, one BundleEntryProto
// per key) and the `checkpoint` state file naming the prefix, as `tf.train.Checkpoint` and
// tf.keras's `save_weights` write them. Tensors stream piece by piece; each entry's CRC-32C is
// computed on the way. The three files are written to temporary files and renamed into place
// only when all are complete (data, then index, then state file); if a rename fails, the files
// already renamed are removed again.

import CheckpointSystem

public enum TFCheckpointWriter {
    /// The prefix a user's output name means (`x.index` → `x`, a shard name → its prefix).
    public static func prefix(for path: String) -> String {
        if path.hasSuffix(".index") { return String(path.dropLast(6)) }
        if let p = TFCheckpointPaths.prefixOfShard(path) { return p }
        return path
    }

    /// Writes `source` as a TensorFlow checkpoint with prefix `path` (see ``prefix(for:)``).
    /// Returns the files written (index, data, state file) and notes.
    @discardableResult
    public static func write(_ source: any TensorSource, to path: String, options: WriteOptions = WriteOptions()) throws -> WriteResult {
        let prefix = prefix(for: path)
        let index = source.index
        let (dir, base) = FileSystem.split(prefix)
        guard !base.isEmpty, !FileSystem.isDirectory(prefix) else {
            throw CheckpointError(.invalidArgument, "a TensorFlow checkpoint is named by a prefix (dir/name), not a folder", file: path,
                                  hint: "name the output like \(escapeForDisplay(TFCheckpointPaths.join(path, "model_weights")))")
        }
        for t in index.tensors where TFDataType(t.dtype) == nil || t.byteCount == nil {
            throw CheckpointError(.unsupported, "tensor \"\(escapeForDisplay(t.name))\" (\(t.dtype.rawValue) \(t.shape)) cannot be written to a TensorFlow checkpoint",
                                  file: path, member: t.name)
        }
        let plan = try TFObjectGraphBuilder.plan(index, architecture: index.architecture ?? options.layoutArchitecture)
        let dataPath = TFBundle.shardPath(prefix: prefix, shard: 0, of: 1)
        let indexPath = prefix + ".index"
        let statePath = TFCheckpointPaths.join(dir, TFCheckpointPaths.stateFileName)
        // Every output is created before any data is written: an existing file is refused first.
        let dataOut = try AtomicOutputFile(destination: dataPath, overwrite: options.overwrite, inputs: options.inputs)
        let indexOut = try AtomicOutputFile(destination: indexPath, overwrite: options.overwrite, inputs: options.inputs)
        // The state file is a pointer TensorFlow itself rewrites on every save.
        let stateOut = try AtomicOutputFile(destination: statePath, overwrite: true, inputs: options.inputs)

        let total = index.tensors.reduce(UInt64(0)) { $0 + UInt64($1.byteCount ?? 0) }
        var done: UInt64 = 0
        var entries: [(key: [UInt8], value: [UInt8])] = []
        let graphBytes = TFProtos.encodeObjectGraph(plan.graph)
        var graphWritten = false
        func writeGraph() throws {
            // `_CHECKPOINTABLE_OBJECT_GRAPH` sorts before the `layer...`/`optimizer...` keys but
            // after uppercase ones; it is written when its turn in key order comes.
            let offset = dataOut.offset
            let (bytes, crc) = stringTensor(graphBytes)
            try dataOut.append(bytes)
            entries.append((Array(TFNaming.objectGraphKey.utf8),
                            TFProtos.encodeEntry(TFBundleEntry(dtype: .string, shape: [], offset: Int64(offset), size: Int64(bytes.count), crc32c: CRC32C.mask(crc)))))
            graphWritten = true
        }
        for item in plan.items {
            if !graphWritten && !item.key.utf8.lexicographicallyPrecedes(TFNaming.objectGraphKey.utf8) { try writeGraph() }
            let t = index.tensors[item.tensor]
            let offset = dataOut.offset
            var crc: UInt32 = 0
            try source.readTensorChecked(item.tensor) { chunk in
                crc = CRC32C.checksum(chunk, continuing: crc)
                try dataOut.append(chunk)
                done += UInt64(chunk.count)
                options.progress?(done, total)
            }
            guard let dt = TFDataType(t.dtype) else { continue }
            let entry = TFBundleEntry(dtype: dt, shape: t.shape.map { Int64($0) }, offset: Int64(offset), size: Int64(dataOut.offset - offset),
                                      crc32c: CRC32C.mask(crc))
            entries.append((Array(item.key.utf8), TFProtos.encodeEntry(entry)))
        }
        if !graphWritten { try writeGraph() }
        entries.sort { $0.key.lexicographicallyPrecedes($1.key) }
        let header = TFBundleHeader(numShards: 1, endianness: 0, producer: TFBundle.version, minConsumer: 0)
        entries.insert(([], TFProtos.encodeHeader(header)), at: 0)
        try indexOut.append(LevelDBTableWriter().build(entries))
        try stateOut.append(Array(TFCheckpointPaths.stateText(base).utf8))

        // All or nothing: the data, the index (which makes the checkpoint readable), then the
        // `checkpoint` state file; undone if a rename fails or the process is interrupted.
        try AtomicFileSet([dataOut, indexOut, stateOut]).commit()
        var notes = plan.notes
        if let o = index.optimizer, let config = o.config.objectValue, config.contains(where: { $0.0 != "name" && $0.0 != "learning_rate" }) {
            notes.append("a TensorFlow checkpoint keeps the optimizer's variables, not its configuration: \(o.className)'s hyperparameters other than the learning rate are not written")
        }
        return WriteResult(paths: [indexPath, dataPath, statePath], tensors: index.tensors.count, notes: notes)
    }

    /// A scalar string tensor's bytes as the bundle stores them, and the CRC-32C its entry keeps.
    static func stringTensor(_ s: [UInt8]) -> ([UInt8], UInt32) {
        var out = ProtoWriter.varintBytes(UInt64(s.count))
        var lengths: [UInt8] = []
        if s.count <= Int(UInt32.max) { lengths.appendLE(UInt32(s.count)) } else { lengths.appendLE(UInt64(s.count)) }
        var crc = CRC32C.checksum(lengths)
        var check: [UInt8] = []
        check.appendLE(CRC32C.mask(crc))
        crc = CRC32C.checksum(check, continuing: crc)
        crc = CRC32C.checksum(s, continuing: crc)
        out += check
        out += s
        return (out, crc)
    }
}
