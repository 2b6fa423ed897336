import Foundation
import Testing
import CheckpointTestSupport
@testable import CheckpointKit


/// What real Keras 3.15 training runs write (Tests/Fixtures/keras-fidelity): wrappers, options,
/// custom layers. Every result is judged by Keras (verify.py).
@Suite("Keras fidelity on real training runs", .requires(.hdf5))
struct KerasFidelityTests {
    static let optimizerFolders = ["mixed_float16_adam", "lso_sgd", "muon", "schedulefree_adamw", "adamw_gradacc2", "adam_ema", "jax_adam_ema"]

    /// The wrapper, its inner optimizer and the true step are what inspect shows.
    @Test func wrappersAndSteps() throws {
        let expected = try FidelityFixtures.json("expected.json")
        for folder in Self.optimizerFolders {
            let source = try Checkpoints.open(FidelityFixtures.path(folder + "/model.keras"))
            let o = try #require(source.index.optimizer, "\(folder)")
            let e = try #require(expected["cases"]?[folder])
            #expect(o.className == e["optimizer"]?["class_name"]?.stringValue, "\(folder)")
            #expect(o.innerClassName == e["optimizer"]?["inner_class_name"]?.stringValue, "\(folder)")
            #expect(o.config == e["optimizer"]?["serialized"]?["config"], "\(folder): configuration")
            let step = e["training"]?["step"]
            #expect(o.appliedSteps == step?["iterations"]?.int64Value, "\(folder): step")
            #expect(source.index.optimizerTensors.count == e["optimizer"]?["trained_variables"]?["variables"]?.arrayValue.map { $0.count }
                    ?? source.index.optimizerTensors.count, "\(folder)")
            #expect(!source.index.optimizerTensors.contains { $0.name.hasPrefix("optimizer/vars/") }, "\(folder): layout names left")
        }
    }

    @Test(.requires(.keras)) func conversionsKerasLoads() throws {
        let out = try TestEnv.temporaryDirectory("ckpt-fidelity")
        defer { TestEnv.cleanup(out) }
        var cases: [JSONValue] = []
        for folder in Self.optimizerFolders {
            let path = FidelityFixtures.path(folder + "/model.keras")
            let policy = folder.hasPrefix("mixed_") ? "mixed_float16" : "float32"
            let source = try Checkpoints.open(path)
            try Convert.run(source, to: out + "/\(folder).ckpt")
            let ckpt = try Checkpoints.open(out + "/\(folder).ckpt")
            #expect(ckpt.index.optimizer == source.index.optimizer, "\(folder)")
            try Convert.run(ckpt, to: out + "/\(folder).keras")
            try Convert.run(source, to: out + "/\(folder).weights.h5")
            try Strip.run(source, to: out + "/\(folder).safetensors")
            var options = Rebuild.Options()
            options.backend = FidelityFixtures.backend(folder)
            let report = try Rebuild.run(weights: try Checkpoints.open(out + "/\(folder).safetensors"), architecture: try #require(source.index.architecture),
                                         optimizer: .fromArchitecture, to: out + "/\(folder)-rebuilt.keras", options: options)
            #expect(report.optimizer?.className == source.index.optimizer?.className, "\(folder): the rebuilt optimizer")
            for (mode, file) in [("converted", "\(folder).keras"), ("weights", "\(folder).weights.h5"), ("rebuilt", "\(folder)-rebuilt.keras")] {
                cases.append(.object([("id", .string("\(folder) \(mode)")), ("mode", .string(mode)), ("source", .string(path)),
                                      ("result", .string(out + "/" + file)), ("policy", .string(policy))]))
            }
        }
        // A registered custom layer: its variables taken as they are, in model.trainable_variables
        // order; which are trainable comes from the optimizer state of the full checkpoint.
        let custom = FidelityFixtures.path("custom_layer")
        let arch = try TestEnv.read(custom + "/architecture.json")
        var options = Rebuild.Options()
        let weights = try Checkpoints.open(custom + "/model.weights.h5", options: OpenOptions(architecture: arch))
        #expect(throws: CheckpointError.self) { try Rebuild.plan(weights: weights, architecture: arch, optimizer: .fromArchitecture, options: options) }
        options.allowUnknownLayers = true
        try Rebuild.run(weights: weights, architecture: arch, optimizer: .fromArchitecture, to: out + "/custom-rebuilt.keras", options: options)
        // From weights alone the trainable flags are unknown: refused, or given.
        try Strip.run(try Checkpoints.open(custom + "/model.keras"), to: out + "/custom.safetensors")
        let stripped = try Checkpoints.open(out + "/custom.safetensors")
        let refused = #expect(throws: CheckpointError.self) {
            try Rebuild.run(weights: stripped, architecture: arch, optimizer: .fromArchitecture, to: out + "/custom-guess.keras", options: options)
        }
        #expect(refused?.code == .unknownLayer && refused?.reason.contains("ScaledProjection") == true)
        #expect(!FileManager.default.fileExists(atPath: out + "/custom-guess.keras"))
        options.nonTrainable = ["scaled/vars/1"]
        try Rebuild.run(weights: stripped, architecture: arch, optimizer: .fromArchitecture, to: out + "/custom-given.keras", options: options)
        try Convert.run(try Checkpoints.open(custom + "/model.keras"), to: out + "/custom.keras")
        let gen = FidelityFixtures.path("gen.py")
        for (mode, file) in [("rebuilt", "custom-rebuilt.keras"), ("rebuilt", "custom-given.keras"), ("converted", "custom.keras")] {
            cases.append(.object([("id", .string("custom layer \(file)")), ("mode", .string(mode)), ("source", .string(custom + "/model.keras")),
                                  ("result", .string(out + "/" + file)), ("policy", .string("float32")), ("custom", .string(gen))]))
        }
        _ = try judgeWithKeras(cases, in: out)
    }

    /// Configurations pass through verbatim: a Muon whose hyperparameters are not the defaults
    /// keeps every one of them in config.json.
    @Test func configurationsPassThrough() throws {
        let out = try TestEnv.temporaryDirectory("ckpt-fidelity-config")
        defer { TestEnv.cleanup(out) }
        let source = try Checkpoints.open(FidelityFixtures.path("muon/model.keras"))
        try Convert.run(source, to: out + "/m.keras")
        let a = try KerasArchitecture(bytes: try #require(source.index.architecture))
        let b = try KerasArchitecture(bytes: try #require(try Checkpoints.open(out + "/m.keras").index.architecture))
        #expect(b.compileConfig?["optimizer"] == a.compileConfig?["optimizer"])
        #expect(b.compileConfig?["optimizer"]?["config"]?["ns_steps"]?.intValue == 4)
    }

    /// A keras-hub backbone (a model class that builds its layers in its own code) is named, with
    /// what --allow-unknown-layers does, not called "a subclassed model with no architecture JSON".
    @Test func modelClassesThatBuildTheirOwnLayersAreNamed() throws {
        let hub = #"{"module": "keras_hub.src.models.gpt2.gpt2_backbone", "class_name": "GPT2Backbone", "config": {"name": "gpt2_backbone", "trainable": true, "vocabulary_size": 50257, "num_layers": 2, "num_heads": 2, "hidden_dim": 64, "intermediate_dim": 128, "dropout": 0.1, "max_sequence_length": 128}, "registered_name": "keras_hub>GPT2Backbone"}"#
        let e = #expect(throws: CheckpointError.self) { try KerasArchitecture(bytes: Array(hub.utf8)) }
        #expect(e?.code == .unknownLayer)
        #expect(e?.reason.contains("GPT2Backbone") == true && e?.reason.contains("keras_hub.src.models.gpt2.gpt2_backbone") == true, "\(e?.reason ?? "")")
        #expect(e?.hint?.contains("--allow-unknown-layers") == true)
        #expect(e?.reason.contains("subclassed") == false)
    }
}
