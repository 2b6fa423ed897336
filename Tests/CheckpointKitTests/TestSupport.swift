import Foundation
import Testing
@testable import CheckpointKit

/// Paths, temporary directories, seeded randomness and external cross-check tools shared by the
/// container tests.
enum TestEnv {
    static let packageRoot: URL = {
        var url = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        while url.path != "/" {
            if FileManager.default.fileExists(atPath: url.appendingPathComponent("Package.swift").path) { return url }
            url.deleteLastPathComponent()
        }
        return URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    }()

    static func path(_ relative: String) -> String { packageRoot.appendingPathComponent(relative).path }

    /// A fresh directory under /tmp, removed by the caller with `cleanup`.
    static func temporaryDirectory(_ tag: String = "ckpt-test") throws -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("\(tag)-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return dir.path
    }

    static func cleanup(_ dir: String) { try? FileManager.default.removeItem(atPath: dir) }

    static func read(_ path: String) throws -> [UInt8] { [UInt8](try Data(contentsOf: URL(fileURLWithPath: path))) }
    static func write(_ bytes: [UInt8], to path: String) throws { try Data(bytes).write(to: URL(fileURLWithPath: path)) }

    static var requirePython: Bool { ProcessInfo.processInfo.environment["CKPT_REQUIRE_PYTHON"] == "1" }

    /// Runs a program; returns (status, stdout+stderr). Output goes through a file, not a pipe:
    /// reading a pipe to its end can be interrupted (EINTR) when many tests run in parallel.
    @discardableResult
    static func run(_ executable: String, _ arguments: [String], environment: [String: String] = [:]) throws -> (Int32, String) {
        let dir = try temporaryDirectory("ckpt-proc")
        defer { cleanup(dir) }
        let outPath = dir + "/out.txt"
        _ = FileManager.default.createFile(atPath: outPath, contents: nil)
        let out = try FileHandle(forWritingTo: URL(fileURLWithPath: outPath))
        let p = Process()
        p.executableURL = URL(fileURLWithPath: executable)
        p.arguments = arguments
        var env = ProcessInfo.processInfo.environment
        for (k, v) in environment { env[k] = v }
        p.environment = env
        p.standardOutput = out
        p.standardError = out
        p.standardInput = FileHandle.nullDevice
        try p.run()
        p.waitUntilExit()
        try out.close()
        return (p.terminationStatus, String(decoding: try read(outPath), as: UTF8.self))
    }

    static func which(_ name: String) -> String? {
        for dir in (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":") {
            let candidate = "\(dir)/\(name)"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return nil
    }

    /// Whether python3 can import all `modules`. With CKPT_REQUIRE_PYTHON=1 a missing module fails.
    static func pythonAvailable(_ modules: [String]) -> Bool {
        guard let py = which("python3") else { return false }
        let ok = (try? run(py, ["-c", "import " + modules.joined(separator: ", ")]).0) == 0
        return ok
    }

    /// Runs a Python script with `args`; returns its stdout. Fails the test on a non-zero exit.
    static func python(_ script: String, _ args: [String] = [], sourceLocation: SourceLocation = #_sourceLocation) throws -> String {
        guard let py = which("python3") else { throw PythonMissing() }
        let (status, out) = try run(py, ["-c", script] + args)
        #expect(status == 0, "python3 failed: \(out)", sourceLocation: sourceLocation)
        return out
    }

    struct PythonMissing: Error {}
}

/// SplitMix64: deterministic, seedable randomness for property tests.
struct SeededRNG: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed &+ 0x9E37_79B9_7F4A_7C15 }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

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
