import Foundation
import Testing
import CheckpointTestSupport
@testable import CheckpointCommands
@testable import CheckpointKit
#if canImport(Glibc)
import Glibc
#endif

extension ChildProcess {
    /// `ckpt args...` (the built executable) with NO_COLOR, started; `wait()` for the result.
    static func ckpt(_ arguments: [String]) throws -> ChildProcess {
        let exe = try #require(CkptExecutable.path, "the ckpt executable is not built (swift build)")
        return try ChildProcess(exe, arguments, environment: ["NO_COLOR": "1"])
    }

    /// Runs `ckpt args...` to its end.
    static func runCkpt(_ arguments: [String]) throws -> ProcessResult { try ckpt(arguments).wait() }
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

/// Cheap deterministic bytes, for large test tensors: float32-like values of modest magnitude
/// (the exponent kept in a sane range).
enum NoiseBytes {
    static func make(_ count: Int, seed: UInt64) -> [UInt8] {
        var rng = SeededRNG(seed: seed)
        var out = [UInt8](repeating: 0, count: count)
        out.withUnsafeMutableBytes { b in
            var i = 0
            while i + 8 <= count {
                b.storeBytes(of: rng.next() & 0xBFFF_FFFF_BFFF_FFFF, toByteOffset: i, as: UInt64.self)
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
