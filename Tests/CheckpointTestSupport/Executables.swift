#if canImport(Testing)  // test support only: a release build of the package (no Testing module) skips it
import Foundation

/// The built `ckpt` executable, for tests that need a real process (a pseudo-terminal, SIGKILL,
/// `ulimit -f`, two writers at once). `CKPT_BINARY` names it; otherwise the one next to the test
/// bundle (`swift build --build-tests` and `swift test` build it there), else `.build/debug/ckpt`.
/// Tests that need it say `.requires(.ckptBinary)` (CKPT_REQUIRE_BINARY=1 fails instead of skipping).
public enum CkptExecutable {
    public static let path: String? = {
        if let p = TestEnv.environment["CKPT_BINARY"] { return FileManager.default.isExecutableFile(atPath: p) ? p : nil }
        var candidates: [String] = []
        var url = URL(fileURLWithPath: (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0])
        for _ in 0..<4 {
            url.deleteLastPathComponent()
            candidates.append(url.appendingPathComponent("ckpt").path)
        }
        candidates.append(TestEnv.path(".build/debug/ckpt"))
        return candidates.first { FileManager.default.isExecutableFile(atPath: $0) }
    }()
}

/// Headless Chromium (Debian's `chromium`), for the HTML report tests.
public enum Chromium {
    public static let path: String? = ["chromium", "chromium-browser", "google-chrome"].lazy.compactMap(TestEnv.which).first
}

extension Requirement {
    public static let ckptBinary = Requirement(id: "binary", what: "the built ckpt executable", install: "swift build",
                                               requireVariable: "CKPT_REQUIRE_BINARY") { CkptExecutable.path != nil }
}
#endif
