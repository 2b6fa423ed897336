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

    /// A 2×3 float32 variable `w` cut into the given boxes (start, length per dimension), written
    /// as a bundle; the data of each box is the variable's elements in it.
    static func forgeSliced(_ dir: String, _ boxes: [[(Int64, Int64)]]) throws -> String {
        let whole: [Float] = [1, 2, 3, 4, 5, 6]
        var data: [UInt8] = []
        var entries: [(key: [UInt8], value: [UInt8])] = []
        var slices: [TFTensorSlice] = []
        for box in boxes {
            let slice = TFTensorSlice(extents: box.map { TFTensorSlice.Extent(start: $0.0, length: $0.1) })
            var bytes: [UInt8] = []
            for r in box[0].0..<(box[0].0 + box[0].1) {
                for c in box[1].0..<(box[1].0 + box[1].1) { bytes.appendLE(whole[Int(r * 3 + c) % whole.count].bitPattern) }
            }
            let entry = TFBundleEntry(dtype: .float, shape: box.map(\.1), offset: Int64(data.count), size: Int64(bytes.count),
                                      crc32c: CRC32C.mask(CRC32C.checksum(bytes)))
            entries.append((TFBundle.sliceKey("w", slice), TFProtos.encodeEntry(entry)))
            data += bytes
            slices.append(slice)
        }
        entries.append((Array("w".utf8), TFProtos.encodeEntry(TFBundleEntry(dtype: .float, shape: [2, 3], slices: slices))))
        entries.sort { $0.key.lexicographicallyPrecedes($1.key) }
        entries.insert(([], TFProtos.encodeHeader(TFBundleHeader(numShards: 1, endianness: 0, producer: 1, minConsumer: 0))), at: 0)
        let prefix = dir + "/forged"
        try TestEnv.write(LevelDBTableWriter().build(entries), to: prefix + ".index")
        try TestEnv.write(data, to: prefix + ".data-00000-of-00001")
        return prefix
    }

    @Test
    func slicesAlongAnyDimension() throws {
        let dir = try TestEnv.temporaryDirectory("ckpt-tf-slices")
        defer { TestEnv.cleanup(dir) }
        var expected: [UInt8] = []
        for v: Float in [1, 2, 3, 4, 5, 6] { expected.appendLE(v.bitPattern) }
        // Columns 0-1 of both rows, then column 2 row by row: put together in C order.
        let good = try TFCheckpointSource(path: Self.forgeSliced(dir, [[(0, 2), (0, 2)], [(1, 1), (2, 1)], [(0, 1), (2, 1)]]))
        #expect(good.index.tensors.map(\.name) == ["w"] && good.index.tensors.first?.shape == [2, 3])
        #expect(try good.readTensorBytes(0) == expected)
        try good.verify()
        // Overlapping boxes, and boxes that leave a gap: left out, and the note says why.
        for (boxes, says) in [([[(0, 2), (0, 2)], [(0, 2), (1, 2)]] as [[(Int64, Int64)]], "more elements"),
                              ([[(0, 1), (0, 3)], [(1, 1), (0, 2)]], "cover 5 of its 6"),
                              ([[(0, 1), (0, 3)], [(0, 2), (2, 1)], [(1, 1), (0, 1)]], "overlap"),
                              ([[(0, 2), (0, 2)], [(1, 1), (2, 2)]], "outside")] {
            try? FileManager.default.removeItem(atPath: dir + "/forged.index")
            try? FileManager.default.removeItem(atPath: dir + "/forged.data-00000-of-00001")
            let bad = try TFCheckpointSource(path: Self.forgeSliced(dir, boxes))
            #expect(bad.index.tensors.isEmpty, "\(boxes)")
            #expect(bad.notes.contains { $0.contains("\"w\" is left out") && $0.contains(says) }, "\(bad.notes)")
        }
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

    /// tf.keras numbers a nested model's calls from 1 (node 0 is the model's own graph); Keras 3
    /// from 0. The migrated configuration renumbers them (Keras 3 refused the file before).
    @Test func nestedModelCallsRenumbered() throws {
        let arch = try JSONParser.parse(try TestEnv.read("\(Self.dir)/nadam/architecture.json"))
        let config = try KerasMigration.keras3Config(json: arch).config
        let frozen = try #require(config["config"]?["layers"]?.arrayValue?.first { $0["name"]?.stringValue == "frozen" })
        #expect(KerasArchitectureParser.triple(frozen["inbound_nodes"]?[0]?[0] ?? .null).map { [$0.0, "\($0.1)", "\($0.2)"] } == ["inner", "0", "0"])
        // Other calls are left as written.
        let head = try #require(config["config"]?["layers"]?.arrayValue?.first { $0["name"]?.stringValue == "head" })
        #expect(KerasArchitectureParser.triple(head["inbound_nodes"]?[0]?[0] ?? .null).map { $0.0 } == "frozen")
    }

    /// Keras 3 loads the migrated model with a nested Sequential and predicts what tf.keras does.
    @Test(.timeLimit(.minutes(5)), .requires(.hdf5, .tfKeras, .keras, .numpy))
    func nestedModelLoadsInKeras3() throws {
        let out = try TestEnv.temporaryDirectory("ckpt-tf-nested")
        defer { TestEnv.cleanup(out) }
        var options = OpenOptions()
        options.architecture = try TestEnv.read("\(Self.dir)/nadam/architecture.json")
        let source = try TFCheckpointSource(path: "\(Self.dir)/nadam/w", options: options)
        try Convert.run(source, to: out + "/nested.keras")
        let reference = try TFPython.run("""
        import sys, numpy as np, tf_keras
        E, out = sys.argv[1], sys.argv[2]
        model = tf_keras.models.model_from_json(open(f"{E}/nadam/architecture.json").read())
        model.load_weights(f"{E}/nadam/w").expect_partial()
        x = np.random.default_rng(0).standard_normal((4, 5)).astype("float32")
        np.save(f"{out}/x.npy", x); np.save(f"{out}/y.npy", model.predict(x, verbose=0))
        print("tf.keras ok")
        """, [Self.dir, out])
        #expect(reference.contains("tf.keras ok"), "\(reference)")
        let keras3 = try TestEnv.python("""
        import sys, numpy as np, keras
        out = sys.argv[1]
        model = keras.saving.load_model(f"{out}/nested.keras")
        p = np.asarray(model.predict(np.load(f"{out}/x.npy"), verbose=0)); y = np.load(f"{out}/y.npy")
        assert np.allclose(p, y, rtol=1e-5, atol=1e-6), float(np.abs(p - y).max())
        assert [l.name for l in model.layers] == ["x", "inner", "frozen", "head"], [l.name for l in model.layers]
        print("keras 3 ok")
        """, [out], environment: ["TF_CPP_MIN_LOG_LEVEL": "3"])
        #expect(keras3.contains("keras 3 ok"), "\(keras3)")
    }
}
