import CheckpointSystem

/// Number formatting shared by every renderer; deterministic (no locale).
enum Fmt {
    /// 101770 -> "101,770"
    static func count<T: BinaryInteger>(_ n: T) -> String {
        let digits = Array(String(n.magnitude).utf8)
        var out: [UInt8] = []
        out.reserveCapacity(digits.count + digits.count / 3 + 1)
        if n < 0 { out.append(UInt8(ascii: "-")) }
        for (i, c) in digits.enumerated() {
            if i > 0 && (digits.count - i) % 3 == 0 { out.append(UInt8(ascii: ",")) }
            out.append(c)
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Keras's `readable_memory_size`: 1024-based, two decimals ("397.54 KB").
    static func bytes<T: BinaryInteger>(_ n: T) -> String {
        var v = Double(n)
        let units = ["B", "KB", "MB", "GB", "TB", "PB"]
        var u = 0
        while v >= 1024 && u < units.count - 1 { v /= 1024; u += 1 }
        return fixed(v, 2) + " " + units[u]
    }

    /// `%.<digits>g` with Python's spelling of non-finite values.
    static func g(_ x: Double, _ digits: Int = 6) -> String {
        if x.isNaN { return "nan" }
        if x.isInfinite { return x < 0 ? "-inf" : "inf" }
        return cFormat("%.*g", Int32(digits), x)
    }

    /// `%.<decimals>f` without Foundation (it is on the hot path of every table).
    static func fixed(_ x: Double, _ decimals: Int) -> String {
        if x.isNaN { return "nan" }
        if x.isInfinite { return x < 0 ? "-inf" : "inf" }
        guard abs(x) < 1e15, decimals <= 9 else { return cFormat("%.*f", Int32(decimals), x) }
        var scale = 1.0
        for _ in 0..<decimals { scale *= 10 }
        let scaled = (abs(x) * scale).rounded(.toNearestOrEven)
        let n = UInt64(scaled)
        let whole = n / UInt64(scale)
        let frac = n % UInt64(scale)
        var s = (x < 0 && n != 0 ? "-" : "") + String(whole)
        if decimals > 0 {
            let f = String(frac)
            s += "." + String(repeating: "0", count: decimals - f.count) + f
        }
        return s
    }

    /// Shape as numpy prints it: (784, 128), (10,), ().
    static func shape(_ s: [Int]) -> String {
        var out = "("
        for (k, d) in s.enumerated() {
            if k > 0 { out += ", " }
            out += String(d)
        }
        return out + (s.count == 1 ? ",)" : ")")
    }

    /// Seconds as "0.42 s" / "1m 05s".
    static func duration(_ s: Double) -> String {
        if s < 60 { return cFormat("%.1f s", s) }
        let m = Int(s) / 60
        return cFormat("%dm %02ds", m, Int(s) % 60)
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
        let cellWidths = rows.map { $0.map(displayWidth) }
        var widths = headers.map { displayWidth($0) }
        for r in cellWidths { for (i, w) in r.enumerated() where i < widths.count { widths[i] = max(widths[i], w) } }
        let total = widths.reduce(0, +) + 2 * max(0, widths.count - 1)
        var out: [UInt8] = []
        out.reserveCapacity((rows.count + 3) * (total + 8) + 64)
        func spaces(_ n: Int) { for _ in 0..<n { out.append(0x20) } }
        func line(_ cells: [String], _ ws: [Int], row: Int?) {
            var pending = 0
            for (i, c) in cells.enumerated() {
                let pad = max(0, widths[i] - ws[i])
                if i > 0 { pending += 2 }
                if align[i] == .right { pending += pad }
                if !c.isEmpty {
                    spaces(pending)
                    pending = 0
                    if let row, let style { out.append(contentsOf: style(row, i, c).utf8) } else { out.append(contentsOf: c.utf8) }
                }
                if align[i] == .left { pending += pad }
            }
            out.append(0x0A)
        }
        line(headers, headers.map(displayWidth), row: nil)
        let ruleLine = Array((String(repeating: "─", count: total) + "\n").utf8)
        out.append(contentsOf: ruleLine)
        for (k, r) in rows.enumerated() {
            line(r, cellWidths[k], row: k)
            if rules.contains(k) { out.append(contentsOf: ruleLine) }
        }
        return String(decoding: out, as: UTF8.self)
    }
}

/// Width in terminal cells (ASCII-accurate; other scalars counted as one).
func displayWidth(_ s: String) -> Int {
    var n = 0
    var ascii = true
    for b in s.utf8 { if b >= 0x80 { ascii = false; break }; n += 1 }
    return ascii ? n : s.unicodeScalars.count
}

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

extension TextTable {
    /// Fits the table into `width` cells: drops the columns headed `drop`, in that order, while
    /// it is wider; then shortens the cells of column `shrink` in the middle (`dense/ke…/kernel`).
    /// Returns the headers of the dropped columns (for a "--wide shows them" note).
    mutating func fit(width: Int, drop: [String], shrink: Int = 0) -> [String] {
        guard width < Int.max else { return [] }
        var hidden: [String] = []
        // Each column's width, measured once (a table of thousands of tensors has many cells).
        var widths = headers.map(displayWidth)
        for r in rows { for (i, c) in r.enumerated() where i < widths.count { widths[i] = max(widths[i], displayWidth(c)) } }
        func total() -> Int { widths.reduce(0, +) + 2 * max(0, widths.count - 1) }
        for name in drop where total() > width {
            guard let i = headers.firstIndex(of: name) else { continue }
            headers.remove(at: i)
            align.remove(at: i)
            widths.remove(at: i)
            for k in rows.indices where i < rows[k].count { rows[k].remove(at: i) }
            hidden.append(name)
        }
        let total = total()
        if total > width, shrink < headers.count {
            var column = displayWidth(headers[shrink])
            for r in rows where shrink < r.count { column = max(column, displayWidth(r[shrink])) }
            let target = max(16, column - (total - width))
            for k in rows.indices where shrink < rows[k].count && displayWidth(rows[k][shrink]) > target {
                rows[k][shrink] = abbreviateMiddle(rows[k][shrink], to: target)
            }
        }
        return hidden
    }

    /// "(RMS Δ, cosine hidden to fit 80 columns; --wide shows them)", or "" when none was dropped.
    static func hiddenNote(_ hidden: [String], width: Int) -> String {
        hidden.isEmpty ? "" : "(\(hidden.joined(separator: ", ")) hidden to fit \(width) columns; --wide shows \(hidden.count == 1 ? "it" : "them"))\n"
    }
}

/// `s` cut to `width` cells with "…" in the middle; leading spaces (indentation) kept.
func abbreviateMiddle(_ s: String, to width: Int) -> String {
    let chars = Array(s)
    guard chars.count > width, width >= 3 else { return s }
    let lead = chars.prefix { $0 == " " }.count
    let keep = width - 1 - lead
    guard keep >= 2 else { return String(chars.prefix(width)) }
    let head = (keep + 1) / 2, tail = keep - head
    return String(chars.prefix(lead + head)) + "…" + String(chars.suffix(tail))
}

/// A line of prose wrapped at spaces to `width` cells, continuation lines indented; its own
/// indentation is kept.
func wrapLine(_ line: String, width: Int, indent: String = "    ") -> String {
    guard displayWidth(line) > width, width > indent.count + 10 else { return line }
    let lead = String(line.prefix { $0 == " " })
    var lines: [String] = []
    var current = lead
    var started = false
    for word in line.dropFirst(lead.count).split(separator: " ", omittingEmptySubsequences: false) {
        let w = String(word)
        if !started { current += w; started = true; continue }
        if !w.isEmpty, displayWidth(current) + 1 + displayWidth(w) > width, displayWidth(current) > displayWidth(indent) {
            lines.append(current)
            current = lead + indent + w
        } else {
            current += " " + w
        }
    }
    lines.append(current)
    return lines.joined(separator: "\n")
}

/// Every line of `text` wrapped to `width` (tables are fitted before; this keeps prose lines,
/// paths and notes inside the terminal too).
func wrapLines(_ text: String, width: Int) -> String {
    guard width < Int.max else { return text }
    return text.split(separator: "\n", omittingEmptySubsequences: false).map { wrapLine(String($0), width: width) }.joined(separator: "\n")
}
