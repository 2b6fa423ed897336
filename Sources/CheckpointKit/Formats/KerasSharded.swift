import CheckpointSystem

// Keras 3 sharded weights: `model.save_weights("m.weights.json", max_shard_size=GB)` writes an
// index and `m_00000.weights.h5`, `m_00001.weights.h5`... (keras/src/saving/saving_lib.py
// `ShardedH5IOStore`). The shards together hold the `.weights.h5` layout: the same groups, one
// group's datasets possibly spread over several shards (numbering stays global), a group's `name`
// attribute in the first shard where it appears, groups without variables in the first shard.
// The index: `{"metadata": {"total_size": <bytes, a float>}, "weight_map": {"/layers/dense/vars":
// ["m_00000.weights.h5"], ...}}`. Keras starts a new shard when the next variable would push the
// current one past `max_shard_size` (GB of 1024³ bytes); a variable larger than that is an error.

extension CheckpointFormat {
    /// Keras 3 sharded weights: a `.weights.json` index and its `_0000N.weights.h5` shards.
    public static let kerasShardedWeights = CheckpointFormat(rawValue: "weights.json")
}

/// Keras 3 sharded weights (`save_weights("m.weights.json", max_shard_size=...)`).
public struct KerasShardedWeightsFormat: FileFormat {
    public init() {}
    public var id: CheckpointFormat { .kerasShardedWeights }
    public var displayName: String { "Keras 3 sharded .weights.json" }
    public var names: [String] { ["weights.json", "keras-sharded"] }
    public var suffixes: [String] { [".weights.json"] }
    public var parts: FormatParts { [.optimizerState, .trainability] }

    public func open(_ path: String, options: OpenOptions) throws -> any TensorSource {
        try KerasFiles.openSharded(indexPath: path, options: options)
    }

    public func write(_ source: any TensorSource, to path: String, options: WriteOptions) throws -> WriteResult {
        let paths = try KerasFiles.writeSharded(source, to: path, options: options)
        return WriteResult(paths: paths, tensors: source.index.tensors.count)
    }
}

extension KerasFiles {
    /// Keras's default `max_shard_size`: 5 GB of 1024³ bytes.
    public static let defaultMaxShardSize: UInt64 = 5 << 30

    /// `dir/m.weights.json` → `m` (Keras: the stem with `.weights` removed).
    static func shardBase(ofIndex path: String) -> (dir: String, base: String) {
        let (dir, name) = splitPath(path)
        let stem = name.hasSuffix(".json") ? String(name.dropLast(5)) : name
        return (dir, stem.keras_replacing(".weights", with: ""))
    }

    static func shardName(base: String, _ k: Int) -> String {
        let s = String(k)
        return base + "_" + String(repeating: "0", count: max(0, 5 - s.count)) + s + ".weights.h5"
    }

    /// Opens a sharded set through its index.
    static func openSharded(indexPath: String, options: OpenOptions) throws -> KerasFileSource {
        let indexFile = try ReadableFile(path: indexPath)
        guard indexFile.size <= options.limits.maxJSONBytes else {
            throw CheckpointError(.limitExceeded, "the index is \(indexFile.size) bytes, more than the JSON limit \(options.limits.maxJSONBytes)", file: indexPath)
        }
        let bytes = try indexFile.read(at: 0, count: Int(indexFile.size), what: "index")
        let doc: JSONValue
        do { doc = try JSONParser.parse(bytes, options: options.limits.jsonOptions) } catch let e as CheckpointError { throw e.located(file: indexPath) }
        guard let map = doc["weight_map"]?.objectValue else {
            throw CheckpointError(.notRecognized, "the JSON file has no \"weight_map\" object, so it is not the index of Keras sharded weights", file: indexPath,
                                  hint: "Keras writes it with model.save_weights(\"m.weights.json\", max_shard_size=...)")
        }
        // Names compared as bytes (ByteName), as the file system compares them.
        var shardNames: [String] = []
        var groupsOfShard: [ByteName: [String]] = [:]
        for (group, value) in map {
            let list = value.arrayValue ?? [value]
            guard !list.isEmpty else {
                throw CheckpointError(.invalidJSON, "weight_map lists no shard for \(escapeForDisplay(group))", file: indexPath, member: group)
            }
            for v in list {
                guard let name = v.stringValue, !name.isEmpty, !name.contains("/"), name != ".", name != ".." else {
                    throw CheckpointError(.invalidJSON, "weight_map names a shard for \(escapeForDisplay(group)) that is not a file name next to the index: \(v.serialized().prefix(80))",
                                          file: indexPath, member: group)
                }
                if !shardNames.contains(where: { $0.sameBytes(name) }) { shardNames.append(name) }
                groupsOfShard[ByteName(name), default: []].append(group)
            }
        }
        guard !shardNames.isEmpty else {
            throw CheckpointError(.invalidJSON, "weight_map is empty: the index names no shard", file: indexPath, member: "weight_map")
        }
        guard shardNames.count <= options.limits.maxMembers else {
            throw CheckpointError(.limitExceeded, "the index names \(shardNames.count) shards, more than the limit \(options.limits.maxMembers)", file: indexPath)
        }
        shardNames.sort { ByteName($0) < ByteName($1) }
        // The first shard holds the groups without variables; Keras lists it only if it also
        // holds a variable.
        let (dir, base) = shardBase(ofIndex: indexPath)
        let first = shardName(base: base, 0)
        if !shardNames.contains(where: { $0.sameBytes(first) }), FileSystem.exists(dir + "/" + first) { shardNames.insert(first, at: 0) }
        // Each a regular file next to the index, not the index itself (nor a FIFO or directory).
        let paths = try shardNames.map { try ShardFiles.locate($0, index: indexFile, tensors: groupsOfShard[ByteName($0)] ?? []) }
        let files = try paths.map { try HDF5File.open(path: $0, limits: hdf5Limits(options.limits)) }
        let tree = try KerasH5Tree(files: files)
        // Every group the index lists must be where it says.
        for (group, value) in map {
            let path = group.hasPrefix("/") ? String(group.dropFirst()) : group
            guard let resolved = tree.resolve(path), tree.isGroup(resolved) else {
                throw CheckpointError(.weightsMismatch, "the index lists \(escapeForDisplay(group)), but no shard has that group", file: indexPath, member: group)
            }
            let listed = Set((value.arrayValue ?? [value]).compactMap(\.stringValue).map(ByteName.init))
            for child in tree.childNames(resolved) where tree.isDataset(KerasH5Tree.join(resolved, child)) {
                let holder = tree.file(of: KerasH5Tree.join(resolved, child)).fileName
                let holderName = splitPath(holder).1
                guard listed.contains(ByteName(holderName)) else {
                    throw CheckpointError(.weightsMismatch, "dataset \(child) of \(escapeForDisplay(group)) is in \(escapeForDisplay(holderName)), which the index does not list for it",
                                          file: holder, member: "/" + KerasH5Tree.join(resolved, child))
                }
            }
        }
        return try KerasFileSource(tree: tree, path: indexPath, options: options, setPaths: [indexPath] + paths)
    }

    /// Whether `path` is one shard of a sharded set (`m_00001.weights.h5` named by a
    /// `m.weights.json` next to it); returns the index's path.
    static func indexNaming(shard path: String) -> String? {
        let (dir, name) = splitPath(path)
        guard name.hasSuffix(".weights.h5") else { return nil }
        let stem = name.dropLast(".weights.h5".count)
        guard let underscore = stem.lastIndex(of: "_") else { return nil }
        let digits = stem[stem.index(after: underscore)...]
        guard digits.count == 5, digits.allSatisfy(\.isNumber) else { return nil }
        let index = dir + "/" + stem[..<underscore] + ".weights.json"
        return FileSystem.exists(index) ? index : nil
    }

    /// Writes a sharded set: the index at `path` (`*.weights.json`) and its shards next to it, at
    /// most `options.maxShardSize` bytes each (default 5 GB, Keras's). The shards are staged first,
    /// then renamed, the index last, so the set appears whole or not at all.
    static func writeSharded(_ source: any TensorSource, to path: String, options: WriteOptions) throws -> [String] {
        guard path.lowercased().hasSuffix(".json") else {
            throw CheckpointError(.invalidArgument, "a Keras sharded set is written through its index, and \"\(escapeForDisplay(path))\" does not end in .json",
                                  file: path, hint: "name the output like model.weights.json")
        }
        let index = source.index
        let (_, _, plan) = try layout(source, path: path, format: .kerasShardedWeights, options: options)
        let limit = options.maxShardSize ?? defaultMaxShardSize
        guard limit > 0 else { throw CheckpointError(.invalidArgument, "the maximum shard size must be at least 1 byte", file: path) }

        // Keras's assignment: a new shard when the next variable would pass the limit.
        var shardOf: [[Int]] = plan.groups.map { Array(repeating: 0, count: $0.datasets.count) }
        var shard = 0
        var size: UInt64 = 0
        var total: UInt64 = 0
        for (g, group) in plan.groups.enumerated() {
            for (d, entry) in group.datasets.enumerated() {
                let n = UInt64(index.tensors[entry.tensor].byteCount ?? 0)
                guard n <= limit else {
                    throw CheckpointError(.invalidArgument,
                                          "tensor \"\(escapeForDisplay(index.tensors[entry.tensor].name))\" is \(n) bytes, more than the maximum shard size of \(limit) bytes (Keras refuses that too)",
                                          file: path, member: index.tensors[entry.tensor].name, hint: "raise --max-shard-size")
                }
                size += n
                total += n
                if size > limit {
                    shard += 1
                    size = n
                }
                shardOf[g][d] = shard
            }
        }
        let count = shard + 1
        let (dir, base) = shardBase(ofIndex: path)
        guard !base.isEmpty else {
            throw CheckpointError(.invalidArgument, "the index name \"\(escapeForDisplay(path))\" leaves no name for its shards", file: path,
                                  hint: "use a name like model.weights.json")
        }
        let shardPaths = (0..<count).map { dir + "/" + shardName(base: base, $0) }
        // Every output is created first: an existing destination is refused before data is written.
        let outputs = try shardPaths.map { try AtomicOutputFile(destination: $0, overwrite: options.overwrite, inputs: options.inputs) }
        let indexOut = try AtomicOutputFile(destination: path, overwrite: options.overwrite, inputs: options.inputs)

        var done: UInt64 = 0
        var named = Set<Int>()
        for k in 0..<count {
            let h5 = try HDF5File.create(path: outputs[k].temporaryPath, displayName: shardPaths[k])
            let root = try h5.root()
            for (g, group) in plan.groups.enumerated() {
                let mine = group.datasets.indices.filter { shardOf[g][$0] == k }
                guard !mine.isEmpty || (k == 0 && group.datasets.isEmpty) else { continue }
                let h5group = try root.requireGroup(group.path)
                if named.insert(g).inserted { try h5group.setAttribute("name", string: group.name) }
                for d in mine {
                    let (name, t) = group.datasets[d]
                    let info = index.tensors[t]
                    let dataset = try h5group.createDataset(name, dtype: info.dtype, shape: info.shape)
                    try stream(source, t, into: dataset, file: shardPaths[k])
                    done += UInt64(info.byteCount ?? 0)
                    options.progress?(done, total)
                }
            }
            try h5.close()
        }
        var weightMap: [(String, JSONValue)] = []
        for (g, group) in plan.groups.enumerated() where !group.datasets.isEmpty {
            var shards: [Int] = []
            for k in shardOf[g] where !shards.contains(k) { shards.append(k) }
            weightMap.append(("/" + group.path, .array(shards.map { .string(shardName(base: base, $0)) })))
        }
        let indexJSON = JSONValue.object([
            ("metadata", .object([("total_size", .number(String(total) + ".0"))])),
            ("weight_map", .object(weightMap)),
        ])
        try indexOut.append(indexJSON.serializedBytes(.pretty))
        // Shards first, the index (which makes the set visible) last; undone on failure or interrupt.
        try AtomicFileSet(outputs + [indexOut]).commit()
        return [path] + shardPaths
    }
}
