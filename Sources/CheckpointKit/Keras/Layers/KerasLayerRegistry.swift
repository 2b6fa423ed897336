// The Keras layer classes whose variables are known, one entry each: whether the class has
// variables, the names of those its `build()` may create (and which are created non-trainable),
// and the function that builds it (Keras 3.15, `keras/src/layers/...`). The build functions are in
// Layers/KerasLayers*.swift, grouped by kind.
//
// Adding a layer class: a case here, its entry in `entry` (the switch has no default, so the
// compiler asks for it) and, for a class with variables, its build function.

/// The layer classes whose variables are known.
enum KerasLayerClass: String, Sendable, Hashable, CaseIterable {
    // Without variables, output shaped like the input.
    case activation = "Activation", dropout = "Dropout", alphaDropout = "AlphaDropout", gaussianDropout = "GaussianDropout"
    case gaussianNoise = "GaussianNoise", spatialDropout1D = "SpatialDropout1D", spatialDropout2D = "SpatialDropout2D", spatialDropout3D = "SpatialDropout3D"
    case activityRegularization = "ActivityRegularization", masking = "Masking", identity = "Identity", relu = "ReLU"
    case leakyRelu = "LeakyReLU", elu = "ELU", softmax = "Softmax", thresholdedRelu = "ThresholdedReLU"
    case rescaling = "Rescaling", unitNormalization = "UnitNormalization", randomFlip = "RandomFlip", randomRotation = "RandomRotation"
    case randomZoom = "RandomZoom", randomContrast = "RandomContrast", randomTranslation = "RandomTranslation", randomBrightness = "RandomBrightness"
    case randomHue = "RandomHue", randomSaturation = "RandomSaturation", randomGrayscale = "RandomGrayscale", randomSharpness = "RandomSharpness"
    case randomShear = "RandomShear", randomColorDegeneration = "RandomColorDegeneration", randomColorJitter = "RandomColorJitter", randomInvert = "RandomInvert"
    case randomPosterization = "RandomPosterization", randomErasing = "RandomErasing", randomGaussianBlur = "RandomGaussianBlur", randomPerspective = "RandomPerspective"
    case randomElasticTransform = "RandomElasticTransform", solarization = "Solarization", autoContrast = "AutoContrast", equalization = "Equalization"
    case augMix = "AugMix", cutMix = "CutMix", mixUp = "MixUp", randAugment = "RandAugment"
    case contrastLimitedAdaptiveHistogramEqualization = "ContrastLimitedAdaptiveHistogramEqualization"
    // Without variables.
    case inputLayer = "InputLayer"
    case lambda = "Lambda"
    case tfOpLambda = "TFOpLambda"
    case slicingOpLambda = "SlicingOpLambda"
    case flatten = "Flatten"
    case reshape = "Reshape"
    case permute = "Permute"
    case repeatVector = "RepeatVector"
    case maxPooling1D = "MaxPooling1D"
    case averagePooling1D = "AveragePooling1D"
    case maxPooling2D = "MaxPooling2D"
    case averagePooling2D = "AveragePooling2D"
    case maxPooling3D = "MaxPooling3D"
    case averagePooling3D = "AveragePooling3D"
    case globalMaxPooling1D = "GlobalMaxPooling1D"
    case globalAveragePooling1D = "GlobalAveragePooling1D"
    case globalMaxPooling2D = "GlobalMaxPooling2D"
    case globalAveragePooling2D = "GlobalAveragePooling2D"
    case globalMaxPooling3D = "GlobalMaxPooling3D"
    case globalAveragePooling3D = "GlobalAveragePooling3D"
    case adaptiveMaxPooling1D = "AdaptiveMaxPooling1D"
    case adaptiveAveragePooling1D = "AdaptiveAveragePooling1D"
    case adaptiveMaxPooling2D = "AdaptiveMaxPooling2D"
    case adaptiveAveragePooling2D = "AdaptiveAveragePooling2D"
    case adaptiveMaxPooling3D = "AdaptiveMaxPooling3D"
    case adaptiveAveragePooling3D = "AdaptiveAveragePooling3D"
    case add = "Add"
    case subtract = "Subtract"
    case multiply = "Multiply"
    case average = "Average"
    case maximum = "Maximum"
    case minimum = "Minimum"
    case concatenate = "Concatenate"
    case dot = "Dot"
    case zeroPadding1D = "ZeroPadding1D"
    case zeroPadding2D = "ZeroPadding2D"
    case zeroPadding3D = "ZeroPadding3D"
    case cropping1D = "Cropping1D"
    case cropping2D = "Cropping2D"
    case cropping3D = "Cropping3D"
    case upSampling1D = "UpSampling1D"
    case upSampling2D = "UpSampling2D"
    case upSampling3D = "UpSampling3D"
    case resizing = "Resizing"
    case centerCrop = "CenterCrop"
    case randomCrop = "RandomCrop"
    // With variables (own, or of the layers they wrap).
    case dense = "Dense"
    case einsumDense = "EinsumDense"
    case embedding = "Embedding"
    case reversibleEmbedding = "ReversibleEmbedding"
    case conv1D = "Conv1D"
    case conv2D = "Conv2D"
    case conv3D = "Conv3D"
    case conv1DTranspose = "Conv1DTranspose"
    case conv2DTranspose = "Conv2DTranspose"
    case conv3DTranspose = "Conv3DTranspose"
    case depthwiseConv1D = "DepthwiseConv1D"
    case depthwiseConv2D = "DepthwiseConv2D"
    case separableConv1D = "SeparableConv1D"
    case separableConv2D = "SeparableConv2D"
    case batchNormalization = "BatchNormalization"
    case layerNormalization = "LayerNormalization"
    case groupNormalization = "GroupNormalization"
    case rmsNormalization = "RMSNormalization"
    case normalization = "Normalization"
    case prelu = "PReLU"
    case simpleRNN = "SimpleRNN"
    case lstm = "LSTM"
    case gru = "GRU"
    case convLSTM1D = "ConvLSTM1D"
    case convLSTM2D = "ConvLSTM2D"
    case convLSTM3D = "ConvLSTM3D"
    case simpleRNNCell = "SimpleRNNCell"
    case lstmCell = "LSTMCell"
    case gruCell = "GRUCell"
    case rnn = "RNN"
    case stackedRNNCells = "StackedRNNCells"
    case bidirectional = "Bidirectional"
    case timeDistributed = "TimeDistributed"
    case multiHeadAttention = "MultiHeadAttention"
    case groupQueryAttention = "GroupQueryAttention"
    case attention = "Attention"
    case additiveAttention = "AdditiveAttention"

    /// The registry entry: everything known about the class.
    var entry: KerasLayerEntry {
        typealias L = KerasLayerCatalog
        switch self {
        case .activation, .dropout, .alphaDropout, .gaussianDropout, .gaussianNoise,
             .spatialDropout1D, .spatialDropout2D, .spatialDropout3D, .activityRegularization, .masking,
             .identity, .relu, .leakyRelu, .elu, .softmax,
             .thresholdedRelu, .rescaling, .unitNormalization, .randomFlip, .randomRotation,
             .randomZoom, .randomContrast, .randomTranslation, .randomBrightness, .randomHue,
             .randomSaturation, .randomGrayscale, .randomSharpness, .randomShear, .randomColorDegeneration,
             .randomColorJitter, .randomInvert, .randomPosterization, .randomErasing, .randomGaussianBlur,
             .randomPerspective, .randomElasticTransform, .solarization, .autoContrast, .equalization,
             .augMix, .cutMix, .mixUp, .randAugment,
             .contrastLimitedAdaptiveHistogramEqualization:
            return .shapePreserving
        case .inputLayer: return .weightless { $0.outputs = [try KerasModelEngine.inputLayerShape($0.layer)] }
        case .lambda: return .weightless(L.lambda)
        case .tfOpLambda: return .weightless { L.tfOpLambda(&$0) }
        case .slicingOpLambda: return .weightless { L.tfOpLambda(&$0) }
        case .flatten: return .weightless(L.flatten)
        case .reshape: return .weightless(L.reshape)
        case .permute: return .weightless(L.permute)
        case .repeatVector: return .weightless(L.repeatVector)
        case .maxPooling1D: return .weightless { try L.pooling(&$0, rank: 1) }
        case .averagePooling1D: return .weightless { try L.pooling(&$0, rank: 1) }
        case .maxPooling2D: return .weightless { try L.pooling(&$0, rank: 2) }
        case .averagePooling2D: return .weightless { try L.pooling(&$0, rank: 2) }
        case .maxPooling3D: return .weightless { try L.pooling(&$0, rank: 3) }
        case .averagePooling3D: return .weightless { try L.pooling(&$0, rank: 3) }
        case .globalMaxPooling1D: return .weightless(L.globalPooling)
        case .globalAveragePooling1D: return .weightless(L.globalPooling)
        case .globalMaxPooling2D: return .weightless(L.globalPooling)
        case .globalAveragePooling2D: return .weightless(L.globalPooling)
        case .globalMaxPooling3D: return .weightless(L.globalPooling)
        case .globalAveragePooling3D: return .weightless(L.globalPooling)
        case .adaptiveMaxPooling1D: return .weightless { try L.adaptivePooling(&$0, rank: 1) }
        case .adaptiveAveragePooling1D: return .weightless { try L.adaptivePooling(&$0, rank: 1) }
        case .adaptiveMaxPooling2D: return .weightless { try L.adaptivePooling(&$0, rank: 2) }
        case .adaptiveAveragePooling2D: return .weightless { try L.adaptivePooling(&$0, rank: 2) }
        case .adaptiveMaxPooling3D: return .weightless { try L.adaptivePooling(&$0, rank: 3) }
        case .adaptiveAveragePooling3D: return .weightless { try L.adaptivePooling(&$0, rank: 3) }
        case .add: return .weightless(L.elementwise)
        case .subtract: return .weightless(L.elementwise)
        case .multiply: return .weightless(L.elementwise)
        case .average: return .weightless(L.elementwise)
        case .maximum: return .weightless(L.elementwise)
        case .minimum: return .weightless(L.elementwise)
        case .concatenate: return .weightless(L.concatenate)
        case .dot: return .weightless(L.dot)
        case .zeroPadding1D: return .weightless { try L.zeroPadding(&$0, rank: 1) }
        case .zeroPadding2D: return .weightless { try L.zeroPadding(&$0, rank: 2) }
        case .zeroPadding3D: return .weightless { try L.zeroPadding(&$0, rank: 3) }
        case .cropping1D: return .weightless { try L.cropping(&$0, rank: 1) }
        case .cropping2D: return .weightless { try L.cropping(&$0, rank: 2) }
        case .cropping3D: return .weightless { try L.cropping(&$0, rank: 3) }
        case .upSampling1D: return .weightless { try L.upSampling(&$0, rank: 1) }
        case .upSampling2D: return .weightless { try L.upSampling(&$0, rank: 2) }
        case .upSampling3D: return .weightless { try L.upSampling(&$0, rank: 3) }
        case .resizing: return .weightless(L.resizing)
        case .centerCrop: return .weightless(L.resizing)
        case .randomCrop: return .weightless(L.resizing)
        case .dense: return .weighted(["kernel", "bias"], L.dense)
        case .einsumDense: return .weighted(["kernel", "bias"], L.einsumDense)
        case .embedding: return .weighted(["embeddings"], L.embedding)
        case .reversibleEmbedding: return .weighted(["embeddings", "reverse_embeddings"], L.embedding)
        case .conv1D: return .weighted(["kernel", "bias"]) { try L.conv(&$0, rank: 1) }
        case .conv2D: return .weighted(["kernel", "bias"]) { try L.conv(&$0, rank: 2) }
        case .conv3D: return .weighted(["kernel", "bias"]) { try L.conv(&$0, rank: 3) }
        case .conv1DTranspose: return .weighted(["kernel", "bias"]) { try L.convTranspose(&$0, rank: 1) }
        case .conv2DTranspose: return .weighted(["kernel", "bias"]) { try L.convTranspose(&$0, rank: 2) }
        case .conv3DTranspose: return .weighted(["kernel", "bias"]) { try L.convTranspose(&$0, rank: 3) }
        case .depthwiseConv1D: return .weighted(["kernel", "bias"]) { try L.depthwiseConv(&$0, rank: 1) }
        case .depthwiseConv2D: return .weighted(["kernel", "bias"]) { try L.depthwiseConv(&$0, rank: 2) }
        case .separableConv1D: return .weighted(["depthwise_kernel", "pointwise_kernel", "bias"]) { try L.separableConv(&$0, rank: 1) }
        case .separableConv2D: return .weighted(["depthwise_kernel", "pointwise_kernel", "bias"]) { try L.separableConv(&$0, rank: 2) }
        case .batchNormalization: return .weighted(["gamma", "beta", .frozen("moving_mean"), .frozen("moving_variance"), .frozen("moving_stddev"), .frozen("renorm_mean"), .frozen("renorm_stddev")], L.batchNormalization)
        case .layerNormalization: return .weighted(["gamma", "beta"], L.layerNormalization)
        case .groupNormalization: return .weighted(["gamma", "beta"], L.groupNormalization)
        case .rmsNormalization: return .weighted(["scale"], L.rmsNormalization)
        case .normalization: return .weighted([.frozen("mean"), .frozen("variance"), .frozen("count")], L.normalization)
        case .prelu: return .weighted(["alpha"], L.prelu)
        case .simpleRNN: return .weighted(["kernel", "recurrent_kernel", "bias"], L.rnn)
        case .lstm: return .weighted(["kernel", "recurrent_kernel", "bias"], L.rnn)
        case .gru: return .weighted(["kernel", "recurrent_kernel", "bias"], L.rnn)
        case .convLSTM1D: return .weighted(["kernel", "recurrent_kernel", "bias"]) { try L.convLSTM(&$0, rank: 1) }
        case .convLSTM2D: return .weighted(["kernel", "recurrent_kernel", "bias"]) { try L.convLSTM(&$0, rank: 2) }
        case .convLSTM3D: return .weighted(["kernel", "recurrent_kernel", "bias"]) { try L.convLSTM(&$0, rank: 3) }
        case .simpleRNNCell: return .weighted(["kernel", "recurrent_kernel", "bias"], L.rnnCell)
        case .lstmCell: return .weighted(["kernel", "recurrent_kernel", "bias"], L.rnnCell)
        case .gruCell: return .weighted(["kernel", "recurrent_kernel", "bias"], L.rnnCell)
        case .rnn: return .wrapper(L.genericRNN)
        case .stackedRNNCells: return .wrapper(L.stackedCells)
        case .bidirectional: return .wrapper(L.bidirectional)
        case .timeDistributed: return .wrapper(L.timeDistributed)
        case .multiHeadAttention: return .weighted(["kernel", "bias"], L.multiHeadAttention)
        case .groupQueryAttention: return .weighted(["kernel", "bias"], L.groupQueryAttention)
        case .attention: return .weighted(["scale", "concat_score_weight"]) { try L.attention(&$0, additive: false) }
        case .additiveAttention: return .weighted(["scale"]) { try L.attention(&$0, additive: true) }
        }
    }
}

/// A variable a layer's `build()` may create.
struct KerasLayerVariableName: Sendable, Hashable, ExpressibleByStringLiteral {
    var name: String
    /// The `trainable=` argument of `add_weight`.
    var trainable: Bool = true

    init(stringLiteral value: String) { name = value }
    init(name: String, trainable: Bool) {
        self.name = name
        self.trainable = trainable
    }

    /// Created with `trainable=False` (statistics such as `moving_mean`).
    static func frozen(_ name: String) -> Self { .init(name: name, trainable: false) }
}

/// Everything the toolkit knows about one layer class.
struct KerasLayerEntry: Sendable {
    enum Weights: Sendable {
        /// No variables.
        case none
        /// Variables with these names (its own, or of the sub-objects it creates in `build()`).
        case own([KerasLayerVariableName])
        /// The variables of the layers it wraps (Bidirectional, TimeDistributed, RNN).
        case wrapped
    }

    var weights: Weights
    /// `build()` and `compute_output_shape`: reads the config and inputs, adds variables, sets outputs.
    var build: @Sendable (inout LayerBuild) throws -> Void

    /// A layer without variables whose output has the input's shape.
    static let shapePreserving = KerasLayerEntry(weights: .none) { $0.outputs = [try $0.input()] }

    static func weightless(_ build: @escaping @Sendable (inout LayerBuild) throws -> Void) -> Self {
        KerasLayerEntry(weights: .none, build: build)
    }

    static func weighted(_ names: [KerasLayerVariableName], _ build: @escaping @Sendable (inout LayerBuild) throws -> Void) -> Self {
        KerasLayerEntry(weights: .own(names), build: build)
    }

    static func wrapper(_ build: @escaping @Sendable (inout LayerBuild) throws -> Void) -> Self {
        KerasLayerEntry(weights: .wrapped, build: build)
    }

    var hasVariables: Bool {
        switch weights {
        case .none: return false
        case .own, .wrapped: return true
        }
    }
}

/// Lookups over the layer registry.
public enum KerasLayerCatalog {
    /// Alternative class names Keras accepts (`Convolution2D`) mapped to the canonical one.
    static let aliases: [String: String] = [
        "Convolution1D": "Conv1D", "Convolution2D": "Conv2D", "Convolution3D": "Conv3D",
        "Convolution1DTranspose": "Conv1DTranspose", "Convolution2DTranspose": "Conv2DTranspose",
        "Convolution3DTranspose": "Conv3DTranspose", "Deconvolution2D": "Conv2DTranspose",
        "Deconvolution3D": "Conv3DTranspose", "SeparableConvolution1D": "SeparableConv1D",
        "SeparableConvolution2D": "SeparableConv2D", "MaxPool1D": "MaxPooling1D", "MaxPool2D": "MaxPooling2D",
        "MaxPool3D": "MaxPooling3D", "AvgPool1D": "AveragePooling1D", "AvgPool2D": "AveragePooling2D",
        "AvgPool3D": "AveragePooling3D", "GlobalMaxPool1D": "GlobalMaxPooling1D",
        "GlobalMaxPool2D": "GlobalMaxPooling2D", "GlobalMaxPool3D": "GlobalMaxPooling3D",
        "GlobalAvgPool1D": "GlobalAveragePooling1D", "GlobalAvgPool2D": "GlobalAveragePooling2D",
        "GlobalAvgPool3D": "GlobalAveragePooling3D", "LSTMV1": "LSTM", "GRUV1": "GRU",
        "CuDNNLSTM": "LSTM", "CuDNNGRU": "GRU",
    ]

    /// Every class name the toolkit can infer variables for (canonical names).
    public static var knownClassNames: [String] {
        (KerasLayerClass.allCases.map(\.rawValue) + Array(KerasArchitectureParser.modelClasses)).sorted()
    }

    /// The Python class of a serialized class name where they differ (Keras 3 serializes
    /// `GroupedQueryAttention` under its export name `GroupQueryAttention`); the saver names H5
    /// groups after the Python class.
    static func pythonClassName(_ name: String) -> String {
        switch name {
        case "GroupQueryAttention": return "GroupedQueryAttention"
        case "Model": return "Functional"
        default: return canonicalClassName(name)
        }
    }

    /// keras.ops operations whose output broadcasts their tensor inputs.
    static let elementwiseOperations: Set<String> = [
        "NotEqual", "Equal", "Greater", "GreaterEqual", "Less", "LessEqual", "Add", "Subtract", "Multiply", "Divide",
        "TrueDivide", "Maximum", "Minimum", "Power", "LogicalAnd", "LogicalOr", "LogicalNot", "Abs", "Absolute",
        "Negative", "Exp", "Log", "Sqrt", "Square", "Tanh", "Sigmoid", "Relu", "Cast", "Where", "Clip",
    ]

    /// Output shapes of a keras.ops operation, when they follow from its inputs.
    static func operationOutput(_ className: String, _ inputs: LayerInputs) -> [KerasShape]? {
        guard elementwiseOperations.contains(className) else { return nil }
        let shapes = inputs.positional
        guard var out = shapes.first else { return nil }
        for s in shapes.dropFirst() {
            guard let b = try? KerasShapes.broadcast(out, s) else { return nil }
            out = b
        }
        return [out]
    }

    /// The class to model a layer as. (ConvNeXt's `keras.applications` `LayerScale` stays
    /// unknown on purpose: its `gamma` is created without a name, so Keras names it
    /// `variable_<n>` from a per-process counter that the architecture cannot predict.)
    static func modelledClassName(_ layer: KerasLayer) -> String {
        canonicalClassName(layer.className)
    }

    static func canonicalClassName(_ name: String) -> String {
        if let a = aliases[name], a != name { return a }
        return name
    }

    /// Whether the class (or an alias of it) is modelled.
    public static func isKnown(_ className: String) -> Bool {
        let c = canonicalClassName(className)
        return KerasLayerClass(rawValue: c) != nil || KerasArchitectureParser.modelClasses.contains(c)
    }

    static func isWeightless(_ className: String) -> Bool {
        KerasLayerClass(rawValue: canonicalClassName(className)).map { !$0.entry.hasVariables } ?? false
    }

    /// Builds a layer of a known class (canonical name).
    static func build(_ className: String, _ b: inout LayerBuild) throws {
        guard let c = KerasLayerClass(rawValue: className) else {
            throw CheckpointError(.unknownLayer, "\(b.cfg.place): the class is not modelled")
        }
        try c.entry.build(&b)
    }
}
