// Public results of variable inference and the helpers to match tensor names against them.

/// Options for ``KerasArchitecture/variables(options:)``.
public struct KerasInferenceOptions: Sendable, Hashable {
    /// When false (the default) a layer class the toolkit does not model is an error
    /// (`CheckpointError.Code.unknownLayer`). When true such layers (and layers whose input shape
    /// cannot be determined because of them) are listed in ``KerasModelVariables/unknownLayers``
    /// and their variables are left to be taken from the weights file as they are.
    public var allowUnknownLayers: Bool
    /// The backend, for the dtype of `dtype="int"` variables (`Normalization`'s `count`).
    /// Defaults to TensorFlow (int64), the backend Keras files are most often written with.
    public var backend: KerasBackend
    /// When true (the default) shapes Keras recorded in the JSON (`build_config`, the shapes of
    /// Keras 3 node tensors) are used before propagated ones. False propagates every shape from
    /// the model inputs (what a Keras 2 JSON always needs); useful to check propagation.
    public var useRecordedShapes: Bool

    public init(allowUnknownLayers: Bool = false, backend: KerasBackend = .tensorflow, useRecordedShapes: Bool = true) {
        self.allowUnknownLayers = allowUnknownLayers
        self.backend = backend
        self.useRecordedShapes = useRecordedShapes
    }
}

/// One variable of a Keras model, as Keras 3 creates it from the architecture.
public struct KerasVariable: Sendable, Hashable {
    /// Position in `model.weights`.
    public var index: Int
    /// Keras 3 variable path as `keras.models.model_from_json` (or `load_model`) gives it for this
    /// JSON: `dense/kernel`, `lstm/lstm_cell/kernel`, `forward_lstm/lstm_cell/kernel`. For a
    /// Keras 2 JSON: the path Keras 3 gives the same model saved by Keras 3 (every layer built).
    /// This is the canonical tensor name.
    public var path: String
    /// The variable's own name (`kernel`).
    public var name: String
    /// The shape `build()` gives it.
    public var shape: [Int]
    /// The layer's dtype policy's variable dtype (or the dtype the layer asks for, like `count`'s int).
    public var dtype: DType
    /// Member of `model.trainable_variables` (false when the variable or any enclosing layer or
    /// model is not trainable).
    public var trainable: Bool
    /// The top-level layer that owns it.
    public var layer: String
    /// The top-level layer's class.
    public var layerClass: String
    /// The dataset Keras 3's saver writes it to in `model.weights.h5`: `layers/dense/vars/0`,
    /// `layers/lstm/cell/vars/1`, `layers/bidirectional/forward_layer/cell/vars/0`.
    public var h5Path: String
    /// The Keras 2 (tf.keras) variable name: `dense/kernel:0`, `lstm/lstm_cell/kernel:0`,
    /// `bidirectional/forward_lstm/lstm_cell/kernel:0`, `time_distributed/kernel:0`.
    public var keras2Name: String
    /// The path when every object is built inside its parent's name scope, as when the model is
    /// built in Python code or loaded from JSON without `build_config`:
    /// `sequential/dense/kernel`, `bidirectional/forward_lstm/lstm_cell/kernel`,
    /// `inner_model/dense/kernel`. Includes the model name for Sequential models.
    public var scopedPath: String

    public init(index: Int, path: String, name: String, shape: [Int], dtype: DType, trainable: Bool, layer: String,
                layerClass: String, h5Path: String, keras2Name: String, scopedPath: String) {
        self.index = index
        self.path = path
        self.name = name
        self.shape = shape
        self.dtype = dtype
        self.trainable = trainable
        self.layer = layer
        self.layerClass = layerClass
        self.h5Path = h5Path
        self.keras2Name = keras2Name
        self.scopedPath = scopedPath
    }

    /// The variable as a checkpoint tensor (named by ``path``).
    public var tensorInfo: TensorInfo {
        TensorInfo(name: path, dtype: dtype, shape: shape, role: .weight, trainable: trainable)
    }

    /// Every name this variable may be found under in a weights file (deduplicated, canonical first):
    /// the path, the scoped path, and the Keras 2 name without `:0`.
    public var alternateNames: [String] {
        var out = [path]
        for n in [scopedPath, KerasNames.stripTensorSuffix(keras2Name)] where !out.contains(n) { out.append(n) }
        return out
    }
}

/// A layer whose variables could not be inferred (only with
/// ``KerasInferenceOptions/allowUnknownLayers``).
public struct KerasUnknownLayer: Sendable, Hashable {
    /// Why the layer's variables are unknown.
    public enum Reason: String, Sendable, Hashable {
        /// The layer class is not modelled (custom layers, `TextVectorization`, ...).
        case unknownClass
        /// The class is known but its input shape could not be determined (it follows an unknown
        /// layer, or a `Lambda` without `output_shape`, and the JSON recorded no shape).
        case inputShapeUnknown
    }

    /// The layer name (for layers inside a nested model: the inner layer's name).
    public var name: String
    /// The layer's class as written.
    public var className: String
    /// Why its variables are unknown.
    public var reason: Reason
    /// The H5 group of the layer in `model.weights.h5`, e.g. `layers/my_layer` (its variables are
    /// below `<h5Group>/vars`, `<h5Group>/<attribute>/vars`).
    public var h5Group: String
    /// The path prefixes its variables carry (`my_layer/`, and the scoped variant).
    public var pathPrefixes: [String]
    /// Where its variables go in `model.weights`: after this many of the known variables (the
    /// layer's place in the graph's layer order).
    public var variablesBefore: Int = 0

    /// Whether a tensor named `tensorName` (with or without a model-name prefix) belongs to this
    /// layer.
    public func owns(_ tensorName: String, modelName: String? = nil) -> Bool {
        let candidates = KerasNames.candidates(tensorName, modelName: modelName)
        return candidates.contains { c in pathPrefixes.contains { c.hasPrefix($0) } }
    }
}

/// An object Keras 3's saver visits when it writes `model.weights.h5`.
public struct KerasH5Group: Sendable, Hashable {
    /// The group holding the object's datasets: `vars` (the model), `layers/dense/vars`.
    public var path: String
    /// The `name` attribute Keras writes on the group (the object's name; for sub-objects whose
    /// name Keras generates, the name it has in a fresh Python process).
    public var objectName: String
    /// Number of datasets (variables) in the group; nil for unknown layers.
    public var datasetCount: Int?
}

/// The variables of a model, inferred from its architecture alone.
public struct KerasModelVariables: Sendable {
    /// The dialect of the architecture the variables were inferred from.
    public let dialect: KerasDialect
    /// The model name (the prefix Keras puts on variable paths of a Sequential model built in code).
    public let modelName: String
    /// `Sequential` or `Functional`.
    public let modelClass: String
    /// All variables in `model.weights` order.
    public let variables: [KerasVariable]
    /// Layers whose variables could not be inferred.
    public let unknownLayers: [KerasUnknownLayer]
    /// Every object the Keras 3 saver visits for the model part of `model.weights.h5`, in visiting order.
    public let h5Groups: [KerasH5Group]
    /// Variable index by path, then by every alternate name (first wins).
    /// (Compared as bytes: ``ByteName``.)
    private let byPath: [ByteName: Int]
    private let byAlternate: [ByteName: Int]

    public init(dialect: KerasDialect, modelName: String, modelClass: String, variables: [KerasVariable],
                unknownLayers: [KerasUnknownLayer], h5Groups: [KerasH5Group]) {
        self.dialect = dialect
        self.modelName = modelName
        self.modelClass = modelClass
        self.variables = variables
        self.unknownLayers = unknownLayers
        self.h5Groups = h5Groups
        var byPath: [ByteName: Int] = [:]
        var byAlternate: [ByteName: Int] = [:]
        for (i, v) in variables.enumerated() {
            if byPath[ByteName(v.path)] == nil { byPath[ByteName(v.path)] = i }
            for n in v.alternateNames where byAlternate[ByteName(n)] == nil { byAlternate[ByteName(n)] = i }
        }
        self.byPath = byPath
        self.byAlternate = byAlternate
    }

    /// `model.trainable_variables`, the order optimizer slots are built in.
    public var trainableVariables: [KerasVariable] { variables.filter(\.trainable) }

    /// The variables as checkpoint tensors.
    public var tensorInfos: [TensorInfo] { variables.map(\.tensorInfo) }

    /// The variable a tensor name refers to: the canonical path, the scoped path, or the Keras 2
    /// name (`:0` optional), each with or without a leading `<model name>/`.
    public func variable(named tensorName: String) -> KerasVariable? {
        let candidates = KerasNames.candidates(tensorName, modelName: modelName)
        for c in candidates {
            if let i = byPath[ByteName(c)] { return variables[i] }
        }
        for c in candidates {
            if let i = byAlternate[ByteName(c)] { return variables[i] }
        }
        return nil
    }

    /// The unknown layer a tensor belongs to, if any.
    public func unknownLayer(owning tensorName: String) -> KerasUnknownLayer? {
        unknownLayers.first { $0.owns(tensorName, modelName: modelName) }
    }
}

/// Naming helpers.
public enum KerasNames {
    /// Keras's `to_snake_case` (`keras/src/utils/naming.py`): `Conv2D` → `conv2d`,
    /// `BatchNormalization` → `batch_normalization`, `PReLU` → `p_re_lu`.
    public static func snakeCase(_ name: String) -> String {
        // re.sub(r"\W+", "", name)
        let word = name.unicodeScalars.filter { $0 == "_" || $0.properties.isAlphabetic || $0.properties.numericType != nil }
        var chars = Array(String(String.UnicodeScalarView(word)))
        func isUpper(_ c: Character) -> Bool { c.isASCII && c.isUppercase }
        func isLower(_ c: Character) -> Bool { c.isASCII && c.isLowercase }
        // re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name): scan left to right, matches do not overlap.
        var out: [Character] = []
        var i = 0
        while i < chars.count {
            if i + 2 < chars.count, isUpper(chars[i + 1]), isLower(chars[i + 2]) {
                var j = i + 3
                while j < chars.count, isLower(chars[j]) { j += 1 }
                out.append(chars[i])
                out.append("_")
                out.append(contentsOf: chars[(i + 1)..<j])
                i = j
            } else {
                out.append(chars[i])
                i += 1
            }
        }
        chars = out
        // re.sub("([a-z])([A-Z])", r"\1_\2", name).lower()
        out = []
        i = 0
        while i < chars.count {
            if i + 1 < chars.count, isLower(chars[i]), isUpper(chars[i + 1]) {
                out.append(chars[i])
                out.append("_")
                out.append(chars[i + 1])
                i += 2
            } else {
                out.append(chars[i])
                i += 1
            }
        }
        return String(out).lowercased()
    }

    /// `dense/kernel:0` → `dense/kernel` (any `:<digits>` suffix).
    public static func stripTensorSuffix(_ name: String) -> String {
        guard let colon = name.lastIndex(of: ":") else { return name }
        let tail = name[name.index(after: colon)...]
        guard !tail.isEmpty, tail.allSatisfy(\.isASCII), tail.allSatisfy(\.isNumber) else { return name }
        return String(name[..<colon])
    }

    /// `sequential/dense/kernel` → `dense/kernel` when the model is named `sequential`; other
    /// names are returned unchanged.
    public static func stripModelPrefix(_ name: String, modelName: String) -> String {
        let prefix = modelName + "/"
        return name.hasPrefix(prefix) && name.count > prefix.count ? String(name.dropFirst(prefix.count)) : name
    }

    /// Whether two variable names denote the same variable, ignoring a leading model-name prefix
    /// on either side and a `:0` suffix.
    public static func sameVariable(_ a: String, _ b: String, modelName: String) -> Bool {
        let x = stripModelPrefix(stripTensorSuffix(a), modelName: modelName)
        let y = stripModelPrefix(stripTensorSuffix(b), modelName: modelName)
        return x == y
    }

    /// The forms a tensor name is looked up under: as given, without `:0`, without the model prefix.
    static func candidates(_ name: String, modelName: String?) -> [String] {
        var out = [name]
        let bare = stripTensorSuffix(name)
        if !out.contains(bare) { out.append(bare) }
        if let modelName {
            for n in [name, bare] {
                let s = stripModelPrefix(n, modelName: modelName)
                if !out.contains(s) { out.append(s) }
            }
            let prefixed = modelName + "/" + bare
            if !bare.hasPrefix(modelName + "/"), !out.contains(prefixed) { out.append(prefixed) }
        }
        return out
    }
}

extension KerasArchitecture {
    /// Infers every variable of the model from the architecture alone, in `model.weights` order,
    /// with Keras 3 paths, shapes, dtypes, trainability, Keras 2 names and `model.weights.h5`
    /// locations.
    ///
    /// Throws `CheckpointError` with code `.unknownLayer` for a layer class that is not modelled
    /// (unless `options.allowUnknownLayers`), `.invalidArchitecture` for a config that cannot be
    /// interpreted (naming the layer), `.unsupported` for quantized or LoRA layers.
    public func variables(options: KerasInferenceOptions = KerasInferenceOptions()) throws -> KerasModelVariables {
        let engine = KerasModelEngine(dialect: dialect, options: options)
        let result = try engine.buildTopModel(model)
        var variables: [KerasVariable] = []
        var groups: [KerasH5Group] = []
        var positions: [String: Int] = [:]
        KerasModelEngine.flatten(result.object, objectPath: "", layer: nil, variables: &variables, groups: &groups, unknownPositions: &positions)
        for i in variables.indices { variables[i].index = i }
        var unknown = result.unknown
        for i in unknown.indices { unknown[i].variablesBefore = positions[unknown[i].h5Group] ?? variables.count }
        return KerasModelVariables(dialect: dialect, modelName: model.name,
                                   modelClass: model.kind == .sequential ? "Sequential" : "Functional",
                                   variables: variables, unknownLayers: unknown, h5Groups: groups)
    }
}
