import CheckpointSystem
/// Full checkpoint → weights-only checkpoint (Keras's `save_weights_only=True`).
public enum Strip {
    public struct Summary: Sendable {
        /// Weights kept (trainable and non-trainable).
        public var keptTensors: Int
        public var keptParams: Int
        /// Optimizer tensors removed, their element count and their stored (compressed) bytes.
        public var removedTensors: Int
        public var removedParams: Int
        public var removedStoredBytes: UInt64
        public var removedOptimizerConfig: Bool
        public var removedArchitecture: Bool
        public var inputBytes: UInt64
        public var outputBytes: UInt64
        /// True when the input had nothing to strip (already weights-only); the output is a copy
        /// of it in the requested format.
        public var nothingToStrip: Bool
        /// Whether the output holds the architecture (asked for, or a `.keras` file, which always
        /// holds one).
        public var keptArchitecture = false
        /// What the destination could not hold.
        public var notes: [String] = []
    }

    /// The index of the stripped checkpoint: every weight, no optimizer state; the architecture
    /// only if `keepArchitecture`.
    public static func strippedIndex(_ index: CheckpointIndex, keepArchitecture: Bool) -> CheckpointIndex {
        CheckpointIndex(tensors: index.weights, architecture: keepArchitecture ? index.architecture : nil,
                        optimizer: nil, metadata: index.metadata, producer: index.producer)
    }

    /// The stripped checkpoint as a source over `source`'s weights (their compressed members are
    /// copied as they are when both sides are `.ckpt`).
    public static func stripped(_ source: any TensorSource, keepArchitecture: Bool = false) throws -> ComposedSource {
        let index = source.index
        let kept = index.tensors.indices.filter { index.tensors[$0].role == .weight }
        return try ComposedSource(selecting: kept, of: source, index: strippedIndex(index, keepArchitecture: keepArchitecture))
    }

    /// Writes the weights of `source` to `path` as `format` (default: from the name, else `.ckpt`).
    /// From a `.ckpt` to a `.ckpt` the compressed weight members are copied as they are (no
    /// inflate, no deflate) and their CRC-32s carried over (checked against the directory when the
    /// input was opened). A format laid out by the architecture (Keras) uses the input's even when
    /// the output does not keep it.
    /// The bytes of every file the source reads (a TensorFlow checkpoint is named by a prefix or a
    /// folder, and its files are its `.index` and `.data` shards).
    static func inputBytes(_ source: any TensorSource) -> UInt64 {
        let files = source.inputFiles
        if files.count <= 1, let f = try? ReadableFile(path: source.path) { return f.size }
        return files.reduce(UInt64(0)) { $0 + $1.size }
    }

    @discardableResult
    public static func run(_ source: any TensorSource, to path: String, format: CheckpointFormat? = nil, keepArchitecture: Bool = false,
                           options: WriteOptions = WriteOptions()) throws -> Summary {
        let index = source.index
        let destination = try Convert.outputFormat(for: path, explicit: format, default: .ckpt)
        // A .keras file is laid out by, and always holds, the architecture.
        let keepsArchitecture = index.architecture != nil && (keepArchitecture || destination.id == .keras) && destination.parts.contains(.architecture)
        var summary = Summary(keptTensors: 0, keptParams: 0, removedTensors: 0, removedParams: 0, removedStoredBytes: 0,
                              removedOptimizerConfig: index.optimizer != nil,
                              removedArchitecture: index.architecture != nil && !keepsArchitecture,
                              inputBytes: inputBytes(source), outputBytes: 0, nothingToStrip: index.kind == .weights)
        summary.keptArchitecture = keepsArchitecture
        let archive = source as? CheckpointArchive
        for (k, t) in index.tensors.enumerated() {
            if t.role == .weight {
                summary.keptTensors += 1
                summary.keptParams += t.elementCount ?? 0
            } else {
                summary.removedTensors += 1
                summary.removedParams += t.elementCount ?? 0
                summary.removedStoredBytes += archive?.manifest.tensors[k].storage.storedSize ?? UInt64(t.byteCount ?? 0)
            }
        }
        var options = options
        if options.layoutArchitecture == nil { options.layoutArchitecture = index.architecture }
        options.inputs += source.inputFiles
        summary.notes = try Convert.write(stripped(source, keepArchitecture: keepsArchitecture), as: destination, to: path, options: options).notes
        summary.outputBytes = (try? ReadableFile(path: path).size) ?? 0
        return summary
    }

    /// What ``verify(input:output:full:)`` proved, tensor by tensor.
    public struct Verified: Sendable, Equatable {
        /// Weights whose output member's CRC-32 and size were shown equal to the input's stored
        /// ones (the output read in full, its CRC recomputed), without comparing bytes.
        public var byChecksum = 0
        /// Weights compared byte for byte.
        public var byBytes = 0
    }

    /// Re-reads `output` and checks every weight is the same as the same tensor of `input`: a
    /// member copied from a `.ckpt` must inflate to the input's CRC-32 and size ("identical by
    /// checksum"); otherwise, or with `full`, both tensors are streamed and compared byte for
    /// byte ("bit-identical").
    @discardableResult
    public static func verify(input: any TensorSource, output: any TensorSource, full: Bool = false) throws -> Verified {
        let weights = input.index.tensors.indices.filter { input.index.tensors[$0].role == .weight }
        guard output.index.tensors.count == weights.count else {
            throw CheckpointError(.verificationFailed, "the output has \(output.index.tensors.count) tensors, the input \(weights.count) weights", file: output.path)
        }
        let outputIndex = output.index
        var position: [ByteName: Int] = [:]
        for (j, t) in outputIndex.tensors.enumerated() { position[ByteName(t.name)] = j }
        let byName = position
        let byChecksum = try ParallelWork.map(count: weights.count, weight: { input.index.tensors[weights[$0]].byteCount ?? 0 }) { k -> Bool in
            let i = weights[k]
            let t = input.index.tensors[i]
            guard let j = byName[ByteName(t.name)] else {
                throw CheckpointError(.verificationFailed, "the weight is missing from the output", file: output.path, member: t.name)
            }
            let o = outputIndex.tensors[j]
            guard o.dtype == t.dtype, o.shape == t.shape, o.trainable == t.trainable || !outputIndex.trainabilityKnown || !input.index.trainabilityKnown else {
                throw CheckpointError(.verificationFailed, "the output has \(o.dtype.rawValue) \(o.shape) where the input has \(t.dtype.rawValue) \(t.shape)", file: output.path, member: t.name)
            }
            if !full, let fi = input.fingerprint(of: i), let fo = output.fingerprint(of: j), fi == fo {
                // Same member bytes claimed: prove it by reading the output fully (CRC-checked).
                try output.readTensor(j) { _ in }
                return true
            }
            try TensorCompare.equalBytes(input, i, output, j)
            return false
        }
        let n = byChecksum.filter { $0 }.count
        return Verified(byChecksum: n, byBytes: byChecksum.count - n)
    }
}

/// Byte-for-byte comparison of two tensors, streamed (memory: about one piece of each side).
public enum TensorCompare {
    /// Throws `.verificationFailed` at the first differing byte. Both sides are integrity-checked
    /// as they are read (CRC-32 where the format keeps one).
    public static func equalBytes(_ a: any TensorSource, _ i: Int, _ b: any TensorSource, _ j: Int) throws {
        let name = a.index.tensors[i].name
        var reader = SequentialPieces(a, i)
        var offset = 0
        try b.readTensor(j) { chunk in
            guard let cb = chunk.baseAddress, chunk.count > 0 else { return }
            try reader.ensure(chunk.count)
            let same = reader.withAvailable { avail in
                guard avail.count >= chunk.count, let ab = avail.baseAddress else { return false }
                return Memory.equal(ab, cb, count: chunk.count)
            }
            if !same {
                throw CheckpointError(.verificationFailed, "the two differ near data byte \(offset)", file: b.path, member: name)
            }
            reader.consume(chunk.count)
            offset += chunk.count
        }
        try reader.finish()
        if reader.leftover > 0 {
            throw CheckpointError(.verificationFailed, "\(b.path) has \(reader.leftover) fewer bytes", file: b.path, member: name)
        }
    }
}

/// Pulls a tensor's bytes piece by piece on demand, verifying the pieces at the end.
struct SequentialPieces {
    let source: any TensorSource
    let tensor: Int
    private var next = 0
    private let count: Int
    private var buffer: [UInt8] = []
    private var position = 0
    private var crcs: [UInt32] = []

    init(_ source: any TensorSource, _ tensor: Int) {
        self.source = source
        self.tensor = tensor
        self.count = source.pieces(of: tensor).count
    }

    var leftover: Int { buffer.count - position }

    mutating func ensure(_ n: Int) throws {
        while buffer.count - position < n && next < count {
            if position > 0 { buffer.removeFirst(position); position = 0 }
            var piece: [UInt8] = []
            crcs.append(try source.readPiece(tensor, next) { piece.append(contentsOf: $0) })
            buffer.append(contentsOf: piece)
            next += 1
        }
    }

    func withAvailable<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try buffer.withUnsafeBytes { try body(UnsafeRawBufferPointer(rebasing: $0[position...])) }
    }

    mutating func consume(_ n: Int) { position += n }

    mutating func finish() throws {
        try ensure(Int.max)
        if count > 1 { try source.verifyPieces(of: tensor, crcs: crcs) }
    }
}

extension Strip.Summary {
    /// The `ckpt.strip/1` document.
    public func json(input: String, output: String, verified: Strip.Verified?) -> JSONValue {
        let s = self
        var members: [(String, JSONValue)] = [
            ("schema", .string("ckpt.strip/1")),
            ("input", .string(input)),
            ("output", .string(output)),
            ("nothing_to_strip", .bool(s.nothingToStrip)),
            ("kept_tensors", .number(s.keptTensors)),
            ("kept_params", .number(s.keptParams)),
            ("removed_tensors", .number(s.removedTensors)),
            ("removed_params", .number(s.removedParams)),
            ("removed_optimizer_config", .bool(s.removedOptimizerConfig)),
            ("removed_architecture", .bool(s.removedArchitecture)),
            ("kept_architecture", .bool(s.keptArchitecture)),
            ("input_bytes", .number(s.inputBytes)),
            ("output_bytes", .number(s.outputBytes)),
        ]
        members.append(("verified", .bool(verified != nil)))
        members.append(("identical_by_checksum", verified.map { .number($0.byChecksum) } ?? .null))
        members.append(("bit_identical", verified.map { .number($0.byBytes) } ?? .null))
        members.append(("notes", .array(s.notes.map { .string($0) })))
        return .object(members)
    }
}
