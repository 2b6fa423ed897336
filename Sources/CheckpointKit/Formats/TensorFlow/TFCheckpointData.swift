// Reading tensor bytes out of a TensorFlow checkpoint's data shards, checked against the CRC-32C
// each entry keeps.

extension TFCheckpointSource {
    // MARK: TensorSource

    public func pieces(of i: Int) -> [Range<Int>] {
        switch layouts[i] {
        case .entry(let e, _):
            return Self.uniformPieces(count: Int(e.size), size: ContainerSpec.chunkSize)
        case .slices(let list):
            var out: [Range<Int>] = []
            var at = 0
            for s in list {
                out.append(at..<(at + Int(s.entry.size)))
                at += Int(s.entry.size)
            }
            return out
        case .assembled(let a):
            return [0..<a.byteCount]
        }
    }

    /// Reads one piece with `pread`. An entry's piece returns the CRC-32C of its bytes (a
    /// single-piece entry is checked here); a slice of a partitioned variable is read and checked
    /// whole, in bounded chunks, and returns 0.
    @discardableResult
    public func readPiece(_ i: Int, _ p: Int, _ body: (UnsafeRawBufferPointer) throws -> Void) throws -> UInt32 {
        switch layouts[i] {
        case .entry(let e, let key):
            let lower = p * ContainerSpec.chunkSize
            let upper = min(lower + ContainerSpec.chunkSize, Int(e.size))
            guard lower < upper else {
                try body(UnsafeRawBufferPointer(start: nil, count: 0))
                if e.size == 0 { try check(e, key: key, crc: 0) }
                return 0
            }
            var buf = [UInt8](repeating: 0, count: upper - lower)
            let shard = shards[Int(e.shardID)]
            try buf.withUnsafeMutableBytes { b in
                try shard.read(at: UInt64(e.offset) + UInt64(lower), into: b, what: "data of \"\(escapeForDisplay(key))\"", member: key)
            }
            let crc = CRC32C.checksum(buf)
            if upper - lower == Int(e.size) { try check(e, key: key, crc: crc) }
            try buf.withUnsafeBytes(body)
            return crc
        case .slices(let list):
            let s = list[p]
            try stream(s.entry, key: s.key, body)
            return 0
        case .assembled(let a):
            var out = [UInt8](repeating: 0, count: a.byteCount)
            for part in a.parts {
                var bytes: [UInt8] = []
                bytes.reserveCapacity(Int(part.entry.size))
                try stream(part.entry, key: part.key) { bytes.append(contentsOf: $0) }
                a.scatter(bytes, part, into: &out)
            }
            try out.withUnsafeBytes(body)
            return 0
        }
    }

    /// Every bundle entry carries a masked CRC-32C, checked whenever it is read in full.
    public func integrity(of i: Int) -> TensorIntegrity { .crc32c }

    public func verifyPieces(of i: Int, crcs: [UInt32]) throws {
        guard case .entry(let e, let key) = layouts[i], crcs.count > 1 else { return }
        var crc = crcs[0]
        let ps = pieces(of: i)
        for k in 1..<min(crcs.count, ps.count) { crc = CRC32C.combine(crc, crcs[k], lengthOfB: UInt64(ps[k].count)) }
        try check(e, key: key, crc: crc)
    }

    /// Streams a whole entry through `body` in chunks, checking its CRC at the end.
    func stream(_ e: TFBundleEntry, key: String, _ body: (UnsafeRawBufferPointer) throws -> Void) throws {
        let shard = shards[Int(e.shardID)]
        var crc: UInt32 = 0
        var done = 0
        let total = Int(e.size)
        var buf = [UInt8](repeating: 0, count: min(total, ContainerSpec.chunkSize))
        while done < total {
            let n = min(buf.count, total - done)
            try buf.withUnsafeMutableBytes { b in
                try shard.read(at: UInt64(e.offset) + UInt64(done), into: UnsafeMutableRawBufferPointer(rebasing: b[0..<n]),
                               what: "data of \"\(escapeForDisplay(key))\"", member: key)
            }
            try buf.withUnsafeBytes { b in
                let chunk = UnsafeRawBufferPointer(rebasing: b[0..<n])
                crc = CRC32C.checksum(chunk, continuing: crc)
                try body(chunk)
            }
            done += n
        }
        try check(e, key: key, crc: crc)
    }

    func check(_ e: TFBundleEntry, key: String, crc: UInt32) throws {
        guard CRC32C.mask(crc) == e.crc32c else {
            throw CheckpointError(.checksumMismatch,
                                  "the data of \"\(escapeForDisplay(key))\" does not match its CRC-32C (stored \(LevelDBTable.hex(e.crc32c)), computed \(LevelDBTable.hex(CRC32C.mask(crc))))",
                                  file: shards[Int(e.shardID)].path, member: key, offset: UInt64(e.offset))
        }
    }

    /// Reads every entry of the bundle (tensors, strings, slices, entries that are not tensors) and
    /// checks each against its CRC-32C, calling `progress` with the bytes read.
    public func verify(progress: (@Sendable (Int) -> Void)? = nil) throws {
        // A partitioned variable's own entry holds no data; its slices do.
        let all = bundle.entries.filter { $0.proto.slices.isEmpty }.map { ($0.proto, $0.key) } + bundle.sliceEntries.values.map { ($0.proto, $0.key) }
        try ParallelWork.forEach(count: all.count, weight: { Int(all[$0].0.size) }) { k in
            let (e, key) = all[k]
            if e.dtype == .string {
                _ = try Self.readStrings(TFBundle.Entry(key: key, proto: e, indexOffset: 0), shards: shards, limits: limits, checkOnly: true)
            } else {
                try stream(e, key: key) { _ in }
            }
            progress?(Int(e.size))
        }
    }

    // MARK: Small reads at open

    /// The elements of a string entry (`varint64` lengths, their masked CRC-32C, the bytes), checked.
    static func readStrings(_ g: TFBundle.Entry, shards: [ReadableFile], limits: Limits, checkOnly: Bool = false) throws -> [[UInt8]] {
        let e = g.proto
        let shard = shards[Int(e.shardID)]
        guard UInt64(e.size) <= limits.maxManifestBytes || checkOnly else {
            throw CheckpointError(.limitExceeded, "the string entry is \(e.size) bytes (the limit is \(limits.maxManifestBytes))", file: shard.path, member: g.key)
        }
        guard UInt64(e.size) <= UInt64(limits.maxInMemoryTensorBytes) else {
            throw CheckpointError(.limitExceeded, "the string entry is \(e.size) bytes, more than the in-memory limit", file: shard.path, member: g.key)
        }
        let bytes = try shard.read(at: UInt64(e.offset), count: Int(e.size), what: "string entry \"\(escapeForDisplay(g.key))\"", member: g.key)
        let count = TensorInfo.elementCount(e.shape.map { Int($0) }) ?? 0
        func fail(_ reason: String, _ at: Int) -> CheckpointError {
            CheckpointError(.corrupt, "the string entry is malformed: \(reason)", file: shard.path, member: g.key, offset: UInt64(e.offset) + UInt64(at))
        }
        var p = 0
        var lengths: [UInt64] = []
        var crc: UInt32 = 0
        for _ in 0..<count {
            var v: UInt64 = 0
            var shift: UInt64 = 0
            while true {
                guard p < bytes.count else { throw fail("the element lengths run past the entry", p) }
                let b = bytes[p]
                p += 1
                guard shift < 64 else { throw fail("an element length is not a varint64", p) }
                v |= UInt64(b & 0x7F) << shift
                if b < 0x80 { break }
                shift += 7
            }
            lengths.append(v)
            var le: [UInt8] = []
            if v <= UInt64(UInt32.max) { le.appendLE(UInt32(v)) } else { le.appendLE(v) }
            crc = CRC32C.checksum(le, continuing: crc)
        }
        guard bytes.count - p >= 4 else { throw fail("the length checksum is missing", p) }
        var stored: UInt32 = 0
        for k in 0..<4 { stored |= UInt32(bytes[p + k]) << (8 * UInt32(k)) }
        guard stored == CRC32C.mask(crc) else {
            throw CheckpointError(.checksumMismatch, "the element lengths of the string entry do not match their CRC-32C", file: shard.path, member: g.key,
                                  offset: UInt64(e.offset) + UInt64(p))
        }
        crc = CRC32C.checksum(bytes[p..<(p + 4)], continuing: crc)
        p += 4
        var out: [[UInt8]] = []
        for n in lengths {
            guard n <= UInt64(bytes.count - p) else { throw fail("an element of \(n) bytes runs past the entry", p) }
            let r = p..<(p + Int(n))
            crc = CRC32C.checksum(bytes[r], continuing: crc)
            if !checkOnly { out.append(Array(bytes[r])) }
            p += Int(n)
        }
        guard p == bytes.count else { throw fail("\(bytes.count - p) bytes follow the last element", p) }
        guard CRC32C.mask(crc) == e.crc32c else {
            throw CheckpointError(.checksumMismatch, "the string entry does not match its CRC-32C", file: shard.path, member: g.key, offset: UInt64(e.offset))
        }
        return out
    }

    /// The bytes of a small numeric entry, checked against its CRC.
    static func readSmall(_ g: TFBundle.Entry, shards: [ReadableFile], maxBytes: Int) throws -> [UInt8]? {
        let e = g.proto
        guard e.slices.isEmpty, e.size > 0, e.size <= Int64(maxBytes) else { return nil }
        let shard = shards[Int(e.shardID)]
        let bytes = try shard.read(at: UInt64(e.offset), count: Int(e.size), what: "entry \"\(escapeForDisplay(g.key))\"", member: g.key)
        guard CRC32C.mask(CRC32C.checksum(bytes)) == e.crc32c else {
            throw CheckpointError(.checksumMismatch, "the data of \"\(escapeForDisplay(g.key))\" does not match its CRC-32C", file: shard.path, member: g.key, offset: UInt64(e.offset))
        }
        return bytes
    }

    static func readIntegerScalar(_ g: TFBundle.Entry, shards: [ReadableFile]) throws -> Int64? {
        guard g.proto.shape.isEmpty, let d = g.proto.dtype.dtype, let b = try readSmall(g, shards: shards, maxBytes: 8) else { return nil }
        var v: UInt64 = 0
        for k in 0..<b.count { v |= UInt64(b[k]) << (8 * UInt64(k)) }
        switch d {
        case .int64, .uint64: return Int64(bitPattern: v)
        case .int32: return Int64(Int32(truncatingIfNeeded: v))
        case .uint32: return Int64(UInt32(truncatingIfNeeded: v))
        default: return nil
        }
    }

    static func readFloatScalar(_ g: TFBundle.Entry, shards: [ReadableFile]) throws -> Double? {
        guard g.proto.shape.isEmpty, let d = g.proto.dtype.dtype, let b = try readSmall(g, shards: shards, maxBytes: 8) else { return nil }
        var v: UInt64 = 0
        for k in 0..<b.count { v |= UInt64(b[k]) << (8 * UInt64(k)) }
        switch d {
        case .float32: return Double(Float(bitPattern: UInt32(truncatingIfNeeded: v)))
        case .float64: return Double(bitPattern: v)
        default: return nil
        }
    }

    /// The slices of a partitioned variable in row order, when they tile it along the first
    /// dimension (what `fixed_size_partitioner` and friends write); otherwise an error saying why.
    static func sliceLayout(_ key: TFKey, bundle: TFBundle) throws -> [(entry: TFBundleEntry, key: String)] {
        let shape = key.entry.shape
        guard !shape.isEmpty else { throw CheckpointError(.unsupported, "a partitioned scalar") }
        var parts: [(start: Int64, entry: TFBundleEntry, key: String)] = []
        for s in key.entry.slices {
            for (d, ext) in s.extents.enumerated() where d > 0 {
                guard ext.start == 0, ext.length == nil || ext.length == shape[d] else {
                    throw CheckpointError(.unsupported, "it is sliced along dimension \(d), and only slices along the first dimension are assembled")
                }
            }
            guard let e = bundle.sliceEntries[TFBundle.sliceKey(key.key, s)] else {
                throw CheckpointError(.corrupt, "a slice it lists (rows from \(s.extents.first?.start ?? 0)) has no entry in the index")
            }
            guard e.proto.dtype == key.entry.dtype else { throw CheckpointError(.corrupt, "a slice has dtype \(e.proto.dtype.name), the variable \(key.entry.dtype.name)") }
            let start = s.extents.first?.start ?? 0
            let rows = s.extents.first?.length ?? shape[0]
            guard e.proto.shape == [rows] + shape.dropFirst() else {
                throw CheckpointError(.corrupt, "a slice's entry has shape \(e.proto.shape), its extent says \([rows] + shape.dropFirst())")
            }
            parts.append((start, e.proto, e.key))
        }
        parts.sort { $0.start < $1.start }
        var next: Int64 = 0
        for p in parts {
            guard p.start == next else { throw CheckpointError(.corrupt, "its slices leave a gap or overlap at row \(min(p.start, next))") }
            next += p.entry.shape.first ?? 0
        }
        guard next == shape[0] else { throw CheckpointError(.corrupt, "its slices cover \(next) of its \(shape[0]) rows") }
        return parts.map { ($0.entry, $0.key) }
    }

    /// A TF1 checkpoint's trainable variables, from `prefix.meta` when it is there.
    static func metaTrainable(_ prefix: String, limits: Limits, notes: inout [String]) throws -> Set<String>? {
        let metaPath = prefix + ".meta"
        guard TFCheckpointPaths.isFile(metaPath) else { return nil }
        let file = try ReadableFile(path: metaPath)
        guard file.size <= limits.maxManifestBytes else {
            notes.append("the .meta file is \(file.size) bytes, over the limit; trainable flags are not read from it")
            return nil
        }
        return try SavedModelProtos.trainableVariables(metaGraph: file.read(at: 0, count: Int(file.size), what: "meta graph"), file: metaPath, limits: limits)
    }
}
