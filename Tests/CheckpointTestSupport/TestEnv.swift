#if canImport(Testing)  // test support only: a release build of the package (no Testing module) skips it
import Foundation

/// Where the package and its fixtures are, scratch directories, and small file helpers, shared by
/// both test targets. Nothing here changes process-global state (no `chdir`, no `setenv`).
public enum TestEnv {
    /// The directory holding Package.swift (found upwards from this file).
    public static let packageRoot: URL = {
        let here = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        var url = here
        while url.path != "/" {
            if FileManager.default.fileExists(atPath: url.appendingPathComponent("Package.swift").path) { return url }
            url.deleteLastPathComponent()
        }
        return here.deletingLastPathComponent().deletingLastPathComponent()
    }()

    /// `relative` (e.g. "Samples/mlp.ckpt") under the package root.
    public static func path(_ relative: String) -> String { packageRoot.appendingPathComponent(relative).path }

    /// `Tests/Fixtures/<relative>`.
    public static func fixture(_ relative: String) -> String { path("Tests/Fixtures/" + relative) }

    /// The process environment, read once.
    public static let environment: [String: String] = ProcessInfo.processInfo.environment

    /// Whether `CKPT_<name>=1` is set (CKPT_SLOW_TESTS, CKPT_RECORD_GOLDEN, ...).
    public static func flag(_ name: String) -> Bool { environment["CKPT_" + name] == "1" }

    /// A fresh directory under the temporary directory; remove it with `cleanup`.
    public static func temporaryDirectory(_ tag: String = "ckpt-test") throws -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("\(tag)-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return dir.path
    }

    public static func cleanup(_ dir: String) { try? FileManager.default.removeItem(atPath: dir) }

    public static func read(_ path: String) throws -> [UInt8] { [UInt8](try Data(contentsOf: URL(fileURLWithPath: path))) }
    public static func readText(_ path: String) throws -> String { String(decoding: try read(path), as: UTF8.self) }
    public static func write(_ bytes: [UInt8], to path: String) throws { try Data(bytes).write(to: URL(fileURLWithPath: path)) }
    public static func write(_ text: String, to path: String) throws { try write(Array(text.utf8), to: path) }

    /// Files in `dir` (names only), sorted; empty if it cannot be listed.
    public static func listing(_ dir: String) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []).sorted()
    }

    /// The executable `name` on PATH (or `name` itself when it is a path), or nil. A plain lookup:
    /// whether a test may use a tool is decided by its `.requires(...)` trait (Requirement).
    public static func which(_ name: String) -> String? {
        if name.contains("/") { return FileManager.default.isExecutableFile(atPath: name) ? name : nil }
        for dir in (environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":") {
            let candidate = "\(dir)/\(name)"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return nil
    }
}
#endif
