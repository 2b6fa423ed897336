import CheckpointKit

/// Opening inputs the way every subcommand does: `--from`, `--architecture`, clear errors.
enum CheckpointFiles {
    static let extensions = ["ckpt", "npz", "safetensors", "json", "keras", "h5", "hdf5"]

    static func format(_ name: String?) throws -> CheckpointFormat? {
        guard let name else { return nil }
        guard let f = CheckpointFormat(name: name) else {
            throw CheckpointError(.invalidArgument, "unknown format \"\(escapeForDisplay(name))\"",
                                  hint: "use one of ckpt, npz, safetensors, keras, weights.h5, h5")
        }
        return f
    }

    static func readArchitecture(_ path: String?) throws -> [UInt8]? {
        guard let path else { return nil }
        let file = try ReadableFile(path: path)
        guard file.size <= Limits.default.maxJSONBytes else {
            throw CheckpointError(.limitExceeded, "the architecture JSON is \(file.size) bytes (the limit is \(Limits.default.maxJSONBytes))", file: path)
        }
        return try file.read(at: 0, count: Int(file.size), what: "architecture JSON")
    }

    static func open(_ path: String, from: String?, architecture: String?) throws -> any TensorSource {
        let fmt = try format(from)
        var options = Checkpoints.OpenOptions()
        options.architecture = try readArchitecture(architecture)
        return try Checkpoints.open(path, format: fmt, options: options)
    }
}

/// Shell-style globs: `*`, `?`, `[abc]`, `[a-z]`, `[!x]`; `*` also crosses `/`.
struct Glob {
    let pattern: [Character]
    init(_ p: String) { pattern = Array(p) }

    func matches(_ s: String) -> Bool { match(Array(s), 0, 0) }

    private func match(_ s: [Character], _ si: Int, _ pi: Int) -> Bool {
        var si = si, pi = pi
        var starP = -1, starS = -1
        while si < s.count {
            if pi < pattern.count {
                let c = pattern[pi]
                if c == "*" { starP = pi; starS = si; pi += 1; continue }
                if c == "?" { si += 1; pi += 1; continue }
                if c == "[", let (ok, next) = matchClass(s[si], pi) {
                    if ok { si += 1; pi = next; continue }
                } else if c == s[si] { si += 1; pi += 1; continue }
            }
            if starP >= 0 { pi = starP + 1; starS += 1; si = starS; continue }
            return false
        }
        while pi < pattern.count && pattern[pi] == "*" { pi += 1 }
        return pi == pattern.count
    }

    private func matchClass(_ ch: Character, _ start: Int) -> (Bool, Int)? {
        var i = start + 1
        var negate = false
        if i < pattern.count && (pattern[i] == "!" || pattern[i] == "^") { negate = true; i += 1 }
        var found = false
        var first = true
        while i < pattern.count && (pattern[i] != "]" || first) {
            first = false
            if i + 2 < pattern.count && pattern[i + 1] == "-" && pattern[i + 2] != "]" {
                if pattern[i] <= ch && ch <= pattern[i + 2] { found = true }
                i += 3
            } else {
                if pattern[i] == ch { found = true }
                i += 1
            }
        }
        guard i < pattern.count else { return nil }
        return (found != negate, i + 1)
    }
}

/// "Did you mean" suggestions: the closest name by edit distance, if close enough.
enum Suggest {
    static func closest(_ word: String, among candidates: [String]) -> String? {
        let w = Array(word)
        var best: (String, Int)? = nil
        for c in candidates {
            let d = distance(w, Array(c))
            if best == nil || d < best!.1 { best = (c, d) }
        }
        guard let (name, d) = best else { return nil }
        return d <= max(2, w.count / 3) ? name : nil
    }

    static func distance(_ a: [Character], _ b: [Character]) -> Int {
        if a.isEmpty { return b.count }
        if b.isEmpty { return a.count }
        var prev = Array(0...b.count)
        var cur = [Int](repeating: 0, count: b.count + 1)
        for i in 1...a.count {
            cur[0] = i
            for j in 1...b.count {
                cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
            }
            swap(&prev, &cur)
        }
        return prev[b.count]
    }
}
