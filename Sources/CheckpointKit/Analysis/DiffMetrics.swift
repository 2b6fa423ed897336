import CheckpointSystem
/// How `ckpt diff` treats NaN: `equal` (the default, like h5diff) counts two NaNs in the same
/// place as equal; `differ` counts every NaN as a difference.
public enum DiffNaNPolicy: String, Sendable, CaseIterable {
    case equal
    case differ
}

/// Absolute and relative tolerance, combined as numpy and torch do: element `a` of A is close to
/// element `b` of B (the reference) when `|a − b| ≤ atol + rtol·|b|`, evaluated in float64.
public struct DiffTolerance: Sendable, Hashable {
    public var atol: Double
    public var rtol: Double

    public init(atol: Double, rtol: Double) {
        self.atol = atol
        self.rtol = rtol
    }

    /// No tolerance: only equal values are close.
    public static let exact = DiffTolerance(atol: 0, rtol: 0)

    public var isExact: Bool { atol == 0 && rtol == 0 }

    /// The default for a dtype: wide enough for floating-point rounding noise (a value computed
    /// twice in a different order, fused or not), narrow enough that any real training step shows.
    ///
    /// | dtype | atol | rtol | why |
    /// | --- | --- | --- | --- |
    /// | float64 | 1e-12 | 1e-12 | ~4500 ulp: only rounding noise |
    /// | float32 | 1e-8 | 1e-6 | ~8 ulp (eps 1.19e-7) |
    /// | float16 | 1e-5 | 1e-3 | ~1 ulp (eps 9.8e-4) |
    /// | bfloat16 | 1e-5 | 1e-2 | ~1 ulp (eps 7.8e-3) |
    /// | float8 e4m3 (fn, fnuz) | 0 | 0.125 | 1 ulp |
    /// | float8 e5m2 (fn, fnuz) | 0 | 0.25 | 1 ulp |
    /// | float8 e8m0 | 0 | 0 | exact (powers of two) |
    /// | integers, bool | 0 | 0 | always compared exactly |
    public static func `default`(for dtype: DType) -> DiffTolerance {
        switch dtype {
        case .float64: return DiffTolerance(atol: 1e-12, rtol: 1e-12)
        case .float32: return DiffTolerance(atol: 1e-8, rtol: 1e-6)
        case .float16: return DiffTolerance(atol: 1e-5, rtol: 1e-3)
        case .bfloat16: return DiffTolerance(atol: 1e-5, rtol: 1e-2)
        // float8: one step of the mantissa (2^-3, 2^-2); e8m0 holds powers of two only.
        case .float8_e4m3fn, .float8_e4m3fnuz: return DiffTolerance(atol: 0, rtol: 0.125)
        case .float8_e5m2, .float8_e5m2fnuz: return DiffTolerance(atol: 0, rtol: 0.25)
        default: return .exact
        }
    }

    /// The default when A and B have different dtypes: the looser of the two (a float32 tensor
    /// against its bfloat16 export is judged at bfloat16 precision). Integer or bool against
    /// integer or bool is exact.
    public static func `default`(a: DType, b: DType) -> DiffTolerance {
        let ta = Self.default(for: a), tb = Self.default(for: b)
        return DiffTolerance(atol: Swift.max(ta.atol, tb.atol), rtol: Swift.max(ta.rtol, tb.rtol))
    }
}

/// What the value comparison of two tensors found. Built chunk by chunk on any number of threads
/// and merged in a fixed order, so the result does not depend on scheduling.
///
/// Definitions (A is compared against B, the reference; both widened exactly to float64):
/// - a *compared pair* is an element pair where neither value is NaN. `|Δ| = |a − b|`, taken as 0
///   when `a == b` (so `+0`/`−0` and `inf`/`inf` give 0), `inf` for `inf` against anything else.
/// - ``maxAbs``, ``meanAbs``, ``rms`` (`sqrt(mean(Δ²))`) are over compared pairs.
/// - ``maxRel`` is the largest `|Δ| / |b|` over compared pairs: 0 where `a == b`, `inf` where
///   `b` is 0 or infinite and `a` differs.
/// - ``cosine`` is `Σab / (sqrt(Σa²) sqrt(Σb²))` over pairs where both values are finite; 1 when
///   both norms are 0, 0 when exactly one is.
/// - ``differing`` counts pairs that are not close: `|a − b| > atol + rtol·|b|`, or an infinity
///   against a different value, or a NaN against a number, or (with `--nan differ`) two NaNs.
/// - ``bitIdentical``: the dtypes agree and every byte is equal (`+0` vs `−0` are close but not
///   identical; so are NaNs with different payloads).
public struct DiffMetrics: Sendable, Equatable {
    public var elements = 0
    /// Element pairs where neither value is NaN.
    public var compared = 0
    /// Element pairs that are not close under the tolerance and NaN policy.
    public var differing = 0
    public var nanBoth = 0
    public var nanOnlyA = 0
    public var nanOnlyB = 0
    /// Largest |Δ| (0 when nothing was compared).
    public var maxAbs = 0.0
    /// Flat C-order index of the first element pair with the largest |Δ|; nil when no pair differs.
    public var maxAbsIndex: Int?
    /// The two values at ``maxAbsIndex``.
    public var maxAbsA = 0.0
    public var maxAbsB = 0.0
    public var maxRel = 0.0
    public var bitIdentical = true
    // Compensated sums (value, Neumaier compensation).
    var sumAbs = CompensatedSum()
    var sumSq = CompensatedSum()
    var dot = CompensatedSum()
    var normA = CompensatedSum()
    var normB = CompensatedSum()

    public init() {}

    /// mean |Δ| over compared pairs; nil if there are none.
    public var meanAbs: Double? { compared == 0 ? nil : sumAbs.value / Double(compared) }
    /// sqrt(mean(Δ²)) over compared pairs; nil if there are none.
    public var rms: Double? { compared == 0 ? nil : (sumSq.value / Double(compared)).squareRoot() }
    /// Σ|Δ| and ΣΔ² over compared pairs (for per-layer aggregates).
    public var sumAbsDelta: Double { sumAbs.value }
    public var sumSquaredDelta: Double { sumSq.value }
    /// Σb² over pairs where both are finite (the reference's squared norm).
    public var sumSquaresB: Double { normB.value }
    public var sumSquaresA: Double { normA.value }
    /// Cosine similarity of the flattened tensors (finite pairs); exactly 1 for bit-identical
    /// tensors; nil if a sum overflowed.
    public var cosine: Double? {
        if bitIdentical { return 1 }
        let na = normA.value, nb = normB.value, d = dot.value
        guard na.isFinite, nb.isFinite, d.isFinite else { return nil }
        if na == 0 && nb == 0 { return 1 }
        if na == 0 || nb == 0 { return 0 }
        let c = d / (na.squareRoot() * nb.squareRoot())
        return Swift.min(1, Swift.max(-1, c))
    }
    /// maxRel when anything was compared.
    public var maxRelative: Double? { compared == 0 ? nil : maxRel }
    public var maxAbsolute: Double? { compared == 0 ? nil : maxAbs }
    /// differing / elements (0 for empty tensors).
    public var differingFraction: Double { elements == 0 ? 0 : Double(differing) / Double(elements) }

    /// Adds the metrics of the elements that follow (merge in element order for reproducible sums).
    public mutating func merge(_ o: DiffMetrics) {
        if o.maxAbs > maxAbs {
            maxAbs = o.maxAbs
            maxAbsIndex = o.maxAbsIndex
            maxAbsA = o.maxAbsA
            maxAbsB = o.maxAbsB
        }
        if o.maxRel > maxRel { maxRel = o.maxRel }
        elements += o.elements
        compared += o.compared
        differing += o.differing
        nanBoth += o.nanBoth
        nanOnlyA += o.nanOnlyA
        nanOnlyB += o.nanOnlyB
        bitIdentical = bitIdentical && o.bitIdentical
        sumAbs.add(o.sumAbs)
        sumSq.add(o.sumSq)
        dot.add(o.dot)
        normA.add(o.normA)
        normB.add(o.normB)
    }

    /// Metrics of a tensor proven bit-identical without reading it (from the index): `count`
    /// elements, none differing, cosine 1. NaN counts and norms are unknown and left 0.
    public static func provenIdentical(elements: Int) -> DiffMetrics {
        var m = DiffMetrics()
        m.elements = elements
        m.compared = elements
        return m
    }
}

/// Neumaier (improved Kahan) summation of float64 partial sums.
struct CompensatedSum: Sendable, Equatable {
    var sum = 0.0
    var c = 0.0

    @inline(__always)
    mutating func add(_ x: Double) {
        // Infinities (an inf |Δ|, an overflow) make the sum infinite; keep the compensation finite.
        guard x.isFinite && sum.isFinite else { sum += x; return }
        let t = sum + x
        if abs(sum) >= abs(x) { c += (sum - t) + x } else { c += (x - t) + sum }
        sum = t
    }

    mutating func add(_ o: CompensatedSum) {
        add(o.sum)
        add(o.c)
    }

    var value: Double { sum.isFinite ? sum + c : sum }
}

/// The element-wise comparison of two chunks (whole elements, same count on both sides).
struct DiffKernel: Sendable {
    let dtypeA: DType
    let dtypeB: DType
    let tolerance: DiffTolerance
    let nanEqual: Bool

    /// Elements decoded per block (fits in L1 twice over).
    static let block = 512

    /// Compares `count` elements starting at flat index `first`.
    func compare(_ a: UnsafeRawPointer, _ b: UnsafeRawPointer, count: Int, first: Int, into m: inout DiffMetrics) {
        guard count > 0 else { return }
        m.elements += count
        let same = dtypeA == dtypeB
        if same && Memory.equal(a, b, count: count * dtypeA.itemSize) {
            identicalSpan(a, count: count, into: &m)
            return
        }
        m.bitIdentical = false
        if same && !dtypeA.isFloatingPoint && dtypeA != .bool {
            integerSpan(a, b, count: count, first: first, into: &m)
            return
        }
        // Exact integer semantics for integer/bool pairs of different dtypes.
        let exact = !dtypeA.isFloatingPoint && !dtypeB.isFloatingPoint
        let tol = exact ? DiffTolerance.exact : tolerance
        withUnsafeTemporaryAllocation(of: Double.self, capacity: 2 * Self.block) { buf in
            guard let base = buf.baseAddress else { return }
            let x = base, y = base + Self.block
            var done = 0
            while done < count {
                let n = Swift.min(Self.block, count - done)
                let fa = DiffDecode.decode(dtypeA, a, from: done, count: n, into: x)
                let fb = DiffDecode.decode(dtypeB, b, from: done, count: n, into: y)
                if fa && fb {
                    finiteBlock(x, y, n, first: first + done, tol: tol, into: &m)
                } else {
                    generalBlock(x, y, n, first: first + done, tol: tol, into: &m)
                }
                done += n
            }
        }
    }

    /// Bytes equal: only the norms (for the cosine) and NaN counts need the values.
    private func identicalSpan(_ a: UnsafeRawPointer, count: Int, into m: inout DiffMetrics) {
        guard dtypeA.isFloatingPoint else {
            var sq = CompensatedSum()
            withUnsafeTemporaryAllocation(of: Double.self, capacity: Self.block) { buf in
                guard let x = buf.baseAddress else { return }
                var done = 0
                while done < count {
                    let n = Swift.min(Self.block, count - done)
                    _ = DiffDecode.decode(dtypeA, a, from: done, count: n, into: x)
                    var s0 = 0.0, s1 = 0.0
                    var k = 0
                    while k + 1 < n { s0 += x[k] * x[k]; s1 += x[k + 1] * x[k + 1]; k += 2 }
                    if k < n { s0 += x[k] * x[k] }
                    sq.add(s0 + s1)
                    done += n
                }
            }
            m.compared += count
            m.normA.add(sq)
            m.normB.add(sq)
            m.dot.add(sq)
            return
        }
        var sq = CompensatedSum()
        var nans = 0
        var compared = 0
        withUnsafeTemporaryAllocation(of: Double.self, capacity: Self.block) { buf in
            guard let x = buf.baseAddress else { return }
            var done = 0
            while done < count {
                let n = Swift.min(Self.block, count - done)
                let finite = DiffDecode.decode(dtypeA, a, from: done, count: n, into: x)
                var s0 = 0.0, s1 = 0.0
                if finite {
                    var k = 0
                    while k + 1 < n { s0 += x[k] * x[k]; s1 += x[k + 1] * x[k + 1]; k += 2 }
                    if k < n { s0 += x[k] * x[k] }
                    compared += n
                } else {
                    for k in 0..<n {
                        let v = x[k]
                        if v.isNaN { nans += 1 } else {
                            compared += 1
                            if v.isFinite { s0 += v * v }
                        }
                    }
                }
                sq.add(s0 + s1)
                done += n
            }
        }
        m.compared += compared
        m.nanBoth += nans
        if !nanEqual { m.differing += nans }
        m.normA.add(sq)
        m.normB.add(sq)
        m.dot.add(sq)
    }

    /// Same integer dtype: exact equality; |Δ| from the exact integer difference.
    private func integerSpan(_ a: UnsafeRawPointer, _ b: UnsafeRawPointer, count: Int, first: Int, into m: inout DiffMetrics) {
        switch dtypeA {
        case .int8: intSpan(a, b, count, first, Int8.self, into: &m)
        case .int16: intSpan(a, b, count, first, Int16.self, into: &m)
        case .int32: intSpan(a, b, count, first, Int32.self, into: &m)
        case .int64: intSpan(a, b, count, first, Int64.self, into: &m)
        case .uint8: intSpan(a, b, count, first, UInt8.self, into: &m)
        case .uint16: intSpan(a, b, count, first, UInt16.self, into: &m)
        case .uint32: intSpan(a, b, count, first, UInt32.self, into: &m)
        case .uint64: intSpan(a, b, count, first, UInt64.self, into: &m)
        default: break
        }
    }

    private func intSpan<T: FixedWidthInteger>(_ a: UnsafeRawPointer, _ b: UnsafeRawPointer, _ count: Int, _ first: Int, _: T.Type, into m: inout DiffMetrics) {
        var s1 = CompensatedSum(), s2 = CompensatedSum(), dt = CompensatedSum(), na = CompensatedSum(), nb = CompensatedSum()
        var differing = 0
        var mx = m.maxAbs, mr = m.maxRel
        var mxIndex = m.maxAbsIndex, mxA = m.maxAbsA, mxB = m.maxAbsB
        let size = MemoryLayout<T>.size
        var done = 0
        while done < count {
            let n = Swift.min(Self.block, count - done)
            var p1 = 0.0, p2 = 0.0, pd = 0.0, pa = 0.0, pb = 0.0
            for k in done..<(done + n) {
                let va = a.loadUnaligned(fromByteOffset: k &* size, as: T.self)
                let vb = b.loadUnaligned(fromByteOffset: k &* size, as: T.self)
                let x = Double(va), y = Double(vb)
                pd += x * y; pa += x * x; pb += y * y
                if va != vb {
                    differing &+= 1
                    let mag: UInt64
                    if T.isSigned {
                        let ia = Int64(va), ib = Int64(vb)
                        mag = ia >= ib ? UInt64(bitPattern: ia &- ib) : UInt64(bitPattern: ib &- ia)
                    } else {
                        let ua = UInt64(va), ub = UInt64(vb)
                        mag = ua >= ub ? ua - ub : ub - ua
                    }
                    let d = Double(mag)
                    p1 += d; p2 += d * d
                    if d > mx { mx = d; mxIndex = first + k; mxA = x; mxB = y }
                    let r = y == 0 ? Double.infinity : d / abs(y)
                    if r > mr { mr = r }
                }
            }
            s1.add(p1); s2.add(p2); dt.add(pd); na.add(pa); nb.add(pb)
            done += n
        }
        m.compared += count
        m.differing += differing
        m.maxAbs = mx; m.maxAbsIndex = mxIndex; m.maxAbsA = mxA; m.maxAbsB = mxB
        m.maxRel = mr
        m.sumAbs.add(s1); m.sumSq.add(s2); m.dot.add(dt); m.normA.add(na); m.normB.add(nb)
    }

    /// No NaN or infinity on either side: the hot loop, four lanes at a time. The rare events
    /// (a new largest |Δ|, a candidate for the largest relative Δ) are found per block and
    /// resolved by a scalar pass over that block only.
    @inline(__always)
    private func finiteBlock(_ x: UnsafePointer<Double>, _ y: UnsafePointer<Double>, _ n: Int, first: Int, tol: DiffTolerance, into m: inout DiffMetrics) {
        typealias V = SIMD4<Double>
        var s1 = V(), s2 = V(), dt = V(), na = V(), nb = V()
        var vmx = V()
        var vdiff = SIMD4<Int64>()
        let mrLow = m.maxRel * (1 - 4 * Double.ulpOfOne)
        let vatol = V(repeating: tol.atol), vrtol = V(repeating: tol.rtol), vmrLow = V(repeating: mrLow)
        var relCandidate = false
        let rx = UnsafeRawPointer(x), ry = UnsafeRawPointer(y)
        var k = 0
        while k + 4 <= n {
            let a = rx.loadUnaligned(fromByteOffset: k &* 8, as: V.self)
            let b = ry.loadUnaligned(fromByteOffset: k &* 8, as: V.self)
            let d = Self.abs4(a - b)
            let ab = Self.abs4(b)
            s1 += d
            s2 += d * d
            dt += a * b
            na += a * a
            nb += b * b
            vmx.replace(with: d, where: d .> vmx)
            vdiff.replace(with: vdiff &+ 1, where: d .> vatol + vrtol * ab)
            if any(d .> vmrLow * ab) { relCandidate = true }
            k += 4
        }
        var t1 = s1.sum(), t2 = s2.sum(), td = dt.sum(), ta = na.sum(), tb = nb.sum()
        var differing = Int(vdiff.wrappedSum())
        var blockMax = vmx.max()
        while k < n {
            let a = x[k], b = y[k]
            let d = abs(a - b), ab = abs(b)
            t1 += d
            t2 += d * d
            td += a * b
            ta += a * a
            tb += b * b
            if d > blockMax { blockMax = d }
            differing &+= d > tol.atol + tol.rtol * ab ? 1 : 0
            if d > mrLow * ab { relCandidate = true }
            k += 1
        }
        if blockMax > m.maxAbs {
            // First element with the block's largest |Δ|.
            for j in 0..<n where abs(x[j] - y[j]) == blockMax {
                m.maxAbs = blockMax
                m.maxAbsIndex = first + j
                m.maxAbsA = x[j]
                m.maxAbsB = y[j]
                break
            }
        }
        if relCandidate {
            var mr = m.maxRel
            for j in 0..<n {
                let d = abs(x[j] - y[j]), ab = abs(y[j])
                guard d > 0 else { continue }
                let r = ab == 0 ? Double.infinity : d / ab
                if r > mr { mr = r }
            }
            m.maxRel = mr
        }
        m.compared += n
        m.differing += differing
        m.sumAbs.add(t1)
        m.sumSq.add(t2)
        m.dot.add(td)
        m.normA.add(ta)
        m.normB.add(tb)
    }

    @inline(__always)
    static func abs4(_ v: SIMD4<Double>) -> SIMD4<Double> {
        unsafeBitCast(unsafeBitCast(v, to: SIMD4<UInt64>.self) & SIMD4(repeating: 0x7FFF_FFFF_FFFF_FFFF), to: SIMD4<Double>.self)
    }

    /// Some NaN or infinity in the block: every case spelled out.
    private func generalBlock(_ x: UnsafePointer<Double>, _ y: UnsafePointer<Double>, _ n: Int, first: Int, tol: DiffTolerance, into m: inout DiffMetrics) {
        var s1 = 0.0, s2 = 0.0, dt = 0.0, na = 0.0, nb = 0.0
        var differing = 0, compared = 0, nanBoth = 0, nanA = 0, nanB = 0
        var mx = m.maxAbs
        var mxAt = -1
        var mr = m.maxRel
        for k in 0..<n {
            let a = x[k], b = y[k]
            if a.isNaN || b.isNaN {
                if a.isNaN && b.isNaN {
                    nanBoth += 1
                    if !nanEqual { differing += 1 }
                } else if a.isNaN {
                    nanA += 1
                    differing += 1
                } else {
                    nanB += 1
                    differing += 1
                }
                continue
            }
            compared += 1
            let finite = a.isFinite && b.isFinite
            if finite {
                dt += a * b
                na += a * a
                nb += b * b
            }
            if a == b { continue }
            let d = abs(a - b)
            s1 += d
            s2 += d * d
            if d > mx { mx = d; mxAt = k }
            let ab = abs(b)
            let r = (ab == 0 || !ab.isFinite) ? Double.infinity : d / ab
            if r > mr { mr = r }
            if !finite || !(d <= tol.atol + tol.rtol * ab) { differing += 1 }
        }
        if mxAt >= 0 {
            m.maxAbs = mx
            m.maxAbsIndex = first + mxAt
            m.maxAbsA = x[mxAt]
            m.maxAbsB = y[mxAt]
        }
        m.maxRel = mr
        m.compared += compared
        m.differing += differing
        m.nanBoth += nanBoth
        m.nanOnlyA += nanA
        m.nanOnlyB += nanB
        m.sumAbs.add(s1)
        m.sumSq.add(s2)
        m.dot.add(dt)
        m.normA.add(na)
        m.normB.add(nb)
    }
}

/// Exact widening of little-endian elements to float64, a block at a time.
enum DiffDecode {
    /// Decodes elements `from..<from+count` of `p`; returns whether every value is finite.
    @inline(__always)
    static func decode(_ dtype: DType, _ p: UnsafeRawPointer, from: Int, count n: Int, into out: UnsafeMutablePointer<Double>) -> Bool {
        switch dtype {
        case .float32:
            let s = p + from &* 4
            var bad: UInt32 = 0
            for k in 0..<n {
                let bits = s.loadUnaligned(fromByteOffset: k &* 4, as: UInt32.self)
                // Exponent all ones: inf or NaN.
                // The exponent all ones (inf or NaN) carries into bit 31.
                bad |= ((bits & 0x7F80_0000) &+ 0x0080_0000) & 0x8000_0000
                out[k] = Double(Float(bitPattern: bits))
            }
            return bad == 0
        case .float64:
            let s = p + from &* 8
            var bad: UInt64 = 0
            for k in 0..<n {
                let bits = s.loadUnaligned(fromByteOffset: k &* 8, as: UInt64.self)
                bad |= ((bits & 0x7FF0_0000_0000_0000) &+ 0x0010_0000_0000_0000) & 0x8000_0000_0000_0000
                out[k] = Double(bitPattern: bits)
            }
            return bad == 0
        case .float16:
            let s = p + from &* 2
            var bad: UInt16 = 0
            for k in 0..<n {
                let bits = s.loadUnaligned(fromByteOffset: k &* 2, as: UInt16.self)
                bad |= ((bits & 0x7C00) &+ 0x0400) & 0x8000
                out[k] = Double(Elements.halfToFloat(bits))
            }
            return bad == 0
        case .bfloat16:
            let s = p + from &* 2
            var bad: UInt16 = 0
            for k in 0..<n {
                let bits = s.loadUnaligned(fromByteOffset: k &* 2, as: UInt16.self)
                bad |= ((bits & 0x7F80) &+ 0x0080) & 0x8000
                out[k] = Double(Elements.bfloat16ToFloat(bits))
            }
            return bad == 0
        case .bool:
            let s = p.assumingMemoryBound(to: UInt8.self) + from
            for k in 0..<n { out[k] = s[k] != 0 ? 1 : 0 }
        case .float8_e4m3fn, .float8_e5m2, .float8_e4m3fnuz, .float8_e5m2fnuz, .float8_e8m0fnu:
            let table = dtype.float8.map(Float8.table) ?? []
            var finite = true
            for k in 0..<n {
                let v = table[Int(p.loadUnaligned(fromByteOffset: from &+ k, as: UInt8.self))]
                finite = finite && v.isFinite
                out[k] = v
            }
            return finite
        case .int8:
            for k in 0..<n { out[k] = Double(p.loadUnaligned(fromByteOffset: from &+ k, as: Int8.self)) }
        case .uint8:
            for k in 0..<n { out[k] = Double(p.loadUnaligned(fromByteOffset: from &+ k, as: UInt8.self)) }
        case .int16:
            for k in 0..<n { out[k] = Double(p.loadUnaligned(fromByteOffset: (from &+ k) &* 2, as: Int16.self)) }
        case .uint16:
            for k in 0..<n { out[k] = Double(p.loadUnaligned(fromByteOffset: (from &+ k) &* 2, as: UInt16.self)) }
        case .int32:
            for k in 0..<n { out[k] = Double(p.loadUnaligned(fromByteOffset: (from &+ k) &* 4, as: Int32.self)) }
        case .uint32:
            for k in 0..<n { out[k] = Double(p.loadUnaligned(fromByteOffset: (from &+ k) &* 4, as: UInt32.self)) }
        case .int64:
            for k in 0..<n { out[k] = Double(p.loadUnaligned(fromByteOffset: (from &+ k) &* 8, as: Int64.self)) }
        case .uint64:
            for k in 0..<n { out[k] = Double(p.loadUnaligned(fromByteOffset: (from &+ k) &* 8, as: UInt64.self)) }
        }
        return true
    }
}
