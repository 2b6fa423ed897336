import CheckpointKit

/// Opening inputs the way every subcommand does: `--from`, `--architecture`, clear errors.
enum CheckpointFiles {
    static let extensions = FormatRegistry.fileExtensions.contains("json") ? FormatRegistry.fileExtensions : FormatRegistry.fileExtensions + ["json"]
    /// `--from`/`--to` values (for shell completion).
    static let formatNames = FormatRegistry.formatNames
    /// `rebuild --optimizer` values (for shell completion; the option is case-insensitive).
    static var optimizerNames: [String] { KerasOptimizerKind.completionNames }

    static func format(_ name: String?) throws -> CheckpointFormat? {
        guard let name else { return nil }
        guard let f = CheckpointFormat(name: name) else {
            throw CheckpointError(.invalidArgument, "unknown format \"\(escapeForDisplay(name))\"",
                                  hint: "use one of " + FormatRegistry.formatNames.joined(separator: ", "))
        }
        return f
    }

    static func readArchitecture(_ path: String?) throws -> [UInt8]? {
        guard let path else { return nil }
        let file = try ReadableFile(path: path)
        guard file.size <= Limits.default.maxJSONBytes else {
            throw CheckpointError(.limitExceeded, "the architecture JSON is \(file.size) bytes (the limit is \(Limits.default.maxJSONBytes))", file: path)
        }
        let bytes = try file.read(at: 0, count: Int(file.size), what: "architecture JSON")
        // Parsed here, within the JSON limits, so that an error names this file (and says when a
        // limit is what it exceeds), not the weights it was to name.
        do {
            _ = try JSONParser.parse(bytes)
        } catch let e as CheckpointError {
            var located = e
            located.file = path
            located.member = nil
            located.reason = (e.code == .limitExceeded ? "the architecture JSON exceeds the JSON limit: " : "the architecture JSON cannot be read: ") + e.reason
            throw located
        }
        return bytes
    }

    /// Opens an input; notes the reader made (e.g. a Keras file named without an architecture)
    /// go to stderr as `note:` lines unless `quiet`.
    static func open(_ path: String, from: String?, architecture: String?, fromFlag: String = "--from", quiet: Bool = false, lenient: Bool = false,
                     reading: ReadingOptions = ReadingOptions()) throws -> any TensorSource {
        let fmt = try format(from)
        var options = Checkpoints.OpenOptions()
        options.architecture = try readArchitecture(architecture)
        options.lenient = lenient
        options.limits.hdf5.allowSparse = reading.allowSparse
        do {
            let source = try Checkpoints.open(path, format: fmt, options: options)
            if !quiet {
                for note in source.notes { Console.current.print("note: \(escapeForDisplay(path)): \(note)", to: .err) }
            }
            return source
        } catch let error as CheckpointError {
            throw explain(error, path: path, asked: fmt, fromFlag: fromFlag)
        }
    }

    /// A file that is not what its name (or --from) says: say what it is and what to do.
    static func explain(_ error: CheckpointError, path: String, asked: CheckpointFormat?, fromFlag: String) -> CheckpointError {
        let readable: Set<CheckpointError.Code> = [.notRecognized, .corrupt, .truncated, .invalidNPY, .invalidManifest, .invalidSafetensors,
                                                  .invalidHDF5, .limitExceeded, .invalidJSON, .unsupported]
        guard readable.contains(error.code) else { return error }
        // A sharded set's index is JSON by nature: its errors need no "this is JSON" hint.
        if path.lowercased().hasSuffix(".index.json") { return error }
        var e = error
        if let json = jsonKind(path) {
            e.hint = json == .architecture
                ? "this is a Keras architecture JSON (model.to_json()), not a checkpoint: pair it with weights, e.g. `ckpt rebuild WEIGHTS --architecture \(escapeForDisplay(path)) -o full.ckpt`, or pass it as --architecture"
                : "this is a JSON text, not a checkpoint; ckpt reads .ckpt, .npz, .safetensors (and a sharded set's .safetensors.index.json), .keras, .weights.h5 and .h5 files"
            return e
        }
        let expected = asked ?? CheckpointFormat.fromExtension(path)
        guard let actual = try? Checkpoints.sniff(path), family(actual) != expected.map(family) else { return error }
        let ext = actual == .kerasLegacyH5 || actual == .kerasWeightsH5 ? ".weights.h5 or .h5" : "." + actual.rawValue
        e.hint = "the file is really a \(actual.displayName) file\(expected.map { " (not a " + $0.displayName + ")" } ?? ""): name it \(ext) or pass \(fromFlag) \(actual.rawValue)"
        return e
    }

    private static func family(_ f: CheckpointFormat) -> String {
        f == .kerasLegacyH5 || f == .kerasWeightsH5 ? "hdf5" : f.rawValue
    }

    enum JSONKind { case architecture, other }

    /// Whether `path` holds JSON text (first non-blank byte `{` or `[`), and if so whether it
    /// looks like a Keras model.
    static func jsonKind(_ path: String) -> JSONKind? {
        guard let file = try? ReadableFile(path: path), file.size > 0,
              let head = try? file.read(at: 0, count: Int(min(file.size, 4096)), what: "file start") else { return nil }
        guard let first = head.first(where: { !" \t\r\n".utf8.contains($0) }), first == UInt8(ascii: "{") || first == UInt8(ascii: "[") else { return nil }
        let text = String(decoding: head, as: UTF8.self)
        // A ZIP or HDF5 file never starts with a brace; a safetensors file has 8 length bytes first.
        return text.contains("\"class_name\"") && (text.contains("\"layers\"") || text.contains("\"config\"")) ? .architecture : .other
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
    /// The candidate closest to `word` by edit distance, if close enough to be a likely typo. The
    /// work is bounded (``Limits/maxSuggestionWork`` cells of edit-distance table in all): names
    /// whose length alone puts them too far are skipped, and past the budget the search stops with
    /// the best so far (20,000 names of 4,000 characters must not take hours; issue 16).
    static func closest(_ word: String, among candidates: [String], budget: Int = Limits.default.maxSuggestionWork) -> String? {
        let w = Array(word.unicodeScalars)
        let allowed = max(2, w.count / 3)
        var best: (String, Int)? = nil
        var left = budget
        for c in candidates {
            let n = c.unicodeScalars.count
            guard abs(n - w.count) <= min(allowed, best?.1 ?? Int.max) else { continue }
            let cells = (w.count + 1) * (n + 1)
            guard cells <= left else { break }
            left -= cells
            let d = distance(w, Array(c.unicodeScalars))
            if d < (best?.1 ?? Int.max) { best = (c, d) }
        }
        guard let (name, d) = best else { return nil }
        return d <= allowed ? name : nil
    }

    static func distance(_ a: [Unicode.Scalar], _ b: [Unicode.Scalar]) -> Int {
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
