import Foundation
import Testing
@testable import CheckpointCommands
@testable import CheckpointKit

/// The command line on what real Keras training runs write (Tests/Fixtures/keras-fidelity).
@Suite("ckpt on Keras training runs")
struct KerasFidelityCommandTests {
    static func fixture(_ p: String) -> String { CLI.path("Tests/Fixtures/keras-fidelity/" + p) }

    @Test("inspect shows the wrapper, the inner optimizer and the true step")
    func inspectWrappers() {
        let mixed = CLI.run(["inspect", Self.fixture("mixed_float16_adam/model.keras")])
        #expect(mixed.status == 0)
        #expect(mixed.out.contains("LossScaleOptimizer(Adam) at step 8"))
        #expect(mixed.out.contains("optimizer   LossScaleOptimizer wrapping Adam (loss scaling for mixed precision), step 8, learning rate 0.002"))
        let acc = CLI.run(["inspect", Self.fixture("adamw_gradacc2/model.keras")])
        #expect(acc.out.contains("AdamW at step 4 (8 batches, gradient_accumulation_steps=2)"))
        let json = CLI.run(["inspect", Self.fixture("lso_sgd/model.keras"), "--json"])
        #expect(json.out.contains("\"inner_class_name\": \"SGD\""))
        let shard = CLI.run(["inspect", Self.fixture("sharded/model_00001.weights.h5")])
        #expect(shard.status == 2 && shard.err.contains("one shard of the Keras sharded set") && shard.out.isEmpty)
    }

    @Test("--optimizer-config takes get_config() named by Keras or by --optimizer, and serialize() JSON")
    func optimizerConfigForms() throws {
        let dir = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let weights = Self.fixture("muon/reference.npz")
        let arch = Self.fixture("muon/architecture.json")
        // get_config() whose name is not the class's default (adam_4): the class from the name.
        let adam4 = dir + "/adam4.json"
        let config = try KerasOptimizerConfig(className: "adam", overrides: [("name", "adam_4"), ("beta_1", "0.8")]).config
        try Data(config.serialized(.python).utf8).write(to: URL(fileURLWithPath: adam4))
        var r = CLI.run(["rebuild", weights, "--architecture", arch, "--optimizer-config", adam4, "-o", dir + "/a.ckpt"])
        #expect(r.status == 0, "\(r.err)")
        #expect(try CheckpointArchive(path: dir + "/a.ckpt").index.optimizer?.config == config)
        // --optimizer with a get_config() and --set on top.
        r = CLI.run(["rebuild", weights, "--architecture", arch, "--optimizer", "Adam", "--optimizer-config", adam4,
                     "--set", "beta_2=0.99", "-o", dir + "/b.ckpt"])
        #expect(r.status == 0, "\(r.err)")
        let b = try #require(try CheckpointArchive(path: dir + "/b.ckpt").index.optimizer)
        #expect(b.config["name"]?.stringValue == "adam_4" && b.config["beta_1"]?.doubleValue == 0.8 && b.config["beta_2"]?.doubleValue == 0.99)
        // keras.optimizers.serialize() of a Muon: kept verbatim.
        r = CLI.run(["rebuild", weights, "--architecture", arch, "--optimizer-config", Self.fixture("muon/optimizer_serialized.json"), "-o", dir + "/c.ckpt"])
        #expect(r.status == 0, "\(r.err)")
        let muon = try JSONParser.parse([UInt8](try Data(contentsOf: URL(fileURLWithPath: Self.fixture("muon/optimizer_serialized.json")))))
        #expect(try CheckpointArchive(path: dir + "/c.ckpt").index.optimizer?.config == muon["config"])
        // A name that says no class, and disagreeing classes, are refused with nothing written.
        try Data(#"{"name": "my_opt", "learning_rate": 0.1}"#.utf8).write(to: URL(fileURLWithPath: dir + "/x.json"))
        r = CLI.run(["rebuild", weights, "--architecture", arch, "--optimizer-config", dir + "/x.json", "-o", dir + "/x.ckpt"])
        #expect(r.status == 2 && r.err.contains("--optimizer CLASS"))
        r = CLI.run(["rebuild", weights, "--architecture", arch, "--optimizer", "sgd", "--optimizer-config", Self.fixture("muon/optimizer_serialized.json"), "-o", dir + "/y.ckpt"])
        #expect(r.status == 2 && r.err.contains("disagree"))
        #expect(!FileManager.default.fileExists(atPath: dir + "/x.ckpt") && !FileManager.default.fileExists(atPath: dir + "/y.ckpt"))
    }

    @Test("rebuild under mixed_float16 builds the LossScaleOptimizer Keras builds; --loss-scale no does not")
    func mixedPrecisionRebuild() throws {
        let dir = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let weights = Self.fixture("mixed_float16_adam/reference.npz")
        let arch = Self.fixture("mixed_float16_adam/architecture.json")
        var r = CLI.run(["rebuild", weights, "--architecture", arch, "--optimizer", "adam", "--learning-rate", "0.002", "-o", dir + "/m.ckpt"])
        #expect(r.status == 0, "\(r.err)")
        #expect(r.err.contains("mixed_float16"))
        let m = try CheckpointArchive(path: dir + "/m.ckpt")
        #expect(m.index.optimizer?.className == "LossScaleOptimizer" && m.index.optimizerTensors.count == 22)
        r = CLI.run(["rebuild", weights, "--architecture", arch, "--optimizer", "adam", "--loss-scale", "no", "-o", dir + "/n.ckpt"])
        #expect(r.status == 0, "\(r.err)")
        #expect(try CheckpointArchive(path: dir + "/n.ckpt").index.optimizerTensors.count == 18)
    }
}
