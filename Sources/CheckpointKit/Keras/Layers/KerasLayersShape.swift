// Layers without variables: their output shapes, so that the layers after them can be built
// (Keras 3.15 `compute_output_shape`).

extension KerasLayerCatalog {
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
