import Foundation
import Testing
import CheckpointTestSupport
@testable import CheckpointKit

/// `ckpt convert my_model_full my_model.keras` and `convert my_model_weights x.weights.h5
/// --architecture model.json`: Keras 3 loads what we write, with the tf.keras weights bit for bit,
/// the optimizer state and step carried over, the same predictions, and one more training step
/// lands where tf.keras's does.
@Suite("TensorFlow checkpoints: migration to Keras 3")
struct TFMigrationTests {
    @Test(.requires(.hdf5), arguments: TFFixtures.models)
    func keras3FilesFromTensorFlow(_ name: String) throws {
        let dir = try TestEnv.temporaryDirectory("ckpt-tf-mig")
        defer { TestEnv.cleanup(dir) }
        let full = try TFCheckpointSource(path: "\(TFFixtures.dir)/\(name)/\(name)_full")
        let r = try Convert.run(full, to: dir + "/m.keras")
        #expect(r.format == .keras)
        let keras = try Checkpoints.open(dir + "/m.keras")
        #expect(try KerasArchitecture(bytes: #require(keras.index.architecture)).dialect == .keras3)
        #expect(keras.index.optimizer?.iterations == full.index.optimizer?.iterations)
        #expect(keras.index.optimizer?.className == full.index.optimizer?.className)
        #expect(keras.index.tensors.count == full.index.tensors.count)
        // Same tensors in the same order (Keras 3 names a Sequential's variables with its scope).
        for (i, (a, b)) in zip(full.index.tensors, keras.index.tensors).enumerated() {
            #expect(b.name.hasSuffix(a.name.split(separator: "/").suffix(2).joined(separator: "/")), "\(a.name) vs \(b.name)")
            #expect(try full.readTensorBytes(i) == keras.readTensorBytes(i), "\(a.name)")
        }
        var options = OpenOptions()
        options.architecture = try TestEnv.read("\(TFFixtures.dir)/\(name)/architecture.json")
        let weights = try TFCheckpointSource(path: "\(TFFixtures.dir)/\(name)/\(name)_weights", options: options)
        try Convert.run(weights, to: dir + "/m.weights.h5")
        let h5 = try Checkpoints.open(dir + "/m.weights.h5", options: options)
        try expectSameTensors(weights, h5)
    }

    @Test
    func translatedConfigs() throws {
        // A Sequential whose first layer carries the input shape gets an InputLayer; Keras 2-only
        // arguments go; Policy dtypes become DTypePolicy; Lambda layers are refused.
        let keras2 = """
        {"class_name": "Sequential", "config": {"name": "s", "layers": [
          {"class_name": "LSTM", "config": {"name": "l", "batch_input_shape": [null, 5, 3], "units": 4, "time_major": false, "implementation": 2,
           "dtype": {"class_name": "Policy", "config": {"name": "mixed_float16"}}, "kernel_initializer": {"class_name": "GlorotUniform", "config": {"seed": null}}}},
          {"class_name": "BatchNormalization", "config": {"name": "bn", "axis": [1], "fused": null}}]},
         "keras_version": "2.4.0", "backend": "tensorflow"}
        """
        let r = try KerasMigration.keras3Config(Array(keras2.utf8))
        let layers = r.config["config"]?["layers"]?.arrayValue ?? []
        #expect(r.config["module"]?.stringValue == "keras")
        #expect(layers.map { $0["class_name"]?.stringValue ?? "" } == ["InputLayer", "LSTM", "BatchNormalization"])
        #expect(layers[0]["config"]?["batch_shape"] == .array([.null, .number(5), .number(3)]))
        #expect(layers[1]["config"]?["time_major"] == nil && layers[1]["config"]?["batch_input_shape"] == nil)
        #expect(layers[1]["config"]?["dtype"]?["class_name"]?.stringValue == "DTypePolicy")
        #expect(layers[1]["config"]?["kernel_initializer"]?["module"]?.stringValue == "keras.initializers")
        #expect(layers[2]["config"]?["axis"] == .number(1))
        #expect(try KerasArchitecture(bytes: r.config.serializedBytes()).dialect == .keras3)
        let lambda = #"{"class_name": "Sequential", "config": {"name": "s", "layers": [{"class_name": "Lambda", "config": {"name": "f"}}]}}"#
        expectError(.unsupported) { _ = try KerasMigration.keras3Config(Array(lambda.utf8)) }
        #expect(KerasMigration.keras3Slot("m", optimizer: .adam) == "momentum")
        #expect(KerasMigration.keras3Slot("rms", optimizer: .rmsprop) == "velocity")
    }

    @Test(.timeLimit(.minutes(8)), .requires(.hdf5, .tfKeras, .keras, .numpy))
    func keras3LoadsAndTrainsLikeTFKeras() throws {
        let dir = try TestEnv.temporaryDirectory("ckpt-tf-mig-py")
        defer { TestEnv.cleanup(dir) }
        for name in TFFixtures.models {
            let full = try TFCheckpointSource(path: "\(TFFixtures.dir)/\(name)/\(name)_full")
            try Convert.run(full, to: "\(dir)/\(name).keras")
            var options = OpenOptions()
            options.architecture = try TestEnv.read("\(TFFixtures.dir)/\(name)/architecture.json")
            let weights = try TFCheckpointSource(path: "\(TFFixtures.dir)/\(name)/\(name)_weights", options: options)
            try Convert.run(weights, to: "\(dir)/\(name).weights.h5")
            // The values Keras 3 must hold, in model.weights + optimizer.variables order.
            var index = full.index
            for k in index.tensors.indices { index.tensors[k].name = String(format: "t%04d", k) }
            try NPZWriter.write(ComposedSource(renaming: full, as: index), to: "\(dir)/\(name).expected.npz")
        }
        // tf.keras: one training step from the original checkpoint.
        let tfOut = try TFPython.run(Self.tfKerasStep, [TFFixtures.dir, dir])
        #expect(tfOut.contains("tf.keras steps done"), "\(tfOut)")
        let out = try TestEnv.python(Self.keras3Check, [TFFixtures.dir, dir], environment: ["TF_CPP_MIN_LOG_LEVEL": "3"])
        #expect(out.contains("keras 3 ok"), "\(out)")
    }

    /// Models with Dropout train differently on every run (and across frameworks): no step check.
    static let stepModels = ["mlp", "lstm", "legacy_adam"]

    static let tfKerasStep = """
    import json, sys
    import numpy as np, tf_keras
    fix, out = sys.argv[1], sys.argv[2]
    for m in \(stepModels):
        model = tf_keras.models.model_from_json(open(f"{fix}/{m}/architecture.json").read())
        opt = json.load(open(f"{fix}/{m}/optimizer.json"))
        o = tf_keras.optimizers.legacy.Adam(**{k: v for k, v in opt.items() if k in ("learning_rate", "beta_1", "beta_2", "epsilon", "amsgrad")}) \\
            if m == "legacy_adam" else tf_keras.optimizers.get({"class_name": opt["name"], "config": opt})
        loss = "sparse_categorical_crossentropy" if m == "lstm" else "categorical_crossentropy"
        model.compile(optimizer=o, loss=loss)
        model.load_weights(f"{fix}/{m}/{m}_weights").assert_existing_objects_matched()
        x = np.load(f"{fix}/{m}/inputs.npy"); y = np.load(f"{fix}/{m}/outputs.npy")
        t = np.argmax(y, axis=-1) if m == "lstm" else np.eye(y.shape[-1], dtype="float32")[np.argmax(y, axis=-1)]
        model.train_on_batch(x, t)
        np.savez(f"{out}/{m}.tfkeras_step.npz", *[w.numpy() for w in model.weights])
    print("tf.keras steps done")
    """

    static let keras3Check = """
    import json, sys, zipfile
    import numpy as np, keras
    fix, out = sys.argv[1], sys.argv[2]
    for m in \(TFFixtures.models):
        exp = np.load(f"{out}/{m}.expected.npz")
        exp = [exp[k] for k in sorted(exp.files)]
        model = keras.saving.load_model(f"{out}/{m}.keras")
        got = [v.numpy() if hasattr(v, "numpy") else np.asarray(v) for v in list(model.weights) + list(model.optimizer.variables)]
        assert len(got) == len(exp), (m, len(got), len(exp))
        for a, b in zip(got, exp):
            assert np.array_equal(np.asarray(a), b), m
        x = np.load(f"{fix}/{m}/inputs.npy"); y = np.load(f"{fix}/{m}/outputs.npy")
        p = np.asarray(model.predict(x, verbose=0))
        diff = float(np.max(np.abs(p - y)))
        assert np.allclose(p, y, rtol=1e-5, atol=1e-6), (m, diff)
        print(m, "predictions max |diff|", diff, "exact" if diff == 0 else "")
        # The .weights.h5 into a Keras 3 model built and compiled from the same configuration.
        config = json.loads(zipfile.ZipFile(f"{out}/{m}.keras").read("config.json"))
        fresh = keras.saving.deserialize_keras_object(config)
        fresh.compile(optimizer=keras.optimizers.deserialize(config["compile_config"]["optimizer"]), loss=config["compile_config"]["loss"])
        fresh.optimizer.build(fresh.trainable_variables)
        fresh.load_weights(f"{out}/{m}.weights.h5")
        for a, b in zip(list(fresh.weights) + list(fresh.optimizer.variables), exp):
            assert np.array_equal(np.asarray(a), b), (m, "weights.h5", a.path)
        if m in \(stepModels):
            t = np.argmax(y, axis=-1) if m == "lstm" else np.eye(y.shape[-1], dtype="float32")[np.argmax(y, axis=-1)]
            model.train_on_batch(x, t)
            ref = np.load(f"{out}/{m}.tfkeras_step.npz")
            ref = [ref[k] for k in sorted(ref.files, key=lambda s: int(s.split("_")[1]))]
            for a, b in zip(model.weights, ref):
                assert np.allclose(np.asarray(a), b, rtol=1e-5, atol=1e-6), (m, "after one step", a.path, float(np.max(np.abs(np.asarray(a) - b))))
            assert int(model.optimizer.iterations) == int(exp[len(model.weights)]) + 1, m
    print("keras 3 ok")
    """
}
