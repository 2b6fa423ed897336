// The LevelDB table format (leveldb/doc/table_format.md; TensorFlow's copy in
// tensorflow/core/lib/io/table*.cc), which a tensor bundle's `.index` file uses:
//
//   [data block 1] ... [data block N] [meta-index block] [index block] [footer: 48 bytes]
//
// - The footer: the meta-index block's handle and the index block's handle (each two varint64s,
//   offset and size), zero padding to 40 bytes, then the magic 0xdb4775248b80fb57 (little-endian).
// - A block: entries `shared varint32 | non_shared varint32 | value_length varint32 |
//   key_delta[non_shared] | value[value_length]`, where the key is the first `shared` bytes of the
//   previous key followed by `key_delta`; then the restart array (uint32 offsets of entries whose
//   `shared` is 0) and its count (uint32). Every block is followed by a 5-byte trailer: the
//   compression type (0 = none; TensorFlow never compresses bundles) and the masked CRC-32C of the
//   block's contents and that type byte.
// - The index block maps a separator key (>= the last key of a data block and < the first key of
//   the next) to that data block's handle. Keys are strictly increasing bytewise across the table.
//
// The reader holds the whole `.index` in memory (it is small: about 100 bytes per tensor, read
// once) and checks everything above; the first inconsistency is a `CheckpointError` naming the
// file, the key (when one is known) and the byte offset.

/// A table read from memory and checked: its entries in key order.
struct LevelDBTable {
    static let magic: UInt64 = 0xdb47_7524_8b80_fb57
    static let footerLength = 48
    static let trailerLength = 5

    struct Entry {
        var key: [UInt8]
        /// The value's bytes: a range of ``bytes`` (and so its offsets in the file).
        var value: Range<Int>
    }

    /// The whole file.
    let bytes: [UInt8]
    let entries: [Entry]
    let file: String?

    private struct Handle {
        var offset: Int
        var size: Int
    }

    private struct BlockEntry {
        var key: [UInt8]
        var value: Range<Int>
        var at: Int
    }

    /// Whether `bytes` end with the table magic (a sniffing test; nothing else is checked).
    static func hasMagic(_ tail: [UInt8]) -> Bool {
        guard tail.count >= 8 else { return false }
        var v: UInt64 = 0
        for k in 0..<8 { v |= UInt64(tail[tail.count - 8 + k]) << (8 * UInt64(k)) }
        return v == magic
    }

    init(bytes: [UInt8], file: String?, limits: Limits) throws {
        self.bytes = bytes
        self.file = file
        guard bytes.count >= Self.footerLength else {
            throw CheckpointError(.notRecognized, "the file is \(bytes.count) bytes, shorter than the \(Self.footerLength)-byte footer of a TensorFlow checkpoint index (a LevelDB table)",
                                  file: file, offset: 0)
        }
        let footer = bytes.count - Self.footerLength
        guard Self.hasMagic(bytes) else {
            throw CheckpointError(.notRecognized, "the file does not end with the LevelDB table magic number, so it is not a TensorFlow checkpoint index",
                                  file: file, offset: UInt64(bytes.count - 8))
        }
        var p = footer
        let meta = try Self.handle(bytes, &p, limit: bytes.count - 8, file: file, what: "the footer's meta-index block handle", key: nil)
        let index = try Self.handle(bytes, &p, limit: bytes.count - 8, file: file, what: "the footer's index block handle", key: nil)
        // The meta-index block is checked (TensorFlow writes it empty) and otherwise ignored.
        let metaRange = try Self.block(bytes, meta, end: footer, file: file, what: "meta-index block", key: nil)
        _ = try Self.parse(bytes, metaRange, file: file, what: "meta-index block", limits: limits)
        let indexRange = try Self.block(bytes, index, end: footer, file: file, what: "index block", key: nil)
        let indexEntries = try Self.parse(bytes, indexRange, file: file, what: "index block", limits: limits)

        var entries: [Entry] = []
        var lastEnd = 0
        var previousIndexKey: [UInt8]?
        for ie in indexEntries {
            var q = ie.value.lowerBound
            let keyName = Self.display(ie.key)
            let h = try Self.handle(bytes, &q, limit: ie.value.upperBound, file: file, what: "the block handle of index key \"\(keyName)\"", key: keyName)
            guard q == ie.value.upperBound else {
                throw CheckpointError(.corrupt, "the block handle has \(ie.value.upperBound - q) bytes after its offset and size",
                                      file: file, member: keyName, offset: UInt64(q))
            }
            guard h.offset >= lastEnd else {
                throw CheckpointError(.corrupt, "the block handle points to a data block at byte \(h.offset), inside the previous block (which ends at byte \(lastEnd))",
                                      file: file, member: keyName, offset: UInt64(ie.value.lowerBound))
            }
            guard h.offset < meta.offset && h.offset < index.offset else {
                throw CheckpointError(.corrupt, "the block handle points to a data block at byte \(h.offset), at or after the meta-index and index blocks",
                                      file: file, member: keyName, offset: UInt64(ie.value.lowerBound))
            }
            let range = try Self.block(bytes, h, end: min(meta.offset, index.offset), file: file, what: "data block", key: keyName)
            lastEnd = range.upperBound + Self.trailerLength
            let block = try Self.parse(bytes, range, file: file, what: "data block", limits: limits)
            if let first = block.first, let prev = entries.last?.key, !prev.lexicographicallyPrecedes(first.key) {
                throw CheckpointError(.corrupt, "key \"\(Self.display(first.key))\" is not after the last key of the previous block, \"\(Self.display(prev))\": keys must increase",
                                      file: file, member: Self.display(first.key), offset: UInt64(first.at))
            }
            if let first = block.first, let sep = previousIndexKey, !sep.lexicographicallyPrecedes(first.key) {
                throw CheckpointError(.corrupt, "key \"\(Self.display(first.key))\" is not after the index key of the previous block",
                                      file: file, member: Self.display(first.key), offset: UInt64(first.at))
            }
            if let last = block.last, ie.key.lexicographicallyPrecedes(last.key) {
                throw CheckpointError(.corrupt, "the index key \"\(keyName)\" sorts before the block's last key \"\(Self.display(last.key))\"",
                                      file: file, member: keyName, offset: UInt64(ie.value.lowerBound))
            }
            guard entries.count + block.count <= limits.maxMembers else {
                throw CheckpointError(.limitExceeded, "the index holds more than \(limits.maxMembers) entries", file: file, offset: UInt64(range.lowerBound))
            }
            for e in block { entries.append(Entry(key: e.key, value: e.value)) }
            previousIndexKey = ie.key
        }
        self.entries = entries
    }

    /// Keys as text for messages (bundle keys are UTF-8 object paths; slice keys hold binary).
    static func display(_ key: [UInt8]) -> String {
        if let s = String(validating: key, as: UTF8.self) { return escapeForDisplay(s) }
        return key.map { b in (0x20..<0x7F).contains(b) && b != 0x5C ? String(UnicodeScalar(b)) : "\\x" + String(b, radix: 16) }.joined()
    }

    private static func varint(_ bytes: [UInt8], _ p: inout Int, limit: Int, bits: Int) -> UInt64? {
        var result: UInt64 = 0
        var shift = 0
        while p < limit {
            let b = bytes[p]
            p += 1
            result |= UInt64(b & 0x7F) << UInt64(shift)
            if b < 0x80 { return bits == 64 || result >> UInt64(bits) == 0 ? result : nil }
            shift += 7
            if shift >= bits { return nil }
        }
        return nil
    }

    private static func handle(_ bytes: [UInt8], _ p: inout Int, limit: Int, file: String?, what: String, key: String?) throws -> Handle {
        let at = p
        guard let o = varint(bytes, &p, limit: limit, bits: 64), let s = varint(bytes, &p, limit: limit, bits: 64) else {
            throw CheckpointError(.corrupt, "\(what) is not two varints", file: file, member: key, offset: UInt64(at))
        }
        guard o <= UInt64(Int.max), s <= UInt64(Int.max) else {
            throw CheckpointError(.corrupt, "\(what) points to byte \(o), past the end of the file", file: file, member: key, offset: UInt64(at))
        }
        return Handle(offset: Int(o), size: Int(s))
    }

    /// Checks a block handle against the file and the block's trailer; returns the contents.
    private static func block(_ bytes: [UInt8], _ h: Handle, end: Int, file: String?, what: String, key: String?) throws -> Range<Int> {
        guard h.offset <= end, h.size <= end - h.offset, trailerLength <= end - h.offset - h.size else {
            throw CheckpointError(.corrupt, "the \(what) handle (offset \(h.offset), size \(h.size)) reaches past byte \(end), where the \(what == "data block" ? "data blocks end" : "footer starts")",
                                  file: file, member: key, offset: UInt64(min(h.offset, bytes.count)))
        }
        let contents = h.offset..<(h.offset + h.size)
        let type = bytes[contents.upperBound]
        var stored: UInt32 = 0
        for k in 0..<4 { stored |= UInt32(bytes[contents.upperBound + 1 + k]) << (8 * UInt32(k)) }
        var crc = CRC32C.checksum(bytes[contents])
        crc = CRC32C.checksum([type], continuing: crc)
        guard CRC32C.mask(crc) == stored else {
            throw CheckpointError(.checksumMismatch, "the \(what)'s CRC-32C does not match its contents (stored \(hex(stored)), computed \(hex(CRC32C.mask(crc))))",
                                  file: file, member: key, offset: UInt64(contents.upperBound + 1))
        }
        guard type == 0 else {
            throw CheckpointError(.unsupported, "the \(what) is compressed (type \(type)); TensorFlow bundles are not, and compressed tables are not supported",
                                  file: file, member: key, offset: UInt64(contents.upperBound))
        }
        return contents
    }

    static func hex(_ v: UInt32) -> String {
        let s = String(v, radix: 16)
        return "0x" + String(repeating: "0", count: max(0, 8 - s.count)) + s
    }

    /// Parses a block's entries and checks its restart array and key order.
    private static func parse(_ bytes: [UInt8], _ r: Range<Int>, file: String?, what: String, limits: Limits) throws -> [BlockEntry] {
        func fail(_ reason: String, at: Int, key: [UInt8]? = nil) -> CheckpointError {
            CheckpointError(.corrupt, "the \(what) is malformed: \(reason)", file: file, member: key.map(display), offset: UInt64(at))
        }
        guard r.count >= 4 else { throw fail("it is \(r.count) bytes, too short for its restart count", at: r.lowerBound) }
        var n = 0
        for k in 0..<4 { n |= Int(bytes[r.upperBound - 4 + k]) << (8 * k) }
        let maxRestarts = (r.count - 4) / 4
        guard n <= maxRestarts else {
            throw fail("it declares \(n) restart points, but only \(maxRestarts) fit in its \(r.count) bytes", at: r.upperBound - 4)
        }
        let dataEnd = r.upperBound - 4 - 4 * n
        var restarts: [Int] = []
        restarts.reserveCapacity(n)
        for i in 0..<n {
            let at = dataEnd + 4 * i
            var v = 0
            for k in 0..<4 { v |= Int(bytes[at + k]) << (8 * k) }
            // An empty block (the meta-index block) has the single restart point 0.
            guard v < dataEnd - r.lowerBound || (dataEnd == r.lowerBound && v == 0 && i == 0) else {
                throw fail("restart point \(i) is at offset \(v), past the block's \(dataEnd - r.lowerBound) bytes of entries", at: at)
            }
            if let prev = restarts.last, v <= prev - r.lowerBound {
                throw fail("restart point \(i) (offset \(v)) does not follow restart point \(i - 1)", at: at)
            }
            restarts.append(r.lowerBound + v)
        }
        if dataEnd > r.lowerBound && restarts.first != r.lowerBound {
            throw fail("the first restart point is not the first entry", at: dataEnd)
        }
        var out: [BlockEntry] = []
        var key: [UInt8] = []
        var p = r.lowerBound
        var nextRestart = 0
        while p < dataEnd {
            let at = p
            guard let shared = varint(bytes, &p, limit: dataEnd, bits: 32), let unshared = varint(bytes, &p, limit: dataEnd, bits: 32),
                  let valueLength = varint(bytes, &p, limit: dataEnd, bits: 32) else {
                throw fail("an entry header is not three varint32s", at: at)
            }
            let isRestart = nextRestart < restarts.count && restarts[nextRestart] == at
            if nextRestart < restarts.count && restarts[nextRestart] < at {
                throw fail("restart point \(nextRestart) (offset \(restarts[nextRestart] - r.lowerBound)) is not at the start of an entry", at: at)
            }
            if isRestart {
                nextRestart += 1
                guard shared == 0 else { throw fail("the entry at a restart point shares \(shared) bytes with the previous key", at: at) }
            }
            guard shared <= UInt64(key.count) else {
                throw fail("an entry shares \(shared) bytes with the previous key, which has \(key.count)", at: at)
            }
            guard unshared <= UInt64(dataEnd - p), valueLength <= UInt64(dataEnd - p - Int(unshared)) else {
                throw fail("an entry (key \(unshared) bytes, value \(valueLength) bytes) runs past the end of the block's entries", at: at)
            }
            guard Int(shared) + Int(unshared) <= max(limits.maxMemberNameBytes, 1 << 16) else {
                throw fail("a key of \(Int(shared) + Int(unshared)) bytes is longer than the limit", at: at)
            }
            var next = Array(key[0..<Int(shared)])
            next += bytes[p..<(p + Int(unshared))]
            p += Int(unshared)
            if !out.isEmpty && !key.lexicographicallyPrecedes(next) {
                throw fail("key \"\(display(next))\" does not sort after the previous key \"\(display(key))\": keys must increase", at: at, key: next)
            }
            key = next
            out.append(BlockEntry(key: next, value: p..<(p + Int(valueLength)), at: at))
            p += Int(valueLength)
        }
        if nextRestart < restarts.count && dataEnd > r.lowerBound {
            throw fail("restart point \(nextRestart) (offset \(restarts[nextRestart] - r.lowerBound)) is not at the start of an entry", at: dataEnd + 4 * nextRestart)
        }
        return out
    }
}

/// Builds a table the way TensorFlow's `TableBuilder` does (no compression, a restart point every
/// 16 keys, blocks of about `blockSize` bytes, an empty meta-index block), with each index key the
/// last key of its block (a valid separator; LevelDB shortens it, which only saves bytes).
struct LevelDBTableWriter {
    var blockSize = 262_144
    var restartInterval = 16

    func build(_ entries: [(key: [UInt8], value: [UInt8])]) -> [UInt8] {
        var out: [UInt8] = []
        var index: [(key: [UInt8], value: [UInt8])] = []
        var block = BlockBuilder(restartInterval: restartInterval)
        func flush() {
            guard let last = block.lastKey else { return }
            let h = writeBlock(block.finish(), into: &out)
            index.append((last, h))
            block = BlockBuilder(restartInterval: restartInterval)
        }
        for e in entries {
            block.add(e.key, e.value)
            if block.estimatedSize >= blockSize { flush() }
        }
        flush()
        let metaHandle = writeBlock(BlockBuilder(restartInterval: restartInterval).finish(), into: &out)
        var ib = BlockBuilder(restartInterval: 1)
        for e in index { ib.add(e.key, e.value) }
        let indexHandle = writeBlock(ib.finish(), into: &out)
        var footer = metaHandle + indexHandle
        footer += [UInt8](repeating: 0, count: 40 - footer.count)
        footer.appendLE(LevelDBTable.magic)
        return out + footer
    }

    /// Appends the block and its trailer; returns its encoded handle.
    private func writeBlock(_ contents: [UInt8], into out: inout [UInt8]) -> [UInt8] {
        let handle = ProtoWriter.varintBytes(UInt64(out.count)) + ProtoWriter.varintBytes(UInt64(contents.count))
        out += contents
        out.append(0)
        let crc = CRC32C.checksum([0], continuing: CRC32C.checksum(contents))
        out.appendLE(CRC32C.mask(crc))
        return handle
    }

    private struct BlockBuilder {
        let restartInterval: Int
        var buffer: [UInt8] = []
        var restarts: [UInt32] = [0]
        var counter = 0
        var lastKey: [UInt8]?

        init(restartInterval: Int) { self.restartInterval = restartInterval }

        var estimatedSize: Int { buffer.count + 4 * restarts.count + 4 }

        mutating func add(_ key: [UInt8], _ value: [UInt8]) {
            var shared = 0
            if counter < restartInterval, let last = lastKey {
                while shared < min(last.count, key.count) && last[shared] == key[shared] { shared += 1 }
            } else if lastKey != nil {
                restarts.append(UInt32(buffer.count))
                counter = 0
            }
            buffer += ProtoWriter.varintBytes(UInt64(shared))
            buffer += ProtoWriter.varintBytes(UInt64(key.count - shared))
            buffer += ProtoWriter.varintBytes(UInt64(value.count))
            buffer += key[shared...]
            buffer += value
            lastKey = key
            counter += 1
        }

        func finish() -> [UInt8] {
            var out = buffer
            for r in restarts { out.appendLE(r) }
            out.appendLE(UInt32(restarts.count))
            return out
        }
    }
}
