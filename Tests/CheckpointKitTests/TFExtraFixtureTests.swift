import Foundation
import Testing
import CheckpointTestSupport
@testable import CheckpointKit

/// Tests/Fixtures/tensorflow/extra: a LossScaleOptimizer, Nadam in a model with a nested
/// Sequential, unnamed variables of every dtype, a bundle in three shards. Every tensor equals
/// what tf.train.load_checkpoint reads (expected.json), and what cannot be read is named.
@Suite("TensorFlow checkpoints: more producers")
struct TFExtraFixtureTests {
    static let dir = TestEnv.path("Tests/Fixtures/tensorflow/extra")
    static let expected: JSONValue = {
        guard let bytes = try? TestEnv.read(dir + "/expected.json"), let v = try? JSONParser.parse(bytes) else { return .null }
        return v
    }()

    /// Every expected key with a digest is a tensor of ours with those bytes, unless `leftOut`.
    static func check(_ name: String, leftOut: Set<String> = [], sourceLocation: SourceLocation = #_sourceLocation) throws -> TFCheckpointSource {
        let e = expected[name] ?? .null
        let source = try TFCheckpointSource(path: dir + "/" + (e["prefix"]?.stringValue ?? name))
        var byKey: [String: Int] = [:]
        for (i, t) in source.index.tensors.enumerated() { if let k = t.sourceKey { byKey[k] = i } }
        for k in e["keys"]?.arrayValue ?? [] {
            guard let key = k["key"]?.stringValue, let sha = k["sha256"]?.stringValue else { continue }
            if leftOut.contains(key) {
                #expect(byKey[key] == nil, "\(key) should be left out", sourceLocation: sourceLocation)
                #expect(source.notes.contains { $0.contains(key) }, "\(key): no note names it", sourceLocation: sourceLocation)
                continue
            }
            guard let i = byKey[key] else { Issue.record("\(name): no tensor for \(key)", sourceLocation: sourceLocation); continue }
            #expect(source.index.tensors[i].dtype.rawValue == k["dtype"]?.stringValue, "\(key): dtype", sourceLocation: sourceLocation)
            #expect(source.index.tensors[i].shape.map(Int64.init) == TFFixtures.ints(k["shape"]), "\(key): shape", sourceLocation: sourceLocation)
            #expect(try TFFixtures.sha(source, tensor: i) == sha, "\(key): bytes", sourceLocation: sourceLocation)
        }
        try source.verify()
        return source
    }

    @Test
    func lossScaleOptimizerSlots() throws {
        let s = try Self.check("mixed")
        #expect(s.index.optimizer?.className == "Adam")
        #expect(s.index.optimizer?.iterations == 1)
        let slot = s.index.tensor(named: "optimizer/momentum/dense_2/kernel")
        #expect(slot?.slot == "momentum" && slot?.weight == "dense_2/kernel")
        #expect(s.index.tensors.filter { $0.slot != nil }.count == 8)
        #expect(s.index.tensor(named: "optimizer/loss_scale/current_loss_scale") != nil)
    }

    @Test
    func nadamKeepsItsRunningProduct() throws {
        let s = try Self.check("nadam")
        #expect(s.index.optimizer?.className == "Nadam")
        #expect(s.index.tensor(named: "optimizer/u_product")?.role == .optimizer)
        #expect(!s.notes.contains { $0.contains("u_product") }, "\(s.notes)")
        // Written back, it is where tf.keras looks for it, and nested layers are under their model.
        let out = try TestEnv.temporaryDirectory("ckpt-tf-extra")
        defer { TestEnv.cleanup(out) }
        var options = WriteOptions()
        options.layoutArchitecture = try TestEnv.read(Self.dir + "/nadam/architecture.json")
        try TFCheckpointWriter.write(s, to: out + "/w", options: options)
        let back = try TFCheckpointSource(path: out + "/w")
        let keys = Set(back.bundle.entries.map(\.key))
        #expect(keys.contains("optimizer/_u_product/.ATTRIBUTES/VARIABLE_VALUE"))
        #expect(keys.contains("layer_with_weights-0/layer_with_weights-0/kernel/.ATTRIBUTES/VARIABLE_VALUE"), "\(keys.sorted())")
        try expectSameTensors(s, back)
    }

    @Test
    func unnamedVariablesOfEveryDType() throws {
        let s = try Self.check("variables", leftOut: ["c64/.ATTRIBUTES/VARIABLE_VALUE"])
        #expect(s.index.tensors.map(\.name).sorted() == ["b", "bf16", "empty", "f16", "f64", "i16", "i32", "i64", "i8", "scalar", "u16", "u32", "u64", "u8"])
        #expect(s.notes.contains { $0.contains("s/.ATTRIBUTES/VARIABLE_VALUE") && $0.contains("string") })
        #expect(!s.notes.contains { $0.contains("two keys") })
    }

    @Test
    func threeShards() throws {
        // v2 is sliced by rows (streamed slice by slice); v4 along both dimensions (put together in memory).
        let s = try Self.check("sharded")
        #expect(s.shards.count == 3)
        #expect(s.index.tensors.map(\.name) == ["v0", "v1", "v2", "v3", "v4", "v5"])
        #expect(s.pieces(of: 2).count == 3 && s.pieces(of: 4).count == 1)
        #expect(s.notes.isEmpty, "\(s.notes)")
    }

    @Test(.timeLimit(.minutes(5)), .requires(.tfKeras, .numpy))
    func tensorflowLoadsWhatWeWriteBack() throws {
        let out = try TestEnv.temporaryDirectory("ckpt-tf-extra-py")
        defer { TestEnv.cleanup(out) }
        for m in ["nadam", "mixed"] {
            try FileManager.default.createDirectory(atPath: "\(out)/\(m)", withIntermediateDirectories: true)
            var options = WriteOptions()
            options.layoutArchitecture = try TestEnv.read("\(Self.dir)/\(m)/architecture.json")
            try TFCheckpointWriter.write(TFCheckpointSource(path: "\(Self.dir)/\(m)/w"), to: "\(out)/\(m)/out", options: options)
        }
        let r = try TFPython.run(Self.script, [Self.dir, out])
        #expect(r.contains("nadam ok") && r.contains("mixed ok"), "\(r)")
    }

    /// tf.keras load_weights of what we wrote: every weight and optimizer variable (Nadam's
    /// u_product, the nested Sequential's layers) equals what loading the original gives.
    static let script = """
    import sys
    import numpy as np, tf_keras
    E, out = sys.argv[1], sys.argv[2]
    for m in ["nadam", "mixed"]:
        if m == "mixed": tf_keras.mixed_precision.set_global_policy("mixed_float16")
        def fresh():
            model = tf_keras.models.model_from_json(open(f"{E}/{m}/architecture.json").read())
            model.compile(optimizer=tf_keras.optimizers.Nadam(0.01) if m == "nadam" else "adam", loss="mse")
            return model
        a, b = fresh(), fresh()
        a.load_weights(f"{out}/{m}/out").assert_existing_objects_matched()
        b.load_weights(f"{E}/{m}/w")
        for x, y in zip(a.weights, b.weights): assert np.array_equal(x.numpy(), y.numpy()), (m, x.name)
        a.optimizer.build(a.trainable_variables); b.optimizer.build(b.trainable_variables)
        assert len(a.optimizer.variables) == len(b.optimizer.variables), m
        for x, y in zip(a.optimizer.variables, b.optimizer.variables): assert np.array_equal(x.numpy(), y.numpy()), (m, x.name)
        if m == "nadam": assert float(a.optimizer._u_product.numpy()) == float(b.optimizer._u_product.numpy()) != 1.0
        print(m, "ok")
    """
}
