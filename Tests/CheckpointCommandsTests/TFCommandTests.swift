import Foundation
import Testing
import CheckpointTestSupport
@testable import CheckpointCommands
@testable import CheckpointKit

/// Every subcommand on TensorFlow checkpoints and SavedModels, in process.
@Suite("ckpt on TensorFlow checkpoints")
struct TFCommandTests {
    static let fixtures = CLI.path("Tests/Fixtures/tensorflow")

    /// A writable copy of a model's fixture folder.
    static func copy(_ model: String) throws -> String {
        let dir = try CLI.temporaryDirectory()
        try FileManager.default.copyItem(atPath: "\(fixtures)/\(model)", toPath: "\(dir)/\(model)")
        return "\(dir)/\(model)"
    }

    @Test
    func inspectEveryName() throws {
        for path in ["mlp/mlp_weights", "mlp/mlp_weights.index", "mlp/mlp_weights.data-00000-of-00001", "mlp", "mlp/checkpoint", "mlp/mlp_full"] {
            let r = CLI.run(["inspect", "\(Self.fixtures)/\(path)"])
            #expect(r.status == 0, "\(path): \(r.err)")
            #expect(r.out.contains("Adam at step 16"), "\(path)")
            #expect(r.out.contains("dense/kernel") && r.out.contains("layer_with_weights-0/kernel/.ATTRIBUTES/VARIABLE_VALUE"), "\(path)")
        }
        let full = CLI.run(["inspect", "\(Self.fixtures)/cnn/cnn_full"])
        #expect(full.out.contains("signature   serving_default: image float32 (None, 16, 16, 3) → head float32 (None, 10)"), "\(full.out)")
        #expect(full.out.contains("small_cnn"))
        #expect(full.err.contains("compiled-metric"))
        // A TF1 prefix that ends in .ckpt is not taken for a .ckpt container.
        let tf1 = CLI.run(["inspect", "\(Self.fixtures)/tf1_saver/partitioned.ckpt"])
        #expect(tf1.status == 0 && tf1.out.contains("embedding"), "\(tf1.err)")
    }

    @Test
    func sizeOnDiskIsEveryFileRead() throws {
        // However the checkpoint is named, its size is its .index and .data files'; strip says the same.
        let total = UInt64(967 + 1_223_086)
        for path in ["mlp/mlp_weights", "mlp/mlp_weights.index", "mlp/mlp_weights.data-00000-of-00001", "mlp", "mlp/checkpoint"] {
            let r = CLI.run(["inspect", "--json", "\(Self.fixtures)/\(path)"])
            let json = try JSONParser.parse(Array(r.out.utf8))
            #expect(json["file_size"]?.int64Value.map(UInt64.init) == total, "\(path): \(json["file_size"] ?? .null)")
        }
        let dir = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let s = CLI.run(["strip", "\(Self.fixtures)/mlp/mlp_weights.index", "-o", dir + "/w.safetensors"])
        #expect(s.status == 0 && s.out.contains("1.17 MB →"), "\(s.out)")
    }

    @Test
    func inspectJSONCarriesBothNames() throws {
        let r = CLI.run(["inspect", "--json", "\(Self.fixtures)/lstm/lstm_full"])
        #expect(r.status == 0)
        let json = try JSONParser.parse(Array(r.out.utf8))
        let tensors = json["tensors"]?.arrayValue ?? []
        let cell = tensors.first { $0["name"]?.stringValue == "lstm/lstm_cell/kernel" }
        #expect(cell?["source_key"]?.stringValue == "variables/1/.ATTRIBUTES/VARIABLE_VALUE")
        let slot = tensors.first { $0["name"]?.stringValue == "optimizer/velocity/lstm/lstm_cell/kernel" }
        #expect(slot?["slot"]?.stringValue == "velocity" && slot?["weight"]?.stringValue == "lstm/lstm_cell/kernel")
        #expect(json["optimizer"]?["iterations"]?.intValue == 14)
        #expect(json["format"]?.stringValue == "saved-model")
        #expect(json["signatures"]?["serving_default"]?["inputs"]?["embedding_input"]?["dtype"]?.stringValue == "float32")
    }

    @Test
    func verifyCatchesAFlippedByte() throws {
        let dir = try Self.copy("mlp")
        defer { try? FileManager.default.removeItem(atPath: (dir as NSString).deletingLastPathComponent) }
        #expect(CLI.run(["inspect", "--verify", dir + "/mlp_weights"]).status == 0)
        // A byte of tensor data: only reading the data finds it.
        let data = dir + "/mlp_weights.data-00000-of-00001"
        var bytes = try Array(Data(contentsOf: URL(fileURLWithPath: data)))
        bytes[123_457] ^= 0x01
        try Data(bytes).write(to: URL(fileURLWithPath: data))
        #expect(CLI.run(["inspect", dir + "/mlp_weights"]).status == 0)
        let r = CLI.run(["inspect", "--verify", dir + "/mlp_weights"])
        #expect(r.status == 2)
        #expect(r.err.contains("mlp_weights.data-00000-of-00001") && r.err.contains("CRC-32C") && r.err.contains("at byte"), "\(r.err)")
        let c = CLI.run(["convert", dir + "/mlp_weights", dir + "/out.ckpt"])
        #expect(c.status == 2 && !FileManager.default.fileExists(atPath: dir + "/out.ckpt"))
        // A byte of the index: caught when it is opened.
        let index = dir + "/mlp_full/variables/variables.index"
        var ib = try Array(Data(contentsOf: URL(fileURLWithPath: index)))
        ib[40] ^= 0x20
        try Data(ib).write(to: URL(fileURLWithPath: index))
        let i = CLI.run(["inspect", "--verify", dir + "/mlp_full"])
        #expect(i.status == 2 && i.err.contains("variables.index"), "\(i.err)")
    }

    @Test(.requires(.hdf5))
    func diffAgainstTheMigratedKerasFile() throws {
        let dir = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        for (m, prefix) in [("cnn", [String]()), ("mlp", ["--strip-prefix", "sequential/"])] {
            let c = CLI.run(["convert", "\(Self.fixtures)/\(m)/\(m)_full", "\(dir)/\(m).keras"])
            #expect(c.status == 0, "\(c.err)")
            for input in ["\(m)_full", "\(m)_weights"] {
                let d = CLI.run(["diff", "\(Self.fixtures)/\(m)/\(input)", "\(dir)/\(m).keras"] + prefix)
                #expect(d.status == 0, "\(m) \(input): \(d.out)")
            }
            let w = CLI.run(["convert", "\(Self.fixtures)/\(m)/\(m)_weights", "\(dir)/\(m).weights.h5", "--architecture", "\(Self.fixtures)/\(m)/architecture.json"])
            #expect(w.status == 0, "\(w.err)")
            let d = CLI.run(["diff", "\(Self.fixtures)/\(m)/\(m)_weights", "\(dir)/\(m).weights.h5", "--architecture", "\(Self.fixtures)/\(m)/architecture.json"])
            #expect(d.status == 0, "\(m) weights.h5: \(d.out)")
        }
    }

    @Test
    func stripConvertAndBack() throws {
        let dir = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let s = CLI.run(["strip", "\(Self.fixtures)/lstm/lstm_full", "-o", dir + "/w.safetensors"])
        #expect(s.status == 0, "\(s.err)")
        #expect(try Checkpoints.open(dir + "/w.safetensors").index.tensors.count == 6)
        // TF → .ckpt → TF checkpoint → the same tensors.
        #expect(CLI.run(["convert", "\(Self.fixtures)/legacy_adam/legacy_adam_weights", dir + "/a.ckpt"]).status == 0)
        let t = CLI.run(["convert", dir + "/a.ckpt", dir + "/tf/back", "--to", "tf-checkpoint"])
        #expect(t.status != 0, "the folder does not exist yet")
        try FileManager.default.createDirectory(atPath: dir + "/tf", withIntermediateDirectories: true)
        let t2 = CLI.run(["convert", dir + "/a.ckpt", dir + "/tf/back", "--to", "tf-checkpoint"])
        #expect(t2.status == 0, "\(t2.err)")
        #expect(Set(try FileManager.default.contentsOfDirectory(atPath: dir + "/tf")) == ["back.index", "back.data-00000-of-00001", "checkpoint"])
        let d = CLI.run(["diff", "\(Self.fixtures)/legacy_adam/legacy_adam_weights", dir + "/tf"])
        #expect(d.status == 0, "\(d.out)")
        // The output exists: refused without --force, nothing changed.
        let again = CLI.run(["convert", dir + "/a.ckpt", dir + "/tf/back.index"])
        #expect(again.status == 2 && again.err.contains("exists"), "\(again.err)")
        // A SavedModel is read, not written.
        let sm = CLI.run(["convert", dir + "/a.ckpt", dir + "/sm", "--to", "saved-model"])
        #expect(sm.status == 2 && sm.err.contains("SavedModel"), "\(sm.err)")
    }
}
