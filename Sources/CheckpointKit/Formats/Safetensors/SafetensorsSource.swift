import CheckpointSystem

// The safetensors format, read and written by the rules of the reference implementation
// (huggingface/safetensors, `safetensors/src/tensor.rs`, and the format section of its README):
//
//   - 8 bytes: N, an unsigned little-endian 64-bit integer, the size of the header;
//   - N bytes: a UTF-8 JSON object. It MUST begin with `{` and MAY be padded at the end with
//     whitespace. Keys are tensor names mapping to {"dtype", "shape", "data_offsets": [BEGIN, END]};
//     the special key `__metadata__` holds a string-to-string map. Duplicate keys are disallowed;
//   - the rest of the file: the byte buffer. Offsets are relative to its start; END is one past
//     the last byte. The tensors must cover the buffer exactly: no holes, no overlaps, nothing
//     after the last tensor. Data is little-endian and C order.
//
// A sharded set is a `model.safetensors.index.json` (transformers / huggingface_hub):
// `{"metadata": {"total_size": N}, "weight_map": {"tensor": "model-00001-of-00002.safetensors"}}`,
// each shard an ordinary safetensors file next to the index.

/// A safetensors header, parsed and checked against the rules above.
public struct SafetensorsHeader: Sendable {
    public struct Tensor: Sendable, Equatable {
        public var name: String
        public var dtype: DType
        public var shape: [Int]
        /// `data_offsets[0]`, relative to the start of the data section.
        public var begin: UInt64
        /// `data_offsets[1]`, one past the last byte.
        public var end: UInt64
        /// File offset of the tensor's key in the header (for messages).
        public var headerOffset: UInt64

        public var byteCount: UInt64 { end - begin }
    }

    /// N, the length of the JSON text (padding included).
    public var headerLength: UInt64
    /// Tensors in data order (sorted by `data_offsets`, as the reference does before validating).
    public var tensors: [Tensor]
    /// `__metadata__` in the order the header lists it; nil when absent or `null`.
    public var metadata: [(key: String, value: String)]?

    /// An entry of a dtype the reference defines but this toolkit does not read (`C64`, `F4`, ...).
    public struct Unsupported: Sendable, Equatable {
        public var name: String
        public var dtype: String
        public var shape: [UInt64]
        public var begin: UInt64
        public var end: UInt64
        public var headerOffset: UInt64
    }
    /// Such entries, in header order: they are not tensors, but their bytes are part of the file.
    public var unsupported: [Unsupported] = []

    /// File offset of the data section: 8 + N.
    public var dataStart: UInt64 { 8 + headerLength }
    /// Bytes of tensor data (the data section's size).
    public var dataLength: UInt64 { tensors.last?.end ?? 0 }
}

/// A sharded set's `*.safetensors.index.json`, parsed (not yet checked against the shards).
public struct SafetensorsShardIndex: Sendable {
    /// `weight_map` in the order the file lists it: tensor name -> shard file name.
    public var weightMap: [(tensor: String, shard: String)]
    /// The index's own `metadata` object (`total_size`, ...), if any. Not checked: producers
    /// disagree on what `total_size` counts.
    public var metadata: JSONValue?
}

/// A `.safetensors` file, or a sharded set opened through its `*.safetensors.index.json`, read as
/// a weights checkpoint. Opening reads only the headers (and the index); tensor data is read with
/// `pread` in pieces of ``ContainerSpec/chunkSize`` when asked for.
///
/// Tensors come in data order: shard by shard (shard files sorted by name), and inside a file by
/// `data_offsets`. `__metadata__` becomes ``CheckpointIndex/metadata`` (an object of strings); for a
/// sharded set, the shards' `__metadata__` merged in shard order (the first value of a key wins).
/// Every tensor is a trainable weight: safetensors has no notion of optimizer state.
public final class SafetensorsSource: TensorSource {
    /// One safetensors file of the checkpoint (the only one unless sharded).
    public struct Shard: Sendable {
        /// The file name as the index gives it (the path's last component when not sharded).
        public let name: String
        public let file: ReadableFile
        public let header: SafetensorsHeader
    }

    /// The reference's `MAX_HEADER_SIZE` (tensor.rs): headers above 100 MB are refused.
    public static let maxHeaderSize: UInt64 = 100_000_000

    /// The `.safetensors` file, or the index file of a sharded set.
    public let path: String
    public var format: CheckpointFormat { .safetensors }
    public let index: CheckpointIndex
    public let shards: [Shard]
    /// The index file of a sharded set; nil for a single file.
    public let indexFile: ReadableFile?
    public let limits: Limits
    public let notes: [String]

    private struct Location: Sendable {
        let shard: Int
        /// File offset of the tensor's first byte.
        let start: UInt64
        let count: Int
    }
    private let locations: [Location]

    public var isSharded: Bool { indexFile != nil }

    /// Every file this source reads (pass them as ``WriteOptions/inputs`` so no output replaces them).
    public var files: [ReadableFile] { (indexFile.map { [$0] } ?? []) + shards.map(\.file) }
    public var inputFiles: [ReadableFile] { files }

    /// Opens a `.safetensors` file, or a sharded set when `path` names its index (a `.json` file).
    public static func open(path: String, limits: Limits = .default) throws -> any TensorSource {
        try SafetensorsSource(path: path, limits: limits)
    }

    /// Opens a `.safetensors` file, or a sharded set when `path` names its index (a `.json` file).
    public convenience init(path: String, limits: Limits = .default) throws {
        if path.lowercased().hasSuffix(".json") {
            try self.init(indexPath: path, limits: limits)
        } else {
            let file = try ReadableFile(path: path)
            let header = try Self.readHeader(file, limits: limits)
            let name = path.split(separator: "/").last.map(String.init) ?? path
            try self.init(path: path, indexFile: nil, shards: [Shard(name: name, file: file, header: header)], limits: limits)
        }
    }

    private init(path: String, indexFile: ReadableFile?, shards: [Shard], limits: Limits) throws {
        self.path = path
        self.indexFile = indexFile
        self.shards = shards
        self.limits = limits
        var tensors: [TensorInfo] = []
        var locations: [Location] = []
        var metadata: [(String, JSONValue)] = []
        var metadataKeys = Set<ByteName>()
        var unsupported: [UnsupportedEntry] = []
        var record: String?
        for (s, shard) in shards.enumerated() {
            for t in shard.header.tensors {
                tensors.append(TensorInfo(name: t.name, dtype: t.dtype, shape: t.shape))
                locations.append(Location(shard: s, start: shard.header.dataStart + t.begin, count: Int(t.byteCount)))
            }
            for u in shard.header.unsupported {
                unsupported.append(UnsupportedEntry(name: u.name, what: "\(u.dtype) (" + u.shape.map(String.init).joined(separator: ", ") + (u.shape.count == 1 ? ",)" : ")"),
                                                    reason: "a dtype this toolkit does not read", offset: shard.header.dataStart + u.begin))
            }
            if let m = shard.header.metadata {
                for (k, v) in m where metadataKeys.insert(ByteName(k)).inserted {
                    if k.sameBytes(IndexSidecar.metadataKey) { record = v } else { metadata.append((k, .string(v))) }
                }
            }
        }
        var index = CheckpointIndex(tensors: TensorRoles.fromNames(tensors), metadata: .object(metadata))
        index.unsupported = unsupported
        index.trainabilityKnown = false
        var notes: [String] = []
        if let record {
            let (completed, order, note) = IndexSidecar.apply(Array(record.utf8), to: index, where: "__metadata__ \"\(IndexSidecar.metadataKey)\"", limits: limits)
            index = completed
            locations = order.map { locations[$0] }
            if let note { notes.append(note) }
        }
        self.locations = locations
        self.index = index
        self.notes = notes
    }

    /// Opens a sharded set from its index, checking the index and the shards against each other
    /// both ways: every shard the index names exists, every tensor the index lists is in the shard
    /// it names, and every tensor of every shard is listed, for that shard.
    private convenience init(indexPath: String, limits: Limits) throws {
        let file = try ReadableFile(path: indexPath)
        guard file.size <= limits.maxJSONBytes else {
            throw CheckpointError(.limitExceeded, "the safetensors index is \(file.size) bytes (the limit is \(limits.maxJSONBytes))", file: indexPath)
        }
        let bytes = try file.read(at: 0, count: Int(file.size), what: "safetensors index")
        let idx = try Self.parseShardIndex(bytes, limits: limits, file: indexPath)

        // Names compared as bytes (ByteName): shard files whose names differ only in Unicode
        // normalisation are two files, as they are to the file system.
        var assigned: [ByteName: String] = [:]
        assigned.reserveCapacity(idx.weightMap.count)
        var tensorsOfShard: [ByteName: [String]] = [:]
        for (t, s) in idx.weightMap {
            assigned[ByteName(t)] = s
            tensorsOfShard[ByteName(s), default: []].append(t)
        }
        let shardNames = tensorsOfShard.keys.sorted().map(\.string)
        var shards: [Shard] = []
        shards.reserveCapacity(shardNames.count)
        for name in shardNames {
            let listed = tensorsOfShard[ByteName(name)] ?? []
            let shardPath = try ShardFiles.locate(name, index: file, tensors: listed)
            let shardFile = try ReadableFile(path: shardPath)
            let header = try Self.readHeader(shardFile, limits: limits)
            var held = Set<ByteName>()
            held.reserveCapacity(header.tensors.count)
            for t in header.tensors {
                held.insert(ByteName(t.name))
                guard let owner = assigned[ByteName(t.name)] else {
                    throw CheckpointError(.invalidSafetensors, "the shard holds tensor \"\(escapeForDisplay(t.name))\", which the index \(escapeForDisplay(indexPath)) does not list",
                                          file: shardPath, member: t.name, offset: t.headerOffset,
                                          hint: "the index and the shards come from different saves; re-create the index")
                }
                guard owner.sameBytes(name) else {
                    throw CheckpointError(.invalidSafetensors, "the shard holds tensor \"\(escapeForDisplay(t.name))\", which the index \(escapeForDisplay(indexPath)) assigns to shard \"\(escapeForDisplay(owner))\"",
                                          file: shardPath, member: t.name, offset: t.headerOffset,
                                          hint: "the index and the shards come from different saves; re-create the index")
                }
            }
            for t in listed where !held.contains(ByteName(t)) {
                throw CheckpointError(.invalidSafetensors, "the index puts tensor \"\(escapeForDisplay(t))\" in shard \"\(escapeForDisplay(name))\", which does not hold it",
                                      file: indexPath, member: t,
                                      hint: "the index and the shards come from different saves, or the shard was replaced")
            }
            shards.append(Shard(name: name, file: shardFile, header: header))
        }
        try self.init(path: indexPath, indexFile: file, shards: shards, limits: limits)
    }

    /// Reads and parses the header of a safetensors file (never more than the header's bytes, and
    /// nothing at all past the 8-byte length when that length is refused).
    static func readHeader(_ file: ReadableFile, limits: Limits) throws -> SafetensorsHeader {
        let prefix = try file.read(at: 0, count: Int(min(file.size, 8)), what: "safetensors header length")
        var bytes = prefix
        if prefix.count == 8 {
            let n = prefix.withUnsafeBytes { UInt64(littleEndian: $0.loadUnaligned(as: UInt64.self)) }
            if n <= maxHeaderSize && n <= file.size - 8 && n > 0 {
                bytes += try file.read(at: 8, count: Int(n), what: "safetensors header")
            }
        }
        return try parseHeader(bytes, fileSize: file.size, limits: limits, file: file.path)
    }

    // MARK: TensorSource

    public func pieces(of i: Int) -> [Range<Int>] {
        Self.uniformPieces(count: locations[i].count, size: ContainerSpec.chunkSize)
    }

    /// Reads one piece with `pread`; safetensors keeps no checksums, so this returns 0.
    @discardableResult
    public func readPiece(_ i: Int, _ p: Int, _ body: (UnsafeRawBufferPointer) throws -> Void) throws -> UInt32 {
        let loc = locations[i]
        let lower = p * ContainerSpec.chunkSize
        let upper = min(lower + ContainerSpec.chunkSize, loc.count)
        guard lower < upper else {
            try body(UnsafeRawBufferPointer(start: nil, count: 0))
            return 0
        }
        var buf = [UInt8](repeating: 0, count: upper - lower)
        let name = index.tensors[i].name
        try buf.withUnsafeMutableBytes { b in
            try shards[loc.shard].file.read(at: loc.start + UInt64(lower), into: b, what: "data of tensor \"\(escapeForDisplay(name))\"", member: name)
        }
        try buf.withUnsafeBytes(body)
        return 0
    }

    /// Where tensor `i`'s bytes are: the file and the offset of the first byte.
    public func location(of i: Int) -> (file: ReadableFile, offset: UInt64, count: Int) {
        let loc = locations[i]
        return (shards[loc.shard].file, loc.start, loc.count)
    }
}
