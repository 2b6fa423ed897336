import CheckpointKit

/// `ckpt inspect --report FILE.html`: the summary, parameters by layer as bars, the tensor table,
/// and with --stats a histogram of every tensor's values.
extension InspectReport {
    func html() -> String {
        let t = totals()
        let e = HTML.escape
        var body = "<header>\n<h1 id=\"file\">\(e(file))</h1>\n"
        body += "<p class=\"sub\">ckpt inspect · <span id=\"kind\">\(e(kindText()))</span></p>\n</header>\n"

        // Key numbers.
        var cards: [(String, String, String)] = [
            ("total-params", Fmt.count(t.params), "parameters"),
            ("trainable-params", t.trainabilityKnown ? Fmt.count(t.trainable) : "?", "trainable"),
            ("non-trainable-params", t.trainabilityKnown ? Fmt.count(t.nonTrainable) : "?", "non-trainable"),
        ]
        if t.optimizer > 0 || index.optimizer != nil { cards.append(("optimizer-params", Fmt.count(t.optimizer), "optimizer values")) }
        cards.append(("tensor-count", Fmt.count(index.tensors.count), "tensors"))
        cards.append(("file-size", Fmt.bytes(fileSize), "on disk"))
        body += "<div class=\"cards\">\n"
        for (id, n, l) in cards { body += "<div class=\"card\"><div class=\"n\" id=\"\(id)\">\(e(n))</div><div class=\"l\">\(e(l))</div></div>\n" }
        body += "</div>\n"

        var facts: [(String, String)] = [("format", e(source.format.displayName)), ("kind", e(kindText()))]
        if let outline = outline {
            facts.append(("model", e("\(outline.modelClass) \"\(outline.name)\", \(outline.layers.count) layers (\(outline.dialect.displayName) JSON)")))
        } else {
            facts.append(("model", index.architecture == nil ? "<span class=\"muted\">no architecture</span>" : e("architecture JSON present (not parseable)")))
        }
        if let o = index.optimizer {
            facts.append(("optimizer", e("\(o.className)" + (o.innerClassName.map { " wrapping \($0)" } ?? "") + ", \(o.stepDescription)" + (o.learningRate.map { ", learning rate \(Fmt.g($0))" } ?? ""))))
        } else {
            facts.append(("optimizer", "<span class=\"muted\">none</span>"))
        }
        if let p = index.producer { facts.append(("written by", e(p))) }
        if let meta = index.metadata.objectValue {
            for (k, v) in meta { facts.append(("metadata: " + k, e(Self.scalarText(v)))) }
        }
        if verified { facts.append(("verified", "<span class=\"good\">every member's CRC-32, size and header match</span>")) }
        body += "<h2>Summary</h2>\n" + HTML.facts(facts, id: "summary")

        // Parameters by layer.
        let rows = selected.count == index.tensors.count ? layerRows() : []
        if !rows.isEmpty {
            let top = Double(rows.map(\.params).max() ?? 0)
            let bars = rows.map { r in
                SVG.Bar(label: r.className == "?" ? r.name : "\(r.name) (\(r.className))",
                        fraction: top > 0 ? Double(r.params) / top : 0,
                        value: "\(Fmt.count(r.params)) · \(Fmt.bytes(r.bytes))", cls: "bar",
                        title: "\(r.name): \(Fmt.count(r.params)) parameters (\(Fmt.count(r.trainableParams)) trainable), \(Fmt.bytes(r.bytes))")
            }
            body += "<h2>Parameters by layer</h2>\n" + SVG.bars(bars, id: "layer-chart")
            var table: [(cells: [String], cls: String?)] = []
            for r in rows {
                let tr = r.params == 0 ? "-" : !t.trainabilityKnown ? "?" : r.nonTrainableParams == 0 ? "yes" : r.trainableParams == 0 ? "no" : "partly"
                table.append(([e(r.name), e(r.className == "?" ? "" : r.className), Fmt.count(r.params), tr, e(Fmt.bytes(r.bytes))], nil))
            }
            table.append((["<b>total</b>", "", "<b>\(Fmt.count(t.params))</b>", "", "<b>\(e(Fmt.bytes(t.paramBytes)))</b>"], nil))
            body += HTML.table(id: "layers", headers: ["Layer", "Type", "Params", "Trainable", "Bytes"], numeric: [2, 4], rows: table)
        }

        // Tensors.
        var headers = ["Tensor", "dtype", "shape", "elements", "stored", "ratio", "role"]
        var numeric: Set<Int> = [3, 4, 5]
        if !stats.isEmpty {
            headers += ["min", "max", "mean", "std", "zeros", "nan", "inf"]
            numeric.formUnion(7...13)
        }
        var tensorRows: [(cells: [String], cls: String?)] = []
        for (i, depth) in orderedTensors() {
            let info = index.tensors[i]
            let stored = storedBytes(i)
            let memberSize = (source as? CheckpointArchive).map { $0.manifest.tensors[i].storage.size } ?? UInt64(info.byteCount ?? 0)
            let indent = String(repeating: "&nbsp;&nbsp;", count: depth)
            var cells: [String] = [indent + e(info.name), e(info.dtype.rawValue), e(Fmt.shape(info.shape)), Fmt.count(info.elementCount ?? 0),
                         stored.map { e(Fmt.bytes($0)) } ?? "-",
                         stored.map { memberSize == 0 ? "-" : Fmt.fixed(Double($0) / Double(memberSize), 3) } ?? "-",
                         e(info.role == .optimizer ? "optimizer" + (info.slot.map { " (\($0))" } ?? "") : info.trainable ? "weight" : "weight (non-trainable)")]
            if !stats.isEmpty {
                if let s = stats[i] {
                    let f: (Double?) -> String = { $0.map { e(Fmt.g($0, 5)) } ?? "-" }
                    let flag: (Int) -> String = { $0 == 0 ? "0" : "<span class=\"warn\">\(Fmt.count($0))</span>" }
                    cells += [f(s.min), f(s.max), f(s.mean), f(s.std), Fmt.count(s.zeros), flag(s.nans), flag(s.infs)]
                } else {
                    cells += Array(repeating: "", count: 7)
                }
            }
            tensorRows.append((cells, nil))
        }
        body += "<h2>Tensors</h2>\n<p class=\"sub\">\(selected.count) of \(index.tensors.count) tensors</p>\n"
        body += HTML.table(id: "tensors", headers: headers, numeric: numeric, rows: tensorRows)

        // Histograms.
        if !stats.isEmpty {
            body += "<h2>Value distributions</h2>\n<p class=\"sub\">Finite values in equal bins covering [min, max] (exact counts); NaN and ±inf are not counted.</p>\n<div class=\"hists\">\n"
            for (k, (i, _)) in orderedTensors().enumerated() {
                guard let s = stats[i] else { continue }
                let info = index.tensors[i]
                body += "<figure><figcaption>\(e(info.name)) <span class=\"muted\">\(Fmt.count(s.finite)) finite</span></figcaption>\n"
                if let h = s.histogram(), h.counts.count == 1 {
                    body += "<p class=\"muted\">every finite value is \(e(Fmt.g(h.edges[0], 6)))</p>\n"
                } else if let h = s.histogram() {
                    body += SVG.histogram(h, id: "hist-\(k)")
                } else {
                    body += "<p class=\"muted\">no finite values</p>\n"
                }
                body += "</figure>\n"
            }
            body += "</div>\n"
        }
        // The architecture as a graph.
        var script: String? = nil
        if let graph = summary.graph, selected.count == index.tensors.count {
            var params: [String: Int] = [:]
            for r in layerRows() where r.parent == nil { params[r.name] = r.params }
            body += "<h2>Architecture</h2>\n" + ArchitectureSVG.render(graph, params: params)
            script = ArchitectureSVG.script
        }

        return HTML.page(title: "ckpt inspect: " + file, body: body, script: script)
    }
}
