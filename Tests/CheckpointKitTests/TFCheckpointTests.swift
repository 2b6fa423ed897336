import Foundation
import Testing
import CheckpointTestSupport
@testable import CheckpointKit

/// The tf.keras / TF1 fixtures (Tests/Fixtures/tensorflow, copied from shared/fixtures/tensorflow
/// without fingerprint.pb and the decoded JSON dumps) and their expected.json.
enum TFFixtures {
    static let dir = TestEnv.path("Tests/Fixtures/tensorflow")
    static let models = ["mlp", "cnn", "lstm", "legacy_adam"]

    static let expected: JSONValue = {
        guard let bytes = try? TestEnv.read(dir + "/expected.json"), let v = try? JSONParser.parse(bytes) else { return .null }
        return v
    }()

    static func model(_ name: String) -> JSONValue { expected["models"]?[name] ?? .null }

    static func ints(_ v: JSONValue?) -> [Int64] { (v?.arrayValue ?? []).compactMap { $0.int64Value } }

    static func sha(_ source: TFCheckpointSource, tensor i: Int) throws -> String {
        var bytes: [UInt8] = []
        try source.readTensor(i) { bytes.append(contentsOf: $0) }
        return SHA256.hex(bytes)
    }

    /// Checks every key of the bundle against expected.json's list: dtype, shape, role and its
    /// details, and the SHA-256 of the bytes (for the string entry, of the serialized string).
    static func checkKeys(_ source: TFCheckpointSource, _ expected: [JSONValue], sourceLocation: SourceLocation = #_sourceLocation) throws {
        #expect(source.keys.count == expected.count, "\(source.keys.count) keys, expected \(expected.count)", sourceLocation: sourceLocation)
        for ek in expected {
            let key = ek["key"]?.stringValue ?? ""
            guard let k = source.keys.first(where: { $0.key == key }) else {
                Issue.record("key \(key) is missing", sourceLocation: sourceLocation)
                continue
            }
            #expect(k.entry.dtype.name == ek["dtype"]?.stringValue, "\(key): dtype \(k.entry.dtype.name)", sourceLocation: sourceLocation)
            #expect(k.entry.shape == ints(ek["shape"]), "\(key): shape \(k.entry.shape)", sourceLocation: sourceLocation)
            #expect(k.role.kind.rawValue == ek["role"]?.stringValue, "\(key): role \(k.role.kind)", sourceLocation: sourceLocation)
            switch k.role.kind {
            case .weight:
                if let n = ek["keras_name"]?.stringValue { #expect(k.role.kerasName == n, "\(key): Keras name \(k.role.kerasName ?? "nil")", sourceLocation: sourceLocation) }
                if let t = ek["trainable"]?.boolValue { #expect(k.role.trainable == t, "\(key): trainable", sourceLocation: sourceLocation) }
            case .slot:
                #expect(k.role.slot == ek["slot"]?.stringValue, "\(key): slot \(k.role.slot ?? "nil")", sourceLocation: sourceLocation)
                #expect(k.role.owner == ek["owner"]?.stringValue, "\(key): owner \(k.role.owner ?? "nil")", sourceLocation: sourceLocation)
                if let o = ek["owner_key"]?.stringValue { #expect(k.role.ownerKey == o, "\(key): owner key", sourceLocation: sourceLocation) }
            case .other:
                #expect(k.role.detail == ek["detail"]?.stringValue, "\(key): detail \(k.role.detail ?? "nil")", sourceLocation: sourceLocation)
                if let h = ek["hyperparameter"]?.stringValue { #expect(k.role.hyperparameter == h, "\(key): hyperparameter", sourceLocation: sourceLocation) }
            case .step:
                break
            }
            if let full = ek["full_name"]?.stringValue { #expect(k.role.fullName == full, "\(key): full name", sourceLocation: sourceLocation) }
            let digest: String
            if let name = k.tensorName, let i = source.tensorIndex(named: name) {
                #expect(source.index.tensors[i].sourceKey == key, sourceLocation: sourceLocation)
                digest = try sha(source, tensor: i)
            } else if k.entry.dtype == .string, let e = source.bundle.entries.first(where: { $0.key == key }) {
                digest = SHA256.hex(try TFCheckpointSource.readStrings(e, shards: source.shards, limits: .default).first ?? [])
            } else {
                // Entries that are not tensors (metric state) are still checked through verify().
                continue
            }
            #expect(digest == ek["sha256"]?.stringValue, "\(key): SHA-256 differs", sourceLocation: sourceLocation)
        }
    }
}

@Suite("TensorFlow checkpoints: the tf.keras fixtures")
struct TFCheckpointFixtureTests {
    @Test(arguments: TFFixtures.models)
    func checkpointMatchesExpected(_ name: String) throws {
        let m = TFFixtures.model(name)
        let source = try TFCheckpointSource(path: "\(TFFixtures.dir)/\(name)/\(name)_weights")
        #expect(source.format == .tfCheckpoint)
        try TFFixtures.checkKeys(source, m["tf_checkpoint"]?["keys"]?.arrayValue ?? [])
        // Every weight by its Keras name, in model.weights order, with its trainable flag and bytes.
        let weights = m["weights"]?.arrayValue ?? []
        #expect(source.index.weights.map(\.name) == weights.compactMap { $0["keras_name"]?.stringValue })
        for w in weights {
            let n = w["keras_name"]?.stringValue ?? ""
            guard let i = source.tensorIndex(named: n) else { Issue.record("no tensor \(n)"); continue }
            #expect(source.index.tensors[i].trainable == w["trainable"]?.boolValue, "\(n): trainable")
            #expect(source.index.tensors[i].shape.map(Int64.init) == TFFixtures.ints(w["shape"]))
            #expect(try TFFixtures.sha(source, tensor: i) == w["sha256"]?.stringValue, "\(n): bytes")
        }
        #expect(source.index.optimizer?.iterations == m["training"]?["checkpoint_step"]?.int64Value)
        #expect(source.index.optimizer?.className == m["optimizer"]?["class"]?.stringValue)
        try source.verify()
    }

    @Test(arguments: TFFixtures.models)
    func savedModelMatchesExpected(_ name: String) throws {
        let m = TFFixtures.model(name)
        let source = try TFCheckpointSource(path: "\(TFFixtures.dir)/\(name)/\(name)_full")
        #expect(source.format == .savedModel)
        try TFFixtures.checkKeys(source, m["savedmodel"]?["keys"]?.arrayValue ?? [])
        #expect(source.index.architecture != nil)
        #expect(source.index.optimizer?.iterations == m["training"]?["checkpoint_step"]?.int64Value)
        #expect(source.index.optimizer?.className == m["optimizer"]?["class"]?.stringValue)
        // The optimizer configuration comes from training_config.
        if let lr = m["optimizer"]?["get_config"]?["learning_rate"]?.doubleValue {
            #expect(source.index.optimizer?.learningRate.map { Float($0) } == Float(lr))
        }
        // Weights in model.weights order with Keras 3 names from the architecture.
        let weights = m["weights"]?.arrayValue ?? []
        #expect(source.index.weights.map(\.name) == weights.compactMap { $0["keras_name"]?.stringValue })
        // Signatures: names, inputs and outputs with dtypes and shapes.
        let sigs = m["savedmodel"]?["signatures"]?.objectValue ?? []
        for (sigName, sig) in sigs {
            guard let s = source.signatures.first(where: { $0.name == sigName }) else { Issue.record("no signature \(sigName)"); continue }
            for (part, list) in [("inputs", s.inputs), ("outputs", s.outputs)] {
                let exp = sig[part]?.objectValue ?? []
                #expect(list.map(\.key) == exp.map(\.0).sorted())
                for (k, v) in exp {
                    guard let t = list.first(where: { $0.key == k }) else { continue }
                    #expect(t.dtype.name == v["dtype"]?.stringValue)
                    #expect(t.shape == (v["shape"]?.arrayValue ?? []).map { $0.int64Value })
                }
            }
        }
        try source.verify()
    }

    @Test
    func tf1SaverNameBased() throws {
        let exp = TFFixtures.expected["tf1_saver"]?["adam"] ?? .null
        let source = try TFCheckpointSource(path: "\(TFFixtures.dir)/tf1_saver/model.ckpt-3")
        #expect(source.objectGraph == nil)
        try TFFixtures.checkKeys(source, exp["keys"]?.arrayValue ?? [])
        #expect(source.index.optimizer?.iterations == 3)
        #expect(source.index.tensor(named: "batches_seen")?.trainable == false)
        #expect(source.index.tensor(named: "layer1/weights/Adam_1")?.weight == "layer1/weights")
    }

    @Test
    func partitionedVariableIsAssembled() throws {
        let exp = TFFixtures.expected["tf1_saver"]?["partitioned"] ?? .null
        let source = try TFCheckpointSource(path: "\(TFFixtures.dir)/tf1_saver/partitioned.ckpt.index")
        #expect(source.index.tensors.map(\.name) == ["embedding", "out_bias"])
        for ek in exp["keys"]?.arrayValue ?? [] {
            let name = ek["key"]?.stringValue ?? ""
            guard let i = source.tensorIndex(named: name) else { Issue.record("no \(name)"); continue }
            #expect(source.index.tensors[i].shape.map(Int64.init) == TFFixtures.ints(ek["shape"]))
            #expect(try TFFixtures.sha(source, tensor: i) == ek["sha256"]?.stringValue, "\(name)")
        }
        #expect(source.pieces(of: 0).count == 3)
        try source.verify()
    }

    @Test
    func everyWayOfNamingACheckpoint() throws {
        let d = TFFixtures.dir
        let cases: [(String, String)] = [
            ("\(d)/mlp/mlp_weights", "\(d)/mlp/mlp_weights"),
            ("\(d)/mlp/mlp_weights.index", "\(d)/mlp/mlp_weights"),
            ("\(d)/mlp/mlp_weights.data-00000-of-00001", "\(d)/mlp/mlp_weights"),
            ("\(d)/mlp", "\(d)/mlp/mlp_weights"),
            ("\(d)/mlp/checkpoint", "\(d)/mlp/mlp_weights"),
            ("\(d)/mlp/mlp_full", "\(d)/mlp/mlp_full/variables/variables"),
            ("\(d)/tf1_saver", "\(d)/tf1_saver/partitioned.ckpt"),
        ]
        for (path, prefix) in cases {
            let loc = try TFCheckpointPaths.resolve(path)
            #expect(loc?.prefix == prefix, "\(path)")
            let source = try Checkpoints.open(path)
            #expect(source is TFCheckpointSource, "\(path)")
        }
        #expect(try TFCheckpointPaths.resolve("\(d)/mlp/architecture.json") == nil)
        #expect(try TFCheckpointPaths.resolve("\(d)/mlp/mlp_full")?.savedModel == "\(d)/mlp/mlp_full")
        // --from says what to expect; a folder that is neither kind is refused.
        let empty = try TestEnv.temporaryDirectory("ckpt-tf-empty")
        defer { TestEnv.cleanup(empty) }
        expectError(.notRecognized) { _ = try Checkpoints.open(empty) }
        expectError(.notRecognized) { _ = try Checkpoints.open("\(d)/mlp/architecture.json", format: .tfCheckpoint) }
    }

    @Test
    func stateFileParsing() throws {
        let text = Array("model_checkpoint_path: \"a b\\\"c\"\nall_model_checkpoint_paths: \"x\"\n".utf8)
        #expect(try TFCheckpointPaths.parseState(text, file: "checkpoint") == "a b\"c")
        #expect(try TFCheckpointPaths.parseState(Array("nothing: 1\n".utf8), file: "checkpoint") == nil)
        #expect(TFCheckpointPaths.stateText("mlp_weights") == "model_checkpoint_path: \"mlp_weights\"\nall_model_checkpoint_paths: \"mlp_weights\"\n")
    }
}
