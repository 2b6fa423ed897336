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
        var metadataKeys = Set<String>()
        for (s, shard) in shards.enumerated() {
            for t in shard.header.tensors {
                tensors.append(TensorInfo(name: t.name, dtype: t.dtype, shape: t.shape))
                locations.append(Location(shard: s, start: shard.header.dataStart + t.begin, count: Int(t.byteCount)))
            }
            if let m = shard.header.metadata {
                for (k, v) in m where metadataKeys.insert(k).inserted { metadata.append((k, .string(v))) }
            }
        }
        self.locations = locations
        self.index = CheckpointIndex(tensors: tensors, metadata: .object(metadata))
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

        var assigned: [String: String] = [:]
        assigned.reserveCapacity(idx.weightMap.count)
        var tensorsOfShard: [String: [String]] = [:]
        for (t, s) in idx.weightMap {
            assigned[t] = s
            tensorsOfShard[s, default: []].append(t)
        }
        let shardNames = tensorsOfShard.keys.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
        let dir: String = indexPath.lastIndex(of: "/").map { indexPath[..<$0].isEmpty ? "/" : String(indexPath[..<$0]) } ?? "."
        var shards: [Shard] = []
        shards.reserveCapacity(shardNames.count)
        for name in shardNames {
            let shardPath = (dir == "/" ? "" : dir) + "/" + name
            if !FileSystem.entryExists(shardPath) {
                let first = tensorsOfShard[name]?.first
                let example = first.map { " for tensor \"\(escapeForDisplay($0))\"\((tensorsOfShard[name]?.count ?? 0) > 1 ? " and others" : "")" } ?? ""
                throw CheckpointError(.missingPart, "the index names shard \"\(escapeForDisplay(name))\"\(example), but there is no such file next to it",
                                      file: indexPath, member: first,
                                      hint: "copy every shard of the set into \(escapeForDisplay(dir))")
            }
            let shardFile = try ReadableFile(path: shardPath)
            let header = try Self.readHeader(shardFile, limits: limits)
            var held = Set<String>()
            held.reserveCapacity(header.tensors.count)
            for t in header.tensors {
                held.insert(t.name)
                guard let owner = assigned[t.name] else {
                    throw CheckpointError(.invalidSafetensors, "the shard holds tensor \"\(escapeForDisplay(t.name))\", which the index \(escapeForDisplay(indexPath)) does not list",
                                          file: shardPath, member: t.name, offset: t.headerOffset,
                                          hint: "the index and the shards come from different saves; re-create the index")
                }
                guard owner == name else {
                    throw CheckpointError(.invalidSafetensors, "the shard holds tensor \"\(escapeForDisplay(t.name))\", which the index \(escapeForDisplay(indexPath)) assigns to shard \"\(escapeForDisplay(owner))\"",
                                          file: shardPath, member: t.name, offset: t.headerOffset,
                                          hint: "the index and the shards come from different saves; re-create the index")
                }
            }
            for t in tensorsOfShard[name] ?? [] where !held.contains(t) {
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

// MARK: - Parsing (pure functions over bytes: fuzzing targets)

extension SafetensorsSource {
    /// Names of dtypes the reference defines that have no ``DType`` here (8-, 6- and 4-bit floats,
    /// complex): refused as unsupported rather than as unknown.
    static let knownUnsupportedDtypes: Set<String> = ["F8_E5M2", "F8_E4M3", "F8_E8M0", "F6_E2M3", "F6_E3M2", "F4", "C64"]

    /// Parses and validates a safetensors header.
    ///
    /// - Parameters:
    ///   - bytes: the file's first bytes: the 8-byte length and (when that length is acceptable)
    ///     the N header bytes after it; more bytes are ignored.
    ///   - fileSize: the size of the whole file, for the data-section checks.
    /// - Throws: `CheckpointError` naming the tensor and the file offset:
    ///   `.truncated` (too short, header or a tensor past the end), `.limitExceeded` (N above
    ///   ``maxHeaderSize``, shapes that overflow, above `limits`), `.invalidJSON`,
    ///   `.invalidSafetensors` (no leading `{`, wrong fields, holes, overlaps, trailing bytes,
    ///   sizes that disagree with shape × dtype, unknown dtypes, non-string metadata),
    ///   `.duplicateName`, `.unsafeName`, `.unsupported` (dtypes without a counterpart here).
    public static func parseHeader(_ bytes: [UInt8], fileSize: UInt64, limits: Limits = .default, file: String? = nil) throws -> SafetensorsHeader {
        // tensor.rs `read_metadata`: HeaderTooSmall, HeaderTooLarge, InvalidHeaderLength.
        guard bytes.count >= 8, fileSize >= 8 else {
            throw CheckpointError(.truncated, "the file is \(min(fileSize, UInt64(bytes.count))) bytes long, too short for the 8-byte header length a safetensors file starts with",
                                  file: file, offset: 0)
        }
        let n = bytes.withUnsafeBytes { UInt64(littleEndian: $0.loadUnaligned(as: UInt64.self)) }
        guard n <= maxHeaderSize else {
            throw CheckpointError(.limitExceeded, "the header length field says \(n) bytes, more than the \(maxHeaderSize)-byte limit of the safetensors format",
                                  file: file, offset: 0, hint: "the file is damaged or is not a safetensors file")
        }
        guard n <= fileSize - 8 else {
            throw CheckpointError(.truncated, "the header length field says \(n) bytes, but only \(fileSize - 8) bytes follow it",
                                  file: file, offset: 0, hint: "the file is truncated or is not a safetensors file")
        }
        guard UInt64(bytes.count) >= 8 + n else {
            throw CheckpointError(.truncated, "only \(bytes.count - 8) of the header's \(n) bytes were read", file: file, offset: 8)
        }
        // README: "The header data MUST begin with a { character (0x7B)."
        guard n > 0 else {
            throw CheckpointError(.invalidSafetensors, "the header is empty; it must be a JSON object", file: file, offset: 8)
        }
        guard bytes[8] == UInt8(ascii: "{") else {
            throw CheckpointError(.invalidSafetensors, "the header does not begin with '{' (it begins with byte 0x\(String(bytes[8], radix: 16)))",
                                  file: file, offset: 8, hint: "the file is damaged or is not a safetensors file")
        }

        var entries: [SafetensorsHeader.Tensor] = []
        var metadata: [(key: String, value: String)]? = nil
        do {
            try bytes.withUnsafeBufferPointer { all in
                let text = UnsafeBufferPointer(rebasing: all[8..<(8 + Int(n))])
                // JSONParser.read skips trailing JSON whitespace: the padding (README: "MAY be
                // trailing padded with whitespace"; serde_json accepts any JSON whitespace).
                try JSONParser.read(text, options: limits.jsonOptions, baseOffset: 8) { p in
                    var names = Set<String>()
                    var first = true
                    try p.beginObject()
                    while let (key, keyOffset) = try p.stNextKey(first: first) {
                        first = false
                        // README: "Duplicate keys are disallowed."
                        guard names.insert(key).inserted else {
                            if key == "__metadata__" {
                                throw CheckpointError(.invalidSafetensors, "the header has two \"__metadata__\" keys", file: file, offset: keyOffset)
                            }
                            throw CheckpointError(.duplicateName, "the header lists tensor \"\(escapeForDisplay(key))\" twice", file: file, member: key, offset: keyOffset)
                        }
                        if key == "__metadata__" {
                            metadata = try p.stMetadata(file: file, at: keyOffset)
                            continue
                        }
                        guard entries.count < limits.maxMembers else {
                            throw CheckpointError(.limitExceeded, "the header lists more than \(limits.maxMembers) tensors", file: file, offset: keyOffset)
                        }
                        entries.append(try p.stTensorEntry(name: key, at: keyOffset, limits: limits, file: file))
                    }
                }
            }
        } catch var e as CheckpointError where e.code == .invalidJSON {
            e.file = file
            e.reason = "the safetensors header is " + e.reason
            throw e
        }

        // tensor.rs `validate()`: sorted by offsets, each tensor starts where the previous one
        // ended (from 0: no holes, no overlaps), END - BEGIN == product(shape) × dtype size, and
        // the last END is the end of the file (MetadataIncompleteBuffer).
        let dataLength = fileSize - 8 - n
        for e in entries {
            guard e.begin <= e.end else {
                throw CheckpointError(.invalidSafetensors, "tensor \"\(escapeForDisplay(e.name))\" has data_offsets [\(e.begin), \(e.end)], which end before they begin",
                                      file: file, member: e.name, offset: e.headerOffset)
            }
            guard e.end <= dataLength else {
                throw CheckpointError(.truncated, "tensor \"\(escapeForDisplay(e.name))\" has data_offsets [\(e.begin), \(e.end)], past the end of the \(dataLength)-byte data section (the file ends at byte \(fileSize))",
                                      file: file, member: e.name, offset: e.headerOffset, hint: "the file is truncated or its header is wrong")
            }
            try TensorNames.check(e.name, file: file)
        }
        entries.sort { a, b in
            if a.begin != b.begin { return a.begin < b.begin }
            if a.end != b.end { return a.end < b.end }
            return a.headerOffset < b.headerOffset
        }
        var expected: UInt64 = 0
        var previous: SafetensorsHeader.Tensor? = nil
        for e in entries {
            if e.begin > expected {
                throw CheckpointError(.invalidSafetensors, "bytes [\(expected), \(e.begin)) of the data section belong to no tensor (the next is \"\(escapeForDisplay(e.name))\"); the safetensors format allows no holes",
                                      file: file, member: e.name, offset: 8 + n + expected)
            }
            if e.begin < expected, let prev = previous {
                throw CheckpointError(.invalidSafetensors, "tensors \"\(escapeForDisplay(prev.name))\" [\(prev.begin), \(prev.end)) and \"\(escapeForDisplay(e.name))\" [\(e.begin), \(e.end)) overlap",
                                      file: file, member: e.name, offset: e.headerOffset)
            }
            expected = e.end
            previous = e
        }
        if expected < dataLength {
            throw CheckpointError(.invalidSafetensors, "\(dataLength - expected) bytes follow the last tensor's data; the tensors must cover the data section exactly",
                                  file: file, offset: 8 + n + expected, hint: "the file was appended to, or its header is wrong")
        }
        return SafetensorsHeader(headerLength: n, tensors: entries, metadata: metadata)
    }

    /// Parses a `*.safetensors.index.json`: `weight_map` (required: tensor name -> shard file name,
    /// a plain file name in the index's directory) and `metadata` (optional object). Other keys
    /// are ignored.
    public static func parseShardIndex(_ bytes: [UInt8], limits: Limits = .default, file: String? = nil) throws -> SafetensorsShardIndex {
        var weightMap: [(tensor: String, shard: String)] = []
        var metadata: JSONValue? = nil
        var sawWeightMap = false
        do {
            try bytes.withUnsafeBufferPointer { buf in
                try JSONParser.read(buf, options: limits.jsonOptions, baseOffset: 0) { p in
                    p.skipWhitespace()
                    guard p.i < p.buf.count, p.buf[p.i] == UInt8(ascii: "{") else {
                        throw CheckpointError(.invalidSafetensors, "the index is not a JSON object", file: file, offset: 0)
                    }
                    var first = true
                    var keys = Set<String>()
                    try p.beginObject()
                    while let (key, keyOffset) = try p.stNextKey(first: first) {
                        first = false
                        guard keys.insert(key).inserted else {
                            throw CheckpointError(.invalidJSON, "the safetensors index has two \"\(escapeForDisplay(key))\" keys", file: file, offset: keyOffset)
                        }
                        switch key {
                        case "weight_map":
                            sawWeightMap = true
                            p.skipWhitespace()
                            guard p.i < p.buf.count, p.buf[p.i] == UInt8(ascii: "{") else {
                                throw CheckpointError(.invalidSafetensors, "the index's \"weight_map\" is \(try p.readValue().typeDescription), not an object", file: file, offset: keyOffset)
                            }
                            var names = Set<String>()
                            var firstEntry = true
                            try p.beginObject()
                            while let (tensor, at) = try p.stNextKey(first: firstEntry) {
                                firstEntry = false
                                guard names.insert(tensor).inserted else {
                                    throw CheckpointError(.duplicateName, "the index's weight_map lists tensor \"\(escapeForDisplay(tensor))\" twice", file: file, member: tensor, offset: at)
                                }
                                guard weightMap.count < limits.maxMembers else {
                                    throw CheckpointError(.limitExceeded, "the index lists more than \(limits.maxMembers) tensors", file: file, offset: at)
                                }
                                p.skipWhitespace()
                                guard p.i < p.buf.count, p.buf[p.i] == UInt8(ascii: "\"") else {
                                    throw CheckpointError(.invalidSafetensors, "the index maps tensor \"\(escapeForDisplay(tensor))\" to \(try p.readValue().typeDescription), not a shard file name",
                                                          file: file, member: tensor, offset: at)
                                }
                                let shard = try p.string()
                                try checkShardName(shard, file: file, tensor: tensor, offset: at)
                                try TensorNames.check(tensor, file: file)
                                weightMap.append((tensor, shard))
                            }
                        case "metadata":
                            let v = try p.readValue()
                            guard v.objectValue != nil || v.isNull else {
                                throw CheckpointError(.invalidSafetensors, "the index's \"metadata\" is \(v.typeDescription), not an object", file: file, offset: keyOffset)
                            }
                            metadata = v.isNull ? nil : v
                        default:
                            _ = try p.readValue()
                        }
                    }
                }
            }
        } catch var e as CheckpointError where e.code == .invalidJSON {
            e.file = file
            if !e.reason.hasPrefix("the safetensors index") { e.reason = "the safetensors index is " + e.reason }
            throw e
        }
        guard sawWeightMap else {
            throw CheckpointError(.invalidSafetensors, "the index has no \"weight_map\" object (is it a *.safetensors.index.json file?)", file: file, offset: 0)
        }
        return SafetensorsShardIndex(weightMap: weightMap, metadata: metadata)
    }

    /// A shard is a plain file name next to the index: no directories, no `..`, no controls.
    static func checkShardName(_ name: String, file: String?, tensor: String, offset: UInt64) throws {
        var problem: String? = nil
        if name.isEmpty { problem = "is empty" }
        else if name == "." || name == ".." { problem = "is not a file name" }
        else if name.utf8.contains(UInt8(ascii: "/")) || name.utf8.contains(UInt8(ascii: "\\")) { problem = "is a path, not a file name in the index's directory" }
        else if name.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F || ($0.value >= 0x80 && $0.value < 0xA0) }) { problem = "contains a control character" }
        if let problem {
            throw CheckpointError(.unsafeName, "the index puts tensor \"\(escapeForDisplay(tensor))\" in shard \"\(escapeForDisplay(name))\", whose name \(problem); refused",
                                  file: file, member: tensor, offset: offset)
        }
    }
}

// MARK: - JSON helpers for the header (same module: the parser's internals are shared)

extension JSONParser {
    /// The next key as a String with its file offset (positioned at its value), or nil after `}`.
    /// Unlike ``nextKey(first:)`` it keeps the key's text: the keys here are tensor names.
    fileprivate mutating func stNextKey(first: Bool) throws -> (String, UInt64)? {
        guard try atNextKey(first: first) else { return nil }
        let at = offset
        let key = try string()
        try expect(UInt8(ascii: ":"), "':' after an object key")
        skipWhitespace()
        return (key, at)
    }

    /// A JSON integer that fits `UInt64`, written as digits only (serde's `usize`: no sign,
    /// fraction or exponent).
    fileprivate mutating func stUInt(_ what: @autoclosure () -> String, file: String?, name: String) throws -> UInt64 {
        skipWhitespace()
        let start = i
        var v: UInt64 = 0
        var digits = 0
        while i < buf.count, buf[i] >= 0x30, buf[i] <= 0x39 {
            let (m, o1) = v.multipliedReportingOverflow(by: 10)
            let (a, o2) = m.addingReportingOverflow(UInt64(buf[i] - 0x30))
            if o1 || o2 {
                throw CheckpointError(.limitExceeded, "tensor \"\(escapeForDisplay(name))\" has \(what()) too large for 64 bits", file: file, member: name, offset: base + UInt64(start))
            }
            v = a
            i += 1
            digits += 1
        }
        let fractional = i < buf.count && (buf[i] == UInt8(ascii: ".") || buf[i] == UInt8(ascii: "e") || buf[i] == UInt8(ascii: "E"))
        if digits == 0 || fractional || (digits > 1 && buf[start] == UInt8(ascii: "0")) {
            i = start
            let found = try readValue()
            throw CheckpointError(.invalidSafetensors, "tensor \"\(escapeForDisplay(name))\" has \(what()) \(found.serialized()), not a non-negative integer",
                                  file: file, member: name, offset: base + UInt64(start))
        }
        return v
    }

    /// `[d0, d1, ...]` of non-negative integers.
    fileprivate mutating func stUIntArray(_ what: String, maxCount: Int, file: String?, name: String) throws -> [UInt64] {
        skipWhitespace()
        let start = offset
        guard i < buf.count, buf[i] == UInt8(ascii: "[") else {
            let found = try readValue()
            throw CheckpointError(.invalidSafetensors, "tensor \"\(escapeForDisplay(name))\" has \(what) \(found.typeDescription), not an array of integers", file: file, member: name, offset: start)
        }
        i += 1
        var out: [UInt64] = []
        while try nextElement(first: out.isEmpty) {
            guard out.count < maxCount else {
                // A rank above the limit is a limit; a third data offset is a broken header.
                if what == "shape" {
                    throw CheckpointError(.limitExceeded, "tensor \"\(escapeForDisplay(name))\" has more than \(maxCount) dimensions (the limit is \(maxCount))",
                                          file: file, member: name, offset: start)
                }
                throw CheckpointError(.invalidSafetensors, "tensor \"\(escapeForDisplay(name))\" has more than \(maxCount) \(what); it needs two, [BEGIN, END]",
                                      file: file, member: name, offset: start)
            }
            out.append(try stUInt("a \(what) value", file: file, name: name))
        }
        return out
    }

    /// One tensor's entry: `{"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}`.
    /// Unknown fields are skipped, as the reference (serde without deny_unknown_fields) does.
    fileprivate mutating func stTensorEntry(name: String, at keyOffset: UInt64, limits: Limits, file: String?) throws -> SafetensorsHeader.Tensor {
        func bad(_ why: String) -> CheckpointError {
            CheckpointError(.invalidSafetensors, "tensor \"\(escapeForDisplay(name))\" " + why, file: file, member: name, offset: keyOffset)
        }
        skipWhitespace()
        guard i < buf.count, buf[i] == UInt8(ascii: "{") else {
            throw bad("is described by \(try readValue().typeDescription), not an object with dtype, shape and data_offsets")
        }
        i += 1
        var dtypeName: String?
        var shape: [UInt64]?
        var offsets: [UInt64]?
        var firstKey = true
        let kDtype = JSONKey("dtype"), kShape = JSONKey("shape"), kOffsets = JSONKey("data_offsets")
        while let k = try nextKey(first: firstKey) {
            firstKey = false
            switch k {
            case kDtype:
                guard dtypeName == nil else { throw bad("has two \"dtype\" fields") }
                skipWhitespace()
                guard i < buf.count, buf[i] == UInt8(ascii: "\"") else { throw bad("has a \"dtype\" that is \(try readValue().typeDescription), not a string") }
                dtypeName = try string()
            case kShape:
                guard shape == nil else { throw bad("has two \"shape\" fields") }
                shape = try stUIntArray("shape", maxCount: limits.maxRank, file: file, name: name)
            case kOffsets:
                guard offsets == nil else { throw bad("has two \"data_offsets\" fields") }
                offsets = try stUIntArray("data_offsets", maxCount: 2, file: file, name: name)
            default:
                _ = try readValue()
            }
        }
        guard let dtypeName else { throw bad("has no \"dtype\"") }
        guard let shape else { throw bad("has no \"shape\"") }
        guard let offsets else { throw bad("has no \"data_offsets\"") }
        guard offsets.count == 2 else { throw bad("has \(offsets.count) data_offsets; it needs two, [BEGIN, END]") }
        guard let dtype = DType(safetensorsName: dtypeName) else {
            if SafetensorsSource.knownUnsupportedDtypes.contains(dtypeName) {
                throw CheckpointError(.unsupported, "tensor \"\(escapeForDisplay(name))\" has dtype \(dtypeName), which this tool does not support",
                                      file: file, member: name, offset: keyOffset,
                                      hint: "supported: BOOL, U8, I8, U16, I16, F16, BF16, U32, I32, F32, U64, I64, F64")
            }
            throw bad("has an unknown dtype \"\(escapeForDisplay(dtypeName))\"")
        }
        var dims: [Int] = []
        dims.reserveCapacity(shape.count)
        for d in shape {
            guard d <= UInt64(Int.max) else {
                throw CheckpointError(.limitExceeded, "tensor \"\(escapeForDisplay(name))\" has a dimension of \(d)", file: file, member: name, offset: keyOffset)
            }
            dims.append(Int(d))
        }
        // tensor.rs `validate()`: ValidationOverflow, then TensorInvalidInfo.
        let info = TensorInfo(name: name, dtype: dtype, shape: dims)
        guard let nbytes = info.byteCount else {
            throw CheckpointError(.limitExceeded, "tensor \"\(escapeForDisplay(name))\" has shape \(info.shapeDescription), whose size overflows 63 bits",
                                  file: file, member: name, offset: keyOffset)
        }
        guard UInt64(nbytes) <= limits.maxTensorBytes else {
            throw CheckpointError(.limitExceeded, "tensor \"\(escapeForDisplay(name))\" is \(nbytes) bytes (the limit is \(limits.maxTensorBytes))",
                                  file: file, member: name, offset: keyOffset)
        }
        let (begin, end) = (offsets[0], offsets[1])
        if begin <= end && end - begin != UInt64(nbytes) {
            throw bad("is \(dtypeName) \(info.shapeDescription), \(nbytes) bytes, but its data_offsets [\(begin), \(end)] span \(end - begin) bytes")
        }
        return SafetensorsHeader.Tensor(name: name, dtype: dtype, shape: dims, begin: begin, end: end, headerOffset: keyOffset)
    }

    /// `__metadata__`: `null` or an object whose values are all strings (README: "free form
    /// string-to-string map"; serde refuses anything else).
    fileprivate mutating func stMetadata(file: String?, at keyOffset: UInt64) throws -> [(key: String, value: String)]? {
        if try readNull() { return nil }
        skipWhitespace()
        guard i < buf.count, buf[i] == UInt8(ascii: "{") else {
            throw CheckpointError(.invalidSafetensors, "\"__metadata__\" is \(try readValue().typeDescription), not an object of strings", file: file, offset: keyOffset)
        }
        i += 1
        var out: [(key: String, value: String)] = []
        var keys = Set<String>()
        var first = true
        while let (key, at) = try stNextKey(first: first) {
            first = false
            guard keys.insert(key).inserted else {
                throw CheckpointError(.invalidSafetensors, "\"__metadata__\" has two \"\(escapeForDisplay(key))\" keys", file: file, offset: at)
            }
            skipWhitespace()
            guard i < buf.count, buf[i] == UInt8(ascii: "\"") else {
                throw CheckpointError(.invalidSafetensors, "the \"__metadata__\" value of \"\(escapeForDisplay(key))\" is \(try readValue().typeDescription); safetensors metadata maps strings to strings",
                                      file: file, offset: at)
            }
            out.append((key, try string()))
        }
        return out
    }
}

// MARK: - Writing

/// Writes safetensors files laid out as `safetensors.numpy.save_file` lays them out, and sharded
/// sets named and indexed as `transformers` / `huggingface_hub` name them.
///
/// Layout (tensor.rs `prepare`): tensors sorted by descending dtype alignment (the reference's
/// `Dtype` order: U64, I64, F64, F32, U32, I32, BF16, F16, U16, I16, I8, U8, BOOL), then by name
/// (byte order); the header is compact JSON (`__metadata__` first, then the tensors in data
/// order, as serde_json writes it) padded with spaces to a multiple of 8 bytes. A file written
/// here from tensors Python wrote is byte-identical to Python's.
///
/// Destinations:
/// - `x.safetensors` (any name not ending in `.index.json`) without `maxShardSize`: one file.
/// - `dir/NAME.safetensors.index.json` (any name ending in `.index.json`): a sharded set — the
///   index there and shards `dir/NAME-00001-of-0000N.safetensors`; tensors fill shards greedily in
///   the order given, a shard closing before a tensor that would push its data past
///   `maxShardSize` (default ``defaultMaxShardSize``), a bigger tensor alone in its shard. The
///   index is `{"metadata": {"total_size": N}, "weight_map": {...}}`, keys sorted, indented by
///   two spaces, as `transformers` writes it. Every shard carries the `__metadata__`.
/// - `maxShardSize` with a destination that is not an index file is refused (the file named would
///   not be written); the error names the index path to use.
///
/// Metadata: ``CheckpointIndex/metadata`` becomes `__metadata__`; string values as they are,
/// other values as their compact JSON text (safetensors metadata holds strings only). No
/// `__metadata__` is written when it is empty.
///
/// Every output goes through ``AtomicOutputFile``; a sharded set's files are all written to
/// temporary files first and renamed into place at the end, shards first and the index last.
public enum SafetensorsWriter {
    /// huggingface_hub's default `max_shard_size` ("5GB").
    public static let defaultMaxShardSize: UInt64 = 5_000_000_000

    /// Writes tensors `tensors` (indices into `source.index.tensors`; default: all of them).
    /// Returns the paths written (the file; or the index, then the shards).
    @discardableResult
    public static func write(_ source: any TensorSource, tensors: [Int]? = nil, to path: String,
                             options: WriteOptions = WriteOptions(), maxShardSize: UInt64? = nil) throws -> [String] {
        let list = tensors ?? Array(source.index.tensors.indices)
        let infos = source.index.tensors
        var seen = Set<String>()
        seen.reserveCapacity(list.count)
        for k in list {
            let t = infos[k]
            guard t.name != "__metadata__" else {
                throw CheckpointError(.invalidArgument, "a tensor named \"__metadata__\" cannot be written: safetensors reserves that key", file: path)
            }
            guard seen.insert(t.name).inserted else {
                throw CheckpointError(.duplicateName, "two tensors are named \"\(escapeForDisplay(t.name))\"", file: path, member: t.name)
            }
            guard t.byteCount != nil else {
                throw CheckpointError(.limitExceeded, "tensor \"\(escapeForDisplay(t.name))\" has a shape whose size overflows", file: path, member: t.name)
            }
        }
        let metadata = metadataPairs(source.index.metadata)
        let total = list.reduce(UInt64(0)) { $0 + UInt64(infos[$1].byteCount ?? 0) }
        var progress = Progress(total: total, report: options.progress)

        let isIndex = path.lowercased().hasSuffix(".index.json")
        if !isIndex {
            if maxShardSize != nil {
                throw CheckpointError(.invalidArgument, "a sharded set is written through its index file, and \"\(escapeForDisplay(path))\" is not one",
                                      file: path, hint: "name the output \(escapeForDisplay(indexPath(for: path))) to write shards next to it")
            }
            let out = try AtomicOutputFile(destination: path, overwrite: options.overwrite, inputs: options.inputs)
            try writeFile(source, list, metadata: metadata, to: out, progress: &progress)
            try out.commit()
            return [path]
        }

        let limit = maxShardSize ?? defaultMaxShardSize
        guard limit > 0 else { throw CheckpointError(.invalidArgument, "the maximum shard size must be at least 1 byte", file: path) }
        var groups: [[Int]] = []
        var current: [Int] = []
        var currentSize: UInt64 = 0
        for k in list {
            let n = UInt64(infos[k].byteCount ?? 0)
            if !current.isEmpty && (currentSize > limit || n > limit - currentSize) {
                groups.append(current)
                current = []
                currentSize = 0
            }
            current.append(k)
            currentSize += n
        }
        if !current.isEmpty { groups.append(current) }

        let names = try shardNames(forIndex: path, count: groups.count)
        let dir: String? = path.lastIndex(of: "/").map { String(path[...$0]) }
        let shardPaths = names.map { (dir ?? "") + $0 }
        // Create every output first: an existing destination is refused before any data is written.
        var outputs: [AtomicOutputFile] = []
        for p in shardPaths { outputs.append(try AtomicOutputFile(destination: p, overwrite: options.overwrite, inputs: options.inputs)) }
        let indexOut = try AtomicOutputFile(destination: path, overwrite: options.overwrite, inputs: options.inputs)

        var weightMap: [(String, JSONValue)] = []
        weightMap.reserveCapacity(list.count)
        for (g, group) in groups.enumerated() {
            try writeFile(source, group, metadata: metadata, to: outputs[g], progress: &progress)
            for k in group { weightMap.append((infos[k].name, .string(names[g]))) }
        }
        weightMap.sort { $0.0.utf8.lexicographicallyPrecedes($1.0.utf8) }
        let indexJSON = JSONValue.object([
            ("metadata", .object([("total_size", .number(total))])),
            ("weight_map", .object(weightMap)),
        ])
        try indexOut.append(indexJSON.serializedBytes(.pretty))
        for out in outputs { try out.commit() }
        try indexOut.commit()
        return [path] + shardPaths
    }

    /// The index path `transformers` would use for the weights file `path`
    /// (`dir/model.safetensors` -> `dir/model.safetensors.index.json`).
    public static func indexPath(for path: String) -> String {
        path.lowercased().hasSuffix(".index.json") ? path : stem(of: path) + ".safetensors.index.json"
    }

    /// Shard file names for the index `path`: `NAME-00001-of-00003.safetensors` where the index is
    /// `NAME.safetensors.index.json` (transformers: `weights_name.replace(".safetensors",
    /// f"-{i:05d}-of-{n:05d}.safetensors")`).
    public static func shardNames(forIndex path: String, count: Int) throws -> [String] {
        let base = stem(of: path).split(separator: "/", omittingEmptySubsequences: false).last.map(String.init) ?? ""
        guard !base.isEmpty else {
            throw CheckpointError(.invalidArgument, "the index name \"\(escapeForDisplay(path))\" leaves no name for its shards", file: path,
                                  hint: "use a name like model.safetensors.index.json")
        }
        func pad(_ k: Int) -> String {
            let s = String(k)
            return s.count >= 5 ? s : String(repeating: "0", count: 5 - s.count) + s
        }
        return (0..<count).map { $0 + 1 }.map { "\(base)-\(pad($0))-of-\(pad(count)).safetensors" }
    }

    /// `path` without `.index.json` and then `.safetensors` (case-insensitive).
    static func stem(of path: String) -> String {
        var s = Substring(path)
        if s.lowercased().hasSuffix(".index.json") { s = s.dropLast(11) }
        if s.lowercased().hasSuffix(".safetensors") { s = s.dropLast(12) }
        return String(s)
    }

    /// Parses a size for `--max-shard-size`: plain bytes (`1000000`), or a number with a unit:
    /// decimal `B`, `KB`/`K`, `MB`/`M`, `GB`/`G`, `TB`/`T` (as huggingface_hub counts them:
    /// `5GB` = 5·10⁹) or binary `KiB`, `MiB`, `GiB`, `TiB`; case-insensitive; a fraction is
    /// allowed (`1.5GB`). Zero, negative, malformed or overflowing values are refused.
    public static func parseSize(_ text: String) throws -> UInt64 {
        func bad(_ why: String) -> CheckpointError {
            CheckpointError(.invalidArgument, "the size \"\(escapeForDisplay(text))\" \(why)", hint: "write a size like 500MB, 2GB, 1GiB or a number of bytes")
        }
        let s = Array(text.trimmingASCIIWhitespace().utf8)
        var k = 0
        var whole: UInt64 = 0
        var wholeDigits = 0
        while k < s.count, s[k] >= 0x30, s[k] <= 0x39 {
            let (m, o1) = whole.multipliedReportingOverflow(by: 10)
            let (a, o2) = m.addingReportingOverflow(UInt64(s[k] - 0x30))
            if o1 || o2 { throw bad("is too large") }
            whole = a
            wholeDigits += 1
            k += 1
        }
        var fraction: [UInt8] = []
        if k < s.count, s[k] == UInt8(ascii: ".") {
            k += 1
            while k < s.count, s[k] >= 0x30, s[k] <= 0x39 { fraction.append(s[k] - 0x30); k += 1 }
            guard !fraction.isEmpty else { throw bad("has no digits after its decimal point") }
        }
        guard wholeDigits > 0 || !fraction.isEmpty else { throw bad("does not start with a number") }
        while k < s.count, s[k] == 0x20 { k += 1 }
        let unit = String(decoding: s[k...], as: UTF8.self).lowercased()
        let multiplier: UInt64
        switch unit {
        case "", "b": multiplier = 1
        case "k", "kb": multiplier = 1_000
        case "m", "mb": multiplier = 1_000_000
        case "g", "gb": multiplier = 1_000_000_000
        case "t", "tb": multiplier = 1_000_000_000_000
        case "kib": multiplier = 1 << 10
        case "mib": multiplier = 1 << 20
        case "gib": multiplier = 1 << 30
        case "tib": multiplier = 1 << 40
        default: throw bad("has an unknown unit \"\(escapeForDisplay(unit))\"")
        }
        let (w, o) = whole.multipliedReportingOverflow(by: multiplier)
        if o { throw bad("is too large") }
        // The fraction, in whole bytes (rounded down).
        var frac: UInt64 = 0
        if !fraction.isEmpty {
            // multiplier × 0.d1d2… = (multiplier × d1d2…) / 10^count.
            guard fraction.count <= 12 else { throw bad("has too many decimals") }
            var digits: UInt64 = 0
            var pow10: UInt64 = 1
            for d in fraction { digits = digits * 10 + UInt64(d); pow10 *= 10 }
            let (p, o2) = digits.multipliedReportingOverflow(by: multiplier)
            if o2 { throw bad("is too large") }
            frac = p / pow10
        }
        let (value, o3) = w.addingReportingOverflow(frac)
        if o3 { throw bad("is too large") }
        guard value > 0 else { throw bad("is zero; a shard must hold at least one byte") }
        return value
    }

    /// `metadata` as safetensors `__metadata__` pairs: strings as they are, anything else as its
    /// compact JSON text. Empty unless `metadata` is a non-empty object.
    public static func metadataPairs(_ metadata: JSONValue) -> [(String, String)] {
        guard let members = metadata.objectValue else { return [] }
        return members.map { k, v in (k, v.stringValue ?? v.serialized(.compact)) }
    }

    /// The data order `safetensors` uses: descending dtype alignment, then name (tensor.rs
    /// `prepare`: `right.dtype().cmp(&left.dtype()).then(lname.cmp(rname))`).
    static func dataOrder(_ list: [Int], _ infos: [TensorInfo]) -> [Int] {
        list.sorted { a, b in
            let ra = alignmentRank(infos[a].dtype), rb = alignmentRank(infos[b].dtype)
            if ra != rb { return ra > rb }
            return infos[a].name.utf8.lexicographicallyPrecedes(infos[b].name.utf8)
        }
    }

    /// Position in the reference's `Dtype` enum ("They MUST be in increasing alignment order").
    static func alignmentRank(_ d: DType) -> Int {
        switch d {
        case .bool: return 0
        case .uint8: return 1
        case .int8: return 2
        case .int16: return 3
        case .uint16: return 4
        case .float16: return 5
        case .bfloat16: return 6
        case .int32: return 7
        case .uint32: return 8
        case .float32: return 9
        case .float64: return 10
        case .int64: return 11
        case .uint64: return 12
        }
    }

    /// The 8-byte length and the padded JSON header for `tensors` laid out in that order.
    public static func encodeHeader(_ tensors: [TensorInfo], metadata: [(String, String)]) -> [UInt8] {
        var json: [UInt8] = []
        json.reserveCapacity(64 + tensors.count * 96)
        json.append(UInt8(ascii: "{"))
        var first = true
        if !metadata.isEmpty {
            appendString("__metadata__", to: &json)
            json += Array(":{".utf8)
            for (k, (key, value)) in metadata.enumerated() {
                if k > 0 { json.append(UInt8(ascii: ",")) }
                appendString(key, to: &json)
                json.append(UInt8(ascii: ":"))
                appendString(value, to: &json)
            }
            json.append(UInt8(ascii: "}"))
            first = false
        }
        var offset: UInt64 = 0
        for t in tensors {
            if !first { json.append(UInt8(ascii: ",")) }
            first = false
            let n = UInt64(t.byteCount ?? 0)
            appendString(t.name, to: &json)
            json += Array(":{\"dtype\":\"\(t.dtype.safetensorsName)\",\"shape\":[".utf8)
            json += Array(t.shape.map(String.init).joined(separator: ",").utf8)
            json += Array("],\"data_offsets\":[\(offset),\(offset + n)]}".utf8)
            offset += n
        }
        json.append(UInt8(ascii: "}"))
        // tensor.rs `prepare`: "Force alignment to 8 bytes" with spaces.
        json += [UInt8](repeating: 0x20, count: (8 - json.count % 8) % 8)
        var out: [UInt8] = []
        out.reserveCapacity(8 + json.count)
        out.appendLE(UInt64(json.count))
        out += json
        return out
    }

    /// A JSON string as serde_json writes it: `"` and `\` escaped, the short escapes for
    /// \b \f \n \r \t, `\u00XX` (lower-case hex) for other controls; everything else as UTF-8.
    static func appendString(_ s: String, to out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        let hex = Array("0123456789abcdef".utf8)
        for b in s.utf8 {
            switch b {
            case UInt8(ascii: "\""): out += [0x5C, 0x22]
            case UInt8(ascii: "\\"): out += [0x5C, 0x5C]
            case 0x08: out += [0x5C, UInt8(ascii: "b")]
            case 0x0C: out += [0x5C, UInt8(ascii: "f")]
            case 0x0A: out += [0x5C, UInt8(ascii: "n")]
            case 0x0D: out += [0x5C, UInt8(ascii: "r")]
            case 0x09: out += [0x5C, UInt8(ascii: "t")]
            case 0..<0x20: out += Array("\\u00".utf8) + [hex[Int(b >> 4)], hex[Int(b & 0xF)]]
            default: out.append(b)
            }
        }
        out.append(UInt8(ascii: "\""))
    }

    struct Progress {
        let total: UInt64
        let report: (@Sendable (UInt64, UInt64) -> Void)?
        var done: UInt64 = 0
        mutating func add(_ n: UInt64) {
            done += n
            report?(done, total)
        }
    }

    /// Writes one safetensors file: header, then each tensor's bytes streamed from the source
    /// (copied in the kernel when the source is a safetensors file).
    static func writeFile(_ source: any TensorSource, _ list: [Int], metadata: [(String, String)], to out: AtomicOutputFile,
                          progress: inout Progress) throws {
        let infos = source.index.tensors
        let order = dataOrder(list, infos)
        try out.append(encodeHeader(order.map { infos[$0] }, metadata: metadata))
        let direct = source as? SafetensorsSource
        for k in order {
            let t = infos[k]
            let n = UInt64(t.byteCount ?? 0)
            if n > 0 {
                if let direct {
                    let loc = direct.location(of: k)
                    guard UInt64(loc.count) == n else {
                        throw CheckpointError(.corrupt, "tensor \"\(escapeForDisplay(t.name))\" has \(loc.count) bytes of data where its shape needs \(n)", file: source.path, member: t.name)
                    }
                    try out.appendCopy(from: loc.file, at: loc.offset, count: n)
                } else {
                    try source.readTensorChecked(k) { try out.append($0) }
                }
            }
            progress.add(n)
        }
    }
}

extension String {
    fileprivate func trimmingASCIIWhitespace() -> String {
        var s = Substring(self)
        while let f = s.first, f == " " || f == "\t" || f == "\n" || f == "\r" { s = s.dropFirst() }
        while let l = s.last, l == " " || l == "\t" || l == "\n" || l == "\r" { s = s.dropLast() }
        return String(s)
    }
}
