import Foundation
import Testing
import CheckpointTestSupport
@testable import CheckpointCommands
@testable import CheckpointKit

/// Hand-made `.index` tables (LevelDB format) that lie, and `ckpt` on them: exit 2 and one
/// sentence naming the file, the key where there is one, and the byte offset.
enum TableForge {
    static func varint(_ v: Int) -> [UInt8] { ProtoWriter.varintBytes(UInt64(v)) }

    /// A block: entries (shared prefix length given explicitly, so tests can lie), then the restart
    /// array and its count.
    static func block(_ entries: [(shared: Int, key: [UInt8], value: [UInt8])], restarts: [UInt32] = [0]) -> [UInt8] {
        var out: [UInt8] = []
        for e in entries {
            out += varint(e.shared) + varint(e.key.count) + varint(e.value.count) + e.key + e.value
        }
        for r in restarts { out.appendLE(r) }
        out.appendLE(UInt32(restarts.count))
        return out
    }

    static func trailer(_ contents: [UInt8], type: UInt8 = 0) -> [UInt8] {
        var t: [UInt8] = [type]
        t.appendLE(CRC32C.mask(CRC32C.checksum([type], continuing: CRC32C.checksum(contents))))
        return t
    }

    /// A table of one data block; `indexHandle` overrides the data block's handle in the index.
    static func table(_ data: [UInt8], indexKey: [UInt8] = Array("zzz".utf8), indexHandle: [UInt8]? = nil,
                      corrupt: ((inout [UInt8]) -> Void)? = nil) -> [UInt8] {
        var out = data + trailer(data)
        corrupt?(&out)
        let metaOffset = out.count
        let meta = block([])
        out += meta + trailer(meta)
        let handle = indexHandle ?? (varint(0) + varint(data.count))
        let index = block([(0, indexKey, handle)])
        let indexOffset = out.count
        out += index + trailer(index)
        var footer = varint(metaOffset) + varint(meta.count) + varint(indexOffset) + varint(index.count)
        footer += [UInt8](repeating: 0, count: 40 - footer.count)
        footer.appendLE(LevelDBTable.magic)
        return out + footer
    }

    static let header = TFProtos.encodeHeader(TFBundleHeader(numShards: 1, endianness: 0, producer: 1, minConsumer: 0))

    /// The entry of a float32 [2] tensor at `offset` in the data shard.
    static func entry(offset: Int64 = 0, size: Int64 = 8, crc: UInt32? = nil) -> [UInt8] {
        let data: [UInt8] = [0, 0, 128, 63, 0, 0, 0, 64]
        return TFProtos.encodeEntry(TFBundleEntry(dtype: .float, shape: [2], offset: offset, size: size, crc32c: crc ?? CRC32C.mask(CRC32C.checksum(data))))
    }

    static let data: [UInt8] = [0, 0, 128, 63, 0, 0, 0, 64]

    /// Writes `prefix.index` (the table) and `prefix.data-00000-of-00001`.
    static func write(_ dir: String, table: [UInt8], data: [UInt8] = data) throws -> String {
        let prefix = dir + "/model"
        try Data(table).write(to: URL(fileURLWithPath: prefix + ".index"))
        try Data(data).write(to: URL(fileURLWithPath: prefix + ".data-00000-of-00001"))
        return prefix
    }
}

@Suite("TensorFlow checkpoints: hostile .index tables", .reportsSeeds)
struct TFHostileIndexTests {
    static let good = TableForge.block([(0, [], TableForge.header), (0, Array("w".utf8), TableForge.entry())])

    struct Case: CustomTestStringConvertible, Sendable {
        var name: String
        var table: [UInt8]
        var data: [UInt8] = TableForge.data
        var code: CheckpointError.Code
        var says: String
        var testDescription: String { name }
    }

    static let cases: [Case] = [
        Case(name: "block handle past the data blocks", table: TableForge.table(good, indexHandle: TableForge.varint(4000) + TableForge.varint(20)),
             code: .corrupt, says: "handle"),
        Case(name: "block handle overflowing", table: TableForge.table(good, indexHandle: [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F, 0x01]),
             code: .corrupt, says: "handle"),
        Case(name: "restart array out of range",
             table: TableForge.table(TableForge.block([(0, [], TableForge.header), (0, Array("w".utf8), TableForge.entry())], restarts: [0, 900])),
             code: .corrupt, says: "restart point 1"),
        Case(name: "restart count larger than the block",
             table: TableForge.table(TableForge.block([(0, [], TableForge.header)], restarts: [0, 0, 0]).dropLast(4) + [255, 255, 0, 0]),
             code: .corrupt, says: "restart points"),
        Case(name: "keys out of order",
             table: TableForge.table(TableForge.block([(0, [], TableForge.header), (0, Array("x".utf8), TableForge.entry()), (0, Array("w".utf8), TableForge.entry())])),
             code: .corrupt, says: "keys must increase"),
        Case(name: "shared prefix longer than the previous key",
             table: TableForge.table(TableForge.block([(0, [], TableForge.header), (5, Array("w".utf8), TableForge.entry())])),
             code: .corrupt, says: "shares 5 bytes"),
        Case(name: "block CRC-32C mismatch", table: TableForge.table(good, corrupt: { $0[3] ^= 0x40 }), code: .checksumMismatch, says: "CRC-32C"),
        Case(name: "entry past the end of its shard", table: TableForge.table(TableForge.block([(0, [], TableForge.header), (0, Array("w".utf8), TableForge.entry(offset: 4))])),
             code: .corrupt, says: "past the end of its shard"),
        Case(name: "entry size disagreeing with its shape", table: TableForge.table(TableForge.block([(0, [], TableForge.header), (0, Array("w".utf8), TableForge.entry(size: 12))])),
             data: TableForge.data + [0, 0, 0, 0], code: .corrupt, says: "needs 8"),
        Case(name: "no header entry", table: TableForge.table(TableForge.block([(0, Array("w".utf8), TableForge.entry())])), code: .corrupt, says: "no header"),
        Case(name: "truncated footer", table: Array(TableForge.table(good).dropLast(9)), code: .notRecognized, says: "magic"),
        Case(name: "malformed entry protobuf",
             table: TableForge.table(TableForge.block([(0, [], TableForge.header), (0, Array("w".utf8), [0x12, 0x7F, 0x08])])), code: .corrupt, says: "BundleEntryProto"),
    ]

    @Test(arguments: cases)
    func refusedWithOneSentence(_ c: Case) throws {
        let dir = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let prefix = try TableForge.write(dir, table: c.table, data: c.data)
        do {
            _ = try TFCheckpointSource(path: prefix)
            Issue.record("\(c.name): opened")
        } catch let e as CheckpointError {
            #expect(e.code == c.code, "\(c.name): \(e)")
            #expect(e.description.contains(c.says), "\(c.name): \(e)")
            #expect(e.file != nil && e.offset != nil, "\(c.name): \(e)")
        }
        let r = CLI.run(["inspect", prefix])
        #expect(r.status == 2, "\(c.name): \(r.err)")
        let lines = r.err.split(separator: "\n").filter { !$0.hasPrefix("note:") }
        #expect(lines.count == 1 && (lines.first?.hasSuffix(".") ?? false), "\(c.name): \(r.err)")
        #expect(r.err.contains("model.") && r.err.contains("at byte"), "\(c.name): \(r.err)")
        // Nothing is written from it.
        let out = CLI.run(["convert", prefix, dir + "/out.ckpt"])
        #expect(out.status == 2)
        #expect(!FileManager.default.fileExists(atPath: dir + "/out.ckpt"))
    }

    @Test
    func wellFormedForgeOpens() throws {
        let dir = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let prefix = try TableForge.write(dir, table: TableForge.table(Self.good))
        let s = try TFCheckpointSource(path: prefix)
        #expect(s.index.tensors.map(\.name) == ["w"])
        #expect(try s.readTensorBytes(0) == TableForge.data)
    }

    /// Every byte of a real index flipped in turn, and seeded random edits: each opens (and then
    /// reads or refuses its tensors) or is refused with a CheckpointError; nothing traps.
    @Test
    func mutatedIndexesNeverTrap() throws {
        let base = try Array(Data(contentsOf: URL(fileURLWithPath: CLI.path("Tests/Fixtures/tensorflow/lstm/lstm_weights.index"))))
        let data = CLI.path("Tests/Fixtures/tensorflow/lstm/lstm_weights.data-00000-of-00001")
        let dir = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try FileManager.default.copyItem(atPath: data, toPath: dir + "/m.data-00000-of-00001")
        var rng = SeededRNG(seed: 1515)
        var variants: [[UInt8]] = []
        for k in stride(from: 0, to: base.count, by: 3) {
            var b = base
            b[k] ^= 0x5A
            variants.append(b)
        }
        for _ in 0..<200 {
            var b = base
            for _ in 0..<Int.random(in: 1...4, using: &rng) {
                let k = Int.random(in: 0..<b.count, using: &rng)
                b[k] = UInt8.random(in: 0...255, using: &rng)
            }
            if Bool.random(using: &rng) { b = Array(b.prefix(Int.random(in: 0...b.count, using: &rng))) }
            variants.append(b)
        }
        var refused = 0
        for v in variants {
            try Data(v).write(to: URL(fileURLWithPath: dir + "/m.index"))
            do {
                let s = try TFCheckpointSource(path: dir + "/m")
                try s.verify()
            } catch is CheckpointError {
                refused += 1
            }
        }
        // Every flipped byte is inside a CRC-covered block or the footer.
        #expect(refused >= base.count / 3)
    }
}
