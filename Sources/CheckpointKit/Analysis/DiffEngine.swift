import Synchronization

/// How to compare two checkpoints (`ckpt diff`'s options).
public struct DiffOptions: Sendable {
    /// Absolute / relative tolerance for floating-point tensors; nil keeps the dtype's default
    /// (``DiffTolerance/default(for:)``). Integer and bool tensors are always compared exactly.
    public var atol: Double?
    public var rtol: Double?
    public var nan: DiffNaNPolicy = .equal
    public var names = DiffNameMapping()
    /// Compare weights only: no optimizer tensors, architecture or optimizer configuration.
    public var weightsOnly = false
    /// Also compare the optimizer's tensors (slots, iteration, learning rate) value by value.
    public var includeOptimizer = false
    /// Keep only tensors whose aligned name passes (nil: all).
    public var include: (@Sendable (String) -> Bool)?
    /// Stop reading as soon as the answer is known to be "different" (`-q`).
    public var stopAtFirstDifference = false
    public var parallel = true
    /// Trust equal index fingerprints (same dtype, shape, CRC-32 and size) as identical without
    /// reading the data ("identical by checksum"); false (`--full`) compares every byte.
    public var useIndexFingerprints = true
    /// Count differences in what one side's format cannot hold (the architecture of a
    /// `.weights.h5`, an optimizer configuration it does not store) as differences; by default
    /// they are reported but do not make the checkpoints different.
    public var strict = false
    public var limits = Limits.default
    /// Called once, before any tensor data is read, with the number of bytes (A and B) to read.
    public var onPlan: (@Sendable (UInt64) -> Void)?
    /// Called with the number of tensor-data bytes (A and B) each finished step read.
    public var progress: (@Sendable (UInt64) -> Void)?
    /// A streamed pair's other side is held in memory up to this size, else read on its own
    /// thread through a few 1 MiB slots (tests lower it).
    var streamBufferLimit = 8 << 20

    public init() {}

    /// The tolerance a pair of dtypes is compared with.
    public func tolerance(a: DType, b: DType) -> DiffTolerance {
        let floating = a.isFloatingPoint || b.isFloatingPoint
        guard floating else { return .exact }
        var t = DiffTolerance.default(a: a, b: b)
        if let atol { t.atol = atol }
        if let rtol { t.rtol = rtol }
        return t
    }
}

/// The comparison of one tensor name.
public struct TensorDiff: Sendable {
    public enum Values: String, Sendable {
        /// Same dtype and every byte equal.
        case identical
        /// Every element close under the tolerance, not every byte equal.
        case withinTolerance = "within_tolerance"
        /// Some element beyond the tolerance (see ``DiffMetrics/differing``).
        case different
        /// Not compared: one side only, incompatible shapes, or the diff stopped early.
        case notCompared = "not_compared"
    }

    /// The name both sides are paired under (after `--map` / `--strip-prefix`).
    public var name: String
    /// The top-level layer (for grouping).
    public var layer: String
    public var a: TensorInfo?
    public var b: TensorInfo?
    public var indexA: Int?
    public var indexB: Int?
    public var values: Values = .notCompared
    public var metrics: DiffMetrics?
    public var tolerance: DiffTolerance?
    /// Proven bit-identical from the indexes alone (equal CRC-32 and size); nothing was read.
    public var provenFromIndex = false
    /// Why the values were not compared, when they were not.
    public var note: String?

    public var onlyInA: Bool { a != nil && b == nil }
    public var onlyInB: Bool { a == nil && b != nil }
    public var dtypeChanged: Bool { a != nil && b != nil && a?.dtype != b?.dtype }
    public var shapeChanged: Bool { a != nil && b != nil && a?.shape != b?.shape }

    /// Whether this tensor makes the checkpoints different (exit status 1).
    public var isDifference: Bool { a == nil || b == nil || dtypeChanged || shapeChanged || values == .different }

    /// `-` only in A, `+` only in B, `!` dtype or shape changed, `*` values beyond tolerance,
    /// `~` within tolerance, `=` identical, `?` not compared.
    public var marker: String {
        if onlyInA { return "-" }
        if onlyInB { return "+" }
        if dtypeChanged || shapeChanged { return "!" }
        switch values {
        case .different: return "*"
        case .withinTolerance: return "~"
        case .identical: return "="
        case .notCompared: return "?"
        }
    }

    /// The status word used in JSON and tables.
    public var status: String {
        if onlyInA { return "only_in_a" }
        if onlyInB { return "only_in_b" }
        if dtypeChanged || shapeChanged { return "changed_type" }
        return values.rawValue
    }

    /// sqrt(ΣΔ²) / sqrt(Σb²): the size of the change relative to B (0 when nothing changed,
    /// inf when B is all zeros and A is not); nil when not compared or proven from the index.
    public var relativeChange: Double? {
        guard let m = metrics, values != .notCompared else { return nil }
        if values == .identical { return 0 }
        return DiffLayerSummary.ratio(m.sumSquaredDelta, m.sumSquaresB)
    }
}

/// Per-layer aggregate for the bar view.
public struct DiffLayerSummary: Sendable {
    public var name: String
    /// Layer class from the architecture (B's, else A's), when known.
    public var className: String?
    /// Indices into ``CheckpointDiff/tensors``.
    public var tensors: [Int]
    /// sqrt(Σ ΣΔ²) / sqrt(Σ Σb²) over the layer's tensors whose values were read.
    public var relativeChange: Double?
    public var identical = 0
    public var withinTolerance = 0
    public var different = 0
    public var structural = 0

    public var changed: Bool { different > 0 || structural > 0 }

    static func ratio(_ num: Double, _ den: Double) -> Double {
        if num == 0 { return 0 }
        if den == 0 { return .infinity }
        return (num / den).squareRoot()
    }
}

/// The result of comparing checkpoint A with checkpoint B (the reference).
public struct CheckpointDiff: Sendable {
    public struct Side: Sendable {
        public var path: String
        public var format: CheckpointFormat
        public var kind: CheckpointIndex.Kind
        public var tensorCount: Int
        public var producer: String?
        public var optimizer: String?
        public var iterations: Int64?
    }

    public enum Verdict: String, Sendable {
        /// Nothing differs and every compared tensor is bit-identical.
        case identical
        /// Nothing differs beyond tolerance, but some tensor is not bit-identical.
        case equal = "equal_within_tolerance"
        /// Some difference (exit status 1).
        case different
    }

    public struct Summary: Sendable, Equatable {
        public var tensors = 0
        public var compared = 0
        public var identical = 0
        public var withinTolerance = 0
        public var different = 0
        public var onlyInA = 0
        public var onlyInB = 0
        public var dtypeChanged = 0
        public var shapeChanged = 0
        public var notCompared = 0
        public var provenFromIndex = 0
        public var elementsCompared = 0
        public var elementsDiffering = 0
        /// Weights marked non-trainable (frozen layers, moving statistics) whose values differ.
        public var nonTrainableChanged = 0
    }

    public var a: Side
    public var b: Side
    public var options: DiffOptions
    /// Every tensor name of A or B that was selected, grouped by layer in model order.
    public var tensors: [TensorDiff]
    public var layers: [DiffLayerSummary]
    /// nil with `weightsOnly` or when neither file has an architecture.
    public var architecture: ArchitectureDiff?
    public var optimizer: OptimizerDiff?
    /// `stopAtFirstDifference` stopped before every tensor was compared.
    public var stoppedEarly = false
    /// Tensor-data bytes read (A and B together).
    public var bytesRead: UInt64 = 0

    public var summary: Summary {
        var s = Summary()
        for t in tensors {
            s.tensors += 1
            if t.onlyInA { s.onlyInA += 1; continue }
            if t.onlyInB { s.onlyInB += 1; continue }
            if t.dtypeChanged { s.dtypeChanged += 1 }
            if t.shapeChanged { s.shapeChanged += 1 }
            if t.provenFromIndex { s.provenFromIndex += 1 }
            switch t.values {
            case .identical: s.identical += 1; s.compared += 1
            case .withinTolerance: s.withinTolerance += 1; s.compared += 1
            case .different:
                s.different += 1
                s.compared += 1
                if t.a?.role == .weight && (t.a?.trainable == false || t.b?.trainable == false) { s.nonTrainableChanged += 1 }
            case .notCompared: s.notCompared += 1
            }
            if let m = t.metrics {
                s.elementsCompared += m.elements
                s.elementsDiffering += m.differing
            }
        }
        return s
    }

    public var hasDifferences: Bool {
        tensors.contains { $0.isDifference } || (architecture?.countsAsDifference ?? false) || (optimizer?.countsAsDifference ?? false)
    }

    public var verdict: Verdict {
        if hasDifferences { return .different }
        return tensors.allSatisfy { $0.values == .identical || $0.a == nil || $0.b == nil } ? .identical : .equal
    }

    /// 0: no differences beyond tolerance; 1: differences (as diff(1) and h5diff).
    public var exitCode: Int32 { hasDifferences ? 1 : 0 }
}

extension CheckpointDiff {
    /// Compares `a` with `b` (the reference): names, dtypes and shapes from the indexes, then the
    /// values of every pair present in both with compatible shapes, streaming both files.
    ///
    /// Pairs whose index fingerprints are equal are identical without reading. Other pairs are
    /// read in aligned pieces: when both sides can read a tensor piece by piece (a `.ckpt`'s 1 MiB
    /// chunks, stored `.npz` members, ...), each piece of one side is compared with the matching
    /// bytes of the other on any core; otherwise one side is streamed and the other pulled along
    /// (pieces, memory for small tensors, or a reader thread). Memory stays at a few pieces per
    /// core, independent of the size of the files.
    public static func compare(_ a: any TensorSource, _ b: any TensorSource, options: DiffOptions = DiffOptions()) throws -> CheckpointDiff {
        let ia = a.index, ib = b.index
        let mapping = options.names
        let archA = ArchitectureDiff.parse(ia.architecture), archB = ArchitectureDiff.parse(ib.architecture)
        let namer = DiffLayerNamer(architectures: [archB, archA])

        func selected(_ t: TensorInfo) -> Bool {
            t.role == .weight || (options.includeOptimizer && !options.weightsOnly)
        }
        // Align names, refusing two tensors of one side that end up with the same name.
        func alignedNames(_ s: any TensorSource, isA: Bool) throws -> [(Int, String)] {
            var out: [(Int, String)] = []
            var seen: [ByteName: Int] = [:]
            for (i, t) in s.index.tensors.enumerated() where selected(t) {
                let n = mapping.aligned(t, isA: isA)
                if let j = seen[ByteName(n)] {
                    throw CheckpointError(.duplicateName,
                                          "tensors \"\(escapeForDisplay(s.index.tensors[j].name))\" and \"\(escapeForDisplay(t.name))\" both become \"\(escapeForDisplay(n))\" after --map/--strip-prefix",
                                          file: s.path, hint: "make the renames more specific")
                }
                seen[ByteName(n)] = i
                if let include = options.include, !include(n) { continue }
                out.append((i, n))
            }
            return out
        }
        let namesA = try alignedNames(a, isA: true)
        let namesB = try alignedNames(b, isA: false)
        var bByName: [ByteName: Int] = [:]
        for (i, n) in namesB { bByName[ByteName(n)] = i }
        var pairedB = Set<Int>()

        var diffs: [TensorDiff] = []
        func makeDiff(_ name: String, _ i: Int?, _ j: Int?) -> TensorDiff {
            let ta = i.map { ia.tensors[$0] }, tb = j.map { ib.tensors[$0] }
            let ref = tb ?? ta
            let weight = ref.flatMap { t in t.weight.map { mapping.aligned($0, isA: tb == nil) } }
            let layer = namer.layer(of: name, role: ref?.role ?? .weight, weight: weight)
            return TensorDiff(name: name, layer: layer, a: ta, b: tb, indexA: i, indexB: j)
        }
        for (i, n) in namesA {
            let j = bByName[ByteName(n)]
            if let j { pairedB.insert(j) }
            diffs.append(makeDiff(n, i, j))
        }
        for (j, n) in namesB where !pairedB.contains(j) { diffs.append(makeDiff(n, nil, j)) }

        // Group by layer in model order (A's order, then B's), weights before optimizer state.
        var layerRank: [ByteName: Int] = [:]
        for d in diffs where layerRank[ByteName(d.layer)] == nil { layerRank[ByteName(d.layer)] = layerRank.count }
        let order = diffs.indices.sorted { x, y in
            let dx = diffs[x], dy = diffs[y]
            let lx = layerRank[ByteName(dx.layer)] ?? 0, ly = layerRank[ByteName(dy.layer)] ?? 0
            if lx != ly { return lx < ly }
            let rx = (dx.a ?? dx.b)?.role == .optimizer ? 1 : 0, ry = (dy.a ?? dy.b)?.role == .optimizer ? 1 : 0
            if rx != ry { return rx < ry }
            return x < y
        }
        diffs = order.map { diffs[$0] }

        var architecture = options.weightsOnly ? nil : ArchitectureDiff.compare(ia.architecture, ib.architecture, parsedA: archA, parsedB: archB)
        var optimizer = options.weightsOnly ? nil : OptimizerDiff.compare(ia, ib, mapping: mapping)
        // What a side's format cannot hold is reported, not counted, unless `strict`.
        let heldA = a.format.handler?.parts ?? .all, heldB = b.format.handler?.parts ?? .all
        func lacking(_ part: FormatParts) -> String? {
            if !heldB.contains(part) { return "B (\(b.format.displayName))" }
            if !heldA.contains(part) { return "A (\(a.format.displayName))" }
            return nil
        }
        if !options.strict, let side = lacking(.architecture) { architecture?.notHeldBy = side }
        if !options.strict, let side = lacking(.optimizerConfig) { optimizer?.configNotHeldBy = side }

        // Decide how each pair is compared.
        var jobs: [DiffJob] = []
        for k in diffs.indices {
            guard let i = diffs[k].indexA, let j = diffs[k].indexB, let ta = diffs[k].a, let tb = diffs[k].b else { continue }
            let tol = options.tolerance(a: ta.dtype, b: tb.dtype)
            diffs[k].tolerance = tol
            guard let na = ta.elementCount, let nb = tb.elementCount, ta.byteCount != nil, tb.byteCount != nil else {
                diffs[k].note = "the shape's size overflows"
                continue
            }
            guard na == nb, Self.squeezed(ta.shape) == Self.squeezed(tb.shape) else {
                diffs[k].note = "shapes \(ta.shapeDescription) and \(tb.shapeDescription) are not compatible"
                continue
            }
            if na == 0 {
                var m = DiffMetrics()
                m.bitIdentical = ta.dtype == tb.dtype
                diffs[k].metrics = m
                diffs[k].values = m.bitIdentical ? .identical : .withinTolerance
                continue
            }
            if options.useIndexFingerprints, ta.dtype == tb.dtype, let fa = a.fingerprint(of: i), let fb = b.fingerprint(of: j), fa == fb,
               options.nan == .equal || !ta.dtype.isFloatingPoint {
                diffs[k].metrics = .provenIdentical(elements: na)
                diffs[k].values = .identical
                diffs[k].provenFromIndex = true
                continue
            }
            jobs.append(DiffJob(diff: k, a: a, b: b, i: i, j: j, elements: na,
                                kernel: DiffKernel(dtypeA: ta.dtype, dtypeB: tb.dtype, tolerance: tol, nanEqual: options.nan == .equal)))
        }

        var result = CheckpointDiff(a: Self.side(a), b: Self.side(b), options: options, tensors: diffs, layers: [],
                                    architecture: architecture, optimizer: optimizer)
        // With -q, a structural difference already decides.
        let decided = options.stopAtFirstDifference && result.hasDifferences
        if !decided && !jobs.isEmpty {
            options.onPlan?(jobs.reduce(UInt64(0)) { $0 + UInt64((ia.tensors[$1.i].byteCount ?? 0) + (ib.tensors[$1.j].byteCount ?? 0)) })
            let outcome = try DiffScheduler(jobs: jobs, options: options).run()
            for (n, job) in jobs.enumerated() {
                guard let m = outcome.metrics[n] else {
                    result.tensors[job.diff].note = "not compared (stopped at the first difference)"
                    continue
                }
                result.tensors[job.diff].metrics = m
                result.tensors[job.diff].values = m.differing > 0 ? .different : m.bitIdentical ? .identical : .withinTolerance
            }
            result.stoppedEarly = outcome.stopped
            result.bytesRead = outcome.bytesRead
        } else if decided {
            result.stoppedEarly = !jobs.isEmpty
            for job in jobs { result.tensors[job.diff].note = "not compared (stopped at the first difference)" }
        }
        result.layers = Self.layerSummaries(result.tensors, architectures: [archB, archA])
        return result
    }

    /// The shape without its 1s: (10,) and (1, 10) hold the same data in the same order.
    static func squeezed(_ shape: [Int]) -> [Int] { shape.filter { $0 != 1 } }

    static func side(_ s: any TensorSource) -> Side {
        Side(path: s.path, format: s.format, kind: s.index.kind, tensorCount: s.index.tensors.count, producer: s.index.producer,
             optimizer: s.index.optimizer?.className, iterations: s.index.optimizer?.iterations)
    }

    static func layerSummaries(_ tensors: [TensorDiff], architectures: [JSONValue?]) -> [DiffLayerSummary] {
        var classes: [String: String] = [:]
        for arch in architectures.reversed() {
            guard let v = arch, let o = ArchitectureDiff.outline(v) else { continue }
            for (n, c, _) in o.layers { classes[n] = c }
        }
        var out: [DiffLayerSummary] = []
        var position: [String: Int] = [:]
        var sums: [(Double, Double)] = []
        for (k, t) in tensors.enumerated() {
            let p: Int
            if let q = position[t.layer] {
                p = q
            } else {
                p = out.count
                position[t.layer] = p
                out.append(DiffLayerSummary(name: t.layer, className: classes[t.layer], tensors: []))
                sums.append((0, 0))
            }
            out[p].tensors.append(k)
            if t.onlyInA || t.onlyInB || t.dtypeChanged || t.shapeChanged { out[p].structural += 1 }
            switch t.values {
            case .identical: out[p].identical += 1
            case .withinTolerance: out[p].withinTolerance += 1
            case .different: out[p].different += 1
            case .notCompared: break
            }
            if let m = t.metrics, t.values != .notCompared {
                sums[p].0 += m.sumSquaredDelta
                sums[p].1 += m.sumSquaresB
                if out[p].relativeChange == nil { out[p].relativeChange = 0 }
            }
        }
        for p in out.indices where out[p].relativeChange != nil {
            out[p].relativeChange = DiffLayerSummary.ratio(sums[p].0, sums[p].1)
        }
        return out
    }
}

/// One pair of tensors whose values are read.
