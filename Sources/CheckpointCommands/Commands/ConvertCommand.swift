import ArgumentParser
import CheckpointKit

struct ConvertCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "convert",
        abstract: "Convert a checkpoint between .ckpt, .npz, .safetensors, Keras and TensorFlow formats.",
        discussion: """
        The formats come from the file extensions (.ckpt, .npz, .safetensors, .keras, \
        .weights.h5, .h5, .weights.json; a TensorFlow checkpoint by its prefix, .index or folder) unless \
        --from/--to say otherwise; with --to tf-checkpoint the output names the checkpoint's \
        prefix. Tensors stream one at a time; the output is written to a temporary file \
        and renamed into place.

        What the output format cannot hold (the architecture in a .weights.h5, optimizer state in \
        a weights-only format, ...) is left out with a note on stderr; nothing is dropped \
        silently. A .npz or .safetensors output keeps what named arrays cannot say (optimizer \
        roles, class and step, trainability, metadata, architecture, the real dtype of bfloat16 \
        and float8 tensors, which a .npz stores as raw bits) in a ckpt index: the .npz archive \
        comment, the safetensors __metadata__ key "ckpt.index".
        """
    )

    @Argument(help: ArgumentHelp("The checkpoint to read.", valueName: "input"), completion: .file(extensions: CheckpointFiles.extensions))
    var input: String

    @Argument(help: ArgumentHelp("The file to write.", valueName: "output"), completion: .file(extensions: CheckpointFiles.extensions))
    var output: String

    @Option(name: .long, help: ArgumentHelp("Input format: \(FormatRegistry.formatNames.joined(separator: ", ")).", valueName: "format"), completion: .list(CheckpointFiles.formatNames))
    var from: String?

    @Option(name: .long, help: ArgumentHelp("Output format: \(FormatRegistry.writableNames.joined(separator: ", ")).", valueName: "format"), completion: .list(CheckpointFiles.formatNames))
    var to: String?

    @Option(name: .long, help: ArgumentHelp("Architecture JSON (model.to_json()) to pair with weights that lack one.", valueName: "model.json"),
            completion: .file(extensions: ["json"]))
    var architecture: String?

    @Option(name: .long, help: ArgumentHelp("Remove this prefix from tensor names (e.g. sequential/).", valueName: "prefix"))
    var stripPrefix: String?

    @Option(name: .customLong("meta"), help: ArgumentHelp("Add user metadata KEY=VALUE (repeatable; VALUE is JSON if it parses, else a string).", valueName: "key=value"))
    var meta: [String] = []

    @Option(name: .long, help: ArgumentHelp("safetensors (.index.json) and Keras .weights.json output: split into shards of at most this size (e.g. 500MB, 2GB).", valueName: "size"))
    var maxShardSize: String?

    @Flag(name: .long, help: "Write block-quantized tensors (GGUF Q4_K, Q8_0, …) as the float32 they decode to; without it they are refused.")
    var dequantize = false

    @Flag(name: .long, help: "Leave out entries of the input that are not tensors ckpt reads (complex or string .npy members, ...; inspect lists them) instead of refusing them; a note lists them.")
    var skipUnsupported = false

    @Flag(name: .long, help: "Replace the output if it exists.")
    var force = false

    @OptionGroup var reading: ReadingOptions

    @OptionGroup var display: DisplayOptions

    func run() throws {
        let console = Console.current
        let source = try CheckpointFiles.open(input, from: from, architecture: architecture, reading: reading)
        var options = Convert.Options(format: try CheckpointFiles.format(to), write: WriteOptions(overwrite: force))
        options.stripPrefix = stripPrefix
        options.metadata = try Metadata.pairs(meta)
        options.architecture = try CheckpointFiles.readArchitecture(architecture)
        options.write.maxShardSize = try maxShardSize.map { try SafetensorsWriter.parseSize($0) }
        options.write.dequantize = dequantize
        options.write.skipUnsupported = skipUnsupported
        let total = source.index.tensors.reduce(UInt64(0)) { $0 + UInt64($1.byteCount ?? 0) }
        let progress = ProgressReporter(console: console, enabled: display.showProgress(console), label: "convert", total: total)
        options.write.progress = { done, _ in progress.update(done: done) }
        let result = try Convert.run(source, to: output, options: options)
        progress.finish()
        for note in result.notes { console.print("note: \(note)", to: .err) }
        console.print(wrapLine("wrote \(escapeForDisplay(output)) (\(result.format.displayName), \(result.tensors) tensors)", width: display.wide ? .max : console.width))
    }
}

/// `--meta key=value` handling.
enum Metadata {
    static func pairs(_ pairs: [String]) throws -> [(String, JSONValue)] {
        var out: [(String, JSONValue)] = []
        for pair in pairs {
            guard let eq = pair.firstIndex(of: "="), eq != pair.startIndex else {
                throw CheckpointError(.invalidArgument, "--meta needs KEY=VALUE, got \"\(escapeForDisplay(pair))\"")
            }
            let key = String(pair[..<eq])
            let text = String(pair[pair.index(after: eq)...])
            let value = (try? JSONParser.parse(text)) ?? .string(text)
            out.append((key, value))
        }
        return out
    }
}

