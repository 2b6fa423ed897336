// Convolutions: what `build()` creates and `compute_conv_output_shape` (Keras 3.15).

extension KerasLayerCatalog {
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
}
