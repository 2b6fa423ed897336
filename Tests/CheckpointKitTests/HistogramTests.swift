import Foundation
import Testing
import CheckpointTestSupport
@testable import CheckpointKit

@Suite("Histograms in TensorStats", .reportsSeeds)
struct HistogramTests {
    static func f32(_ v: [Float]) -> [UInt8] { v.withUnsafeBytes { Array($0) } }
    static func f64(_ v: [Double]) -> [UInt8] { v.withUnsafeBytes { Array($0) } }

    static func stats(_ dtype: DType, _ bytes: [UInt8]) -> TensorStats { bytes.withUnsafeBytes { TensorStats.of(dtype, $0) } }

    /// Stats of `bytes` computed in `parts` chunks merged in the given order.
    static func chunked(_ dtype: DType, _ bytes: [UInt8], parts: Int, reversed: Bool = false) -> TensorStats {
        let n = bytes.count / dtype.itemSize
        var pieces: [TensorStats] = []
        for p in 0..<parts {
            let lo = n * p / parts * dtype.itemSize, hi = n * (p + 1) / parts * dtype.itemSize
            pieces.append(Array(bytes[lo..<hi]).withUnsafeBytes { TensorStats.of(dtype, $0) })
        }
        var total = TensorStats()
        for s in reversed ? pieces.reversed() : pieces { total.merge(s) }
        return total
    }

    /// numpy.histogram(values, bins=edges) by brute force: [e_k, e_k+1), the last bin closed.
    static func bruteForce(_ values: [Double], edges: [Double]) -> [Int] {
        var counts = [Int](repeating: 0, count: edges.count - 1)
        for x in values where x.isFinite {
            for k in 0..<(edges.count - 1) where edges[k] <= x && (x < edges[k + 1] || (k == edges.count - 2 && x == edges[k + 1])) {
                counts[k] += 1
                break
            }
        }
        return counts
    }

    @Test("counts are exact and the bins cover [min, max]")
    func exactCounts() throws {
        var rng = SeededRNG(seed: 20)
        for scale in [1e-30, 1e-3, 1.0, 7.5, 1e6, 1e30] {
            let values = (0..<5000).map { _ in Float(Double.random(in: -1...1, using: &rng) * Double.random(in: 0...1, using: &rng) * scale + scale) }
            let s = Self.stats(.float32, Self.f32(values))
            let h = try #require(s.histogram())
            #expect(h.counts.count == 20, "scale \(scale)")
            #expect(h.total == values.count)
            #expect(h.edges.first! <= Double(values.min()!) && h.edges.last! > Double(values.max()!))
            #expect(h.counts == Self.bruteForce(values.map(Double.init), edges: h.edges), "scale \(scale)")
            // Equal widths, to rounding.
            let widths = zip(h.edges.dropFirst(), h.edges).map { $0 - $1 }
            #expect(widths.allSatisfy { abs($0 - widths[0]) <= widths[0] * 1e-9 })
            // The slack at each end is less than one bin, and the spare fine bins are split between
            // both ends: the two slacks differ by at most two fine bins (one on each side).
            #expect(Double(values.min()!) - h.edges.first! < widths[0] && h.edges.last! - Double(values.max()!) < widths[0])
            let fine = try #require(s.fine?.width)
            let low = Double(values.min()!) - h.edges.first!, high = h.edges.last! - Double(values.max()!)
            #expect(abs(low - high) <= 2 * fine * (1 + 1e-9), "scale \(scale): slack \(low) below, \(high) above, fine bins of \(fine)")
        }
    }

    @Test("a tensor read in pieces, merged in any order, gives the same histogram")
    func mergeIsExact() {
        var rng = SeededRNG(seed: 21)
        // Pieces with very different ranges: a narrow one, a wide one, a constant one.
        let values: [Double] = (0..<3000).map { _ in Double.random(in: 0.5...0.50001, using: &rng) }
            + (0..<3000).map { _ in Double.random(in: -40...25, using: &rng) }
            + Array(repeating: 3.25, count: 1000)
        let bytes = Self.f64(values)
        let whole = Self.stats(.float64, bytes)
        for parts in [2, 3, 7, 64] {
            #expect(Self.chunked(.float64, bytes, parts: parts).fine == whole.fine, "\(parts) parts")
            #expect(Self.chunked(.float64, bytes, parts: parts, reversed: true).fine == whole.fine, "\(parts) parts, reversed")
        }
        #expect(whole.fine?.counts.count ?? 0 <= FineHistogram.maxBins)
        #expect((whole.fine?.counts.count ?? 0) > FineHistogram.maxBins / 2)
    }

    @Test("NaN and ±inf are not counted; all-equal is one bin; no finite value is no histogram")
    func edgeCases() throws {
        let s = Self.stats(.float32, Self.f32([1, .nan, 2, .infinity, -.infinity, 3, 4]))
        let h = try #require(s.histogram())
        #expect(h.total == 4 && s.nans == 1 && s.infs == 2)
        #expect(h.edges.first! <= 1 && h.edges.last! > 4)

        let equal = try #require(Self.stats(.float32, Self.f32([0.25, 0.25, 0.25])).histogram())
        #expect(equal == TensorHistogram(edges: [0.25, 0.25], counts: [3]))
        let zeros = try #require(Self.chunked(.float32, Self.f32([Float](repeating: 0, count: 100)), parts: 4).histogram())
        #expect(zeros.counts == [100] && zeros.edges == [0, 0])

        #expect(Self.stats(.float32, Self.f32([.nan, .infinity])).histogram() == nil)
        #expect(TensorStats().histogram() == nil)

        // Extremes of float64 do not overflow the grid.
        let wide = try #require(Self.stats(.float64, Self.f64([-Double.greatestFiniteMagnitude, 0, Double.greatestFiniteMagnitude])).histogram())
        #expect(wide.total == 3 && wide.counts.first == 1 && wide.counts.last == 1)
        let tiny = try #require(Self.stats(.float64, Self.f64([0, Double.leastNonzeroMagnitude, 2 * Double.leastNonzeroMagnitude])).histogram())
        #expect(tiny.total == 3)
    }

    @Test("integers and bool")
    func integers() throws {
        let ints: [Int32] = (0..<1000).map { Int32($0 % 10) }
        let s = ints.withUnsafeBytes { TensorStats.of(.int32, $0) }
        let h = try #require(s.histogram())
        #expect(h.counts == Self.bruteForce(ints.map(Double.init), edges: h.edges))
        #expect(h.counts.filter { $0 > 0 }.count == 10 && h.counts.filter { $0 > 0 }.allSatisfy { $0 == 100 })
        let bools: [UInt8] = [1, 0, 1, 1]
        let b = try #require(bools.withUnsafeBytes { TensorStats.of(.bool, $0) }.histogram())
        #expect(b.counts.first == 1 && b.counts.last == 3 && b.total == 4)
    }

    @Test("TensorStats.compute on a checkpoint equals one pass over the bytes")
    func computeOnSample() throws {
        let source = try Checkpoints.open(TestEnv.path("Samples/mlp-weights.ckpt"))
        for i in source.index.tensors.indices {
            let bytes = try source.readTensorBytes(i)
            let direct = Self.stats(source.index.tensors[i].dtype, bytes)
            let streamed = try TensorStats.compute(source, tensor: i)
            #expect(streamed.fine == direct.fine, "\(source.index.tensors[i].name)")
            let values = bytes.withUnsafeBytes { b in (0..<(bytes.count / 4)).map { Double(b.loadUnaligned(fromByteOffset: $0 * 4, as: Float.self)) } }
            let h = try #require(streamed.histogram())
            #expect(h.counts == Self.bruteForce(values, edges: h.edges))
        }
    }
}
