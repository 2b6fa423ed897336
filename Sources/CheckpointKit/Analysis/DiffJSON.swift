/// `ckpt diff --json`: schema `ckpt.diff/1` (documented in `CheckpointKit.docc/DiffJSON.md`).
extension CheckpointDiff {
    public static let jsonSchema = "ckpt.diff/1"

    public func json() -> JSONValue {
        let s = summary
        var root: [(String, JSONValue)] = [
            ("schema", .string(Self.jsonSchema)),
            ("verdict", .string(verdict.rawValue)),
            ("exit_code", .number(Int(exitCode))),
            ("a", Self.sideJSON(a)),
            ("b", Self.sideJSON(b)),
            ("reference", .string("b")),
        ]
        root.append(("options", .object([
            ("atol", options.atol.map { Self.num($0) } ?? .null),
            ("rtol", options.rtol.map { Self.num($0) } ?? .null),
            ("nan", .string(options.nan.rawValue)),
            ("weights_only", .bool(options.weightsOnly)),
            ("include_optimizer", .bool(options.includeOptimizer)),
            ("map", .array(options.names.renames.map { .object([("old", .string($0.old)), ("new", .string($0.new))]) })),
            ("strip_prefix", .array(options.names.stripPrefixes.map { .string($0) })),
            ("stop_at_first_difference", .bool(options.stopAtFirstDifference)),
            ("full", .bool(!options.useIndexFingerprints)),
            ("strict", .bool(options.strict)),
        ])))
        root.append(("stopped_early", .bool(stoppedEarly)))
        root.append(("summary", .object([
            ("tensors", .number(s.tensors)),
            ("compared", .number(s.compared)),
            ("identical", .number(s.identical)),
            ("within_tolerance", .number(s.withinTolerance)),
            ("different", .number(s.different)),
            ("only_in_a", .number(s.onlyInA)),
            ("only_in_b", .number(s.onlyInB)),
            ("dtype_changed", .number(s.dtypeChanged)),
            ("shape_changed", .number(s.shapeChanged)),
            ("not_compared", .number(s.notCompared)),
            ("proven_from_index", .number(s.provenFromIndex)),
            ("elements_compared", .number(s.elementsCompared)),
            ("elements_differing", .number(s.elementsDiffering)),
            ("non_trainable_changed", .number(s.nonTrainableChanged)),
            ("bytes_read", .number(bytesRead)),
        ])))
        root.append(("layers", .array(layers.map { l in
            .object([
                ("name", .string(l.name)),
                ("class_name", l.className.map { .string($0) } ?? .null),
                ("tensors", .number(l.tensors.count)),
                ("identical", .number(l.identical)),
                ("within_tolerance", .number(l.withinTolerance)),
                ("different", .number(l.different)),
                ("structural", .number(l.structural)),
                ("relative_change", l.relativeChange.map { Self.num($0) } ?? .null),
            ])
        })))
        root.append(("tensors", .array(tensors.map(Self.tensorJSON))))
        root.append(("architecture", architecture.map(Self.architectureJSON) ?? .null))
        root.append(("optimizer", optimizer.map(Self.optimizerJSON) ?? .null))
        return .object(root)
    }

    static func sideJSON(_ s: Side) -> JSONValue {
        .object([
            ("file", .string(s.path)),
            ("format", .string(s.format.rawValue)),
            ("kind", .string(s.kind.rawValue)),
            ("tensors", .number(s.tensorCount)),
            ("producer", s.producer.map { .string($0) } ?? .null),
            ("optimizer", s.optimizer.map { o in .object([("class_name", .string(o)), ("iterations", s.iterations.map { .number($0) } ?? .null)]) } ?? .null),
        ])
    }

    static func infoJSON(_ t: TensorInfo?, name: String?) -> JSONValue {
        guard let t else { return .null }
        return .object([
            ("name", .string(name ?? t.name)),
            ("dtype", .string(t.dtype.rawValue)),
            ("shape", .array(t.shape.map { .number($0) })),
            ("role", .string(t.role.rawValue)),
            ("trainable", .bool(t.trainable)),
            ("slot", t.slot.map { .string($0) } ?? .null),
            ("weight", t.weight.map { .string($0) } ?? .null),
        ])
    }

    static func tensorJSON(_ t: TensorDiff) -> JSONValue {
        var e: [(String, JSONValue)] = [
            ("name", .string(t.name)),
            ("layer", .string(t.layer)),
            ("status", .string(t.status)),
            ("marker", .string(t.marker)),
            ("values", .string(t.values.rawValue)),
            ("a", infoJSON(t.a, name: t.a?.name)),
            ("b", infoJSON(t.b, name: t.b?.name)),
            ("dtype_changed", .bool(t.dtypeChanged)),
            ("shape_changed", .bool(t.shapeChanged)),
            ("tolerance", t.tolerance.map { .object([("atol", num($0.atol)), ("rtol", num($0.rtol))]) } ?? .null),
            ("proven_from_index", .bool(t.provenFromIndex)),
            ("note", t.note.map { .string($0) } ?? .null),
        ]
        if let m = t.metrics, t.values != .notCompared {
            let shape = t.b?.shape ?? t.a?.shape ?? []
            e.append(("metrics", metricsJSON(m, identical: t.values == .identical, relativeChange: t.relativeChange, shape: shape)))
        } else {
            e.append(("metrics", .null))
        }
        return .object(e)
    }

    static func opt(_ x: Double?) -> JSONValue {
        guard let x else { return .null }
        return num(x)
    }

    static func metricsJSON(_ m: DiffMetrics, identical: Bool, relativeChange: Double?, shape: [Int]) -> JSONValue {
        var e: [(String, JSONValue)] = []
        e.append(("elements", .number(m.elements)))
        e.append(("compared", .number(m.compared)))
        e.append(("differing", .number(m.differing)))
        e.append(("differing_fraction", num(m.differingFraction)))
        e.append(("identical", .bool(identical)))
        e.append(("max_abs", opt(m.maxAbsolute)))
        e.append(("mean_abs", opt(m.meanAbs)))
        e.append(("rms", opt(m.rms)))
        e.append(("max_rel", opt(m.maxRelative)))
        e.append(("cosine", opt(m.cosine)))
        e.append(("relative_change", opt(relativeChange)))
        e.append(("nan_both", .number(m.nanBoth)))
        e.append(("nan_only_a", .number(m.nanOnlyA)))
        e.append(("nan_only_b", .number(m.nanOnlyB)))
        if let at = m.maxAbsIndex {
            let idx: [JSONValue] = unravel(at, shape).map { .number($0) }
            e.append(("max_abs_at", .array(idx)))
            e.append(("max_abs_a", num(m.maxAbsA)))
            e.append(("max_abs_b", num(m.maxAbsB)))
        } else {
            e.append(("max_abs_at", .null))
            e.append(("max_abs_a", .null))
            e.append(("max_abs_b", .null))
        }
        return .object(e)
    }

    static func changeJSON(_ c: DiffKeyChange) -> JSONValue {
        var e: [(String, JSONValue)] = [("path", .string(c.path))]
        if let a = c.a { e.append(("a", a)) }
        if let b = c.b { e.append(("b", b)) }
        return .object(e)
    }

    static func layerRef(_ l: ArchitectureDiff.Layer?) -> JSONValue {
        guard let l else { return .null }
        return .object([("name", .string(l.name)), ("class_name", .string(l.className))])
    }

    static func architectureJSON(_ d: ArchitectureDiff) -> JSONValue {
        .object([
            ("status", .string(d.status.rawValue)),
            ("different", .bool(d.isDifferent)),
            ("counted", .bool(d.countsAsDifference)),
            ("not_held_by", d.notHeldBy.map { .string($0) } ?? .null),
            ("model_a", layerRef(d.modelA)),
            ("model_b", layerRef(d.modelB)),
            ("layers_added", .array(d.added.map { layerRef($0) })),
            ("layers_removed", .array(d.removed.map { layerRef($0) })),
            ("layers_changed", .array(d.changed.map { c in
                .object([
                    ("name", .string(c.name)),
                    ("class_a", .string(c.classA)),
                    ("class_b", .string(c.classB)),
                    ("keys", .array(c.keys.map(changeJSON))),
                ])
            })),
            ("model_changes", .array(d.modelChanges.map(changeJSON))),
            ("reordered", .bool(d.reordered)),
        ])
    }

    static func optimizerJSON(_ d: OptimizerDiff) -> JSONValue {
        .object([
            ("status", .string(d.status.rawValue)),
            ("counted", .bool(d.countsAsDifference)),
            ("config_not_held_by", d.configNotHeldBy.map { .string($0) } ?? .null),
            ("class_a", d.classA.map { .string($0) } ?? .null),
            ("class_b", d.classB.map { .string($0) } ?? .null),
            ("iterations_a", d.iterationsA.map { .number($0) } ?? .null),
            ("iterations_b", d.iterationsB.map { .number($0) } ?? .null),
            ("config_changes", .array(d.configChanges.map(changeJSON))),
            ("slots_a", .array(d.slotsA.map { .string($0) })),
            ("slots_b", .array(d.slotsB.map { .string($0) })),
            ("slot_tensors_only_in_a", .array(d.slotTensorsOnlyInA.map { .string($0) })),
            ("slot_tensors_only_in_b", .array(d.slotTensorsOnlyInB.map { .string($0) })),
        ])
    }

    /// Finite numbers as JSON numbers; NaN and infinities as the strings "nan", "inf", "-inf".
    static func num(_ x: Double) -> JSONValue {
        if x.isNaN { return .string("nan") }
        if x.isInfinite { return .string(x < 0 ? "-inf" : "inf") }
        return .number(x)
    }

    /// Flat C-order index -> multi-index.
    public static func unravel(_ flat: Int, _ shape: [Int]) -> [Int] {
        guard !shape.isEmpty else { return [] }
        var rest = flat
        var out = [Int](repeating: 0, count: shape.count)
        for k in shape.indices.reversed() {
            let d = Swift.max(1, shape[k])
            out[k] = rest % d
            rest /= d
        }
        return out
    }
}
