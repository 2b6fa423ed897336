/// One row of the layer table: a layer's parameters, as Keras's `model.summary()` counts them.
public struct LayerSummary: Sendable, Equatable {
    public var name: String
    /// The layer's class from the architecture; "?" when the checkpoint has none.
    public var className: String
    public var params = 0
    public var trainableParams = 0
    public var nonTrainableParams = 0
    public var bytes: UInt64 = 0
    /// Keras's Output Shape cell (`(None, 26, 26, 8)`, `?` when unknown); nil without an architecture.
    public var outputShape: String? = nil
    /// The inputs of the layer's calls (`bn[0][0]`), for a Functional model; nil otherwise.
    public var connectedTo: [String]? = nil
    /// The nested model this row's layer belongs to; nil for a top-level layer.
    public var parent: String? = nil

    public init(name: String, className: String, params: Int = 0, trainableParams: Int = 0, nonTrainableParams: Int = 0,
                bytes: UInt64 = 0, outputShape: String? = nil, connectedTo: [String]? = nil, parent: String? = nil) {
        self.name = name
        self.className = className
        self.params = params
        self.trainableParams = trainableParams
        self.nonTrainableParams = nonTrainableParams
        self.bytes = bytes
        self.outputShape = outputShape
        self.connectedTo = connectedTo
        self.parent = parent
    }
}

/// Parameter counts split as Keras splits them.
public struct ParameterTotals: Sendable, Equatable {
    public var params = 0, trainable = 0, nonTrainable = 0, optimizer = 0
    public var paramBytes: UInt64 = 0, trainableBytes: UInt64 = 0, nonTrainableBytes: UInt64 = 0, optimizerBytes: UInt64 = 0
    /// Keras 3's "Total params": the model's and the optimizer's.
    public var total: Int { params &+ optimizer }
    public var totalBytes: UInt64 { paramBytes &+ optimizerBytes }
    /// Whether the file says which weights are trainable (``CheckpointIndex/trainabilityKnown``);
    /// when not, the trainable / non-trainable split is unknown, not "everything trainable".
    public var trainabilityKnown = true
}

/// What `inspect` reports about a checkpoint, from its index alone: totals, the layer table, the
/// tensors in display order, and the `ckpt.inspect/1` JSON document (DocC: InspectJSON).
public struct CheckpointSummary: Sendable {
    public let source: any TensorSource
    public let index: CheckpointIndex
    /// The architecture's outline (class, name, layers), read lightly.
    public let outline: KerasModelOutline?
    public let totals: ParameterTotals
    public let layers: [LayerSummary]
    /// The architecture as a graph of layers (output shapes, connections), when it can be built.
    public let graph: ModelGraph?
    /// Whether the layer table needs Keras's "Connected to" column (a Functional model that is
    /// not a single chain).
    public var showsConnections: Bool { graph.map { !$0.sequentialLike } ?? false }

    public init(_ source: any TensorSource) {
        self.source = source
        index = source.index
        outline = index.architecture.flatMap { KerasModelOutline.read($0) }
        var t = ParameterTotals()
        t.trainabilityKnown = index.trainabilityKnown
        for info in index.tensors {
            let n = info.elementCount ?? 0
            let b = UInt64(info.byteCount ?? 0)
            if info.role == .optimizer {
                t.optimizer += n; t.optimizerBytes += b
            } else {
                t.params += n; t.paramBytes += b
                if info.trainable { t.trainable += n; t.trainableBytes += b } else { t.nonTrainable += n; t.nonTrainableBytes += b }
            }
        }
        totals = t
        graph = index.architecture.flatMap { ModelGraph.read(architecture: $0) }
        layers = Self.rows(index: index, outline: outline, graph: graph)
    }

    static func rows(index: CheckpointIndex, outline: KerasModelOutline?, graph: ModelGraph?) -> [LayerSummary] {
        var rows: [LayerSummary] = []
        var position: [String: Int] = [:]
        var childPosition: [String: [String: Int]] = [:]
        if let graph {
            for layer in graph.layers where position[layer.name] == nil {
                position[layer.name] = rows.count
                rows.append(LayerSummary(name: layer.name, className: layer.className, outputShape: layer.outputShapeText,
                                         connectedTo: graph.sequentialLike ? nil : layer.inbound.map(\.text)))
                for child in layer.children where childPosition[layer.name]?[child.name] == nil {
                    childPosition[layer.name, default: [:]][child.name] = rows.count
                    rows.append(LayerSummary(name: child.name, className: child.className, outputShape: child.outputShapeText,
                                             parent: layer.name))
                }
            }
        } else {
            for layer in outline?.layers ?? [] where position[layer.name] == nil {
                position[layer.name] = rows.count
                rows.append(LayerSummary(name: layer.name, className: layer.className))
            }
        }
        let known = Set(outline?.layers.map(\.name) ?? [])
        for info in index.tensors where info.role == .weight {
            let layer = graph?.variables.variable(named: info.name)?.layer ?? Self.layer(of: info.name, known: known, model: outline?.name)
            if position[layer] == nil {
                position[layer] = rows.count
                rows.append(LayerSummary(name: layer, className: "?"))
            }
            guard let k = position[layer] else { continue }
            var targets = [k]
            if let c = childPosition[layer]?[info.layer] { targets.append(c) }
            let n = info.elementCount ?? 0
            for t in targets {
                rows[t].params += n
                rows[t].bytes += UInt64(info.byteCount ?? 0)
                if info.trainable { rows[t].trainableParams += n } else { rows[t].nonTrainableParams += n }
            }
        }
        return rows
    }

    /// The top-level layer a weight named `name` belongs to: the first component of its path that
    /// the architecture names as a layer (`sequential/dense/kernel` → `dense`), else the first.
    static func layer(of name: String, known: Set<String>, model: String?) -> String {
        let parts = name.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count > 1 else { return name }
        if !known.isEmpty, let p = parts.dropLast().first(where: { known.contains(String($0)) }) { return String(p) }
        if parts.count >= 3, let model, !model.isEmpty, parts[0] == model { return String(parts[1]) }
        return String(parts[0])
    }

    /// Compressed bytes of tensor `i` in a `.ckpt`; nil for other formats.
    public func storedBytes(_ i: Int) -> UInt64? {
        (source as? CheckpointArchive)?.manifest.tensors[i].storage.storedSize
    }

    /// The `selected` tensors in display order: each weight followed by its optimizer slots
    /// (depth 1), then the optimizer's other state.
    public func orderedTensors(_ selected: [Int]) -> [(Int, depth: Int)] {
        let chosen = Set(selected)
        var slotsOf: [String: [Int]] = [:]
        var scalars: [Int] = []
        for i in index.tensors.indices where index.tensors[i].role == .optimizer {
            if let w = index.tensors[i].weight { slotsOf[w, default: []].append(i) } else { scalars.append(i) }
        }
        var out: [(Int, Int)] = []
        var placed = Set<Int>()
        for i in index.tensors.indices where index.tensors[i].role == .weight {
            if chosen.contains(i) { out.append((i, 0)); placed.insert(i) }
            for s in slotsOf[index.tensors[i].name] ?? [] where chosen.contains(s) {
                out.append((s, chosen.contains(i) ? 1 : 0)); placed.insert(s)
            }
        }
        let scalarSet = Set(scalars)
        for i in scalars + index.tensors.indices.filter({ !placed.contains($0) && !scalarSet.contains($0) }) where chosen.contains(i) && !placed.contains(i) {
            out.append((i, 0)); placed.insert(i)
        }
        return out
    }

    /// The `ckpt.inspect/1` document.
    public func json(file: String, fileSize: UInt64, selected: [Int], stats: [Int: TensorStats] = [:], values: [Int: [UInt8]] = [:],
                     verified: Bool = false, verification: Verification? = nil) -> JSONValue {
        let t = totals
        let known = t.trainabilityKnown
        func split(_ n: Int) -> JSONValue { known ? .number(n) : .null }
        var root: [(String, JSONValue)] = [
            ("schema", .string("ckpt.inspect/1")),
            ("file", .string(file)),
            ("format", .string(source.format.rawValue)),
            ("kind", .string(index.kind.rawValue)),
            ("producer", index.producer.map { .string($0) } ?? .null),
            ("file_size", .number(fileSize)),
        ]
        if let outline {
            root.append(("architecture", .object([
                ("dialect", .string(outline.dialect.displayName)),
                ("model_class", .string(outline.modelClass)),
                ("name", .string(outline.name)),
                ("layers", .number(outline.layers.count)),
            ])))
        } else {
            root.append(("architecture", .null))
        }
        if let o = index.optimizer {
            root.append(("optimizer", .object([
                ("class_name", .string(o.className)),
            ] + (o.innerClassName.map { [("inner_class_name", JSONValue.string($0))] } ?? []) + [
                ("iterations", .number(o.iterations)),
                ("learning_rate", o.learningRate.map { .number($0) } ?? .null),
                ("config", o.config),
            ])))
        } else {
            root.append(("optimizer", .null))
        }
        root.append(("metadata", index.metadata))
        root.append(("verified", .bool(verified)))
        if let verification { root.append(("verification", verification.json)) }
        if let tf = source as? TFCheckpointSource, !tf.signatures.isEmpty {
            func tensors(_ ts: [TFSignatureTensor]) -> JSONValue {
                .object(ts.map { t in
                    (t.key, .object([("name", .string(t.name)), ("dtype", .string(t.dtype.name)),
                                     ("shape", t.shape.map { .array($0.map { $0.map { .number($0) } ?? .null }) } ?? .null)]))
                })
            }
            root.append(("signatures", .object(tf.signatures.map { s in
                (s.name, .object([("method", .string(s.methodName)), ("inputs", tensors(s.inputs)), ("outputs", tensors(s.outputs))]))
            })))
        }
        root.append(("totals", .object([
            ("params", .number(t.params)), ("total_params", .number(t.total)), ("trainable_params", split(t.trainable)),
            ("non_trainable_params", split(t.nonTrainable)), ("optimizer_params", .number(t.optimizer)),
            ("param_bytes", .number(t.paramBytes)), ("optimizer_bytes", .number(t.optimizerBytes)),
        ])))
        root.append(("layers", .array(layers.map { r in
            .object([("name", .string(r.name)), ("class_name", r.className == "?" ? .null : .string(r.className)), ("params", .number(r.params)),
                     ("trainable_params", split(r.trainableParams)), ("non_trainable_params", split(r.nonTrainableParams)),
                     ("bytes", .number(r.bytes)),
                     ("output_shape", r.outputShape.map { .string($0) } ?? .null),
                     ("connected_to", r.connectedTo.map { .array($0.map { .string($0) }) } ?? .null),
                     ("parent", r.parent.map { .string($0) } ?? .null)])
        })))
        var tensors: [JSONValue] = []
        for (i, _) in orderedTensors(selected) {
            let info = index.tensors[i]
            var e: [(String, JSONValue)] = [
                ("name", .string(info.name)), ("dtype", .string(info.dtype.rawValue)),
                ("shape", .array(info.shape.map { .number($0) })), ("elements", .number(info.elementCount ?? 0)),
                ("bytes", .number(info.byteCount ?? 0)),
                ("stored_bytes", storedBytes(i).map { .number($0) } ?? .null),
                ("role", .string(info.role.rawValue)), ("trainable", known || info.role == .optimizer ? .bool(info.trainable) : .null),
                ("layer", .string(info.layer)),
                ("slot", info.slot.map { .string($0) } ?? .null),
                ("weight", info.weight.map { .string($0) } ?? .null),
            ]
            if let q = info.quantization { e.append(("quantization", .string(q))) }
            if let h = verification?.sha256[i] { e.append(("sha256", .string(h))) }
            if let key = info.sourceKey { e.append(("source_key", .string(key))) }
            if let s = stats[i] {
                e.append(("stats", .object([
                    ("min", Self.number(s.min)), ("max", Self.number(s.max)), ("mean", Self.number(s.mean)), ("std", Self.number(s.std)),
                    ("zeros", .number(s.zeros)), ("nan", .number(s.nans)), ("pos_inf", .number(s.posInfs)), ("neg_inf", .number(s.negInfs)),
                    ("finite", .number(s.finite)),
                    ("histogram", s.histogram().map { h in
                        .object([("edges", .array(h.edges.map { Self.number($0) })), ("counts", .array(h.counts.map { .number($0) }))])
                    } ?? .null),
                ])))
            }
            if let bytes = values[i] {
                let n = bytes.count / info.dtype.itemSize
                e.append(("values", .array(bytes.withUnsafeBytes { b in (0..<n).map { Elements.json(info.dtype, b, at: $0) } })))
            }
            tensors.append(.object(e))
        }
        root.append(("tensors", .array(tensors)))
        root.append(("unsupported", .array(index.unsupported.map { u in
            .object([("name", .string(u.name)), ("what", .string(u.what)), ("reason", .string(u.reason)),
                     ("offset", u.offset.map { .number($0) } ?? .null)])
        })))
        return .object(root)
    }

    /// A float as JSON: NaN and infinities as the strings `nan`, `inf`, `-inf`.
    public static func number(_ x: Double?) -> JSONValue {
        guard let x else { return .null }
        if x.isNaN { return .string("nan") }
        if x.isInfinite { return .string(x < 0 ? "-inf" : "inf") }
        return .number(x)
    }
}
