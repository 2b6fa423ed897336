import Foundation
import Testing
import CheckpointTestSupport
@testable import CheckpointKit

/// Optimizer configs and state, checked against what real Keras reported.
@Suite struct KerasOptimizerTests {
    /// (model, index into `optimizers[]`) for the 3 dev models × 13 optimizers.
    static let devCases: [(String, Int)] = KerasFixtures.models.flatMap { m in (0..<13).map { (m, $0) } }

    @Test(arguments: devCases)
    func optimizerStateMatchesKeras(model: String, index: Int) throws {
        let expected = try KerasFixtures.expected(model)
        let entry = try #require(expected["optimizers"]?[index])
        let label = entry["label"]?.stringValue ?? "?"
        let className = try #require(entry["class_name"]?.stringValue)
        let getConfig = try #require(entry["get_config"])

        // From the Keras get_config() JSON.
        let fromConfig = try KerasOptimizerConfig(className: className, config: getConfig)
        #expect(fromConfig.config.serialized(.python) == getConfig.serialized(.python), "\(label) config")
        #expect(fromConfig.name == entry["name"]?.stringValue)
        // From the class name and the constructor's keyword arguments, as a user would type them.
        let (cls, overrides) = try #require(KerasFixtures.constructor(entry["constructor"]?.stringValue ?? ""))
        let fromText = try KerasOptimizerConfig(className: cls.lowercased(), overrides: overrides)
        #expect(fromText.config.serialized(.python) == getConfig.serialized(.python), "\(label) from \(cls) \(overrides)")
        #expect(fromText == fromConfig)

        let arch = try KerasFixtures.architecture(KerasFixtures.kerasDir.appendingPathComponent(model).appendingPathComponent("architecture.json"))
        let variables = try arch.variables()
        let state = try fromConfig.stateVariables(for: variables)
        let expectedVars = try #require(entry["variables"]?.arrayValue)
        #expect(entry["num_variables"]?.intValue == expectedVars.count)
        expectOptimizerVariables(state, expectedVars, pathKey: "path_from_json", trainable: variables.trainableVariables)
        for v in state {
            #expect(v.tensorInfo.role == .optimizer)
            #expect(v.tensorInfo.name == v.name)
            #expect(!v.tensorInfo.trainable)
        }
        // The same state from the weights as checkpoint tensors.
        let fromTensors = try fromConfig.stateVariables(trainableTensors: variables.trainableVariables.map(\.tensorInfo))
        #expect(fromTensors == state)
    }

    /// The dev models' compile_config optimizers (Adam, SGD(momentum=0.9), RMSprop).
    @Test(arguments: KerasFixtures.models)
    func compileConfigOptimizer(model: String) throws {
        let arch = try KerasFixtures.architecture(KerasFixtures.kerasDir.appendingPathComponent(model).appendingPathComponent("architecture.json"))
        let optimizer = try #require(try arch.optimizerConfig())
        let expected = arch.compileConfig?["optimizer"]?["config"]
        #expect(optimizer.config.serialized(.python) == expected?.serialized(.python))
        #expect(optimizer.serialized["class_name"]?.stringValue == arch.compileConfig?["optimizer"]?["class_name"]?.stringValue)
        let info = optimizer.optimizerInfo(iterations: 32)
        #expect(info.className == optimizer.className)
        #expect(info.iterations == 32)
        #expect(info.learningRate == optimizer.learningRate)
        if model == "mlp" {
            // model_from_json builds the compiled optimizer: these are its variable paths.
            let facts = try KerasFixtures.expected(model)["model_from_json_facts"]
            let paths = facts?["model_from_json_optimizer_variable_paths"]?.arrayValue?.compactMap(\.stringValue) ?? []
            #expect(try optimizer.stateVariables(for: arch.variables()).map(\.kerasPath) == paths)
        }
    }

    @Test(arguments: KerasFixtures.extraModels)
    func extraOptimizerStateMatchesKeras(model: String) throws {
        let expected = try KerasFixtures.extraExpected(model)
        let backend = KerasFixtures.backend(expected)
        let arch = try KerasFixtures.architecture(KerasFixtures.extraDir.appendingPathComponent(model).appendingPathComponent("architecture.json"))
        let variables = try arch.variables(options: KerasInferenceOptions(backend: backend))
        for entry in expected["optimizers"]?.arrayValue ?? [] {
            let cls = try #require(entry["class_name"]?.stringValue)
            let config = try #require(entry["get_config"])
            let optimizer = try KerasOptimizerConfig(className: cls, config: config)
            #expect(optimizer.config.serialized(.python) == config.serialized(.python), "\(entry["label"]?.stringValue ?? "")")
            let state = try optimizer.stateVariables(for: variables, backend: backend)
            expectOptimizerVariables(state, entry["variables"]?.arrayValue ?? [], pathKey: "path", trainable: variables.trainableVariables)
        }
        if let compiled = try arch.optimizerConfig() {
            #expect(compiled.config.serialized(.python) == arch.compileConfig?["optimizer"]?["config"]?.serialized(.python))
        }
    }

    /// get_config() of optimizers built from a class name and typed hyperparameters
    /// (`Tests/Fixtures/keras-extra/optimizer_configs.json`, real Keras).
    @Test func configsFromNamesAndOverrides() throws {
        let doc = try KerasFixtures.json(KerasFixtures.extraDir.appendingPathComponent("optimizer_configs.json"))
        let cases = try #require(doc["configs"]?.arrayValue)
        #expect(cases.count >= 10)
        for c in cases {
            let cls = try #require(c["class"]?.stringValue)
            let overrides = (c["overrides"]?.objectValue ?? []).compactMap { k, v in v.stringValue.map { (k, $0) } }
            let got = try KerasOptimizerConfig(className: cls, overrides: overrides)
            #expect(got.className == c["class_name"]?.stringValue)
            #expect(got.config.serialized(.python) == c["get_config"]?.serialized(.python), "\(cls) \(overrides)")
        }
    }

    @Test func defaultsOfEveryOptimizer() throws {
        for kind in KerasOptimizerKind.allCases where !kind.isWrapper {
            let c = try KerasOptimizerConfig(className: kind.className)
            #expect(c.kind == kind)
            #expect(c.name == kind.defaultName)
            #expect(c.config["learning_rate"]?.doubleValue == Double(Float(kind.defaultLearningRate)))
        }
        #expect(try KerasOptimizerConfig(className: "adam").config["learning_rate"] == .number("0.0010000000474974513"))
        #expect(KerasOptimizerKind(className: "rms_prop") == .rmsprop)
        #expect(KerasOptimizerKind(className: "ADAMW") == .adamW)
        #expect(KerasOptimizerKind(className: "adam_w") == .adamW)
    }

    @Test func serializedForms() throws {
        let s = try KerasOptimizerConfig(serialized: .string("rmsprop"))
        #expect(s.kind == .rmsprop)
        let keras2 = try JSONParser.parse(#"{"class_name": "Adam", "config": {"name": "Adam", "weight_decay": null, "clipnorm": null, "global_clipnorm": null, "clipvalue": null, "use_ema": false, "ema_momentum": 0.99, "ema_overwrite_frequency": null, "jit_compile": false, "is_legacy_optimizer": false, "learning_rate": 0.0010000000474974513, "beta_1": 0.9, "beta_2": 0.999, "epsilon": 1e-07, "amsgrad": false}}"#)
        let k2 = try KerasOptimizerConfig(serialized: keras2)
        #expect(k2.name == "Adam")
        #expect(k2.config["jit_compile"] == nil)
        #expect(k2.config["loss_scale_factor"] == .null)
        let legacy = try KerasOptimizerConfig(className: "SGD", config: try JSONParser.parse(#"{"lr": 0.1, "decay": 0.0, "momentum": 0.5}"#))
        #expect(legacy.learningRate == Double(Float(0.1)))
        #expect(legacy.config["momentum"]?.doubleValue == 0.5)
        let keras2Compile = try JSONParser.parse(#"{"optimizer": "adam", "loss": "mse"}"#)
        #expect(try KerasOptimizerConfig.fromCompileConfig(keras2Compile)?.kind == .adam)
        #expect(try KerasOptimizerConfig.fromCompileConfig(try JSONParser.parse(#"{"loss": "mse"}"#)) == nil)
        let round = try KerasOptimizerConfig(serialized: try KerasOptimizerConfig(className: "lion").serialized)
        #expect(round.kind == .lion)
    }

    /// A learning-rate schedule: no learning_rate variable.
    @Test func scheduleHasNoLearningRateVariable() throws {
        let config = try JSONParser.parse(#"{"learning_rate": {"module": "keras.optimizers.schedules", "class_name": "ExponentialDecay", "config": {"initial_learning_rate": 0.1, "decay_steps": 100, "decay_rate": 0.9, "staircase": false, "name": "ExponentialDecay"}, "registered_name": null}}"#)
        let c = try KerasOptimizerConfig(className: "adam", config: config)
        #expect(c.learningRate == nil)
        let state = try c.stateVariables(trainable: [KerasSlotReference(path: "dense/kernel", shape: [2, 3], dtype: .float32)])
        #expect(state.map(\.name) == ["optimizer/iteration", "optimizer/momentum/dense/kernel", "optimizer/velocity/dense/kernel"])
        #expect(state.map(\.index) == [0, 1, 2])
    }

    /// Adafactor factors the last two dimensions of rank >= 2 variables; rank < 2 gets int32
    /// scalar placeholders named after the variable (no optimizer prefix).
    @Test func adafactorFactoring() throws {
        let c = try KerasOptimizerConfig(className: "Adafactor")
        let refs = [KerasSlotReference(path: "conv/kernel", shape: [3, 3, 2, 8], dtype: .float32),
                    KerasSlotReference(path: "conv/bias", shape: [8], dtype: .float32),
                    KerasSlotReference(path: "bn/gamma", shape: [], dtype: .float16)]
        let s = try c.stateVariables(trainable: refs, backend: .jax)
        #expect(s.map(\.name) == ["optimizer/iteration", "optimizer/learning_rate",
                                  "optimizer/r/conv/kernel", "optimizer/c/conv/kernel", "optimizer/velocity/conv/kernel",
                                  "optimizer/r/conv/bias", "optimizer/c/conv/bias", "optimizer/velocity/conv/bias",
                                  "optimizer/r/bn/gamma", "optimizer/c/bn/gamma", "optimizer/velocity/bn/gamma"])
        #expect(s.map(\.shape) == [[], [], [3, 3, 2], [3, 3, 8], [3, 3, 2, 8], [], [], [8], [], [], []])
        #expect(s.map(\.dtype) == [.int32, .float32, .float32, .float32, .float32, .int32, .int32, .float32, .int32, .int32, .float16])
        #expect(s.map(\.kerasPath)[2] == "adafactor/kernel")
        #expect(s.map(\.kerasPath)[5] == "bias")
    }

    @Test func initialValuesAreRoundedToTheVariableDType() {
        #expect(KerasOptimizerConfig.rounded(0.1, to: .float32) == 0.10000000149011612)
        #expect(KerasOptimizerConfig.rounded(0.1, to: .float16) == 0.0999755859375)
        #expect(KerasOptimizerConfig.rounded(0.1, to: .bfloat16) == 0.10009765625)
        #expect(KerasOptimizerConfig.rounded(0.1, to: .float64) == 0.1)
        #expect(KerasOptimizerConfig.rounded(1e6, to: .float16) == .infinity)
    }

    @Test(arguments: [
        ("adamm", [(String, String)]()),
        ("adam", [("beta_3", "0.9")]),
        ("adam", [("beta_1", "fast")]),
        ("adam", [("amsgrad", "maybe")]),
        ("sgd", [("momentum", "1.5")]),
        ("adamw", [("weight_decay", "None")]),
        ("ftrl", [("learning_rate_power", "0.5")]),
        ("ftrl", [("initial_accumulator_value", "-1")]),
        ("lion", [("beta_1", "0")]),
        ("adam", [("clipnorm", "1"), ("clipvalue", "1")]),
        ("adam", [("gradient_accumulation_steps", "1")]),
        ("adam", [("learning_rate", "inf")]),
        ("adam", [("use_ema", "true"), ("ema_momentum", "2")]),
    ])
    func badOptimizersAreClearErrors(name: String, overrides: [(String, String)]) {
        let error = #expect(throws: CheckpointError.self) { try KerasOptimizerConfig(className: name, overrides: overrides) }
        #expect(error?.code == .invalidOptimizer)
    }

    /// Optimizers added from the registry: the state Keras 3.15 builds for the fidelity model.
    @Test(arguments: ["schedulefree_adamw", "muon", "mixed_float16_adam", "lso_sgd", "adamw_gradacc2", "adam_ema", "jax_adam_ema"])
    func registryOptimizerStateMatchesKeras(folder: String) throws {
        let optimizer = try FidelityFixtures.optimizer(folder)
        let expected = try FidelityFixtures.json(folder + "/optimizer_config.json")
        #expect(optimizer.config == expected)
        #expect(optimizer.serialized == (try FidelityFixtures.json(folder + "/optimizer_serialized.json")))
        if !optimizer.kind.isWrapper {
            let fresh = try KerasOptimizerConfig(className: optimizer.className)
            #expect(fresh.config["learning_rate"]?.doubleValue == Double(Float(optimizer.kind.defaultLearningRate)))
        }
        let backend = FidelityFixtures.backend(folder)
        let variables = try FidelityFixtures.architecture(folder).variables(options: KerasInferenceOptions(backend: backend))
        try FidelityFixtures.expectFresh(try optimizer.stateVariables(for: variables, backend: backend), folder)
    }

    /// Muon: 2-D kernels get a momentum; other variables, embeddings and exclude_layers matches
    /// also a velocity.
    @Test func muonSlotsFollowShapesAndPatterns() throws {
        let refs = [KerasSlotReference(path: "token_embedding/embeddings", shape: [10, 4], dtype: .float32),
                    KerasSlotReference(path: "block/dense/kernel", shape: [4, 4], dtype: .float32),
                    KerasSlotReference(path: "head/kernel", shape: [4, 2], dtype: .float32),
                    KerasSlotReference(path: "head/bias", shape: [2], dtype: .float32)]
        let c = try KerasOptimizerConfig(className: "muon", overrides: [("exclude_layers", "head")])
        #expect(c.config["exclude_layers"] == .array([.string("head")]))
        let slots = try c.stateVariables(trainable: refs).compactMap { v in v.slot.map { "\($0) \(v.weight ?? "")" } }
        #expect(slots == ["momentum token_embedding/embeddings", "velocity token_embedding/embeddings", "momentum block/dense/kernel",
                          "momentum head/kernel", "velocity head/kernel", "momentum head/bias", "velocity head/bias"])
        let bad = try KerasOptimizerConfig(className: "muon", overrides: [("exclude_layers", "[\"(\"]")])
        #expect(throws: CheckpointError.self) { try bad.stateVariables(trainable: refs) }
    }

    @Test func badSerializedOptimizers() {
        for text in [#"3"#, #"{"config": {}}"#, #"{"class_name": "Adam", "config": {"beta_1": "x"}}"#,
                     #"{"class_name": "Adam", "config": {"unknown_key": 1}}"#, #"{"class_name": "LossScaleOptimizer", "config": {}}"#] {
            let error = #expect(throws: CheckpointError.self) { try KerasOptimizerConfig(serialized: try JSONParser.parse(text)) }
            #expect(error?.code == .invalidOptimizer, "\(text)")
        }
    }
}
