import Foundation
import Testing
import CheckpointTestSupport
@testable import CheckpointKit

@Suite("diff engine", .reportsSeeds)
struct DiffTests {
    static let epochs = TestEnv.path("Tests/Fixtures/keras-epochs")

    static func expected() throws -> JSONValue {
        try JSONParser.parse(TestEnv.read(epochs + "/expected_diff.json"))
    }

    /// Checks an engine result against expected_diff.json (numpy, float64).
    static func checkAgainstNumpy(_ d: CheckpointDiff, rename: (String) -> String = { $0 }, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let expected = try Self.expected()
        let list = try #require(expected["tensors"]?.arrayValue, sourceLocation: sourceLocation)
        #expect(d.tensors.count == list.count, sourceLocation: sourceLocation)
        for e in list {
            let name = rename(try #require(e["name"]?.stringValue))
            guard let t = d.tensors.first(where: { $0.name == name }) else {
                Issue.record("no tensor \(name) in the diff", sourceLocation: sourceLocation)
                continue
            }
            let m = try #require(t.metrics, "\(name) not compared", sourceLocation: sourceLocation)
            let identical = e["identical"]?.boolValue ?? false
            #expect((t.values == .identical) == identical, "\(name): identical", sourceLocation: sourceLocation)
            // max |Δ| exactly as numpy's float64 computation.
            #expect(m.maxAbs == e["max_abs"]?.doubleValue, "\(name): max_abs \(m.maxAbs) vs \(e["max_abs"]?.doubleValue ?? .nan)", sourceLocation: sourceLocation)
            #expect(m.maxRel == e["max_rel"]?.doubleValue, "\(name): max_rel", sourceLocation: sourceLocation)
            #expect(m.differing == e["differing"]?.intValue, "\(name): differing", sourceLocation: sourceLocation)
            for (key, value) in [("mean_abs", m.meanAbs), ("rms", m.rms)] {
                let want = try #require(e[key]?.doubleValue, sourceLocation: sourceLocation)
                let got = try #require(value, sourceLocation: sourceLocation)
                #expect(relativeError(got, want) <= 1e-12, "\(name): \(key) \(got) vs numpy \(want)", sourceLocation: sourceLocation)
            }
            let cosine = try #require(m.cosine, sourceLocation: sourceLocation)
            #expect(abs(cosine - (e["cosine"]?.doubleValue ?? .nan)) <= 1e-12, "\(name): cosine", sourceLocation: sourceLocation)
        }
    }

    @Test("Keras epoch pair (.npz): per-tensor metrics equal numpy's, frozen and non-trainable tensors identical")
    func kerasEpochsNPZ() throws {
        let a = try Checkpoints.open(Self.epochs + "/epoch1.weights.npz")
        let b = try Checkpoints.open(Self.epochs + "/epoch2.weights.npz")
        let d = try CheckpointDiff.compare(a, b)
        try Self.checkAgainstNumpy(d)
        #expect(d.verdict == .different)
        #expect(d.exitCode == 1)
        let expected = try Self.expected()
        let identical = Set(d.tensors.filter { $0.values == .identical }.map(\.name))
        #expect(identical == Set(expected["identical"]?.arrayValue?.compactMap(\.stringValue) ?? []))
        #expect(identical.contains("sequential/frozen/kernel") && identical.contains("norm/count"))
        // Grouped by layer even though Sequential paths start with the model's name.
        #expect(d.layers.map(\.name) == ["norm", "frozen", "bn", "dense", "head"])
        #expect(d.layers.first { $0.name == "frozen" }?.relativeChange == 0)
        #expect((d.layers.first { $0.name == "dense" }?.relativeChange ?? 0) > 1e-3)
        // A checkpoint against itself.
        let same = try CheckpointDiff.compare(a, try Checkpoints.open(Self.epochs + "/epoch1.weights.npz"))
        #expect(same.verdict == .identical && same.exitCode == 0)
    }

    @Test("Keras epoch pair through .ckpt and mixed .ckpt/.npz gives the same numbers")
    func kerasEpochsContainer() throws {
        let dir = try TestEnv.temporaryDirectory("ckpt-diff")
        defer { TestEnv.cleanup(dir) }
        let npz1 = try Checkpoints.open(Self.epochs + "/epoch1.weights.npz")
        let npz2 = try Checkpoints.open(Self.epochs + "/epoch2.weights.npz")
        for (src, name) in [(npz1, "e1.ckpt"), (npz2, "e2.ckpt")] {
            try CheckpointWriter.write(src.index, payloads: src.index.tensors.indices.map { .source(src, $0) }, to: dir + "/" + name)
        }
        let c1 = try Checkpoints.open(dir + "/e1.ckpt"), c2 = try Checkpoints.open(dir + "/e2.ckpt")
        try Self.checkAgainstNumpy(try CheckpointDiff.compare(c1, c2))
        try Self.checkAgainstNumpy(try CheckpointDiff.compare(npz1, c2))
        try Self.checkAgainstNumpy(try CheckpointDiff.compare(c1, npz2))
        // Bit-identical tensors between two .ckpt files are proven from the index.
        let d = try CheckpointDiff.compare(c1, c2)
        #expect(d.tensors.filter(\.provenFromIndex).map(\.name).sorted() == d.tensors.filter { $0.values == .identical }.map(\.name).sorted())
        #expect(d.summary.provenFromIndex == 5)
    }

    @Test("Keras .weights.h5 epoch pair: the same metrics as the .npz pair", .requires(.hdf5))
    func kerasEpochsH5() throws {
        // A bare .weights.h5 needs the architecture to name its tensors.
        let options = Checkpoints.OpenOptions(architecture: try TestEnv.read(Self.epochs + "/architecture.json"))
        let a = try Checkpoints.open(Self.epochs + "/epoch1.weights.h5", options: options)
        let b = try Checkpoints.open(Self.epochs + "/epoch2.weights.h5", options: options)
        let d = try CheckpointDiff.compare(a, b, options: { var o = DiffOptions(); o.weightsOnly = true; return o }())
        // Names in .weights.h5 follow the model built from JSON; line them up with the npz paths.
        let expected = try Self.expected()
        let names = Set(expected["tensors"]?.arrayValue?.compactMap { $0["name"]?.stringValue } ?? [])
        let matched = d.tensors.filter { names.contains($0.name) || names.contains("sequential/" + $0.name) }
        #expect(matched.count == names.count && d.tensors.count == names.count, "\(d.tensors.map(\.name))")
        for t in matched {
            let e = expected["tensors"]?.arrayValue?.first { $0["name"]?.stringValue == t.name || $0["name"]?.stringValue == "sequential/" + t.name }
            #expect(t.metrics?.maxAbs == e?["max_abs"]?.doubleValue, "\(t.name)")
        }
    }

    @Test("A .ckpt diffed with itself inflates nothing and exits 0")
    func selfDiffReadsNothing() throws {
        let dir = try TestEnv.temporaryDirectory("ckpt-diff")
        defer { TestEnv.cleanup(dir) }
        var rng = SeededRNG(seed: 7)
        let infos = [TensorInfo(name: "big/kernel", dtype: .float32, shape: [1024, 1024]),
                     TensorInfo(name: "big/bias", dtype: .float32, shape: [1024]),
                     TensorInfo(name: "counter", dtype: .int64, shape: [])]
        let index = CheckpointIndex(tensors: infos)
        try CheckpointWriter.write(index, payloads: infos.map { .bytes(RandomTensors.bytes($0, &rng)) }, to: dir + "/m.ckpt")
        let a = try Checkpoints.open(dir + "/m.ckpt"), b = try Checkpoints.open(dir + "/m.ckpt")
        // Other suites run concurrently and inflate too: a real inflate here would show up in
        // every attempt (4 MiB), noise from elsewhere would not.
        var delta: UInt64 = .max
        var d: CheckpointDiff?
        for _ in 0..<5 where delta != 0 {
            let before = IOStatistics.shared.bytesInflated
            d = try CheckpointDiff.compare(a, b)
            delta = IOStatistics.shared.bytesInflated - before
        }
        #expect(delta == 0)
        let result = try #require(d)
        #expect(result.bytesRead == 0)
        #expect(result.summary.provenFromIndex == 3)
        #expect(result.verdict == .identical && result.exitCode == 0)
        #expect(result.tensors.allSatisfy { $0.metrics?.cosine == 1 && $0.metrics?.maxAbs == 0 })
        // Without the index shortcut the data is read and still identical.
        var o = DiffOptions()
        o.useIndexFingerprints = false
        let read = try CheckpointDiff.compare(a, b, options: o)
        #expect(read.verdict == .identical && read.bytesRead == 2 * 4 * (1024 * 1024 + 1024) + 16)
    }

    // MARK: Tolerance boundaries

    static func pair(_ a: [Float], _ b: [Float], options: DiffOptions = DiffOptions()) throws -> TensorDiff {
        let ta = TensorInfo(name: "t", dtype: .float32, shape: [a.count]), tb = TensorInfo(name: "t", dtype: .float32, shape: [b.count])
        let d = try CheckpointDiff.compare(DiffMemorySource([(ta, DiffBytes.f32(a))]), DiffMemorySource([(tb, DiffBytes.f32(b))]), options: options)
        return try #require(d.tensors.first)
    }

    static func tol(_ atol: Double, _ rtol: Double, nan: DiffNaNPolicy = .equal) -> DiffOptions {
        var o = DiffOptions()
        o.atol = atol
        o.rtol = rtol
        o.nan = nan
        return o
    }

    @Test("|a − b| ≤ atol + rtol·|b|: just inside is close, the next float is not")
    func toleranceBoundaries() throws {
        let r = 0x1p-20, a = 0x1p-10
        // rtol only: b = 1, a = 1 + 2^-20 is exactly on the boundary.
        let inside = try Self.pair([1 + Float(r)], [1], options: Self.tol(0, r))
        #expect(inside.values == .withinTolerance && inside.metrics?.differing == 0)
        let outside = try Self.pair([(1 + Float(r)).nextUp], [1], options: Self.tol(0, r))
        #expect(outside.values == .different && outside.metrics?.differing == 1)
        // B is the reference: |1 − 1.5| ≤ 0.4·1.5, but not ≤ 0.4·1.
        #expect(try Self.pair([1], [1.5], options: Self.tol(0, 0.4)).values == .withinTolerance)
        #expect(try Self.pair([1.5], [1], options: Self.tol(0, 0.4)).values == .different)
        // atol only, around 0.
        #expect(try Self.pair([Float(a)], [0], options: Self.tol(a, 0)).values == .withinTolerance)
        #expect(try Self.pair([Float(a).nextUp], [0], options: Self.tol(a, 0)).values == .different)
        #expect(try Self.pair([-Float(a)], [0], options: Self.tol(a, 0)).values == .withinTolerance)
        // Both: 2^-10 + 2^-20·4 with b = 4.
        #expect(try Self.pair([4 + Float(a + 4 * r)], [4], options: Self.tol(a, r)).values == .withinTolerance)
        #expect(try Self.pair([(4 + Float(a + 4 * r)).nextUp], [4], options: Self.tol(a, r)).values == .different)
        // The defaults: float32 rtol 1e-6 lets 1 ulp through, a training-sized step not.
        #expect(try Self.pair([Float(0.05).nextUp], [0.05]).values == .withinTolerance)
        #expect(try Self.pair([0.05 + 1e-5], [0.05]).values == .different)
        // --exact: any change.
        #expect(try Self.pair([Float(0.05).nextUp], [0.05], options: Self.tol(0, 0)).values == .different)
        // The same boundaries where the engine takes four elements at a time (tensors of 4 and more).
        for n in [4, 8, 9] {
            let on = try Self.pair([Float](repeating: 1 + Float(r), count: n), [Float](repeating: 1, count: n), options: Self.tol(0, r))
            #expect(on.values == .withinTolerance && on.metrics?.differing == 0, "\(n)")
            let past = try Self.pair([Float](repeating: (1 + Float(r)).nextUp, count: n), [Float](repeating: 1, count: n), options: Self.tol(0, r))
            #expect(past.values == .different && past.metrics?.differing == n, "\(n)")
            let both = try Self.pair([Float](repeating: 4 + Float(a + 4 * r), count: n), [Float](repeating: 4, count: n), options: Self.tol(a, r))
            #expect(both.metrics?.differing == 0, "\(n)")
            // B is the reference, four at a time too.
            #expect(try Self.pair([Float](repeating: 1.5, count: n), [Float](repeating: 1, count: n), options: Self.tol(0, 0.4)).metrics?.differing == n)
        }
        // And where a NaN or an infinity sends the block down the element-by-element path.
        for special in [Float.nan, .infinity] {
            #expect(try Self.pair([1, special], [1.5, special], options: Self.tol(0, 0.4)).metrics?.differing == 0, "\(special)")
            #expect(try Self.pair([1.5, special], [1, special], options: Self.tol(0, 0.4)).metrics?.differing == 1, "\(special)")
            #expect(try Self.pair([1 + Float(r), special], [1, special], options: Self.tol(0, r)).metrics?.differing == 0, "\(special)")
            #expect(try Self.pair([(1 + Float(r)).nextUp, special], [1, special], options: Self.tol(0, r)).metrics?.differing == 1, "\(special)")
        }
    }

    @Test("the first largest |Δ| and its index, where the engine takes four elements at a time")
    func maxAbsIndexFastPath() throws {
        let a = [Float](repeating: 1, count: 11)
        var b = a
        b[2] = 1.25
        b[6] = 1.5
        b[9] = 0.5   // as large: the first one is reported
        let t = try Self.pair(a, b)
        #expect(t.metrics?.maxAbs == 0.5 && t.metrics?.maxAbsIndex == 6 && t.metrics?.maxAbsA == 1 && t.metrics?.maxAbsB == 1.5)
        #expect(t.metrics?.differing == 3)
    }

    @Test("NaN both ways, ±0, infinities")
    func specialValues() throws {
        let nan = Float.nan, inf = Float.infinity
        // NaN == NaN by default (h5diff), a difference with --nan differ.
        let both = try Self.pair([nan, 1], [nan, 1])
        #expect(both.values == .identical && both.metrics?.nanBoth == 1 && both.metrics?.compared == 1)
        let bothDiffer = try Self.pair([nan, 1], [nan, 1], options: { var o = DiffOptions(); o.nan = .differ; return o }())
        #expect(bothDiffer.values == .different && bothDiffer.metrics?.differing == 1)
        // Different NaN payloads: equal, not bit-identical.
        let payload = try Self.pair([Float(bitPattern: 0x7FC0_0001)], [Float(bitPattern: 0x7FC0_0002)])
        #expect(payload.values == .withinTolerance)
        // NaN on one side only, either way: always a difference; |Δ| metrics skip the pair.
        let onlyA = try Self.pair([nan, 2], [1, 2])
        #expect(onlyA.values == .different && onlyA.metrics?.nanOnlyA == 1 && onlyA.metrics?.maxAbs == 0 && onlyA.metrics?.compared == 1)
        let onlyB = try Self.pair([1, 2], [nan, 2])
        #expect(onlyB.values == .different && onlyB.metrics?.nanOnlyB == 1)
        let onlyBLoose = try Self.pair([1], [nan], options: Self.tol(1e9, 1e9))
        #expect(onlyBLoose.values == .different)
        // +0 vs -0: equal (|Δ| 0) but not bit-identical, even with --exact.
        let zeros = try Self.pair([0.0, 1], [-0.0, 1], options: Self.tol(0, 0))
        #expect(zeros.values == .withinTolerance && zeros.metrics?.maxAbs == 0 && zeros.metrics?.maxAbsIndex == nil)
        // inf == inf, -inf == -inf.
        let infs = try Self.pair([inf, -inf, 1], [inf, -inf, 1], options: Self.tol(0, 0))
        #expect(infs.values == .identical && infs.metrics?.maxAbs == 0)
        // inf vs finite, inf vs -inf: differ with |Δ| = inf, whatever the tolerance.
        let infFinite = try Self.pair([inf, 1], [3e38, 1], options: Self.tol(1e30, 1e30))
        #expect(infFinite.values == .different && infFinite.metrics?.maxAbs == .infinity && infFinite.metrics?.maxAbsIndex == 0)
        #expect(infFinite.metrics?.meanAbs == .infinity && infFinite.metrics?.maxRel == .infinity)
        let finiteInf = try Self.pair([1, 1], [1, -inf])
        #expect(finiteInf.values == .different && finiteInf.metrics?.maxAbs == .infinity && finiteInf.metrics?.maxAbsIndex == 1)
        let flip = try Self.pair([inf], [-inf])
        #expect(flip.values == .different && flip.metrics?.maxAbs == .infinity)
        // Relative Δ against b = 0.
        let fromZero = try Self.pair([1e-3, 0], [0, 0])
        #expect(fromZero.metrics?.maxRel == .infinity && fromZero.metrics?.maxAbs == Double(Float(1e-3)))
        // Cosine: ignores non-finite pairs; 1 for zero tensors, 0 against a zero tensor.
        #expect(try Self.pair([0, 0], [0, 0]).metrics?.cosine == 1)
        #expect(try Self.pair([1, 0], [0, 0]).metrics?.cosine == 0)
        let cos = try #require(try Self.pair([1, 2, inf], [2, 4, 5]).metrics?.cosine)
        #expect(abs(cos - 1) < 1e-15)
        let anti = try #require(try Self.pair([1, -2], [-1, 2]).metrics?.cosine)
        #expect(abs(anti + 1) < 1e-15)
    }

    @Test("Integers and bool are exact; large int64 differences are exact")
    func integers() throws {
        let big: Int64 = 1 << 62
        let ta = TensorInfo(name: "step", dtype: .int64, shape: [3])
        let a = DiffMemorySource([(ta, DiffBytes.i64([big, 5, -7]))])
        let b = DiffMemorySource([(ta, DiffBytes.i64([big + 1, 5, -7]))])
        var o = DiffOptions()
        o.atol = 100
        o.rtol = 1
        let d = try #require(try CheckpointDiff.compare(a, b, options: o).tensors.first)
        #expect(d.values == .different && d.metrics?.differing == 1 && d.metrics?.maxAbs == 1 && d.metrics?.maxAbsIndex == 0)
        #expect(d.tolerance == .exact)
        let extreme = try #require(try CheckpointDiff.compare(DiffMemorySource([(ta, DiffBytes.i64([.min, 0, 0]))]),
                                                              DiffMemorySource([(ta, DiffBytes.i64([.max, 0, 0]))])).tensors.first)
        #expect(extreme.metrics?.maxAbs == Double(UInt64.max))
        let tb = TensorInfo(name: "mask", dtype: .bool, shape: [4])
        let bools = try #require(try CheckpointDiff.compare(DiffMemorySource([(tb, [1, 0, 1, 1])]), DiffMemorySource([(tb, [1, 0, 0, 1])])).tensors.first)
        #expect(bools.values == .different && bools.metrics?.differing == 1)
    }

    @Test("bfloat16 and float16 are widened exactly; a float32 tensor against its bfloat16 export")
    func halfPrecision() throws {
        var rng = SeededRNG(seed: 3)
        let values = DiffBytes.randomNormal(5000, std: 0.05, rng: &rng)
        let f32 = TensorInfo(name: "w", dtype: .float32, shape: [50, 100])
        let bf = TensorInfo(name: "w", dtype: .bfloat16, shape: [50, 100])
        let a = DiffMemorySource([(f32, DiffBytes.f32(values))])
        let b = DiffMemorySource([(bf, DiffBytes.bf16(values))])
        let d = try #require(try CheckpointDiff.compare(a, b).tensors.first)
        #expect(d.dtypeChanged && d.marker == "!" && d.isDifference)
        #expect(d.values == .withinTolerance, "round-to-nearest bfloat16 is within bfloat16's default tolerance")
        #expect(d.tolerance == DiffTolerance.default(for: .bfloat16))
        // |Δ| computed from the exact widening of the bfloat16 bits.
        var maxAbs = 0.0
        let bits = DiffBytes.bf16(values)
        for k in values.indices {
            let h = UInt16(bits[2 * k]) | UInt16(bits[2 * k + 1]) << 8
            maxAbs = max(maxAbs, abs(Double(values[k]) - Double(Float(bitPattern: UInt32(h) << 16))))
        }
        #expect(d.metrics?.maxAbs == maxAbs)
        // float16 against float16: exact decoding of subnormals, inf.
        let h = TensorInfo(name: "h", dtype: .float16, shape: [4])
        let ha: [UInt16] = [0x0001, 0x3C00, 0x7C00, 0x8000], hb: [UInt16] = [0x0002, 0x3C01, 0x7C00, 0x0000]
        let hd = try #require(try CheckpointDiff.compare(DiffMemorySource([(h, DiffBytes.u16(ha))]), DiffMemorySource([(h, DiffBytes.u16(hb))]),
                                                         options: Self.tol(0, 0)).tensors.first)
        #expect(hd.metrics?.maxAbs == 0x1p-10 && hd.metrics?.differing == 2 && hd.metrics?.maxAbsIndex == 1)
    }

    // MARK: Streaming and pairing of pieces

    /// Every way of reading the same pair must give the same answer.
    @Test("pieces, streams, reader threads, split elements: one answer", arguments: [
        (nil, nil, nil, nil, Int.max),
        (4096, nil, 4096, nil, Int.max),
        (4000, nil, 6000, nil, Int.max),
        (nil, 1001, 8192, nil, Int.max),
        (nil, 3, nil, 7, Int.max),
        (nil, 1001, nil, 999, 0),
        (12_288, 5, nil, 4097, 0),
    ] as [(Int?, Int?, Int?, Int?, Int)])
    func readingStrategies(pieceA: Int?, callbackA: Int?, pieceB: Int?, callbackB: Int?, bufferLimit: Int) throws {
        var rng = SeededRNG(seed: 11)
        let n = 60_000
        let x = DiffBytes.randomNormal(n, std: 0.05, rng: &rng)
        var y = x
        for k in stride(from: 0, to: n, by: 3) { y[k] += Float.random(in: -1e-4...1e-4, using: &rng) }
        y[12_345] = .nan
        y[12_346] = .infinity
        let info = TensorInfo(name: "layer/w", dtype: .float32, shape: [300, 200])
        let small = TensorInfo(name: "layer/b", dtype: .float32, shape: [7])
        let a = DiffMemorySource([(info, DiffBytes.f32(x)), (small, DiffBytes.f32(Array(x[0..<7])))], pieceSize: pieceA, callbackSize: callbackA)
        let b = DiffMemorySource([(info, DiffBytes.f32(y)), (small, DiffBytes.f32(Array(x[0..<7])))], pieceSize: pieceB, callbackSize: callbackB)
        var o = DiffOptions()
        o.streamBufferLimit = bufferLimit
        let d = try CheckpointDiff.compare(a, b, options: o)
        let t = try #require(d.tensors.first { $0.name == "layer/w" })
        let m = try #require(t.metrics)
        let ref = DiffReference(x.map(Double.init), y.map(Double.init), atol: 1e-8, rtol: 1e-6)
        #expect(m.elements == n && m.compared == ref.compared && m.differing == ref.differing)
        #expect(m.maxAbs == .infinity && m.maxAbsIndex == 12_346)
        #expect(m.nanOnlyB == 1)
        let finite = d.tensors.first { $0.name == "layer/b" }
        #expect(finite?.values == .identical)
        // Without the infinity: exact max, sums to 1e-12.
        y[12_346] = x[12_346]
        let b2 = DiffMemorySource([(info, DiffBytes.f32(y)), (small, DiffBytes.f32(Array(x[0..<7])))], pieceSize: pieceB, callbackSize: callbackB)
        let m2 = try #require(try CheckpointDiff.compare(a, b2, options: o).tensors.first { $0.name == "layer/w" }?.metrics)
        let ref2 = DiffReference(x.map(Double.init), y.map(Double.init), atol: 1e-8, rtol: 1e-6)
        #expect(m2.maxAbs == ref2.maxAbs)
        #expect(relativeError(m2.meanAbs ?? 0, ref2.meanAbs) <= 1e-13)
        #expect(relativeError(m2.rms ?? 0, ref2.rms) <= 1e-13)
        #expect(m2.differing == ref2.differing)
    }

    @Test("a reader thread abandoned half way stops cleanly; its errors reach the caller")
    func pumpLifecycle() throws {
        let n = 300_000
        let info = TensorInfo(name: "w", dtype: .float32, shape: [n])
        let source = DiffMemorySource([(info, DiffBytes.f32((0..<n).map(Float.init)))], callbackSize: 10_001)
        for take in [0, 1, 5, 1 << 20] {
            let pump = try DiffPumpReader(source: source, tensor: 0, slots: 2, slotBytes: 4096)
            var got = 0
            while got < take {
                let k = try pump.next(max: 1000) { p, c in
                    #expect(p.loadUnaligned(as: Float.self) == Float(got))
                    got += c
                }
                if k == 0 { break }
            }
            try pump.finish(consumedAll: got >= n)
            if take > n { #expect(got == n) }
        }
        // A damaged source: the error comes out of next() or finish().
        let short = DiffMemorySource([(TensorInfo(name: "w", dtype: .float32, shape: [4]), [0, 0, 0, 0, 0, 0, 0, 0, 0, 0])])
        let pump = try DiffPumpReader(source: short, tensor: 0)
        expectError(.corrupt) {
            while try pump.next(max: 100, { _, _ in }) > 0 {}
        }
        try pump.finish(consumedAll: false)
    }

    @Test("large tensors through .ckpt chunks, compressed .npz and mixed pairs agree")
    func containersAgree() throws {
        let dir = try TestEnv.temporaryDirectory("ckpt-diff")
        defer { TestEnv.cleanup(dir) }
        var rng = SeededRNG(seed: 5)
        let n = 700_000 // 2.7 MiB: three 1 MiB chunks
        let x = DiffBytes.randomNormal(n, std: 0.05, rng: &rng)
        var y = x
        for k in stride(from: 1, to: n, by: 7) { y[k] = y[k] * 1.001 }
        let infos = [TensorInfo(name: "emb/embeddings", dtype: .float32, shape: [n / 100, 100]),
                     TensorInfo(name: "emb/frozen", dtype: .float32, shape: [n])]
        try CheckpointWriter.write(CheckpointIndex(tensors: infos), payloads: [.bytes(DiffBytes.f32(x)), .bytes(DiffBytes.f32(x))], to: dir + "/a.ckpt")
        try CheckpointWriter.write(CheckpointIndex(tensors: infos), payloads: [.bytes(DiffBytes.f32(y)), .bytes(DiffBytes.f32(x))], to: dir + "/b.ckpt")
        let ca = try Checkpoints.open(dir + "/a.ckpt"), cb = try Checkpoints.open(dir + "/b.ckpt")
        #expect(ca.pieces(of: 0).count == 3)
        try NPZWriter.write(ca, to: dir + "/a.npz")
        try NPZWriter.write(cb, to: dir + "/b.npz")
        let na = try Checkpoints.open(dir + "/a.npz"), nb = try Checkpoints.open(dir + "/b.npz")
        #expect(na.pieces(of: 0).count == 1)
        let ref = DiffReference(x.map(Double.init), y.map(Double.init), atol: 1e-8, rtol: 1e-6)
        var pump = DiffOptions()
        pump.streamBufferLimit = 0
        for (label, a, b, o) in [("ckpt", ca, cb, DiffOptions()), ("npz", na, nb, DiffOptions()), ("npz, reader thread", na, nb, pump),
                                 ("ckpt/npz", ca, nb, DiffOptions()), ("npz/ckpt", na, cb, DiffOptions()), ("serial", ca, cb, { var o = DiffOptions(); o.parallel = false; return o }())] {
            let d = try CheckpointDiff.compare(a, b, options: o)
            let m = try #require(d.tensors.first { $0.name == "emb/embeddings" }?.metrics, "\(label)")
            #expect(m.maxAbs == ref.maxAbs, "\(label)")
            #expect(relativeError(m.meanAbs ?? 0, ref.meanAbs) <= 1e-13, "\(label)")
            #expect(m.differing == ref.differing, "\(label)")
            #expect(d.tensors.first { $0.name == "emb/frozen" }?.values == .identical, "\(label)")
            #expect(d.bytesRead <= UInt64(4 * n * 4), "\(label)")
        }
    }

    @Test("-q stops at the first difference; a structural difference reads nothing")
    func stopEarly() throws {
        var rng = SeededRNG(seed: 9)
        var tensors: [(TensorInfo, [UInt8])] = []
        var changed: [(TensorInfo, [UInt8])] = []
        for k in 0..<40 {
            let info = TensorInfo(name: "l\(k)/w", dtype: .float32, shape: [1000])
            let v = DiffBytes.randomNormal(1000, std: 1, rng: &rng)
            tensors.append((info, DiffBytes.f32(v)))
            changed.append((info, DiffBytes.f32(v.map { $0 + 1 })))
        }
        var o = DiffOptions()
        o.stopAtFirstDifference = true
        o.parallel = false
        let d = try CheckpointDiff.compare(DiffMemorySource(tensors), DiffMemorySource(changed), options: o)
        #expect(d.exitCode == 1 && d.stoppedEarly)
        #expect(d.bytesRead < 40 * 8000)
        let extra = DiffMemorySource(tensors + [(TensorInfo(name: "new", dtype: .float32, shape: [1]), [0, 0, 0, 0])])
        let s = try CheckpointDiff.compare(DiffMemorySource(tensors), extra, options: o)
        #expect(s.exitCode == 1 && s.bytesRead == 0)
    }

    // MARK: Structure

    @Test("--map and --strip-prefix line up renamed tensors; collisions are refused")
    func nameMapping() throws {
        let m = DiffNameMapping(renames: [.init(old: "sequential/dense", new: "dense"), .init(old: "sequential", new: "")], stripPrefixes: [])
        #expect(m.aligned("sequential/dense/kernel", isA: true) == "dense/kernel")
        #expect(m.aligned("sequential/bn/gamma", isA: true) == "bn/gamma")
        #expect(m.aligned("sequential/dense/kernel", isA: false) == "sequential/dense/kernel")
        #expect(m.aligned("sequential_1/x", isA: true) == "sequential_1/x")
        let s = DiffNameMapping(stripPrefixes: ["model"])
        #expect(s.aligned("model/dense/kernel", isA: false) == "dense/kernel" && s.aligned("models/x", isA: true) == "models/x")
        let slot = TensorInfo(name: "optimizer/momentum/sequential/dense/kernel", dtype: .float32, shape: [1], role: .optimizer,
                              slot: "momentum", weight: "sequential/dense/kernel")
        #expect(m.aligned(slot, isA: true) == "optimizer/momentum/dense/kernel")
        #expect(m.unmatchedRenames(in: ["dense/kernel"]).count == 2)

        let t = { (n: String) in (TensorInfo(name: n, dtype: .float32, shape: [2]), DiffBytes.f32([1, 2])) }
        let a = DiffMemorySource([t("sequential/dense/kernel"), t("sequential/dense/bias")])
        let b = DiffMemorySource([t("dense/kernel"), t("dense/bias")])
        #expect(try CheckpointDiff.compare(a, b).summary.onlyInA == 2)
        var o = DiffOptions()
        o.names = DiffNameMapping(stripPrefixes: ["sequential/"])
        let d = try CheckpointDiff.compare(a, b, options: o)
        #expect(d.verdict == .identical && d.tensors.map(\.name) == ["dense/kernel", "dense/bias"])
        #expect(d.tensors.first?.a?.name == "sequential/dense/kernel")
        let clash = DiffMemorySource([t("x/dense/kernel"), t("y/dense/kernel")])
        var o2 = DiffOptions()
        o2.names = DiffNameMapping(renames: [.init(old: "x", new: ""), .init(old: "y", new: "")])
        expectError(.duplicateName) { _ = try CheckpointDiff.compare(clash, b, options: o2) }
    }

    @Test("dtype and shape changes are structural; compatible shapes are still compared")
    func structuralChanges() throws {
        let a = DiffMemorySource([
            (TensorInfo(name: "d/kernel", dtype: .float32, shape: [2, 3]), DiffBytes.f32([1, 2, 3, 4, 5, 6])),
            (TensorInfo(name: "d/bias", dtype: .float32, shape: [3]), DiffBytes.f32([1, 2, 3])),
            (TensorInfo(name: "d/scale", dtype: .float32, shape: [2]), DiffBytes.f32([1, 2])),
            (TensorInfo(name: "gone", dtype: .float32, shape: [1]), DiffBytes.f32([1])),
        ])
        let b = DiffMemorySource([
            (TensorInfo(name: "d/kernel", dtype: .float32, shape: [3, 2]), DiffBytes.f32([1, 2, 3, 4, 5, 6])),
            (TensorInfo(name: "d/bias", dtype: .float32, shape: [1, 3]), DiffBytes.f32([1, 2, 3])),
            (TensorInfo(name: "d/scale", dtype: .float64, shape: [2]), DiffBytes.f64([1, 2])),
            (TensorInfo(name: "new", dtype: .float32, shape: [1]), DiffBytes.f32([1])),
        ])
        let d = try CheckpointDiff.compare(a, b)
        let byName = Dictionary(uniqueKeysWithValues: d.tensors.map { ($0.name, $0) })
        #expect(byName["d/kernel"]?.marker == "!" && byName["d/kernel"]?.values == .notCompared)
        #expect(byName["d/bias"]?.marker == "!" && byName["d/bias"]?.values == .identical && byName["d/bias"]?.shapeChanged == true)
        #expect(byName["d/scale"]?.marker == "!" && byName["d/scale"]?.values == .withinTolerance && byName["d/scale"]?.dtypeChanged == true)
        #expect(byName["gone"]?.marker == "-" && byName["new"]?.marker == "+")
        let s = d.summary
        #expect(s.onlyInA == 1 && s.onlyInB == 1 && s.shapeChanged == 2 && s.dtypeChanged == 1 && s.notCompared == 1)
        #expect(d.exitCode == 1)
    }

    static let archA = #"{"module": "keras", "class_name": "Sequential", "config": {"name": "seq", "layers": [{"module": "keras.layers", "class_name": "InputLayer", "config": {"batch_shape": [null, 4], "name": "input_layer"}}, {"module": "keras.layers", "class_name": "Dense", "config": {"name": "dense", "units": 8, "activation": "relu"}}, {"module": "keras.layers", "class_name": "Dense", "config": {"name": "head", "units": 2, "activation": "linear"}}]}}"#
    static let archB = #"{"module": "keras", "class_name": "Sequential", "config": {"name": "seq2", "layers": [{"module": "keras.layers", "class_name": "InputLayer", "config": {"batch_shape": [null, 4], "name": "input_layer"}}, {"module": "keras.layers", "class_name": "Dense", "config": {"name": "dense", "units": 16, "activation": "tanh"}}, {"module": "keras.layers", "class_name": "Dropout", "config": {"name": "dropout", "rate": 0.5}}]}}"#

    @Test("architecture and optimizer differences")
    func architectureAndOptimizer() throws {
        let d = try #require(ArchitectureDiff.compare(Array(Self.archA.utf8), Array(Self.archB.utf8)))
        #expect(d.status == .different)
        #expect(d.added == [ArchitectureDiff.Layer(name: "dropout", className: "Dropout")])
        #expect(d.removed == [ArchitectureDiff.Layer(name: "head", className: "Dense")])
        let dense = try #require(d.changed.first { $0.name == "dense" })
        #expect(dense.keys.map(\.path) == ["units", "activation"])
        #expect(dense.keys.first?.a == .number("8") && dense.keys.first?.b == .number("16"))
        #expect(d.modelChanges.map(\.path) == ["config.name"])
        #expect(ArchitectureDiff.compare(Array(Self.archA.utf8), Array(Self.archA.utf8))?.status == .identical)
        #expect(ArchitectureDiff.compare(Array(Self.archA.utf8), nil)?.status == .onlyInA)
        #expect(ArchitectureDiff.compare(Array(Self.archA.utf8), nil)?.isDifferent == false)

        let w = TensorInfo(name: "dense/kernel", dtype: .float32, shape: [2])
        let slot = { (s: String) in TensorInfo(name: "optimizer/\(s)/dense/kernel", dtype: .float32, shape: [2], role: .optimizer, slot: s, weight: "dense/kernel") }
        let it = TensorInfo(name: "optimizer/iteration", dtype: .int64, shape: [], role: .optimizer)
        let adam = OptimizerInfo(className: "Adam", config: .object([("learning_rate", .number(0.001))]), iterations: 10)
        var adam2 = adam
        adam2.iterations = 20
        adam2.config = .object([("learning_rate", .number(0.0005))])
        let a = DiffMemorySource([(w, DiffBytes.f32([1, 2])), (slot("momentum"), DiffBytes.f32([0, 0])), (slot("velocity"), DiffBytes.f32([0, 0])), (it, DiffBytes.i64([10]))],
                                 architecture: Array(Self.archA.utf8), optimizer: adam)
        let b = DiffMemorySource([(w, DiffBytes.f32([1, 2])), (slot("momentum"), DiffBytes.f32([0, 1])), (it, DiffBytes.i64([20]))],
                                 architecture: Array(Self.archB.utf8), optimizer: adam2)
        let full = try CheckpointDiff.compare(a, b)
        #expect(full.tensors.count == 1, "optimizer tensors are compared only with includeOptimizer")
        let o = try #require(full.optimizer)
        #expect(o.status == .different && o.iterationsA == 10 && o.iterationsB == 20)
        #expect(o.configChanges.map(\.path) == ["learning_rate"])
        #expect(o.slotsA == ["momentum", "velocity"] && o.slotsB == ["momentum"])
        #expect(o.slotTensorsOnlyInA == ["optimizer/velocity/dense/kernel"])
        #expect(full.architecture?.status == .different && full.exitCode == 1)
        #expect(full.layers.first?.className == "Dense")

        var opts = DiffOptions()
        opts.includeOptimizer = true
        let withSlots = try CheckpointDiff.compare(a, b, options: opts)
        #expect(withSlots.tensors.map(\.name) == ["dense/kernel", "optimizer/momentum/dense/kernel", "optimizer/velocity/dense/kernel", "optimizer/iteration"])
        #expect(withSlots.tensors.first { $0.name == "optimizer/iteration" }?.values == .different)
        #expect(withSlots.tensors.first { $0.name == "optimizer/momentum/dense/kernel" }?.layer == "dense")

        var weightsOnly = DiffOptions()
        weightsOnly.weightsOnly = true
        let wo = try CheckpointDiff.compare(a, b, options: weightsOnly)
        #expect(wo.architecture == nil && wo.optimizer == nil && wo.exitCode == 0 && wo.verdict == .identical)
    }

    @Test("JSON: schema ckpt.diff/1")
    func jsonSchema() throws {
        let a = try Checkpoints.open(Self.epochs + "/epoch1.weights.npz")
        let b = try Checkpoints.open(Self.epochs + "/epoch2.weights.npz")
        let v = try JSONParser.parse(try CheckpointDiff.compare(a, b).json().serialized(.pretty))
        #expect(v["schema"]?.stringValue == "ckpt.diff/1")
        #expect(v["verdict"]?.stringValue == "different" && v["exit_code"]?.intValue == 1)
        #expect(v["summary"]?["identical"]?.intValue == 5 && v["summary"]?["different"]?.intValue == 8)
        let t = try #require(v["tensors"]?.arrayValue?.first { $0["name"]?.stringValue == "sequential/dense/kernel" })
        #expect(t["status"]?.stringValue == "different" && t["marker"]?.stringValue == "*" && t["layer"]?.stringValue == "dense")
        for key in ["elements", "compared", "differing", "differing_fraction", "identical", "max_abs", "mean_abs", "rms", "max_rel", "cosine",
                    "relative_change", "nan_both", "nan_only_a", "nan_only_b", "max_abs_at", "max_abs_a", "max_abs_b"] {
            #expect(t["metrics"]?[key] != nil, "metrics.\(key)")
        }
        #expect(t["metrics"]?["max_abs_at"]?.arrayValue?.count == 2)
        let e = try Self.expected()
        let want = e["tensors"]?.arrayValue?.first { $0["name"]?.stringValue == "sequential/dense/kernel" }?["max_abs"]?.doubleValue
        #expect(t["metrics"]?["max_abs"]?.doubleValue == want)
        // Non-finite values are strings.
        let inf = try Self.pair([.infinity], [1])
        let j = CheckpointDiff.tensorJSON(inf)
        #expect(j["metrics"]?["max_abs"] == .string("inf"))
        #expect(CheckpointDiff.unravel(7, [2, 4]) == [1, 3] && CheckpointDiff.unravel(0, []) == [])
    }

    @Test("A .keras config.json and the model.to_json() text of the same model are the same architecture (shared_object_id is ignored)")
    func sharedObjectIdsIgnored() throws {
        let toJSON = try TestEnv.read(TestEnv.path("Tests/Fixtures/keras/mlp/architecture.json"))
        let withIds = try #require(try CheckpointArchive(path: TestEnv.path("Samples/mlp.ckpt")).index.architecture)
        #expect(String(decoding: withIds, as: UTF8.self).contains("shared_object_id"))
        var changes: [DiffKeyChange] = []
        DiffJSONCompare.changes(try JSONParser.parse(toJSON), try JSONParser.parse(withIds), into: &changes)
        #expect(changes.isEmpty, "\(changes.map(\.path))")
    }
}
