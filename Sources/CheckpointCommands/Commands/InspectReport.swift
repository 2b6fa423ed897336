import CheckpointKit

struct InspectReport {
    let source: any TensorSource
    let file: String
    let selected: [Int]
    let stats: [Int: TensorStats]
    let values: [Int: [UInt8]]
    let verification: Verification?
    var verified: Bool { verification != nil }
    /// `--values SLICE`: the selection's shape, and the slice as given.
    var valuesShape: [Int: [Int]] = [:]
    var slice: String? = nil
    /// `--layer NAME`: the layer's entry in the architecture.
    var layerConfig: JSONValue? = nil
    /// Taken once: the index (a struct of arrays) and the parsed architecture (a large model's
    /// JSON is hundreds of KB) are used by every part of the report.
    let index: CheckpointIndex
    let summary: CheckpointSummary
    var outline: KerasModelOutline? { summary.outline }

    init(source: any TensorSource, file: String, selected: [Int], stats: [Int: TensorStats], values: [Int: [UInt8]], verification: Verification?,
         valuesShape: [Int: [Int]] = [:], slice: String? = nil, layerConfig: JSONValue? = nil) {
        self.valuesShape = valuesShape
        self.slice = slice
        self.layerConfig = layerConfig
        self.source = source
        self.file = file
        self.selected = selected
        self.stats = stats
        self.values = values
        self.verification = verification
        self.index = source.index
        self.summary = CheckpointSummary(source)
    }

    /// The size of every file the reader uses (a TensorFlow checkpoint's `.index` and `.data`
    /// shards, whichever of them, or the prefix, folder or state file, named it; a sharded set's
    /// shards); the named file's when it is the only one.
    var fileSize: UInt64 {
        let files = source.inputFiles
        if files.count <= 1, let f = try? ReadableFile(path: file) { return f.size }
        return files.reduce(UInt64(0)) { $0 + $1.size }
    }

    /// Whether tensors carry the key they are stored under (TensorFlow checkpoints).
    var hasSourceKeys: Bool { index.tensors.contains { $0.sourceKey != nil } }

    func kindText() -> String {
        switch index.kind {
        case .full:
            return index.architecture != nil ? "full checkpoint (architecture + weights + optimizer)" : "full checkpoint (weights + optimizer, no architecture)"
        case .weights:
            return index.architecture != nil ? "weights-only checkpoint (weights + architecture)" : "weights-only checkpoint"
        }
    }

    func storedBytes(_ i: Int) -> UInt64? { summary.storedBytes(i) }
    func totals() -> ParameterTotals { summary.totals }
    func layerRows() -> [LayerSummary] { summary.layers }
    func orderedTensors() -> [(Int, depth: Int)] { summary.orderedTensors(selected) }

    // MARK: Text

    func text(style: Style, width: Int, valuesLimit: Int?) -> String {
        var out = ""
        let t = totals()
        let size = fileSize
        var first = "\(escapeForDisplay(file)): \(style.bold(kindText()))"
        if let o = index.optimizer { first += " · \(o.displayName) at \(o.stepDescription)" }
        if let p = index.producer { first += " · written by \(escapeForDisplay(p))" }
        first += " · \(Fmt.count(t.params)) params · \(Fmt.bytes(size)) on disk"
        out += first + "\n"
        out += "  format      \(source.format.displayName)\n"
        if let outline = outline {
            out += "  model       \(outline.modelClass) \"\(escapeForDisplay(outline.name))\", \(outline.layers.count) layers (\(outline.dialect.displayName) JSON)\n"
        } else if index.architecture != nil {
            out += "  model       architecture JSON present (\(index.architecture?.count ?? 0) bytes, not parseable)\n"
        } else {
            out += "  model       no architecture\n"
        }
        if let o = index.optimizer {
            var line = "  optimizer   \(o.className)"
            if let inner = o.innerClassName { line += " wrapping \(inner) (loss scaling for mixed precision)" }
            line += ", \(o.stepDescription)"
            if let lr = o.learningRate { line += ", learning rate \(Fmt.g(lr))" }
            out += line + "\n"
        } else {
            out += "  optimizer   none\n"
        }
        if let meta = index.metadata.objectValue, !meta.isEmpty {
            let parts = meta.map { "\(escapeForDisplay($0.0))=\(Self.scalarText($0.1))" }
            if meta.count <= 8 && !meta.contains(where: { $0.1.objectValue != nil }) {
                out += "  metadata    " + parts.joined(separator: " ") + "\n"
            } else {
                // Many keys (a GGUF file's): one per line, each cut to the terminal's width; an
                // object (GGUF's summary) as its members, wrapped.
                let w = max(width, 40)
                for (k, (key, value)) in meta.enumerated() {
                    let lead = k == 0 ? "  metadata    " : "              "
                    guard let members = value.objectValue else {
                        let line = lead + parts[k]
                        out += (line.count > w ? String(line.prefix(w - 1)) + "…" : line) + "\n"
                        continue
                    }
                    var line = lead + escapeForDisplay(key) + ":"
                    for (mk, mv) in members {
                        let item = " \(escapeForDisplay(mk))=\(Self.scalarText(mv))"
                        if line.count + item.count > w && line.count > lead.count + key.count + 1 {
                            out += line + "\n"
                            line = "              " + String(repeating: " ", count: key.count + 1)
                        }
                        line += item
                    }
                    out += line + "\n"
                }
            }
        }
        if let tf = source as? TFCheckpointSource {
            for sig in tf.signatures {
                func list(_ ts: [TFSignatureTensor]) -> String {
                    ts.map { "\(escapeForDisplay($0.key)) \($0.dtype.name) \($0.shape.map { "(" + $0.map { $0.map(String.init) ?? "None" }.joined(separator: ", ") + ")" } ?? "(?)")" }
                        .joined(separator: ", ")
                }
                out += "  signature   \(escapeForDisplay(sig.name)): \(list(sig.inputs)) → \(list(sig.outputs))\n"
            }
        }
        if let v = verification { out += "  verified    " + (v.unchecked > 0 ? v.summary : style.green(v.summary)) + "\n" }
        // The header's lines wrapped to the width, continuations under the values.
        out = out.split(separator: "\n").map { wrapLine(String($0), width: width, indent: "            ") }.joined(separator: "\n") + "\n"
        out += "\n"

        if let layerConfig {
            out += "Layer configuration:\n" + layerConfig.serialized(.pretty) + "\n"
        }

        // Layer table (Keras model.summary() spirit).
        let rows = selected.count == index.tensors.count ? layerRows() : []
        if !rows.isEmpty {
            out += layerTable(rows, totals: t, width: width) + "\n"
        }

        // Tensor table.
        var headers = ["Tensor", "dtype", "shape", "elements", "stored", "ratio"]
        var align: [TextTable.Align] = [.left, .left, .left, .right, .right, .right]
        if !stats.isEmpty {
            headers += ["min", "max", "mean", "std", "zeros", "nan", "inf", "histogram"]
            align += [.right, .right, .right, .right, .right, .right, .right, .left]
        }
        let keyColumn = hasSourceKeys
        if keyColumn {
            headers.append("key")
            align.append(.left)
        }
        var table = TextTable(headers, align: align)
        for (i, depth) in orderedTensors() {
            let info = index.tensors[i]
            let name = String(repeating: "  ", count: depth) + escapeForDisplay(info.name)
            let stored = storedBytes(i)
            let bytes = UInt64(info.byteCount ?? 0)
            let storedText: String = stored.map { Fmt.bytes($0) } ?? "-"
            let memberSize = (source as? CheckpointArchive).map { $0.manifest.tensors[i].storage.size } ?? bytes
            let ratioText: String = stored.map { memberSize == 0 ? "-" : Fmt.fixed(Double($0) / Double(memberSize), 3) } ?? "-"
            let dtypeText = info.quantization.map { "\(info.dtype.rawValue) (\($0))" } ?? info.dtype.rawValue
            var row: [String] = [name, dtypeText, Fmt.shape(info.shape), Fmt.count(info.elementCount ?? 0), storedText, ratioText]
            if !stats.isEmpty {
                if let s = stats[i] {
                    let f: (Double?) -> String = { $0.map { Fmt.g($0, 5) } ?? "-" }
                    row += [f(s.min), f(s.max), f(s.mean), f(s.std), Fmt.count(s.zeros), Fmt.count(s.nans), Fmt.count(s.infs),
                            s.histogram().map { HistogramText.sparkline($0.counts) } ?? ""]
                } else {
                    row += Array(repeating: "", count: 8)
                }
            }
            if keyColumn { row.append(escapeForDisplay(info.sourceKey ?? "")) }
            table.add(row)
        }
        let hidden = table.fit(width: width, drop: ["ratio", "stored", "key", "elements", "inf", "nan", "zeros", "histogram", "std", "mean"])
        let columns = table.headers
        out += table.render(style: { row, col, cell in
            guard !stats.isEmpty, col < columns.count else { return cell }
            switch columns[col] {
            case "histogram": return style.cyan(cell)
            case "zeros", "nan", "inf": return cell.trimmingSpaces() == "0" ? cell : style.yellow(cell)
            default: return cell
            }
        })
        out += TextTable.hiddenNote(hidden, width: width)
        out += "\(selected.count) of \(index.tensors.count) tensors\n"
        if !index.unsupported.isEmpty {
            let n = index.unsupported.count
            out += "\n\(style.yellow("\(n) unsupported entr\(n == 1 ? "y" : "ies")")), not tensors (convert refuses them unless --skip-unsupported):\n"
            var table = TextTable(["Entry", "what", "why"], align: [.left, .left, .left])
            for u in index.unsupported { table.add([escapeForDisplay(u.name), escapeForDisplay(u.what), escapeForDisplay(u.reason)]) }
            out += table.render()
        }

        // One tensor asked for by name: its histogram, large.
        if selected.count == 1, let i = selected.first, let s = stats[i], let h = s.histogram() {
            out += "\n" + HistogramText.large(h, name: index.tensors[i].name, stats: s, style: style)
        }

        for (i, bytes) in values {
            let info = index.tensors[i]
            if let shape = valuesShape[i] {
                out += "\n\(escapeForDisplay(info.name))\(escapeForDisplay(slice ?? ""))  \(info.dtype.rawValue) \(Fmt.shape(shape)) of \(Fmt.shape(info.shape)):\n"
                out += TensorValues.render(info.dtype, bytes, shape: shape, width: min(width, 80)) + "\n"
            } else {
                out += "\n" + ValuePrinter.render(info: info, bytes: bytes, limit: valuesLimit ?? 0)
            }
        }
        return out
    }

    /// The layer table as Keras's `model.summary()` prints it (Output Shape, Param #, Connected to
    /// for a Functional model that is not a chain; nested models' layers under them, as
    /// `expand_nested` shows them), with ckpt's Trainable and Bytes columns, and Keras's totals.
    func layerTable(_ rows: [LayerSummary], totals t: ParameterTotals, width: Int = .max) -> String {
        let shapes = summary.graph != nil
        let connections = summary.showsConnections
        var headers = ["Layer (type)"], align: [TextTable.Align] = [.left]
        if shapes { headers.append("Output Shape"); align.append(.left) }
        headers += ["Param #", "Trainable", "Bytes"]
        align += [.right, .left, .right]
        if connections { headers.append("Connected to"); align.append(.left) }
        var table = TextTable(headers, align: align)
        for r in rows {
            let tr = r.params == 0 ? "-" : !t.trainabilityKnown ? "?" : r.nonTrainableParams == 0 ? "yes" : r.trainableParams == 0 ? "no" : "partly"
            var label = r.className == "?" ? escapeForDisplay(r.name) : "\(escapeForDisplay(r.name)) (\(escapeForDisplay(r.className)))"
            if r.parent != nil { label = "   └ " + label }
            var row = [label]
            if shapes { row.append(r.outputShape ?? "?") }
            row += [Fmt.count(r.params), tr, Fmt.bytes(r.bytes)]
            if connections { row.append(r.connectedTo.map { $0.isEmpty ? "-" : $0.map(escapeForDisplay).joined(separator: ", ") } ?? "") }
            table.add(row)
        }
        let hidden = table.fit(width: width, drop: ["Bytes", "Trainable", "Connected to"])
        var out = table.render() + TextTable.hiddenNote(hidden, width: width)
        let optimizer = t.optimizer > 0 || index.optimizer != nil
        out += " Total params: \(Fmt.count(optimizer ? t.total : t.params)) (\(Fmt.bytes(optimizer ? t.totalBytes : t.paramBytes)))\n"
        if t.trainabilityKnown {
            out += " Trainable params: \(Fmt.count(t.trainable)) (\(Fmt.bytes(t.trainableBytes)))\n"
            out += " Non-trainable params: \(Fmt.count(t.nonTrainable)) (\(Fmt.bytes(t.nonTrainableBytes)))\n"
        } else {
            out += " Trainable / non-trainable: unknown (\(source.format.displayName) does not record it; --architecture model.json tells)\n"
        }
        if optimizer {
            out += " Optimizer params: \(Fmt.count(t.optimizer)) (\(Fmt.bytes(t.optimizerBytes)))\n"
        }
        return out
    }

    static func scalarText(_ v: JSONValue) -> String {
        switch v {
        case .string(let s): return escapeForDisplay(s)
        case .number(let n): return n
        case .bool(let b): return b ? "true" : "false"
        case .null: return "null"
        default: return v.serialized(.compact)
        }
    }

    // MARK: JSON (schema ckpt.inspect/1)

    func json() -> JSONValue {
        var doc = summary.json(file: file, fileSize: fileSize, selected: selected, stats: stats, values: values, verified: verified, verification: verification)
        guard case .object(var root) = doc else { return doc }
        if let layerConfig { root.append(("layer_config", layerConfig)) }
        if let slice, let (i, shape) = valuesShape.first, case .array(var tensors) = root.first(where: { $0.0 == "tensors" })?.1 {
            for k in tensors.indices where tensors[k]["name"]?.stringValue == index.tensors[i].name {
                if case .object(var e) = tensors[k] {
                    e.append(("values_slice", .string(slice)))
                    e.append(("values_shape", .array(shape.map { .number($0) })))
                    tensors[k] = .object(e)
                }
            }
            root = root.map { $0.0 == "tensors" ? ("tensors", .array(tensors)) : $0 }
        }
        doc = .object(root)
        return doc
    }
}

extension String {
    func trimmingSpaces() -> String {
        var s = Substring(self)
        while s.first == " " { s.removeFirst() }
        while s.last == " " { s.removeLast() }
        return String(s)
    }
}

/// `--tensor NAME --values N`.
enum ValuePrinter {
    private struct Enough: Error {}

    /// The first `count` elements' bytes (reads only as far as needed).
    static func firstBytes(_ source: any TensorSource, tensor i: Int, count: Int) throws -> [UInt8] {
        let info = source.index.tensors[i]
        let want = min(count, info.elementCount ?? 0) * info.dtype.itemSize
        var out: [UInt8] = []
        guard want > 0 else { return out }
        out.reserveCapacity(want)
        do {
            for p in source.pieces(of: i).indices {
                try source.readPiece(i, p) { chunk in
                    out.append(contentsOf: UnsafeRawBufferPointer(rebasing: chunk[0..<min(chunk.count, want - out.count)]))
                    if out.count >= want { throw Enough() }
                }
            }
        } catch is Enough {}
        return out
    }

    /// numpy-like: `array([0.1, -0.2, ...], dtype=float32)` with the shape noted.
    static func render(info: TensorInfo, bytes: [UInt8], limit: Int) -> String {
        let n = bytes.count / info.dtype.itemSize
        let items = bytes.withUnsafeBytes { b in (0..<n).map { Elements.text(info.dtype, b, at: $0) } }
        var s = "\(escapeForDisplay(info.name))  \(info.dtype.rawValue) \(Fmt.shape(info.shape))"
        let total = info.elementCount ?? 0
        s += n < total ? ", first \(n) of \(Fmt.count(total)) values (row-major):\n" : ", \(Fmt.count(total)) values:\n"
        var line = "["
        var lines: [String] = []
        for (k, v) in items.enumerated() {
            let piece = v + (k == items.count - 1 ? (n < total ? ", ..." : "") : ", ")
            if line.count + piece.count > 78 {
                while line.hasSuffix(" ") { line.removeLast() }
                lines.append(line)
                line = " "
            }
            line += piece
        }
        lines.append(line + "]")
        return s + lines.joined(separator: "\n") + "\n"
    }
}

/// Terminal pictures of a ``TensorHistogram``.
enum HistogramText {
    static let levels: [Character] = [" ", "▁", "▂", "▃", "▄", "▅", "▆", "▇", "█"]

    /// One cell per bin, height proportional to the count (any non-empty bin shows at least ▁).
    static func sparkline(_ counts: [Int]) -> String {
        let top = counts.max() ?? 0
        guard top > 0 else { return String(repeating: " ", count: counts.count) }
        return String(counts.map { c -> Character in
            guard c > 0 else { return " " }
            return levels[Swift.max(1, Swift.min(8, Int((Double(c) / Double(top) * 8).rounded(.up))))]
        })
    }

    /// A horizontal bar per bin: its range, a bar, the count.
    static func large(_ h: TensorHistogram, name: String, stats s: TensorStats, style: Style, barWidth: Int = 40) -> String {
        var out = style.bold(escapeForDisplay(name)) + "  histogram of \(Fmt.count(s.finite)) finite value\(s.finite == 1 ? "" : "s")"
        out += h.counts.count == 1 ? " (all equal)\n" : ", \(h.counts.count) bins of width \(Fmt.g(h.edges[1] - h.edges[0], 3))\n"
        let lows = h.counts.indices.map { Fmt.g(h.edges[$0], 4) }
        let highs = h.counts.indices.map { Fmt.g(h.edges[$0 + 1], 4) }
        let wl = lows.map(displayWidth).max() ?? 0, wh = highs.map(displayWidth).max() ?? 0
        let top = h.counts.max() ?? 0
        let counts = h.counts.map { Fmt.count($0) }
        let wc = counts.map(displayWidth).max() ?? 0
        for k in h.counts.indices {
            let bar = top == 0 ? "" : Self.bar(Double(h.counts[k]) / Double(top), width: barWidth)
            let close = h.counts.count == 1 ? "]" : ")"
            out += "  [" + String(repeating: " ", count: wl - displayWidth(lows[k])) + lows[k] + ", "
            out += highs[k] + close + String(repeating: " ", count: wh - displayWidth(highs[k])) + "  "
            out += style.cyan(bar) + String(repeating: " ", count: barWidth - displayWidth(bar)) + "  "
            out += String(repeating: " ", count: wc - displayWidth(counts[k])) + counts[k] + "\n"
        }
        if s.nans + s.infs > 0 {
            out += "  not counted: \(Fmt.count(s.nans)) NaN, \(Fmt.count(s.posInfs)) +inf, \(Fmt.count(s.negInfs)) -inf\n"
        }
        return out
    }

    /// A bar `fraction` of `width` cells long, in eighths; a non-zero fraction shows at least ▏.
    static func bar(_ fraction: Double, width: Int) -> String {
        guard fraction > 0 else { return "" }
        let eighths = Swift.max(1, Int((Swift.min(1, fraction) * Double(width * 8)).rounded()))
        let partials = ["", "▏", "▎", "▍", "▌", "▋", "▊", "▉"]
        return String(repeating: "█", count: eighths / 8) + partials[eighths % 8]
    }
}
