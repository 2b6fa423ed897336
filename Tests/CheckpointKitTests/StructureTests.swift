import Foundation
import Testing
import CheckpointTestSupport

// The shape of the code, checked (issue 12): files that do one job, system calls in one module,
// no force unwrap on anything read from a file.

private enum SourceTree {
    static let root = TestEnv.path("Sources")

    /// Every source file under Sources, relative to it.
    static func files(extensions: Set<String>) -> [String] {
        guard let e = FileManager.default.enumerator(atPath: root) else { return [] }
        var out: [String] = []
        while let p = e.nextObject() as? String {
            guard let ext = p.split(separator: ".").last.map(String.init), extensions.contains(ext) else { continue }
            out.append(p)
        }
        return out.sorted()
    }

    static func lines(_ relative: String) -> [Substring] {
        let text = (try? String(contentsOfFile: root + "/" + relative, encoding: .utf8)) ?? ""
        return text.split(separator: "\n", omittingEmptySubsequences: false)
    }
}

@Suite("Code structure")
struct StructureTests {
    /// Files that may exceed the limit: none, unless their first lines say why ("longer than 600
    /// lines because …").
    static let maxLines = 600

    @Test("no source file is longer than 600 lines without a reason written at its top")
    func fileLength() {
        let files = SourceTree.files(extensions: ["swift", "c", "h"])
        #expect(files.count > 50, "found only \(files.count) source files under \(SourceTree.root)")
        for f in files {
            let lines = SourceTree.lines(f)
            guard lines.count > Self.maxLines else { continue }
            let head = lines.prefix(15).joined(separator: "\n").lowercased()
            #expect(head.contains("longer than \(Self.maxLines) lines because"), "\(f) has \(lines.count) lines and no reason at its top")
        }
    }

    @Test("system calls only in the CheckpointSystem module")
    func systemCallsInOneModule() {
        for f in SourceTree.files(extensions: ["swift"]) where !f.hasPrefix("CheckpointSystem/") {
            for (n, line) in SourceTree.lines(f).enumerated() {
                let t = line.trimmingCharacters(in: .whitespaces)
                for module in ["Glibc", "Musl", "Darwin", "Foundation"] where t == "import \(module)" || t.hasPrefix("import \(module).") {
                    Issue.record("\(f):\(n + 1) imports \(module); system calls belong in Sources/CheckpointSystem")
                }
            }
        }
    }

    @Test("no force unwrap, try! or fatalError in Sources")
    func noTraps() throws {
        // `x!` followed by anything but `=` (which is `!=`); string literals and comments removed first.
        let bang = try Regex(#"[A-Za-z0-9_\)\]]!(?!=)"#)
        for f in SourceTree.files(extensions: ["swift"]) {
            for (n, raw) in SourceTree.lines(f).enumerated() {
                let line = Self.code(String(raw))
                if line.contains(bang) { Issue.record("\(f):\(n + 1): force unwrap: \(raw.trimmingCharacters(in: .whitespaces))") }
                for trap in ["try!", "fatalError(", " as! "] where line.contains(trap) {
                    Issue.record("\(f):\(n + 1): \(trap): \(raw.trimmingCharacters(in: .whitespaces))")
                }
            }
        }
    }

    @Test("the detector sees what it should", arguments: [("let x = y!", true), ("a!.b", true), ("if a != b", false),
                                                          ("let s = \"hi!\"", false), ("x = f() // really!", false), ("!flag", false)])
    func detector(_ line: String, _ flagged: Bool) throws {
        let bang = try Regex(#"[A-Za-z0-9_\)\]]!(?!=)"#)
        #expect(Self.code(line).contains(bang) == flagged)
    }

    /// A line with its string literals emptied and its comment removed (good enough for this code base).
    static func code(_ line: String) -> String {
        var out = ""
        var inString = false
        var escaped = false
        var previous: Character = " "
        for c in line {
            if inString {
                if escaped { escaped = false } else if c == "\\" { escaped = true } else if c == "\"" { inString = false; out.append(c) }
                continue
            }
            if c == "/" && previous == "/" { out.removeLast(); break }
            if c == "\"" { inString = true }
            out.append(c)
            previous = c
        }
        return out
    }
}
