import Foundation
import Testing
import CheckpointTestSupport
@testable import CheckpointCommands
@testable import CheckpointKit

// The Keras formats through the CLI: every subcommand takes .keras / .weights.h5 / .h5 directly,
// convert writes .keras and .weights.h5, hostile files exit 2 with one sentence, the seed sample
// is reproducible, and (with Keras installed) what ckpt exports loads in real Keras.

@Suite("ckpt with Keras files", .requires(.hdf5))
struct KerasFileCommandTests {
    static let mlp = CLI.path("Tests/Fixtures/keras/mlp")
    static let files = CLI.path("Tests/Fixtures/keras-files")

    static func read(_ path: String) throws -> [UInt8] { [UInt8](try Data(contentsOf: URL(fileURLWithPath: path))) }

    /// The command that made `Samples/mlp.ckpt` (Samples/README.md).
    static let sampleArguments = ["--meta", "epoch=1", "--meta", "monitor=val_accuracy", "--meta", "monitor_value=0.125",
                                  "--meta", "source=Keras 3.15.1 ModelCheckpoint(monitor=val_accuracy, save_best_only=True), mlp.keras with its Adam state"]

    @Test("Samples/mlp.ckpt is Keras's mlp.keras with its Adam state: regenerating it gives the same bytes", .requires(.ckptBinary))
    func sampleIsReproducible() throws {
        let dir = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        // zlib's bytes (every machine has zlib; ISA-L's deflate, used when libisal is loaded, makes
        // other, equally valid bytes): CKPT_NO_ISAL=1 takes effect in a child process.
        let exe = try #require(CkptExecutable.path, "the built ckpt")
        let r = try TestEnv.run(exe, ["convert", Self.mlp + "/mlp.keras", dir + "/mlp.ckpt"] + Self.sampleArguments, environment: ["CKPT_NO_ISAL": "1"])
        #expect(r.status == 0, "\(r.output)")
        #expect(try Self.read(dir + "/mlp.ckpt") == Self.read(CLI.path("Samples/mlp.ckpt")),
                "Samples/mlp.ckpt differs from what the command in Samples/README.md makes")
        let sample = try Checkpoints.open(CLI.path("Samples/mlp.ckpt"))
        #expect(sample.index.optimizer?.className == "Adam" && sample.index.optimizer?.iterations == 16)
        #expect(sample.index.optimizerTensors.count == 10)
        #expect(sample.index.metadata["epoch"]?.intValue == 1)
        #expect(sample.index.metadata["monitor"]?.stringValue == "val_accuracy")
        #expect(sample.index.metadata["monitor_value"]?.doubleValue == 0.125)
    }

    @Test("custom_layer.weights.npz (committed for the rebuild tests) is what converting custom_layer.keras gives")
    func committedConversionIsCurrent() throws {
        let dir = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let r = CLI.run(["convert", Self.files + "/custom_layer.keras", dir + "/w.npz"])
        #expect(r.status == 0, "\(r.err)")
        let fresh = try Checkpoints.open(dir + "/w.npz"), committed = try Checkpoints.open(Self.files + "/custom_layer.weights.npz")
        #expect(fresh.index.tensors == committed.index.tensors && fresh.index.tensors.count == 28)
        for i in fresh.index.tensors.indices { #expect(try fresh.readTensorBytes(i) == committed.readTensorBytes(i), "\(fresh.index.tensors[i].name)") }
    }

    @Test("every subcommand reads .keras, .weights.h5 and Keras 2 .h5 directly")
    func readsEverywhere() throws {
        for file in ["mlp.keras", "mlp.weights.h5", "mlp_legacy.h5", "mlp_legacy_weights.h5"] {
            let r = CLI.run(["inspect", Self.mlp + "/" + file])
            #expect(r.status == 0, "\(file): \(r.err)")
            #expect(r.out.contains("dense"), "\(file)")
        }
        let r = CLI.run(["inspect", Self.mlp + "/mlp.weights.h5", "--architecture", Self.mlp + "/architecture.json"])
        #expect(r.status == 0 && r.out.contains("optimizer/momentum/dense/kernel"), "\(r.err)")
    }

    @Test("convert .keras → .ckpt → .keras and .weights.h5; strip .keras -o .weights.h5")
    func convertAndStrip() throws {
        let dir = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var r = CLI.run(["convert", Self.mlp + "/mlp.keras", dir + "/a.ckpt"])
        #expect(r.status == 0, "\(r.err)")
        r = CLI.run(["convert", dir + "/a.ckpt", dir + "/b.keras"])
        #expect(r.status == 0, "\(r.err)")
        r = CLI.run(["convert", dir + "/a.ckpt", dir + "/c.weights.h5"])
        #expect(r.status == 0, "\(r.err)")
        let original = try Checkpoints.open(Self.mlp + "/mlp.keras")
        for out in ["b.keras", "c.weights.h5"] {
            let back = try Checkpoints.open(dir + "/" + out, options: .init(architecture: Self.read(Self.mlp + "/architecture.json")))
            #expect(back.index.tensors == original.index.tensors, "\(out)")
            #expect(back.index.optimizer?.iterations == 16, "\(out)")
        }
        // --to names the format when the extension does not.
        r = CLI.run(["convert", dir + "/a.ckpt", dir + "/d.bin", "--to", "keras"])
        #expect(r.status == 0, "\(r.err)")
        #expect(try Checkpoints.open(dir + "/d.bin", format: .keras).index.tensors.count == 14)

        r = CLI.run(["strip", Self.mlp + "/mlp.keras", "-o", dir + "/w.weights.h5", "--verify"])
        #expect(r.status == 0, "\(r.err)")
        #expect(r.out.contains("verified"))
        let stripped = try Checkpoints.open(dir + "/w.weights.h5")
        #expect(stripped.index.kind == .weights && stripped.index.tensors.count == 4)
        // A compiled model's .weights.h5 carries optimizer state; strip removes it.
        r = CLI.run(["strip", Self.mlp + "/mlp.weights.h5", "--architecture", Self.mlp + "/architecture.json", "-o", dir + "/s.weights.h5"])
        #expect(r.status == 0, "\(r.err)")
        #expect(try Checkpoints.open(dir + "/s.weights.h5").index.kind == .weights)
        // Inspecting a bare .weights.h5 says how to get Keras names.
        r = CLI.run(["inspect", Self.mlp + "/mlp.weights.h5"])
        #expect(r.status == 0 && r.err.contains("note: ") && r.err.contains("pass --architecture model.json"), "\(r.err)")
        #expect(r.out.contains("dense/vars/0"))
        // Without any architecture a Keras file cannot be laid out.
        r = CLI.run(["strip", Self.mlp + "/mlp.weights.h5", "-o", dir + "/t.weights.h5"])
        #expect(r.status == 2)
        #expect(r.err.contains("--architecture"), "\(r.err)")
    }

    @Test("hostile and broken Keras files exit 2 with one sentence")
    func hostile() throws {
        let dir = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let keras = try Self.read(Self.mlp + "/mlp.keras")
        try Data(keras.prefix(keras.count / 2)).write(to: URL(fileURLWithPath: dir + "/cut.keras"))
        let h5 = try Self.read(Self.mlp + "/mlp.weights.h5")
        try Data(h5.prefix(5000)).write(to: URL(fileURLWithPath: dir + "/cut.weights.h5"))
        let cases: [([String], String)] = [
            (["inspect", Self.files + "/external_link.keras"],
             "external_link.keras: member \"model.weights.h5/layers/dense/vars/0\": HDF5 external link refused: it points into another file."),
            (["inspect", Self.files + "/tiny_mismatch.weights.h5", "--architecture", Self.files + "/tiny_architecture.json"],
             "tiny_mismatch.weights.h5: member \"/layers/dense/vars/0\": the dataset is float32 (4, 2) but the architecture expects the weight \"dense/kernel\" float32 (4, 3) of layer \"dense\" (Dense) here; check that --architecture is the to_json() of the model these weights were saved from."),
            (["convert", dir + "/cut.keras", dir + "/out.ckpt"], "cut.keras: at byte "),
            (["convert", dir + "/cut.weights.h5", dir + "/out.ckpt"], "cut.weights.h5: "),
        ]
        for (args, sentence) in cases {
            let r = CLI.run(args)
            #expect(r.status == 2, "\(args): \(r.err)")
            #expect(r.err.hasPrefix("ckpt: error: "), "\(r.err)")
            #expect(r.err.contains(sentence), "\(args): \(r.err)")
            #expect(r.err.hasSuffix(".\n") && r.err.filter { $0 == "\n" }.count == 1, "\(r.err)")
        }
        #expect(!FileManager.default.fileExists(atPath: dir + "/out.ckpt"))
    }

    // MARK: Real Keras loads what ckpt exports

    @Test("Keras load_model on exported .keras files predicts exactly what the originals predict and resumes training", .requires(.keras))
    func kerasCrossCheck() throws {
        let dir = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        // The seed sample, exported; plus other models through .ckpt and back.
        var cases: [JSONValue] = []
        var r = CLI.run(["convert", CLI.path("Samples/mlp.ckpt"), dir + "/mlp.keras"])
        #expect(r.status == 0, "\(r.err)")
        r = CLI.run(["convert", CLI.path("Samples/mlp.ckpt"), dir + "/mlp.weights.h5"])
        #expect(r.status == 0, "\(r.err)")
        r = CLI.run(["strip", CLI.path("Samples/mlp.ckpt"), "-o", dir + "/mlp-stripped.weights.h5"])
        #expect(r.status == 0, "\(r.err)")
        cases.append(.object([("original", .string(Self.mlp + "/mlp.keras")), ("exported", .string(dir + "/mlp.keras")), ("inputs", .null),
                              ("iterations", .number(16))]))
        for model in ["functional_multi", "recurrent_attention", "image_nested", "custom_layer", "bfloat16", "opt_adafactor", "opt_adam_ema"] {
            let source = Self.files + "/\(model).keras"
            r = CLI.run(["convert", source, dir + "/\(model).ckpt"])
            #expect(r.status == 0, "\(r.err)")
            r = CLI.run(["convert", dir + "/\(model).ckpt", dir + "/\(model).keras"])
            #expect(r.status == 0, "\(r.err)")
            cases.append(.object([("original", .string(source)), ("exported", .string(dir + "/\(model).keras")),
                                  ("inputs", .string(Self.files + "/\(model).inputs.npz")), ("iterations", .null)]))
        }
        let spec = JSONValue.object([
            ("models", .array(cases)),
            ("architecture", .string(Self.mlp + "/architecture.json")),
            ("weights", .array([.string(dir + "/mlp.weights.h5"), .string(dir + "/mlp-stripped.weights.h5")])),
        ])
        let script = #"""
import json, os, sys
os.environ.setdefault("KERAS_BACKEND", "jax")
import numpy as np
import keras
from keras import layers as L

@keras.saving.register_keras_serializable(package="ckpt_test")
class Scale(L.Layer):
    def build(self, input_shape):
        self.gain = self.add_weight(shape=(input_shape[-1],), initializer="ones", name="gain")
        self.offset = self.add_weight(shape=(input_shape[-1],), initializer="zeros", name="offset", trainable=False)
    def call(self, x):
        return x * self.gain + self.offset

spec = json.loads(sys.argv[1])
rng = np.random.default_rng(0)
def same(a, b):
    return len(a) == len(b) and all(np.array_equal(np.asarray(x), np.asarray(y)) for x, y in zip(a, b))
def target(model, n):
    shape = tuple(model.output_shape[1:])
    if model.loss == "sparse_categorical_crossentropy":
        return rng.integers(0, shape[-1], size=(n,))
    if model.loss == "categorical_crossentropy":
        return np.eye(shape[-1], dtype="float32")[rng.integers(0, shape[-1], size=n)]
    return rng.random((n,) + shape).astype("float32")
out = {"models": [], "weights": []}
for case in spec["models"]:
    a = keras.models.load_model(case["original"])
    b = keras.models.load_model(case["exported"])
    if case["inputs"]:
        data = np.load(case["inputs"])
        xs = [data[f"arr_{i}"] for i in range(len(data.files))]
        x = xs if len(xs) > 1 else xs[0]
    else:
        x = rng.random((4, 784)).astype("float32")
    n = len(xs[0]) if case["inputs"] else 4
    r = {"file": case["exported"], "predict_equal": bool(np.array_equal(a.predict(x, verbose=0), b.predict(x, verbose=0))),
         "weights_equal": same(a.weights, b.weights), "optimizer_equal": same(a.optimizer.variables, b.optimizer.variables),
         "iterations": [int(a.optimizer.iterations), int(b.optimizer.iterations)]}
    y = target(a, n)
    a.train_on_batch(x, y)
    b.train_on_batch(x, y)
    r["after_step_equal"] = same(a.weights, b.weights) and same(a.optimizer.variables, b.optimizer.variables)
    r["iterations_after_step"] = int(b.optimizer.iterations)
    out["models"].append(r)
reference = keras.models.load_model(spec["models"][0]["original"])
for path in spec["weights"]:
    m = keras.models.model_from_json(open(spec["architecture"]).read())
    m.load_weights(path)
    out["weights"].append({"file": path, "weights_equal": same(reference.weights, m.weights)})
print("RESULT " + json.dumps(out))
"""#
        let output = try TestEnv.python(script, [spec.serialized()])
        guard let line = output.split(separator: "\n").last(where: { $0.hasPrefix("RESULT ") }) else {
            Issue.record("no result from Keras: \(output)")
            return
        }
        let result = try JSONParser.parse(Array(line.dropFirst(7).utf8))
        let models = try #require(result["models"]?.arrayValue)
        #expect(models.count == cases.count)
        for (m, c) in zip(models, cases) {
            let file = m["file"]?.stringValue ?? "?"
            #expect(m["predict_equal"]?.boolValue == true, "\(file): predictions differ")
            #expect(m["weights_equal"]?.boolValue == true, "\(file): weights differ")
            #expect(m["optimizer_equal"]?.boolValue == true, "\(file): optimizer variables differ")
            let its = m["iterations"]?.arrayValue?.compactMap(\.intValue) ?? []
            #expect(its.count == 2 && its[0] == its[1] && its[0] > 0, "\(file): iterations \(its)")
            if let n = c["iterations"]?.intValue { #expect(its.last == n, "\(file)") }
            #expect(m["after_step_equal"]?.boolValue == true, "\(file): one more training step diverges")
            #expect(m["iterations_after_step"]?.intValue == (its.last ?? 0) + 1, "\(file)")
        }
        for w in try #require(result["weights"]?.arrayValue) {
            #expect(w["weights_equal"]?.boolValue == true, "\(w["file"]?.stringValue ?? "?"): load_weights restored other values")
        }
    }
}
