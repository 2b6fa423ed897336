import CheckpointKit

/// A numpy-style selection of a tensor's elements: `[0:4, -3:]`, `[2]`, `[:, 1, ::2]`.
struct TensorSlice: Equatable {
    enum Part: Equatable {
        case index(Int)
        case range(start: Int?, stop: Int?, step: Int?)
    }
    var parts: [Part]

    /// Parses `[a:b:c, i, ...]` (the brackets are optional).
    init(_ text: String) throws {
        var t = Substring(text.filter { $0 != " " })
        if t.first == "[" && t.last == "]" { t = t.dropFirst().dropLast() }
        func bad() -> CheckpointError {
            CheckpointError(.invalidArgument, "--values \"\(escapeForDisplay(text))\" is not a slice",
                            hint: "numpy slices: --values '[0:4, -3:]', --values '[2]', --values '[:, ::2]', or a count: --values 10")
        }
        func int(_ s: Substring) throws -> Int? {
            if s.isEmpty { return nil }
            guard let v = Int(s) else { throw bad() }
            return v
        }
        parts = []
        guard !t.isEmpty else { return }
        for piece in t.split(separator: ",", omittingEmptySubsequences: false) {
            let fields = piece.split(separator: ":", omittingEmptySubsequences: false)
            switch fields.count {
            case 1:
                guard let i = try int(fields[0]) else { throw bad() }
                parts.append(.index(i))
            case 2, 3:
                let step = fields.count == 3 ? try int(fields[2]) : nil
                if step == 0 { throw bad() }
                parts.append(.range(start: try int(fields[0]), stop: try int(fields[1]), step: step))
            default:
                throw bad()
            }
        }
    }

    /// The indices chosen along each axis, and whether the axis is kept in the result's shape
    /// (numpy's rules: negative indices count from the end, ranges are clipped).
    func axes(for shape: [Int], name: String) throws -> [(indices: [Int], kept: Bool)] {
        guard parts.count <= shape.count else {
            throw CheckpointError(.invalidArgument, "--values has \(parts.count) indices for tensor \"\(escapeForDisplay(name))\", which has \(shape.count) dimension\(shape.count == 1 ? "" : "s") \(Fmt.shape(shape))")
        }
        var out: [(indices: [Int], kept: Bool)] = []
        for (axis, n) in shape.enumerated() {
            let part = axis < parts.count ? parts[axis] : .range(start: nil, stop: nil, step: nil)
            switch part {
            case .index(let i):
                let k = i < 0 ? i + n : i
                guard k >= 0, k < n else {
                    throw CheckpointError(.invalidArgument, "index \(i) is out of bounds for axis \(axis) of tensor \"\(escapeForDisplay(name))\" with size \(n)")
                }
                out.append(([k], false))
            case .range(let start, let stop, let step):
                let s = step ?? 1
                func clip(_ v: Int?, _ dflt: Int) -> Int {
                    guard var v else { return dflt }
                    if v < 0 { v += n }
                    return s > 0 ? min(max(v, 0), n) : min(max(v, -1), n - 1)
                }
                let lo = clip(start, s > 0 ? 0 : n - 1), hi = clip(stop, s > 0 ? n : -1)
                out.append((Array(stride(from: lo, to: hi, by: s)), true))
            }
        }
        return out
    }
}

/// Reading and printing a selection of a tensor's values.
enum TensorValues {
    private struct Enough: Error {}

    /// The most elements a selection may hold (printed or extracted through a selection).
    static let maxElements = 50_000_000

    /// The selected elements' bytes, in row-major order of the selection, and its shape.
    static func gather(_ source: any TensorSource, tensor i: Int, slice: TensorSlice) throws -> (bytes: [UInt8], shape: [Int]) {
        let info = source.index.tensors[i]
        let axes = try slice.axes(for: info.shape, name: info.name)
        var count = 1
        for a in axes {
            let (m, o) = count.multipliedReportingOverflow(by: a.indices.count)
            guard !o, m <= maxElements else {
                throw CheckpointError(.invalidArgument, "the selection of \"\(escapeForDisplay(info.name))\" has more than \(Fmt.count(maxElements)) elements",
                                      hint: "select fewer, or extract the whole tensor with --format npy -o FILE")
            }
            count = m
        }
        // Row-major linear index of every selected element.
        var strides = Array(repeating: 1, count: info.shape.count)
        for k in stride(from: info.shape.count - 2, through: 0, by: -1) { strides[k] = strides[k + 1] &* info.shape[k + 1] }
        var linear: [Int] = [0]
        for (k, a) in axes.enumerated() {
            var next: [Int] = []
            next.reserveCapacity(linear.count * a.indices.count)
            for base in linear { for j in a.indices { next.append(base + j * strides[k]) } }
            linear = next
        }
        if count == 0 { linear = [] }
        let item = info.dtype.itemSize
        let needed = Array(Set(linear)).sorted()
        var slot: [Int: Int] = [:]
        for (k, e) in needed.enumerated() { slot[e] = k }
        var compact = [UInt8](repeating: 0, count: needed.count * item)
        var ptr = 0
        var position = 0
        if !needed.isEmpty {
            do {
                for p in source.pieces(of: i).indices {
                    try source.readPiece(i, p) { chunk in
                        let c0 = position, c1 = position + chunk.count
                        position = c1
                        while ptr < needed.count {
                            let s = needed[ptr] * item, e = s + item
                            if s >= c1 { break }
                            let from = max(s, c0), to = min(e, c1)
                            if to > from {
                                for b in from..<to { compact[ptr * item + (b - s)] = chunk[b - c0] }
                            }
                            if e <= c1 { ptr += 1 } else { break }
                        }
                        if ptr >= needed.count { throw Enough() }
                    }
                }
            } catch is Enough {}
        }
        guard ptr >= needed.count else {
            throw CheckpointError(.corrupt, "the tensor's data ends before its shape says", file: source.path, member: info.name)
        }
        var out: [UInt8] = []
        out.reserveCapacity(linear.count * item)
        for e in linear {
            let k = slot[e] ?? 0
            out.append(contentsOf: compact[(k * item)..<((k + 1) * item)])
        }
        return (out, axes.filter(\.kept).map(\.indices.count))
    }

    /// numpy's layout: nested brackets following the shape, values right-aligned to a common
    /// width, each at its dtype's precision (the shortest text that reads back as the same value).
    static func render(_ dtype: DType, _ bytes: [UInt8], shape: [Int], width: Int = 80) -> String {
        let n = bytes.count / max(1, dtype.itemSize)
        let items = bytes.withUnsafeBytes { b in (0..<n).map { Elements.text(dtype, b, at: $0) } }
        guard !shape.isEmpty else { return items.first ?? "" }
        let w = items.map(displayWidth).max() ?? 0
        let padded = items.map { String(repeating: " ", count: w - displayWidth($0)) + $0 }
        var next = 0
        func block(_ level: Int) -> String {
            let indent = String(repeating: " ", count: level + 1)
            if level == shape.count - 1 {
                let row = padded[next..<min(padded.count, next + shape[level])]
                next += shape[level]
                var lines: [String] = []
                var line = "["
                for (k, v) in row.enumerated() {
                    let piece = v + (k == row.count - 1 ? "" : ", ")
                    if displayWidth(line) + displayWidth(piece) > width - level, line != "[" {
                        lines.append(String(line.dropLast(line.hasSuffix(" ") ? 1 : 0)))
                        line = indent
                    }
                    line += piece
                }
                lines.append(line + "]")
                return lines.joined(separator: "\n" + String(repeating: " ", count: level))
            }
            var children: [String] = []
            for _ in 0..<shape[level] { children.append(block(level + 1)) }
            let gap = ",\n" + String(repeating: "\n", count: max(0, shape.count - level - 2)) + indent
            return "[" + children.joined(separator: gap) + "]"
        }
        return block(0)
    }

    /// `--format csv`: the last axis as columns, every other axis flattened into rows.
    static func csv(_ dtype: DType, _ bytes: [UInt8], shape: [Int]) -> String {
        let n = bytes.count / max(1, dtype.itemSize)
        let items = bytes.withUnsafeBytes { b in (0..<n).map { Elements.text(dtype, b, at: $0) } }
        let columns = max(1, shape.last ?? 1)
        var out = ""
        var k = 0
        while k < items.count {
            out += items[k..<min(items.count, k + columns)].joined(separator: ",") + "\n"
            k += columns
        }
        return out
    }

    /// Writes the selection (or the whole tensor, streamed, when there is no selection and the
    /// format is npy or raw) to `path`, atomically.
    static func extract(_ source: any TensorSource, tensor i: Int, slice: TensorSlice?, format: String, to path: String, overwrite: Bool) throws {
        let info = source.index.tensors[i]
        let out = try AtomicOutputFile(destination: path, overwrite: overwrite, inputs: source.inputFiles)
        do {
            if slice == nil && format != "csv" {
                if format == "npy" { try out.append(NPY.header(dtype: info.dtype, shape: info.shape)) }
                for p in source.pieces(of: i).indices {
                    try source.readPiece(i, p) { chunk in try out.append(chunk) }
                }
            } else {
                let (bytes, shape) = try gather(source, tensor: i, slice: slice ?? TensorSlice(""))
                switch format {
                case "npy": try out.append(NPY.header(dtype: info.dtype, shape: shape)); try out.append(bytes)
                case "raw": try out.append(bytes)
                default: try out.append(Array(csv(info.dtype, bytes, shape: shape).utf8))
                }
            }
            try out.commit()
        } catch {
            out.abort()
            throw error
        }
    }
}
