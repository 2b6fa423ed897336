import Foundation

/// Number formatting shared by every renderer; deterministic (no locale).
enum Fmt {
    /// 101770 -> "101,770"
    static func count<T: BinaryInteger>(_ n: T) -> String {
        let s = String(n.magnitude)
        var out = ""
        for (i, c) in s.enumerated() {
            if i > 0 && (s.count - i) % 3 == 0 { out.append(",") }
            out.append(c)
        }
        return (n < 0 ? "-" : "") + out
    }

    /// Keras's `readable_memory_size`: 1024-based, two decimals ("397.54 KB").
    static func bytes<T: BinaryInteger>(_ n: T) -> String {
        var v = Double(n)
        let units = ["B", "KB", "MB", "GB", "TB", "PB"]
        var u = 0
        while v >= 1024 && u < units.count - 1 { v /= 1024; u += 1 }
        return String(format: "%.2f %@", v, units[u])
    }

    /// `%.<digits>g` with Python's spelling of non-finite values.
    static func g(_ x: Double, _ digits: Int = 6) -> String {
        if x.isNaN { return "nan" }
        if x.isInfinite { return x < 0 ? "-inf" : "inf" }
        return String(format: "%.\(digits)g", x)
    }

    static func fixed(_ x: Double, _ decimals: Int) -> String {
        if x.isNaN { return "nan" }
        if x.isInfinite { return x < 0 ? "-inf" : "inf" }
        return String(format: "%.\(decimals)f", x)
    }

    /// Shape as numpy prints it: (784, 128), (10,), ().
    static func shape(_ s: [Int]) -> String {
        "(" + s.map(String.init).joined(separator: ", ") + (s.count == 1 ? ",)" : ")")
    }

    /// Seconds as "0.42 s" / "1m 05s".
    static func duration(_ s: Double) -> String {
        if s < 60 { return String(format: "%.1f s", s) }
        let m = Int(s) / 60
        return String(format: "%dm %02ds", m, Int(s) % 60)
    }
}

/// A plain text table: columns padded to width, numbers right-aligned.
struct TextTable {
    enum Align { case left, right }
    var headers: [String]
    var align: [Align]
    var rows: [[String]] = []
    /// Row indices after which a rule is drawn.
    var rules: Set<Int> = []

    init(_ headers: [String], align: [Align]) {
        self.headers = headers
        self.align = align
    }

    mutating func add(_ row: [String]) { rows.append(row) }
    mutating func rule() { rules.insert(rows.count - 1) }

    /// Renders with two spaces between columns. `style` colours cells after padding.
    func render(style: ((Int, Int, String) -> String)? = nil) -> String {
        var widths = headers.map { displayWidth($0) }
        for r in rows { for (i, c) in r.enumerated() where i < widths.count { widths[i] = max(widths[i], displayWidth(c)) } }
        func line(_ cells: [String], row: Int?) -> String {
            var parts: [String] = []
            for (i, c) in cells.enumerated() {
                let pad = String(repeating: " ", count: max(0, widths[i] - displayWidth(c)))
                var cell = align[i] == .right ? pad + c : c + (i == cells.count - 1 ? "" : pad)
                if let row, let style { cell = style(row, i, cell) }
                parts.append(cell)
            }
            var s = parts.joined(separator: "  ")
            while s.hasSuffix(" ") { s.removeLast() }
            return s
        }
        var out = line(headers, row: nil) + "\n"
        let total = widths.reduce(0, +) + 2 * max(0, widths.count - 1)
        out += String(repeating: "─", count: total) + "\n"
        for (k, r) in rows.enumerated() {
            out += line(r, row: k) + "\n"
            if rules.contains(k) { out += String(repeating: "─", count: total) + "\n" }
        }
        return out
    }
}

/// Width in terminal cells (ASCII-accurate; other scalars counted as one).
func displayWidth(_ s: String) -> Int { s.unicodeScalars.count }

/// ANSI styling, applied only when colour is on.
struct Style: Sendable {
    var enabled: Bool
    func wrap(_ s: String, _ code: String) -> String { enabled ? "\u{1B}[\(code)m" + s + "\u{1B}[0m" : s }
    func bold(_ s: String) -> String { wrap(s, "1") }
    func dim(_ s: String) -> String { wrap(s, "2") }
    func red(_ s: String) -> String { wrap(s, "31") }
    func green(_ s: String) -> String { wrap(s, "32") }
    func yellow(_ s: String) -> String { wrap(s, "33") }
    func cyan(_ s: String) -> String { wrap(s, "36") }
}
