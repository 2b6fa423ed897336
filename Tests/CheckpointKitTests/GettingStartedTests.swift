import Foundation
import Testing
import CheckpointTestSupport
@testable import CheckpointKit

/// The DocC article GettingStarted.md, run: its Swift blocks are extracted into
/// GettingStartedArticle.swift (compiled with the tests), and each `print(...)  // expected`
/// comment is checked against what the call printed. Editing the article without regenerating
/// fails "the compiled code is the article's" (CKPT_RECORD_GOLDEN=1 regenerates it).
///
/// Extraction rules (ArticleExtractor): the `Package.swift` block is skipped; the first section's
/// names are visible to the later ones, each later section is its own scope; a string literal
/// naming a file (`"out.ckpt"`) becomes `here("out.ckpt")`, a path in a scratch directory the test
/// fills (`ArticleFiles`); `print(x)  // c` becomes `print(x, expect: #"c"#)`.
@Suite("DocC: Getting started")
struct GettingStartedTests {
    static let article = "Sources/CheckpointKit/CheckpointKit.docc/GettingStarted.md"
    static let generated = "Tests/CheckpointKitTests/GettingStartedArticle.swift"

    @Test("the compiled code is the article's code (regenerate with CKPT_RECORD_GOLDEN=1)")
    func generatedIsCurrent() throws {
        let fresh = ArticleExtractor.swiftFile(from: try TestEnv.readText(TestEnv.path(Self.article)), articlePath: Self.article)
        let current = try? TestEnv.readText(TestEnv.path(Self.generated))
        if TestEnv.flag("RECORD_GOLDEN") && current != fresh {
            try TestEnv.write(fresh, to: TestEnv.path(Self.generated))
            Issue.record("rewrote \(Self.generated) from the article: build and run the tests again")
            return
        }
        #expect(current == fresh, "\(Self.generated) is not the code of \(Self.article): run `CKPT_RECORD_GOLDEN=1 swift test --filter GettingStarted`, then the tests again")
        #expect(ArticleExtractor.expectations(in: fresh) >= 8)
    }

    @Test("the article's code runs, and prints what its comments say")
    func articleRuns() throws {
        let files = try ArticleFiles()
        defer { TestEnv.cleanup(files.dir) }
        let run = ArticleRun(files)
        try GettingStartedArticle.run(run)
        #expect(run.checked == GettingStartedArticle.expectations, "\(run.checked) of \(GettingStartedArticle.expectations) commented prints ran")
        for failure in run.failures { Issue.record(Comment(rawValue: failure)) }
    }

    @Test("comments are matched as documented", arguments: [
        (".full", "full", true), ("\"Adam\"", "Adam", true), ("21 20", "21 20", true), ("21 20", "21 21", false),
        (".corrupt, .truncated, .notRecognized, ...", "truncated", true), (".corrupt, .truncated, ...", "io", false),
        ("x.ckpt: member \"m\" at byte 12: ...", "x.ckpt: member \"m\" at byte 12: the rest", true),
        ("x.ckpt: member \"m\" at byte 12: ...", "x.ckpt: at byte 12: the rest", false),
        (".different → `ckpt diff` exits 1", "different", true), (".different → exits 1", "identical", false),
    ] as [(String, String, Bool)])
    func commentMatching(comment: String, printed: String, matches: Bool) {
        #expect(ArticleRun.matches(printed, comment) == matches)
    }
}

/// The files the article names, in a scratch directory.
struct ArticleFiles {
    let dir: String

    init() throws {
        dir = try TestEnv.temporaryDirectory("ckpt-article")
        try FileManager.default.createDirectory(atPath: dir + "/Samples", withIntermediateDirectories: true)
        let sample = TestEnv.path("Samples/mlp.ckpt")
        for (name, from) in [("Samples/mlp.ckpt", sample), ("full.ckpt", sample), ("model.json", TestEnv.fixture("keras/mlp/architecture.json")),
                             ("epoch3.weights.npz", TestEnv.fixture("keras-epochs/epoch1.weights.npz")),
                             ("epoch7.weights.npz", TestEnv.fixture("keras-epochs/epoch2.weights.npz"))] {
            try FileManager.default.copyItem(atPath: from, toPath: dir + "/" + name)
        }
        try TestEnv.write(Array(try TestEnv.read(sample).prefix(1000)), to: dir + "/truncated.ckpt")
    }
}

/// What the article's code calls: `here` for file names, `print` for output.
final class ArticleRun {
    let files: ArticleFiles
    private(set) var checked = 0
    private(set) var failures: [String] = []
    private var seen = Set<Int>()

    init(_ files: ArticleFiles) { self.files = files }

    func here(_ name: String) -> String { files.dir + "/" + name }

    /// A `print` of the article; `expect` is its comment, checked on the first call of that line.
    func printed(_ items: [Any], expect: String?, line: Int) {
        guard let expect, seen.insert(line).inserted else { return }
        checked += 1
        let text = items.map { "\($0)" }.joined(separator: " ").replacingOccurrences(of: files.dir + "/", with: "")
        if !Self.matches(text, expect) {
            failures.append("GettingStarted.md: `print` (GettingStartedArticle.swift:\(line)) printed \"\(text)\"; the article says // \(expect)")
        }
    }

    /// The comment rules: `a → why` compares `a`; `.x, .y, ...` is one of; a trailing `...` a
    /// prefix; otherwise equal, a leading `.` (an enum case) and surrounding quotes dropped.
    static func matches(_ printed: String, _ comment: String) -> Bool {
        var c = comment.components(separatedBy: " → ")[0].trimmingCharacters(in: .whitespaces)
        if c.hasSuffix("...") {
            let head = String(c.dropLast(3)).trimmingCharacters(in: .whitespaces)
            let items = head.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
            if !items.isEmpty && items.allSatisfy({ $0.hasPrefix(".") }) { return items.map { String($0.dropFirst()) }.contains(printed) }
            return printed.hasPrefix(head)
        }
        if c.hasPrefix("."), !c.contains(" ") { c.removeFirst() }
        if c.count >= 2 && c.hasPrefix("\"") && c.hasSuffix("\"") { c = String(c.dropFirst().dropLast()) }
        return printed == c
    }
}

/// Turns the article's Swift blocks into one function (see GettingStartedTests).
enum ArticleExtractor {
    static func swiftFile(from markdown: String, articlePath: String) -> String {
        var sections: [(title: String, lines: [String])] = []
        var title = ""
        var block: [String]?
        for line in markdown.split(separator: "\n", omittingEmptySubsequences: false).map(String.init) {
            if var b = block {
                if line == "```" {
                    if !b.contains(where: { $0.contains("Package.swift") }) {
                        if sections.last?.title != title { sections.append((title, [])) }
                        sections[sections.count - 1].lines += b.filter { $0 != "import CheckpointKit" }
                    }
                    block = nil
                } else {
                    b.append(line)
                    block = b
                }
            } else if line == "```swift" {
                block = []
            } else if line.hasPrefix("## ") {
                title = String(line.dropFirst(3))
            }
        }
        var body: [String] = []
        for (k, section) in sections.enumerated() {
            let indent = k == 0 ? "        " : "            "
            body.append("")
            body.append("        // MARK: \(section.title)")
            if k > 0 { body.append("        do {") }
            body += section.lines.map { $0.isEmpty ? "" : indent + transform($0) }
            if k > 0 { body.append("        }") }
        }
        let file = """
        // Generated from \(articlePath) by GettingStartedTests (CKPT_RECORD_GOLDEN=1 rewrites it).
        // Do not edit: edit the article.

        import Foundation
        @testable import CheckpointKit

        enum GettingStartedArticle {
            static let expectations = \(body.filter { $0.contains("expect: #\"") }.count)

            static func run(_ article: ArticleRun) throws {
                func here(_ name: String) -> String { article.here(name) }
                func print(_ items: Any..., expect: String? = nil, line: Int = #line) { article.printed(items, expect: expect, line: line) }
        \(body.joined(separator: "\n"))
            }
        }

        """
        return file
    }

    /// How many `print`s carry an expected-output comment.
    static func expectations(in file: String) -> Int {
        file.split(separator: "\n").filter { $0.contains("expect: #\"") && !$0.contains("static") && !$0.contains("func print") }.count
    }

    /// One line: file-name literals → `here(...)`; `print(...)  // c` → `print(..., expect: #"c"#)`.
    static func transform(_ line: String) -> String {
        var code = line, comment: String?
        if let r = commentStart(line) {
            code = String(line[..<r])
            comment = String(line[line.index(r, offsetBy: 2)...]).trimmingCharacters(in: .whitespaces)
        }
        code = code.replacingOccurrences(of: #""([A-Za-z0-9_./-]+\.(ckpt|keras|json|npz|safetensors|h5))""#, with: "here(\"$1\")",
                                         options: .regularExpression)
        let trimmed = code.trimmingCharacters(in: .whitespaces)
        if let comment, trimmed.hasPrefix("print("), trimmed.hasSuffix(")") {
            let end = code.lastIndex(of: ")")!
            return String(code[..<end]) + ", expect: #\"\(comment)\"#)"
        }
        return comment.map { code + "// " + $0 } ?? code
    }

    /// Where a `//` comment starts outside string literals, if any.
    static func commentStart(_ line: String) -> String.Index? {
        var inString = false
        var i = line.startIndex
        while i < line.endIndex {
            let c = line[i]
            if c == "\"" { inString.toggle() }
            if c == "\\" && inString { i = line.index(after: i) }
            if !inString && c == "/" && line.index(after: i) < line.endIndex && line[line.index(after: i)] == "/" { return i }
            if i < line.endIndex { i = line.index(after: i) }
        }
        return nil
    }
}
