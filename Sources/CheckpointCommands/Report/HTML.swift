import CheckpointKit

/// Building blocks of the self-contained HTML reports (`inspect --report`, `diff --report`):
/// one file, inline CSS and SVG, no scripts, nothing fetched (a Content-Security-Policy says so
/// to the browser too), deterministic (no timestamps), every name from a file escaped.
enum HTML {
    /// Text for HTML content and attribute values: control characters made visible (as in the
    /// terminal), then `& < > " '` escaped.
    static func escape(_ s: String) -> String {
        let visible = escapeForDisplay(s)
        var out = ""
        out.reserveCapacity(visible.utf8.count + 16)
        for ch in visible.unicodeScalars {
            switch ch {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.unicodeScalars.append(ch)
            }
        }
        return out
    }

    /// A whole page: `title` (escaped here), `body` (already HTML).
    static func page(title: String, body: String, script: String? = nil) -> String {
        let policy = script == nil ? "default-src 'none'; style-src 'unsafe-inline'" : "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'"
        let scriptTag = script.map { "<script>\n\($0)\n</script>\n" } ?? ""
        let footer = script == nil ? "no scripts, nothing loaded from the network" : "one inline script (pan and zoom), nothing loaded from the network"
        return """
        <!DOCTYPE html>
        <html lang="en">
        <head>
        <meta charset="utf-8">
        <meta http-equiv="Content-Security-Policy" content="\(policy)">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <meta name="color-scheme" content="light dark">
        <meta name="generator" content="ckpt \(CheckpointKitVersion.string)">
        <title>\(escape(title))</title>
        <style>
        \(css)
        </style>
        </head>
        <body>
        <main>
        \(body)
        <footer>Written by ckpt \(CheckpointKitVersion.string). This page is self-contained: \(footer).</footer>
        </main>
        \(scriptTag)</body>
        </html>

        """
    }

    /// `<table>` with a header row; cells are HTML already. `numeric` columns are right-aligned.
    static func table(id: String, headers: [String], numeric: Set<Int>, rows: [(cells: [String], cls: String?)]) -> String {
        var out = "<div class=\"scroll\"><table id=\"\(id)\">\n<thead><tr>"
        for (k, h) in headers.enumerated() { out += "<th\(numeric.contains(k) ? " class=\"num\"" : "")>\(escape(h))</th>" }
        out += "</tr></thead>\n<tbody>\n"
        for r in rows {
            out += r.cls.map { "<tr class=\"\($0)\">" } ?? "<tr>"
            for (k, c) in r.cells.enumerated() { out += "<td\(numeric.contains(k) ? " class=\"num\"" : "")>\(c)</td>" }
            out += "</tr>\n"
        }
        return out + "</tbody>\n</table></div>\n"
    }

    /// A definition list of (term, HTML value).
    static func facts(_ items: [(String, String)], id: String) -> String {
        var out = "<dl class=\"facts\" id=\"\(id)\">\n"
        for (k, v) in items { out += "<dt>\(escape(k))</dt><dd>\(v)</dd>\n" }
        return out + "</dl>\n"
    }

    static let css = """
    :root { --fg: #1d2330; --muted: #5f6b7a; --bg: #ffffff; --panel: #f4f6f9; --line: #dde2ea;
            --bar: #3b5bdb; --hist: #0b7a75; --diff: #c92a2a; --near: #0c8599; --same: #adb5bd; --warn: #e67700; --ok: #2b8a3e; }
    @media (prefers-color-scheme: dark) {
      :root { --fg: #e6e9ef; --muted: #9aa5b4; --bg: #14171c; --panel: #1d2128; --line: #2e343e;
              --bar: #748ffc; --hist: #38d9a9; --diff: #ff6b6b; --near: #3bc9db; --same: #5c6570; --warn: #ffa94d; --ok: #69db7c; }
    }
    * { box-sizing: border-box; }
    body { margin: 0; background: var(--bg); color: var(--fg); font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; }
    main { max-width: 1180px; margin: 0 auto; padding: 24px 28px 40px; }
    h1 { font-size: 22px; margin: 0 0 4px; word-break: break-all; }
    h2 { font-size: 17px; margin: 28px 0 10px; border-bottom: 1px solid var(--line); padding-bottom: 4px; }
    .sub { color: var(--muted); margin: 0 0 12px; }
    code, .mono, td, .facts dd { font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace; font-size: 12.5px; }
    .facts { display: grid; grid-template-columns: max-content 1fr; gap: 4px 18px; background: var(--panel); padding: 12px 16px; border-radius: 6px; }
    .facts dt { color: var(--muted); }
    .facts dd { margin: 0; word-break: break-all; }
    .verdict { font-size: 16px; padding: 10px 14px; border-radius: 6px; border-left: 6px solid; background: var(--panel); margin: 12px 0; }
    .verdict b { text-transform: uppercase; letter-spacing: .04em; }
    .v-identical { border-color: var(--ok); } .v-identical b { color: var(--ok); }
    .v-equal { border-color: var(--warn); } .v-equal b { color: var(--warn); }
    .v-different { border-color: var(--diff); } .v-different b { color: var(--diff); }
    .cards { display: flex; flex-wrap: wrap; gap: 10px; margin: 12px 0; }
    .card { background: var(--panel); border-radius: 6px; padding: 8px 14px; min-width: 120px; }
    .card .n { font-size: 20px; font-weight: 600; font-variant-numeric: tabular-nums; }
    .card .l { color: var(--muted); font-size: 12px; }
    .scroll { overflow-x: auto; }
    table { border-collapse: collapse; width: 100%; margin: 6px 0 12px; }
    th { text-align: left; color: var(--muted); font-weight: 600; border-bottom: 2px solid var(--line); padding: 4px 8px; white-space: nowrap; }
    td { border-bottom: 1px solid var(--line); padding: 3px 8px; white-space: nowrap; vertical-align: middle; }
    .num { text-align: right; font-variant-numeric: tabular-nums; }
    tr.layer td { font-weight: 600; background: var(--panel); font-family: system-ui, sans-serif; }
    tr.s-different td:first-child, tr.s-only_in_a td:first-child { color: var(--diff); font-weight: 700; }
    tr.s-only_in_b td:first-child { color: var(--ok); font-weight: 700; }
    tr.s-changed_type td:first-child { color: var(--warn); font-weight: 700; }
    tr.s-within_tolerance td:first-child { color: var(--near); font-weight: 700; }
    tr.s-identical td { color: var(--muted); }
    .bad { color: var(--diff); } .warn { color: var(--warn); } .good { color: var(--ok); } .muted { color: var(--muted); }
    svg { display: block; max-width: 100%; height: auto; }
    svg text { fill: var(--fg); font: 12px ui-monospace, Menlo, Consolas, monospace; }
    svg .axis { stroke: var(--line); stroke-width: 1; }
    svg .tick { fill: var(--muted); font-size: 11px; }
    svg .bar { fill: var(--bar); } svg .hist { fill: var(--hist); }
    svg .different { fill: var(--diff); } svg .within { fill: var(--near); } svg .same { fill: var(--same); }
    .hists { display: grid; grid-template-columns: repeat(auto-fill, minmax(270px, 1fr)); gap: 12px; }
    .hists figure { margin: 0; background: var(--panel); border-radius: 6px; padding: 8px 10px; }
    .hists figcaption { font-family: ui-monospace, Menlo, Consolas, monospace; font-size: 12px; word-break: break-all; margin-bottom: 4px; }
    ul.changes { font-family: ui-monospace, Menlo, Consolas, monospace; font-size: 12.5px; }
    .hint { color: var(--muted); font-style: italic; }
    footer { margin-top: 36px; color: var(--muted); font-size: 12px; border-top: 1px solid var(--line); padding-top: 8px; }
    """
}

/// Inline SVG charts.
enum SVG {
    struct Bar {
        var label: String
        /// 0...1 of the full bar width (0: no bar).
        var fraction: Double
        /// Shown after the bar.
        var value: String
        /// CSS class of the bar (`bar`, `different`, `within`, `same`...).
        var cls: String
        /// Tooltip.
        var title: String
    }

    /// Horizontal bars, one row per item, with labels on the left and `ticks` (fraction, text)
    /// as vertical grid lines.
    static func bars(_ rows: [Bar], id: String, ticks: [(Double, String)] = [], barWidth: Int = 420) -> String {
        let charWidth = 7.3
        let labelWidth = Int((Double(rows.map { displayWidth($0.label) }.max() ?? 0) * charWidth).rounded(.up)) + 12
        let valueWidth = Int((Double(rows.map { displayWidth($0.value) }.max() ?? 0) * charWidth).rounded(.up)) + 16
        let rowHeight = 22, top = ticks.isEmpty ? 4 : 20
        let width = labelWidth + barWidth + valueWidth
        let height = top + rows.count * rowHeight + 6
        var out = "<svg id=\"\(id)\" role=\"img\" width=\"\(width)\" height=\"\(height)\" viewBox=\"0 0 \(width) \(height)\">\n"
        for (f, t) in ticks {
            let x = labelWidth + Int((f * Double(barWidth)).rounded())
            out += "<line class=\"axis\" x1=\"\(x)\" y1=\"\(top - 4)\" x2=\"\(x)\" y2=\"\(height - 4)\"/>"
            out += "<text class=\"tick\" x=\"\(x)\" y=\"\(top - 8)\" text-anchor=\"middle\">\(HTML.escape(t))</text>\n"
        }
        for (k, r) in rows.enumerated() {
            let y = top + k * rowHeight
            out += "<g><title>\(HTML.escape(r.title))</title>"
            out += "<text x=\"\(labelWidth - 8)\" y=\"\(y + 15)\" text-anchor=\"end\">\(HTML.escape(r.label))</text>"
            let w = r.fraction > 0 ? max(2, Int((min(1, r.fraction) * Double(barWidth)).rounded())) : 0
            if w > 0 {
                out += "<rect class=\"\(r.cls)\" x=\"\(labelWidth)\" y=\"\(y + 3)\" width=\"\(w)\" height=\"\(rowHeight - 6)\" rx=\"2\"/>"
            }
            out += "<text x=\"\(labelWidth + w + 8)\" y=\"\(y + 15)\">\(HTML.escape(r.value))</text></g>\n"
        }
        return out + "</svg>\n"
    }

    /// A histogram: one column per bin, the edges' extremes below.
    static func histogram(_ h: TensorHistogram, id: String, width: Int = 250, height: Int = 90) -> String {
        let plotH = height - 18
        let n = max(1, h.counts.count)
        let top = max(1, h.counts.max() ?? 1)
        let bw = Double(width) / Double(n)
        var out = "<svg id=\"\(id)\" class=\"histogram\" role=\"img\" width=\"\(width)\" height=\"\(height)\" viewBox=\"0 0 \(width) \(height)\">\n"
        out += "<line class=\"axis\" x1=\"0\" y1=\"\(plotH)\" x2=\"\(width)\" y2=\"\(plotH)\"/>\n"
        for (k, c) in h.counts.enumerated() where c > 0 {
            let bh = max(1.0, Double(c) / Double(top) * Double(plotH - 2))
            let x = Double(k) * bw
            let lo = Fmt.g(h.edges[k], 4), hi = Fmt.g(h.edges[min(k + 1, h.edges.count - 1)], 4)
            out += "<rect class=\"hist\" x=\"\(Fmt.fixed(x + 0.5, 1))\" y=\"\(Fmt.fixed(Double(plotH) - bh, 1))\" width=\"\(Fmt.fixed(max(1, bw - 1), 1))\" height=\"\(Fmt.fixed(bh, 1))\">"
            out += "<title>[\(lo), \(hi)\(h.counts.count == 1 ? "]" : ")"): \(Fmt.count(c))</title></rect>\n"
        }
        out += "<text class=\"tick\" x=\"0\" y=\"\(height - 3)\">\(HTML.escape(Fmt.g(h.edges.first ?? 0, 3)))</text>"
        out += "<text class=\"tick\" x=\"\(width)\" y=\"\(height - 3)\" text-anchor=\"end\">\(HTML.escape(Fmt.g(h.edges.last ?? 0, 3)))</text>\n"
        return out + "</svg>\n"
    }
}

/// Where `--report` writes: `-` is stdout; a file is written through a temporary file and renamed
/// into place. An existing file is replaced only if it is an HTML page (a previous report), and
/// never if it is one of the inputs.
enum ReportOutput {
    /// Writes the page to `path` (`-`: stdout). An existing file is replaced only with `overwrite`
    /// (`--force`), and then only if it is an HTML page (a mistyped name never costs a checkpoint).
    static func write(_ html: String, to path: String, inputs: [String], overwrite: Bool) throws {
        let console = Console.current
        if path == "-" {
            console.write(html)
            return
        }
        // Looking at the old page is not reading an input: it must not join the inputs the output may not replace.
        if let existing = InputRegistry.$current.withValue(nil, operation: { try? ReadableFile(path: path) }) {
            let head = (try? existing.read(at: 0, count: Int(min(existing.size, 64)), what: "the existing report")) ?? []
            let text = String(decoding: head, as: UTF8.self).lowercased()
            if !(text.hasPrefix("<!doctype html") || text.hasPrefix("<html")) {
                throw CheckpointError(.outputExists, "the report would replace a file that is not an HTML page", file: path,
                                      hint: "ckpt replaces only earlier reports; choose another name (e.g. report.html) or remove the file")
            }
            if !overwrite {
                throw CheckpointError(.outputExists, "the report file already exists", file: path, hint: "pass --force to replace it")
            }
        }
        let out = try AtomicOutputFile(destination: path, overwrite: overwrite, inputs: inputs.compactMap { try? ReadableFile(path: $0) })
        do {
            try out.append(Array(html.utf8))
            try out.commit()
        } catch {
            out.abort()
            throw error
        }
        console.print("wrote \(escapeForDisplay(path))", to: .err)
    }
}
