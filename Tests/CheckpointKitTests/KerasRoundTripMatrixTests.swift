import Foundation
import Testing
import CheckpointTestSupport
@testable import CheckpointKit

/// Runs `Tests/Fixtures/keras-roundtrip/verify.py` (real Keras, on JAX unless `backend` says
/// otherwise) on `cases`; records an issue for every case Keras does not judge exact. The calling
/// test declares `.requires(.keras)` (and the backend's module).
func judgeWithKeras(_ cases: [JSONValue], in dir: String, backend: String = "jax",
                    sourceLocation: SourceLocation = #_sourceLocation) throws -> [String: [String]] {
    let py = try #require(TestEnv.which("python3"), sourceLocation: sourceLocation)
    let list = dir + "/cases.json"
    try TestEnv.write(JSONValue.array(cases).serializedBytes(.pretty), to: list)
    let script = TestEnv.path("Tests/Fixtures/keras-roundtrip/verify.py")
    let (status, out) = try TestEnv.run(py, [script, list], environment: ["KERAS_BACKEND": backend, "TF_CPP_MIN_LOG_LEVEL": "3"])
    #expect(status == 0, "verify.py failed: \(out.suffix(2000))", sourceLocation: sourceLocation)
    var verdicts: [String: [String]] = [:]
    for line in out.split(separator: "\n") where line.hasPrefix("{\"id\"") {
        guard let v = try? JSONParser.parse(String(line)), let id = v["id"]?.stringValue else { continue }
        verdicts[id] = v["problems"]?.arrayValue?.compactMap(\.stringValue) ?? []
    }
    for c in cases {
        let id = c["id"]?.stringValue ?? "?"
        guard let problems = verdicts[id] else {
            Issue.record("Keras gave no verdict for \(id)", sourceLocation: sourceLocation)
            continue
        }
        if !problems.isEmpty { Issue.record("\(id): \(problems.joined(separator: "; "))", sourceLocation: sourceLocation) }
    }
    return verdicts
}

/// Every optimizer class Keras 3.15 ships × {plain, use_ema, gradient accumulation, a schedule,
/// mixed precision} × {.keras → .ckpt → .keras, .keras → .weights.h5, strip → rebuild}: the
/// library keeps every tensor and the configuration, and Keras judges the results (verify.py).
@Suite("Keras round-trip matrix", .requires(.hdf5))
struct KerasRoundTripMatrixTests {
    static let dir = TestEnv.path("Tests/Fixtures/keras-roundtrip")

    static func cases() throws -> [JSONValue] {
        try #require(try KerasFixtures.json(URL(fileURLWithPath: dir + "/expected.json"))["cases"]?.arrayValue)
    }

    static func expectSameTensors(_ a: any TensorSource, _ b: any TensorSource, _ what: String,
                                  sourceLocation: SourceLocation = #_sourceLocation) throws {
        #expect(a.index.tensors.map(\.name) == b.index.tensors.map(\.name), "\(what): names", sourceLocation: sourceLocation)
        for (i, t) in a.index.tensors.enumerated() {
            guard let j = b.tensorIndex(named: t.name) else { continue }
            #expect(b.index.tensors[j].dtype == t.dtype && b.index.tensors[j].shape == t.shape, "\(what): \(t.name)", sourceLocation: sourceLocation)
            #expect(try a.readTensorBytes(i) == b.readTensorBytes(j), "\(what): \(t.name) bytes", sourceLocation: sourceLocation)
        }
    }

    @Test(.requires(.keras)) func everyOptimizerEveryOptionEveryOperation() throws {
        let out = try TestEnv.temporaryDirectory("ckpt-matrix")
        defer { TestEnv.cleanup(out) }
        var judged: [JSONValue] = []
        let all = try Self.cases()
        #expect(all.count == KerasOptimizerKind.allCases.count * 5)
        for c in all {
            let file = try #require(c["file"]?.stringValue)
            let id = String(file.dropLast(".keras".count))
            let path = Self.dir + "/" + file
            let policy = c["policy"]?.stringValue ?? "float32"
            let src = try Checkpoints.open(path)
            let serialized = try #require(c["optimizer"])
            let optimizer = try #require(src.index.optimizer, "\(id)")
            #expect(optimizer.className == serialized["class_name"]?.stringValue, "\(id): class")
            #expect(optimizer.config == serialized["config"], "\(id): config")
            #expect(src.index.optimizerTensors.count == c["variables"]?.intValue, "\(id): optimizer variables")
            #expect(!src.index.optimizerTensors.contains { $0.name.hasPrefix("optimizer/vars/") }, "\(id): layout names left")
            #expect(optimizer.appliedSteps == c["iterations"]?.int64Value, "\(id): step")

            // .keras → .ckpt → .keras
            try Convert.run(src, to: out + "/\(id).ckpt")
            let ckpt = try Checkpoints.open(out + "/\(id).ckpt")
            try Self.expectSameTensors(src, ckpt, "\(id).ckpt")
            #expect(ckpt.index.optimizer == src.index.optimizer, "\(id).ckpt optimizer")
            try Convert.run(ckpt, to: out + "/\(id).keras")
            let back = try Checkpoints.open(out + "/\(id).keras")
            try Self.expectSameTensors(src, back, "\(id).keras")
            #expect(back.index.optimizer == src.index.optimizer, "\(id).keras optimizer")
            #expect(back.index.architecture == src.index.architecture, "\(id).keras config.json")
            judged.append(.object([("id", .string("\(id) .keras→.ckpt→.keras")), ("mode", .string("converted")), ("source", .string(path)),
                                   ("result", .string(out + "/\(id).keras")), ("policy", .string(policy))]))

            // .keras → .weights.h5
            try Convert.run(src, to: out + "/\(id).weights.h5")
            let weights = try Checkpoints.open(out + "/\(id).weights.h5", options: OpenOptions(architecture: src.index.architecture))
            try Self.expectSameTensors(src, weights, "\(id).weights.h5")
            judged.append(.object([("id", .string("\(id) .keras→.weights.h5")), ("mode", .string("weights")), ("source", .string(path)),
                                   ("result", .string(out + "/\(id).weights.h5")), ("policy", .string(policy))]))

            // strip → rebuild (the optimizer from compile_config)
            try Strip.run(src, to: out + "/\(id).safetensors")
            let stripped = try Checkpoints.open(out + "/\(id).safetensors")
            var options = Rebuild.Options()
            options.backend = .jax
            let report = try Rebuild.run(weights: stripped, architecture: try #require(src.index.architecture), optimizer: .fromArchitecture,
                                         to: out + "/\(id)-rebuilt.keras", options: options)
            #expect(report.optimizer?.className == optimizer.className, "\(id): rebuilt optimizer class")
            let rebuilt = try Checkpoints.open(out + "/\(id)-rebuilt.keras")
            #expect(rebuilt.index.optimizer?.iterations == 0)
            #expect(rebuilt.index.optimizerTensors.count == src.index.optimizerTensors.count, "\(id): rebuilt state size")
            judged.append(.object([("id", .string("\(id) strip→rebuild")), ("mode", .string("rebuilt")), ("source", .string(path)),
                                   ("result", .string(out + "/\(id)-rebuilt.keras")), ("policy", .string(policy))]))
        }
        _ = try judgeWithKeras(judged, in: out)
    }
}
