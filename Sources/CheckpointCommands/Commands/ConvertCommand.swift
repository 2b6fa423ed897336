import ArgumentParser
import CheckpointKit

struct ConvertCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "convert",
        abstract: "Convert a checkpoint between .ckpt, .npz, .safetensors and Keras formats.",
        discussion: """
        The formats come from the file extensions (.ckpt, .npz, .safetensors, .keras, \
        .weights.h5, .h5) unless --from/--to say otherwise. Tensors stream one at a time; the \
        output is written to a temporary file and renamed into place.
        """
    )

    @Argument(help: ArgumentHelp("The checkpoint to read.", valueName: "input"), completion: .file(extensions: CheckpointFiles.extensions))
    var input: String

    @Argument(help: ArgumentHelp("The file to write.", valueName: "output"), completion: .file(extensions: CheckpointFiles.extensions))
    var output: String

    @Option(name: .long, help: ArgumentHelp("Input format: ckpt, npz, safetensors, keras, weights.h5, h5.", valueName: "format"), completion: .list(CheckpointFiles.formatNames))
    var from: String?

    @Option(name: .long, help: ArgumentHelp("Output format: ckpt, npz, safetensors, keras, weights.h5.", valueName: "format"), completion: .list(CheckpointFiles.formatNames))
    var to: String?

    @Option(name: .long, help: ArgumentHelp("Architecture JSON (model.to_json()) to pair with weights that lack one.", valueName: "model.json"),
            completion: .file(extensions: ["json"]))
    var architecture: String?

    @Option(name: .long, help: ArgumentHelp("Remove this prefix from tensor names (e.g. sequential/).", valueName: "prefix"))
    var stripPrefix: String?

    @Option(name: .customLong("meta"), help: ArgumentHelp("Add user metadata KEY=VALUE (repeatable; VALUE is JSON if it parses, else a string).", valueName: "key=value"))
    var meta: [String] = []

    @Option(name: .long, help: ArgumentHelp("safetensors output: split into shards of at most this size (e.g. 500MB, 2GB).", valueName: "size"))
    var maxShardSize: String?

    @Flag(name: .long, help: "Replace the output if it exists.")
    var force = false

    @OptionGroup var display: DisplayOptions

    func run() throws {
        let console = Console.current
        let source = try CheckpointFiles.open(input, from: from, architecture: architecture)
        let outFormat = try CheckpointFiles.format(to) ?? CheckpointFormat.fromExtension(output)
        guard let outFormat else {
            throw CheckpointError(.invalidArgument, "cannot tell the output format from the name \"\(escapeForDisplay(output))\"",
                                  hint: "use an extension (.ckpt, .npz, .safetensors, .keras, .weights.h5) or --to")
        }
        var index = source.index
        if let stripPrefix {
            index.tensors = index.tensors.map { t in
                var t = t
                if t.name.hasPrefix(stripPrefix) { t.name = String(t.name.dropFirst(stripPrefix.count)) }
                if let w = t.weight, w.hasPrefix(stripPrefix) { t.weight = String(w.dropFirst(stripPrefix.count)) }
                return t
            }
        }
        index.metadata = try Metadata.apply(meta, to: index.metadata)
        if let arch = try CheckpointFiles.readArchitecture(architecture), index.architecture == nil {
            index.architecture = arch
        }
        let inputs = try [ReadableFile(path: input)]
        var options = WriteOptions(overwrite: force, inputs: inputs)
        let total = index.tensors.reduce(UInt64(0)) { $0 + UInt64($1.byteCount ?? 0) }
        let progress = ProgressReporter(console: console, enabled: display.showProgress(console), label: "convert", total: total)
        options.progress = { done, _ in progress.update(done: done) }
        let payloads = index.tensors.indices.map { TensorPayload.source(source, $0) }
        let written = try Exporters.write(index: index, payloads: payloads, source: source, format: outFormat, to: output, options: options,
                                          maxShardSize: maxShardSize)
        progress.finish()
        console.print("wrote \(escapeForDisplay(output)) (\(outFormat.displayName), \(written) tensors)", to: .err)
    }
}

/// `--meta key=value` handling.
enum Metadata {
    static func apply(_ pairs: [String], to base: JSONValue) throws -> JSONValue {
        var v = base.objectValue == nil ? JSONValue.object([]) : base
        for pair in pairs {
            guard let eq = pair.firstIndex(of: "="), eq != pair.startIndex else {
                throw CheckpointError(.invalidArgument, "--meta needs KEY=VALUE, got \"\(escapeForDisplay(pair))\"")
            }
            let key = String(pair[..<eq])
            let text = String(pair[pair.index(after: eq)...])
            let value = (try? JSONParser.parse(text)) ?? .string(text)
            v = v.setting(key, to: value)
        }
        return v
    }
}

/// Writing any output format from an index and payloads.
enum Exporters {
    /// Writes `index` as `format`; returns how many tensors were written.
    @discardableResult
    static func write(index: CheckpointIndex, payloads: [TensorPayload], source: any TensorSource, format: CheckpointFormat,
                      to path: String, options: WriteOptions, maxShardSize: String?) throws -> Int {
        if maxShardSize != nil && format != .safetensors {
            throw CheckpointError(.invalidArgument, "--max-shard-size applies to safetensors output only, not \(format.displayName)")
        }
        switch format {
        case .ckpt:
            try CheckpointWriter.write(index, payloads: payloads, to: path, options: options)
            return index.tensors.count
        case .npz:
            try NPZWriter.write(IndexedSource(index: index, payloads: payloads, base: source), to: path, options: options)
            return index.tensors.count
        case .safetensors:
            // `path` is the file, or (with --max-shard-size, or a name ending in .index.json) the
            // index of a sharded set written next to it. safetensors holds weights only: optimizer
            // state is left out (say so), and the user metadata goes into `__metadata__`.
            let maxSize = try maxShardSize.map { try SafetensorsWriter.parseSize($0) }
            var options = options
            if let st = source as? SafetensorsSource {
                options.inputs += st.files // never replace a shard of the input set
            }
            let weights = index.tensors.indices.filter { index.tensors[$0].role == .weight }
            let left = index.tensors.count - weights.count
            try SafetensorsWriter.write(IndexedSource(index: index, payloads: payloads, base: source), tensors: weights, to: path,
                                        options: options, maxShardSize: maxSize)
            if left > 0 {
                Console.current.print("note: \(left) optimizer tensor\(left == 1 ? " was" : "s were") left out: safetensors holds weights only", to: .err)
            }
            return weights.count
        case .keras, .kerasWeightsH5, .kerasLegacyH5:
            // Laid out by the architecture: the index's, else the source's (a weights-only index
            // made by `strip` from a full checkpoint carries none). Never replace a source file.
            var options = options
            if let st = source as? SafetensorsSource { options.inputs += st.files }
            try KerasFiles.write(index, payloads: payloads, to: path, format: format, architecture: source.index.architecture, options: options)
            return index.tensors.count
        }
    }
}

/// A source presenting a (possibly renamed) index over payloads, so writers of every format
/// read tensors the same way.
final class IndexedSource: TensorSource {
    let index: CheckpointIndex
    let payloads: [TensorPayload]
    let base: any TensorSource
    var path: String { base.path }
    var format: CheckpointFormat { base.format }

    init(index: CheckpointIndex, payloads: [TensorPayload], base: any TensorSource) {
        self.index = index
        self.payloads = payloads
        self.base = base
    }

    func pieces(of i: Int) -> [Range<Int>] {
        switch payloads[i] {
        case .source(let s, let k): return s.pieces(of: k)
        case .copy(let a, let k): return a.pieces(of: k)
        default: return [0..<(index.tensors[i].byteCount ?? 0)]
        }
    }

    func readPiece(_ i: Int, _ p: Int, _ body: (UnsafeRawBufferPointer) throws -> Void) throws -> UInt32 {
        switch payloads[i] {
        case .source(let s, let k): return try s.readPiece(k, p, body)
        case .copy(let a, let k): return try a.readPiece(k, p, body)
        case .bytes(let b): try b.withUnsafeBytes(body); return 0
        case .fill(let pattern):
            let n = index.tensors[i].elementCount ?? 0
            var chunk: [UInt8] = []
            let per = max(1, (1 << 20) / max(1, pattern.count))
            var left = n
            while left > 0 {
                let k = min(left, per)
                if chunk.count != k * pattern.count { chunk = Array((0..<k).flatMap { _ in pattern }) }
                try chunk.withUnsafeBytes(body)
                left -= k
            }
            return 0
        }
    }

    func verifyPieces(of i: Int, crcs: [UInt32]) throws {
        switch payloads[i] {
        case .source(let s, let k): try s.verifyPieces(of: k, crcs: crcs)
        case .copy(let a, let k): try a.verifyPieces(of: k, crcs: crcs)
        default: break
        }
    }
}
