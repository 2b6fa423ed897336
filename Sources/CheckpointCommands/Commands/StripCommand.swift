import ArgumentParser
import CheckpointKit

struct StripCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "strip",
        abstract: "Write a weights-only checkpoint: every weight, no optimizer state.",
        discussion: """
        Like Keras's ModelCheckpoint(save_weights_only=True): trainable and non-trainable weights \
        (e.g. BatchNormalization moving statistics) are kept; the optimizer's slots, step counter \
        and configuration are removed, and so is the architecture unless --keep-architecture (a \
        .keras output always holds it, with no compile configuration, so Keras loads it \
        uncompiled and without warnings). An input that is already weights-only is copied to the \
        output in the requested format. From a .ckpt the compressed weight members are copied as \
        they are, so stripping runs at disk speed. The input is never modified; the output is \
        written to a temporary file and renamed into place.
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

    @Flag(name: .long, help: "Re-read the output and check every weight against the input: identical by checksum (CRC-32 and size) for copied .ckpt members, else byte for byte.")
    var verify = false

    @Flag(name: .long, help: "With --verify: compare every weight byte for byte, even where the checksums already agree.")
    var full = false

    @Flag(name: .long, help: "Leave out entries of the input that are not tensors ckpt reads (listed by inspect) instead of refusing them.")
    var skipUnsupported = false

    @Flag(name: .long, help: "Print a JSON summary (schema ckpt.strip/1).")
    var json = false

    @OptionGroup var reading: ReadingOptions

    @OptionGroup var display: DisplayOptions

    func validate() throws {
        if full && !verify { throw ValidationError("--full applies to --verify; add --verify") }
    }

    func run() throws {
        let console = Console.current
        let source = try CheckpointFiles.open(input, from: from, architecture: architecture, reading: reading)
        let outFormat = try Convert.outputFormat(for: output, explicit: CheckpointFiles.format(to), default: .ckpt).id
        var options = WriteOptions(overwrite: force)
        options.skipUnsupported = skipUnsupported
        let total = source.index.weights.reduce(UInt64(0)) { $0 + UInt64($1.byteCount ?? 0) }
        let progress = ProgressReporter(console: console, enabled: display.showProgress(console), label: "strip", total: total)
        options.progress = { done, _ in progress.update(done: done) }

        let summary = try Strip.run(source, to: output, format: outFormat, keepArchitecture: keepArchitecture, options: options)
        progress.finish()
        if !json { for note in summary.notes { console.print("note: \(note)", to: .err) } }

        var verified: Strip.Verified?
        if verify {
            // A Keras output names its tensors through the architecture, which a weights-only
            // output need not carry: reopen it with the input's.
            let written = try Checkpoints.open(output, format: outFormat, options: .init(architecture: source.index.architecture))
            verified = try Strip.verify(input: source, output: written, full: full)
        }

        if json {
            console.write(summary.json(input: input, output: output, verified: verified).serialized(.pretty))
            return
        }
        let style = Style(enabled: display.useColor(console))
        if summary.nothingToStrip {
            console.print(wrapLine("\(escapeForDisplay(input)) is already a weights-only checkpoint: nothing to strip; wrote a copy to \(escapeForDisplay(output)) (\(outFormat.displayName), \(summary.keptTensors) weight\(summary.keptTensors == 1 ? "" : "s"))", width: display.wide ? .max : console.width))
        } else {
            var parts: [String] = []
            parts.append("removed \(summary.removedTensors) optimizer tensor\(summary.removedTensors == 1 ? "" : "s") (\(Fmt.count(summary.removedParams)) values)")
            if summary.removedOptimizerConfig { parts.append("the optimizer configuration") }
            if summary.removedArchitecture { parts.append("the architecture") }
            var line = "\(style.green("stripped")) \(escapeForDisplay(input)) → \(escapeForDisplay(output)): " + parts.joined(separator: ", ")
            if summary.keptArchitecture { line += "; kept the architecture" + (outFormat == .keras && !keepArchitecture ? " (a .keras file always holds it)" : "") }
            console.print(wrapLine(line, width: display.wide ? .max : console.width))
            let saved = Int64(summary.inputBytes) - Int64(summary.outputBytes)
            let pct = summary.inputBytes == 0 ? 0 : Double(saved) / Double(summary.inputBytes) * 100
            console.print(wrapLine("kept \(summary.keptTensors) weight\(summary.keptTensors == 1 ? "" : "s") (\(Fmt.count(summary.keptParams)) params); \(Fmt.bytes(summary.inputBytes)) → \(Fmt.bytes(summary.outputBytes)), saved \(Fmt.bytes(UInt64(max(0, saved)))) (\(Fmt.fixed(pct, 1))%)", width: display.wide ? .max : console.width))
        }
        if let v = verified {
            let n = v.byChecksum + v.byBytes
            let how: String
            if v.byChecksum == 0 {
                how = "every weight in the output is bit-identical to the input (\(n) compared byte for byte)"
            } else if v.byBytes == 0 {
                how = "every weight in the output is identical to the input by checksum (\(n) copied members: CRC-32 and size recomputed and equal; --full compares bytes)"
            } else {
                how = "every weight in the output matches the input: \(v.byBytes) bit-identical (bytes compared), \(v.byChecksum) identical by checksum (CRC-32 and size; --full compares bytes)"
            }
            console.print(wrapLine(style.green("verified") + ": " + how, width: display.wide ? .max : console.width))
        }
    }
}
