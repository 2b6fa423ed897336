import ArgumentParser
import CheckpointKit

struct StripCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "strip",
        abstract: "Write a weights-only checkpoint: every weight, no optimizer state.",
        discussion: """
        Like Keras's ModelCheckpoint(save_weights_only=True): trainable and non-trainable weights \
        (e.g. BatchNormalization moving statistics) are kept; the optimizer's slots, step counter \
        and configuration are removed, and so is the architecture unless --keep-architecture. \
        From a .ckpt the compressed weight members are copied as they are, so stripping runs at \
        disk speed. The input is never modified; the output is written to a temporary file and \
        renamed into place.
        """
    )

    @Argument(help: ArgumentHelp("The full checkpoint.", valueName: "full"), completion: .file(extensions: CheckpointFiles.extensions))
    var input: String

    @Option(name: .shortAndLong, help: ArgumentHelp("Where to write the weights-only checkpoint (.ckpt, .npz, .safetensors, .weights.h5).", valueName: "weights"),
            completion: .file(extensions: CheckpointFiles.extensions))
    var output: String

    @Option(name: .long, help: ArgumentHelp("Read the input as this format.", valueName: "format"), completion: .list(CheckpointFiles.formatNames))
    var from: String?

    @Option(name: .long, help: ArgumentHelp("Write the output as this format (default: from its extension).", valueName: "format"), completion: .list(CheckpointFiles.formatNames))
    var to: String?

    @Option(name: .long, help: ArgumentHelp("Architecture JSON for an input that lacks one (a bare .weights.h5).", valueName: "model.json"),
            completion: .file(extensions: ["json"]))
    var architecture: String?

    @Flag(name: .long, help: "Keep the architecture JSON in the output.")
    var keepArchitecture = false

    @Flag(name: .long, help: "Replace the output if it exists (never the input).")
    var force = false

    @Flag(name: .long, help: "Re-read the output and check every weight is bit-identical to the input.")
    var verify = false

    @Flag(name: .long, help: "Print a JSON summary (schema ckpt.strip/1).")
    var json = false

    @OptionGroup var reading: ReadingOptions

    @OptionGroup var display: DisplayOptions

    func run() throws {
        let console = Console.current
        let source = try CheckpointFiles.open(input, from: from, architecture: architecture, reading: reading)
        let outFormat = try Convert.outputFormat(for: output, explicit: CheckpointFiles.format(to), default: .ckpt).id
        var options = WriteOptions(overwrite: force)
        let total = source.index.weights.reduce(UInt64(0)) { $0 + UInt64($1.byteCount ?? 0) }
        let progress = ProgressReporter(console: console, enabled: display.showProgress(console), label: "strip", total: total)
        options.progress = { done, _ in progress.update(done: done) }

        let summary = try Strip.run(source, to: output, format: outFormat, keepArchitecture: keepArchitecture, options: options)
        progress.finish()
        if !json { for note in summary.notes { console.print("note: \(note)", to: .err) } }

        if summary.nothingToStrip {
            let message = "\(escapeForDisplay(input)) is already a weights-only checkpoint: nothing to strip, \(escapeForDisplay(output)) was not written"
            if json {
                console.write(summary.json(input: input, output: output, verified: false).serialized(.pretty))
            } else {
                console.print(wrapLine(message, width: display.wide ? .max : console.width))
            }
            return
        }

        var verified = false
        if verify {
            // A Keras output names its tensors through the architecture, which a weights-only
            // output need not carry: reopen it with the input's.
            let written = try Checkpoints.open(output, format: outFormat, options: .init(architecture: source.index.architecture))
            try Strip.verify(input: source, output: written)
            verified = true
        }

        if json {
            console.write(summary.json(input: input, output: output, verified: verified).serialized(.pretty))
            return
        }
        let style = Style(enabled: display.useColor(console))
        var parts: [String] = []
        parts.append("removed \(summary.removedTensors) optimizer tensor\(summary.removedTensors == 1 ? "" : "s") (\(Fmt.count(summary.removedParams)) values)")
        if summary.removedOptimizerConfig { parts.append("the optimizer configuration") }
        if summary.removedArchitecture { parts.append("the architecture") }
        console.print(wrapLine("\(style.green("stripped")) \(escapeForDisplay(input)) → \(escapeForDisplay(output)): " + parts.joined(separator: ", "), width: display.wide ? .max : console.width))
        let saved = Int64(summary.inputBytes) - Int64(summary.outputBytes)
        let pct = summary.inputBytes == 0 ? 0 : Double(saved) / Double(summary.inputBytes) * 100
        console.print(wrapLine("kept \(summary.keptTensors) weight\(summary.keptTensors == 1 ? "" : "s") (\(Fmt.count(summary.keptParams)) params); \(Fmt.bytes(summary.inputBytes)) → \(Fmt.bytes(summary.outputBytes)), saved \(Fmt.bytes(UInt64(max(0, saved)))) (\(Fmt.fixed(pct, 1))%)", width: display.wide ? .max : console.width))
        if verified { console.print(style.green("verified") + ": every weight in the output is bit-identical to the input") }
    }
}
