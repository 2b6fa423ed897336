import Foundation
import Testing
@testable import CheckpointCommands
@testable import CheckpointKit
#if canImport(Glibc)
import Glibc
#endif

/// The built `ckpt` executable, for tests that need a real process (SIGKILL, `ulimit -f`, two
/// writers at once). `swift test` does not build it: `swift build` does (CI runs it first).
/// `CKPT_BINARY` names it explicitly; otherwise `.build/debug/ckpt` (or any `.build/*/debug/ckpt`)
/// under the package root. Tests that need it are skipped when it is missing, unless
/// `CKPT_REQUIRE_BINARY=1`, which makes them fail instead.
enum CkptBinary {
    static let path: String? = {
        let env = ProcessInfo.processInfo.environment
        if let p = env["CKPT_BINARY"], FileManager.default.isExecutableFile(atPath: p) { return p }
        let root = CLI.packageRoot.path
        var candidates = [root + "/.build/debug/ckpt"]
        if let dirs = try? FileManager.default.contentsOfDirectory(atPath: root + "/.build") {
            candidates += dirs.sorted().map { root + "/.build/\($0)/debug/ckpt" }
        }
        return candidates.first { FileManager.default.isExecutableFile(atPath: $0) }
    }()

    static var required: Bool { ProcessInfo.processInfo.environment["CKPT_REQUIRE_BINARY"] == "1" }
    /// Whether the tests that need the binary run (they fail when it is required and missing).
    static var enabled: Bool { path != nil || required }

    static func require(sourceLocation: SourceLocation = #_sourceLocation) throws -> String {
        guard let path else {
            Issue.record("CKPT_REQUIRE_BINARY=1 but no ckpt executable was found: run `swift build` first, or set CKPT_BINARY", sourceLocation: sourceLocation)
            throw Missing()
        }
        return path
    }

    struct Missing: Error {}
}

/// A child process with its output in a file (pipes can fill and block a child we mean to kill).
final class Child {
    let process = Process()
    let outPath: String

    init(_ executable: String, _ arguments: [String], outDir: String, tag: String) throws {
        outPath = outDir + "/\(tag).out"
        _ = FileManager.default.createFile(atPath: outPath, contents: nil)
        let out = try FileHandle(forWritingTo: URL(fileURLWithPath: outPath))
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        var env = ProcessInfo.processInfo.environment
        env["NO_COLOR"] = "1"
        process.environment = env
        process.standardOutput = out
        process.standardError = out
        process.standardInput = FileHandle.nullDevice
        try process.run()
        try out.close()
    }

    var pid: Int32 { process.processIdentifier }
    func kill(_ signal: Int32) { _ = Glibc.kill(process.processIdentifier, signal) }

    /// Waits; returns (exit status or 128 + signal, output).
    func wait() -> (status: Int32, output: String) {
        process.waitUntilExit()
        let out = (try? String(contentsOfFile: outPath, encoding: .utf8)) ?? ""
        let status = process.terminationReason == .uncaughtSignal ? 128 + process.terminationStatus : process.terminationStatus
        return (status, out)
    }

    /// Runs to the end.
    static func run(_ executable: String, _ arguments: [String], outDir: String, tag: String = "run") throws -> (status: Int32, output: String) {
        try Child(executable, arguments, outDir: outDir, tag: tag).wait()
    }
}

/// Files as bytes plus metadata, to prove an input was not touched.
struct FileSnapshot: Equatable {
    let bytes: Data
    let size: Int64
    let mtimeSec: Int
    let mtimeNsec: Int
    let inode: UInt64

    init(_ path: String) throws {
        bytes = try Data(contentsOf: URL(fileURLWithPath: path))
        var st = stat()
        guard stat(path, &st) == 0 else { throw CheckpointError(.io, "cannot stat", file: path) }
        size = Int64(st.st_size)
        mtimeSec = st.st_mtim.tv_sec
        mtimeNsec = st.st_mtim.tv_nsec
        inode = UInt64(st.st_ino)
    }
}

/// SplitMix64: deterministic, seedable randomness (the commands' tests have no TestSupport of their own).
struct ReliabilityRNG: RandomNumberGenerator {
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

/// Cheap deterministic bytes (SplitMix64), for large test tensors.
enum NoiseBytes {
    static func make(_ count: Int, seed: UInt64) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: count)
        var state = seed &+ 0x9E37_79B9_7F4A_7C15
        out.withUnsafeMutableBytes { b in
            var i = 0
            while i + 8 <= count {
                state &+= 0x9E37_79B9_7F4A_7C15
                var z = state
                z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
                z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
                z ^= z >> 31
                // Float32-like values of modest magnitude: keep the exponent in a sane range.
                z &= 0xBFFF_FFFF_BFFF_FFFF
                b.storeBytes(of: z, toByteOffset: i, as: UInt64.self)
                i += 8
            }
        }
        return out
    }
}

extension CLI {
    /// Files in `dir` whose name marks an unfinished write.
    static func temporaries(in dir: String) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []).filter { $0.contains(".ckpt-tmp-") }.sorted()
    }

    /// A one-sentence error: `ckpt: error: ...` on one line, ending with a period, no raw controls.
    /// With `lastLineOnly`, lines before the sentence (a rebuild's mismatch lists) are allowed.
    static func expectSentence(_ r: Result, lastLineOnly: Bool = false, mentioning: [String] = [], sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(r.status == 2, "exit \(r.status): \(r.err)", sourceLocation: sourceLocation)
        var text = r.err.hasSuffix("\n") ? String(r.err.dropLast()) : r.err
        if lastLineOnly {
            #expect(!text.unicodeScalars.contains { ($0.value < 0x20 && $0.value != 0x0A) || $0.value == 0x7F }, "raw control characters in: \(text.debugDescription)",
                    sourceLocation: sourceLocation)
            text = text.split(separator: "\n", omittingEmptySubsequences: false).last.map(String.init) ?? ""
        }
        #expect(text.hasPrefix("ckpt: error: "), "not an error sentence: \(r.err)", sourceLocation: sourceLocation)
        #expect(!text.contains("\n"), "more than one line: \(r.err)", sourceLocation: sourceLocation)
        #expect(text.hasSuffix(".") || text.hasSuffix("?") || text.hasSuffix("!"), "no closing period: \(r.err)", sourceLocation: sourceLocation)
        #expect(!text.unicodeScalars.contains { $0.value < 0x20 || $0.value == 0x7F || ($0.value >= 0x80 && $0.value < 0xA0) },
                "raw control characters in: \(text.debugDescription)", sourceLocation: sourceLocation)
        for m in mentioning { #expect(text.contains(m), "\"\(m)\" not in: \(text)", sourceLocation: sourceLocation) }
    }
}
