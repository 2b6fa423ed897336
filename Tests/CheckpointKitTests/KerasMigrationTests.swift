import Foundation
import Testing
import CheckpointTestSupport
@testable import CheckpointKit

private let tensorflowImportable: Bool = {
    guard let py = TestEnv.which("python3") else { return false }
    return (try? TestEnv.run(py, ["-c", "import keras, tensorflow"], environment: ["KERAS_BACKEND": "tensorflow"]).0) == 0
}()

private let tfKerasImportable: Bool = {
    guard let py = TestEnv.which("python3") else { return false }
    return (try? TestEnv.run(py, ["-c", "import tf_keras"], environment: ["TF_USE_LEGACY_KERAS": "1", "TF_CPP_MIN_LOG_LEVEL": "3"]).0) == 0
}()

/// Keras 2 (tf.keras) and Keras 3 legacy `.h5` → Keras 3 `.keras`.
@Suite("Keras 2 → Keras 3 migration", .requires(.hdf5))
struct KerasMigrationTests {
    static let dir = TestEnv.path("Tests/Fixtures/keras2-migration")
    static let models = ["mlp", "convnet", "seqnet", "attn"]

    @Test func translatesConfigurations() throws {
        let k2 = try JSONParser.parse(#"{"class_name": "Sequential", "config": {"name": "s", "layers": [{"class_name": "Dense", "config": {"name": "d", "units": 2, "batch_input_shape": [null, 4, 3], "dtype": "float32", "kernel_initializer": {"class_name": "GlorotUniform", "config": {"seed": null}}, "kernel_regularizer": {"class_name": "L2", "config": {"l2": 0.01}}}}, {"class_name": "LeakyReLU", "config": {"name": "lr", "alpha": 0.2}}, {"class_name": "ThresholdedReLU", "config": {"name": "t", "theta": 0.5}}, {"class_name": "CuDNNLSTM", "config": {"name": "c", "units": 2, "time_major": false}}]}, "keras_version": "2.15.0"}"#)
        let r = try KerasMigration.keras3Config(json: k2)
        let c = r.config
        #expect(c["module"]?.stringValue == "keras" && c["class_name"]?.stringValue == "Sequential")
        let layers = try #require(c["config"]?["layers"]?.arrayValue)
        #expect(layers.map { $0["class_name"]?.stringValue ?? "" } == ["InputLayer", "Dense", "LeakyReLU", "ReLU", "LSTM"])
        #expect(layers[0]["config"]?["batch_shape"] == .array([.null, .number(4), .number(3)]))
        #expect(layers[0]["config"]?["name"]?.stringValue == "d_input")
        let dense = try #require(layers[1]["config"])
        #expect(dense["batch_input_shape"] == nil)
        #expect(dense["dtype"]?["class_name"]?.stringValue == "DTypePolicy")
        #expect(dense["kernel_initializer"]?["module"]?.stringValue == "keras.initializers")
        #expect(dense["kernel_regularizer"]?["module"]?.stringValue == "keras.regularizers")
        #expect(layers[2]["config"]?["negative_slope"]?.doubleValue == 0.2 && layers[2]["config"]?["alpha"] == nil)
        #expect(layers[3]["config"]?["threshold"]?.doubleValue == 0.5)
        #expect(layers[4]["config"]?["time_major"] == nil)
        // The translated document reads as Keras 3 and has the same variables.
        let a = try KerasArchitecture(json: k2).variables(), b = try KerasArchitecture(json: c).variables()
        #expect(b.variables.map { KerasNames.stripModelPrefix($0.path, modelName: "s") } == a.variables.map(\.path))
        #expect(b.variables.map(\.shape) == a.variables.map(\.shape))
        #expect(!KerasMigration.needsTranslation(c))

        // Untranslatable classes are refused by name.
        let lambda = try JSONParser.parse(#"{"class_name": "Sequential", "config": {"name": "s", "layers": [{"class_name": "Lambda", "config": {"name": "fn", "function": "..."}}]}}"#)
        let e = #expect(throws: CheckpointError.self) { try KerasMigration.keras3Config(json: lambda) }
        #expect(e?.code == .unsupported && e?.reason.contains("\"fn\" is a Lambda") == true)
        #expect(KerasMigration.translatedLayerClasses.contains("Bidirectional") && !KerasMigration.translatedLayerClasses.contains("Lambda"))
    }

    /// Every fixture converts to a `.keras` holding the same weights and optimizer state, and
    /// Keras 3 (TensorFlow backend, like the originals) loads it and predicts what tf.keras did.
    @Test(.requires(.keras, .tensorflow)) func legacyFilesBecomeKeras3Files() throws {
        let out = try TestEnv.temporaryDirectory("ckpt-migration")
        defer { TestEnv.cleanup(out) }
        let expected = try KerasFixtures.json(URL(fileURLWithPath: Self.dir + "/expected.json"))
        var cases: [JSONValue] = []
        var sources: [(String, String, String, String, String, Int)] = Self.models.map { m in
            (m, Self.dir + "/\(m).h5", Self.dir + "/\(m).inputs.npy", Self.dir + "/\(m).outputs.npy",
             expected["models"]?[m]?["optimizer"]?.stringValue ?? "?", expected["models"]?[m]?["iterations"]?.intValue ?? -1)
        }
        // The recorded outputs came from tf.keras on another CPU; a mixed_float16 layer (attn's
        // Conv1D) computes in float16 differently from one CPU to another (2.4e-4 here). Where
        // tf_keras is installed, tf.keras's predictions on this machine are the reference (and must
        // agree with the recorded ones to 1e-3: the same model).
        if tfKerasImportable {
            let script = """
            import sys, numpy as np, tf_keras
            d, out = sys.argv[1], sys.argv[2]
            for m in sys.argv[3:]:
                p = tf_keras.models.load_model(f"{d}/{m}.h5").predict(np.load(f"{d}/{m}.inputs.npy"), verbose=0)
                r = np.load(f"{d}/{m}.outputs.npy")
                assert p.shape == r.shape and np.allclose(p, r, rtol=0, atol=1e-3), (m, float(np.abs(p - r).max()))
                np.save(f"{out}/{m}.here.npy", p)
            print("ok")
            """
            let r = try TFPython.run(script, [Self.dir, out] + Self.models)
            #expect(r.contains("ok"), "\(r)")
            sources = sources.map { s in var s = s; s.3 = out + "/\(s.0).here.npy"; return s }
        }
        sources.append(("keras3-legacy", FidelityFixtures.path("legacy_h5/model.h5"), FidelityFixtures.path("legacy_h5/inputs.npy"),
                        FidelityFixtures.path("legacy_h5/outputs.npy"), "Adam", 8))
        for (name, path, inputs, outputs, optimizer, iterations) in sources {
            let src = try Checkpoints.open(path)
            #expect(!src.index.optimizerTensors.contains { $0.name.hasPrefix("optimizer/legacy/") }, "\(name): Keras 2 slots mapped")
            let result = try Convert.run(src, to: out + "/\(name).keras")
            // The one note: the producer's keras_version is replaced by Keras 3's.
            #expect(result.notes.allSatisfy { $0.contains("keras_version") && $0.contains("was written as") }, "\(name): \(result.notes)")
            let back = try Checkpoints.open(out + "/\(name).keras")
            // The same tensors (Keras 3 may name and order them differently: a Sequential without
            // build shapes names its variables inside the model's scope, `mlp/d1/kernel`).
            #expect(back.index.tensors.count == src.index.tensors.count, "\(name)")
            var unused = Array(back.index.tensors.indices)
            for (i, t) in src.index.tensors.enumerated() {
                let bytes = try src.readTensorBytes(i)
                var k: Int?
                for (n, j) in unused.enumerated() where back.index.tensors[j].shape == t.shape && back.index.tensors[j].role == t.role {
                    if try back.readTensorBytes(j) == bytes { k = n; break }
                }
                #expect(k != nil, "\(name): \(t.name) is not in the .keras")
                if let k { unused.remove(at: k) }
            }
            #expect(back.index.optimizer?.iterations == Int64(iterations))
            let config = try KerasArchitecture(bytes: try #require(back.index.architecture))
            #expect(config.json["module"] != nil && config.compileConfig?["loss"]?.stringValue == "categorical_crossentropy", "\(name)")
            cases.append(.object([("id", .string("\(name).h5 → .keras")), ("mode", .string("migrated")), ("result", .string(out + "/\(name).keras")),
                                  ("inputs", .string(inputs)), ("outputs", .string(outputs)), ("optimizer", .string(optimizer)),
                                  ("iterations", .number(iterations)), ("source", .string(path))]))
        }
        guard tensorflowImportable else {
            #expect(ProcessInfo.processInfo.environment["CKPT_REQUIRE_KERAS"] != "1", "keras with the TensorFlow backend is required (CKPT_REQUIRE_KERAS=1)")
            return
        }
        _ = try judgeWithKeras(cases, in: out, backend: "tensorflow")
    }

    /// tf.keras numbers default layer names per process: weights saved as dense, dense_1 match an
    /// architecture naming them dense_2, dense_3 by their order (a note says so); a model with
    /// another number of layers is refused naming the missing layer.
    @Test func layersMatchedByOrderLikeTfKeras() throws {
        let arch = try TestEnv.read(Self.dir + "/renamed.architecture.json")
        let source = try Checkpoints.open(Self.dir + "/renamed_weights.h5", options: OpenOptions(architecture: arch))
        #expect(source.index.weights.map(\.name) == ["dense_2/kernel", "dense_2/bias", "dense_3/kernel", "dense_3/bias"])
        #expect(source.notes.contains { $0.contains("matched by their order") && $0.contains("dense → dense_2") })
        let h5 = try HDF5File.open(path: Self.dir + "/renamed_weights.h5")
        #expect(try source.readTensorBytes(0) == h5.dataset("dense/dense/kernel:0").read())
        let other = try TestEnv.read(Self.dir + "/renamed_mismatch.architecture.json")
        let e = #expect(throws: CheckpointError.self) { try Checkpoints.open(Self.dir + "/renamed_weights.h5", options: OpenOptions(architecture: other)) }
        #expect(e?.code == .weightsMismatch && e?.reason.contains("the architecture has no layer dense,") == true)
    }
}
