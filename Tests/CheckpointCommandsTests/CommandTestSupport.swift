import Foundation
import Testing
import CheckpointTestSupport
@testable import CheckpointCommands
@testable import CheckpointKit

/// Runs `ckpt` in process and compares outputs with golden files under `Samples/golden/`.
/// Set CKPT_RECORD_GOLDEN=1 to (re)write the golden files instead of comparing.
enum CLI {
    static var packageRoot: URL { TestEnv.packageRoot }

    static func path(_ relative: String) -> String { TestEnv.path(relative) }

    struct Result {
        var status: Int32
        var out: String
        var err: String
    }

    /// Runs `ckpt args...` with a capturing console. Paths under the package root are shown relative.
    static func run(_ args: [String], tty: Bool = false, environment: [String: String] = [:]) -> Result {
        let console = Console(capturing: true, tty: tty, environment: environment)
        let status = Console.$current.withValue(console) { CkptCommand.run(args) }
        let root = packageRoot.path + "/"
        return Result(status: status, out: console.capturedOutput.replacingOccurrences(of: root, with: ""),
                      err: console.capturedError.replacingOccurrences(of: root, with: ""))
    }

    static var recording: Bool { TestEnv.flag("RECORD_GOLDEN") }

    /// Compares `actual` with `Samples/golden/<name>`, or records it.
    static func golden(_ name: String, _ actual: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let url = packageRoot.appendingPathComponent("Samples/golden/\(name)")
        if recording {
            try actual.write(to: url, atomically: true, encoding: .utf8)
            return
        }
        guard let expected = try? String(contentsOf: url, encoding: .utf8) else {
            Issue.record("missing golden file Samples/golden/\(name); run with CKPT_RECORD_GOLDEN=1 to create it", sourceLocation: sourceLocation)
            return
        }
        if expected != actual {
            let e = expected.split(separator: "\n", omittingEmptySubsequences: false)
            let a = actual.split(separator: "\n", omittingEmptySubsequences: false)
            let firstDiff = zip(e, a).enumerated().first { $0.element.0 != $0.element.1 }?.offset ?? min(e.count, a.count)
            Issue.record("""
            output differs from Samples/golden/\(name) at line \(firstDiff + 1):
              expected: \(firstDiff < e.count ? String(e[firstDiff]) : "<end>")
              actual:   \(firstDiff < a.count ? String(a[firstDiff]) : "<end>")
            (CKPT_RECORD_GOLDEN=1 re-records if the change is intended)
            """, sourceLocation: sourceLocation)
        }
    }

    static func temporaryDirectory() throws -> String { try TestEnv.temporaryDirectory("ckpt-cli") }
}
