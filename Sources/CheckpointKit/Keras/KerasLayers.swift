// What each Keras layer class creates in `build()` (names, shapes, order, trainability) and
// what `compute_output_shape` returns, following Keras 3.15 (`keras/src/layers/...`).

/// The layer classes whose variables are known.
public enum KerasLayerCatalog {
    /// Layers without variables whose output has the input's shape.
    static let shapePreserving: Set<String> = [
        "Activation", "Dropout", "AlphaDropout", "GaussianDropout", "GaussianNoise",
        "SpatialDropout1D", "SpatialDropout2D", "SpatialDropout3D", "ActivityRegularization", "Masking",
        "Identity", "ReLU", "LeakyReLU", "ELU", "Softmax", "ThresholdedReLU", "Rescaling", "UnitNormalization",
        "RandomFlip", "RandomRotation", "RandomZoom", "RandomContrast", "RandomTranslation", "RandomBrightness",
        "RandomHue", "RandomSaturation", "RandomGrayscale", "RandomSharpness", "RandomShear",
        "RandomColorDegeneration", "RandomColorJitter", "RandomInvert", "RandomPosterization", "RandomErasing",
        "RandomGaussianBlur", "RandomPerspective", "RandomElasticTransform", "Solarization", "AutoContrast",
        "Equalization", "AugMix", "CutMix", "MixUp", "RandAugment",
    ]

    /// Other layers without variables.
    static let weightless: Set<String> = shapePreserving.union([
        "InputLayer", "Lambda", "Flatten", "Reshape", "Permute", "RepeatVector",
        "MaxPooling1D", "MaxPooling2D", "MaxPooling3D", "AveragePooling1D", "AveragePooling2D", "AveragePooling3D",
        "GlobalMaxPooling1D", "GlobalMaxPooling2D", "GlobalMaxPooling3D",
        "GlobalAveragePooling1D", "GlobalAveragePooling2D", "GlobalAveragePooling3D",
        "AdaptiveMaxPooling1D", "AdaptiveMaxPooling2D", "AdaptiveMaxPooling3D",
        "AdaptiveAveragePooling1D", "AdaptiveAveragePooling2D", "AdaptiveAveragePooling3D",
        "Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum", "Concatenate", "Dot",
        "ZeroPadding1D", "ZeroPadding2D", "ZeroPadding3D", "Cropping1D", "Cropping2D", "Cropping3D",
        "UpSampling1D", "UpSampling2D", "UpSampling3D", "Resizing", "CenterCrop", "RandomCrop",
        "TFOpLambda", "SlicingOpLambda",
    ])

    /// Layers with variables.
    static let weighted: Set<String> = [
        "Dense", "EinsumDense", "Embedding", "ReversibleEmbedding",
        "Conv1D", "Conv2D", "Conv3D", "Conv1DTranspose", "Conv2DTranspose", "Conv3DTranspose",
        "DepthwiseConv1D", "DepthwiseConv2D", "SeparableConv1D", "SeparableConv2D",
        "BatchNormalization", "LayerNormalization", "GroupNormalization", "RMSNormalization", "Normalization",
        "PReLU", "SimpleRNN", "LSTM", "GRU", "ConvLSTM1D", "ConvLSTM2D", "ConvLSTM3D",
        "RNN", "SimpleRNNCell", "LSTMCell", "GRUCell", "StackedRNNCells",
        "Bidirectional", "TimeDistributed", "MultiHeadAttention", "GroupQueryAttention",
        "Attention", "AdditiveAttention",
    ]

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
        (weightless.union(weighted).union(["Sequential", "Functional", "Model"])).sorted()
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
        return weightless.contains(c) || weighted.contains(c) || KerasArchitectureParser.modelClasses.contains(c)
    }

    static func isWeightless(_ className: String) -> Bool { weightless.contains(canonicalClassName(className)) }

    // MARK: - Dispatch

    static func build(_ className: String, _ b: inout LayerBuild) throws {
        if shapePreserving.contains(className) {
            b.outputs = [try b.input()]
            return
        }
        switch className {
        case "Dense": try dense(&b)
        case "EinsumDense": try einsumDense(&b)
        case "Embedding", "ReversibleEmbedding": try embedding(&b)
        case "Conv1D": try conv(&b, rank: 1)
        case "Conv2D": try conv(&b, rank: 2)
        case "Conv3D": try conv(&b, rank: 3)
        case "Conv1DTranspose": try convTranspose(&b, rank: 1)
        case "Conv2DTranspose": try convTranspose(&b, rank: 2)
        case "Conv3DTranspose": try convTranspose(&b, rank: 3)
        case "DepthwiseConv1D": try depthwiseConv(&b, rank: 1)
        case "DepthwiseConv2D": try depthwiseConv(&b, rank: 2)
        case "SeparableConv1D": try separableConv(&b, rank: 1)
        case "SeparableConv2D": try separableConv(&b, rank: 2)
        case "BatchNormalization": try batchNormalization(&b)
        case "LayerNormalization": try layerNormalization(&b)
        case "RMSNormalization": try rmsNormalization(&b)
        case "GroupNormalization": try groupNormalization(&b)
        case "Normalization": try normalization(&b)
        case "PReLU": try prelu(&b)
        case "SimpleRNN", "LSTM", "GRU": try rnn(&b)
        case "SimpleRNNCell", "LSTMCell", "GRUCell": try rnnCell(&b)
        case "StackedRNNCells": try stackedCells(&b)
        case "RNN": try genericRNN(&b)
        case "ConvLSTM1D": try convLSTM(&b, rank: 1)
        case "ConvLSTM2D": try convLSTM(&b, rank: 2)
        case "ConvLSTM3D": try convLSTM(&b, rank: 3)
        case "Bidirectional": try bidirectional(&b)
        case "TimeDistributed": try timeDistributed(&b)
        case "MultiHeadAttention": try multiHeadAttention(&b)
        case "GroupQueryAttention": try groupQueryAttention(&b)
        case "Attention": try attention(&b, additive: false)
        case "AdditiveAttention": try attention(&b, additive: true)
        case "InputLayer": b.outputs = [try KerasModelEngine.inputLayerShape(b.layer)]
        case "Lambda": try lambda(&b)
        case "Flatten": try flatten(&b)
        case "Reshape": try reshape(&b)
        case "Permute": try permute(&b)
        case "RepeatVector": try repeatVector(&b)
        case "MaxPooling1D", "AveragePooling1D": try pooling(&b, rank: 1)
        case "MaxPooling2D", "AveragePooling2D": try pooling(&b, rank: 2)
        case "MaxPooling3D", "AveragePooling3D": try pooling(&b, rank: 3)
        case "GlobalMaxPooling1D", "GlobalMaxPooling2D", "GlobalMaxPooling3D",
             "GlobalAveragePooling1D", "GlobalAveragePooling2D", "GlobalAveragePooling3D":
            try globalPooling(&b)
        case "AdaptiveMaxPooling1D", "AdaptiveAveragePooling1D": try adaptivePooling(&b, rank: 1)
        case "AdaptiveMaxPooling2D", "AdaptiveAveragePooling2D": try adaptivePooling(&b, rank: 2)
        case "AdaptiveMaxPooling3D", "AdaptiveAveragePooling3D": try adaptivePooling(&b, rank: 3)
        case "Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum": try elementwise(&b)
        case "Concatenate": try concatenate(&b)
        case "Dot": try dot(&b)
        case "ZeroPadding1D": try zeroPadding(&b, rank: 1)
        case "ZeroPadding2D": try zeroPadding(&b, rank: 2)
        case "ZeroPadding3D": try zeroPadding(&b, rank: 3)
        case "Cropping1D": try cropping(&b, rank: 1)
        case "Cropping2D": try cropping(&b, rank: 2)
        case "Cropping3D": try cropping(&b, rank: 3)
        case "UpSampling1D": try upSampling(&b, rank: 1)
        case "UpSampling2D": try upSampling(&b, rank: 2)
        case "UpSampling3D": try upSampling(&b, rank: 3)
        case "Resizing", "CenterCrop", "RandomCrop": try resizing(&b)
        case "TFOpLambda", "SlicingOpLambda": tfOpLambda(&b)
        default:
            throw CheckpointError(.unknownLayer, "\(b.cfg.place): the class is not modelled")
        }
    }

    // MARK: - Core

    /// `Dense.build`: kernel (in, units), bias (units,).
    static func dense(_ b: inout LayerBuild) throws {
        let x = try b.input()
        let units = try b.cfg.positiveInt("units")
        let inDim = try b.dim(x, -1, "input")
        try b.addWeight("kernel", [inDim, units])
        if try b.cfg.bool("use_bias", default: true) { try b.addWeight("bias", [units]) }
        b.outputs = [Array(x.dropLast()) + [units]]
    }

    /// `EinsumDense.build` via `_analyze_einsum_string`.
    static func einsumDense(_ b: inout LayerBuild) throws {
        let x = try b.input()
        let equation = try b.cfg.string("equation", default: "")
        var partial: KerasShape
        guard let os = b.cfg["output_shape"] else { throw b.cfg.error("the config has no \"output_shape\"") }
        if let i = os.intValue { partial = [i] } else { partial = try KerasShapes.parseShape(os, what: "\(b.cfg.place): \"output_shape\"") }
        let biasAxes = b.cfg["bias_axes"]?.stringValue
        guard !x.isEmpty else { throw b.cfg.error("expects a non-scalar input") }
        let r = try analyzeEinsum(equation: equation, biasAxes: biasAxes, input: x, partialOutput: partial, cfg: b.cfg)
        try b.addWeight("kernel", r.kernel)
        if let bias = r.bias { try b.addWeight("bias", bias) }
        b.outputs = [r.output]
    }

    struct EinsumAnalysis {
        var kernel: KerasShape
        var bias: KerasShape?
        var output: KerasShape
    }

    static func analyzeEinsum(equation: String, biasAxes: String?, input: KerasShape, partialOutput: KerasShape,
                              cfg: KerasConfig) throws -> EinsumAnalysis {
        let eq = equation.keras_replacing("...", with: "0")
        func letters(_ s: Substring) -> Bool { !s.isEmpty && s.allSatisfy { $0.isASCII && $0.isLetter } }
        let sides = eq.split(separator: "-", maxSplits: 1, omittingEmptySubsequences: false)
        guard sides.count == 2, sides[1].hasPrefix(">") else {
            throw cfg.error("invalid einsum equation \"\(CheckpointError.printable(equation))\"; expected [X],[Y]->[Z], ...[X],[Y]->...[Z] or [X]...,[Y]->[Z]...")
        }
        let lhs = sides[0].split(separator: ",", omittingEmptySubsequences: false)
        let out = sides[1].dropFirst()
        guard lhs.count == 2 else { throw cfg.error("invalid einsum equation \"\(CheckpointError.printable(equation))\"") }
        var inSpec = lhs[0], weightSpec = lhs[1], outSpec = out
        var leftElided = false
        if letters(inSpec) && letters(weightSpec) && letters(outSpec) {
            // plain
        } else if inSpec.hasPrefix("0"), outSpec.hasPrefix("0"), letters(inSpec.dropFirst()), letters(weightSpec), letters(outSpec.dropFirst()) {
            inSpec = inSpec.dropFirst()
            outSpec = outSpec.dropFirst()
            leftElided = true
        } else if inSpec.hasSuffix("0"), outSpec.hasSuffix("0"), inSpec.dropLast().count >= 2, letters(inSpec.dropLast()),
                  letters(weightSpec), letters(outSpec.dropLast()) {
            inSpec = inSpec.dropLast()
            outSpec = outSpec.dropLast()
        } else {
            throw cfg.error("invalid einsum equation \"\(CheckpointError.printable(equation))\"; expected [X],[Y]->[Z], ...[X],[Y]->...[Z] or [X]...,[Y]->[Z]...")
        }
        let inChars = Array(inSpec), wChars = Array(weightSpec), outChars = Array(outSpec)
        let elided = input.count - inChars.count
        guard elided >= 0 else {
            throw cfg.error("the einsum equation \"\(CheckpointError.printable(equation))\" has more input dimensions than the input shape \(KerasShapes.describe(input))")
        }
        guard let batch = input.first else { throw cfg.error("the einsum input shape is empty") }
        var output = partialOutput
        output.insert(batch, at: 0)
        if elided > 0 && leftElided {
            if elided > 1 { for i in 1..<elided { output.insert(input[i], at: 1) } }
        } else if elided > 0 {
            for i in (input.count - elided)..<input.count { output.append(input[i]) }
        }
        var inputDim: [Character: Int] = [:]
        var outputDim: [Character: Int] = [:]
        for (i, c) in inChars.enumerated() { inputDim[c] = leftElided ? i + elided : i }
        for (i, c) in outChars.enumerated() { outputDim[c] = leftElided ? i + elided : i }
        func at(_ s: KerasShape, _ i: Int) throws -> Int? {
            guard s.indices.contains(i) else {
                throw cfg.error("the einsum equation \"\(CheckpointError.printable(equation))\" does not match the input shape \(KerasShapes.describe(input)) and output_shape \(KerasShapes.describe(partialOutput))")
            }
            return s[i]
        }
        for c in inChars {
            guard let ii = inputDim[c] else { continue }
            let inD = try at(input, ii)
            if let oi = outputDim[c], let outD = try at(output, oi), let inD, outD != inD {
                throw cfg.error("input shape and output shape do not match at shared dimension '\(c)': \(inD) and \(outD)")
            }
        }
        for c in outChars where inputDim[c] == nil && !wChars.contains(c) {
            throw cfg.error("dimension '\(c)' of the einsum output has no corresponding dimension in the input or the weight")
        }
        var kernel: KerasShape = []
        for c in wChars {
            if let oi = outputDim[c] {
                kernel.append(try at(output, oi))
            } else if let ii = inputDim[c] {
                kernel.append(try at(input, ii))
            } else {
                throw cfg.error("weight dimension '\(c)' of \"\(CheckpointError.printable(equation))\" matches neither the input nor the output")
            }
        }
        var bias: KerasShape? = nil
        if let biasAxes {
            let numLeft = leftElided ? elided : 0
            var idx: [Character: Int?] = [:]
            for (i, c) in outChars.enumerated() { idx[c] = try at(output, i + numLeft) }
            for c in biasAxes where !outChars.contains(c) {
                throw cfg.error("bias dimension '\(c)' is not part of the einsum output \"\(String(outSpec))\"")
            }
            guard let first = biasAxes.compactMap({ c in outChars.firstIndex(of: c) }).min() else {
                throw cfg.error("\"bias_axes\" is empty")
            }
            var shape: KerasShape = outChars[first...].map { c in biasAxes.contains(c) ? (idx[c] ?? nil) : 1 }
            if !leftElided { for _ in 0..<elided { shape.append(1) } }
            bias = shape
        }
        return EinsumAnalysis(kernel: kernel, bias: bias, output: output)
    }

    /// `Embedding.build`: embeddings (input_dim, output_dim); `ReversibleEmbedding` adds
    /// reverse_embeddings (output_dim, input_dim) unless `tie_weights`.
    static func embedding(_ b: inout LayerBuild) throws {
        let x = try b.input()
        let inputDim = try b.cfg.positiveInt("input_dim")
        let outputDim = try b.cfg.positiveInt("output_dim")
        try b.addWeight("embeddings", [inputDim, outputDim])
        if b.cfg.className == "ReversibleEmbedding", !(try b.cfg.bool("tie_weights", default: true)) {
            try b.addWeight("reverse_embeddings", [outputDim, inputDim])
        }
        b.outputs = [x + [outputDim]]
    }

    // MARK: - Convolutions

    struct ConvGeometry {
        var kernel: [Int]
        var strides: [Int]
        var dilation: [Int]
        var padding: String
        var channelsLast: Bool
    }

    static func convGeometry(_ b: LayerBuild, rank: Int, causal: Bool = false) throws -> ConvGeometry {
        ConvGeometry(kernel: try b.cfg.intTuple("kernel_size", count: rank),
                     strides: try b.cfg.intTuple("strides", count: rank, default: Array(repeating: 1, count: rank)),
                     dilation: try b.cfg.intTuple("dilation_rate", count: rank, default: Array(repeating: 1, count: rank)),
                     padding: try b.cfg.padding(allowed: causal ? ["valid", "same", "causal"] : ["valid", "same"]),
                     channelsLast: try b.cfg.channelsLast())
    }

    static func checkRank(_ b: LayerBuild, _ x: KerasShape, _ rank: Int) throws {
        guard x.count == rank + 2 else {
            throw b.cfg.error("expects inputs of rank \(rank + 2), found the shape \(KerasShapes.describe(x))")
        }
    }

    static func inputChannels(_ b: LayerBuild, _ x: KerasShape, channelsLast: Bool) throws -> Int {
        try b.dim(x, channelsLast ? -1 : 1, "input")
    }

    /// `compute_conv_output_shape`.
    static func convOutput(_ x: KerasShape, filters: Int, g: ConvGeometry) -> KerasShape {
        let spatial = g.channelsLast ? Array(x.dropFirst().dropLast()) : Array(x.dropFirst(2))
        var out: KerasShape = []
        for (i, n) in spatial.enumerated() {
            out.append(KerasShapes.convLength(n, kernel: g.kernel[i], stride: g.strides[i], dilation: g.dilation[i], padding: g.padding))
        }
        return g.channelsLast ? [x[0]] + out + [filters] : [x[0], filters] + out
    }

    static func checkPositive(_ b: LayerBuild, _ shape: KerasShape) throws {
        if let bad = shape.dropFirst().first(where: { ($0 ?? 1) <= 0 }) {
            throw b.cfg.error("the computed output size would be \(bad.map(String.init) ?? "?"), not positive (output shape \(KerasShapes.describe(shape)))")
        }
    }

    /// `BaseConv.build`: kernel kernel_size + (in / groups, filters), bias (filters,).
    static func conv(_ b: inout LayerBuild, rank: Int) throws {
        let x = try b.input()
        try checkRank(b, x, rank)
        let g = try convGeometry(b, rank: rank, causal: rank == 1)
        let filters = try b.cfg.positiveInt("filters")
        let groups = try b.cfg.positiveInt("groups", default: 1)
        let inCh = try inputChannels(b, x, channelsLast: g.channelsLast)
        guard inCh % groups == 0 else {
            throw b.cfg.error("the number of input channels (\(inCh)) is not divisible by groups=\(groups)")
        }
        guard filters % groups == 0 else {
            throw b.cfg.error("filters=\(filters) is not divisible by groups=\(groups)")
        }
        let out = convOutput(x, filters: filters, g: g)
        try checkPositive(b, out)
        try b.addWeight("kernel", g.kernel.map { $0 } + [inCh / groups, filters])
        if try b.cfg.bool("use_bias", default: true) { try b.addWeight("bias", [filters]) }
        b.outputs = [out]
    }

    /// `BaseConvTranspose.build`: kernel kernel_size + (filters, in), bias (filters,).
    static func convTranspose(_ b: inout LayerBuild, rank: Int) throws {
        let x = try b.input()
        try checkRank(b, x, rank)
        let g = try convGeometry(b, rank: rank)
        let filters = try b.cfg.positiveInt("filters")
        let inCh = try inputChannels(b, x, channelsLast: g.channelsLast)
        var outputPadding: [Int]? = nil
        if b.cfg["output_padding"] != nil {
            outputPadding = try b.cfg.intTuple("output_padding", count: rank, positive: false)
        }
        try b.addWeight("kernel", g.kernel.map { $0 } + [filters, inCh])
        if try b.cfg.bool("use_bias", default: true) { try b.addWeight("bias", [filters]) }
        let spatial = g.channelsLast ? Array(x.dropFirst().dropLast()) : Array(x.dropFirst(2))
        var out: KerasShape = []
        for (i, n) in spatial.enumerated() {
            out.append(KerasShapes.deconvLength(n, kernel: g.kernel[i], stride: g.strides[i], dilation: g.dilation[i],
                                                padding: g.padding, outputPadding: outputPadding?[i]))
        }
        b.outputs = [g.channelsLast ? [x[0]] + out + [filters] : [x[0], filters] + out]
    }

    /// `BaseDepthwiseConv.build`: kernel kernel_size + (in, depth_multiplier), bias (in * dm,).
    /// Keras 2 named the kernel `depthwise_kernel`.
    static func depthwiseConv(_ b: inout LayerBuild, rank: Int) throws {
        let x = try b.input()
        try checkRank(b, x, rank)
        let g = try convGeometry(b, rank: rank)
        let dm = try b.cfg.positiveInt("depth_multiplier", default: 1)
        let inCh = try inputChannels(b, x, channelsLast: g.channelsLast)
        guard let channels = KerasShapes.mul(inCh, dm) else { throw b.cfg.error("the output channel count overflows") }
        let out = convOutput(x, filters: channels, g: g)
        try checkPositive(b, out)
        b.keras2Renames["kernel"] = "depthwise_kernel"
        try b.addWeight("kernel", g.kernel.map { $0 } + [inCh, dm])
        if try b.cfg.bool("use_bias", default: true) { try b.addWeight("bias", [channels]) }
        b.outputs = [out]
    }

    /// `BaseSeparableConv.build`: depthwise_kernel kernel_size + (in, dm), pointwise_kernel
    /// (1,)*rank + (in * dm, filters), bias (filters,).
    static func separableConv(_ b: inout LayerBuild, rank: Int) throws {
        let x = try b.input()
        try checkRank(b, x, rank)
        let g = try convGeometry(b, rank: rank)
        let dm = try b.cfg.positiveInt("depth_multiplier", default: 1)
        let filters = try b.cfg.positiveInt("filters")
        let inCh = try inputChannels(b, x, channelsLast: g.channelsLast)
        let out = convOutput(x, filters: filters, g: g)
        try checkPositive(b, out)
        try b.addWeight("depthwise_kernel", g.kernel.map { $0 } + [inCh, dm])
        guard let mid = KerasShapes.mul(inCh, dm) else { throw b.cfg.error("the intermediate channel count overflows") }
        try b.addWeight("pointwise_kernel", Array(repeating: 1, count: rank) + [mid, filters])
        if try b.cfg.bool("use_bias", default: true) { try b.addWeight("bias", [filters]) }
        b.outputs = [out]
    }

    // MARK: - Normalization

    /// `BatchNormalization.build`: gamma, beta (if scale/center), moving_mean, moving_variance
    /// (non-trainable), and with renorm moving_stddev, renorm_mean, renorm_stddev.
    static func batchNormalization(_ b: inout LayerBuild) throws {
        let x = try b.input()
        let axes = try b.cfg.intList("axis") ?? [-1]
        guard !axes.isEmpty else { throw b.cfg.error("\"axis\" is empty") }
        let shape: KerasShape
        if axes.count == 1 {
            shape = [try b.dim(x, axes[0], "input")]
        } else {
            // Keras 2 multi-axis batch normalization: 1 in every other dimension.
            var dims: [Int: Int] = [:]
            for a in axes {
                guard let n = KerasShapes.axis(a, rank: x.count) else { throw b.cfg.error("axis \(a) is out of range for the input shape \(KerasShapes.describe(x))") }
                dims[n] = try b.dim(x, n, "input")
            }
            shape = (0..<x.count).map { dims[$0] ?? 1 }
        }
        if try b.cfg.bool("scale", default: true) { try b.addWeight("gamma", shape) }
        if try b.cfg.bool("center", default: true) { try b.addWeight("beta", shape) }
        try b.addWeight("moving_mean", shape, trainable: false)
        try b.addWeight("moving_variance", shape, trainable: false)
        if try b.cfg.bool("renorm", default: false) {
            try b.addWeight("moving_stddev", shape, trainable: false)
            try b.addWeight("renorm_mean", shape, trainable: false)
            try b.addWeight("renorm_stddev", shape, trainable: false)
        }
        b.outputs = [x]
    }

    /// The parameter shape of LayerNormalization / RMSNormalization: `input[a] for a in sorted(axis)`.
    static func normShape(_ b: LayerBuild, _ x: KerasShape, defaultAxis: Int = -1) throws -> KerasShape {
        let axes = try b.cfg.intList("axis") ?? [defaultAxis]
        let isList = b.cfg["axis"]?.arrayValue != nil
        let ordered = isList ? axes.sorted() : axes
        return try ordered.map { try b.dim(x, $0, "input") }
    }

    /// `LayerNormalization.build`: gamma if scale or rms_scaling, beta if center and not rms_scaling.
    static func layerNormalization(_ b: inout LayerBuild) throws {
        let x = try b.input()
        let shape = try normShape(b, x)
        let rms = try b.cfg.bool("rms_scaling", default: false)
        if try b.cfg.bool("scale", default: true) || rms { try b.addWeight("gamma", shape) }
        if try b.cfg.bool("center", default: true), !rms { try b.addWeight("beta", shape) }
        b.outputs = [x]
    }

    /// `RMSNormalization.build`: scale.
    static func rmsNormalization(_ b: inout LayerBuild) throws {
        let x = try b.input()
        try b.addWeight("scale", try normShape(b, x))
        b.outputs = [x]
    }

    /// `GroupNormalization.build`: gamma (dim,) if scale, beta (dim,) if center.
    static func groupNormalization(_ b: inout LayerBuild) throws {
        let x = try b.input()
        let axis = try b.cfg.int("axis", default: -1)
        let dim = try b.dim(x, axis, "input")
        var groups = try b.cfg.int("groups", default: 32)
        if groups == -1 { groups = dim }
        guard groups > 0, dim >= groups, dim % groups == 0 else {
            throw b.cfg.error("groups=\(groups) does not divide the \(dim) channels of axis \(axis)")
        }
        if try b.cfg.bool("scale", default: true) { try b.addWeight("gamma", [dim]) }
        if try b.cfg.bool("center", default: true) { try b.addWeight("beta", [dim]) }
        b.outputs = [x]
    }

    /// `Normalization.build`: mean, variance (kept axes) and count (scalar, int), all
    /// non-trainable; nothing when `mean`/`variance` are given in the config.
    static func normalization(_ b: inout LayerBuild) throws {
        let x = try b.input()
        b.outputs = [x]
        if b.cfg["mean"] != nil || b.cfg["variance"] != nil { return }
        let axes: [Int]
        if let v = b.cfg.config["axis"], v.isNull {
            axes = []
        } else {
            axes = try b.cfg.intList("axis") ?? [-1]
        }
        var keep: [Int] = []
        for a in axes {
            guard let n = KerasShapes.axis(a, rank: x.count) else {
                throw b.cfg.error("axis \(a) is out of range for the input shape \(KerasShapes.describe(x))")
            }
            keep.append(n)
        }
        keep.sort()
        let shape = try keep.map { try b.dim(x, $0, "input") }
        try b.addWeight("mean", shape.map { $0 }, trainable: false)
        try b.addWeight("variance", shape.map { $0 }, trainable: false)
        try b.addWeight("count", [], dtype: b.backend.integerDType, trainable: false)
    }

    /// `PReLU.build`: alpha = input[1:] with shared axes set to 1.
    static func prelu(_ b: inout LayerBuild) throws {
        let x = try b.input()
        var shape = Array(x.dropFirst())
        if let shared = try b.cfg.intList("shared_axes") {
            for a in shared {
                let i = a - 1
                guard let n = KerasShapes.axis(i, rank: shape.count) else {
                    throw b.cfg.error("shared axis \(a) is out of range for the input shape \(KerasShapes.describe(x))")
                }
                shape[n] = 1
            }
        }
        try b.addWeight("alpha", shape)
        b.outputs = [x]
    }

    // MARK: - Recurrent

    /// SimpleRNN / LSTM / GRU: the cell (`cell` attribute, `<kind>_cell` scope) holds kernel
    /// (in, g*units), recurrent_kernel (units, g*units), bias (g*units,) — GRU with reset_after
    /// (2, 3*units).
    static func rnn(_ b: inout LayerBuild) throws {
        let x = try b.input()
        guard x.count >= 3 else { throw b.cfg.error("expects inputs of shape (batch, timesteps, features), found \(KerasShapes.describe(x))") }
        let units = try b.cfg.positiveInt("units")
        let useBias = try b.cfg.bool("use_bias", default: true)
        let inDim = try b.dim(x, -1, "input")
        let cls = b.cfg.className
        let (cellName, cellClass, gates) = cls == "LSTM" ? ("lstm_cell", "LSTMCell", 4)
            : cls == "GRU" ? ("gru_cell", "GRUCell", 3) : ("simple_rnn_cell", "SimpleRNNCell", 1)
        let resetAfter = cls == "GRU" ? try b.cfg.bool("reset_after", default: true) : false
        _ = gates
        try b.addSubLayer(attribute: "cell", name: cellName, className: cellClass) { c in
            try cellWeights(&c, kind: cellClass, inDim: inDim, units: units, useBias: useBias, resetAfter: resetAfter)
        }
        let states = cls == "LSTM" ? 2 : 1
        b.outputs = try rnnOutputs(b, x, step: [x[0], units], stateShapes: Array(repeating: [x[0], units], count: states))
    }

    /// The variables of a SimpleRNN/LSTM/GRU cell for an input of `inDim` features.
    static func cellWeights(_ c: inout LayerBuild, kind: String, inDim: Int, units: Int, useBias: Bool, resetAfter: Bool) throws {
        let gates = kind == "LSTMCell" ? 4 : kind == "GRUCell" ? 3 : 1
        try c.addWeight("kernel", [inDim, units * gates])
        try c.addWeight("recurrent_kernel", [units, units * gates])
        if useBias { try c.addWeight("bias", resetAfter ? [2, units * gates] : [units * gates]) }
    }

    /// A cell used directly (inside `RNN`): built on the step input (batch, features); outputs
    /// (batch, units).
    static func rnnCell(_ b: inout LayerBuild) throws {
        let x = try b.input()
        let units = try b.cfg.positiveInt("units")
        let inDim = try b.dim(x, -1, "input")
        let kind = b.cfg.className
        try cellWeights(&b, kind: kind, inDim: inDim, units: units, useBias: try b.cfg.bool("use_bias", default: true),
                        resetAfter: kind == "GRUCell" ? try b.cfg.bool("reset_after", default: true) : false)
        let states = kind == "LSTMCell" ? 2 : 1
        b.outputs = [[x[0], units]] + Array(repeating: [x[0], units], count: states)
    }

    /// `StackedRNNCells`: each cell (`cells` list attribute) built on the previous one's output.
    static func stackedCells(_ b: inout LayerBuild) throws {
        let x = try b.input()
        guard let list = b.cfg["cells"]?.arrayValue, !list.isEmpty else { throw b.cfg.error("the config has no \"cells\" list") }
        var parser = KerasArchitectureParser(dialect: b.engine.dialect)
        var cells: [KerasLayer] = []
        for (i, item) in list.enumerated() {
            guard let cell = try parser.parseLayer(item, inheritedPolicy: b.policy, context: "cell \(i) of \(b.cfg.place)") else { continue }
            cells.append(cell)
        }
        let attributes = KerasModelEngine.layerAttributes(cells).map { "cells/" + $0.dropFirst("layers/".count) }
        var current = x
        var states: [KerasShape] = []
        for (cell, attribute) in zip(cells, attributes) {
            guard let out = try b.addWrapped(cell, attribute: attribute, inputs: LayerInputs(single: current)), let o = out.first else {
                b.outputs = nil
                return
            }
            current = o
            states += out.dropFirst()
        }
        b.outputs = [current] + states
    }

    /// `RNN(cell)`: the cell (`cell` attribute) is built on (batch, *input[2:]).
    static func genericRNN(_ b: inout LayerBuild) throws {
        let x = try b.input()
        guard x.count >= 3 else { throw b.cfg.error("expects inputs of shape (batch, timesteps, features), found \(KerasShapes.describe(x))") }
        guard let cell = try b.nestedLayer("cell") else {
            throw b.cfg.error("the config has no \"cell\" (a list of cells is written as a StackedRNNCells cell)")
        }
        let step: KerasShape = [x[0]] + x.dropFirst(2)
        guard let out = try b.addWrapped(cell, attribute: "cell", inputs: LayerInputs(single: step)), let o = out.first else {
            b.outputs = nil
            return
        }
        b.outputs = try rnnOutputs(b, x, step: o, stateShapes: Array(out.dropFirst()))
    }

    static func rnnOutputs(_ b: LayerBuild, _ x: KerasShape, step: KerasShape, stateShapes: [KerasShape]) throws -> [KerasShape] {
        let sequences = try b.cfg.bool("return_sequences", default: false)
        let state = try b.cfg.bool("return_state", default: false)
        guard let batch = step.first, x.count >= 2 else { throw b.cfg.error("the cell's output shape \(KerasShapes.describe(step)) has no batch dimension") }
        let out: KerasShape = sequences ? [batch, x[1]] + step.dropFirst() : step
        return state ? [out] + stateShapes : [out]
    }

    /// ConvLSTM1D/2D/3D: the cell (`conv_lstm_cell`) holds kernel kernel_size + (in, 4f),
    /// recurrent_kernel kernel_size + (f, 4f), bias (4f,).
    static func convLSTM(_ b: inout LayerBuild, rank: Int) throws {
        let x = try b.input()
        guard x.count == rank + 3 else { throw b.cfg.error("expects inputs of rank \(rank + 3), found \(KerasShapes.describe(x))") }
        let g = try convGeometry(b, rank: rank)
        let filters = try b.cfg.positiveInt("filters")
        let useBias = try b.cfg.bool("use_bias", default: true)
        let step: KerasShape = [x[0]] + x.dropFirst(2)
        let inCh = try inputChannels(b, step, channelsLast: g.channelsLast)
        try b.addSubLayer(attribute: "cell", name: "conv_lstm_cell", className: "ConvLSTMCell") { c in
            try c.addWeight("kernel", g.kernel.map { $0 } + [inCh, filters * 4])
            try c.addWeight("recurrent_kernel", g.kernel.map { $0 } + [filters, filters * 4])
            if useBias { try c.addWeight("bias", [filters * 4]) }
        }
        let state = convOutput(step, filters: filters, g: g)
        b.outputs = try rnnOutputs(b, x, step: state, stateShapes: [state, state])
    }

    /// `Bidirectional`: forward_layer (`forward_<name>`) and backward_layer (`backward_<name>`
    /// or the configured one), both built on the input; outputs merged per merge_mode.
    static func bidirectional(_ b: inout LayerBuild) throws {
        let x = try b.input()
        guard let inner = try b.nestedLayer("layer") else { throw b.cfg.error("the config has no wrapped \"layer\"") }
        // Keras: forward_<name without "forward_">, backward_<name without "backward_">.
        func removePrefix(_ s: String, _ p: String) -> String { s.hasPrefix(p) ? String(s.dropFirst(p.count)) : s }
        var forward = inner
        forward.name = "forward_" + removePrefix(inner.name, "forward_")
        var backward: KerasLayer
        if let configured = try b.nestedLayer("backward_layer") {
            backward = configured
        } else {
            backward = inner
            backward.name = "backward_" + removePrefix(inner.name, "backward_")
        }
        let fOut = try b.addWrapped(forward, attribute: "forward_layer", inputs: LayerInputs(single: x))
        _ = try b.addWrapped(backward, attribute: "backward_layer", inputs: LayerInputs(single: x))
        guard let fOut, var out = fOut.first else { b.outputs = nil; return }
        let states = Array(fOut.dropFirst())
        let modeValue = b.cfg.config["merge_mode"]
        let mode: String? = modeValue.flatMap { $0.isNull ? nil : $0.stringValue } ?? (modeValue == nil ? "concat" : nil)
        var outputs: [KerasShape]
        switch mode {
        case "concat"?:
            if let last = out.last { out[out.count - 1] = KerasShapes.mul(last, 2) }
            outputs = [out]
        case nil:
            outputs = [out, out]
        case "sum"?, "mul"?, "ave"?:
            outputs = [out]
        default:
            throw b.cfg.error("\"merge_mode\" should be concat, sum, mul, ave or null, found \(modeValue?.serialized() ?? "?")")
        }
        b.outputs = outputs + states + states
    }

    /// `TimeDistributed`: the wrapped layer (`layer` attribute) is built on (batch, *input[2:]).
    static func timeDistributed(_ b: inout LayerBuild) throws {
        let x = try b.input()
        guard x.count >= 3 else { throw b.cfg.error("expects inputs of rank 3 or more, found \(KerasShapes.describe(x))") }
        guard let inner = try b.nestedLayer("layer") else { throw b.cfg.error("the config has no wrapped \"layer\"") }
        let child: KerasShape = [x[0]] + x.dropFirst(2)
        let out = try b.addWrapped(inner, attribute: "layer", inputs: LayerInputs(single: child), keras2Transparent: true)
        if let out, let o = out.first, !o.isEmpty {
            b.outputs = [[o[0], x[1]] + o.dropFirst()]
        } else {
            b.outputs = nil
        }
    }

    // MARK: - Attention

    /// `MultiHeadAttention.build`: EinsumDense projections query (q_dim, heads, key_dim),
    /// key (k_dim, heads, key_dim), gate (if use_gate), value (v_dim, heads, value_dim) and
    /// attention_output (heads, value_dim, *output_shape), biases over the trailing output dims.
    static func multiHeadAttention(_ b: inout LayerBuild) throws {
        guard let q = b.inputs.named("query", position: 0) else { throw b.cfg.error("has no query input") }
        guard let v = b.inputs.named("value", position: 1) else { throw b.cfg.error("has no value input") }
        let k = b.inputs.named("key", position: 2) ?? v
        let heads = try b.cfg.positiveInt("num_heads")
        let keyDim = try b.cfg.positiveInt("key_dim")
        let valueDim = try b.cfg.optionalInt("value_dim") ?? keyDim
        guard valueDim > 0 else { throw b.cfg.error("\"value_dim\" should be positive") }
        let useBias = try b.cfg.bool("use_bias", default: true)
        let useGate = try b.cfg.bool("use_gate", default: false)
        var outShape: KerasShape
        if let os = b.cfg["output_shape"] {
            if let i = os.intValue { outShape = [i] } else { outShape = try KerasShapes.parseShape(os, what: "\(b.cfg.place): \"output_shape\"") }
        } else {
            outShape = [try b.dim(q, -1, "query")]
        }
        guard Array(v.dropFirst().dropLast()) == Array(k.dropFirst().dropLast()) else {
            throw b.cfg.error("all dimensions of value \(KerasShapes.describe(v)) and key \(KerasShapes.describe(k)), except the last one, must be equal")
        }
        let qDim = try b.dim(q, -1, "query"), kDim = try b.dim(k, -1, "key"), vDim = try b.dim(v, -1, "value")
        func projection(_ c: inout LayerBuild, _ kernel: KerasShape, _ bias: KerasShape) throws {
            try c.addWeight("kernel", kernel)
            if useBias { try c.addWeight("bias", bias) }
        }
        try b.addSubLayer(attribute: "query_dense", name: "query", className: "EinsumDense") { try projection(&$0, [qDim, heads, keyDim], [heads, keyDim]) }
        try b.addSubLayer(attribute: "key_dense", name: "key", className: "EinsumDense") { try projection(&$0, [kDim, heads, keyDim], [heads, keyDim]) }
        if useGate {
            try b.addSubLayer(attribute: "_gate_dense", name: "gate", className: "EinsumDense") { try projection(&$0, [qDim, heads, valueDim], [heads, valueDim]) }
        }
        try b.addSubLayer(attribute: "value_dense", name: "value", className: "EinsumDense") { try projection(&$0, [vDim, heads, valueDim], [heads, valueDim]) }
        b.addEmptySubObject(attribute: "_softmax", name: "softmax", className: "Softmax")
        b.addEmptySubObject(attribute: "_dropout_layer", name: "dropout", className: "Dropout")
        try b.addSubLayer(attribute: "output_dense", name: "attention_output", className: "EinsumDense") {
            try projection(&$0, [heads, valueDim] + outShape, outShape)
        }
        var outputs: [KerasShape] = [Array(q.dropLast()) + outShape]
        if b.node?.keyword("return_attention_scores")?.boolValue == true {
            outputs.append([q[0], heads, q.count > 1 ? q[1] : nil, v.count > 1 ? v[1] : nil])
        }
        b.outputs = outputs
    }

    /// `GroupQueryAttention.build`: query (m, query heads, head_dim), key/value
    /// (m, kv heads, head_dim), gate (if use_gate), attention_output (query heads, head_dim, m).
    static func groupQueryAttention(_ b: inout LayerBuild) throws {
        guard let q = b.inputs.named("query", position: 0) else { throw b.cfg.error("has no query input") }
        guard let v = b.inputs.named("value", position: 1) else { throw b.cfg.error("has no value input") }
        let k = b.inputs.named("key", position: 2) ?? v
        let headDim = try b.cfg.positiveInt("head_dim")
        let qHeads = try b.cfg.positiveInt("num_query_heads")
        let kvHeads = try b.cfg.positiveInt("num_key_value_heads")
        let useBias = try b.cfg.bool("use_bias", default: true)
        let useGate = try b.cfg.bool("use_gate", default: false)
        let qDim = try b.dim(q, -1, "query"), kDim = try b.dim(k, -1, "key"), vDim = try b.dim(v, -1, "value")
        func projection(_ c: inout LayerBuild, _ kernel: KerasShape, _ bias: KerasShape) throws {
            try c.addWeight("kernel", kernel)
            if useBias { try c.addWeight("bias", bias) }
        }
        try b.addSubLayer(attribute: "_query_dense", name: "query", className: "EinsumDense") { try projection(&$0, [qDim, qHeads, headDim], [qHeads, headDim]) }
        try b.addSubLayer(attribute: "_key_dense", name: "key", className: "EinsumDense") { try projection(&$0, [kDim, kvHeads, headDim], [kvHeads, headDim]) }
        if useGate {
            try b.addSubLayer(attribute: "_gate_dense", name: "gate", className: "EinsumDense") { try projection(&$0, [qDim, qHeads, headDim], [qHeads, headDim]) }
        }
        try b.addSubLayer(attribute: "_value_dense", name: "value", className: "EinsumDense") { try projection(&$0, [vDim, kvHeads, headDim], [kvHeads, headDim]) }
        b.addEmptySubObject(attribute: "_softmax", name: "softmax", className: "Softmax")
        b.addEmptySubObject(attribute: "_dropout_layer", name: "dropout", className: "Dropout")
        try b.addSubLayer(attribute: "_output_dense", name: "attention_output", className: "EinsumDense") {
            try projection(&$0, [qHeads, headDim, qDim], [qDim])
        }
        var outputs: [KerasShape] = [q]
        if b.node?.keyword("return_attention_scores")?.boolValue == true {
            outputs.append([q[0], qHeads, q.count > 1 ? q[1] : nil, v.count > 1 ? v[1] : nil])
        }
        b.outputs = outputs
    }

    /// `Attention.build`: scale () if use_scale, concat_score_weight () if score_mode is concat.
    /// `AdditiveAttention.build`: scale (dim,) if use_scale (default true).
    static func attention(_ b: inout LayerBuild, additive: Bool) throws {
        let ins = b.inputs.main
        guard ins.count >= 2 else { throw b.cfg.error("expects a list of [query, value] or [query, value, key] inputs") }
        let q = ins[0], v = ins[1]
        if additive {
            if try b.cfg.bool("use_scale", default: true) { try b.addWeight("scale", [try b.dim(q, -1, "query")]) }
        } else {
            if try b.cfg.bool("use_scale", default: false) { try b.addWeight("scale", []) }
            if try b.cfg.string("score_mode", default: "dot") == "concat" { try b.addWeight("concat_score_weight", []) }
        }
        var outputs: [KerasShape] = [Array(q.dropLast()) + [v.last ?? nil]]
        if b.node?.keyword("return_attention_scores")?.boolValue == true {
            outputs.append([q.first ?? nil, q.count > 1 ? q[1] : nil, v.count > 1 ? v[1] : nil])
        }
        b.outputs = outputs
    }

    // MARK: - Weightless shape rules

    static func lambda(_ b: inout LayerBuild) throws {
        let x = try b.input()
        if let os = b.cfg["output_shape"], let list = os.arrayValue, list.allSatisfy({ $0.isNull || $0.intValue != nil }) {
            b.outputs = [[x.first ?? nil] + (try KerasShapes.parseShape(os, what: "\(b.cfg.place): \"output_shape\""))]
        } else {
            b.outputs = nil
        }
    }

    /// tf.keras wraps TensorFlow functions applied to Keras tensors (`x + 1`, `tf.nn.relu(x)`) in
    /// `TFOpLambda` / `SlicingOpLambda` layers: no variables; elementwise functions broadcast their
    /// tensor inputs, other output shapes are left unknown.
    static func tfOpLambda(_ b: inout LayerBuild) {
        let function = b.cfg["function"]?.stringValue ?? ""
        let elementwise: Set<String> = [
            "__operators__.add", "__operators__.sub", "__operators__.mul", "__operators__.truediv", "math.add",
            "math.subtract", "math.multiply", "math.truediv", "math.divide", "math.maximum", "math.minimum",
            "math.pow", "math.sqrt", "math.square", "math.exp", "math.log", "math.abs", "math.negative",
            "math.sigmoid", "math.tanh", "nn.relu", "nn.relu6", "nn.gelu", "nn.silu", "nn.swish", "nn.softmax",
            "cast", "math.greater", "math.less", "math.equal", "math.not_equal", "math.logical_and",
            "math.logical_or", "clip_by_value", "identity",
        ]
        guard b.cfg.className == "TFOpLambda", elementwise.contains(function) else { b.outputs = nil; return }
        var out: KerasShape? = nil
        for s in b.inputs.main {
            guard let current = out else { out = s; continue }
            guard let r = try? KerasShapes.broadcast(current, s) else { b.outputs = nil; return }
            out = r
        }
        b.outputs = out.map { [$0] }
    }

    static func flatten(_ b: inout LayerBuild) throws {
        let x = try b.input()
        guard !x.isEmpty else { throw b.cfg.error("cannot flatten a scalar input") }
        let rest = x.dropFirst()
        let n: Int? = rest.isEmpty ? 1 : rest.reduce(Optional(1)) { KerasShapes.mul($0, $1) }
        b.outputs = [[x[0], n]]
    }

    static func reshape(_ b: inout LayerBuild) throws {
        let x = try b.input()
        guard let target = try b.cfg.intList("target_shape") else { throw b.cfg.error("the config has no \"target_shape\"") }
        do {
            b.outputs = [[x.first ?? nil] + (try KerasShapes.reshape(Array(x.dropFirst()), target: target))]
        } catch let e as CheckpointError {
            throw b.cfg.error(e.reason)
        }
    }

    static func permute(_ b: inout LayerBuild) throws {
        let x = try b.input()
        guard let dims = try b.cfg.intList("dims") else { throw b.cfg.error("the config has no \"dims\"") }
        guard !x.isEmpty else { throw b.cfg.error("cannot permute a scalar input") }
        var out: KerasShape = [x[0]]
        for d in dims {
            guard x.indices.contains(d), d >= 1 else { throw b.cfg.error("dimension \(d) is out of range for the input shape \(KerasShapes.describe(x))") }
            out.append(x[d])
        }
        b.outputs = [out]
    }

    static func repeatVector(_ b: inout LayerBuild) throws {
        let x = try b.input()
        let n = try b.cfg.positiveInt("n")
        guard x.count == 2 else { throw b.cfg.error("expects inputs of rank 2, found \(KerasShapes.describe(x))") }
        b.outputs = [[x[0], n, x[1]]]
    }

    static func pooling(_ b: inout LayerBuild, rank: Int) throws {
        let x = try b.input()
        try checkRank(b, x, rank)
        let pool = try b.cfg.intTuple("pool_size", count: rank, default: Array(repeating: 2, count: rank))
        let strides = b.cfg["strides"] == nil ? pool : try b.cfg.intTuple("strides", count: rank)
        let padding = try b.cfg.padding()
        let last = try b.cfg.channelsLast()
        let spatial = last ? Array(x.dropFirst().dropLast()) : Array(x.dropFirst(2))
        var out: KerasShape = []
        for (i, n) in spatial.enumerated() {
            out.append(KerasShapes.poolLength(n, pool: pool[i], stride: strides[i], padding: padding))
        }
        let shape = last ? [x[0]] + out + [x[x.count - 1]] : [x[0], x[1]] + out
        try checkPositive(b, shape)
        b.outputs = [shape]
    }

    static func globalPooling(_ b: inout LayerBuild) throws {
        let x = try b.input()
        guard x.count >= 3 else { throw b.cfg.error("expects inputs of rank 3 or more, found \(KerasShapes.describe(x))") }
        let keep = try b.cfg.bool("keepdims", default: false)
        let last = try b.cfg.channelsLast()
        let spatial = x.count - 2
        let ones: KerasShape = Array(repeating: 1, count: spatial)
        if last {
            b.outputs = [keep ? [x[0]] + ones + [x[x.count - 1]] : [x[0], x[x.count - 1]]]
        } else {
            b.outputs = [keep ? [x[0], x[1]] + ones : [x[0], x[1]]]
        }
    }

    static func adaptivePooling(_ b: inout LayerBuild, rank: Int) throws {
        let x = try b.input()
        try checkRank(b, x, rank)
        let size = try b.cfg.intTuple("output_size", count: rank)
        let last = try b.cfg.channelsLast()
        b.outputs = [last ? [x[0]] + size.map { $0 } + [x[x.count - 1]] : [x[0], x[1]] + size.map { $0 }]
    }

    static func elementwise(_ b: inout LayerBuild) throws {
        let ins = b.inputs.main
        guard let first = ins.first else { throw b.cfg.error("has no inputs") }
        guard ins.count >= 1 else { return }
        var out = Array(first.dropFirst())
        do {
            for s in ins.dropFirst() { out = try KerasShapes.broadcast(out, Array(s.dropFirst())) }
        } catch let e as CheckpointError {
            throw b.cfg.error(e.reason)
        }
        let batches = Set(ins.compactMap { $0.first ?? nil })
        b.outputs = [[batches.count == 1 ? batches.first : nil] + out]
    }

    static func concatenate(_ b: inout LayerBuild) throws {
        let ins = b.inputs.main
        guard var out = ins.first else { throw b.cfg.error("has no inputs") }
        let axis = try b.cfg.int("axis", default: -1)
        guard let a = KerasShapes.axis(axis, rank: out.count) else {
            throw b.cfg.error("axis \(axis) is out of range for the input shape \(KerasShapes.describe(out))")
        }
        for s in ins.dropFirst() {
            guard s.count == out.count else {
                throw b.cfg.error("inputs of different ranks: \(KerasShapes.describe(out)) and \(KerasShapes.describe(s))")
            }
            guard let x = out[a], let y = s[a] else { out[a] = nil; break }
            out[a] = KerasShapes.add(x, y)
        }
        b.outputs = [out]
    }

    static func dot(_ b: inout LayerBuild) throws {
        let ins = b.inputs.main
        guard ins.count == 2 else { throw b.cfg.error("expects 2 inputs, found \(ins.count)") }
        var s1 = ins[0], s2 = ins[1]
        guard !s1.isEmpty, !s2.isEmpty else { throw b.cfg.error("cannot take the dot product of scalar inputs") }
        let axes = try b.cfg.intList("axes") ?? [-1]
        guard !axes.isEmpty else { throw b.cfg.error("\"axes\" is empty") }
        var pair: [Int]
        if b.cfg["axes"]?.intValue != nil || axes.count == 1 {
            let a = axes[0]
            pair = a < 0 ? [((a % s1.count) + s1.count) % s1.count, ((a % s2.count) + s2.count) % s2.count] : [a, a]
        } else {
            pair = Array(axes.prefix(2))
        }
        guard let a0 = KerasShapes.axis(pair[0], rank: s1.count), let a1 = KerasShapes.axis(pair[1], rank: s2.count), !s2.isEmpty else {
            throw b.cfg.error("axes \(pair) are out of range for the inputs \(KerasShapes.describe(s1)) and \(KerasShapes.describe(s2))")
        }
        s1.remove(at: a0)
        s2.remove(at: a1)
        guard !s2.isEmpty else { throw b.cfg.error("the second input has too few dimensions") }
        s2.removeFirst()
        var out = s1 + s2
        if out.count == 1 { out.append(1) }
        b.outputs = [out]
    }

    static func spatialAxes(_ x: KerasShape, rank: Int, channelsLast: Bool) -> [Int] {
        channelsLast ? Array(1...rank) : Array(2..<(2 + rank))
    }

    static func zeroPadding(_ b: inout LayerBuild, rank: Int) throws {
        let x = try b.input()
        try checkRank(b, x, rank)
        let pads = try b.cfg.pairs("padding", count: rank, default: Array(repeating: (1, 1), count: rank))
        let last = try b.cfg.channelsLast()
        var out = x
        for (i, a) in spatialAxes(x, rank: rank, channelsLast: last).enumerated() {
            out[a] = KerasShapes.add(out[a], pads[i].0 + pads[i].1)
        }
        b.outputs = [out]
    }

    static func cropping(_ b: inout LayerBuild, rank: Int) throws {
        let x = try b.input()
        try checkRank(b, x, rank)
        let crops = try b.cfg.pairs("cropping", count: rank, default: Array(repeating: (1, 1), count: rank))
        let last = rank == 1 ? true : try b.cfg.channelsLast()
        var out = x
        for (i, a) in spatialAxes(x, rank: rank, channelsLast: last).enumerated() {
            if let n = out[a] {
                let m = n - crops[i].0 - crops[i].1
                guard m > 0 else { throw b.cfg.error("cropping \(crops[i]) is not smaller than the dimension \(n)") }
                out[a] = m
            }
        }
        b.outputs = [out]
    }

    static func upSampling(_ b: inout LayerBuild, rank: Int) throws {
        let x = try b.input()
        try checkRank(b, x, rank)
        let size = try b.cfg.intTuple("size", count: rank, default: Array(repeating: 2, count: rank))
        let last = rank == 1 ? true : try b.cfg.channelsLast()
        var out = x
        for (i, a) in spatialAxes(x, rank: rank, channelsLast: last).enumerated() {
            out[a] = KerasShapes.mul(out[a], size[i])
        }
        b.outputs = [out]
    }

    /// Resizing / CenterCrop / RandomCrop: (height, width) replaces the spatial dimensions.
    static func resizing(_ b: inout LayerBuild) throws {
        let x = try b.input()
        let h = try b.cfg.positiveInt("height"), w = try b.cfg.positiveInt("width")
        let last = try b.cfg.channelsLast()
        var out = x
        guard x.count >= 3 else { throw b.cfg.error("expects image inputs, found \(KerasShapes.describe(x))") }
        if last {
            out[x.count - 3] = h
            out[x.count - 2] = w
        } else {
            out[x.count - 2] = h
            out[x.count - 1] = w
        }
        b.outputs = [out]
    }
}
