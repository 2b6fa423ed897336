import Foundation
import Testing
import CheckpointTestSupport
@testable import CheckpointKit

/// Random tensors of every dtype, for round-trip properties.
enum RandomTensors {
    static func bytes(_ info: TensorInfo, _ rng: inout SeededRNG, constant: Bool = false) -> [UInt8] {
        let n = info.byteCount ?? 0
        var out = [UInt8](repeating: 0, count: n)
        if constant {
            let item = info.dtype.itemSize
            let pattern = (0..<item).map { _ in UInt8.random(in: 0...255, using: &rng) }
            for i in 0..<n { out[i] = pattern[i % item] }
            return out
        }
        if info.dtype == .float32 {
            // Weights-like values: normal(0, 0.05) by Box-Muller.
            for k in 0..<(n / 4) {
                let u1 = Double.random(in: Double.ulpOfOne..<1, using: &rng), u2 = Double.random(in: 0..<1, using: &rng)
                let v = Float(0.05 * (-2 * log(u1)).squareRoot() * cos(2 * .pi * u2))
                withUnsafeBytes(of: v.bitPattern.littleEndian) { b in for j in 0..<4 { out[4 * k + j] = b[j] } }
            }
            return out
        }
        if info.dtype == .bool {
            for i in 0..<n { out[i] = UInt8.random(in: 0...1, using: &rng) }
            return out
        }
        for i in 0..<n { out[i] = UInt8.random(in: 0...255, using: &rng) }
        return out
    }

    static func index(count: Int, _ rng: inout SeededRNG, maxElements: Int = 300_000) -> CheckpointIndex {
        var tensors: [TensorInfo] = []
        for k in 0..<count {
            let dtype = DType.allCases.randomElement(using: &rng) ?? .float32
            let rank = Int.random(in: 0...4, using: &rng)
            var shape: [Int] = []
            var budget = Int.random(in: 0...maxElements, using: &rng)
            for _ in 0..<rank {
                let d = budget <= 1 ? Int.random(in: 0...1, using: &rng) : Int.random(in: 1...max(1, min(budget, 700)), using: &rng)
                shape.append(d)
                budget = d == 0 ? 0 : budget / max(d, 1)
            }
            tensors.append(TensorInfo(name: "layer_\(k)/var_\(Int.random(in: 0...99, using: &rng))", dtype: dtype, shape: shape,
                                      trainable: Bool.random(using: &rng)))
        }
        return CheckpointIndex(tensors: tensors, metadata: .object([("seed", .number(Int(rng.state & 0xFFFF)))]))
    }
}

/// Expects `body` to throw a CheckpointError with `code`; returns it.
@discardableResult
func expectError(_ code: CheckpointError.Code, sourceLocation: SourceLocation = #_sourceLocation, _ body: () throws -> Void) -> CheckpointError? {
    do {
        try body()
        Issue.record("expected a CheckpointError \(code), nothing was thrown", sourceLocation: sourceLocation)
        return nil
    } catch let e as CheckpointError {
        #expect(e.code == code, "expected \(code), got \(e.code): \(e)", sourceLocation: sourceLocation)
        return e
    } catch {
        Issue.record("expected a CheckpointError \(code), got \(error)", sourceLocation: sourceLocation)
        return nil
    }
}
