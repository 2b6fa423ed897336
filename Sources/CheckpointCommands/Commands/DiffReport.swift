import CheckpointSystem
import CheckpointKit

/// The text rendering of `ckpt diff`: sides, a table grouped by layer, per-layer bars of relative
/// change, architecture and optimizer differences, and a one-line verdict.
struct DiffReport {
    let result: CheckpointDiff
    let fileA: String
    let fileB: String
    let onlyChanged: Bool
    let bars: Bool
    /// The architecture (B's, else A's), for the graph in the HTML report.
    var graph: ModelGraph? = nil

    func text(style: Style, width: Int) -> String {
        var out = ""
        out += sideLine("A", fileA, result.a, reference: false, style: style)
        out += sideLine("B", fileB, result.b, reference: true, style: style)
        out += "\n"
        let table = tensorTable(style: style, width: width)
        if !table.isEmpty { out += table + "\n" }
        if bars {
            let b = barView(style: style)
            if !b.isEmpty { out += b + "\n" }
        }
        let structure = structureText(style: style)
        if !structure.isEmpty { out += structure + "\n" }
        for h in hints() { out += style.dim("hint: " + h) + "\n" }
        out += toleranceLine() + "\n"
        out += verdictLine(style: style) + "\n"
        return out
    }

    // MARK: Header

    func sideLine(_ label: String, _ file: String, _ s: CheckpointDiff.Side, reference: Bool, style: Style) -> String {
        var parts = [s.format.displayName]
        if s.format == .ckpt { parts[0] += ", " + s.kind.rawValue }
        if let o = s.optimizer { parts.append("\(o)" + (s.iterations.map { " step \($0)" } ?? "")) }
        parts.append("\(Fmt.count(s.tensorCount)) tensors")
        if reference { parts.append("reference") }
        return "\(style.bold(label))  \(escapeForDisplay(file))  " + style.dim(parts.joined(separator: " · ")) + "\n"
    }

    // MARK: Table

    func layerLabel(_ l: DiffLayerSummary) -> String {
        escapeForDisplay(l.name) + (l.className.map { " (\($0))" } ?? "")
    }

    func visible(_ t: TensorDiff) -> Bool {
        !onlyChanged || t.isDifference || t.values == .notCompared
    }

    /// The table, fitted to `width`: the least telling metric columns go first (cosine, RMS,
    /// relative, mean), then tensor names are shortened in the middle; a line says what was
    /// hidden.
    func tensorTable(style: Style, width: Int) -> String {
        buildTable(style: style, width: width) ?? ""
    }

    /// nil when no row is left to show.
    func buildTable(style: Style, width: Int) -> String? {
        let headers = ["", "Tensor", "dtype", "shape", "max |Δ|", "mean |Δ|", "RMS Δ", "max rel Δ", "cosine", "differ"]
        let align: [TextTable.Align] = [.left, .left, .left, .left, .right, .right, .right, .right, .right, .right]
        var table = TextTable(headers, align: align)
        enum Kind { case layer, tensor(TensorDiff) }
        var kinds: [Kind] = []
        for l in result.layers {
            let rows = l.tensors.map { result.tensors[$0] }.filter(visible)
            guard !rows.isEmpty else { continue }
            table.add([""] + [layerLabel(l)] + Array(repeating: "", count: headers.count - 2))
            kinds.append(.layer)
            for t in rows {
                var row = [t.marker, "  " + escapeForDisplay(t.name), dtypeText(t), shapeText(t)]
                row += metricCells(t)
                table.add(row)
                kinds.append(.tensor(t))
            }
        }
        guard !kinds.isEmpty else { return nil }
        let hidden = table.fit(width: width, drop: ["cosine", "RMS Δ", "max rel Δ", "mean |Δ|"], shrink: 1)
        let valueColumns = 4..<table.headers.count
        return table.render(style: { row, col, cell in
            switch kinds[row] {
            case .layer:
                return style.bold(cell)
            case .tensor(let t):
                if col == 0 { return Self.markerStyle(t.marker, cell, style) }
                if valueColumns.contains(col) && t.values == .different && col == 4 { return style.red(cell) }
                if valueColumns.contains(col) && t.values == .identical { return style.dim(cell) }
                if (col == 2 && t.dtypeChanged) || (col == 3 && t.shapeChanged) { return style.yellow(cell) }
                return cell
            }
        }) + TextTable.hiddenNote(hidden, width: width)
    }

    static func markerStyle(_ marker: String, _ cell: String, _ style: Style) -> String {
        switch marker {
        case "*", "-": return style.red(cell)
        case "+": return style.green(cell)
        case "!": return style.yellow(cell)
        case "~": return style.cyan(cell)
        case "=": return style.dim(cell)
        default: return cell
        }
    }

    func dtypeText(_ t: TensorDiff) -> String {
        guard let a = t.a, let b = t.b else { return (t.a ?? t.b)?.dtype.rawValue ?? "" }
        return a.dtype == b.dtype ? a.dtype.rawValue : "\(a.dtype.rawValue)→\(b.dtype.rawValue)"
    }

    func shapeText(_ t: TensorDiff) -> String {
        guard let a = t.a, let b = t.b else { return Fmt.shape((t.a ?? t.b)?.shape ?? []) }
        return a.shape == b.shape ? Fmt.shape(a.shape) : "\(Fmt.shape(a.shape))→\(Fmt.shape(b.shape))"
    }

    func metricCells(_ t: TensorDiff) -> [String] {
        let blank = Array(repeating: "", count: 6)
        if t.onlyInA { return ["only in A"] + blank.dropLast() }
        if t.onlyInB { return ["only in B"] + blank.dropLast() }
        guard let m = t.metrics, t.values != .notCompared else {
            return [t.note.map { Self.shortNote($0) } ?? "not compared"] + blank.dropLast()
        }
        if t.values == .identical {
            return [t.provenFromIndex ? "identical by checksum" : "bit-identical"] + blank.dropLast()
        }
        return [
            m.maxAbsolute.map { Fmt.g($0, 3) } ?? "-",
            m.meanAbs.map { Fmt.g($0, 3) } ?? "-",
            m.rms.map { Fmt.g($0, 3) } ?? "-",
            m.maxRelative.map { Fmt.g($0, 3) } ?? "-",
            m.cosine.map { Self.cosineText($0) } ?? "-",
            Self.percent(m.differing, of: m.elements) + (m.nanOnlyA + m.nanOnlyB > 0 ? " (NaN)" : ""),
        ]
    }

    static func shortNote(_ note: String) -> String {
        if note.hasPrefix("not compared") { return "not compared" }
        if note.hasPrefix("shapes") { return "not comparable" }
        return note
    }

    static func cosineText(_ c: Double) -> String {
        if c == 1 { return "1" }
        return Fmt.fixed(c, 6)
    }

    static func percent(_ n: Int, of total: Int) -> String {
        guard n > 0, total > 0 else { return "0" }
        let p = 100 * Double(n) / Double(total)
        if p < 0.1 { return "<0.1%" }
        if n < total && p >= 99.95 { return ">99.9%" }
        return Fmt.fixed(p, 1) + "%"
    }

    // MARK: Bars

    /// Log-scale bar: 3 cells per decade from 1e-8 (empty) to 1 (full).
    static let barCells = 24
    static let barFloor = -8.0

    static func bar(_ r: Double) -> String {
        guard r > 0 else { return "" }
        let x = r.isInfinite ? Double(barCells) : Swift.min(Double(barCells), Swift.max(0, (Libm.log10(r) - barFloor) / -barFloor * Double(barCells)))
        let eighths = Swift.max(1, Int((x * 8).rounded()))
        let full = eighths / 8, part = eighths % 8
        let partials = ["", "▏", "▎", "▍", "▌", "▋", "▊", "▉"]
        return String(repeating: "█", count: full) + partials[part]
    }

    func barView(style: Style) -> String {
        var lines: [(String, String, String)] = []
        for l in result.layers {
            if onlyChanged && !l.changed && l.tensors.allSatisfy({ !visible(result.tensors[$0]) }) { continue }
            let label = layerLabel(l)
            let tensors = l.tensors.map { result.tensors[$0] }
            if tensors.allSatisfy({ $0.onlyInA }) { lines.append((label, style.red("only in A"), "")); continue }
            if tensors.allSatisfy({ $0.onlyInB }) { lines.append((label, style.green("only in B"), "")); continue }
            if tensors.allSatisfy({ $0.onlyInA || $0.onlyInB }) { lines.append((label, style.yellow("names differ (only in A / only in B)"), "")); continue }
            guard let r = l.relativeChange else { lines.append((label, style.dim("not compared"), "")); continue }
            var note = l.structural > 0 ? "  " + style.yellow("\(l.structural) structural change\(l.structural == 1 ? "" : "s")") : ""
            if r == 0 {
                let word = l.withinTolerance > 0 || l.different > 0 ? "no change" : "identical"
                lines.append((label, style.dim(word), note))
                continue
            }
            let b = Self.bar(r)
            let pad = String(repeating: " ", count: Swift.max(0, Self.barCells - displayWidth(b)))
            let colored = l.different > 0 ? style.red(b) : style.cyan(b)
            if l.different == 0 { note = "  " + style.dim("within tolerance") + note }
            lines.append((label, colored + pad + "  " + Fmt.g(r, 2), note))
        }
        guard !lines.isEmpty else { return "" }
        let w = lines.map { displayWidth($0.0) }.max() ?? 0
        var out = style.bold("Change by layer") + style.dim("  ‖A−B‖/‖B‖, log scale 1e-8 … 1") + "\n"
        for (label, bar, note) in lines {
            out += "  " + label + String(repeating: " ", count: w - displayWidth(label)) + "  " + bar + note + "\n"
        }
        return out
    }

    // MARK: Architecture and optimizer

    func structureText(style: Style) -> String {
        var out = ""
        if let d = result.architecture {
            switch d.status {
            case .identical: out += "Architecture  " + style.dim("identical") + "\n"
            case .onlyInA: out += "Architecture  only in A (not compared)\n"
            case .onlyInB: out += "Architecture  only in B (not compared)\n"
            case .unparseable:
                out += "Architecture  " + (d.isDifferent ? style.red("differs") + " (not a model JSON this tool reads; compared as bytes)" : "identical bytes") + "\n"
            case .different:
                var parts: [String] = []
                if !d.added.isEmpty { parts.append("\(d.added.count) layer\(d.added.count == 1 ? "" : "s") added") }
                if !d.removed.isEmpty { parts.append("\(d.removed.count) removed") }
                if !d.changed.isEmpty { parts.append("\(d.changed.count) changed") }
                if d.reordered { parts.append("layers reordered") }
                if !d.modelChanges.isEmpty { parts.append("model settings changed") }
                let word = d.countsAsDifference ? style.red("differs") : style.yellow("differs") + " (not counted: \(d.notHeldBy ?? "") holds no architecture; --strict counts it)"
                out += "Architecture  " + word + ": " + parts.joined(separator: ", ") + "\n"
                for l in d.added { out += "  " + style.green("+") + " \(escapeForDisplay(l.name)) (\(l.className))\n" }
                for l in d.removed { out += "  " + style.red("-") + " \(escapeForDisplay(l.name)) (\(l.className))\n" }
                for c in d.changed {
                    let cls = c.classA == c.classB ? c.classA : "\(c.classA) → \(c.classB)"
                    out += "  " + style.yellow("!") + " \(escapeForDisplay(c.name)) (\(cls))" + (c.keys.isEmpty ? "" : ": " + Self.changesText(c.keys)) + "\n"
                }
                if !d.modelChanges.isEmpty {
                    out += "  " + style.yellow("!") + " model: " + Self.changesText(d.modelChanges) + "\n"
                }
            }
        }
        if let o = result.optimizer {
            switch o.status {
            case .onlyInA: out += "Optimizer     only in A (\(o.classA ?? "?")\(o.iterationsA.map { ", step \($0)" } ?? ""); not compared)\n"
            case .onlyInB: out += "Optimizer     only in B (\(o.classB ?? "?")\(o.iterationsB.map { ", step \($0)" } ?? ""); not compared)\n"
            case .identical:
                out += "Optimizer     " + style.dim("identical") + " (\(o.classA ?? "?")\(o.iterationsA.map { ", step \($0)" } ?? ""))\n"
            case .different:
                var parts: [String] = []
                if o.classA != o.classB { parts.append("class \(o.classA ?? "none") → \(o.classB ?? "none")") } else if let c = o.classA { parts.append(c) }
                if o.iterationsA != o.iterationsB {
                    parts.append("iterations \(o.iterationsA.map(String.init) ?? "?") → \(o.iterationsB.map(String.init) ?? "?")")
                }
                if !o.configChanges.isEmpty { parts.append("config: " + Self.changesText(o.configChanges)) }
                if o.slotsA != o.slotsB {
                    parts.append("slots \(o.slotsA.joined(separator: ", ")) → \(o.slotsB.joined(separator: ", "))")
                }
                if !o.slotTensorsOnlyInA.isEmpty { parts.append("\(o.slotTensorsOnlyInA.count) slot tensors only in A") }
                if !o.slotTensorsOnlyInB.isEmpty { parts.append("\(o.slotTensorsOnlyInB.count) slot tensors only in B") }
                let word = o.countsAsDifference ? style.red("differs")
                    : style.yellow("differs") + " (not counted: \(o.configNotHeldBy ?? "") holds no optimizer configuration; --strict counts it)"
                out += "Optimizer     " + word + ": " + parts.joined(separator: "; ") + "\n"
            }
        }
        return out
    }

    static func changesText(_ keys: [DiffKeyChange], limit: Int = 6) -> String {
        var parts: [String] = []
        for k in keys.prefix(limit) {
            // A number that is a float32 value (Keras writes a float32 learning rate as
            // 0.0010000000474974513) prints at float32 precision, unless both sides would then look equal.
            var a = k.a.map { valueText($0, float32: true) } ?? "(absent)"
            var b = k.b.map { valueText($0, float32: true) } ?? "(absent)"
            if a == b {
                a = k.a.map { valueText($0) } ?? "(absent)"
                b = k.b.map { valueText($0) } ?? "(absent)"
            }
            parts.append("\(escapeForDisplay(k.path)) \(a) → \(b)")
        }
        if keys.count > limit { parts.append("… \(keys.count - limit) more (--json lists all)") }
        return parts.joined(separator: "; ")
    }

    static func valueText(_ v: JSONValue, float32: Bool = false) -> String {
        if float32, case .number(let text) = v, let d = Double(text), d.isFinite, Double(Float(d)) == d {
            let short = "\(Float(d))"
            if short.count < text.count { return short }
        }
        let s = escapeForDisplay(v.serialized(.compact))
        return s.count > 40 ? String(s.prefix(37)) + "…" : s
    }

    // MARK: Hints, tolerance, verdict

    /// When names do not pair up but would after stripping a common first component, or a
    /// `--map` target names nothing in B.
    func hints() -> [String] {
        kindHints() + nameHints()
    }

    /// A weights-only checkpoint against a full one: say what was (not) compared and how to match them.
    func kindHints() -> [String] {
        guard result.a.kind != result.b.kind, !result.options.weightsOnly else { return [] }
        let (weights, full) = result.a.kind == .weights ? ("A", "B") : ("B", "A")
        return ["\(weights) is a weights-only checkpoint and \(full) a full one: the optimizer state is only in \(full); "
                + "`ckpt strip` makes \(full) weights-only, `ckpt rebuild` pairs \(weights) with an architecture JSON and a fresh optimizer"]
    }

    func nameHints() -> [String] {
        let onlyInB = result.tensors.filter(\.onlyInB).map(\.name)
        if !result.options.names.isEmpty {
            var out: [String] = []
            let namesB = result.tensors.compactMap { $0.b == nil ? nil : $0.name }
            for r in result.options.names.renames where !r.new.isEmpty {
                let target = DiffNameMapping.Rename(old: r.new, new: r.new)
                guard !namesB.contains(where: { DiffNameMapping.matches(target, $0) }) else { continue }
                var prefixes = Set<String>()
                for n in onlyInB {
                    var p = ""
                    for part in n.split(separator: "/") { p += p.isEmpty ? String(part) : "/" + part; prefixes.insert(p) }
                }
                let guess = Suggest.closest(r.new, among: prefixes.sorted())
                out.append("--map \(escapeForDisplay(r.old))=\(escapeForDisplay(r.new)): B has no tensor \"\(escapeForDisplay(r.new))\" or \"\(escapeForDisplay(r.new))/…\"" +
                           (guess.map { "; did you mean \"\(escapeForDisplay($0))\"?" } ?? ""))
            }
            return out
        }
        let onlyA = result.tensors.filter(\.onlyInA).map(\.name)
        let onlyB = result.tensors.filter(\.onlyInB).map(\.name)
        guard !onlyA.isEmpty, !onlyB.isEmpty else { return [] }
        let setA = Set(onlyA), setB = Set(onlyB)
        func strippable(_ names: [String], into other: Set<String>) -> String? {
            guard let first = names.first?.split(separator: "/").first.map(String.init) else { return nil }
            let prefix = first + "/"
            let hits = names.filter { $0.hasPrefix(prefix) && other.contains(String($0.dropFirst(prefix.count))) }
            return hits.count * 2 >= names.count ? prefix : nil
        }
        if let p = strippable(onlyA, into: setB) ?? strippable(onlyB, into: setA) {
            return ["names line up with --strip-prefix \(escapeForDisplay(p))"]
        }
        return []
    }

    func toleranceLine() -> String {
        var seen: [(String, DiffTolerance)] = []
        for t in result.tensors {
            guard let tol = t.tolerance, let a = t.a, let b = t.b, a.dtype.isFloatingPoint || b.dtype.isFloatingPoint else { continue }
            let key = a.dtype == b.dtype ? a.dtype.rawValue : "\(a.dtype.rawValue)/\(b.dtype.rawValue)"
            if !seen.contains(where: { $0.0 == key }) { seen.append((key, tol)) }
        }
        let o = result.options
        var text = "tolerance: |a−b| ≤ atol + rtol·|b|"
        if seen.isEmpty {
            text += " (no floating-point tensors compared)"
        } else {
            text += ", " + seen.map { "\($0.0) atol \(Fmt.g($0.1.atol, 3)) rtol \(Fmt.g($0.1.rtol, 3))" }.joined(separator: "; ")
            text += o.atol == nil && o.rtol == nil ? " (defaults)" : ""
        }
        text += "; NaN " + (o.nan == .equal ? "== NaN" : "!= NaN")
        return text
    }

    func verdictLine(style: Style) -> String {
        let s = result.summary
        var details: [String] = []
        let n = s.compared
        switch result.verdict {
        case .identical:
            if s.provenFromIndex == 0 {
                details.append("\(Fmt.count(n)) tensor\(n == 1 ? "" : "s") compared, every one bit-identical (bytes compared)")
            } else if s.provenFromIndex == n {
                details.append("\(Fmt.count(n)) tensor\(n == 1 ? "" : "s") compared, every one identical by checksum (equal CRC-32 and size in both indexes; --full compares bytes)")
            } else {
                details.append("\(Fmt.count(n)) tensors compared: \(Fmt.count(n - s.provenFromIndex)) bit-identical (bytes compared), \(Fmt.count(s.provenFromIndex)) identical by checksum (equal CRC-32 and size; --full compares bytes)")
            }
        case .equal:
            details.append("\(Fmt.count(n)) tensors compared: \(Fmt.count(s.identical)) identical, \(Fmt.count(s.withinTolerance)) within tolerance")
        case .different:
            if s.different > 0 {
                details.append("\(Fmt.count(s.different)) of \(Fmt.count(n)) tensors differ beyond tolerance")
            }
            if s.nonTrainableChanged > 0 {
                details.append("\(Fmt.count(s.nonTrainableChanged)) of them non-trainable")
            }
            if s.identical > 0 { details.append("\(Fmt.count(s.identical)) identical") }
            if s.withinTolerance > 0 { details.append("\(Fmt.count(s.withinTolerance)) within tolerance") }
        }
        if s.onlyInA > 0 { details.append("\(Fmt.count(s.onlyInA)) only in A") }
        if s.onlyInB > 0 { details.append("\(Fmt.count(s.onlyInB)) only in B") }
        if s.dtypeChanged > 0 { details.append("\(Fmt.count(s.dtypeChanged)) dtype changed") }
        if s.shapeChanged > 0 { details.append("\(Fmt.count(s.shapeChanged)) shape changed") }
        if s.notCompared > 0 { details.append("\(Fmt.count(s.notCompared)) not compared") }
        if result.architecture?.countsAsDifference == true { details.append("architecture differs") }
        if result.optimizer?.countsAsDifference == true { details.append("optimizer differs") }
        if let side = result.architecture?.notHeldBy, result.architecture?.isDifferent == true {
            details.append("the architecture differs, not counted: \(side) holds none (--strict counts it)")
        }
        if let o = result.optimizer, let side = o.configNotHeldBy, !o.configChanges.isEmpty {
            details.append("the optimizer configuration differs, not counted: \(side) holds none (--strict counts it)")
        }
        let word: String
        switch result.verdict {
        case .identical: word = style.bold(style.green("identical"))
        case .equal: word = style.bold(style.yellow("equal within tolerance"))
        case .different: word = style.bold(style.red("different"))
        }
        return word + ": " + details.joined(separator: ", ")
    }
}

