// The HDF5 tree of a Keras file, walked once, with the lookups the readers and the writer share.

/// Every object of an HDF5 file (or of the shards of a Keras sharded set, merged: a group may
/// hold datasets in several shards), walked once.
struct KerasH5Tree {
    /// The first file (the only one, unless sharded): its name and root attributes.
    let file: HDF5File
    /// Every file, in shard order.
    let files: [HDF5File]
    let nodes: [HDF5Node]
    // HDF5 paths compared as bytes (ByteName), as libhdf5 compares link names.
    private let kinds: [ByteName: HDF5LinkKind]
    private let children: [ByteName: [String]]
    /// The first file holding each object.
    private let owner: [ByteName: Int]

    init(file: HDF5File) throws {
        try self.init(files: [file])
    }

    init(files: [HDF5File]) throws {
        guard let first = files.first else {
            throw CheckpointError(.invalidArgument, "a Keras weights file set needs at least one file")
        }
        self.file = first
        self.files = files
        var nodes: [HDF5Node] = []
        var kinds: [ByteName: HDF5LinkKind] = [:]
        var children: [ByteName: [String]] = [:]
        var owner: [ByteName: Int] = [:]
        for (k, f) in files.enumerated() {
            for node in try f.walk() {
                if node.path == "/" {
                    if k == 0 { nodes.append(node) }
                    continue
                }
                if let seen = kinds[ByteName(node.path)] {
                    guard seen == node.kind else {
                        throw CheckpointError(.invalidHDF5, "the shards disagree: \(node.path) is a group in one and a dataset in another",
                                              file: f.fileName, member: "/" + node.path)
                    }
                    guard node.kind == .group else {
                        throw CheckpointError(.invalidHDF5, "two shards hold the dataset \(node.path)", file: f.fileName, member: "/" + node.path)
                    }
                    continue
                }
                nodes.append(node)
                kinds[ByteName(node.path)] = node.kind
                owner[ByteName(node.path)] = k
                let (parent, name) = Self.split(node.path)
                children[ByteName(parent), default: []].append(name)
            }
        }
        self.nodes = nodes
        self.kinds = kinds
        self.children = children
        self.owner = owner
    }

    /// The file holding `path` (the first shard where it appears).
    func file(of path: String) -> HDF5File { files[owner[ByteName(path)] ?? 0] }

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
    func member(_ path: String) -> String { file(of: path).location.member("/" + path) }

    func error(_ code: CheckpointError.Code, _ reason: String, at path: String?, hint: String? = nil) -> CheckpointError {
        CheckpointError(code, reason, file: path.map { file(of: $0).fileName } ?? file.fileName, member: path.map(member), hint: hint)
    }

    func dataset(_ path: String) throws -> (HDF5Dataset, HDF5DatasetInfo) {
        let d = try file(of: path).dataset(path)
        return (d, try d.info())
    }

    /// Where a dataset's bytes lie in the file, when they lie there as they are (contiguous, no filters).
    static func address(_ info: HDF5DatasetInfo) -> UInt64? {
        info.layout == .contiguous && info.filters.isEmpty ? info.offset : nil
    }

    /// A string attribute of a group, from the first file that has it there (Keras writes a
    /// sharded group's `name` in the first shard where the group appears).
    func stringAttribute(_ name: String, at path: String) throws -> String? {
        for f in path.isEmpty ? [file] : files {
            guard let object = try f.object(path.isEmpty ? "/" : path) else { continue }
            if let v = try object.stringAttribute(name) { return v }
        }
        return nil
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
