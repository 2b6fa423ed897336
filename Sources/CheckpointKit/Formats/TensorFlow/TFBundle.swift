// A TensorFlow tensor bundle (tensorflow/core/util/tensor_bundle/tensor_bundle.cc): the `.index`
// table, whose empty key holds a `BundleHeaderProto` and every other key a `BundleEntryProto`,
// and the `.data-NNNNN-of-MMMMM` shards holding the tensors' bytes at the entries' offsets.
//
// Tensor data is the tensor's elements in C order, in the byte order the header names (TensorFlow
// writes the host's: little-endian everywhere it runs today). The entry's `crc32c` is the masked
// CRC-32C of those bytes. A string tensor is `varint64 length` per element, the masked CRC-32C of
// the lengths (each taken as a little-endian uint32), then the bytes of every element; its entry's
// CRC covers the lengths as uint32s, the length checksum and the bytes.
//
// A partitioned variable (TF1 `PartitionedVariable`) is one entry with `slices` and no data, plus
// one entry per slice under the key `EncodeTensorNameSlice(name, slice)` (an OrderedCode string:
// see ``TFBundle/sliceKey(_:_:)``).

/// A bundle's `.index`, read and checked (no tensor data is read).
public struct TFBundle: Sendable {
    public struct Entry: Sendable {
        /// The key as text (slice keys, which hold binary, are not listed here).
        public var key: String
        public var proto: TFBundleEntry
        /// File offset of the entry's value in the `.index` (for messages).
        public var indexOffset: UInt64
    }

    /// The kTensorBundleVersion this reader understands (TensorFlow writes 1, min_consumer 0).
    static let version: Int32 = 1

    public let path: String
    public let header: TFBundleHeader
    /// Entries in key order, without the header and without slice entries.
    public let entries: [Entry]
    /// Slice entries by their encoded key.
    let sliceEntries: [[UInt8]: Entry]

    /// Parses an `.index` file's bytes.
    public init(indexBytes bytes: [UInt8], path: String, limits: Limits) throws {
        self.path = path
        let table = try LevelDBTable(bytes: bytes, file: path, limits: limits)
        guard let first = table.entries.first, first.key.isEmpty else {
            throw CheckpointError(.corrupt, "the index has no header entry (the empty key holding a BundleHeaderProto)", file: path,
                                  offset: UInt64(table.entries.first?.value.lowerBound ?? 0))
        }
        let h = try TFProtos.decodeHeader(bytes, range: first.value,
                                          origin: ProtoOrigin(file: path, member: "(header)", base: 0, what: "BundleHeaderProto"))
        guard h.numShards >= 1, Int(h.numShards) <= min(limits.maxMembers, 100_000) else {
            throw CheckpointError(.corrupt, "the header says the bundle has \(h.numShards) data shards", file: path, member: "(header)",
                                  offset: UInt64(first.value.lowerBound))
        }
        guard h.endianness == 0 else {
            throw CheckpointError(.unsupported, "the bundle was written big-endian; only little-endian bundles are read", file: path, member: "(header)",
                                  offset: UInt64(first.value.lowerBound))
        }
        guard h.minConsumer <= Self.version else {
            throw CheckpointError(.unsupported, "the bundle needs a reader of version \(h.minConsumer) or newer; this one reads version \(Self.version)",
                                  file: path, member: "(header)", offset: UInt64(first.value.lowerBound))
        }
        self.header = h
        var entries: [Entry] = []
        var slices: [[UInt8]: Entry] = [:]
        for e in table.entries.dropFirst() {
            let display = LevelDBTable.display(e.key)
            let origin = ProtoOrigin(file: path, member: display, base: 0, what: "BundleEntryProto")
            let proto = try TFProtos.decodeEntry(bytes, range: e.value, origin: origin, limits: limits)
            let entry = Entry(key: display, proto: proto, indexOffset: UInt64(e.value.lowerBound))
            try Self.check(entry, header: h, file: path, limits: limits)
            if e.key.first == 0 {
                slices[e.key] = entry
                continue
            }
            guard let key = String(validating: e.key, as: UTF8.self) else {
                throw CheckpointError(.unsafeName, "a key is not UTF-8", file: path, member: display, offset: UInt64(e.value.lowerBound))
            }
            entries.append(Entry(key: key, proto: proto, indexOffset: entry.indexOffset))
        }
        self.entries = entries
        self.sliceEntries = slices
    }

    /// The structural checks of one entry (shard, offset, size against dtype and shape).
    static func check(_ e: Entry, header: TFBundleHeader, file: String, limits: Limits) throws {
        let p = e.proto
        func fail(_ reason: String, _ code: CheckpointError.Code = .corrupt) -> CheckpointError {
            CheckpointError(code, reason, file: file, member: e.key, offset: e.indexOffset)
        }
        guard !p.unknownRank else { throw fail("the entry's shape has unknown rank") }
        guard p.shape.allSatisfy({ $0 >= 0 }) else { throw fail("the entry's shape \(p.shape) has a negative dimension") }
        guard p.shardID >= 0, p.shardID < header.numShards else {
            throw fail("the entry is in shard \(p.shardID), but the bundle has \(header.numShards) shard\(header.numShards == 1 ? "" : "s")")
        }
        guard p.offset >= 0, p.size >= 0, p.offset <= Int64.max - p.size else {
            throw fail("the entry's offset \(p.offset) and size \(p.size) are not a byte range")
        }
        guard UInt64(p.size) <= limits.maxTensorBytes else {
            throw fail("the entry is \(p.size) bytes, more than the limit \(limits.maxTensorBytes)", .limitExceeded)
        }
        let shape = p.shape.map { Int(clamping: $0) }
        guard let count = TensorInfo.elementCount(shape) else { throw fail("the entry's shape \(p.shape) has more elements than can be counted") }
        if !p.slices.isEmpty {
            guard p.size == 0 else { throw fail("a partitioned entry holds \(p.size) bytes of its own; its data belongs in its slices") }
            for s in p.slices where s.extents.count != p.shape.count {
                throw fail("a slice has \(s.extents.count) extents for a tensor of rank \(p.shape.count)")
            }
            return
        }
        if let d = p.dtype.dtype {
            let (need, overflow) = count.multipliedReportingOverflow(by: d.itemSize)
            guard !overflow, Int64(need) == p.size else {
                throw fail("the entry holds \(p.size) bytes, but \(d.rawValue) \(p.shape) needs \(overflow ? "more than can be counted" : String(need))")
            }
        } else if p.dtype == .string {
            // Each element takes at least one length byte, plus the 4-byte length checksum.
            guard p.size >= 4, Int64(count) <= p.size - 4 else {
                throw fail("the string entry holds \(p.size) bytes, too few for \(count) elements")
            }
        }
    }

    /// The data shard file names of a prefix: `prefix.data-00000-of-00003`...
    public static func shardPath(prefix: String, shard: Int, of count: Int) -> String {
        func five(_ n: Int) -> String {
            let s = String(n)
            return s.count >= 5 ? s : String(repeating: "0", count: 5 - s.count) + s
        }
        return prefix + ".data-" + five(shard) + "-of-" + five(count)
    }

    // MARK: Slice keys (tensorflow/core/util/saved_tensor_slice_util.cc, lib/strings/ordered_code.cc)

    /// `EncodeTensorNameSlice`: OrderedCode `NumIncreasing(0) String(name) NumIncreasing(rank)`, then
    /// `SignedNumIncreasing(start) SignedNumIncreasing(length)` per dimension (-1 for a full extent).
    static func sliceKey(_ name: String, _ slice: TFTensorSlice) -> [UInt8] {
        var out: [UInt8] = [0]
        for b in name.utf8 {
            switch b {
            case 0x00: out += [0x00, 0xFF]
            case 0xFF: out += [0xFF, 0x00]
            default: out.append(b)
            }
        }
        out += [0x00, 0x01]
        out += numIncreasing(UInt64(slice.extents.count))
        for e in slice.extents {
            out += signedNumIncreasing(e.start)
            out += signedNumIncreasing(e.length ?? -1)
        }
        return out
    }

    static func numIncreasing(_ v: UInt64) -> [UInt8] {
        var bytes: [UInt8] = []
        var x = v
        while x > 0 {
            bytes.insert(UInt8(truncatingIfNeeded: x), at: 0)
            x >>= 8
        }
        return [UInt8(bytes.count)] + bytes
    }

    static func signedNumIncreasing(_ v: Int64) -> [UInt8] {
        let x: UInt64 = v < 0 ? ~UInt64(bitPattern: v) : UInt64(v)
        if x < 64 { return [UInt8(truncatingIfNeeded: 0x80 ^ UInt64(bitPattern: v))] }
        let bits = 64 - x.leadingZeroBitCount
        let length = bits / 7 + 1
        // 10 bytes: sign extension, then the value big-endian.
        var buf = [UInt8](repeating: v < 0 ? 0xFF : 0x00, count: 10)
        for k in 0..<8 { buf[2 + k] = UInt8(truncatingIfNeeded: UInt64(bitPattern: v) >> (8 * UInt64(7 - k))) }
        let headers: [[UInt8]] = [[0, 0], [0x80, 0], [0xC0, 0], [0xE0, 0], [0xF0, 0], [0xF8, 0], [0xFC, 0], [0xFE, 0], [0xFF, 0], [0xFF, 0x80], [0xFF, 0xC0]]
        var out = Array(buf[(10 - length)...])
        out[0] ^= headers[length][0]
        out[1] ^= headers[length][1]
        return out
    }
}
