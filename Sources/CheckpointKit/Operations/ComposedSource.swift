/// Where one tensor of a ``ComposedSource`` comes from.
public enum TensorPayload: Sendable {
    /// Tensor `index` of any source (a `.ckpt` member is copied compressed when the writer can).
    case source(any TensorSource, Int)
    /// Every element equals `pattern` (one element's little-endian bytes): fresh optimizer slots.
    case fill([UInt8])
    /// The data in memory.
    case bytes([UInt8])
}

/// A checkpoint assembled from parts: an index (names, roles, architecture, optimizer) and, for
/// each of its tensors, where the data comes from. What `strip`, `rebuild` and `convert` hand to
/// a writer; every writer reads it like any other source.
public final class ComposedSource: TensorSource {
    public let index: CheckpointIndex
    public let payloads: [TensorPayload]
    public let path: String
    public let format: CheckpointFormat
    public let notes: [String]

    /// `payloads[i]` gives the data of `index.tensors[i]`; a `.source` payload must have the
    /// tensor's dtype and shape (checked here, so no writer sees a mismatch).
    public init(index: CheckpointIndex, payloads: [TensorPayload], path: String, format: CheckpointFormat, notes: [String] = []) throws {
        guard payloads.count == index.tensors.count else {
            throw CheckpointError(.invalidArgument, "\(payloads.count) payloads for \(index.tensors.count) tensors; give one payload per tensor", file: path)
        }
        for (i, p) in payloads.enumerated() {
            let t = index.tensors[i]
            switch p {
            case .source(let s, let k):
                guard k >= 0, k < s.index.tensors.count else {
                    throw CheckpointError(.invalidArgument, "tensor \"\(escapeForDisplay(t.name))\" refers to tensor \(k) of \(s.path), which has \(s.index.tensors.count)", file: path)
                }
                let o = s.index.tensors[k]
                guard o.dtype == t.dtype, o.shape == t.shape else {
                    throw CheckpointError(.invalidArgument, "tensor \"\(escapeForDisplay(o.name))\" of \(s.path) is \(o.dtype.rawValue) \(o.shape), not \(t.dtype.rawValue) \(t.shape)", file: path)
                }
            case .fill(let pattern):
                guard pattern.count == t.dtype.itemSize else {
                    throw CheckpointError(.invalidArgument, "a fill value of \(pattern.count) bytes for \(t.dtype.rawValue) tensor \"\(escapeForDisplay(t.name))\"", file: path)
                }
            case .bytes(let b):
                guard b.count == t.byteCount else {
                    throw CheckpointError(.invalidArgument, "\(b.count) bytes of data for tensor \"\(escapeForDisplay(t.name))\" of \(t.byteCount ?? -1) bytes", file: path)
                }
            }
        }
        self.index = index
        self.payloads = payloads
        self.path = path
        self.format = format
        self.notes = notes
    }

    /// `base`'s tensors under a new index (same count and order; names and roles may differ).
    public convenience init(renaming base: any TensorSource, as index: CheckpointIndex, notes: [String] = []) throws {
        try self.init(index: index, payloads: base.index.tensors.indices.map { .source(base, $0) }, path: base.path, format: base.format,
                      notes: base.notes + notes)
    }

    /// `base`'s tensors `selected`, in that order, under `base`'s index otherwise.
    public convenience init(selecting selected: [Int], of base: any TensorSource, index: CheckpointIndex? = nil, notes: [String] = []) throws {
        var idx = index ?? base.index
        if index == nil { idx.tensors = selected.map { base.index.tensors[$0] } }
        try self.init(index: idx, payloads: selected.map { .source(base, $0) }, path: base.path, format: base.format, notes: base.notes + notes)
    }

    public func pieces(of i: Int) -> [Range<Int>] {
        switch payloads[i] {
        case .source(let s, let k): return s.pieces(of: k)
        default: return [0..<(index.tensors[i].byteCount ?? 0)]
        }
    }

    public func readPiece(_ i: Int, _ p: Int, _ body: (UnsafeRawBufferPointer) throws -> Void) throws -> UInt32 {
        switch payloads[i] {
        case .source(let s, let k): return try s.readPiece(k, p, body)
        case .bytes(let b): try b.withUnsafeBytes(body); return 0
        case .fill(let pattern):
            let n = index.tensors[i].elementCount ?? 0
            let per = max(1, min(n, ContainerSpec.chunkSize / max(1, pattern.count)))
            var chunk: [UInt8] = []
            chunk.reserveCapacity(per * pattern.count)
            for _ in 0..<per { chunk.append(contentsOf: pattern) }
            var left = n
            while left > 0 {
                let k = min(left, per)
                try chunk.withUnsafeBytes { try body(UnsafeRawBufferPointer(rebasing: $0[0..<(k * pattern.count)])) }
                left -= k
            }
            return 0
        }
    }

    public func verifyPieces(of i: Int, crcs: [UInt32]) throws {
        if case .source(let s, let k) = payloads[i] { try s.verifyPieces(of: k, crcs: crcs) }
    }

    public func fingerprint(of i: Int) -> TensorFingerprint? {
        if case .source(let s, let k) = payloads[i] { return s.fingerprint(of: k) }
        return nil
    }

    public var inputFiles: [ReadableFile] {
        var seen = Set<ObjectIdentifier>()
        var out: [ReadableFile] = []
        for case .source(let s, _) in payloads where seen.insert(ObjectIdentifier(s)).inserted { out += s.inputFiles }
        return out
    }

    public func integrity(of i: Int) -> TensorIntegrity {
        if case .source(let s, let k) = payloads[i] { return s.integrity(of: k) }
        return .none
    }

    public func sharedDataKey(of i: Int) -> String? {
        guard case .source(let s, let k) = payloads[i], let key = s.sharedDataKey(of: k) else { return nil }
        return "\(ObjectIdentifier(s).hashValue)/" + key
    }

    public func storedMember(of i: Int) -> StoredMemberRef? {
        if case .source(let s, let k) = payloads[i] { return s.storedMember(of: k) }
        return nil
    }

    public func uniformElement(of i: Int) -> [UInt8]? {
        switch payloads[i] {
        case .fill(let p): return p
        case .source(let s, let k): return s.uniformElement(of: k)
        case .bytes: return nil
        }
    }
}
