import Foundation
import Testing
import CheckpointTestSupport
@testable import CheckpointCommands
@testable import CheckpointKit

/// `ckpt strip` and `ckpt rebuild` against Keras's own ground truth (Tests/Fixtures/keras/*/expected.json).
@Suite("strip and rebuild")
struct StripRebuildTests {
    static let models = ["mlp", "cnn", "lstm"]

    static func fixture(_ model: String, _ file: String) -> String { CLI.path("Tests/Fixtures/keras/\(model)/\(file)") }

    static func expected(_ model: String) throws -> JSONValue {
        var o = JSONParser.Options()
        o.maxDepth = 512
        return try JSONParser.parse([UInt8](try Data(contentsOf: URL(fileURLWithPath: fixture(model, "expected.json")))), options: o)
    }

    struct Case: CustomTestStringConvertible, Sendable {
        let model: String
        let optimizer: Int
        var testDescription: String { "\(model) #\(optimizer)" }
    }

    static let cases: [Case] = models.flatMap { m in (0..<13).map { Case(model: m, optimizer: $0) } }

    static func elementsAllEqual(_ bytes: [UInt8], _ pattern: [UInt8]) -> Bool {
        guard !pattern.isEmpty else { return bytes.isEmpty }
        for i in stride(from: 0, to: bytes.count, by: pattern.count) where Array(bytes[i..<(i + pattern.count)]) != pattern { return false }
        return true
    }

    @Test("rebuild gives exactly Keras's weights and optimizer variables", arguments: cases)
    func rebuildMatchesKeras(_ c: Case) throws {
        let dir = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let exp = try Self.expected(c.model)
        let opt = try #require(exp["optimizers"]?[c.optimizer])
        let className = try #require(opt["class_name"]?.stringValue)
        // The optimizer as get_config() printed it, through --optimizer-config.
        let configPath = dir + "/opt.json"
        try Data(JSONValue.object([("class_name", .string(className)), ("config", opt["get_config"] ?? .null)]).serialized(.python).utf8)
            .write(to: URL(fileURLWithPath: configPath))
        let out = dir + "/full.ckpt"
        let r = CLI.run(["rebuild", Self.fixture(c.model, "weights.npz"), "--architecture", Self.fixture(c.model, "architecture.json"),
                         "--optimizer-config", configPath, "-o", out])
        #expect(r.status == 0, "\(r.err)")
        let a = try CheckpointArchive(path: out)

        // Weights: Keras's names (after model_from_json), shapes, dtypes, trainable flags, order, bytes.
        let weights = a.index.weights
        let expWeights = try #require(exp["weights"]?.arrayValue)
        #expect(weights.count == expWeights.count)
        let npz = try NPZSource(path: Self.fixture(c.model, "weights.npz"))
        for (w, e) in zip(weights, expWeights) {
            #expect(w.name == e["path_from_json"]?.stringValue)
            #expect(w.shape == e["shape"]?.arrayValue?.compactMap(\.intValue))
            #expect(w.dtype.rawValue == e["dtype"]?.stringValue)
            #expect(w.trainable == e["trainable"]?.boolValue)
            let path = try #require(e["path"]?.stringValue)
            let k = try #require(npz.tensorIndex(named: path))
            let j = try #require(a.tensorIndex(named: w.name))
            #expect(try a.readTensorBytes(j) == npz.readTensorBytes(k), "bytes of \(w.name)")
        }

        // Optimizer: class, config, step 0, and every variable in Keras's order.
        #expect(a.index.optimizer?.className == className)
        #expect(a.index.optimizer?.iterations == 0)
        #expect(a.index.optimizer?.config == opt["get_config"])
        let state = a.index.optimizerTensors
        let expVars = try #require(opt["variables"]?.arrayValue)
        #expect(state.count == expVars.count, "\(c): \(state.map(\.name))")
        for (t, e) in zip(state, expVars) {
            #expect(t.shape == e["shape"]?.arrayValue?.compactMap(\.intValue), "\(t.name)")
            #expect(t.dtype.rawValue == e["dtype"]?.stringValue, "\(t.name)")
            switch e["role"]?.stringValue {
            case "iteration": #expect(t.name == "optimizer/iteration")
            case "learning_rate": #expect(t.name == "optimizer/learning_rate")
            case "slot":
                let ref = try #require(e["reference_path"]?.stringValue)
                #expect(t.weight.map { "sequential/" + $0 } == ref, "\(t.name) shadows \(t.weight ?? "-"), Keras says \(ref)")
                if let slot = e["slot"]?.stringValue { #expect(t.slot == slot, "\(t.name)") }
            default: break
            }
            // Every element holds Keras's initial value.
            let fill = try #require(e["initial"]?["fill"]?.doubleValue)
            let j = try #require(a.tensorIndex(named: t.name))
            let bytes = try a.readTensorBytes(j)
            #expect(Self.elementsAllEqual(bytes, Rebuild.fillPattern(fill, t.dtype)), "\(t.name) is not all \(fill)")
        }
    }

    @Test("The Keras 2 JSON of the MLP rebuilds to the same weights as the Keras 3 JSON")
    func legacyJSONSameWeights() throws {
        let dir = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        for (name, arch) in [("k3", "architecture.json"), ("k2", "architecture_legacy.json")] {
            let r = CLI.run(["rebuild", Self.fixture("mlp", "weights.npz"), "--architecture", Self.fixture("mlp", arch), "--optimizer", "adam", "-o", "\(dir)/\(name).ckpt"])
            #expect(r.status == 0, "\(r.err)")
        }
        let k3 = try CheckpointArchive(path: dir + "/k3.ckpt"), k2 = try CheckpointArchive(path: dir + "/k2.ckpt")
        #expect(k3.index.tensors == k2.index.tensors)
        for i in k3.index.tensors.indices { #expect(k3.fingerprint(of: i) == k2.fingerprint(of: i)) }
        #expect(CLI.run(["rebuild", Self.fixture("mlp", "weights.npz"), "--architecture", Self.fixture("mlp", "architecture_legacy.json"),
                         "--optimizer", "adam", "-o", "\(dir)/again.ckpt"]).out.contains("Keras 2 (tf.keras) JSON"))
    }

    @Test("strip then rebuild gives the weights back bit for bit with a fresh optimizer; strip of that gives the stripped file byte for byte")
    func stripRebuildRoundTrip() throws {
        let dir = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let full = dir + "/full.ckpt", weights = dir + "/weights.ckpt", rebuilt = dir + "/rebuilt.ckpt", again = dir + "/again.ckpt"
        // A full checkpoint with non-zero optimizer state (Adagrad's accumulators start at 0.1, step 0).
        var r = CLI.run(["rebuild", Self.fixture("cnn", "weights.npz"), "--architecture", Self.fixture("cnn", "architecture.json"), "--optimizer", "adagrad", "-o", full])
        #expect(r.status == 0, "\(r.err)")
        r = CLI.run(["strip", full, "-o", weights, "--verify"])
        #expect(r.status == 0, "\(r.err)")
        #expect(r.out.contains("removed 8 optimizer tensors") && r.out.contains("verified"))  // 6 accumulators, iteration, learning rate
        let stripped = try CheckpointArchive(path: weights)
        #expect(stripped.index.kind == .weights && stripped.index.architecture == nil && stripped.index.optimizer == nil)
        // Non-trainable weights (BatchNormalization moving statistics) are kept.
        #expect(stripped.index.weights.contains { $0.name == "batch_normalization/moving_variance" && !$0.trainable })
        // The original optimizer config, through the architecture's compile_config-free path: --optimizer-config.
        let original = try CheckpointArchive(path: full)
        let opt = dir + "/opt.json"
        let originalConfig = try #require(original.index.optimizer?.config)
        try Data(JSONValue.object([("class_name", .string("Adagrad")), ("config", originalConfig)]).serialized().utf8)
            .write(to: URL(fileURLWithPath: opt))
        r = CLI.run(["rebuild", weights, "--architecture", Self.fixture("cnn", "architecture.json"), "--optimizer-config", opt, "-o", rebuilt])
        #expect(r.status == 0, "\(r.err)")
        let back = try CheckpointArchive(path: rebuilt)
        #expect(back.index.tensors == original.index.tensors)
        #expect(back.index.optimizer == original.index.optimizer)
        for i in original.index.tensors.indices { #expect(try back.readTensorBytes(i) == original.readTensorBytes(i)) }
        r = CLI.run(["strip", rebuilt, "-o", again])
        #expect(r.status == 0, "\(r.err)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: again)) == Data(contentsOf: URL(fileURLWithPath: weights)))
    }

    @Test("A weights file with a changed shape, a missing and an extra tensor fails with the three lists")
    func mismatchLists() throws {
        let dir = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let src = try NPZSource(path: Self.fixture("mlp", "weights.npz"))
        // dense/kernel reshaped, dense_1/bias dropped, extra/kernel added.
        var tensors: [TensorInfo] = []
        var payloads: [TensorPayload] = []
        for (k, t) in src.index.tensors.enumerated() where t.name != "sequential/dense_1/bias" {
            var info = t
            if t.name == "sequential/dense/kernel" { info.shape = [392, 256] }
            tensors.append(info)
            payloads.append(.bytes(try src.readTensorBytes(k)))
        }
        tensors.append(TensorInfo(name: "extra/kernel", dtype: .float32, shape: [3]))
        payloads.append(.bytes([UInt8](repeating: 0, count: 12)))
        let bad = dir + "/bad.ckpt"
        try CheckpointWriter.write(CheckpointIndex(tensors: tensors), payloads: payloads, to: bad)
        let r = CLI.run(["rebuild", bad, "--architecture", Self.fixture("mlp", "architecture.json"), "--optimizer", "adam", "-o", dir + "/out.ckpt"])
        #expect(r.status == 2)
        #expect(r.err.contains("missing (in the architecture, not in \(bad)):\n  dense_1/bias  the architecture needs (10,)"))
        #expect(r.err.contains("unexpected (in \(bad), not in the architecture):\n  extra/kernel  (3,) in \(bad)"))
        #expect(r.err.contains("mismatched (shape or dtype in \(bad) vs the architecture):\n  dense/kernel  float32 (392, 256) in \(bad), the architecture needs float32 (784, 128)"))
        #expect(r.err.contains("ckpt: error: ") && r.err.contains("1 missing, 1 unexpected, 1 mismatched"))
        #expect(!FileManager.default.fileExists(atPath: dir + "/out.ckpt"))
        // --skip-mismatch lists what it skips and goes on.
        let s = CLI.run(["rebuild", bad, "--architecture", Self.fixture("mlp", "architecture.json"), "--optimizer", "adam", "-o", dir + "/out.ckpt", "--skip-mismatch"])
        #expect(s.status == 0, "\(s.err)")
        #expect(s.err.contains("skipped") && s.err.contains("warning"))
        #expect(try CheckpointArchive(path: dir + "/out.ckpt").index.weights.map(\.name) == ["dense/bias", "dense_1/kernel"])
    }

    @Test("strip: nothing to strip, no overwrite without --force, never the input")
    func stripSafety() throws {
        let dir = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let sample = CLI.path("Samples/mlp-weights.ckpt")
        // Already weights-only: a copy is written (in the format asked), saying there was nothing to strip.
        var r = CLI.run(["strip", sample, "-o", dir + "/x.ckpt"])
        #expect(r.status == 0)
        #expect(r.out.contains("nothing to strip") && r.out.contains("wrote a copy to"), "\(r.out)")
        let copy = try CheckpointArchive(path: dir + "/x.ckpt")
        #expect(copy.index.tensors.map(\.name) == (try CheckpointArchive(path: sample)).index.tensors.map(\.name))
        r = CLI.run(["strip", sample, "-o", dir + "/x.npz", "--verify", "--json"])
        #expect(r.status == 0, "\(r.err)")
        let summary = try JSONParser.parse(r.out)
        #expect(summary["nothing_to_strip"] == .bool(true) && summary["output"]?.stringValue == dir + "/x.npz" && summary["bit_identical"]?.intValue == 4)
        try FileManager.default.removeItem(atPath: dir + "/x.ckpt")
        let full = dir + "/full.ckpt"
        #expect(CLI.run(["rebuild", sample, "--architecture", Self.fixture("mlp", "architecture.json"), "-o", full]).status == 0)
        let before = try Data(contentsOf: URL(fileURLWithPath: full))
        r = CLI.run(["strip", full, "-o", full, "--force"])
        #expect(r.status == 2 && r.err.contains("never replaces its input"))
        try Data("occupied".utf8).write(to: URL(fileURLWithPath: dir + "/taken.ckpt"))
        r = CLI.run(["strip", full, "-o", dir + "/taken.ckpt"])
        #expect(r.status == 2 && r.err.contains("already exists") && r.err.contains("--force"))
        #expect(try String(contentsOfFile: dir + "/taken.ckpt", encoding: .utf8) == "occupied")
        r = CLI.run(["strip", full, "-o", dir + "/taken.ckpt", "--force", "--keep-architecture"])
        #expect(r.status == 0, "\(r.err)")
        #expect(try CheckpointArchive(path: dir + "/taken.ckpt").index.architecture != nil)
        #expect(try Data(contentsOf: URL(fileURLWithPath: full)) == before, "the input changed")
        // No temporary files left behind.
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.contains("ckpt-tmp") }.isEmpty)
    }

    @Test("strip copies members without inflating or deflating anything")
    func stripDoesNotInflate() throws {
        let dir = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let full = dir + "/full.ckpt"
        #expect(CLI.run(["rebuild", CLI.path("Samples/mlp-weights.ckpt"), "--architecture", Self.fixture("mlp", "architecture.json"), "-o", full]).status == 0)
        let archive = try CheckpointArchive(path: full)
        let inflatedAtOpen = archive.zip.file.statistics.bytesInflated
        try Strip.run(archive, to: dir + "/w.ckpt")
        #expect(archive.zip.file.statistics.bytesInflated == inflatedAtOpen, "strip inflated tensor data")
        // The weight members are the input's bytes, copied.
        let out = try ZipArchive(path: dir + "/w.ckpt")
        for e in out.entries where e.name.hasSuffix(".npy") {
            let src = try #require(archive.zip.entry(named: e.name))
            #expect(e.crc32 == src.crc32 && e.compressedSize == src.compressedSize)
            #expect(try out.file.read(at: out.dataOffset(of: e), count: Int(e.compressedSize))
                    == archive.zip.file.read(at: archive.zip.dataOffset(of: src), count: Int(src.compressedSize)))
        }
    }

    @Test("An unknown layer class is a clear error unless --allow-unknown-layers, which takes its tensors as they are")
    func unknownLayers() throws {
        let dir = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let files = CLI.path("Tests/Fixtures/keras-files")
        // Real Keras weights of a model with a custom layer "scale" (class Scale), as an .npz that
        // also carries the optimizer's tensors under optimizer/ (ignored: a fresh state is built):
        // `ckpt convert custom_layer.keras custom_layer.weights.npz`, committed so this runs without
        // libhdf5 (KerasFileCommandTests checks that the conversion still gives these bytes).
        try FileManager.default.copyItem(atPath: files + "/custom_layer.weights.npz", toPath: dir + "/w.npz")
        let arch = files + "/custom_layer.architecture.json"
        var r = CLI.run(["rebuild", dir + "/w.npz", "--architecture", arch, "--optimizer", "adam", "-o", dir + "/full.ckpt"])
        #expect(r.status == 2)
        #expect(r.err.contains("\"scale\"") && r.err.contains("Scale") && r.err.contains("--allow-unknown-layers"), "\(r.err)")
        // A weights-only .npz (numpy's savez of the same weights) does not say which of the
        // layer's variables are trainable: refused until said. (The full .npz says, by its
        // optimizer's slots: scale/vars/0 has slots, scale/vars/1 none.)
        try FileManager.default.copyItem(atPath: files + "/custom_layer.weights-only.npz", toPath: dir + "/weights-only.npz")
        r = CLI.run(["rebuild", dir + "/weights-only.npz", "--architecture", arch, "--optimizer", "adam", "-o", dir + "/full.ckpt", "--allow-unknown-layers"])
        #expect(r.status == 2 && r.err.contains("--non-trainable"), "\(r.err)")
        #expect(!FileManager.default.fileExists(atPath: dir + "/full.ckpt"))
        r = CLI.run(["rebuild", dir + "/w.npz", "--architecture", arch, "--optimizer", "adam", "-o", dir + "/from-full.ckpt", "--allow-unknown-layers"])
        #expect(r.status == 0, "\(r.err)")
        let fromFull = try CheckpointArchive(path: dir + "/from-full.ckpt")
        #expect(fromFull.index.weights.filter { $0.name.hasPrefix("scale/") }.map(\.trainable) == [true, false])
        r = CLI.run(["rebuild", dir + "/w.npz", "--architecture", arch, "--optimizer", "adam", "-o", dir + "/full.ckpt", "--allow-unknown-layers",
                     "--non-trainable", "none"])
        #expect(r.status == 0, "\(r.err)")
        #expect(r.err.contains("optimizer tensors of") && r.err.contains("replaced by a fresh Adam state"))
        let full = try CheckpointArchive(path: dir + "/full.ckpt")
        let scale = try #require(full.index.weights.first { $0.name.hasPrefix("scale/") })
        #expect(scale.shape == [9])
        #expect(full.index.optimizerTensors.contains { $0.weight == scale.name }, "the unknown layer's weight gets slots too")
    }
}
