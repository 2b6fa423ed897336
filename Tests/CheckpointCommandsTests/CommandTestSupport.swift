import Foundation
import Testing
@testable import CheckpointCommands
@testable import CheckpointKit

/// Runs `ckpt` in process and compares outputs with golden files under `Samples/golden/`.
/// Set CKPT_RECORD_GOLDEN=1 to (re)write the golden files instead of comparing.
enum CLI {
    static let packageRoot: URL = {
        var url = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        while url.path != "/" {
            if FileManager.default.fileExists(atPath: url.appendingPathComponent("Package.swift").path) { return url }
            url.deleteLastPathComponent()
        }
        return URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    }()

    static func path(_ relative: String) -> String { packageRoot.appendingPathComponent(relative).path }

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

    static var recording: Bool { ProcessInfo.processInfo.environment["CKPT_RECORD_GOLDEN"] == "1" }

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

    /// Runs a program (found on PATH) with output through a file; nil if it is not installed.
    static func runProcess(_ name: String, _ arguments: [String]) throws -> (status: Int32, output: String)? {
        guard let exe = (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":")
            .map({ "\($0)/\(name)" }).first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else { return nil }
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let outPath = dir + "/out.txt"
        _ = FileManager.default.createFile(atPath: outPath, contents: nil)
        let out = try FileHandle(forWritingTo: URL(fileURLWithPath: outPath))
        let p = Process()
        p.executableURL = URL(fileURLWithPath: exe)
        p.arguments = arguments
        p.standardOutput = out
        p.standardError = out
        p.standardInput = FileHandle.nullDevice
        try p.run()
        p.waitUntilExit()
        try out.close()
        return (p.terminationStatus, (try? String(contentsOfFile: outPath, encoding: .utf8)) ?? "")
    }

    static var requirePython: Bool { ProcessInfo.processInfo.environment["CKPT_REQUIRE_PYTHON"] == "1" }

    static func temporaryDirectory() throws -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("ckpt-cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return dir.path
    }
}
