import Foundation
import Testing
import CheckpointTestSupport
@testable import CheckpointKit

extension Requirement {
    /// TensorFlow with tf_keras (the legacy Keras 2 the TF formats come from); CKPT_REQUIRE_TENSORFLOW=1 makes it required.
    static let tfKeras = Requirement(id: "tf_keras", what: "python3 with tensorflow and tf_keras",
                                     install: "pip install " + PythonPins.pins(["tensorflow-cpu", "tf_keras"]),
                                     requireVariable: "CKPT_REQUIRE_TENSORFLOW", implies: ["python"]) {
        Requirement.importable("tensorflow, tf_keras")
    }
}

/// Runs scripts under tf.keras (TF_USE_LEGACY_KERAS=1).
enum TFPython {
    static func run(_ script: String, _ args: [String], sourceLocation: SourceLocation = #_sourceLocation) throws -> String {
        try TestEnv.python(script, args, environment: ["TF_USE_LEGACY_KERAS": "1", "TF_CPP_MIN_LOG_LEVEL": "3"], sourceLocation: sourceLocation)
    }
}

@Suite("TensorFlow checkpoints: writing", .reportsSeeds)
struct TFWriterTests {
    static func tensors(_ s: any TensorSource) throws -> [String: (TensorInfo, [UInt8])] {
        var out: [String: (TensorInfo, [UInt8])] = [:]
        for (i, t) in s.index.tensors.enumerated() { out[t.name] = (t, try s.readTensorBytes(i)) }
        return out
    }

    @Test(arguments: TFFixtures.models)
    func roundTripThroughOurReader(_ name: String) throws {
        let dir = try TestEnv.temporaryDirectory("ckpt-tfw")
        defer { TestEnv.cleanup(dir) }
        var options = OpenOptions()
        options.architecture = try TestEnv.read("\(TFFixtures.dir)/\(name)/architecture.json")
        let source = try TFCheckpointSource(path: "\(TFFixtures.dir)/\(name)/\(name)_weights", options: options)
        let result = try TFCheckpointWriter.write(source, to: dir + "/out")
        #expect(result.paths == [dir + "/out.index", dir + "/out.data-00000-of-00001", dir + "/checkpoint"])
        #expect(directoryListing(dir) == ["checkpoint", "out.data-00000-of-00001", "out.index"])
        #expect(try String(contentsOfFile: dir + "/checkpoint", encoding: .utf8) == TFCheckpointPaths.stateText("out"))
        let back = try TFCheckpointSource(path: dir, options: options)
        let a = try Self.tensors(source), b = try Self.tensors(back)
        // Keras 2 hyperparameter variables of the older optimizers come back under the same names.
        #expect(Set(a.keys) == Set(b.keys))
        for (n, (t, bytes)) in a {
            guard let (u, other) = b[n] else { continue }
            #expect(t.dtype == u.dtype && t.shape == u.shape && t.role == u.role && t.trainable == u.trainable && t.slot == u.slot && t.weight == u.weight, "\(n)")
            #expect(bytes == other, "\(n): bytes differ")
        }
        #expect(back.index.weights.map(\.name) == source.index.weights.map(\.name))
        #expect(back.index.optimizer?.iterations == source.index.optimizer?.iterations)
        try back.verify()
    }

    @Test
    func refusesExistingOutputsAndLeavesNothing() throws {
        let dir = try TestEnv.temporaryDirectory("ckpt-tfw")
        defer { TestEnv.cleanup(dir) }
        let source = try TFCheckpointSource(path: "\(TFFixtures.dir)/legacy_adam/legacy_adam_weights")
        try TestEnv.write([1, 2, 3], to: dir + "/out.index")
        expectError(.outputExists) { try TFCheckpointWriter.write(source, to: dir + "/out") }
        #expect(directoryListing(dir) == ["out.index"])
        #expect(try TestEnv.read(dir + "/out.index") == [1, 2, 3])
        // A source whose data is shorter or longer than its shape: nothing is left behind.
        for actual in [12, 24] {
            let e = expectError(.corrupt) { try TFCheckpointWriter.write(WriterSizeCheckTests.LyingSource(actual: actual), to: dir + "/lie") }
            #expect(e?.member == "dense/kernel")
            #expect(directoryListing(dir) == ["out.index"])
        }
        let unsupported = try ComposedSource(index: CheckpointIndex(tensors: [TensorInfo(name: "w", dtype: .float32, shape: [Int.max, 4])]),
                                             payloads: [.fill([0, 0, 0, 0])], path: "x", format: .ckpt)
        expectError(.unsupported) { try TFCheckpointWriter.write(unsupported, to: dir + "/bad") }
        #expect(!FileManager.default.fileExists(atPath: dir + "/bad.index"))
    }

    @Test
    func tableWriterRoundTrip() throws {
        var rng = SeededRNG(seed: 15)
        var entries: [(key: [UInt8], value: [UInt8])] = []
        var keys = Set<[UInt8]>()
        while keys.count < 2000 {
            let k = (0..<Int.random(in: 1...40, using: &rng)).map { _ in UInt8.random(in: 0x2F...0x7A, using: &rng) }
            keys.insert(k)
        }
        for k in keys.sorted(by: { $0.lexicographicallyPrecedes($1) }) {
            entries.append((k, (0..<Int.random(in: 0...300, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }))
        }
        let bytes = LevelDBTableWriter(blockSize: 4096, restartInterval: 16).build(entries)
        let table = try LevelDBTable(bytes: bytes, file: "t", limits: .default)
        #expect(table.entries.count == entries.count)
        for (e, f) in zip(table.entries, entries) {
            #expect(e.key == f.key)
            #expect(Array(bytes[e.value]) == f.value)
        }
    }

    @Test
    func crc32cKnownValues() throws {
        // RFC 3720 B.4 test vectors, and the masked form LevelDB stores.
        #expect(CRC32C.checksum([UInt8](repeating: 0, count: 32)) == 0x8A91_36AA)
        #expect(CRC32C.checksum([UInt8](repeating: 0xFF, count: 32)) == 0x62A8_AB43)
        #expect(CRC32C.checksum(Array(0..<32)) == 0x46DD_794E)
        #expect(CRC32C.checksum(Array("123456789".utf8)) == 0xE306_9283)
        #expect(CRC32C.unmask(CRC32C.mask(0x1234_5678)) == 0x1234_5678)
        var rng = SeededRNG(seed: 3)
        let data = (0..<100_003).map { _ in UInt8.random(in: 0...255, using: &rng) }
        let whole = CRC32C.checksum(data)
        for cut in [0, 1, 7, 4096, 65_536, 100_003] {
            let a = CRC32C.checksum(data[0..<cut]), b = CRC32C.checksum(data[cut...])
            #expect(CRC32C.combine(a, b, lengthOfB: UInt64(data.count - cut)) == whole)
            #expect(CRC32C.checksum(data[cut...], continuing: a) == whole)
        }
    }

    @Test
    func crc32cTablePathAgrees() throws {
        var rng = SeededRNG(seed: 9)
        for n in [0, 1, 3, 8, 9, 63, 1000, 65_537] {
            let data = (0..<n).map { _ in UInt8.random(in: 0...255, using: &rng) }
            #expect(CRC32C.tableChecksum(data) == CRC32C.checksum(data), "\(n) bytes")
            #expect(CRC32C.tableChecksum(data, continuing: 0xDEAD_BEEF) == CRC32C.checksum(data, continuing: 0xDEAD_BEEF))
        }
        #expect(CRC32C.tableChecksum(Array("123456789".utf8)) == 0xE306_9283)
    }

    @Test(.timeLimit(.minutes(5)), .requires(.tfKeras, .numpy))
    func tensorflowReadsWhatWeWrite() throws {
        let dir = try TestEnv.temporaryDirectory("ckpt-tfw-py")
        defer { TestEnv.cleanup(dir) }
        var digests: [(String, JSONValue)] = []
        for name in TFFixtures.models {
            var options = OpenOptions()
            options.architecture = try TestEnv.read("\(TFFixtures.dir)/\(name)/architecture.json")
            let source = try TFCheckpointSource(path: "\(TFFixtures.dir)/\(name)/\(name)_weights", options: options)
            // Through a .ckpt first: the writer must not depend on the source being TensorFlow's.
            try FileManager.default.createDirectory(atPath: "\(dir)/\(name)", withIntermediateDirectories: true)
            _ = try Convert.run(source, to: "\(dir)/\(name).ckpt")
            let ckpt = try Checkpoints.open("\(dir)/\(name).ckpt")
            try TFCheckpointWriter.write(ckpt, to: "\(dir)/\(name)/out")
            let back = try TFCheckpointSource(path: "\(dir)/\(name)/out")
            var keys: [(String, JSONValue)] = []
            for (i, t) in back.index.tensors.enumerated() { keys.append((t.sourceKey ?? t.name, .string(try TFFixtures.sha(back, tensor: i)))) }
            digests.append((name, .object(keys)))
        }
        try TestEnv.write(JSONValue.object(digests).serializedBytes(), to: dir + "/digests.json")
        let out = try TFPython.run(Self.crossCheck, [TFFixtures.dir, dir])
        #expect(out.contains("cross-check ok"), "\(out)")
    }

    /// tf.train.load_checkpoint reads every key with the bytes we wrote; tf.keras load_weights
    /// (architecture + our checkpoint) restores the reference weights, the optimizer state and the
    /// step, and predicts the reference outputs exactly.
    static let crossCheck = """
    import hashlib, json, sys
    import numpy as np, tensorflow as tf, tf_keras
    fix, out = sys.argv[1], sys.argv[2]
    digests = json.load(open(out + "/digests.json"))
    for m, keys in digests.items():
        r = tf.train.load_checkpoint(f"{out}/{m}/out")
        listed = {k for k, _ in tf.train.list_variables(f"{out}/{m}/out")}
        assert set(keys) <= listed, (m, set(keys) - listed)
        for k, h in keys.items():
            v = np.ascontiguousarray(r.get_tensor(k))
            assert hashlib.sha256(v.astype(v.dtype.newbyteorder("<")).tobytes()).hexdigest() == h, (m, k)
        arch = open(f"{fix}/{m}/architecture.json").read()
        opt = json.load(open(f"{fix}/{m}/optimizer.json"))
        def fresh():
            model = tf_keras.models.model_from_json(arch)
            if m != "legacy_adam":
                o = tf_keras.optimizers.get({"class_name": opt["name"], "config": opt})
                model.compile(optimizer=o, loss="mse")
            return model
        ours, ref = fresh(), fresh()
        status = ours.load_weights(f"{out}/{m}/out")
        status.assert_existing_objects_matched()
        ref.load_weights(f"{fix}/{m}/{m}_weights")
        for a, b in zip(ours.weights, ref.weights):
            assert a.name == b.name and np.array_equal(a.numpy(), b.numpy()), (m, a.name)
        x = np.load(f"{fix}/{m}/inputs.npy")
        assert np.array_equal(ours.predict(x, verbose=0), np.load(f"{fix}/{m}/outputs.npy")), m
        if m != "legacy_adam":
            ours.optimizer.build(ours.trainable_variables)
            ref.optimizer.build(ref.trainable_variables)
            assert int(ours.optimizer.iterations.numpy()) == int(ref.optimizer.iterations.numpy()) > 0, m
            for a, b in zip(ours.optimizer.variables, ref.optimizer.variables):
                assert a.name == b.name and np.array_equal(a.numpy(), b.numpy()), (m, a.name)
    print("cross-check ok")
    """
}
