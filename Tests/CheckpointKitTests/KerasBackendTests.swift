import Foundation
import Testing
import CheckpointTestSupport
@testable import CheckpointKit

/// Keras 3 files written on the torch backend (Tests/Fixtures/keras-backends, gen.py there): int32
/// step counters and torch optimizer modules in compile_config. Converted, weights-only and rebuilt
/// results are judged by Keras on torch (Keras itself cannot train a torch-written file on JAX: its
/// compile_config names the torch optimizer class).
@Suite("Keras files from the torch backend", .requires(.hdf5))
struct KerasBackendTests {
    static let dir = TestEnv.path("Tests/Fixtures/keras-backends")

    @Test(.requires(.keras, .torch), arguments: [("torch_nadam_ema", "float32", "Nadam"), ("torch_mixed_adam", "mixed_float16", "LossScaleOptimizer")])
    func torchFilesKerasLoads(name: String, policy: String, optimizer: String) throws {
        let out = try TestEnv.temporaryDirectory("ckpt-torch")
        defer { TestEnv.cleanup(out) }
        let path = Self.dir + "/\(name).keras"
        let source = try Checkpoints.open(path)
        #expect(source.index.optimizer?.className == optimizer)
        #expect(source.index.optimizer?.appliedSteps == 4)
        #expect(source.index.tensors.first { $0.name == ContainerSpec.iterationTensor }?.dtype == .int32)
        try Convert.run(source, to: out + "/\(name).ckpt")
        try Convert.run(try Checkpoints.open(out + "/\(name).ckpt"), to: out + "/\(name).keras")
        try Convert.run(source, to: out + "/\(name).weights.h5")
        try Strip.run(source, to: out + "/\(name).safetensors")
        var options = Rebuild.Options()
        options.backend = .torch
        let report = try Rebuild.run(weights: try Checkpoints.open(out + "/\(name).safetensors"), architecture: try #require(source.index.architecture),
                                     optimizer: .fromArchitecture, to: out + "/\(name)-rebuilt.keras", options: options)
        #expect(report.optimizer?.className == optimizer)
        var cases: [JSONValue] = []
        for (mode, file) in [("converted", "\(name).keras"), ("weights", "\(name).weights.h5"), ("rebuilt", "\(name)-rebuilt.keras")] {
            cases.append(.object([("id", .string("\(name) \(mode)")), ("mode", .string(mode)), ("source", .string(path)),
                                  ("result", .string(out + "/" + file)), ("policy", .string(policy))]))
        }
        _ = try judgeWithKeras(cases, in: out, backend: "torch")
    }
}
