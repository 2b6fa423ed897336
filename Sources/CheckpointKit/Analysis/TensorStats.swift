/// Summary statistics of one tensor, computed in one streaming pass.
///
/// Documented semantics (the same in `inspect --stats`, `--json` and the HTML report):
/// - `nans`, `posInfs`, `negInfs` count non-finite elements; `zeros` counts +0 and -0.
/// - `min`, `max`, `mean`, `std` are over the finite elements only (nil if there are none);
///   `std` is the population standard deviation (numpy's default, ddof 0).
/// - When every finite element is equal, `mean` is that value and `std` is exactly 0.
/// - Integer and bool tensors are summarised as numbers (bool as 0/1).
/// - −0 is a zero and equals +0: a tensor of zeros of both signs is all-equal; `min`, `max` (and
///   so an all-equal `mean`) are the first of equal values in storage order, as numpy's are.
/// - Subnormals are finite, non-zero values like any other (decoded exactly, float16 included).
/// - Finite values near the type's limits never make `mean` or `std` overflow: float64 tensors
///   whose magnitudes pass 2^400 are summed in units scaled by a power of two.
/// - ``fine`` is an exact histogram of the finite elements on a power-of-two grid of at most
///   1,024 bins, computed in the same pass (see ``FineHistogram``); ``histogram(bins:)`` groups
///   it into about 20 equal bins covering [min, max] for display, still exact. NaN and ±inf are
///   not in it; when every finite element is equal it is one bin.
public struct TensorStats: Sendable, Equatable {
    public var count: Int = 0
    public var finite: Int = 0
    public var zeros: Int = 0
    public var nans: Int = 0
    public var posInfs: Int = 0
    public var negInfs: Int = 0
    public var min: Double?
    public var max: Double?
    /// Σx over finite elements, and the sum of squared deviations from the mean (Chan et al.).
    var sum: Double = 0
    var m2: Double = 0
    var meanValue: Double = 0
    /// `m2` is in units of 2^(2·scale): 0 unless magnitudes passed 2^400 (then deviations are
    /// squared after scaling by 2^-scale, so they cannot overflow).
    var scale = 0
    /// The finite elements on a fine power-of-two grid (nil when there are none).
    public var fine: FineHistogram?

    public init() {}

    /// The finite elements in `bins` equal-width bins over [min, max] (see
    /// ``FineHistogram/rebinned(bins:min:max:)`` for the approximation); nil when no element is
    /// finite. When every finite element is equal there is one bin holding them all.
    public func histogram(bins: Int = 20) -> TensorHistogram? {
        guard let fine, let min, let max else { return nil }
        return fine.rebinned(bins: bins, min: min, max: max)
    }

    public var mean: Double? { finite == 0 ? nil : (min == max ? min : meanValue) }
    public var std: Double? {
        guard finite > 0 else { return nil }
        if min == max { return 0 }
        return Self.scaled((Swift.max(0, m2) / Double(finite)).squareRoot(), by: scale)
    }

    /// Magnitudes up to 2^400 need no scaling: squared deviations times any element count stay finite.
    static let unscaledExponentLimit = 400

    /// x · 2^e, exact unless the result leaves the range.
    @inline(__always)
    static func scaled(_ x: Double, by e: Int) -> Double {
        e == 0 ? x : x * Double(sign: .plus, exponent: e, significand: 1)
    }

    /// Mean and m2 again, in units of 2^e, for float64 values so large that Σx or (x − mean)²
    /// overflowed (an extra pass, only for such tensors).
    static func rescale(_ s: inout TensorStats, _ dtype: DType, _ bytes: UnsafeRawBufferPointer, magnitude: Double) {
        let e = Int(magnitude.exponent) - unscaledExponentLimit
        s.scale = e
        var scaledSum = 0.0
        Elements.forEach(dtype, bytes) { x in if x.isFinite { scaledSum += scaled(x, by: -e) } }
        let mean = scaledSum / Double(s.finite)
        s.meanValue = scaled(mean, by: e)
        var m2 = 0.0
        Elements.forEach(dtype, bytes) { x in
            if x.isFinite { let d = scaled(x, by: -e) - mean; m2 += d * d }
        }
        s.m2 = m2
    }
    public var infs: Int { posInfs + negInfs }

    /// Statistics of one chunk (a whole number of elements): two passes over data in cache.
    public static func of(_ dtype: DType, _ bytes: UnsafeRawBufferPointer) -> TensorStats {
        var s = TensorStats()
        var lo = Double.infinity, hi = -Double.infinity, sum = 0.0
        var finite = 0, zeros = 0, nans = 0, pinf = 0, ninf = 0
        Elements.forEach(dtype, bytes) { x in
            if x.isFinite {
                finite &+= 1
                sum += x
                if x < lo { lo = x }
                if x > hi { hi = x }
                if x == 0 { zeros &+= 1 }
            } else if x.isNaN {
                nans &+= 1
            } else if x > 0 {
                pinf &+= 1
            } else {
                ninf &+= 1
            }
        }
        s.count = bytes.count / dtype.itemSize
        s.finite = finite
        s.zeros = zeros
        s.nans = nans
        s.posInfs = pinf
        s.negInfs = ninf
        if finite > 0 {
            s.min = lo
            s.max = hi
            s.sum = sum
            let mean = sum / Double(finite)
            s.meanValue = mean
            var m2 = 0.0
            var fine = FineHistogram(lo: lo, hi: hi)
            let inv = fine.inverseWidth
            let first = fine.first
            fine.counts.withUnsafeMutableBufferPointer { counts in
                Elements.forEach(dtype, bytes) { x in
                    if x.isFinite {
                        let d = x - mean
                        m2 += d * d
                        // lo ≤ x ≤ hi, so the index is in range (checked when the grid was chosen).
                        counts[Int(Int64((x * inv).rounded(.down)) &- first)] &+= 1
                    }
                }
            }
            s.m2 = m2
            s.fine = fine
            let magnitude = Swift.max(Swift.abs(lo), Swift.abs(hi))
            if magnitude.exponent > Self.unscaledExponentLimit { Self.rescale(&s, dtype, bytes, magnitude: magnitude) }
        }
        return s
    }

    /// Combines the statistics of two disjoint parts (order-independent counts; Chan's update
    /// for the variance).
    public mutating func merge(_ o: TensorStats) {
        let n1 = Double(finite), n2 = Double(o.finite)
        if o.finite > 0 {
            if finite == 0 {
                meanValue = o.meanValue
                m2 = o.m2
                scale = o.scale
            } else {
                // Both parts in the units of the larger scale (0 for all ordinary data: then this
                // is Chan's update exactly as before).
                let e = Swift.max(scale, o.scale)
                let m2a = Self.scaled(m2, by: 2 * (scale - e)), m2b = Self.scaled(o.m2, by: 2 * (o.scale - e))
                let meanA = Self.scaled(meanValue, by: -e), meanB = Self.scaled(o.meanValue, by: -e)
                let delta = meanB - meanA
                let n = n1 + n2
                meanValue = Self.scaled(meanA + delta * n2 / n, by: e)
                m2 = m2a + m2b + delta * delta * n1 * n2 / n
                scale = e
            }
            if let omin = o.min, let omax = o.max {
                min = Swift.min(min ?? omin, omin)
                max = Swift.max(max ?? omax, omax)
            }
            if let of = o.fine {
                if fine == nil { fine = of } else { fine?.merge(of) }
            }
        }
        count += o.count
        finite += o.finite
        zeros += o.zeros
        nans += o.nans
        posInfs += o.posInfs
        negInfs += o.negInfs
        sum += o.sum
    }

    /// Statistics of tensor `i` of `source`, reading its pieces on every core.
    /// `progress`, if given, is called with the byte count of each chunk as it is read.
    public static func compute(_ source: any TensorSource, tensor i: Int, parallel: Bool = true,
                               progress: (@Sendable (Int) -> Void)? = nil) throws -> TensorStats {
        let dtype = source.index.tensors[i].dtype
        let pieces = source.pieces(of: i)
        let parts = try ParallelWork.map(count: pieces.count, parallel: parallel && pieces.count > 1) { p -> (TensorStats, UInt32) in
            var st = TensorStats()
            var carry: [UInt8] = []
            let crc = try source.readPiece(i, p) { chunk in
                progress?(chunk.count)
                // Pieces may arrive split mid-element; carry the remainder to the next call.
                if carry.isEmpty && chunk.count % dtype.itemSize == 0 {
                    st.merge(TensorStats.of(dtype, chunk))
                } else {
                    carry.append(contentsOf: chunk)
                    let whole = carry.count - carry.count % dtype.itemSize
                    carry.withUnsafeBytes { st.merge(TensorStats.of(dtype, UnsafeRawBufferPointer(rebasing: $0[0..<whole]))) }
                    carry.removeFirst(whole)
                }
            }
            return (st, crc)
        }
        if pieces.count > 1 { try source.verifyPieces(of: i, crcs: parts.map(\.1)) }
        var total = TensorStats()
        for (s, _) in parts { total.merge(s) }
        return total
    }
}
