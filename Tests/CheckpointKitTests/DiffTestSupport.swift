import Foundation
import Testing
import CheckpointTestSupport
@testable import CheckpointKit

/// An in-memory checkpoint whose pieces and read callbacks can be cut anywhere (even inside an
/// element), to exercise every way the diff engine pairs two streams.
final class DiffMemorySource: TensorSource {
    let path: String
    let format: CheckpointFormat = .npz
    let index: CheckpointIndex
    let data: [[UInt8]]
    /// Bytes per piece (nil: one piece per tensor).
    let pieceSize: Int?
    /// Bytes per callback inside a piece (nil: the whole piece at once).
    let callbackSize: Int?

    init(_ tensors: [(TensorInfo, [UInt8])], path: String = "memory", pieceSize: Int? = nil, callbackSize: Int? = nil,
         architecture: [UInt8]? = nil, optimizer: OptimizerInfo? = nil) {
        self.path = path
        index = CheckpointIndex(tensors: tensors.map(\.0), architecture: architecture, optimizer: optimizer)
        data = tensors.map(\.1)
        self.pieceSize = pieceSize
        self.callbackSize = callbackSize
    }

    func pieces(of i: Int) -> [Range<Int>] {
        let n = data[i].count
        guard let pieceSize, n > pieceSize else { return [0..<n] }
        return stride(from: 0, to: n, by: pieceSize).map { $0..<min($0 + pieceSize, n) }
    }

    func readPiece(_ i: Int, _ p: Int, _ body: (UnsafeRawBufferPointer) throws -> Void) throws -> UInt32 {
        let r = pieces(of: i)[p]
        let bytes = Array(data[i][r])
        let step = max(1, callbackSize ?? max(1, bytes.count))
        try bytes.withUnsafeBytes { b in
            var at = 0
            repeat {
                let end = min(at + step, b.count)
                try body(UnsafeRawBufferPointer(rebasing: b[at..<end]))
                at = end
            } while at < b.count
        }
        return crc32(bytes)
    }
}

/// Little-endian bytes of values.
enum DiffBytes {
    static func f32(_ v: [Float]) -> [UInt8] { v.withUnsafeBytes { Array($0) } }
    static func f64(_ v: [Double]) -> [UInt8] { v.withUnsafeBytes { Array($0) } }
    static func i64(_ v: [Int64]) -> [UInt8] { v.withUnsafeBytes { Array($0) } }
    static func i32(_ v: [Int32]) -> [UInt8] { v.withUnsafeBytes { Array($0) } }
    static func u16(_ v: [UInt16]) -> [UInt8] { v.withUnsafeBytes { Array($0) } }

    /// float32 -> bfloat16 bits, round to nearest even (as ml_dtypes / torch do).
    static func bf16(_ v: [Float]) -> [UInt8] {
        u16(v.map { x in
            let b = x.bitPattern
            let rounded = b &+ 0x7FFF &+ ((b >> 16) & 1)
            return UInt16(truncatingIfNeeded: rounded >> 16)
        })
    }

    static func randomNormal(_ n: Int, std: Float, rng: inout SeededRNG) -> [Float] {
        var out = [Float](repeating: 0, count: n)
        var k = 0
        while k < n {
            let u1 = max(Double.leastNonzeroMagnitude, Double.random(in: 0..<1, using: &rng))
            let u2 = Double.random(in: 0..<1, using: &rng)
            let r = (-2 * log(u1)).squareRoot()
            out[k] = Float(r * cos(2 * .pi * u2)) * std
            if k + 1 < n { out[k + 1] = Float(r * sin(2 * .pi * u2)) * std }
            k += 2
        }
        return out
    }
}

/// The metrics computed the obvious way (one element at a time, float64, compensated sums), to
/// check the engine's chunked, parallel computation against.
struct DiffReference {
    var maxAbs = 0.0
    var sumAbs = 0.0, cAbs = 0.0
    var sumSq = 0.0, cSq = 0.0
    var compared = 0
    var differing = 0

    init(_ a: [Double], _ b: [Double], atol: Double, rtol: Double) {
        for (x, y) in zip(a, b) {
            if x.isNaN || y.isNaN { if !(x.isNaN && y.isNaN) { differing += 1 }; continue }
            compared += 1
            let d = x == y ? 0 : abs(x - y)
            maxAbs = max(maxAbs, d)
            Self.add(&sumAbs, &cAbs, d)
            Self.add(&sumSq, &cSq, d * d)
            if x != y && (!x.isFinite || !y.isFinite || !(d <= atol + rtol * abs(y))) { differing += 1 }
        }
    }

    static func add(_ s: inout Double, _ c: inout Double, _ x: Double) {
        let t = s + x
        if abs(s) >= abs(x) { c += (s - t) + x } else { c += (x - t) + s }
        s = t
    }

    var meanAbs: Double { (sumAbs + cAbs) / Double(compared) }
    var rms: Double { ((sumSq + cSq) / Double(compared)).squareRoot() }
}

func relativeError(_ x: Double, _ y: Double) -> Double {
    if x == y { return 0 }
    return abs(x - y) / max(abs(x), abs(y))
}
