import Foundation
import Testing
import CheckpointTestSupport
@testable import CheckpointCommands
@testable import CheckpointKit

/// Numbers that lie: NaN, ±Inf, −0, subnormals, all-equal tensors and values near the type's
/// limits, through `inspect --stats` (TensorStats' documented semantics) and `ckpt diff`
/// (DiffMetrics' documented semantics).
@Suite("Reliability: numbers that lie")
struct ReliabilityNumbersTests {
    static func f32(_ v: [Float]) -> [UInt8] { v.flatMap { withUnsafeBytes(of: $0.bitPattern.littleEndian, Array.init) } }
    static func f64(_ v: [Double]) -> [UInt8] { v.flatMap { withUnsafeBytes(of: $0.bitPattern.littleEndian, Array.init) } }
    static func u16(_ v: [UInt16]) -> [UInt8] { v.flatMap { withUnsafeBytes(of: $0.littleEndian, Array.init) } }

    /// Mean and population std of finite values, two passes, the way the documentation defines them.
    static func reference(_ xs: [Double]) -> (min: Double, max: Double, mean: Double, std: Double)? {
        let f = xs.filter(\.isFinite)
        guard let lo = f.min(), let hi = f.max() else { return nil }
        let mean = f.reduce(0, +) / Double(f.count)
        let m2 = f.reduce(0) { $0 + ($1 - mean) * ($1 - mean) }
        return (lo, hi, mean, (m2 / Double(f.count)).squareRoot())
    }

    static func close(_ a: Double?, _ b: Double, rel: Double = 1e-12) -> Bool {
        guard let a else { return false }
        if a == b { return true }
        return abs(a - b) <= rel * max(abs(a), abs(b))
    }

    /// Writes the tensors to a .ckpt and returns it with the stats of every tensor.
    static func stats(_ tensors: [(TensorInfo, [UInt8])], dir: String) throws -> (String, [TensorStats]) {
        let path = dir + "/numbers.ckpt"
        try? FileManager.default.removeItem(atPath: path)
        try CheckpointWriter.write(CheckpointIndex(tensors: tensors.map(\.0)), payloads: tensors.map { .bytes($0.1) }, to: path)
        let a = try CheckpointArchive(path: path)
        return (path, try a.index.tensors.indices.map { try TensorStats.compute(a, tensor: $0) })
    }

    @Test("NaN and ±Inf are counted and left out of min, max, mean and std; −0 is a zero; subnormals are ordinary finite values")
    func nonFiniteAndSubnormal() throws {
        let dir = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let tiny = Float.leastNonzeroMagnitude
        let mixed: [Float] = [.nan, .infinity, -.infinity, -0.0, 0.0, 1.5, tiny, -2, Float(bitPattern: 0x7FC0_0001)]
        let subnormals: [Float] = [tiny, -tiny, Float.leastNormalMagnitude.nextDown, tiny * 3]
        let (path, s) = try Self.stats([
            (TensorInfo(name: "mixed", dtype: .float32, shape: [mixed.count]), Self.f32(mixed)),
            (TensorInfo(name: "subnormal", dtype: .float32, shape: [4]), Self.f32(subnormals)),
            // float16: the smallest subnormal, its negative, the largest subnormal, -0, NaN, -Inf.
            (TensorInfo(name: "half", dtype: .float16, shape: [6]), Self.u16([0x0001, 0x8001, 0x03FF, 0x8000, 0x7E00, 0xFC00])),
            (TensorInfo(name: "bf16", dtype: .bfloat16, shape: [3]), Self.u16([0x0001, 0x7F80, 0x8000])),
            (TensorInfo(name: "allnan", dtype: .float32, shape: [3]), Self.f32([.nan, -.nan, .nan])),
            (TensorInfo(name: "allinf", dtype: .float64, shape: [2]), Self.f64([.infinity, -.infinity])),
            (TensorInfo(name: "empty", dtype: .float32, shape: [0]), []),
        ], dir: dir)
        let m = s[0]
        #expect(m.count == 9 && m.finite == 5 && m.nans == 2 && m.posInfs == 1 && m.negInfs == 1 && m.zeros == 2)
        let r = try #require(Self.reference(mixed.map(Double.init)))
        #expect(m.min == -2 && m.max == 1.5 && Self.close(m.mean, r.mean) && Self.close(m.std, r.std))
        // Subnormals: exact, non-zero, finite.
        let sub = s[1]
        #expect(sub.zeros == 0 && sub.finite == 4 && sub.min == Double(-tiny) && sub.max == Double(Float.leastNormalMagnitude.nextDown))
        let rs = try #require(Self.reference(subnormals.map(Double.init)))
        #expect(Self.close(sub.mean, rs.mean) && Self.close(sub.std, rs.std))
        let half = s[2]
        #expect(half.min == -0x1p-24 && half.max == 0x3FFp-24 && half.zeros == 1 && half.nans == 1 && half.negInfs == 1 && half.finite == 4)
        let bf = s[3]
        #expect(bf.min == -0.0 && bf.max == 0x1p-133 && bf.posInfs == 1 && bf.zeros == 1)
        // Nothing finite: no min, max, mean or std.
        #expect(s[4].nans == 3 && s[4].min == nil && s[4].mean == nil && s[4].std == nil)
        #expect(s[5].posInfs == 1 && s[5].negInfs == 1 && s[5].max == nil && s[5].std == nil)
        #expect(s[6].count == 0 && s[6].mean == nil)

        // As inspect shows them: JSON numbers, null where nothing is finite; the table says "-".
        let j = CLI.run(["inspect", path, "--stats", "--json"])
        #expect(j.status == 0, "\(j.err)")
        let v = try JSONParser.parse(j.out)
        let tensors = try #require(v["tensors"]?.arrayValue)
        func st(_ name: String) -> JSONValue? { tensors.first { $0["name"]?.stringValue == name }?["stats"] }
        #expect(st("mixed")?["nan"]?.intValue == 2 && st("mixed")?["pos_inf"]?.intValue == 1 && st("mixed")?["neg_inf"]?.intValue == 1)
        #expect(st("mixed")?["zeros"]?.intValue == 2 && st("mixed")?["min"]?.doubleValue == -2)
        #expect(st("allnan")?["mean"]?.isNull == true && st("allnan")?["std"]?.isNull == true && st("allnan")?["min"]?.isNull == true)
        #expect(st("subnormal")?["min"]?.doubleValue == Double(-tiny))
        let t = CLI.run(["inspect", path, "--stats"])
        #expect(t.status == 0, "\(t.err)")
        let allnanRow = try #require(t.out.split(separator: "\n").last { $0.contains("allnan") })
        #expect(allnanRow.split(separator: " ").filter { $0 == "-" }.count >= 4, "\(allnanRow)")
    }

    @Test("All-equal tensors: mean is the value, std exactly 0, whole or in pieces; ±0 mixed is all-equal")
    func allEqual() throws {
        let dir = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let n = 300_000   // 1.2 MB: several pieces, merged
        let (_, s) = try Self.stats([
            (TensorInfo(name: "tenth", dtype: .float32, shape: [n]), Self.f32([Float](repeating: 0.1, count: n))),
            (TensorInfo(name: "big", dtype: .float64, shape: [n]), Self.f64([Double](repeating: 1.7e308, count: n))),
            (TensorInfo(name: "zeros", dtype: .float32, shape: [4]), Self.f32([0.0, -0.0, 0.0, -0.0])),
            (TensorInfo(name: "negzeros", dtype: .float32, shape: [2]), Self.f32([-0.0, -0.0])),
            (TensorInfo(name: "withnan", dtype: .float32, shape: [3]), Self.f32([3, .nan, 3])),
            (TensorInfo(name: "int", dtype: .int64, shape: [3]), [UInt8](repeating: 0xFF, count: 24)),
        ], dir: dir)
        #expect(s[0].mean == Double(Float(0.1)) && s[0].std == 0 && s[0].min == s[0].max)
        #expect(s[1].mean == 1.7e308 && s[1].std == 0)
        #expect(s[2].zeros == 4 && s[2].std == 0 && s[2].mean == 0 && s[2].min == 0)
        #expect(s[3].mean?.sign == .minus && s[3].std == 0)
        #expect(s[4].mean == 3 && s[4].std == 0 && s[4].nans == 1)
        #expect(s[5].mean == -1 && s[5].std == 0)
    }

    @Test("Values near the limits: sums and squares of huge float64 values do not overflow mean or std")
    func nearTheLimits() throws {
        let dir = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let big = Double.greatestFiniteMagnitude
        let n = 200_000  // 1.6 MB: pieces merged at different scales
        let alternating = (0..<n).map { $0 % 2 == 0 ? 1.7e308 : -1.7e308 }
        let ramp = (0..<n).map { Double($0) * 1e300 }
        let cases: [[Double]] = [[1.7e308, 1.7e308, 1e308], [1e200, -1e200], [big, -big], [big, big, 1], [1e160, 1e-300, -1e160, 0]]
        var tensors = cases.enumerated().map { (TensorInfo(name: "c\($0.offset)", dtype: .float64, shape: [$0.element.count]), Self.f64($0.element)) }
        tensors.append((TensorInfo(name: "alternating", dtype: .float64, shape: [n]), Self.f64(alternating)))
        tensors.append((TensorInfo(name: "ramp", dtype: .float64, shape: [n]), Self.f64(ramp)))
        // Small values first, then huge: the merge meets two scales.
        tensors.append((TensorInfo(name: "mixedscale", dtype: .float64, shape: [n]), Self.f64((0..<n).map { $0 < n / 2 ? 1.0 : 1e300 })))
        let (_, s) = try Self.stats(tensors, dir: dir)
        // Exact expectations: the mean of [1.7e308, 1.7e308, 1e308] is 4.4e308/3.
        #expect(Self.close(s[0].mean, 1.7e308 / 3 * 2 + 1e308 / 3) && s[0].std?.isFinite == true)
        #expect(s[1].mean == 0 && s[1].std == 1e200)
        #expect(s[2].mean == 0 && s[2].std == big)
        #expect(Self.close(s[3].mean, big / 3 * 2) && s[3].std?.isFinite == true && (s[3].std ?? 0) > 0)
        // [1e160, 1e-300, -1e160, 0]: the documented mean is Σx / n in float64, and that sum
        // cancels to exactly 0 (1e160 + 1e-300 rounds to 1e160), as numpy.mean's does — one answer,
        // not "0 or 2.5e-301". The population std is sqrt((2·1e320) / 4) = 1e160 / √2, computed in
        // scaled form (1e320 itself is not a double).
        #expect(s[4].mean == 0 && s[4].mean == Self.reference([1e160, 1e-300, -1e160, 0])?.mean, "\(String(describing: s[4].mean))")
        #expect(Self.close(s[4].std, 1e160 / 2.0.squareRoot(), rel: 1e-12), "\(String(describing: s[4].std))")
        #expect(s[5].mean == 0 && Self.close(s[5].std, 1.7e308, rel: 1e-9), "\(String(describing: s[5].mean)) \(String(describing: s[5].std))")
        let rampMean = Double(n - 1) / 2 * 1e300
        let rampStd = ((Double(n) * Double(n) - 1) / 12).squareRoot() * 1e300
        #expect(Self.close(s[6].mean, rampMean, rel: 1e-9) && Self.close(s[6].std, rampStd, rel: 1e-9))
        #expect(Self.close(s[7].mean, (1 + 1e300) / 2, rel: 1e-9) && Self.close(s[7].std, (1e300 - 1) / 2, rel: 1e-9), "\(String(describing: s[7].mean)) \(String(describing: s[7].std))")
        // Ordinary data is untouched by the scaling (bit-for-bit the documented two-pass formula).
        let plain: [Double] = [1, 2, 3, 4.5, -7, 1e100]
        let (_, p) = try Self.stats([(TensorInfo(name: "p", dtype: .float64, shape: [6]), Self.f64(plain))], dir: dir)
        let r = try #require(Self.reference(plain))
        #expect(p[0].mean == r.mean && p[0].std == r.std)
    }

    @Test("diff: NaN both ways (equal by default, --nan differ), ±0 close but not identical, Inf, subnormals; exit 0/1 as documented")
    func diffNumbers() throws {
        let dir = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        func file(_ name: String, _ values: [Float]) throws -> String {
            let path = dir + "/\(name).ckpt"
            try CheckpointWriter.write(CheckpointIndex(tensors: [TensorInfo(name: "w", dtype: .float32, shape: [values.count])]), payloads: [.bytes(Self.f32(values))], to: path)
            return path
        }
        let tiny = Float.leastNonzeroMagnitude
        let a = try file("a", [.nan, 0.0, .infinity, -.infinity, tiny, 1])
        let same = try file("same", [.nan, 0.0, .infinity, -.infinity, tiny, 1])
        let negzero = try file("negzero", [.nan, -0.0, .infinity, -.infinity, tiny, 1])
        let subzero = try file("subzero", [.nan, 0.0, .infinity, -.infinity, 0, 1])
        let infflip = try file("infflip", [.nan, 0.0, -.infinity, -.infinity, tiny, 1])
        let nanvsnum = try file("nanvsnum", [1, 0.0, .infinity, -.infinity, tiny, 1])
        func metrics(_ r: CLI.Result) throws -> JSONValue {
            let v = try JSONParser.parse(r.out)
            return try #require(v["tensors"]?[0])
        }
        // Same bytes, NaN included: identical, exit 0; with --nan differ the NaN pair differs.
        var r = CLI.run(["diff", a, same, "--json"])
        #expect(r.status == 0, "\(r.err)")
        #expect(try metrics(r)["values"]?.stringValue == "identical")
        r = CLI.run(["diff", a, same, "--nan", "differ", "--json"])
        #expect(r.status == 1)
        #expect(try metrics(r)["metrics"]?["nan_both"]?.intValue == 1)
        #expect(try metrics(r)["metrics"]?["differing"]?.intValue == 1)
        // +0 against −0: |Δ| = 0, close even with --exact, but not bit-identical.
        for extra in [[], ["--exact"]] {
            r = CLI.run(["diff", a, negzero, "--json"] + extra)
            #expect(r.status == 0, "\(extra): \(r.out)")
            let m = try metrics(r)
            #expect(m["values"]?.stringValue == "within_tolerance" && m["metrics"]?["max_abs"]?.doubleValue == 0 && m["metrics"]?["identical"]?.boolValue == false)
        }
        // A subnormal against 0: within the default float32 tolerance; not with --exact.
        r = CLI.run(["diff", a, subzero, "--json"])
        #expect(r.status == 0)
        #expect(try metrics(r)["metrics"]?["max_abs"]?.doubleValue == Double(tiny))
        r = CLI.run(["diff", a, subzero, "--exact", "--json"])
        #expect(r.status == 1)
        #expect(try metrics(r)["metrics"]?["differing"]?.intValue == 1)
        // inf against -inf: an infinite difference, whatever the tolerance.
        r = CLI.run(["diff", a, infflip, "--atol", "1e30", "--json"])
        #expect(r.status == 1)
        #expect(try metrics(r)["metrics"]?["max_abs"]?.stringValue == "inf")
        // NaN against a number: a difference, counted on its side.
        r = CLI.run(["diff", a, nanvsnum, "--json"])
        #expect(r.status == 1)
        #expect(try metrics(r)["metrics"]?["nan_only_a"]?.intValue == 1)
        // The table renders all of it without trouble.
        r = CLI.run(["diff", a, infflip])
        #expect(r.status == 1 && !r.out.isEmpty)
    }
}
