import Foundation
import Testing
import CheckpointTestSupport
@testable import CheckpointKit

// Reading and writing Keras files (Sources/CheckpointKit/Formats/Keras*.swift) against files real
// Keras wrote: Tests/Fixtures/keras (Keras 3.15 / tf-keras 2.21 on TensorFlow) and
// Tests/Fixtures/keras-files (Keras 3.15 on JAX, `make.py` there).
//
// libhdf5 is loaded at run time: without it these tests are reported skipped (`.requires(.hdf5)`),
// or fail with CKPT_REQUIRE_HDF5=1.

enum KerasFileFixtures {
    static let dev = TestEnv.path("Tests/Fixtures/keras")
    static let files = TestEnv.path("Tests/Fixtures/keras-files")

    static func json(_ path: String) throws -> JSONValue {
        var o = JSONParser.Options()
        o.maxDepth = 512
        return try JSONParser.parse(TestEnv.read(path), options: o)
    }

    static func expected(_ model: String) throws -> JSONValue { try json(dev + "/\(model)/expected.json") }

    /// The `.keras` files of both fixture sets.
    static var kerasFiles: [String] {
        var out = ["mlp/mlp.keras", "cnn/cnn.keras", "lstm/lstm.keras"].map { dev + "/" + $0 }
        out += directoryListing(files).filter { $0.hasSuffix(".keras") && $0 != "external_link.keras" }.map { files + "/" + $0 }
        return out
    }

    static func bytes(_ source: any TensorSource, _ name: String) throws -> [UInt8] {
        try source.readTensorBytes(try #require(source.tensorIndex(named: name), "\(name)"))
    }
}

@Suite("Keras files", .requires(.hdf5))
struct KerasFileTests {
    // MARK: Dev fixtures against expected.json

    @Test("every .keras fixture imports with Keras's names, shapes, bytes and optimizer state", arguments: ["mlp", "cnn", "lstm"])
    func kerasFixture(_ model: String) throws {
        let e = try KerasFileFixtures.expected(model)
        let path = KerasFileFixtures.dev + "/\(model)/\(model).keras"
        let source = try Checkpoints.open(path)
        #expect(source.format == .keras)
        let index = source.index
        let weights = try #require(e["weights"]?.arrayValue)
        #expect(index.weights.map(\.name) == weights.compactMap { $0["path_from_json"]?.stringValue })
        for (t, w) in zip(index.weights, weights) {
            #expect(t.shape == w["shape"]?.arrayValue?.compactMap(\.intValue), "\(t.name)")
            #expect(t.dtype.rawValue == w["dtype"]?.stringValue, "\(t.name)")
            #expect(t.trainable == w["trainable"]?.boolValue, "\(t.name)")
            #expect(SHA256.hex(try KerasFileFixtures.bytes(source, t.name)) == w["sha256"]?.stringValue, "\(t.name)")
        }
        // The optimizer as Keras loaded it: every variable, in optimizer.variables order.
        let checkpoint = try #require(e["checkpoints"]?["\(model).keras"])
        let saved = try #require(checkpoint["optimizer"]?["variables"]?.arrayValue)
        let optimizer = index.optimizerTensors
        #expect(optimizer.count == saved.count)
        let config = try KerasOptimizerConfig(serialized: try #require(checkpoint["compile_config"]?["optimizer"]))
        let layout = try config.stateVariables(trainableTensors: index.weights.filter(\.trainable))
        #expect(optimizer.map(\.name) == layout.map(\.name))
        for (k, (t, v)) in zip(optimizer, saved).enumerated() {
            #expect(v["h5_path"]?.stringValue == "optimizer/vars/\(k)")
            #expect(layout[k].kerasPath == v["path_after_load_model"]?.stringValue, "\(t.name)")
            #expect(t.shape == v["shape"]?.arrayValue?.compactMap(\.intValue), "\(t.name)")
            #expect(SHA256.hex(try KerasFileFixtures.bytes(source, t.name)) == v["sha256"]?.stringValue, "\(t.name)")
            #expect(t.slot == layout[k].slot && t.weight == layout[k].weight)
        }
        let iterations = try #require(saved.first?["value"]?.int64Value)
        #expect(index.optimizer?.iterations == iterations)
        #expect(index.optimizer?.className == checkpoint["optimizer"]?["class_name"]?.stringValue)
        #expect(index.optimizer?.config == config.config)
        // Architecture verbatim, metadata from metadata.json.
        let zip = try ZipArchive(path: path)
        let configEntry = try #require(zip.entry(named: "config.json"))
        #expect(index.architecture == (try zip.readMember(configEntry, maxBytes: 1 << 20)))
        #expect(index.metadata["keras_version"]?.stringValue == "3.15.1")
        #expect(index.metadata["date_saved"]?.stringValue?.isEmpty == false)
        #expect(index.producer == "keras 3.15.1")
        #expect((source as? KerasFileSource)?.notes == [])
    }

    @Test("a .weights.h5 with --architecture reads like the .keras; without, by its HDF5 layout")
    func weightsH5() throws {
        let dir = KerasFileFixtures.dev + "/mlp"
        let e = try KerasFileFixtures.expected("mlp")
        let arch = try TestEnv.read(dir + "/architecture.json")
        let keras = try Checkpoints.open(dir + "/mlp.keras")
        let mapped = try Checkpoints.open(dir + "/mlp.weights.h5", options: .init(architecture: arch))
        #expect(mapped.format == .kerasWeightsH5)
        #expect(mapped.index.tensors.map(\.name) == keras.index.tensors.map(\.name))
        #expect(mapped.index.architecture == arch)
        #expect(mapped.index.optimizer == keras.index.optimizer)
        // Same epoch of the same run (expected.json: both saved at epoch 1): the same values.
        try expectSameTensors(keras, mapped)

        let bare = try Checkpoints.open(dir + "/mlp.weights.h5")
        #expect(bare.index.architecture == nil)
        #expect(bare.index.weights.map(\.name) == ["dense/vars/0", "dense/vars/1", "dense_1/vars/0", "dense_1/vars/1"])
        #expect(bare.index.optimizerTensors.map(\.name) == (0..<10).map { "optimizer/vars/\($0)" })
        #expect(bare.index.optimizer?.className == "Adam" && bare.index.optimizer?.iterations == 16)
        #expect((bare as? KerasFileSource)?.notes.contains { $0.contains("--architecture") } == true)
        for w in try #require(e["weights"]?.arrayValue) {
            let h5 = try #require(w["h5_path"]?.stringValue)
            let i = try #require((bare as? KerasFileSource)?.datasetPaths.firstIndex(of: h5))
            #expect(SHA256.hex(try bare.readTensorBytes(i)) == w["sha256"]?.stringValue, "\(h5)")
        }

        let plain = try Checkpoints.open(dir + "/mlp_no_optimizer.weights.h5", options: .init(architecture: arch))
        #expect(plain.index.kind == .weights && plain.index.optimizer == nil)
        #expect(plain.index.tensors.map(\.name) == ["dense/kernel", "dense/bias", "dense_1/kernel", "dense_1/bias"])
    }

    @Test("Keras 2 .h5: weights by their Keras 3 names, optimizer_weights mapped onto Keras 3 slots")
    func legacyFixtures() throws {
        let dir = KerasFileFixtures.dev + "/mlp"
        let e = try KerasFileFixtures.expected("mlp")
        let legacy = try #require(e["legacy"])
        let expectedWeights = try #require(legacy["weights"]?.arrayValue)
        let names = ["dense/kernel", "dense/bias", "dense_1/kernel", "dense_1/bias"]

        let full = try Checkpoints.open(dir + "/mlp_legacy.h5")
        #expect(full.format == .kerasLegacyH5)
        #expect(full.index.weights.map(\.name) == names)
        for (t, w) in zip(full.index.weights, expectedWeights) {
            #expect(SHA256.hex(try KerasFileFixtures.bytes(full, t.name)) == w["sha256"]?.stringValue, "\(t.name)")
        }
        #expect(full.index.metadata["keras_version"]?.stringValue == "2.21.0")
        #expect(full.index.metadata["backend"]?.stringValue == "tensorflow")
        let modelConfig = try HDF5File.open(path: dir + "/mlp_legacy.h5").root().stringAttribute("model_config")
        #expect(full.index.architecture == modelConfig.map { Array($0.utf8) })
        // optimizer_weights: iteration:0, Adam/m/<w>:0, Adam/v/<w>:0 → the Keras 3 Adam layout, whose
        // learning rate variable (not saved by Keras 2) comes from the config.
        let inCheckpoint = try #require(legacy["optimizer_in_checkpoint"])
        #expect(full.index.optimizer?.className == "Adam")
        #expect(full.index.optimizer?.iterations == inCheckpoint["iterations"]?.int64Value)
        let opt = full.index.optimizerTensors.map(\.name)
        #expect(opt == ["optimizer/iteration", "optimizer/learning_rate"] + names.flatMap { ["optimizer/momentum/\($0)", "optimizer/velocity/\($0)"] })
        #expect(try KerasFileFixtures.bytes(full, "optimizer/learning_rate") == [0x6F, 0x12, 0x83, 0x3A]) // float32 0.001
        let h5 = try HDF5File.open(path: dir + "/mlp_legacy.h5")
        for (k3, k2) in [("optimizer/momentum/dense/kernel", "Adam/m/dense/kernel:0"), ("optimizer/velocity/dense_1/bias", "Adam/v/dense_1/bias:0"),
                         ("optimizer/iteration", "iteration:0")] {
            #expect(try KerasFileFixtures.bytes(full, k3) == h5.dataset("optimizer_weights/" + k2).read(), "\(k3)")
        }

        for arch in ["architecture_legacy.json", "architecture.json"] {
            let weights = try Checkpoints.open(dir + "/mlp_legacy_weights.h5", options: .init(architecture: TestEnv.read(dir + "/" + arch)))
            #expect(weights.index.tensors.map(\.name) == names, "\(arch)")
            for (t, w) in zip(weights.index.tensors, expectedWeights) {
                #expect(SHA256.hex(try KerasFileFixtures.bytes(weights, t.name)) == w["sha256"]?.stringValue, "\(arch) \(t.name)")
            }
        }
        let bare = try Checkpoints.open(dir + "/mlp_legacy_weights.h5")
        #expect(bare.index.tensors.map(\.name) == names)
        #expect(bare.index.kind == .weights)
    }

    // MARK: More models and optimizers (Keras 3 on JAX)

    @Test("image, recurrent, attention, multi-input, nested, custom-layer and bfloat16 models and every optimizer class",
          arguments: directoryListing(KerasFileFixtures.files).filter { ($0.hasSuffix(".keras") && $0 != "external_link.keras") || $0 == "legacy_mlp.h5" })
    func moreModels(_ name: String) throws {
        let expected = try KerasFileFixtures.json(KerasFileFixtures.files + "/expected.json")
        let e = try #require(expected["files"]?[name])
        let source = try Checkpoints.open(KerasFileFixtures.files + "/" + name)
        let weights = try #require(e["weights"]?.arrayValue)
        let ours = source.index.weights
        #expect(ours.count == weights.count)
        let unknown = name == "custom_layer.keras" ? ["scale/vars/0", "scale/vars/1"] : []
        for (t, w) in zip(ours, weights) {
            if !unknown.contains(t.name) { #expect(t.name == w["path"]?.stringValue) }
            #expect(t.shape == w["shape"]?.arrayValue?.compactMap(\.intValue), "\(t.name)")
            #expect(t.dtype.rawValue == w["dtype"]?.stringValue, "\(t.name)")
            if name != "legacy_mlp.h5" { #expect(t.trainable == w["trainable"]?.boolValue, "\(t.name)") }
            #expect(SHA256.hex(try KerasFileFixtures.bytes(source, t.name)) == w["sha256"]?.stringValue, "\(t.name)")
        }
        let saved = try #require(e["optimizer"]?["variables"]?.arrayValue)
        let optimizer = source.index.optimizerTensors
        #expect(optimizer.count == saved.count)
        #expect(!optimizer.contains { $0.name.hasPrefix("optimizer/vars/") || $0.name.hasPrefix("optimizer/legacy/") }, "layout names left")
        for (t, v) in zip(optimizer, saved) {
            #expect(t.shape == v["shape"]?.arrayValue?.compactMap(\.intValue), "\(t.name)")
            #expect(SHA256.hex(try KerasFileFixtures.bytes(source, t.name)) == v["sha256"]?.stringValue, "\(t.name)")
        }
        #expect(source.index.optimizer?.iterations == e["optimizer"]?["iterations"]?.int64Value)
        let paths = saved.compactMap { $0["path"]?.stringValue }
        if paths.first?.hasPrefix("loss_scale_optimizer/") == true {
            // Mixed precision: compile wrapped the optimizer; its own scalars come first.
            #expect(source.index.optimizer?.className == "LossScaleOptimizer")
            #expect(source.index.optimizer?.innerClassName == e["optimizer"]?["class_name"]?.stringValue)
            #expect(optimizer.prefix(4).map(\.name) == ["optimizer/loss_scale/iteration", "optimizer/loss_scale/learning_rate",
                                                         "optimizer/loss_scale/step_counter", "optimizer/loss_scale/dynamic_scale"])
        } else {
            #expect(source.index.optimizer?.className == e["optimizer"]?["class_name"]?.stringValue)
        }
        // The Keras paths the layout implies are the ones Keras gave the variables.
        let info = try #require(source.index.optimizer)
        let config = try KerasOptimizerConfig(className: info.className, config: info.config)
        let layout = try config.stateVariables(trainableTensors: ours.filter(\.trainable), backend: .jax)
        if unknown.isEmpty {
            #expect(layout.map(\.kerasPath).filter { !$0.hasPrefix("variable") } == paths.filter { !$0.hasPrefix("variable") })
        }
    }

    // MARK: Round trips

    @Test(".keras → .ckpt → .keras keeps every tensor bit for bit, the iteration, config.json and metadata.json",
          arguments: KerasFileFixtures.kerasFiles)
    func roundTrip(_ path: String) throws {
        let dir = try TestEnv.temporaryDirectory("ckpt-keras")
        defer { TestEnv.cleanup(dir) }
        let original = try Checkpoints.open(path)
        let ckpt = dir + "/x.ckpt"
        try CheckpointWriter.write(original.index, payloads: original.index.tensors.indices.map { .source(original, $0) }, to: ckpt)
        let container = try Checkpoints.open(ckpt)
        let out = dir + "/x.keras"
        try KerasFiles.write(container.index, payloads: container.index.tensors.indices.map { .source(container, $0) }, to: out, format: .keras)
        let back = try Checkpoints.open(out)
        #expect(back.index.tensors == original.index.tensors)
        try expectSameTensors(original, back)
        #expect(back.index.optimizer == original.index.optimizer)
        #expect(back.index.architecture == original.index.architecture)
        #expect(back.index.metadata == original.index.metadata)
        #expect((back as? KerasFileSource)?.notes == (original as? KerasFileSource)?.notes)

        // The ZIP is laid out as Keras lays it out, and the HDF5 tree has Keras's groups and names.
        let a = try ZipArchive(path: path), b = try ZipArchive(path: out)
        #expect(b.entries.map(\.name) == ["metadata.json", "config.json", "model.weights.h5"])
        #expect(b.entries.allSatisfy { $0.method == 0 })
        for name in ["metadata.json", "config.json"] {
            #expect(try b.readMember(try #require(b.entry(named: name)), maxBytes: 1 << 20) == a.readMember(try #require(a.entry(named: name)), maxBytes: 1 << 20), "\(name)")
        }
        let treeA = try memberTree(path), treeB = try memberTree(out)
        #expect(treeA.map(\.0) == treeB.map(\.0))
        #expect(treeA.map(\.1) == treeB.map(\.1), "name attributes")

        // Writing is deterministic.
        let again = dir + "/y.keras"
        try KerasFiles.write(container.index, payloads: container.index.tensors.indices.map { .source(container, $0) }, to: again, format: .keras)
        #expect(try TestEnv.read(out) == TestEnv.read(again))
    }

    /// tf.keras's OptimizerV2 Adamax (keras.optimizers.legacy) names its slots m and v, where v is
    /// Keras 3's norm (`_u`), not a velocity (make_legacy_adamax.py wrote the file).
    @Test("a Keras 2 Adamax's v slots are Keras 3's norm, bit for bit")
    func legacyAdamax() throws {
        let path = KerasFileFixtures.files + "/legacy_adamax.h5"
        let source = try Checkpoints.open(path)
        #expect(source.index.optimizer?.className == "Adamax" && source.index.optimizer?.iterations == 2)
        let names = ["dense/kernel", "dense/bias", "dense_1/kernel", "dense_1/bias"]
        #expect(Set(source.index.optimizerTensors.map(\.name)) == Set(["optimizer/iteration", "optimizer/learning_rate"]
            + names.flatMap { ["optimizer/momentum/\($0)", "optimizer/norm/\($0)"] }))
        let h5 = try HDF5File.open(path: path)
        for w in names {
            #expect(try KerasFileFixtures.bytes(source, "optimizer/momentum/" + w) == h5.dataset("optimizer_weights/Adamax/\(w)/m:0").read(), "\(w)")
            #expect(try KerasFileFixtures.bytes(source, "optimizer/norm/" + w) == h5.dataset("optimizer_weights/Adamax/\(w)/v:0").read(), "\(w)")
        }
    }

    @Test(".weights.h5 out: the Keras 3 layout of model.save_weights, with and without optimizer state")
    func writeWeightsH5() throws {
        let dir = try TestEnv.temporaryDirectory("ckpt-keras")
        defer { TestEnv.cleanup(dir) }
        let fixtures = KerasFileFixtures.dev + "/mlp"
        let keras = try Checkpoints.open(fixtures + "/mlp.keras")
        let out = dir + "/mlp.weights.h5"
        try KerasFiles.write(keras.index, payloads: keras.index.tensors.indices.map { .source(keras, $0) }, to: out, format: .kerasWeightsH5)
        let back = try Checkpoints.open(out, options: .init(architecture: TestEnv.read(fixtures + "/architecture.json")))
        #expect(back.index.tensors == keras.index.tensors)
        try expectSameTensors(keras, back)
        // The same tree Keras wrote for the same model.
        let file = try HDF5File.open(path: out), reference = try HDF5File.open(path: fixtures + "/mlp.weights.h5")
        #expect(try file.walk().map(\.path) == reference.walk().map(\.path))
        #expect(try file.group("optimizer/vars").stringAttribute("name") == "adam")
        #expect(try file.group("vars").stringAttribute("name") == "sequential")

        // strip: a weights-only index without architecture, laid out by the source's architecture.
        let stripped = dir + "/stripped.weights.h5"
        let summary = try Strip.run(keras, to: stripped)
        #expect(summary.removedTensors == 10)
        let weightsOnly = try HDF5File.open(path: stripped)
        #expect(try weightsOnly.contains("optimizer") == false)
        #expect(try weightsOnly.walk().map(\.path) == HDF5File.open(path: fixtures + "/mlp_no_optimizer.weights.h5").walk().map(\.path))
        let reread = try Checkpoints.open(stripped)
        #expect(reread.index.kind == .weights)

        // A bare .weights.h5 (layout names) converts back to a .weights.h5 once an architecture is given.
        let bare = try Checkpoints.open(fixtures + "/mlp.weights.h5")
        let again = dir + "/again.weights.h5"
        try KerasFiles.write(bare.index, payloads: bare.index.tensors.indices.map { .source(bare, $0) }, to: again, format: .kerasWeightsH5,
                             architecture: TestEnv.read(fixtures + "/architecture.json"))
        let mapped = try Checkpoints.open(again, options: .init(architecture: TestEnv.read(fixtures + "/architecture.json")))
        try expectSameTensors(keras, mapped)
    }

    @Test("strip of a compiled model's .weights.h5 removes its optimizer state")
    func stripWeightsH5() throws {
        let dir = try TestEnv.temporaryDirectory("ckpt-keras")
        defer { TestEnv.cleanup(dir) }
        let fixtures = KerasFileFixtures.dev + "/mlp"
        let source = try Checkpoints.open(fixtures + "/mlp.weights.h5", options: .init(architecture: TestEnv.read(fixtures + "/architecture.json")))
        #expect(source.index.kind == .full)
        let out = dir + "/w.weights.h5"
        try Strip.run(source, to: out)
        let stripped = try Checkpoints.open(out)
        #expect(stripped.index.kind == .weights && stripped.index.optimizer == nil)
        #expect(try HDF5File.open(path: out).contains("optimizer/vars") == false)
        try Strip.verify(input: source, output: try Checkpoints.open(out, options: .init(architecture: TestEnv.read(fixtures + "/architecture.json"))))
    }

    @Test("a Keras 2 file converts to a Keras 3 .weights.h5, optimizer included")
    func legacyToWeightsH5() throws {
        let dir = try TestEnv.temporaryDirectory("ckpt-keras")
        defer { TestEnv.cleanup(dir) }
        let source = try Checkpoints.open(KerasFileFixtures.dev + "/mlp/mlp_legacy.h5")
        let out = dir + "/x.weights.h5"
        try KerasFiles.write(source.index, payloads: source.index.tensors.indices.map { .source(source, $0) }, to: out, format: .kerasWeightsH5)
        let back = try Checkpoints.open(out, options: .init(architecture: TestEnv.read(KerasFileFixtures.dev + "/mlp/architecture.json")))
        #expect(back.index.tensors.map(\.name) == source.index.tensors.map(\.name))
        try expectSameTensors(source, back)
        // A .keras needs a Keras 3 config.json: the Keras 2 model_config is translated (KerasMigration).
        try KerasFiles.write(source.index, payloads: source.index.tensors.indices.map { .source(source, $0) }, to: dir + "/x.keras", format: .keras)
        let keras = try Checkpoints.open(dir + "/x.keras")
        let config = try KerasArchitecture(bytes: try #require(keras.index.architecture))
        #expect(config.dialect == .keras3 && config.json["module"] != nil)
        #expect(keras.index.optimizer == source.index.optimizer)
        // Keras 3 names a Sequential's variables from its config with the model's scope.
        var renamed = keras.index
        for k in renamed.tensors.indices {
            renamed.tensors[k].name = renamed.tensors[k].name.replacingOccurrences(of: "sequential/", with: "")
            renamed.tensors[k].weight = renamed.tensors[k].weight?.replacingOccurrences(of: "sequential/", with: "")
        }
        try expectSameTensors(source, ComposedSource(renaming: keras, as: renamed))
    }

    @Test("a deflated model.weights.h5 member is inflated in memory and reads the same")
    func deflatedMember() throws {
        let dir = try TestEnv.temporaryDirectory("ckpt-keras")
        defer { TestEnv.cleanup(dir) }
        let path = KerasFileFixtures.dev + "/lstm/lstm.keras"
        let zip = try ZipArchive(path: path)
        var members: [ForgedMember] = []
        for e in zip.entries {
            let data = try zip.readMember(e, maxBytes: 1 << 30)
            members.append(ForgedMember(name: e.name, data: data, deflate: e.name == "model.weights.h5"))
        }
        let out = dir + "/deflated.keras"
        try TestEnv.write(ForgedZip.make(members), to: out)
        let deflated = try ZipArchive(path: out)
        let entry = try #require(deflated.entry(named: "model.weights.h5"))
        #expect(entry.method == 8)
        try expectSameTensors(try Checkpoints.open(path), try Checkpoints.open(out))
        // Members above the in-memory limit go through a temporary file, removed at once.
        let file = try KerasFiles.inflateToTemporaryFile(zip: deflated, entry: entry, limits: HDF5Limits())
        #expect(try file.walk().count == memberTree(path).count)
    }

    // MARK: Hostile and broken input

    @Test("truncated .keras and .h5 files give a CheckpointError, never a crash")
    func truncated() throws {
        let dir = try TestEnv.temporaryDirectory("ckpt-keras")
        defer { TestEnv.cleanup(dir) }
        for name in ["mlp/mlp.keras", "mlp/mlp.weights.h5", "mlp/mlp_legacy.h5"] {
            let data = try TestEnv.read(KerasFileFixtures.dev + "/" + name)
            for cut in [0, 7, 100, 2_000, 9_000, data.count / 2, data.count - 30, data.count - 1] {
                let path = dir + "/cut\(cut)-" + (name.split(separator: "/").last.map(String.init) ?? "x")
                try TestEnv.write(Array(data.prefix(cut)), to: path)
                do {
                    let s = try Checkpoints.open(path)
                    for i in s.index.tensors.indices { _ = try s.readTensorBytes(i) }
                    Issue.record("\(name) cut at \(cut) was read without an error")
                } catch let e as CheckpointError {
                    #expect([.notRecognized, .truncated, .corrupt, .invalidHDF5].contains(e.code), "\(name) cut at \(cut): \(e)")
                    #expect(e.file == path)
                }
            }
        }
        // A damaged byte inside a stored weights member is caught by the member's CRC-32.
        var data = try TestEnv.read(KerasFileFixtures.dev + "/mlp/mlp.keras")
        data[data.count / 2] ^= 0x01
        let damaged = dir + "/damaged.keras"
        try TestEnv.write(data, to: damaged)
        let s = try Checkpoints.open(damaged)
        let e = expectError(.checksumMismatch) { _ = try s.readTensorBytes(0) }
        #expect(e?.member == "model.weights.h5")
    }

    @Test("an HDF5 external link inside a .keras is refused")
    func externalLink() throws {
        let e = expectError(.unsupported) { _ = try Checkpoints.open(KerasFileFixtures.files + "/external_link.keras") }
        #expect(e?.reason.contains("external link") == true)
        #expect(e?.member?.hasPrefix("model.weights.h5/") == true)
    }

    @Test("a .keras zip bomb is refused before anything is inflated")
    func zipBomb() throws {
        let dir = try TestEnv.temporaryDirectory("ckpt-keras")
        defer { TestEnv.cleanup(dir) }
        let config = try TestEnv.read(KerasFileFixtures.files + "/tiny_architecture.json")
        // 1 MiB of deflate data declared to inflate to 800 MiB (deflate allows 1032:1, Keras 100:1).
        let bomb = ForgedMember(name: "model.weights.h5", data: [UInt8](repeating: 0x55, count: 1 << 20), deflate: false,
                                method: 8, declaredSize: 800 << 20)
        let path = dir + "/bomb.keras"
        try TestEnv.write(ForgedZip.make([ForgedMember(name: "metadata.json", data: Array("{}".utf8)),
                                          ForgedMember(name: "config.json", data: config), bomb]), to: path)
        let e = expectError(.limitExceeded) { _ = try Checkpoints.open(path) }
        #expect(e?.reason.contains("zip bomb") == true)
    }

    @Test("weights that do not fit the architecture are refused, naming the HDF5 path and the variable")
    func mismatch() throws {
        let tiny = try TestEnv.read(KerasFileFixtures.files + "/tiny_architecture.json")
        let e = expectError(.weightsMismatch) {
            _ = try Checkpoints.open(KerasFileFixtures.files + "/tiny_mismatch.weights.h5", options: .init(architecture: tiny))
        }
        #expect(e?.member == "/layers/dense/vars/0")
        #expect(e?.reason.contains("\"dense/kernel\" float32 (4, 3)") == true)
        #expect(e?.reason.contains("float32 (4, 2)") == true)

        let cnn = try TestEnv.read(KerasFileFixtures.dev + "/cnn/architecture.json")
        let other = expectError(.weightsMismatch) {
            _ = try Checkpoints.open(KerasFileFixtures.dev + "/mlp/mlp.weights.h5", options: .init(architecture: cnn))
        }
        #expect(other?.member == "/layers/conv2d/vars/0")
        // The writer checks the same way.
        let mlp = try Checkpoints.open(KerasFileFixtures.dev + "/mlp/mlp.keras")
        let dir = try TestEnv.temporaryDirectory("ckpt-keras")
        defer { TestEnv.cleanup(dir) }
        expectError(.weightsMismatch) {
            try KerasFiles.write(mlp.index.settingArchitecture(cnn), payloads: mlp.index.tensors.indices.map { .source(mlp, $0) },
                                 to: dir + "/x.weights.h5", format: .kerasWeightsH5)
        }
        #expect(directoryListing(dir).isEmpty, "nothing is left behind")
    }

    @Test("writing without an architecture, or as a Keras 2 .h5, is refused with a hint")
    func writeRefusals() throws {
        let dir = try TestEnv.temporaryDirectory("ckpt-keras")
        defer { TestEnv.cleanup(dir) }
        let bare = try Checkpoints.open(KerasFileFixtures.dev + "/mlp/mlp_no_optimizer.weights.h5")
        let payloads = bare.index.tensors.indices.map { TensorPayload.source(bare, $0) }
        let e = expectError(.missingPart) { try KerasFiles.write(bare.index, payloads: payloads, to: dir + "/x.keras", format: .keras) }
        #expect(e?.hint?.contains("--architecture") == true)
        expectError(.unsupported) { try KerasFiles.write(bare.index, payloads: payloads, to: dir + "/x.h5", format: .kerasLegacyH5) }
        #expect(directoryListing(dir).isEmpty)
    }
}

extension CheckpointIndex {
    func settingArchitecture(_ bytes: [UInt8]?) -> CheckpointIndex {
        var copy = self
        copy.architecture = bytes
        return copy
    }
}

/// Every group and dataset of a `.keras` file's `model.weights.h5`, with each group's `name` attribute.
func memberTree(_ path: String) throws -> [(String, String?)] {
    let zip = try ZipArchive(path: path)
    let entry = try #require(zip.entry(named: "model.weights.h5"))
    let bytes = try zip.readMember(entry, maxBytes: 1 << 30)
    return try bytes.withUnsafeBytes { raw in
        let file = try HDF5File.openImage(pointer: try #require(raw.baseAddress), count: raw.count, fileName: path)
        return try file.walk().map { node in
            (node.path, node.kind == .group ? try file.group(node.path).stringAttribute("name") : nil)
        }
    }
}

// MARK: - Forged ZIP archives

struct ForgedMember {
    var name: String
    var data: [UInt8]
    var deflate = false
    /// Overrides: the method and uncompressed size the headers declare.
    var method: UInt16? = nil
    var declaredSize: UInt64? = nil
}

enum ForgedZip {
    /// A ZIP whose members are stored, deflated, or declared as anything.
    static func make(_ members: [ForgedMember]) throws -> [UInt8] {
        var out: [UInt8] = []
        var central: [UInt8] = []
        for m in members {
            var payload = m.data
            var method: UInt16 = 0
            if m.deflate {
                let d = try Deflater(strategy: .standard)
                var compressed: [UInt8] = []
                try m.data.withUnsafeBytes { try d.compressFragment($0, finish: true, into: &compressed) }
                payload = compressed
                method = 8
            }
            method = m.method ?? method
            let crc = crc32(m.data)
            let usize = UInt32(truncatingIfNeeded: m.declaredSize ?? UInt64(m.data.count))
            let name = Array(m.name.utf8)
            let offset = UInt32(out.count)
            func fields(_ h: inout [UInt8]) {
                h.appendLE(UInt16(20)); h.appendLE(UInt16(0)); h.appendLE(method); h.appendLE(UInt16(0)); h.appendLE(UInt16(0x21))
                h.appendLE(crc); h.appendLE(UInt32(payload.count)); h.appendLE(usize); h.appendLE(UInt16(name.count)); h.appendLE(UInt16(0))
            }
            out.appendLE(UInt32(0x0403_4B50))
            fields(&out)
            out += name + payload
            central.appendLE(UInt32(0x0201_4B50))
            central.appendLE(UInt16(0x0314))
            fields(&central)
            central.appendLE(UInt16(0)); central.appendLE(UInt16(0)); central.appendLE(UInt16(0)); central.appendLE(UInt32(0o600) << 16)
            central.appendLE(offset)
            central += name
        }
        let start = UInt32(out.count)
        out += central
        out.appendLE(UInt32(0x0605_4B50)); out.appendLE(UInt16(0)); out.appendLE(UInt16(0))
        out.appendLE(UInt16(members.count)); out.appendLE(UInt16(members.count))
        out.appendLE(UInt32(central.count)); out.appendLE(start); out.appendLE(UInt16(0))
        return out
    }
}
