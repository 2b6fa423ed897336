// Attention layers: their EinsumDense projections and scalars (Keras 3.15).

extension KerasLayerCatalog {
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
}
