import Foundation
import Testing
import CheckpointTestSupport

/// The suite itself: every test checks something on its main path (it would fail if its body were
/// an immediate return), except the few tagged `.smoke`; no silent early return.
@Suite("Test hygiene")
struct TestHygieneTests {
    static let directories = ["Tests/CheckpointKitTests", "Tests/CheckpointCommandsTests", "Tests/CheckpointTestSupport"].map(TestEnv.path)

    @Test("every test checks something on its main path, or is tagged .smoke")
    func everyTestChecks() throws {
        let findings = try TestScanner.scan(Self.directories)
        let unchecked = findings.filter { !$0.isSmoke }
        #expect(unchecked.isEmpty, "tests that pass with an empty body:\n\(unchecked.map(\.description).joined(separator: "\n"))")
        // The smoke tests: few, and each really checks nothing (else drop the tag).
        let smoke = findings.filter(\.isSmoke)
        #expect(smoke.count <= 6, "\(smoke.map(\.description))")
        #expect(!smoke.contains { $0.why.hasPrefix("tagged .smoke but") }, "\(smoke.map(\.description))")
    }

    /// What the suite gave up: unseeded randomness, changing the process's working directory or
    /// environment, processes outside the one runner, pipes (EINTR), expectations that cannot fail,
    /// skips printed as passes.
    @Test("no unseeded randomness, process-global changes, second process runner, cannot-fail expectation or printed skip")
    func forbiddenPatterns() throws {
        let code = ["SystemRandomNumberGenerator", "changeCurrentDirectoryPath", "chdir(", "setenv(", "Process()", "Pipe()", "|| true",
                    ".random(in:", "randomElement()", ".shuffled()"]
        var found: [String] = []
        var files = 0
        for dir in Self.directories {
            for name in TestEnv.listing(dir) where name.hasSuffix(".swift") && name != "Processes.swift" && name != "TestHygieneTests.swift" {
                let raw = try TestEnv.readText(dir + "/" + name)
                let text = TestScanner.blank(raw)
                files += 1
                for (k, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
                    for p in code where line.contains(p) && !(p == ".random(in:" && line.contains("using:")) {
                        // Whole words only: `func childProcess()` is not `Process()`.
                        let word = p.first?.isLetter == true
                        if word && line.range(of: #"(^|[^A-Za-z0-9_])"# + NSRegularExpression.escapedPattern(for: p), options: .regularExpression) == nil { continue }
                        found.append("\(name):\(k + 1): \(p)")
                    }
                }
                if raw.contains("print(\"skipped") { found.append("\(name): prints a skip instead of reporting it") }
            }
        }
        #expect(files >= 40)
        #expect(found.isEmpty, "\(found.joined(separator: "\n"))")
    }

    /// A test that runs python3 or an optional program says so, so that a machine without it
    /// reports a skip (or, under CKPT_REQUIRE_*, a failure) instead of an error or a silent pass.
    @Test("every test that runs python3, unzip, a shell or chromium declares it with .requires")
    func externalToolsAreDeclared() throws {
        var undeclared: [String] = []
        var checked = 0
        for dir in Self.directories where !dir.hasSuffix("CheckpointTestSupport") {
            for name in TestEnv.listing(dir) where name.hasSuffix(".swift") && name != "TestHygieneTests.swift" {
                let raw = try TestEnv.readText(dir + "/" + name)
                let text = TestScanner.blank(raw)
                // Suite-level requirements: `@Suite(... .requires(...) ...)` before `struct Name`.
                var suiteRequires = Set<String>()
                let suite = try NSRegularExpression(pattern: #"@Suite\(([^\n]*)\)\s*\n\s*struct (\w+)"#)
                for m in suite.matches(in: raw, range: NSRange(raw.startIndex..., in: raw)) {
                    if let a = Range(m.range(at: 1), in: raw), raw[a].contains(".requires("), let n = Range(m.range(at: 2), in: raw) { suiteRequires.insert(String(raw[n])) }
                }
                for f in TestScanner.functions(in: text) where f.isTest && !f.nested {
                    let body = rawBody(raw, f)
                    let runs = f.body.contains("TestEnv.python(") || f.body.contains("Chromium.screenshot(") || f.body.contains("Chromium.dom(")
                        || body.range(of: #"TestEnv\.run\("(unzip|bash|zsh|fish|groff|python3|chromium)""#, options: .regularExpression) != nil
                    guard runs else { continue }
                    checked += 1
                    let attribute = f.before[(f.before.range(of: "@Test", options: .backwards)?.lowerBound ?? f.before.startIndex)...]
                    if !attribute.contains(".requires(") && !suiteRequires.contains(f.type) { undeclared.append("\(name):\(f.line) \(f.name)") }
                }
            }
        }
        #expect(checked >= 10)
        #expect(undeclared.isEmpty, "\(undeclared)")
    }

    /// The body of `f` in the raw text (string literals kept): from its line to the next test.
    func rawBody(_ raw: String, _ f: TestScanner.Function) -> String {
        let lines = raw.split(separator: "\n", omittingEmptySubsequences: false)
        let count = f.body.split(separator: "\n", omittingEmptySubsequences: false).count
        return lines[min(f.line - 1, lines.count)..<min(f.line - 1 + count + 1, lines.count)].joined(separator: "\n")
    }

    @Test("the scanner finds what it should", arguments: [
        ("@Test func a() { let x = 1; _ = x }", true),
        ("@Test func a() { #expect(1 == 1) }", false),
        ("@Test func a() {\n    if cond {\n        #expect(x)\n    }\n}", true),
        ("@Test func a() {\n    guard ok else { return }\n    #expect(x)\n}", true),
        ("@Test func a() {\n    guard ok else { Issue.record(\"no\"); return }\n    #expect(x)\n}", false),
        ("@Test func a() {\n    for x in xs {\n        #expect(x > 0)\n    }\n}", false),
        ("@Test func a() {\n    let e = #expect(throws: E.self) {\n        try f()\n    }\n    _ = e\n}", false),
        ("func helper() { #expect(true) }\n@Test func a() { helper() }", false),
        ("@Test func a() {\n    // #expect(x)\n    let s = \"#expect(y)\"\n}", true),
        ("@Test func a() {\n    do {\n        try f()\n    } catch {\n        #expect(Bool(false))\n    }\n}", true),
    ] as [(String, Bool)])
    func scannerSelfTest(source: String, flagged: Bool) throws {
        let dir = try TestEnv.temporaryDirectory("ckpt-scan")
        defer { TestEnv.cleanup(dir) }
        try TestEnv.write(source, to: dir + "/X.swift")
        let findings = try TestScanner.scan([dir])
        #expect(findings.contains { $0.test == "a" } == flagged, "\(findings)")
    }
}
