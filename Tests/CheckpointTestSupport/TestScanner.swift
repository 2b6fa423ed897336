#if canImport(Testing)  // test support only: a release build of the package (no Testing module) skips it
import Foundation
import Testing

extension Tag {
    /// A test that only checks that something runs (no crash, no trap, no hang): it would still
    /// pass if its body were an immediate return. Kept few, and named in `TestScanner` reports.
    @Tag public static var smoke: Tag
}

/// Reads the test sources and finds tests that check nothing on their main path: no `#expect`,
/// `#require`, `Issue.record` or call of a helper that does, outside `if` / `guard` / `else` /
/// `catch` / `switch` blocks (loops, `do` blocks and closures count as the main path), and tests
/// that can leave early without recording anything (`guard ... else { return }`). Such a test
/// passes when its body is replaced by an immediate return; unless tagged `.smoke` it is reported.
public enum TestScanner {
    public struct Finding: Sendable, CustomStringConvertible {
        public var file: String
        public var test: String
        public var line: Int
        public var why: String
        public var isSmoke: Bool
        public var description: String { "\(file):\(line) \(test): \(why)" }
    }

    static let checks = ["#expect", "#require", "Issue.record", "Test.cancel"]

    /// Scans the Swift files under `directories` (helpers are found in all of them).
    public static func scan(_ directories: [String]) throws -> [Finding] {
        var files: [(String, String)] = []
        for dir in directories {
            for name in TestEnv.listing(dir) where name.hasSuffix(".swift") {
                files.append((dir + "/" + name, blank(try TestEnv.readText(dir + "/" + name))))
            }
        }
        let helpers = assertingHelpers(files.map(\.1))
        var findings: [Finding] = []
        for (path, text) in files {
            findings += tests(in: text, file: (path as NSString).lastPathComponent, helpers: helpers)
        }
        return findings
    }

    // MARK: Source handling

    /// The text with comments and string literals (plain, raw, multi-line) replaced by spaces, so
    /// braces and words inside them do not count. Line breaks are kept.
    public static func blank(_ source: String) -> String {
        let s = Array(source.unicodeScalars)
        var out = s
        var i = 0
        func clear(_ a: Int, _ b: Int) { for k in a..<min(b, s.count) where s[k] != "\n" { out[k] = " " } }
        while i < s.count {
            if s[i] == "/" && i + 1 < s.count && s[i + 1] == "/" {
                let start = i
                while i < s.count && s[i] != "\n" { i += 1 }
                clear(start, i)
            } else if s[i] == "/" && i + 1 < s.count && s[i + 1] == "*" {
                let start = i
                i += 2
                while i + 1 < s.count && !(s[i] == "*" && s[i + 1] == "/") { i += 1 }
                i += 2
                clear(start, i)
            } else if s[i] == "\"" || (s[i] == "#" && i + 1 < s.count && (s[i + 1] == "\"" || s[i + 1] == "#")) {
                var hashes = 0
                let start = i
                while i < s.count && s[i] == "#" { hashes += 1; i += 1 }
                guard i < s.count && s[i] == "\"" else { continue }
                let multi = i + 2 < s.count && s[i + 1] == "\"" && s[i + 2] == "\""
                i += multi ? 3 : 1
                let close = String(repeating: "\"", count: multi ? 3 : 1) + String(repeating: "#", count: hashes)
                let closer = Array(close.unicodeScalars)
                while i < s.count {
                    if hashes == 0 && s[i] == "\\" { i += 2; continue }
                    if !multi && s[i] == "\n" { break }
                    if i + closer.count <= s.count && Array(s[i..<(i + closer.count)]) == closer { i += closer.count; break }
                    i += 1
                }
                clear(start, i)
                if hashes == 0 && start > 0 && s[start - 1] == "#" { continue }
            } else {
                i += 1
            }
        }
        var text = String.UnicodeScalarView()
        text.append(contentsOf: out)
        return String(text)
    }

    /// A function, as the scanner sees it.
    public struct Function {
        public var name: String
        /// The innermost enclosing type (struct, enum, class, extension), "" at file scope.
        public var type: String
        public var before: String
        public var body: String
        public var line: Int
        public var nested: Bool
        public var isTest: Bool { before.range(of: "@Test") != nil }
    }

    /// A call in a body: `Type.name(`, `Self.name(` / `name(` (the caller's type or a global),
    /// or `value.name(` (some instance: matched by name when every function of that name checks).
    struct Call: Hashable {
        var qualifier: String?   // a type name, "Self", or nil (unqualified)
        var instance: Bool
        var name: String
    }

    /// The helpers that check something, directly or through another: "Type.name" keys, and the
    /// names every definition of which checks (for calls on instances).
    public struct Helpers {
        var keys: Set<String> = []
        var instanceNames: Set<String> = []

        func matches(_ call: Call, from type: String) -> Bool {
            if call.instance { return instanceNames.contains(call.name) }
            if let q = call.qualifier, q != "Self" { return keys.contains(q + "." + call.name) }
            return keys.contains(type + "." + call.name) || keys.contains("." + call.name)
        }
    }

    public static func assertingHelpers(_ texts: [String]) -> Helpers {
        var all: [(key: String, name: String, type: String, direct: Bool, calls: Set<Call>)] = []
        for text in texts {
            for f in functions(in: text) where !f.isTest {
                all.append((f.type + "." + f.name, f.name, f.type, checks.contains(where: f.body.contains), calls(f.body)))
            }
        }
        var helpers = Helpers()
        helpers.keys = Set(all.filter(\.direct).map(\.key))
        var changed = true
        while changed {
            changed = false
            helpers.instanceNames = Set(Dictionary(grouping: all, by: \.name).filter { $0.value.allSatisfy { helpers.keys.contains($0.key) } }.keys)
            for f in all where !helpers.keys.contains(f.key) && f.calls.contains(where: { helpers.matches($0, from: f.type) }) {
                helpers.keys.insert(f.key)
                changed = true
            }
        }
        return helpers
    }

    /// The calls in `text`: an identifier followed by `(` or by ` {` (a trailing closure), with
    /// what precedes its dot.
    static func calls(_ text: String) -> Set<Call> {
        var out = Set<Call>()
        let chars = Array(text.utf8)
        func isWord(_ c: UInt8) -> Bool { c == UInt8(ascii: "_") || (c | 0x20 >= UInt8(ascii: "a") && c | 0x20 <= UInt8(ascii: "z")) }
        func isDigit(_ c: UInt8) -> Bool { c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9") }
        var i = 0
        var previous: (word: String, end: Int)?
        while i < chars.count {
            guard isWord(chars[i]) else { i += 1; continue }
            let start = i
            while i < chars.count && (isWord(chars[i]) || isDigit(chars[i])) { i += 1 }
            let word = String(decoding: chars[start..<i], as: UTF8.self)
            defer { previous = (word, i) }
            guard i < chars.count, chars[i] == UInt8(ascii: "(") || (chars[i] == UInt8(ascii: " ") && i + 1 < chars.count && chars[i + 1] == UInt8(ascii: "{")) else { continue }
            if start > 0 && chars[start - 1] == UInt8(ascii: ".") {
                if let p = previous, p.end == start - 1, let first = p.word.unicodeScalars.first, CharacterSet.uppercaseLetters.contains(first) {
                    out.insert(Call(qualifier: p.word, instance: false, name: word))
                } else {
                    out.insert(Call(qualifier: nil, instance: true, name: word))
                }
            } else {
                out.insert(Call(qualifier: nil, instance: false, name: word))
            }
        }
        return out
    }

    /// Every `func name(...) ... { body }` (nested ones too), with its enclosing type.
    public static func functions(in text: String) -> [Function] {
        let chars = Array(text)
        // Type bodies: `struct|enum|class|actor|extension Name ... {`.
        var types: [(name: String, range: Range<Int>)] = []
        let declaration = try? NSRegularExpression(pattern: #"\b(struct|enum|class|actor|extension)\s+([A-Za-z_][A-Za-z0-9_.]*)"#)
        let ns = text as NSString
        for m in declaration?.matches(in: text, range: NSRange(location: 0, length: ns.length)) ?? [] {
            // NSString offsets are UTF-16; the blanked sources are ASCII but for names and literals.
            let name = (ns.substring(with: m.range(at: 2)).split(separator: ".").last).map(String.init) ?? ""
            let start = text.utf16.index(text.utf16.startIndex, offsetBy: m.range.location + m.range.length)
            var j = text.distance(from: text.startIndex, to: start)
            var paren = 0
            while j < chars.count && !(chars[j] == "{" && paren == 0) {
                if chars[j] == "(" || chars[j] == "[" || chars[j] == "<" { paren += 1 }
                if chars[j] == ")" || chars[j] == "]" || chars[j] == ">" { paren -= 1 }
                j += 1
            }
            guard j < chars.count else { continue }
            var depth = 0, k = j
            repeat {
                if chars[k] == "{" { depth += 1 }
                if chars[k] == "}" { depth -= 1 }
                k += 1
            } while depth > 0 && k < chars.count
            types.append((name, j..<k))
        }
        var out: [Function] = []
        var ranges: [Range<Int>] = []
        var i = 0, line = 1, lineAt = 0
        while i + 5 < chars.count {
            guard chars[i] == "f", String(chars[i..<(i + 5)]) == "func ", i == 0 || !(chars[i - 1].isLetter || chars[i - 1] == "_") else {
                i += 1
                continue
            }
            var j = i + 5
            var name = ""
            while j < chars.count && (chars[j].isLetter || chars[j].isNumber || chars[j] == "_") { name.append(chars[j]); j += 1 }
            // The body: the first `{` outside parentheses and brackets after the name.
            var paren = 0
            while j < chars.count && !(chars[j] == "{" && paren == 0) {
                if chars[j] == "(" || chars[j] == "[" { paren += 1 }
                if chars[j] == ")" || chars[j] == "]" { paren -= 1 }
                j += 1
            }
            guard j < chars.count else { break }
            var depth = 0, k = j
            repeat {
                if chars[k] == "{" { depth += 1 }
                if chars[k] == "}" { depth -= 1 }
                k += 1
            } while depth > 0 && k < chars.count
            while lineAt < i { if chars[lineAt] == "\n" { line += 1 }; lineAt += 1 }
            let type = types.filter { $0.range.contains(i) }.min { $0.range.count < $1.range.count }?.name ?? ""
            let from = max(ranges.map(\.upperBound).filter { $0 <= i }.max() ?? 0, types.map(\.range.lowerBound).filter { $0 < i }.max() ?? 0)
            out.append(Function(name: name, type: type, before: String(chars[from..<i]), body: String(chars[(j + 1)..<max(j + 1, k - 1)]),
                                line: line, nested: ranges.contains { $0.contains(i) }))
            ranges.append(j..<k)
            i = j + 1
        }
        return out
    }

    // MARK: Tests

    static func tests(in text: String, file: String, helpers: Helpers) -> [Finding] {
        var findings: [Finding] = []
        for f in functions(in: text) where !f.nested {
            guard let at = f.before.range(of: "@Test", options: .backwards) else { continue }
            let smoke = f.before[at.lowerBound...].contains(".smoke")
            let why = problem(f.body, type: f.type, helpers: helpers)
            if let why { findings.append(Finding(file: file, test: f.name, line: f.line, why: why, isSmoke: smoke)) }
            else if smoke { findings.append(Finding(file: file, test: f.name, line: f.line, why: "tagged .smoke but checks something", isSmoke: true)) }
        }
        return findings
    }

    static let conditional: Set<String> = ["if", "guard", "else", "catch", "switch", "case", "default", "while", "repeat"]

    /// Why the body checks nothing on its main path, or nil.
    public static func problem(_ body: String, type: String, helpers: Helpers) -> String? {
        let chars = Array(body)
        var stack: [Bool] = []        // for each open block: is it (inside) a conditional one?
        var mainPathCheck = false
        var earlyExit: String?
        var statementStart = 0
        func flush(_ end: Int) {
            if !(stack.last ?? false) && hasCheck(String(chars[min(statementStart, end)..<end]), type, helpers) { mainPathCheck = true }
            statementStart = end + 1
        }
        var k = 0
        while k < chars.count {
            let c = chars[k]
            if c == "{" {
                let head = String(chars[min(statementStart, k)..<k]).trimmingCharacters(in: .whitespacesAndNewlines)
                let word = head.split(whereSeparator: { !($0.isLetter || $0 == "_") }).first.map(String.init) ?? ""
                let isConditional = conditional.contains(word) || head.hasSuffix("else")
                flush(k)   // `#expect(throws:) {`, `expectError(.x) {`: the head belongs to the outer block
                stack.append(isConditional || (stack.last ?? false))
                // A conditional block directly in the body that returns without checking.
                if isConditional && stack.count == 1 && earlyExit == nil {
                    var depth = 1, e = k + 1
                    while e < chars.count && depth > 0 { if chars[e] == "{" { depth += 1 }; if chars[e] == "}" { depth -= 1 }; e += 1 }
                    let block = String(chars[(k + 1)..<max(k + 1, e - 1)])
                    if block.range(of: #"(^|[^A-Za-z_.])return\b"#, options: .regularExpression) != nil && !hasCheck(block, type, helpers) {
                        earlyExit = "leaves early (`\(word) ... { return }`) without recording an issue: a silent pass"
                    }
                }
            } else if c == "}" {
                flush(k)
                _ = stack.popLast()
            } else if c == ";" || (c == "\n" && !continues(chars, k, statementStart)) {
                flush(k)
            }
            k += 1
        }
        flush(chars.count)
        if let earlyExit { return earlyExit }
        return mainPathCheck ? nil : "no #expect, #require or Issue.record (nor a helper that checks) on its main path"
    }

    /// Whether the statement at `start` goes on past the line break at `k`.
    static func continues(_ chars: [Character], _ k: Int, _ start: Int) -> Bool {
        var p = k - 1
        while p >= start && chars[p] == " " { p -= 1 }
        if p >= start && ",([=&|+-?:".contains(chars[p]) { return true }
        var n = k + 1
        while n < chars.count && chars[n] == " " { n += 1 }
        if n < chars.count && ".&|?:".contains(chars[n]) { return true }
        // Unbalanced parentheses: a call spanning lines.
        let text = chars[start..<k]
        return text.filter { $0 == "(" || $0 == "[" }.count > text.filter { $0 == ")" || $0 == "]" }.count
    }

    static func hasCheck(_ text: String, _ type: String, _ helpers: Helpers) -> Bool {
        checks.contains(where: text.contains) || calls(text).contains { helpers.matches($0, from: type) }
    }
}
#endif
