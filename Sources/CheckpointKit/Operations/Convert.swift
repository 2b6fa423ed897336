/// Any readable checkpoint → any writable format, keeping what the destination can hold and
/// naming what it cannot.
public enum Convert {
    public struct Options: Sendable {
        /// The output format; nil: from the output's name.
        public var format: CheckpointFormat?
        public var write: WriteOptions
        /// Removed from the start of every tensor name (`sequential/`).
        public var stripPrefix: String?
        /// Added to (or replacing keys of) the checkpoint's metadata.
        public var metadata: [(String, JSONValue)] = []
        /// An architecture for a checkpoint that carries none.
        public var architecture: [UInt8]?

        public init(format: CheckpointFormat? = nil, write: WriteOptions = WriteOptions()) {
            self.format = format
            self.write = write
        }
    }

    public struct Result: Sendable {
        public var format: CheckpointFormat
        /// Files written (a set: the index first, then its shards).
        public var paths: [String]
        public var tensors: Int
        /// What the destination could not hold, one sentence each.
        public var notes: [String]
    }

    /// The format to write `path` as: `explicit`, else the one its name says.
    public static func outputFormat(for path: String, explicit: CheckpointFormat?, default fallback: CheckpointFormat? = nil) throws -> any FileFormat {
        if let explicit {
            guard let f = FormatRegistry.format(explicit) else {
                throw CheckpointError(.invalidArgument, "unknown format \"\(escapeForDisplay(explicit.rawValue))\"",
                                      hint: "use one of " + FormatRegistry.writableNames.joined(separator: ", "))
            }
            return f
        }
        if let f = FormatRegistry.claiming(path: path) ?? fallback.flatMap({ FormatRegistry.format($0) }) { return f }
        throw CheckpointError(.invalidArgument, "cannot tell the output format from the name \"\(escapeForDisplay(path))\"",
                              hint: "use an extension (" + FormatRegistry.all.filter(\.canWrite).flatMap(\.suffixes).joined(separator: ", ") + ") or --to")
    }

    /// `source` reduced to what `format` holds, and a note for each thing left out: optimizer
    /// tensors (removed when the format holds weights only), and — noted, left for the writer to
    /// ignore — the optimizer's configuration, the architecture, the metadata and which weights
    /// are not trainable.
    public static func fit(_ source: any TensorSource, to format: any FileFormat) throws -> (any TensorSource, [String]) {
        // safetensors cannot share data between tensors: tied weights are written once.
        if format.id == .safetensors, let (once, notes) = try SharedTensors.writeOnce(source) {
            let (fitted, more) = try fitParts(once, to: format)
            return (fitted, notes + more)
        }
        return try fitParts(source, to: format)
    }

    private static func fitParts(_ source: any TensorSource, to format: any FileFormat) throws -> (any TensorSource, [String]) {
        let index = source.index
        let parts = format.parts
        let name = format.displayName
        var notes: [String] = []
        var fitted = source
        if !parts.contains(.optimizerState) {
            let kept = index.tensors.indices.filter { index.tensors[$0].role == .weight }
            let left = index.tensors.count - kept.count
            if left > 0 || index.optimizer != nil {
                if left > 0 {
                    notes.append("\(left) optimizer tensor\(left == 1 ? " was" : "s were") left out: \(name) holds weights only")
                }
                var out = index
                out.tensors = kept.map { index.tensors[$0] }
                out.optimizer = nil
                fitted = try ComposedSource(selecting: kept, of: source, index: out)
            }
        } else if !parts.contains(.optimizerConfig), let o = index.optimizer {
            notes.append("the optimizer's configuration (\(o.className)\(o.learningRate.map { ", learning rate \(shortNumber($0))" } ?? "")) was left out: \(name) holds the optimizer's variables (its step among them), not its configuration")
        }
        if !parts.contains(.architecture), index.architecture != nil {
            notes.append("the architecture was left out: \(name) holds none (give it back with --architecture)")
        }
        if !parts.contains(.metadata), let m = index.metadata.objectValue, !m.isEmpty {
            let keys = m.prefix(4).map { escapeForDisplay($0.0) }.joined(separator: ", ") + (m.count > 4 ? ", …" : "")
            notes.append("the metadata (\(keys)) was left out: \(name) holds none")
        }
        if !parts.contains(.trainability), index.trainabilityKnown {
            let frozen = index.weights.filter { !$0.trainable }
            if !frozen.isEmpty {
                notes.append("\(frozen.count) weight\(frozen.count == 1 ? " is" : "s are") not trainable (\(NPZWriter.examples(frozen))), which \(name) does not record")
            }
        }
        return (fitted, notes)
    }

    static func shortNumber(_ x: Double) -> String {
        let f = Float(x)
        return Double(f) == x ? "\(f)" : "\(x)"
    }

    /// Writes `source` to `path` (atomically; never over an input file).
    @discardableResult
    public static func run(_ source: any TensorSource, to path: String, options: Options = Options()) throws -> Result {
        let format = try outputFormat(for: path, explicit: options.format)
        var index = source.index
        var changed = false
        if let prefix = options.stripPrefix, !prefix.isEmpty {
            index.tensors = index.tensors.map { t in
                var t = t
                if t.name.hasPrefix(prefix) { t.name = String(t.name.dropFirst(prefix.count)) }
                if let w = t.weight, w.hasPrefix(prefix) { t.weight = String(w.dropFirst(prefix.count)) }
                return t
            }
            changed = true
        }
        if !options.metadata.isEmpty {
            var m = index.metadata.objectValue == nil ? JSONValue.object([]) : index.metadata
            for (k, v) in options.metadata { m = m.setting(k, to: v) }
            index.metadata = m
            changed = true
        }
        if index.architecture == nil, let a = options.architecture {
            index.architecture = a
            changed = true
        }
        let input: any TensorSource = changed ? try ComposedSource(renaming: source, as: index) : source
        return try write(input, as: format, to: path, options: options.write)
    }

    /// Fits `source` to `format` and writes it; the writer never replaces a file `source` reads.
    public static func write(_ source: any TensorSource, as format: any FileFormat, to path: String, options: WriteOptions) throws -> Result {
        guard format.canWrite else {
            throw CheckpointError(.unsupported, "ckpt reads \(format.displayName) files but does not write them", file: path,
                                  hint: "write one of: " + FormatRegistry.writableNames.joined(separator: ", "))
        }
        if options.maxShardSize != nil && format.id != .safetensors && format.id != .kerasShardedWeights {
            throw CheckpointError(.invalidArgument, "--max-shard-size applies to safetensors and Keras .weights.json output only, not \(format.displayName)")
        }
        let quantized = source.index.tensors.filter { $0.quantization != nil }
        if let first = quantized.first, !options.dequantize {
            throw CheckpointError(.unsupported, "tensor \"\(escapeForDisplay(first.name))\" is stored quantized as \(first.quantization ?? "?")\(quantized.count > 1 ? " (and \(quantized.count - 1) more quantized tensors)" : ""), which \(format.displayName) cannot hold",
                                  file: source.path, member: first.name, hint: "convert with --dequantize to write them as float32")
        }
        var skipped: [String] = []
        if let first = source.index.unsupported.first {
            let all = source.index.unsupported
            guard options.skipUnsupported else {
                throw CheckpointError(.unsupported, "\(first.what) is not a tensor ckpt reads (\(first.reason))\(all.count > 1 ? "; \(all.count - 1) more such entr\(all.count == 2 ? "y" : "ies") follow" : "")",
                                      file: source.path, member: first.name, offset: first.offset,
                                      hint: "convert with --skip-unsupported to write the tensors without them (`ckpt inspect` lists them)")
            }
            let shown = all.prefix(5).map { "\"\(escapeForDisplay($0.name))\" (\($0.what))" }.joined(separator: ", ")
            skipped.append("left out \(all.count) unsupported entr\(all.count == 1 ? "y" : "ies") of \(escapeForDisplay(source.path)): \(shown)\(all.count > 5 ? ", …" : "")")
        }
        var (fitted, notes) = try fit(source, to: format)
        notes = skipped + notes
        if !quantized.isEmpty {
            let kinds = Set(quantized.compactMap(\.quantization)).sorted().joined(separator: ", ")
            notes.append("\(quantized.count) quantized tensor\(quantized.count == 1 ? " was" : "s were") written as float32, decoded from \(kinds)")
        }
        var options = options
        options.inputs += source.inputFiles
        if options.layoutArchitecture == nil { options.layoutArchitecture = source.index.architecture }
        let written = try format.write(fitted, to: path, options: options)
        return Result(format: format.id, paths: written.paths, tensors: written.tensors, notes: notes + written.notes)
    }
}
