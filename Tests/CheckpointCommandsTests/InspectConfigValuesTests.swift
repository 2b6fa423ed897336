import Foundation
import Testing
import CheckpointTestSupport
@testable import CheckpointCommands
@testable import CheckpointKit

/// `inspect --config`, `--layer`, `--values SLICE` and `--format ... -o`.
@Suite("inspect: configuration, layers, value slices, extraction")
struct InspectConfigValuesTests {
    static let npz = CLI.path("Tests/Fixtures/keras/mlp/weights.npz")
    static let kernel = "sequential/dense_1/kernel"

    @Test("--config and --layer on .keras, legacy .h5, SavedModel and .ckpt", .requires(.hdf5))
    func configEverywhere() throws {
        let files = ["Tests/Fixtures/keras/mlp/mlp.keras", "Tests/Fixtures/keras/mlp/mlp_legacy.h5",
                     "Tests/Fixtures/tensorflow/mlp/mlp_full", "Samples/mlp.ckpt"]
        for f in files {
            let r = CLI.run(["inspect", CLI.path(f), "--config"])
            #expect(r.status == 0, "\(f): \(r.err)")
            let doc = try JSONParser.parse(r.out)
            #expect(doc["schema"]?.stringValue == "ckpt.config/1")
            #expect(doc["architecture"]?["class_name"]?.stringValue == "Sequential", "\(f)")
            let layers = doc["architecture"]?["config"]?["layers"]?.arrayValue ?? []
            #expect(layers.contains { $0["config"]?["units"]?.intValue == 128 }, "\(f): the Dense layer's units")
            let l = CLI.run(["inspect", CLI.path(f), "--layer", "dense_1"])
            #expect(l.status == 0, "\(f): \(l.err)")
            #expect(l.out.contains("Layer configuration:") && l.out.contains("\"activation\": \"softmax\""), "\(f)")
            #expect(l.out.contains("dense_1/kernel") && l.out.contains("dense_1/bias") && !l.out.contains("dense/kernel "), "\(f)")
        }
        // The compile config comes with a .keras file's architecture.
        let keras = try JSONParser.parse(CLI.run(["inspect", CLI.path(files[0]), "--config"]).out)
        #expect(keras["architecture"]?["compile_config"]?["loss"]?.stringValue == "categorical_crossentropy")
        #expect(keras["optimizer"]?["class_name"]?.stringValue == "Adam")
        let typo = CLI.run(["inspect", CLI.path(files[3]), "--layer", "dense_2"])
        #expect(typo.status == 2 && typo.err.contains("did you mean \"dense_1\"?") || typo.err.contains("did you mean \"dense\"?"), "\(typo.err)")
        let none = CLI.run(["inspect", Self.npz, "--config"])
        #expect(none.status == 2 && none.err.contains("no configuration"))
    }

    static let slices = ["[0:4, -3:]", "[::-3, 2]", "[5]", "[-1, 1:9:2]", "[100:, :2]", "[7:3]", "[:, ::4]"]

    @Test("--values SLICE equals numpy's slice of the same tensor, with numpy's shape", .requires(.numpy))
    func slicesMatchNumpy() throws {
        let script = """
        import sys, json, numpy as np
        a = np.load(sys.argv[1])[sys.argv[2]]
        out = []
        for s in sys.argv[3:]:
            v = eval("a" + s)
            out.append({"shape": list(v.shape), "values": [repr(float(x)) for x in np.asarray(v).ravel()]})
        print(json.dumps(out))
        """
        let numpy = try JSONParser.parse(try TestEnv.python(script, [Self.npz, Self.kernel] + Self.slices))
        for (k, s) in Self.slices.enumerated() {
            let r = CLI.run(["inspect", Self.npz, "--tensor", Self.kernel, "--values", s, "--json"])
            #expect(r.status == 0, "\(s): \(r.err)")
            let t = try JSONParser.parse(r.out)["tensors"]?[0]
            let expected = numpy[k]
            #expect(t?["values_shape"] == expected?["shape"], "\(s)")
            let ours = (t?["values"]?.arrayValue ?? []).compactMap(\.doubleValue)
            let theirs = (expected?["values"]?.arrayValue ?? []).compactMap { $0.stringValue.flatMap(Double.init) }
            #expect(ours.count == theirs.count, "\(s)")
            for (x, y) in zip(ours, theirs) { #expect(Float(x) == Float(y), "\(s): \(x) vs numpy \(y)") }
            // The text has numpy's nesting: one bracket per kept axis.
            let text = CLI.run(["inspect", Self.npz, "--tensor", Self.kernel, "--values", s]).out
            let rank = expected?["shape"]?.arrayValue?.count ?? 0
            #expect(text.contains("\n" + String(repeating: "[", count: max(rank, 1))) || theirs.isEmpty, "\(s):\n\(text)")
        }
        let bad = CLI.run(["inspect", Self.npz, "--tensor", Self.kernel, "--values", "[0, 0, 0]"])
        #expect(bad.status == 2 && bad.err.contains("3 indices"))
        let out = CLI.run(["inspect", Self.npz, "--tensor", Self.kernel, "--values", "[200]"])
        #expect(out.status == 2 && out.err.contains("out of bounds"))
    }

    @Test("--format npy|raw|csv -o FILE: numpy reads back the same values", .requires(.numpy))
    func extract() throws {
        let dir = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        for (format, slice) in [("npy", nil), ("raw", nil), ("csv", nil), ("npy", "[2:5, ::3]"), ("csv", "[0]")] as [(String, String?)] {
            let path = dir + "/t-\(format)-\(slice == nil ? "all" : "slice").\(format)"
            var args = ["inspect", Self.npz, "--tensor", Self.kernel, "--format", format, "-o", path]
            if let slice { args += ["--values", slice] }
            let r = CLI.run(args)
            #expect(r.status == 0, "\(format): \(r.err)")
            let check = """
            import sys, numpy as np
            a = np.load(sys.argv[1])[sys.argv[2]]
            fmt, path, s = sys.argv[3], sys.argv[4], sys.argv[5]
            want = eval("a" + s) if s != "-" else a
            if fmt == "npy": got = np.load(path)
            elif fmt == "raw": got = np.fromfile(path, dtype=a.dtype).reshape(want.shape)
            else: got = np.loadtxt(path, delimiter=",", dtype=np.float32, ndmin=2).reshape(want.shape)
            assert got.shape == want.shape, (got.shape, want.shape)
            assert got.dtype == want.dtype or fmt == "csv", got.dtype
            assert np.array_equal(got.view(np.uint32), np.ascontiguousarray(want).view(np.uint32)), "values differ"
            print("ok")
            """
            let out = try TestEnv.python(check, [Self.npz, Self.kernel, format, path, slice ?? "-"])
            #expect(out.contains("ok"), "\(format) \(slice ?? ""): \(out)")
        }
        let again = CLI.run(["inspect", Self.npz, "--tensor", Self.kernel, "--format", "npy", "-o", dir + "/t-npy-all.npy"])
        #expect(again.status == 2, "an existing file is not replaced without --force")
    }
}
