import CheckpointSystem

/// Finding the shards an index names (safetensors and PyTorch sets): next to the index, a
/// regular file, not the index itself. Names are compared as bytes (``ByteName``).
enum ShardFiles {
    /// The index's directory (`.` when the path has no slash).
    static func directory(of indexPath: String) -> String {
        indexPath.lastIndex(of: "/").map { indexPath[..<$0].isEmpty ? "/" : String(indexPath[..<$0]) } ?? "."
    }

    /// The path of shard `name` of the index at `indexPath`, checked: it exists, is a regular file
    /// (not a directory, FIFO or device) and is not the index. `tensors` are those the index puts
    /// in it (for messages).
    static func locate(_ name: String, index indexFile: ReadableFile, tensors: [String]) throws -> String {
        let indexPath = indexFile.path
        let dir = directory(of: indexPath)
        let shardPath = (dir == "/" ? "" : dir) + "/" + name
        let first = tensors.first
        let example = first.map { " for tensor \"\(escapeForDisplay($0))\"\(tensors.count > 1 ? " and others" : "")" } ?? ""
        guard FileSystem.entryExists(shardPath) else {
            throw CheckpointError(.missingPart, "the index names shard \"\(escapeForDisplay(name))\"\(example), but there is no such file next to it",
                                  file: indexPath, member: first, hint: "copy every shard of the set into \(escapeForDisplay(dir))")
        }
        if indexFile.isSameFile(asPath: shardPath) {
            throw CheckpointError(.corrupt, "the index names itself as shard \"\(escapeForDisplay(name))\"\(example)", file: indexPath, member: first,
                                  hint: "the index is damaged; re-create it")
        }
        switch FileSystem.kind(shardPath) {
        case .regular?: break
        case .directory?:
            throw CheckpointError(.corrupt, "the index names shard \"\(escapeForDisplay(name))\"\(example), which is a directory, not a file",
                                  file: indexPath, member: first)
        default:
            throw CheckpointError(.corrupt, "the index names shard \"\(escapeForDisplay(name))\"\(example), which is not a regular file (a FIFO, a device or a broken link)",
                                  file: indexPath, member: first)
        }
        return shardPath
    }
}
