import CheckpointSystem
import CheckpointKit

/// `ckpt diff --report FILE.html`: the verdict, both sides, the counts, per-layer relative change
/// as bars (log scale), the tensor table, architecture and optimizer differences.
extension DiffReport {
    func html() -> String {
        let plain = Style(enabled: false)
        let e = HTML.escape
        let s = result.summary
        var body = "<header>\n<h1>ckpt diff</h1>\n<p class=\"sub\"><span class=\"mono\">\(e(fileA))</span> against <span class=\"mono\">\(e(fileB))</span> (the reference)</p>\n</header>\n"

        let verdict = verdictLine(style: plain)
        let (word, rest) = verdict.firstIndex(of: ":").map { (String(verdict[..<$0]), String(verdict[verdict.index(after: $0)...])) } ?? (verdict, "")
        body += "<div class=\"verdict v-\(result.verdict == .identical ? "identical" : result.verdict == .equal ? "equal" : "different")\" id=\"verdict\"><b>\(e(word))</b>:\(e(rest))</div>\n"

        var cards: [(String, Int, String)] = [
            ("compared", s.compared, "compared"), ("identical", s.identical, "identical"),
            ("within-tolerance", s.withinTolerance, "within tolerance"), ("different", s.different, "different"),
        ]
        if s.onlyInA > 0 { cards.append(("only-in-a", s.onlyInA, "only in A")) }
        if s.onlyInB > 0 { cards.append(("only-in-b", s.onlyInB, "only in B")) }
        if s.dtypeChanged + s.shapeChanged > 0 { cards.append(("type-changed", s.dtypeChanged + s.shapeChanged, "dtype or shape changed")) }
        if s.notCompared > 0 { cards.append(("not-compared", s.notCompared, "not compared")) }
        body += "<div class=\"cards\">\n"
        for (id, n, l) in cards {
            let cls = id == "different" && n > 0 ? " bad" : ""
            body += "<div class=\"card\"><div class=\"n\(cls)\" id=\"count-\(id)\">\(Fmt.count(n))</div><div class=\"l\">\(e(l))</div></div>\n"
        }
        body += "</div>\n"

        func side(_ label: String, _ file: String, _ x: CheckpointDiff.Side) -> (String, String) {
            var parts = [x.format.displayName, x.kind.rawValue]
            if let o = x.optimizer { parts.append(o + (x.iterations.map { " step \($0)" } ?? "")) }
            parts.append("\(Fmt.count(x.tensorCount)) tensors")
            return (label, "<span class=\"mono\">\(e(file))</span> <span class=\"muted\">\(e(parts.joined(separator: " · ")))</span>")
        }
        body += "<h2>Checkpoints</h2>\n" + HTML.facts([side("A", fileA, result.a), side("B (reference)", fileB, result.b),
                                                      ("tolerance", e(String(toleranceLine().dropFirst("tolerance: ".count))))], id: "sides")
        for h in hints() { body += "<p class=\"hint\">hint: \(e(h))</p>\n" }

        // Change by layer.
        var bars: [SVG.Bar] = []
        for l in result.layers {
            if onlyChanged && !l.changed && l.tensors.allSatisfy({ !visible(result.tensors[$0]) }) { continue }
            let label = l.name + (l.className.map { " (\($0))" } ?? "")
            let tensors = l.tensors.map { result.tensors[$0] }
            func note(_ text: String, _ cls: String = "same") -> SVG.Bar { SVG.Bar(label: label, fraction: 0, value: text, cls: cls, title: "\(l.name): \(text)") }
            if tensors.allSatisfy({ $0.onlyInA }) { bars.append(note("only in A")); continue }
            if tensors.allSatisfy({ $0.onlyInB }) { bars.append(note("only in B")); continue }
            if tensors.allSatisfy({ $0.onlyInA || $0.onlyInB }) { bars.append(note("names differ (only in A / only in B)")); continue }
            guard let r = l.relativeChange else { bars.append(note("not compared")); continue }
            if r == 0 { bars.append(note(l.withinTolerance > 0 || l.different > 0 ? "no change" : "identical")); continue }
            let cls = l.different > 0 ? "different" : "within"
            let text = Fmt.g(r, 3) + (l.different == 0 ? " (within tolerance)" : "") + (l.structural > 0 ? " · \(l.structural) structural" : "")
            bars.append(SVG.Bar(label: label, fraction: Self.logFraction(r), value: text, cls: cls,
                                title: "\(l.name): ‖A−B‖/‖B‖ = \(Fmt.g(r, 6)); \(l.different) different, \(l.withinTolerance) within tolerance, \(l.identical) identical"))
        }
        if !bars.isEmpty {
            let ticks: [(Double, String)] = stride(from: Self.floor, through: 0, by: 2).map { ((($0 - Self.floor) / -Self.floor), "1e\(Int($0))") }
                .map { ($0.0, $0.1 == "1e0" ? "1" : $0.1) }
            body += "<h2>Change by layer</h2>\n<p class=\"sub\">‖A−B‖ / ‖B‖ per layer, log scale from 10<sup>−8</sup> to 1; red: beyond tolerance, blue: within.</p>\n"
            body += SVG.bars(bars, id: "layer-change", ticks: ticks)
        }

        var script: String? = nil
        if let graph {
            var change: [String: Double] = [:]
            for l in result.layers {
                guard let r = l.relativeChange else { continue }
                let top = l.tensors.lazy.compactMap { graph.variables.variable(named: self.result.tensors[$0].name)?.layer }.first ?? l.name
                change[top] = max(change[top] ?? 0, r)
                change[l.name] = max(change[l.name] ?? 0, r)
            }
            body += "<h2>Architecture, coloured by change</h2>\n" + ArchitectureSVG.render(graph, params: [:], change: change)
            script = ArchitectureSVG.script
        }

        // Tensor table.
        var rows: [(cells: [String], cls: String?)] = []
        for l in result.layers {
            let tensors = l.tensors.map { result.tensors[$0] }.filter(visible)
            guard !tensors.isEmpty else { continue }
            rows.append(([""] + [e(layerLabel(l))] + Array(repeating: "", count: 9), "layer"))
            for t in tensors {
                var cells = [e(t.marker), e(t.name), e(dtypeText(t)), e(shapeText(t))]
                cells += metricCells(t).map(e)
                cells.append(t.relativeChange.map { e(Fmt.g($0, 3)) } ?? "")
                rows.append((cells, "s-" + t.status))
            }
        }
        if !rows.isEmpty {
            body += "<h2>Tensors</h2>\n<p class=\"sub\">= identical · ~ within tolerance · * beyond tolerance · ! dtype or shape changed · − only in A · + only in B</p>\n"
            body += HTML.table(id: "tensors", headers: ["", "Tensor", "dtype", "shape", "max |Δ|", "mean |Δ|", "RMS Δ", "max rel Δ", "cosine", "differ", "‖Δ‖/‖B‖"],
                               numeric: Set(4...10), rows: rows)
        }

        let structure = structureText(style: plain)
        if !structure.isEmpty {
            body += "<h2>Architecture and optimizer</h2>\n<ul class=\"changes\" id=\"structure\">\n"
            for line in structure.split(separator: "\n") { body += "<li>\(e(String(line).trimmingSpaces()))</li>\n" }
            body += "</ul>\n"
        }
        return HTML.page(title: "ckpt diff: \(fileA) vs \(fileB)", body: body, script: script)
    }

    static let floor = DiffReport.barFloor

    /// Position of `r` on the log scale 1e-8 … 1 (0 … 1).
    static func logFraction(_ r: Double) -> Double {
        guard r > 0 else { return 0 }
        if r.isInfinite { return 1 }
        return Swift.min(1, Swift.max(0.005, (Libm.log10(r) - floor) / -floor))
    }
}

