import Foundation
import Testing
@testable import CheckpointKit

/// The calls of the DocC article GettingStarted.md, made here so the article stays true: each
/// block below is the article's block with its `print` comments turned into expectations.
@Suite("DocC: Getting started")
struct GettingStartedTests {
    /// `Samples/mlp.ckpt` (a full checkpoint with Adam state); made from the weights sample when
    /// the repository does not ship it.
    static func fullSample(_ dir: String) throws -> String {
        let shipped = TestEnv.path("Samples/mlp.ckpt")
        if FileManager.default.fileExists(atPath: shipped) { return shipped }
        let architecture = Array(try String(contentsOfFile: TestEnv.path("Tests/Fixtures/keras/mlp/architecture.json"), encoding: .utf8).utf8)
        _ = try Rebuild.run(weights: try Checkpoints.open(TestEnv.path("Samples/mlp-weights.ckpt")), architecture: architecture,
                            optimizer: .named("adam", overrides: []), to: dir + "/mlp.ckpt")
        return dir + "/mlp.ckpt"
    }

    @Test("Read")
    func read() throws {
        let dir = try TestEnv.temporaryDirectory()
        defer { TestEnv.cleanup(dir) }
        let path = try Self.fullSample(dir)

        let source = try Checkpoints.open(path)
        let index = source.index
        #expect(index.kind == .full)
        #expect(index.optimizer?.className ?? "-" == "Adam")
        let weights = index.tensors.filter { $0.role == .weight }
        #expect(weights.first.map { "\($0.name) \($0.dtype) \($0.shape) \($0.trainable)" } == "dense/kernel float32 [784, 128] true")

        let k = try #require(source.tensorIndex(named: "dense/bias"))
        let bytes = try source.readTensorBytes(k)
        let values = bytes.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
        #expect(values.count == 128)

        let stats = try TensorStats.compute(source, tensor: k)
        #expect(stats.min != nil && stats.max != nil && stats.mean != nil && stats.std != nil && stats.nans == 0)
        let histogram = try #require(stats.histogram(bins: 20))
        #expect(histogram.edges.count == 21 && histogram.counts.count == 20 && histogram.total == 128)

        var streamed = 0
        try source.readTensor(k) { chunk in streamed += chunk.count }
        #expect(streamed == bytes.count)

        // Errors.
        try Array(try TestEnv.read(path).prefix(1000)).withUnsafeBytes { try Data($0).write(to: URL(fileURLWithPath: dir + "/truncated.ckpt")) }
        do {
            _ = try Checkpoints.open(dir + "/truncated.ckpt")
            Issue.record("a truncated file opened")
        } catch let error as CheckpointError {
            #expect([.corrupt, .truncated, .notRecognized].contains(error.code))
            #expect("\(error)".hasPrefix(dir + "/truncated.ckpt: "))
        }
    }

    @Test("Write")
    func write() throws {
        let dir = try TestEnv.temporaryDirectory()
        defer { TestEnv.cleanup(dir) }
        let source = try Checkpoints.open(try Self.fullSample(dir))

        let kernel = TensorInfo(name: "dense/kernel", dtype: .float32, shape: [784, 128])
        let bias = TensorInfo(name: "dense/bias", dtype: .float32, shape: [128])
        let index = CheckpointIndex(tensors: [kernel, bias], metadata: .object([("epoch", .number(3))]))
        let kernelIndex = try #require(source.tensorIndex(named: "dense/kernel"))
        try CheckpointWriter.write(index, payloads: [.source(source, kernelIndex),
                                                     .fill(withUnsafeBytes(of: Float(0).bitPattern.littleEndian, Array.init))],
                                   to: dir + "/out.ckpt")
        let first = try TestEnv.read(dir + "/out.ckpt")
        // The same checkpoint twice gives the same bytes; the output never replaces an input.
        try FileManager.default.removeItem(atPath: dir + "/out.ckpt")
        try CheckpointWriter.write(index, payloads: [.source(source, kernelIndex),
                                                     .fill(withUnsafeBytes(of: Float(0).bitPattern.littleEndian, Array.init))],
                                   to: dir + "/out.ckpt")
        #expect(try TestEnv.read(dir + "/out.ckpt") == first)
        let written = try Checkpoints.open(dir + "/out.ckpt")
        #expect(written.index.tensors.map(\.name) == ["dense/kernel", "dense/bias"])
        #expect(try written.readTensorBytes(1) == [UInt8](repeating: 0, count: 512))
        #expect(throws: CheckpointError.self) {
            try CheckpointWriter.write(index, payloads: [.source(source, kernelIndex), .fill([0, 0, 0, 0])], to: source.path,
                                       options: WriteOptions(overwrite: true, inputs: [try ReadableFile(path: source.path)]))
        }
    }

    @Test("Strip and rebuild")
    func stripAndRebuild() throws {
        let dir = try TestEnv.temporaryDirectory()
        defer { TestEnv.cleanup(dir) }
        try FileManager.default.copyItem(atPath: try Self.fullSample(dir), toPath: dir + "/full-in.ckpt")

        let summary = try Strip.run(try CheckpointArchive(path: dir + "/full-in.ckpt"), to: dir + "/weights.ckpt")
        #expect(summary.removedTensors == 10 && summary.keptTensors == 4)

        try FileManager.default.copyItem(atPath: TestEnv.path("Tests/Fixtures/keras/mlp/architecture.json"), toPath: dir + "/model.json")
        let architecture = Array(try String(contentsOfFile: dir + "/model.json", encoding: .utf8).utf8)
        let report = try Rebuild.run(weights: try Checkpoints.open(dir + "/weights.ckpt"), architecture: architecture,
                                     optimizer: .named("adam", overrides: [("learning_rate", "0.0003")]), to: dir + "/full.ckpt")
        #expect(report.optimizerVariables.count == 10)
    }

    @Test("Diff")
    func diff() throws {
        var options = DiffOptions()
        options.names.stripPrefixes = ["sequential/"]
        let diff = try CheckpointDiff.compare(try Checkpoints.open(TestEnv.path("Tests/Fixtures/keras-epochs/epoch1.weights.npz")),
                                              try Checkpoints.open(TestEnv.path("Tests/Fixtures/keras-epochs/epoch2.weights.npz")), options: options)
        var changed: [String] = []
        for t in diff.tensors where t.values == .different {
            changed.append(t.name)
            #expect((t.metrics?.maxAbs ?? 0) > 0 && (t.metrics?.meanAbs ?? 0) > 0)
        }
        #expect(changed.contains("dense/kernel") && changed.count == 8)
        #expect(diff.verdict == .different)
    }
}
