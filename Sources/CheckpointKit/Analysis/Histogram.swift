/// A histogram of a tensor's finite values, built in the same single pass as ``TensorStats``.
///
/// The values are counted exactly on a fine grid: bins of width w = 2^``exponent`` whose edges are
/// multiples of w (bin `i` holds the values x with ⌊x / w⌋ = i). The width is the smallest power
/// of two for which [min, max] spans at most ``maxBins`` bins, so it lies between range/1024 and
/// range/511. Because the grid depends only on min and max, histograms of the parts of a tensor
/// (pieces read on different cores, chunks of a stream) merge into exactly the histogram of the
/// whole, whatever the order: a part's grid is at least as fine as the whole's, and coarsening a
/// grid by a power of two is exact.
///
/// NaN and ±inf are not counted (``TensorStats`` counts them separately).
public struct FineHistogram: Sendable, Equatable {
    /// The most bins the fine grid uses.
    public static let maxBins = 1024
    /// The finest grid considered (2^-1000); a tensor whose values all lie within 2^-990 of each
    /// other near zero is binned no finer than that.
    static let minExponent = -1000
    /// Indices stay below 2^62 in magnitude so they convert to Int64 without overflow.
    static let indexLimit = 4.611686018427388e18

    /// Bin width = 2^exponent.
    public private(set) var exponent: Int
    /// Grid index of `counts[0]`: it covers [first · w, (first + 1) · w).
    public private(set) var first: Int64
    /// Counts of consecutive grid bins.
    public internal(set) var counts: [Int]

    /// An empty histogram on the grid for values in [lo, hi] (finite, lo ≤ hi).
    init(lo: Double, hi: Double) {
        let e = Self.gridExponent(lo: lo, hi: hi)
        exponent = e
        let inv = Self.power(-e)
        first = Int64((lo * inv).rounded(.down))
        let last = Int64((hi * inv).rounded(.down))
        counts = [Int](repeating: 0, count: Int(last - first) + 1)
    }

    /// 1 / bin width (exact: a power of two).
    var inverseWidth: Double { Self.power(-exponent) }

    /// The bin width.
    public var width: Double { Self.power(exponent) }

    /// How many values were counted.
    public var total: Int { counts.reduce(0, +) }

    static func power(_ e: Int) -> Double { Double(sign: .plus, exponent: e, significand: 1) }

    /// Whether the grid of exponent `e` fits [lo, hi] in at most maxBins bins with safe indices.
    static func fits(lo: Double, hi: Double, _ e: Int) -> Bool {
        let inv = power(-e)
        let a = (lo * inv).rounded(.down), b = (hi * inv).rounded(.down)
        guard a.magnitude < indexLimit, b.magnitude < indexLimit else { return false }
        return b - a + 1 <= Double(maxBins)
    }

    /// The smallest exponent (≥ minExponent) whose grid fits [lo, hi].
    static func gridExponent(lo: Double, hi: Double) -> Int {
        var e = minExponent
        let range = hi - lo
        if range.isFinite && range > 0 { e = Swift.max(e, Int(range.exponent) - 10) }
        if range.isInfinite { e = Swift.max(e, 1014) }
        let big = Swift.max(lo.magnitude, hi.magnitude)
        if big > 0 { e = Swift.max(e, Int(big.exponent) - 61) }
        while !fits(lo: lo, hi: hi, e) { e += 1 }
        while e > minExponent && fits(lo: lo, hi: hi, e - 1) { e -= 1 }
        return e
    }

    /// Adds the counts of `other` (a histogram of other values), coarsening the grid as needed.
    public mutating func merge(_ other: FineHistogram) {
        var e = Swift.max(exponent, other.exponent)
        while true {
            let s1 = Int64(e - exponent), s2 = Int64(e - other.exponent)
            let lo = Swift.min(first >> s1, other.first >> s2)
            let hi = Swift.max((first + Int64(counts.count) - 1) >> s1, (other.first + Int64(other.counts.count) - 1) >> s2)
            if hi - lo + 1 > Int64(Self.maxBins) { e += 1; continue }
            var merged = [Int](repeating: 0, count: Int(hi - lo) + 1)
            for (j, c) in counts.enumerated() where c != 0 { merged[Int(((first + Int64(j)) >> s1) - lo)] += c }
            for (j, c) in other.counts.enumerated() where c != 0 { merged[Int(((other.first + Int64(j)) >> s2) - lo)] += c }
            exponent = e
            first = lo
            counts = merged
            return
        }
    }

    /// About `bins` equal-width bins covering [min, max], with exact counts.
    ///
    /// The display bins are made of whole fine bins (m of them each, m = ⌈span / bins⌉, span the
    /// number of fine bins from min's to max's), so every count is exact: no value is split
    /// between bins or placed by a guess. The edges lie on the fine grid; the bins cover
    /// [min, max] with the room left over (less than one display bin) split between both ends.
    /// When the fine grid spans at least 501 bins — always, unless every value lies within
    /// 2^-990 of zero — there are exactly `bins` bins. When min == max there is one bin, [min, max].
    public func rebinned(bins: Int, min: Double, max: Double) -> TensorHistogram {
        let total = self.total
        guard bins > 1, max > min, counts.count > 1 else {
            return TensorHistogram(edges: [min, max], counts: [total])
        }
        let m = (counts.count + bins - 1) / bins
        let n = (counts.count + m - 1) / m
        // The spare fine bins (fewer than m) are split between both ends.
        let offset = (n * m - counts.count) / 2
        var out = [Int](repeating: 0, count: n)
        for (j, c) in counts.enumerated() { out[(j + offset) / m] += c }
        let w = width
        let edges = (0...n).map { Double(first - Int64(offset) + Int64($0 * m)) * w }
        return TensorHistogram(edges: edges, counts: out)
    }
}

/// A display histogram: `counts[k]` values x with edges[k] ≤ x < edges[k+1] (one bin [min, max]
/// when every value is equal).
public struct TensorHistogram: Sendable, Equatable {
    /// bins + 1 increasing edges: the first ≤ min, the last > max (two equal edges when all are equal).
    public var edges: [Double]
    public var counts: [Int]

    public init(edges: [Double], counts: [Int]) {
        self.edges = edges
        self.counts = counts
    }

    public var total: Int { counts.reduce(0, +) }
}
