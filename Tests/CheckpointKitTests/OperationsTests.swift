import Foundation
import Testing
import CheckpointTestSupport
@testable import CheckpointKit

// The operations a Swift program gets from CheckpointKit alone (no CheckpointCommands): every
// format reached through the registry, strip / rebuild / convert from any readable format to any
// writable one.

@Suite("Operations through the format registry")
struct OperationsTests {
    @Test("every registered format has a unique identifier, names and suffixes; lookups agree")
    func registry() throws {
        let ids = FormatRegistry.all.map(\.id)
        #expect(Set(ids).count == ids.count)
        let names = FormatRegistry.all.flatMap(\.names)
        #expect(Set(names).count == names.count, "a --from/--to name is claimed twice")
        for f in FormatRegistry.all {
            #expect(f.names.first == f.id.rawValue, "\(f.id): the first name is the identifier")
            #expect(FormatRegistry.named(f.id.rawValue.uppercased())?.id == f.id)
            for s in f.suffixes {
                #expect(s == s.lowercased() && s.hasPrefix("."), "\(f.id): suffix \(s)")
                #expect(CheckpointFormat.fromExtension("dir/model" + s.uppercased()) == f.id, "\(s) names \(f.id)")
            }
        }
        #expect(CheckpointFormat.fromExtension("m.weights.h5") == .kerasWeightsH5)
        #expect(CheckpointFormat.fromExtension("m.h5") == .kerasLegacyH5)
        #expect(CheckpointFormat.fromExtension("m.txt") == nil)
        #expect(CheckpointFormat(name: "st") == .safetensors)
    }

    @Test("sniffing: a .ckpt and an .npz under a meaningless name are told apart by their contents")
    func sniffing() throws {
        let dir = try TestEnv.temporaryDirectory("ckpt-ops")
        defer { TestEnv.cleanup(dir) }
        try FileManager.default.copyItem(atPath: TestEnv.path("Samples/mlp.ckpt"), toPath: dir + "/a.bin")
        try FileManager.default.copyItem(atPath: TestEnv.path("Tests/Fixtures/keras/mlp/weights.npz"), toPath: dir + "/b.bin")
        #expect(try Checkpoints.sniff(dir + "/a.bin") == .ckpt)
        #expect(try Checkpoints.sniff(dir + "/b.bin") == .npz)
        #expect(try Checkpoints.open(dir + "/b.bin").index.tensors.count == Checkpoints.open(TestEnv.path("Tests/Fixtures/keras/mlp/weights.npz")).index.tensors.count)
    }

    @Test("convert names what the destination cannot hold and writes the rest")
    func convertNotes() throws {
        let dir = try TestEnv.temporaryDirectory("ckpt-ops")
        defer { TestEnv.cleanup(dir) }
        let full = try Checkpoints.open(TestEnv.path("Samples/mlp.ckpt"))
        // A Keras .weights.h5 holds no architecture, metadata or optimizer configuration: each is named.
        let h5 = try Convert.run(full, to: dir + "/w.weights.h5")
        #expect(h5.notes.contains { $0.hasPrefix("the optimizer's configuration (Adam, learning rate 0.001) was left out") }, "\(h5.notes)")
        #expect(h5.notes.contains { $0.hasPrefix("the architecture was left out") }, "\(h5.notes)")
        try FileManager.default.removeItem(atPath: dir + "/w.weights.h5")
        // safetensors keeps everything: tensors natively, the rest in its ckpt index.
        let result = try Convert.run(full, to: dir + "/w.safetensors")
        #expect(result.format == .safetensors && result.tensors == 14)
        #expect(result.notes == [])
        let back = try Checkpoints.open(dir + "/w.safetensors")
        #expect(back.index.tensors.map(\.name) == full.index.tensors.map(\.name))
        #expect(back.index.optimizer == full.index.optimizer && back.index.kind == .full)
        for t in back.index.tensors.indices {
            #expect(try back.readTensorBytes(t) == full.readTensorBytes(try #require(full.tensorIndex(named: back.index.tensors[t].name))))
        }
        // A read-only format is refused before anything is written.
        let e = #expect(throws: CheckpointError.self) { try Convert.run(full, to: dir + "/x.h5") }
        #expect(e?.code == .unsupported)
        #expect(directoryListing(dir) == ["w.safetensors"])
    }

    /// strip `mlp.keras` → `dir/w.safetensors`, rebuild → `dir/fresh.keras` (Adam, learning rate 0.0005).
    static func stripAndRebuild(_ dir: String) throws -> (keras: any TensorSource, fresh: any TensorSource) {
        let keras = try Checkpoints.open(TestEnv.fixture("keras/mlp/mlp.keras"))
        #expect(keras.index.kind == .full)

        let summary = try Strip.run(keras, to: dir + "/w.safetensors")
        #expect(summary.removedTensors == 10 && summary.keptTensors == 4 && summary.notes.isEmpty)
        let weights = try Checkpoints.open(dir + "/w.safetensors")
        #expect(weights.format == .safetensors && weights.index.kind == .weights)

        let architecture = try #require(keras.index.architecture)
        let report = try Rebuild.run(weights: weights, architecture: architecture, optimizer: .named("adam", overrides: [("learning_rate", "0.0005")]),
                                     to: dir + "/fresh.keras")
        #expect(!report.hasProblems && report.matched.count == 4 && report.optimizerVariables.count == 10)
        return (keras, try Checkpoints.open(dir + "/fresh.keras"))
    }

    @Test("strip .keras → .safetensors, rebuild → .keras with the library alone", .requires(.hdf5))
    func stripToSafetensorsAndRebuild() throws {
        let dir = try TestEnv.temporaryDirectory("ckpt-ops")
        defer { TestEnv.cleanup(dir) }
        let (keras, fresh) = try Self.stripAndRebuild(dir)
        #expect(fresh.format == .keras && fresh.index.kind == .full)
        #expect(fresh.index.optimizer?.className == "Adam" && fresh.index.optimizer?.iterations == 0)
        #expect(keras.index.weights.count == 4)
        for w in keras.index.weights {
            let a = try keras.readTensorBytes(try #require(keras.tensorIndex(named: w.name)))
            let b = try fresh.readTensorBytes(try #require(fresh.tensorIndex(named: w.name), "\(w.name)"))
            #expect(a == b, "\(w.name)")
        }
    }

    /// Keras itself: load_model restores the weights (same predictions as the original) and an
    /// Adam at step 0 with every slot zero.
    @Test("Keras loads the .keras rebuilt from .safetensors", .requires(.hdf5, .keras))
    func kerasLoadsTheRebuild() throws {
        let dir = try TestEnv.temporaryDirectory("ckpt-ops")
        defer { TestEnv.cleanup(dir) }
        _ = try Self.stripAndRebuild(dir)
        let script = """
        import sys, numpy as np, keras
        a = keras.saving.load_model(sys.argv[1]); b = keras.saving.load_model(sys.argv[2])
        x = np.random.default_rng(3).standard_normal((4, 784)).astype('float32')
        assert np.array_equal(a.predict(x, verbose=0), b.predict(x, verbose=0)), 'predictions differ'
        o = b.optimizer
        assert type(o).__name__ == 'Adam', type(o).__name__
        assert int(o.iterations.numpy()) == 0
        assert abs(float(o.learning_rate.numpy()) - 0.0005) < 1e-9
        assert len(o.variables) == 10, len(o.variables)
        assert all(not np.any(np.asarray(v)) for v in o.variables if v.path != 'adam/learning_rate')
        print('ok')
        """
        let out = try TestEnv.python(script, [TestEnv.fixture("keras/mlp/mlp.keras"), dir + "/fresh.keras"])
        #expect(out.contains("ok"), "\(out)")
    }
}
