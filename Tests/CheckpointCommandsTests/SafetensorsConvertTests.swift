import Foundation
import Testing
import CheckpointTestSupport
@testable import CheckpointCommands
@testable import CheckpointKit

@Suite("ckpt convert / inspect with safetensors")
struct SafetensorsConvertTests {
    static let fixture = CLI.path("Tests/Fixtures/keras/mlp/weights.safetensors")

    static func read(_ path: String) throws -> [UInt8] { [UInt8](try Data(contentsOf: URL(fileURLWithPath: path))) }
    static func write(_ bytes: [UInt8], _ path: String) throws { try Data(bytes).write(to: URL(fileURLWithPath: path)) }
    static func listing(_ dir: String) -> [String] { ((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []).sorted() }

    /// 8-byte length, header text, data.
    static func forge(_ header: String, data: [UInt8] = [], length: UInt64? = nil) -> [UInt8] {
        let h = Array(header.utf8)
        let n = length ?? UInt64(h.count)
        return (0..<8).map { UInt8(truncatingIfNeeded: n >> (8 * UInt64($0))) } + h + data
    }

    @Test("Hostile headers: exit 2 and one clear sentence naming the file, the tensor and the byte")
    func hostileInputs() throws {
        let dir = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let cases: [(String, [UInt8], String)] = [
            ("huge.safetensors", Self.forge("{}", length: 1 << 60),
             "huge.safetensors: at byte 0: the header length field says 1152921504606846976 bytes, more than the 100000000-byte limit of the safetensors format; the file is damaged or is not a safetensors file."),
            ("past.safetensors", Self.forge(#"{"w":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}"#, data: [UInt8](repeating: 0, count: 8)),
             "past.safetensors: member \"w\" at byte 9: tensor \"w\" has data_offsets [0, 16], past the end of the 8-byte data section (the file ends at byte 71); the file is truncated or its header is wrong."),
            ("overlap.safetensors", Self.forge(#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#, data: [UInt8](repeating: 0, count: 8)),
             "overlap.safetensors: member \"b\" at byte 62: tensors \"a\" [0, 8) and \"b\" [4, 8) overlap."),
        ]
        for (name, bytes, sentence) in cases {
            let path = dir + "/" + name
            try Self.write(bytes, path)
            for args in [["inspect", path], ["convert", path, dir + "/out.ckpt"]] {
                let r = CLI.run(args)
                #expect(r.status == 2, "\(args): \(r.err)")
                #expect(r.err == "ckpt: error: \(dir)/\(sentence)\n", "\(args)")
                #expect(r.out.isEmpty)
            }
        }
        #expect(!FileManager.default.fileExists(atPath: dir + "/out.ckpt"))
    }

    @Test("convert: .safetensors → .ckpt → .safetensors gives back the file; sharded with --max-shard-size; and back")
    func convertRoundTrips() throws {
        let dir = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var r = CLI.run(["convert", Self.fixture, dir + "/a.ckpt"])
        #expect(r.status == 0, "\(r.err)")
        r = CLI.run(["convert", dir + "/a.ckpt", dir + "/b.safetensors"])
        #expect(r.status == 0, "\(r.err)")
        #expect(try Self.read(dir + "/b.safetensors") == Self.read(Self.fixture))

        try FileManager.default.createDirectory(atPath: dir + "/sharded", withIntermediateDirectories: true)
        r = CLI.run(["convert", dir + "/a.ckpt", dir + "/sharded/model.safetensors.index.json", "--max-shard-size", "300KB"])
        #expect(r.status == 0, "\(r.err)")
        #expect(Self.listing(dir + "/sharded") == ["model-00001-of-00003.safetensors", "model-00002-of-00003.safetensors",
                                                   "model-00003-of-00003.safetensors", "model.safetensors.index.json"])
        r = CLI.run(["inspect", dir + "/sharded/model.safetensors.index.json"])
        #expect(r.status == 0 && r.out.contains("101,770"), "\(r.err)")
        // Sharded → one file: the fixture again.
        r = CLI.run(["convert", dir + "/sharded/model.safetensors.index.json", dir + "/c.safetensors"])
        #expect(r.status == 0, "\(r.err)")
        #expect(try Self.read(dir + "/c.safetensors") == Self.read(Self.fixture))
        // Writing a set over itself is refused even with --force: the shards are the input.
        r = CLI.run(["convert", dir + "/sharded/model.safetensors.index.json", dir + "/sharded/model.safetensors.index.json", "--max-shard-size", "300KB", "--force"])
        #expect(r.status == 2 && r.err.contains("ckpt never replaces its input"), "\(r.err)")
        #expect(Self.listing(dir + "/sharded").count == 4)
    }

    @Test("--max-shard-size: bad values and a non-index output are refused with a hint")
    func shardSizeArguments() throws {
        let dir = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var r = CLI.run(["convert", Self.fixture, dir + "/m.safetensors.index.json", "--max-shard-size", "lots"])
        #expect(r.status == 2)
        #expect(r.err == "ckpt: error: the size \"lots\" does not start with a number; write a size like 500MB, 2GB, 1GiB or a number of bytes.\n")
        r = CLI.run(["convert", Self.fixture, dir + "/m.safetensors", "--max-shard-size", "1GB"])
        #expect(r.status == 2)
        #expect(r.err.contains("name the output \(dir)/m.safetensors.index.json"), "\(r.err)")
        #expect(Self.listing(dir).isEmpty)
    }

    @Test("A full checkpoint keeps its optimizer through safetensors (the ckpt index in __metadata__); user metadata goes into __metadata__")
    func fullCheckpointExportsWeights() throws {
        let dir = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let w = TensorInfo(name: "dense/kernel", dtype: .float32, shape: [2, 2])
        let it = TensorInfo(name: "optimizer/iteration", dtype: .int64, shape: [], role: .optimizer)
        let m = TensorInfo(name: "optimizer/momentum/dense/kernel", dtype: .float32, shape: [2, 2], role: .optimizer, slot: "momentum", weight: "dense/kernel")
        let index = CheckpointIndex(tensors: [w, it, m], optimizer: OptimizerInfo(className: "SGD", config: .object([("momentum", .number(0.9))]), iterations: 5),
                                    metadata: .object([("epoch", .number(2))]))
        try CheckpointWriter.write(index, payloads: [.bytes([UInt8](repeating: 1, count: 16)), .bytes([5, 0, 0, 0, 0, 0, 0, 0]), .fill([0, 0, 0, 0])], to: dir + "/full.ckpt")
        let r = CLI.run(["convert", dir + "/full.ckpt", dir + "/w.safetensors", "--meta", "run=abc"])
        #expect(r.status == 0, "\(r.err)")
        #expect(!r.err.contains("note:"), "\(r.err)")
        let st = try SafetensorsSource(path: dir + "/w.safetensors")
        #expect(st.index.tensors.map(\.name) == ["dense/kernel", "optimizer/iteration", "optimizer/momentum/dense/kernel"])
        #expect(st.index.tensors.map(\.role) == [.weight, .optimizer, .optimizer])
        #expect(st.index.tensors[2].slot == "momentum" && st.index.tensors[2].weight == "dense/kernel")
        #expect(st.index.optimizer == index.optimizer)
        // The metadata keeps its JSON types through the ckpt index; other readers see strings.
        #expect(st.index.metadata == .object([("epoch", .number(2)), ("run", .string("abc"))]))
        #expect(st.shards[0].header.metadata?.first { $0.key == "epoch" }?.value == "2")
        #expect(st.shards[0].header.metadata?.contains { $0.key == IndexSidecar.metadataKey } == true)
    }
}
