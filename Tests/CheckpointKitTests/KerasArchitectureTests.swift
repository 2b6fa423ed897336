import Foundation
import Testing
import CheckpointTestSupport
@testable import CheckpointKit

/// Architecture parsing and variable inference, checked against what real Keras reported.
@Suite struct KerasArchitectureTests {
    // MARK: - Dev fixtures (Keras 3.15 / tf-keras 2.21 on TensorFlow)

    @Test(arguments: KerasFixtures.models)
    func inferredWeightsMatchKeras(model: String) throws {
        let arch = try KerasFixtures.architecture(KerasFixtures.kerasDir.appendingPathComponent(model).appendingPathComponent("architecture.json"))
        let expected = try KerasFixtures.expected(model)
        #expect(arch.dialect == .keras3)
        #expect(arch.dialect.displayName == "Keras 3")
        let got = try arch.variables()
        #expect(got.modelName == expected["model_name"]?.stringValue)
        #expect(got.modelClass == expected["model_class"]?.stringValue)
        let weights = try #require(expected["weights"]?.arrayValue)
        expectWeights(got, weights, pathKey: "path_from_json")
        // The trainable order optimizer slots are built in.
        let trainablePaths = expected["trainable_paths"]?.arrayValue?.compactMap(\.stringValue) ?? []
        #expect(got.trainableVariables.map(\.path) == trainablePaths.map { KerasNames.stripModelPrefix($0, modelName: got.modelName) })
        // Every expected name form resolves to the right variable.
        for (v, e) in zip(got.variables, weights) {
            for key in ["path", "path_from_json", "path_from_load_model"] {
                if let name = e[key]?.stringValue {
                    #expect(got.variable(named: name)?.index == v.index, "\(key) \(name)")
                }
            }
            #expect(v.layer == e["layer"]?.stringValue)
            #expect(v.name == e["name"]?.stringValue)
            #expect(v.tensorInfo.name == v.path)
            #expect(v.tensorInfo.shape == v.shape)
            #expect(v.tensorInfo.trainable == v.trainable)
            #expect(v.tensorInfo.role == .weight)
            // Built in code (Sequential) the path carries the model name: the scoped path.
            if let codePath = e["path"]?.stringValue {
                #expect(v.scopedPath == codePath)
            }
        }
    }

    @Test(arguments: KerasFixtures.models)
    func h5LayoutMatchesKeras(model: String) throws {
        let arch = try KerasFixtures.architecture(KerasFixtures.kerasDir.appendingPathComponent(model).appendingPathComponent("architecture.json"))
        let expected = try KerasFixtures.expected(model)
        let got = try arch.variables()
        let groups = (expected["h5_layout"]?["groups"]?.arrayValue ?? []).filter { !($0["h5_group"]?.stringValue ?? "").hasPrefix("optimizer") }
        #expect(got.h5Groups.map(\.path) == groups.compactMap { $0["h5_group"]?.stringValue })
        #expect(got.h5Groups.map(\.datasetCount) == groups.map { $0["num_datasets"]?.intValue })
        #expect(got.h5Groups.map(\.objectName) == groups.compactMap { $0["object_name"]?.stringValue })
    }

    /// `mlp/architecture_legacy.json` is tf-keras 2.21 JSON; it must give the Keras 3 weights, and
    /// the Keras 2 names tf-keras reported.
    @Test func legacyMLPGivesTheSameWeights() throws {
        let dir = KerasFixtures.kerasDir.appendingPathComponent("mlp")
        let legacy = try KerasFixtures.architecture(dir.appendingPathComponent("architecture_legacy.json"))
        #expect(legacy.dialect == .keras2)
        #expect(legacy.dialect.displayName == "Keras 2 (tf.keras)")
        #expect(legacy.kerasVersion == "2.21.0")
        let expected = try KerasFixtures.expected("mlp")
        let got = try legacy.variables()
        expectWeights(got, try #require(expected["weights"]?.arrayValue), pathKey: "path_from_json")
        let legacyWeights = try #require(expected["legacy"]?["weights"]?.arrayValue)
        #expect(got.variables.map(\.keras2Name) == legacyWeights.compactMap { $0["name"]?.stringValue })
        for (v, e) in zip(got.variables, legacyWeights) {
            if let name = e["name"]?.stringValue { #expect(got.variable(named: name)?.index == v.index) }
        }
        let modern = try KerasFixtures.architecture(dir.appendingPathComponent("architecture.json")).variables()
        #expect(modern.variables == got.variables)
    }

    // MARK: - Extra fixtures (Keras 3.15 on JAX, Tests/Fixtures/keras-extra/make.py)

    @Test(arguments: KerasFixtures.extraModels)
    func extraModelWeightsMatchKeras(model: String) throws {
        let dir = KerasFixtures.extraDir.appendingPathComponent(model)
        let expected = try KerasFixtures.extraExpected(model)
        let arch = try KerasFixtures.architecture(dir.appendingPathComponent("architecture.json"))
        #expect(arch.dialect == .keras3)
        let options = KerasInferenceOptions(backend: KerasFixtures.backend(expected))
        let got = try arch.variables(options: options)
        #expect(got.modelName == expected["model_name"]?.stringValue)
        #expect(got.modelClass == expected["model_class"]?.stringValue)
        expectWeights(got, try #require(expected["weights"]?.arrayValue), pathKey: "path")
        // Loaded from the same JSON without build_config, Keras builds nested layers inside their
        // parent's name scope: that is the scoped path.
        let stripped = expected["stripped_paths"]?.arrayValue?.compactMap(\.stringValue) ?? []
        #expect(got.variables.map(\.scopedPath) == stripped)
        for (v, s) in zip(got.variables, stripped) {
            #expect(got.variable(named: s)?.index == v.index, "\(s)")
        }
    }

    /// Keras 3 JSON without any build_config: Keras builds nested layers inside their parent's
    /// name scope, and so does the canonical path (it is what model_from_json gives for that JSON).
    @Test(arguments: KerasFixtures.extraModels)
    func jsonWithoutBuildConfigGivesScopedPaths(model: String) throws {
        let dir = KerasFixtures.extraDir.appendingPathComponent(model)
        let expected = try KerasFixtures.extraExpected(model)
        func strip(_ v: JSONValue) -> JSONValue {
            switch v {
            case .object(let members): return .object(members.filter { $0.0 != "build_config" }.map { ($0.0, strip($0.1)) })
            case .array(let items): return .array(items.map(strip))
            default: return v
            }
        }
        let arch = try KerasArchitecture(json: strip(try KerasFixtures.json(dir.appendingPathComponent("architecture.json"))))
        let got = try arch.variables(options: KerasInferenceOptions(backend: KerasFixtures.backend(expected)))
        let stripped = expected["stripped_paths"]?.arrayValue?.compactMap(\.stringValue) ?? []
        #expect(got.variables.map(\.path) == stripped)
        #expect(got.variables.map(\.scopedPath) == stripped)
        let weights = expected["weights"]?.arrayValue ?? []
        #expect(got.variables.map(\.shape) == weights.map { KerasFixtures.shape($0["shape"]) ?? [] })
        #expect(got.variables.map(\.h5Path) == weights.map { $0["h5_path"]?.stringValue ?? "" })
    }

    /// Shapes propagated from the model inputs alone (ignoring every recorded shape) give the same
    /// variables.
    @Test(arguments: KerasFixtures.extraModels + KerasFixtures.models.map { "dev:" + $0 })
    func propagatedShapesGiveTheSameVariables(model: String) throws {
        let url: URL
        let expected: JSONValue
        if model.hasPrefix("dev:") {
            let name = String(model.dropFirst(4))
            url = KerasFixtures.kerasDir.appendingPathComponent(name).appendingPathComponent("architecture.json")
            expected = try KerasFixtures.expected(name)
        } else {
            url = KerasFixtures.extraDir.appendingPathComponent(model).appendingPathComponent("architecture.json")
            expected = try KerasFixtures.extraExpected(model)
        }
        let arch = try KerasFixtures.architecture(url)
        let backend = KerasFixtures.backend(expected)
        let recorded = try arch.variables(options: KerasInferenceOptions(backend: backend))
        let propagated = try arch.variables(options: KerasInferenceOptions(backend: backend, useRecordedShapes: false))
        #expect(propagated.variables == recorded.variables)
    }

    /// The same models rewritten in the Keras 2 dialect (no module/build_config, list-form nodes,
    /// batch_input_shape, dtype strings) infer the Keras 3 weights.
    @Test(arguments: KerasFixtures.extraKeras2Models)
    func keras2DialectGivesTheSameWeights(model: String) throws {
        let dir = KerasFixtures.extraDir.appendingPathComponent(model)
        let expected = try KerasFixtures.extraExpected(model)
        let arch = try KerasFixtures.architecture(dir.appendingPathComponent("architecture_keras2.json"))
        #expect(arch.dialect == .keras2)
        let got = try arch.variables(options: KerasInferenceOptions(backend: KerasFixtures.backend(expected)))
        expectWeights(got, try #require(expected["weights"]?.arrayValue), pathKey: "path")
    }

    @Test(arguments: KerasFixtures.extraModels)
    func extraH5GroupsMatchKeras(model: String) throws {
        let dir = KerasFixtures.extraDir.appendingPathComponent(model)
        let expected = try KerasFixtures.extraExpected(model)
        let got = try KerasFixtures.architecture(dir.appendingPathComponent("architecture.json"))
            .variables(options: KerasInferenceOptions(backend: KerasFixtures.backend(expected)))
        let groups = expected["h5_groups"]?.arrayValue ?? []
        #expect(got.h5Groups.map(\.path) == groups.compactMap { $0["h5_group"]?.stringValue })
        #expect(got.h5Groups.map(\.datasetCount) == groups.map { $0["num_datasets"]?.intValue })
        for (g, e) in zip(got.h5Groups, groups) {
            // Objects reached through private attributes (`_softmax`, `_dropout_layer`) have names
            // Keras generates per process; the others carry real layer names.
            let privateObject = g.path.split(separator: "/").contains { $0.hasPrefix("_") }
            if !privateObject { #expect(g.objectName == e["object_name"]?.stringValue, "\(g.path)") }
        }
    }

    /// Opt-in: model directories named by `CKPT_KERAS_EXTERNAL_FIXTURES` (same format as keras-extra).
    @Test(.enabled(if: !KerasFixtures.externalModels.isEmpty,
                   "optional: CKPT_KERAS_EXTERNAL_FIXTURES names a directory of keras-extra style models (e.g. keras.applications, too big to commit)"),
          arguments: KerasFixtures.externalModels)
    func externalModelsMatchKeras(directory: String) throws {
        let dir = URL(fileURLWithPath: directory)
        let expected = try KerasFixtures.json(dir.appendingPathComponent("expected.json"))
        let arch = try KerasFixtures.architecture(dir.appendingPathComponent("architecture.json"))
        let backend = KerasFixtures.backend(expected)
        let got = try arch.variables(options: KerasInferenceOptions(backend: backend))
        expectWeights(got, expected["weights"]?.arrayValue ?? [], pathKey: "path")
        #expect(got.variables.map(\.scopedPath) == (expected["stripped_paths"]?.arrayValue?.compactMap(\.stringValue) ?? []))
        let groups = expected["h5_groups"]?.arrayValue ?? []
        #expect(got.h5Groups.map(\.path) == groups.compactMap { $0["h5_group"]?.stringValue })
        let propagated = try arch.variables(options: KerasInferenceOptions(backend: backend, useRecordedShapes: false))
        #expect(propagated.variables == got.variables)
    }

    // MARK: - Hand-written architectures

    /// An old (tf.keras 2.4-style) Functional JSON: class "Model", no module, no build_config,
    /// list-form nodes, a shared layer and a multi-input Concatenate. Expected shapes from Keras's
    /// build() code:
    /// - conv2d: Conv2D(4, 3, strides 2, same) on (None, 32, 32, 3): kernel = kernel_size +
    ///   (in_channels, filters) = (3, 3, 3, 4), bias (4,); output ceil(32/2) = 16 → (None, 16, 16, 4).
    /// - flatten → (None, 16*16*4 = 1024); dense: kernel (1024, 3), bias (3,).
    /// - shared Dense(5, "shared") called on dense (3) and on input_2 (3): built once on the
    ///   first call: kernel (3, 5), bias (5,).
    /// - concatenate([shared#0, shared#1]) → (None, 10); head Dense(1): kernel (10, 1).
    static let oldFunctional = #"""
    {"class_name": "Model", "config": {"name": "model", "layers": [
      {"class_name": "InputLayer", "config": {"batch_input_shape": [null, 32, 32, 3], "dtype": "float32", "name": "input_1"}, "name": "input_1", "inbound_nodes": []},
      {"class_name": "InputLayer", "config": {"batch_input_shape": [null, 3], "dtype": "float32", "name": "input_2"}, "name": "input_2", "inbound_nodes": []},
      {"class_name": "Conv2D", "config": {"name": "conv2d", "trainable": true, "dtype": "float32", "filters": 4, "kernel_size": [3, 3], "strides": [2, 2], "padding": "same", "data_format": "channels_last", "dilation_rate": [1, 1], "use_bias": true}, "name": "conv2d", "inbound_nodes": [[["input_1", 0, 0, {}]]]},
      {"class_name": "Flatten", "config": {"name": "flatten", "trainable": true, "dtype": "float32"}, "name": "flatten", "inbound_nodes": [[["conv2d", 0, 0, {}]]]},
      {"class_name": "Dense", "config": {"name": "dense", "trainable": true, "dtype": "float32", "units": 3, "use_bias": true}, "name": "dense", "inbound_nodes": [[["flatten", 0, 0, {}]]]},
      {"class_name": "Dense", "config": {"name": "shared", "trainable": true, "dtype": "float32", "units": 5, "use_bias": true}, "name": "shared", "inbound_nodes": [[["dense", 0, 0, {}]], [["input_2", 0, 0, {}]]]},
      {"class_name": "Concatenate", "config": {"name": "concatenate", "trainable": true, "dtype": "float32", "axis": -1}, "name": "concatenate", "inbound_nodes": [[["shared", 0, 0, {}], ["shared", 1, 0, {}]]]},
      {"class_name": "Dense", "config": {"name": "head", "trainable": false, "dtype": "float32", "units": 1}, "name": "head", "inbound_nodes": [[["concatenate", 0, 0, {}]]]}
    ], "input_layers": [["input_1", 0, 0], ["input_2", 0, 0]], "output_layers": [["head", 0, 0]]}, "keras_version": "2.4.0", "backend": "tensorflow"}
    """#

    @Test func oldKeras2FunctionalWithSharedLayer() throws {
        let arch = try KerasArchitecture(text: Self.oldFunctional)
        #expect(arch.dialect == .keras2)
        let got = try arch.variables()
        // map_graph order: depth from the output; input_2 feeds `shared` (depth 2) directly, so
        // it sits at depth 3 next to dense and after the deeper conv branch.
        #expect(got.variables.map(\.path) == ["conv2d/kernel", "conv2d/bias", "dense/kernel", "dense/bias",
                                              "shared/kernel", "shared/bias", "head/kernel", "head/bias"])
        #expect(got.variables.map(\.shape) == [[3, 3, 3, 4], [4], [1024, 3], [3], [3, 5], [5], [10, 1], [1]])
        #expect(got.variables.map(\.trainable) == [true, true, true, true, true, true, false, false])
        #expect(got.variables.map(\.h5Path) == ["layers/conv2d/vars/0", "layers/conv2d/vars/1", "layers/dense/vars/0",
                                                "layers/dense/vars/1", "layers/dense_1/vars/0", "layers/dense_1/vars/1",
                                                "layers/dense_2/vars/0", "layers/dense_2/vars/1"])
        #expect(got.variables.map(\.keras2Name).first == "conv2d/kernel:0")
    }

    /// tf.keras writes `MultiHeadAttention(q, v)` with the value as a keyword tensor triple.
    /// Keras build(): query kernel (q_dim, heads, key_dim) = (16, 2, 4), bias (2, 4); key and
    /// value kernels (v_dim=6, 2, 4); attention_output kernel (heads, value_dim, q_dim) =
    /// (2, 4, 16), bias (16,).
    @Test func keras2MultiHeadAttentionWithKeywordValue() throws {
        let text = #"""
        {"class_name": "Functional", "config": {"name": "model", "layers": [
          {"class_name": "InputLayer", "config": {"batch_input_shape": [null, 10, 16], "dtype": "float32", "name": "q"}, "name": "q", "inbound_nodes": []},
          {"class_name": "InputLayer", "config": {"batch_input_shape": [null, 7, 6], "dtype": "float32", "name": "v"}, "name": "v", "inbound_nodes": []},
          {"class_name": "MultiHeadAttention", "config": {"name": "mha", "trainable": true, "dtype": "float32", "num_heads": 2, "key_dim": 4, "value_dim": 4, "dropout": 0.0, "use_bias": true, "output_shape": null, "attention_axes": [1]},
           "name": "mha", "inbound_nodes": [[["q", 0, 0, {"value": ["v", 0, 0]}]]]}
        ], "input_layers": [["q", 0, 0], ["v", 0, 0]], "output_layers": [["mha", 0, 0]]}, "keras_version": "2.15.0", "backend": "tensorflow"}
        """#
        let got = try KerasArchitecture(text: text).variables()
        #expect(got.variables.map(\.path) == ["mha/query/kernel", "mha/query/bias", "mha/key/kernel", "mha/key/bias",
                                              "mha/value/kernel", "mha/value/bias", "mha/attention_output/kernel",
                                              "mha/attention_output/bias"])
        #expect(got.variables.map(\.shape) == [[16, 2, 4], [2, 4], [6, 2, 4], [2, 4], [6, 2, 4], [2, 4], [2, 4, 16], [16]])
        #expect(got.variables.first?.h5Path == "layers/multi_head_attention/query_dense/vars/0")
        #expect(got.variables.first?.keras2Name == "mha/query/kernel:0")
    }

    /// Sequential Keras 2 JSON with the input shape on the first layer (no InputLayer entry), a
    /// channels_first conv, GRU without reset_after and a TimeDistributed/Bidirectional pair.
    /// build(): conv1d channels_first on (None, 4, 12): in_channels = 4, kernel (3, 4, 8);
    /// output (None, 8, 10) → permute (2, 1) → (None, 10, 8); GRU(5, reset_after=False): kernel
    /// (8, 15), recurrent (5, 15), bias (15,); TimeDistributed(Dense(2)) on (None, 10, 5): dense
    /// kernel (5, 2); Bidirectional(LSTM(3)) on (None, 10, 2): each direction kernel (2, 12),
    /// recurrent (3, 12), bias (12,).
    @Test func keras2SequentialWithoutInputLayer() throws {
        let text = #"""
        {"class_name": "Sequential", "config": {"name": "sequential_7", "layers": [
          {"class_name": "Conv1D", "config": {"name": "conv1d", "dtype": "float32", "batch_input_shape": [null, 4, 12], "filters": 8, "kernel_size": [3], "data_format": "channels_first", "use_bias": true}},
          {"class_name": "Permute", "config": {"name": "permute", "dims": [2, 1]}},
          {"class_name": "GRU", "config": {"name": "gru", "units": 5, "reset_after": false, "return_sequences": true}},
          {"class_name": "TimeDistributed", "config": {"name": "time_distributed", "layer": {"class_name": "Dense", "config": {"name": "dense", "units": 2}}}},
          {"class_name": "Bidirectional", "config": {"name": "bidirectional", "merge_mode": "concat", "layer": {"class_name": "LSTM", "config": {"name": "lstm", "units": 3}}}},
          {"class_name": "Dense", "config": {"name": "dense_1", "units": 1, "dtype": {"class_name": "Policy", "config": {"name": "mixed_float16"}}}}
        ]}, "keras_version": "2.9.0", "backend": "tensorflow"}
        """#
        let arch = try KerasArchitecture(text: text)
        #expect(arch.dialect == .keras2)
        let got = try arch.variables()
        #expect(got.variables.map(\.path) == [
            "conv1d/kernel", "conv1d/bias",
            "gru/gru_cell/kernel", "gru/gru_cell/recurrent_kernel", "gru/gru_cell/bias",
            "dense/kernel", "dense/bias",
            "forward_lstm/lstm_cell/kernel", "forward_lstm/lstm_cell/recurrent_kernel", "forward_lstm/lstm_cell/bias",
            "backward_lstm/lstm_cell/kernel", "backward_lstm/lstm_cell/recurrent_kernel", "backward_lstm/lstm_cell/bias",
            "dense_1/kernel", "dense_1/bias",
        ])
        #expect(got.variables.map(\.shape) == [[3, 4, 8], [8], [8, 15], [5, 15], [15], [5, 2], [2],
                                               [2, 12], [3, 12], [12], [2, 12], [3, 12], [12], [6, 1], [1]])
        #expect(got.variables.allSatisfy { $0.dtype == .float32 })
        #expect(got.variables.map(\.keras2Name)[5] == "time_distributed/kernel:0")
        #expect(got.variables.map(\.keras2Name)[7] == "bidirectional/forward_lstm/lstm_cell/kernel:0")
        #expect(got.variables.map(\.scopedPath)[7] == "sequential_7/bidirectional/forward_lstm/lstm_cell/kernel")
        #expect(got.variables.map(\.h5Path)[7] == "layers/bidirectional/forward_layer/cell/vars/0")
        #expect(got.variables.map(\.h5Path)[5] == "layers/time_distributed/layer/vars/0")
    }

    /// tf.keras TFOpLambda layers (`x + y`, `tf.nn.relu`) carry no variables; elementwise ones keep
    /// the broadcast shape, so the Dense after them is built on 4 features: kernel (4, 2).
    @Test func keras2TFOpLambda() throws {
        let text = #"""
        {"class_name": "Functional", "config": {"name": "model", "layers": [
          {"class_name": "InputLayer", "config": {"batch_input_shape": [null, 4], "name": "x"}, "name": "x", "inbound_nodes": []},
          {"class_name": "Dense", "config": {"name": "d0", "units": 4}, "name": "d0", "inbound_nodes": [[["x", 0, 0, {}]]]},
          {"class_name": "TFOpLambda", "config": {"name": "tf.__operators__.add", "function": "__operators__.add"}, "name": "tf.__operators__.add", "inbound_nodes": [[["d0", 0, 0, {"y": ["x", 0, 0], "name": null}]]]},
          {"class_name": "TFOpLambda", "config": {"name": "tf.nn.relu", "function": "nn.relu"}, "name": "tf.nn.relu", "inbound_nodes": [[["tf.__operators__.add", 0, 0, {"name": null}]]]},
          {"class_name": "Dense", "config": {"name": "d1", "units": 2}, "name": "d1", "inbound_nodes": [[["tf.nn.relu", 0, 0, {}]]]}
        ], "input_layers": [["x", 0, 0]], "output_layers": [["d1", 0, 0]]}, "keras_version": "2.12.0", "backend": "tensorflow"}
        """#
        let got = try KerasArchitecture(text: text).variables()
        #expect(got.variables.map(\.path) == ["d0/kernel", "d0/bias", "d1/kernel", "d1/bias"])
        #expect(got.variables.map(\.shape) == [[4, 4], [4], [4, 2], [2]])
        #expect(got.variables.map(\.h5Path)[2] == "layers/dense_1/vars/0")
    }

    /// Mixed precision: variables stay float32 (`mixed_float16` → variable dtype float32, compute
    /// float16); a float16 layer stores float16 variables.
    @Test func dtypePolicies() throws {
        let mixed = try KerasDTypePolicy(name: "mixed_float16")
        #expect(mixed.variableDType == .float32)
        #expect(mixed.computeDType == .float16)
        let object = try KerasDTypePolicy(json: try JSONParser.parse(#"{"module": "keras", "class_name": "DTypePolicy", "config": {"name": "mixed_bfloat16"}, "registered_name": null}"#), inherited: .float32)
        #expect(object.variableDType == .float32)
        #expect(object.computeDType == .bfloat16)
        #expect(try KerasDTypePolicy(json: .string("float16"), inherited: .float32).variableDType == .float16)
        #expect(try KerasDTypePolicy(json: nil, inherited: mixed) == mixed)
        #expect(throws: CheckpointError.self) { try KerasDTypePolicy(name: "mixed_int8") }
        #expect(throws: CheckpointError.self) { try KerasDTypePolicy(name: "string") }
        #expect(try KerasDTypePolicy(json: .string("string"), inherited: .float32).variableDType == .float32)
        #expect(try KerasDTypePolicy(json: .string("uint8"), inherited: .float32).variableDType == .uint8)
        let quantized = #expect(throws: CheckpointError.self) { try KerasDTypePolicy(name: "int8_from_mixed_bfloat16") }
        #expect(quantized?.code == .unsupported)
    }

    // MARK: - Unknown layers and errors

    static let customLayerModel = #"""
    {"module": "keras", "class_name": "Sequential", "config": {"name": "sequential", "trainable": true, "layers": [
      {"module": "keras.layers", "class_name": "InputLayer", "config": {"batch_shape": [null, 8], "dtype": "float32", "name": "input_layer"}},
      {"module": "keras.layers", "class_name": "Dense", "config": {"name": "dense", "units": 4}, "build_config": {"input_shape": [null, 8]}},
      {"module": "my_package", "class_name": "MyBlock", "config": {"name": "my_block", "width": 7}, "registered_name": "Custom>MyBlock", "build_config": {"input_shape": [null, 4]}},
      {"module": "keras.layers", "class_name": "Dense", "config": {"name": "dense_1", "units": 2}}
    ]}}
    """#

    @Test func unknownLayerIsAClearError() throws {
        let arch = try KerasArchitecture(text: Self.customLayerModel)
        let error = #expect(throws: CheckpointError.self) { try arch.variables() }
        #expect(error?.code == .unknownLayer)
        #expect(error?.reason.contains("MyBlock") == true)
        #expect(error?.reason.contains("my_block") == true)
        #expect(error?.hint != nil)
    }

    @Test func unknownLayersCanBeAllowed() throws {
        let arch = try KerasArchitecture(text: Self.customLayerModel)
        let got = try arch.variables(options: KerasInferenceOptions(allowUnknownLayers: true))
        // dense_1 follows the unknown layer and has no build_config: its input is unknown too.
        #expect(got.variables.map(\.path) == ["dense/kernel", "dense/bias"])
        #expect(got.unknownLayers.map(\.name) == ["my_block", "dense_1"])
        #expect(got.unknownLayers.map(\.reason) == [.unknownClass, .inputShapeUnknown])
        #expect(got.unknownLayers.map(\.h5Group) == ["layers/my_block", "layers/dense_1"])
        #expect(got.unknownLayer(owning: "my_block/w")?.name == "my_block")
        #expect(got.unknownLayer(owning: "sequential/my_block/w")?.name == "my_block")
        #expect(got.unknownLayer(owning: "dense_1/kernel")?.name == "dense_1")
        #expect(got.unknownLayer(owning: "dense/kernel") == nil)
        #expect(got.h5Groups.first(where: { $0.path == "layers/my_block/vars" })?.datasetCount == nil)
        // Optimizer slots follow the trainable order, which is unknown here.
        let adam = try KerasOptimizerConfig(className: "adam")
        let error = #expect(throws: CheckpointError.self) { try adam.stateVariables(for: got) }
        #expect(error?.code == .unknownLayer)
        // Unknown layers nested in a wrapper are reported with their H5 group.
        let wrapped = #"""
        {"class_name": "Sequential", "config": {"name": "s", "layers": [
          {"class_name": "InputLayer", "config": {"batch_input_shape": [null, 4, 3]}},
          {"class_name": "Bidirectional", "config": {"name": "bidirectional", "layer": {"class_name": "MyRNN", "config": {"name": "my_rnn"}}}}
        ]}, "keras_version": "2.15.0"}
        """#
        let w = try KerasArchitecture(text: wrapped).variables(options: KerasInferenceOptions(allowUnknownLayers: true))
        #expect(w.unknownLayers.map(\.name) == ["forward_my_rnn", "backward_my_rnn"])
        #expect(w.unknownLayers.map(\.h5Group) == ["layers/bidirectional/forward_layer", "layers/bidirectional/backward_layer"])
        #expect(w.unknownLayer(owning: "forward_my_rnn/cell/kernel")?.name == "forward_my_rnn")
        #expect(w.unknownLayer(owning: "bidirectional/backward_my_rnn/cell/kernel")?.name == "backward_my_rnn")
    }

    @Test(arguments: [
        (#"[1, 2]"#, CheckpointError.Code.invalidArchitecture),
        (#"{"class_name": "Dense", "config": {"units": 3}}"#, .invalidArchitecture),
        (#"{"class_name": "Sequential", "config": {"name": "s"}}"#, .invalidArchitecture),
        (#"{"class_name": "Sequential", "config": {"name": "s", "layers": [{"class_name": "Dense", "config": {"name": "d", "units": 3}}]}}"#, .invalidArchitecture),
        (#"{"class_name": "Sequential", "config": {"name": "s", "layers": [{"class_name": "InputLayer", "config": {"batch_input_shape": [null, 3]}}, {"class_name": "Dense", "config": {"name": "d", "units": "three"}}]}}"#, .invalidArchitecture),
        (#"{"class_name": "Sequential", "config": {"name": "s", "layers": [{"class_name": "InputLayer", "config": {"batch_input_shape": [null, null]}}, {"class_name": "Dense", "config": {"name": "d", "units": 3}}]}}"#, .invalidArchitecture),
        (#"{"class_name": "Sequential", "config": {"name": "s", "layers": [{"class_name": "InputLayer", "config": {"batch_input_shape": [null, 3]}}, {"class_name": "Dense", "config": {"name": "d", "units": 3, "dtype": "int8_from_float32"}}]}}"#, .unsupported),
        (#"{"class_name": "Functional", "config": {"name": "f", "layers": [{"class_name": "InputLayer", "config": {"batch_input_shape": [null, 3], "name": "i"}, "name": "i", "inbound_nodes": []}], "input_layers": [["i", 0, 0]], "output_layers": [["nope", 0, 0]]}}"#, .invalidArchitecture),
        (#"{"class_name": "Functional", "config": {"name": "f", "layers": [{"class_name": "InputLayer", "config": {"batch_input_shape": [null, 3], "name": "i"}, "name": "i", "inbound_nodes": []}, {"class_name": "Dense", "config": {"name": "a", "units": 2}, "name": "a", "inbound_nodes": [[["b", 0, 0, {}]]]}, {"class_name": "Dense", "config": {"name": "b", "units": 2}, "name": "b", "inbound_nodes": [[["a", 0, 0, {}]]]}], "input_layers": [["i", 0, 0]], "output_layers": [["b", 0, 0]]}}"#, .invalidArchitecture),
        (#"{"class_name": "Functional", "config": {"name": "f", "layers": [{"class_name": "InputLayer", "config": {"batch_input_shape": [null, 3], "name": "i"}, "name": "i", "inbound_nodes": []}, {"class_name": "Dense", "config": {"name": "a", "units": 2}, "name": "a", "inbound_nodes": [[["i", 3, 0, {}]]]}], "input_layers": [["i", 0, 0]], "output_layers": [["a", 0, 0]]}}"#, .invalidArchitecture),
        (#"{"class_name": "Sequential", "config": {"name": "s", "layers": [{"class_name": "InputLayer", "config": {"batch_input_shape": [null, 5, 5, 3]}}, {"class_name": "Conv2D", "config": {"name": "c", "filters": 4, "kernel_size": 7}}]}}"#, .invalidArchitecture),
    ])
    func badArchitecturesAreClearErrors(text: String, code: CheckpointError.Code) throws {
        let error = #expect(throws: CheckpointError.self) {
            let arch = try KerasArchitecture(text: text)
            _ = try arch.variables()
        }
        #expect(error?.code == code)
        #expect(error?.description.isEmpty == false)
    }

    // MARK: - Names

    @Test func snakeCaseMatchesKeras() {
        let cases = [("Conv2D", "conv2d"), ("BatchNormalization", "batch_normalization"), ("PReLU", "p_re_lu"),
                     ("LSTM", "lstm"), ("MultiHeadAttention", "multi_head_attention"), ("Conv2DTranspose", "conv2d_transpose"),
                     ("SimpleRNN", "simple_rnn"), ("ReLU", "re_lu"), ("RMSNormalization", "rms_normalization"),
                     ("ConvLSTM2D", "conv_lstm2d"), ("GlobalAveragePooling2D", "global_average_pooling2d"),
                     ("RMSprop", "rm_sprop"), ("AdamW", "adam_w"), ("SGD", "sgd"), ("UpSampling1D", "up_sampling1d")]
        for (a, b) in cases { #expect(KerasNames.snakeCase(a) == b, "\(a)") }
    }

    @Test func nameMatchingIgnoresModelPrefixAndSuffix() {
        #expect(KerasNames.stripModelPrefix("sequential/dense/kernel", modelName: "sequential") == "dense/kernel")
        #expect(KerasNames.stripModelPrefix("dense/kernel", modelName: "sequential") == "dense/kernel")
        #expect(KerasNames.stripModelPrefix("sequential_1/dense/kernel", modelName: "sequential") == "sequential_1/dense/kernel")
        #expect(KerasNames.stripTensorSuffix("dense/kernel:0") == "dense/kernel")
        #expect(KerasNames.stripTensorSuffix("a:b") == "a:b")
        #expect(KerasNames.sameVariable("sequential/dense/kernel", "dense/kernel:0", modelName: "sequential"))
        #expect(!KerasNames.sameVariable("dense/kernel", "dense/bias", modelName: "sequential"))
    }

    /// Every class name in a JSON tree (layers, nested layers, initializers, ...).
    static func classNames(_ v: JSONValue, into out: inout Set<String>) {
        switch v {
        case .object(let o):
            for (k, x) in o {
                if k == "class_name", let name = x.stringValue { out.insert(name) }
                classNames(x, into: &out)
            }
        case .array(let a): for x in a { classNames(x, into: &out) }
        default: break
        }
    }

    /// The layer classes of the brief. Knowing the name is not enough: each must be built by a
    /// model whose variables the fixture tests above compare with what real Keras built, so that
    /// deleting or breaking its build case fails them.
    @Test func layerCatalogCoversTheBriefsLayers() throws {
        let brief = ["InputLayer", "Dense", "EinsumDense", "Conv1D", "Conv2D", "Conv3D", "Conv1DTranspose", "Conv2DTranspose",
                     "Conv3DTranspose", "DepthwiseConv1D", "DepthwiseConv2D", "SeparableConv1D", "SeparableConv2D",
                     "BatchNormalization", "LayerNormalization", "GroupNormalization", "UnitNormalization", "Embedding",
                     "SimpleRNN", "LSTM", "GRU", "Bidirectional", "TimeDistributed", "MultiHeadAttention", "Attention",
                     "AdditiveAttention", "Normalization", "PReLU", "Activation", "Dropout", "Flatten", "Reshape", "Permute",
                     "RepeatVector", "MaxPooling1D", "AveragePooling3D", "GlobalMaxPooling2D", "Add", "Subtract",
                     "Concatenate", "Multiply", "Average", "Maximum", "Minimum", "Dot", "ZeroPadding3D", "Cropping2D",
                     "UpSampling1D", "ReLU", "LeakyReLU", "ELU", "Softmax", "Rescaling", "Resizing", "CenterCrop", "Lambda",
                     "Identity", "Masking", "GaussianNoise", "SpatialDropout2D", "ActivityRegularization", "Convolution2D"]
        var checkedAgainstKeras = Set<String>()
        for model in KerasFixtures.models {
            Self.classNames(try KerasFixtures.json(KerasFixtures.kerasDir.appendingPathComponent(model).appendingPathComponent("architecture.json")),
                            into: &checkedAgainstKeras)
        }
        for model in KerasFixtures.extraModels {
            Self.classNames(try KerasFixtures.json(KerasFixtures.extraDir.appendingPathComponent(model).appendingPathComponent("architecture.json")),
                            into: &checkedAgainstKeras)
        }
        for c in brief {
            #expect(KerasLayerCatalog.isKnown(c), "\(c)")
            let canonical = KerasLayerCatalog.canonicalClassName(c)
            #expect(checkedAgainstKeras.contains(canonical), "\(c): no fixture built by real Keras uses it, so its variables are not checked")
        }
        #expect(!KerasLayerCatalog.isKnown("MyBlock"))
        // An alias builds exactly what its class builds.
        func conv(_ cls: String) throws -> [KerasVariable] {
            try KerasArchitecture(text: #"{"class_name": "Sequential", "config": {"name": "s", "layers": [{"class_name": "InputLayer", "config": {"batch_input_shape": [null, 8, 8, 3]}}, {"class_name": "\#(cls)", "config": {"name": "c", "filters": 4, "kernel_size": 3}}]}}"#).variables().variables
        }
        let alias = try conv("Convolution2D")
        #expect(alias == (try conv("Conv2D")))
        #expect(alias.map(\.shape) == [[3, 3, 3, 4], [4]])
    }
}

/// Hostile architectures: random mutations of real ones must give a result or a CheckpointError,
/// never a crash or another error type.
@Suite(.reportsSeeds) struct KerasArchitectureFuzzTests {
    static let replacements: [JSONValue] = [
        .null, .number("-1"), .number("0"), .number("1e30"), .number("9999999999999"), .number("2.5"),
        .string("x"), .string("channels_first"), .array([]), .object([]), .bool(true),
        .array([.null, .number("3")]), .array([.number("-5")]),
    ]

    /// Counts the nodes of a JSON tree.
    static func count(_ v: JSONValue) -> Int {
        switch v {
        case .array(let a): return 1 + a.reduce(0) { $0 + count($1) }
        case .object(let o): return 1 + o.reduce(0) { $0 + count($1.1) }
        default: return 1
        }
    }

    /// Replaces (or, for object members, sometimes deletes) node number `target` in pre-order.
    static func mutate(_ v: JSONValue, target: Int, counter: inout Int, with replacement: JSONValue, delete: Bool) -> JSONValue? {
        if counter == target { counter += 1; return delete ? nil : replacement }
        counter += 1
        switch v {
        case .array(let a):
            return .array(a.compactMap { mutate($0, target: target, counter: &counter, with: replacement, delete: false) })
        case .object(let o):
            var out: [(String, JSONValue)] = []
            for (k, x) in o {
                if let m = mutate(x, target: target, counter: &counter, with: replacement, delete: delete) { out.append((k, m)) }
            }
            return .object(out)
        default:
            return v
        }
    }

    static let inputs: [String] = KerasFixtures.models.map { "keras/\($0)/architecture.json" } + ["keras/mlp/architecture_legacy.json"]
        + KerasFixtures.extraModels.map { "keras-extra/\($0)/architecture.json" }
        + KerasFixtures.extraKeras2Models.map { "keras-extra/\($0)/architecture_keras2.json" }

    @Test(arguments: inputs)
    func mutatedArchitecturesNeverCrash(file: String) throws {
        let original = try KerasFixtures.json(KerasFixtures.packageRoot.appendingPathComponent("Tests/Fixtures").appendingPathComponent(file))
        let nodes = Self.count(original)
        var rng = SeededRNG(seed: UInt64(truncatingIfNeeded: file.utf8.reduce(0) { $0 &* 31 &+ Int($1) }))
        let iterations = ProcessInfo.processInfo.environment["CKPT_KERAS_FUZZ_ITERATIONS"].flatMap(Int.init) ?? 150
        var accepted = 0, refused = 0
        for _ in 0..<iterations {
            let target = Int.random(in: 0..<nodes, using: &rng)
            let replacement = Self.replacements[Int.random(in: 0..<Self.replacements.count, using: &rng)]
            var counter = 0
            guard let mutated = Self.mutate(original, target: target, counter: &counter, with: replacement,
                                            delete: Bool.random(using: &rng)) else { continue }
            for options in [KerasInferenceOptions(), KerasInferenceOptions(allowUnknownLayers: true, useRecordedShapes: false)] {
                do {
                    let arch = try KerasArchitecture(json: mutated)
                    let v = try arch.variables(options: options)
                    if let opt = try? arch.optimizerConfig(), v.unknownLayers.isEmpty {
                        _ = try opt.stateVariables(for: v)
                    }
                    accepted += 1
                } catch is CheckpointError {
                    refused += 1   // expected for most mutations
                } catch {
                    Issue.record("non-CheckpointError \(error) for a mutation of \(file)")
                }
            }
        }
        // The mutations reach both outcomes: a reader that refused everything (or nothing) would be broken.
        #expect(accepted > 0 && refused > 0, "accepted \(accepted), refused \(refused)")
    }
}
