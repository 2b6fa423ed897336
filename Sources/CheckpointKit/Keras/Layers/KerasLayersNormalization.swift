// Normalization layers and PReLU: what `build()` creates (Keras 3.15).

extension KerasLayerCatalog {
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
}
