import CheckpointSystem

/// A Hugging Face sharded `.bin` set: `pytorch_model.bin.index.json`
/// (`{"metadata": {"total_size": N}, "weight_map": {"tensor": "pytorch_model-00001-of-00003.bin"}}`)
/// with its shards next to it. The index and the shards are checked against each other both ways.
enum PyTorchShards {
    struct Opened {
        var index: ReadableFile
        var files: [PyTorchFile]
        var weightMap: [ByteName: String]
    }

    static func open(indexPath: String, limits: Limits, open: (String) throws -> PyTorchFile) throws -> Opened {
        let file = try ReadableFile(path: indexPath)
        guard file.size <= limits.maxJSONBytes else {
            throw CheckpointError(.limitExceeded, "the shard index is \(file.size) bytes (the limit is \(limits.maxJSONBytes))", file: indexPath)
        }
        let bytes = try file.read(at: 0, count: Int(file.size), what: "shard index")
        let idx: SafetensorsShardIndex
        do {
            idx = try SafetensorsSource.parseShardIndex(bytes, limits: limits, file: indexPath)
        } catch var e as CheckpointError {
            // The index format is the same as safetensors'; the messages should not say safetensors.
            e.reason = e.reason.replacing("safetensors index", with: "shard index")
            if e.code == .invalidSafetensors { e.code = .corrupt }
            throw e
        }
        // Names compared as bytes (ByteName), as the file system compares them.
        var map: [ByteName: String] = [:]
        var tensorsOfShard: [ByteName: [String]] = [:]
        for (t, s) in idx.weightMap {
            map[ByteName(t)] = s
            tensorsOfShard[ByteName(s), default: []].append(t)
        }
        var files: [PyTorchFile] = []
        for name in tensorsOfShard.keys.sorted() {
            let shardPath = try ShardFiles.locate(name.string, index: file, tensors: tensorsOfShard[name] ?? [])
            files.append(try open(shardPath))
        }
        return Opened(index: file, files: files, weightMap: map)
    }

    /// Every tensor is in the shard the index names, and the index lists nothing that is not.
    static func check(_ map: [ByteName: String], tensors: [TensorInfo], unsupported: [PyTorchUnsupportedEntry], files: [PyTorchFile], indexPath: String) throws {
        var held = Set<ByteName>()
        for f in files {
            let shard = f.path.split(separator: "/").last.map(String.init) ?? f.path
            for name in f.contents.tensors.map(\.name) + f.contents.unsupported.map(\.name) {
                held.insert(ByteName(name))
                guard let owner = map[ByteName(name)] else {
                    throw CheckpointError(.corrupt, "the shard holds tensor \"\(escapeForDisplay(name))\", which the index \(escapeForDisplay(indexPath)) does not list",
                                          file: f.path, member: name, hint: "the index and the shards come from different saves")
                }
                guard owner.sameBytes(shard) else {
                    throw CheckpointError(.corrupt, "the shard holds tensor \"\(escapeForDisplay(name))\", which the index assigns to \"\(escapeForDisplay(owner))\"",
                                          file: f.path, member: name, hint: "the index and the shards come from different saves")
                }
            }
        }
        for (key, shard) in map.sorted(by: { $0.key < $1.key }) where !held.contains(key) {
            let name = key.string
            throw CheckpointError(.corrupt, "the index puts tensor \"\(escapeForDisplay(name))\" in shard \"\(escapeForDisplay(shard))\", which does not hold it",
                                  file: indexPath, member: name, hint: "the index and the shards come from different saves, or a shard was replaced")
        }
    }
}
