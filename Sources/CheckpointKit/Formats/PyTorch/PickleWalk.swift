// Walks an unpickled object: every tensor becomes a named entry (its flat key: dict keys joined
// with ".", list items by index, int keys in decimal), every other leaf JSON. The walk is bounded
// (depth, visits) and safe on cycles, since a pickle is a graph, not a tree.

/// A tensor found in the object, with what the structure says it is.
struct PickleTensorEntry {
    var name: String
    var ref: TorchTensorRef
    var role: TensorRole = .weight
    var trainable = true
    var slot: String? = nil
    var weight: String? = nil
}

/// Something tensor-like that is not read: a dtype ckpt lacks, a sparse or quantized tensor.
public struct PyTorchUnsupportedEntry: Sendable, Equatable {
    /// Its name, as a tensor would have been named.
    public var name: String
    /// Torch's dtype name (`float8_e4m3fn`), or what it is (`sparse tensor`).
    public var what: String
    /// The shape, when known.
    public var shape: [Int]?
}

final class PickleWalker {
    let limits: PickleLimits
    let file: String?
    var visits = 0
    private var onPath = Set<ObjectIdentifier>()
    var tensors: [PickleTensorEntry] = []
    var unsupported: [PyTorchUnsupportedEntry] = []

    init(limits: PickleLimits, file: String?) {
        self.limits = limits
        self.file = file
    }

    static func join(_ prefix: String, _ key: String) -> String { prefix.isEmpty ? key : prefix + "." + key }

    static func keyText(_ k: PickleValue) -> String {
        (try? PickleKey(k))?.component ?? "?"
    }

    /// A JSON marker standing for a tensor in metadata.
    static func tensorMarker(_ name: String) -> JSONValue { .object([("$tensor", .string(name))]) }

    static func isTensorMarker(_ v: JSONValue) -> Bool {
        guard let o = v.objectValue, o.count == 1 else { return false }
        return o[0].0 == "$tensor" || o[0].0 == "$unsupported"
    }

    /// Records the tensors under `v` (named from `path`, marked with `role`) and returns the rest
    /// as JSON, tensors replaced by `{"$tensor": name}`.
    func walk(_ v: PickleValue, _ path: String, role: TensorRole = .weight, depth: Int = 0) throws -> JSONValue {
        visits += 1
        guard visits <= limits.maxVisits else {
            throw CheckpointError(.limitExceeded, "the pickled object has more than \(limits.maxVisits) parts (shared parts counted each time they are reached)", file: file,
                                  member: path.isEmpty ? nil : path)
        }
        guard depth <= limits.maxDepth else {
            throw CheckpointError(.limitExceeded, "the pickled object nests more than \(limits.maxDepth) containers deep", file: file, member: path.isEmpty ? nil : path)
        }
        let name = path.isEmpty ? "tensor" : path
        switch v {
        case .none: return .null
        case .bool(let b): return .bool(b)
        case .int(let i): return .number(i)
        case .bigInt(let s): return .number(s)
        case .float(let d): return .number(d)
        case .complex(let re, let im): return .object([("$complex", .array([.number(re), .number(im)]))])
        case .string(let s): return .string(s)
        case .bytes(let b): return .object([("$bytes", .number(b.count))])
        case .global(let g): return .string(g.qualifiedName)
        case .storage(let s): return .object([("$storage", .string(s.key))])
        case .object(let o): return .string("<not loaded: \(o.what)>")
        case .tensor(let t):
            if t.scalar.dtype == nil {
                unsupported.append(PyTorchUnsupportedEntry(name: name, what: t.scalar.name, shape: t.shape))
                return .object([("$unsupported", .string(name))])
            }
            tensors.append(PickleTensorEntry(name: name, ref: t, role: role))
            return Self.tensorMarker(name)
        case .opaqueTensor(let what):
            unsupported.append(PyTorchUnsupportedEntry(name: name, what: what, shape: nil))
            return .object([("$unsupported", .string(name))])
        case .tuple(let t): return try sequence(t, t.items, path, role, depth)
        case .list(let l): return try sequence(l, l.items, path, role, depth)
        case .set(let s): return try sequence(s, s.items, path, role, depth)
        case .dict(let d):
            let id = ObjectIdentifier(d)
            guard onPath.insert(id).inserted else { return .string("<cycle>") }
            defer { onPath.remove(id) }
            var members: [(String, JSONValue)] = []
            var seen = Set<ByteName>()
            for (k, value) in zip(d.keys, d.values) {
                var key = Self.keyText(k)
                let child = try walk(value, Self.join(path, key), role: role, depth: depth + 1)
                while !seen.insert(ByteName(key)).inserted { key += "'" }
                members.append((key, child))
            }
            return .object(members)
        }
    }

    private func sequence(_ owner: AnyObject, _ items: [PickleValue], _ path: String, _ role: TensorRole, _ depth: Int) throws -> JSONValue {
        let id = ObjectIdentifier(owner)
        guard onPath.insert(id).inserted else { return .string("<cycle>") }
        defer { onPath.remove(id) }
        var out: [JSONValue] = []
        out.reserveCapacity(items.count)
        for (k, item) in items.enumerated() { out.append(try walk(item, Self.join(path, String(k)), role: role, depth: depth + 1)) }
        return .array(out)
    }

    /// `v` without tensor markers: dict members holding only tensors are dropped, list items
    /// are kept (so indices stay right). nil when nothing is left.
    static func prune(_ v: JSONValue) -> JSONValue? {
        if isTensorMarker(v) { return nil }
        switch v {
        case .object(let members):
            let kept = members.compactMap { k, x in prune(x).map { (k, $0) } }
            return kept.isEmpty && !members.isEmpty ? nil : .object(kept)
        case .array(let items):
            let kept = items.map { prune($0) }
            if !items.isEmpty && kept.allSatisfy({ $0 == nil }) { return nil }
            return .array(zip(items, kept).map { $1 ?? $0 })
        default:
            return v
        }
    }
}
