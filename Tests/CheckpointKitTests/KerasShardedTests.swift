import Foundation
import Testing
import CheckpointTestSupport
@testable import CheckpointKit


/// Keras 3 sharded weights (`.weights.json` + `_0000N.weights.h5`), read and written.
@Suite("Keras sharded weights", .requires(.hdf5))
struct KerasShardedTests {
    static let folder = "sharded"

    @Test func readsKerasShardsThroughTheIndex() throws {
        let arch = try TestEnv.read(FidelityFixtures.path("sharded/architecture.json"))
        let set = try Checkpoints.open(FidelityFixtures.path("sharded/model.weights.json"), options: OpenOptions(architecture: arch))
        #expect(set.format == .kerasShardedWeights)
        #expect(set.inputFiles.count == 4)
        #expect(set.index.optimizer?.className == "Adam" && set.index.optimizer?.iterations == 8)
        #expect(set.index.weights.count == 8 && set.index.optimizerTensors.count == 18)
        // Every weight equals what Keras loaded (reference.npz, by variable path).
        let reference = try Checkpoints.open(FidelityFixtures.path("sharded/reference.npz"))
        for (i, t) in reference.index.tensors.enumerated() {
            let k = try #require(set.tensorIndex(named: t.name), "\(t.name)")
            #expect(try set.readTensorBytes(k) == reference.readTensorBytes(i), "\(t.name)")
        }
    }

    @Test func aLoneShardIsRefused() throws {
        let e = #expect(throws: CheckpointError.self) { try Checkpoints.open(FidelityFixtures.path("sharded/model_00001.weights.h5")) }
        #expect(e?.code == .unsupported)
        #expect(e?.reason.contains("model.weights.json") == true)
    }

    @Test(.requires(.keras)) func writesShardsKerasLoads() throws {
        let dir = try TestEnv.temporaryDirectory("ckpt-sharded")
        defer { TestEnv.cleanup(dir) }
        let source = try Checkpoints.open(FidelityFixtures.path("adam_ema/model.keras"))
        var options = Convert.Options()
        options.write.maxShardSize = 20_000
        let result = try Convert.run(source, to: dir + "/m.weights.json", options: options)
        #expect(result.paths.count == 5 && result.paths.first == dir + "/m.weights.json")
        #expect(result.paths.dropFirst().map { KerasFiles.splitPath($0).1 } == (0..<4).map { "m_0000\($0).weights.h5" })
        let back = try Checkpoints.open(dir + "/m.weights.json", options: OpenOptions(architecture: source.index.architecture))
        #expect(back.index.tensors == source.index.tensors)
        for i in source.index.tensors.indices { #expect(try back.readTensorBytes(i) == source.readTensorBytes(i)) }
        let doc = try JSONParser.parse(TestEnv.read(dir + "/m.weights.json"))
        #expect(doc["weight_map"]?["/optimizer/vars"]?.arrayValue?.count == 4)
        #expect(doc["metadata"]?["total_size"]?.doubleValue == Double(source.index.tensors.reduce(0) { $0 + ($1.byteCount ?? 0) }))

        // Nothing is written when the set cannot be: an existing destination, a tensor bigger than a shard.
        let before = try FileManager.default.contentsOfDirectory(atPath: dir).sorted()
        #expect(throws: CheckpointError.self) { try Convert.run(source, to: dir + "/m.weights.json", options: options) }
        options.write.maxShardSize = 1000
        let big = #expect(throws: CheckpointError.self) { try Convert.run(source, to: dir + "/n.weights.json", options: options) }
        #expect(big?.reason.contains("more than the maximum shard size") == true)
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir).sorted() == before)

        _ = try judgeWithKeras([.object([("id", .string("sharded .keras→.weights.json")), ("mode", .string("weights")),
                                         ("source", .string(FidelityFixtures.path("adam_ema/model.keras"))),
                                         ("result", .string(dir + "/m.weights.json")), ("policy", .string("float32"))])], in: dir)
    }
}
