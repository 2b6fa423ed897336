/// Writing tensors that share data into a format that cannot share (safetensors), the way Hugging
/// Face's converter does for tied weights (safetensors `convert.py`: `_remove_duplicate_names`,
/// metadata `{"format": "pt", removed: kept}`): of tensors that are the same data (one PyTorch
/// storage seen through one view, ``TensorSource/sharedDataKey(of:)``), the first name in sorted
/// order is written and every other name is recorded in `__metadata__` as an alias of it.
///
/// Where that converter would lose values, the values win: tensors that share a storage but are
/// different views of it (a transpose, a slice, an overlapping window) are each written as their
/// own contiguous copy. The converter drops overlapping ones (`_find_shared_tensors` groups them)
/// and fails on non-contiguous ones (`view(-1)` raises).
public enum SharedTensors {
    public struct Plan: Sendable, Equatable {
        /// Indices (into the source's tensors) to write.
        public var keep: [Int]
        /// Names left out because they are the same data as a kept one, with that name.
        public var aliases: [Alias]
    }

    public struct Alias: Sendable, Equatable {
        public var removed: String
        public var kept: String
    }

    /// Which of `list` to write, and the aliases of the rest.
    public static func plan(_ source: any TensorSource, _ list: [Int]) -> Plan {
        var groups: [String: [Int]] = [:]
        var order: [String] = []
        for k in list {
            guard let key = source.sharedDataKey(of: k) else { continue }
            if groups[key] == nil { order.append(key) }
            groups[key, default: []].append(k)
        }
        let names = source.index.tensors.map(\.name)
        var removed = Set<Int>()
        var aliases: [Alias] = []
        for key in order {
            guard let members = groups[key], members.count > 1 else { continue }
            let sorted = members.sorted { names[$0].utf8.lexicographicallyPrecedes(names[$1].utf8) }
            for k in sorted.dropFirst() {
                removed.insert(k)
                aliases.append(Alias(removed: names[k], kept: names[sorted[0]]))
            }
        }
        return Plan(keep: list.filter { !removed.contains($0) }, aliases: aliases)
    }

    /// `source` with shared tensors written once and `__metadata__` saying so (`format: pt` for
    /// a PyTorch source, as the converter writes); nil when there is nothing to change.
    static func writeOnce(_ source: any TensorSource) throws -> (any TensorSource, [String])? {
        let index = source.index
        let p = plan(source, Array(index.tensors.indices))
        let fromTorch = source.format == .pytorch
        guard fromTorch || !p.aliases.isEmpty else { return nil }
        var pairs: [(String, JSONValue)] = fromTorch ? [("format", .string("pt"))] : []
        pairs += p.aliases.map { ($0.removed, .string($0.kept)) }
        let reserved = Set(pairs.map(\.0))
        var out = index
        out.tensors = p.keep.map { index.tensors[$0] }
        out.metadata = .object(pairs + (index.metadata.objectValue ?? []).filter { !reserved.contains($0.0) })
        var notes: [String] = []
        if !p.aliases.isEmpty {
            let list = p.aliases.map { "\(escapeForDisplay($0.removed)) = \(escapeForDisplay($0.kept))" }.joined(separator: ", ")
            notes.append("\(p.aliases.count) tensor\(p.aliases.count == 1 ? " is" : "s are") the same data as another, written once and recorded in __metadata__: \(list)")
        }
        return (try ComposedSource(selecting: p.keep, of: source, index: out), notes)
    }
}

extension PyTorchSource {
    /// File, storage and view: equal only for tensors that are the same bytes seen the same way.
    public func sharedDataKey(of i: Int) -> String? {
        let loc = tensors[i]
        guard loc.storage.nbytes > 0 else { return nil } // torch gives empty storages no address
        let t = loc.ref
        return "\(loc.file)/\(loc.storage.key)/\(loc.start)/\(t.scalar.name)/\(t.shape)/\(t.stride)"
    }
}
