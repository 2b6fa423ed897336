import ArgumentParser
import CheckpointKit

struct InspectCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inspect",
        abstract: "Show what a checkpoint holds, without loading a framework.",
        discussion: """
        Reads only the index (ZIP directory and manifest) unless --stats, --values or --verify \
        ask for tensor data. Works on .ckpt, .npz, .safetensors, .keras, .weights.h5 and .h5 files, \
        TensorFlow checkpoints and SavedModel folders (the key each tensor is stored under is shown \
        beside its name).

        --stats adds each tensor's distribution as a 20-bin histogram (a large one for \
        --tensor NAME; counts and edges in --json): the finite values, in equal bins covering \
        [min, max], with exact counts; NaN and ±inf are counted apart; when every value is \
        equal there is one bin.
        """
    )

    @Argument(help: ArgumentHelp("The checkpoint to inspect.", valueName: "file"), completion: .file(extensions: CheckpointFiles.extensions))
    var file: String

    @Option(name: .long, help: ArgumentHelp("Read the file as this format: ckpt, npz, safetensors, keras, weights.h5, h5.", valueName: "format"), completion: .list(CheckpointFiles.formatNames))
    var from: String?

    @Option(name: .long, help: ArgumentHelp("Architecture JSON (model.to_json()) for a bare .weights.h5.", valueName: "model.json"), completion: .file(extensions: ["json"]))
    var architecture: String?

    @Flag(name: .long, help: "Print JSON (schema ckpt.inspect/1) instead of tables.")
    var json = false

    @Option(name: .long, help: ArgumentHelp("Only tensors whose name matches this glob (*, ?, [...]).", valueName: "glob"))
    var filter: String?

    @Flag(name: .long, help: "Per-tensor min, max, mean, std, zeros, NaN and Inf counts, and a histogram (reads all data).")
    var stats = false

    @Option(name: .long, help: ArgumentHelp("Show one tensor.", valueName: "name"))
    var tensor: String?

    @Option(name: .long, help: ArgumentHelp("With --tensor: print the first N values (row-major), or a numpy slice such as '[0:4, -3:]' laid out as numpy prints it.", valueName: "N|slice"))
    var values: String?

    @Option(name: .long, help: ArgumentHelp("With --tensor and -o: write the tensor (or the --values slice) as npy, raw (bytes, little-endian) or csv.", valueName: "npy|raw|csv"))
    var format: String?

    @Option(name: [.customShort("o"), .long], help: ArgumentHelp("With --format: the file to write.", valueName: "file"), completion: .file())
    var output: String?

    @Flag(name: .long, help: "With -o or --report: replace an existing output file.")
    var force = false

    @Flag(name: .long, help: "Print the architecture (model.to_json(), with the compile config) and the optimizer's configuration as formatted JSON.")
    var config = false

    @Option(name: .long, help: ArgumentHelp("Show one layer: its configuration (JSON) and its tensors.", valueName: "name"))
    var layer: String?

    @Flag(name: .long, help: "Read every tensor in full, checking sizes, structure and whatever checksum the format keeps (CRC-32, fletcher32), and say which; adds each tensor's SHA-256 to --json; exit 2 on any mismatch.")
    var verify = false

    @Option(name: .long, help: ArgumentHelp("Also write a self-contained HTML page (summary, charts, tables; histograms with --stats) to this file; - for stdout.", valueName: "file.html"),
            completion: .file(extensions: ["html"]))
    var report: String?

    @Flag(name: .long, help: "PyTorch files: show objects the pickle names outside the tensor allow-list as placeholders instead of refusing the file (nothing is run either way).")
    var lenient = false

    @OptionGroup var reading: ReadingOptions

    @OptionGroup var display: DisplayOptions

    func validate() throws {
        if report == "-" && json { throw ValidationError("--report - and --json both write to stdout; give --report a file name") }
        if let n = valuesCount, n < 0 { throw ValidationError("--values must be 0 or more") }
        if values != nil && tensor == nil { throw ValidationError("--values needs --tensor NAME") }
        if let format, !["npy", "raw", "csv"].contains(format) { throw ValidationError("--format must be npy, raw or csv") }
        if (format == nil) != (output == nil) { throw ValidationError("--format and -o go together: --format npy -o FILE") }
        if format != nil && tensor == nil { throw ValidationError("--format needs --tensor NAME") }
        if layer != nil && tensor != nil { throw ValidationError("--layer and --tensor each choose what to show; give one") }
    }

    /// `--values N`: a count (the first N values); anything else is a slice.
    var valuesCount: Int? { values.flatMap { Int($0.trimmingSpaces()) } }

    func run() throws {
        let console = Console.current
        let source = try CheckpointFiles.open(file, from: from, architecture: architecture, lenient: lenient, reading: reading)
        if config {
            console.write(try InspectConfig.document(source, file: file).serialized(.pretty))
            return
        }
        let style = Style(enabled: display.useColor(console) && !json)
        let index = source.index

        var selected = Array(index.tensors.indices)
        if let filter {
            let glob = Glob(filter)
            selected = selected.filter { glob.matches(index.tensors[$0].name) }
        }
        if let tensor {
            guard let k = source.tensorIndex(named: tensor) else {
                throw CheckpointError(.noSuchTensor, "no tensor is named \"\(escapeForDisplay(tensor))\"", file: file,
                                      hint: Suggest.closest(tensor, among: index.tensors.map(\.name)).map { "did you mean \"\(escapeForDisplay($0))\"?" }
                                          ?? "`ckpt inspect \(file)` lists the tensors")
            }
            selected = [k]
        }
        var layerConfig: JSONValue? = nil
        if let layer {
            let found = try InspectConfig.layer(layer, in: source, file: file)
            layerConfig = found.config
            selected = found.tensors
        }
        if let format, let output, let k = selected.first, tensor != nil {
            let slice = try values.flatMap { valuesCount == nil ? try TensorSlice($0) : nil }
            try TensorValues.extract(source, tensor: k, slice: slice, format: format, to: output, overwrite: force)
            console.print("wrote \(escapeForDisplay(output)) (\(format), \(escapeForDisplay(index.tensors[k].name)))")
            return
        }

        var verification: Verification?
        if verify {
            let progress = ProgressReporter(console: console, enabled: display.showProgress(console), label: "verify",
                                            total: selected.reduce(UInt64(0)) { $0 + UInt64(index.tensors[$1].byteCount ?? 0) })
            verification = try Verification.run(source, tensors: selected, progress: { progress.add(UInt64($0)) })
            progress.finish()
        }

        var statsByTensor: [Int: TensorStats] = [:]
        if stats {
            let progress = ProgressReporter(console: console, enabled: display.showProgress(console), label: "stats",
                                            total: selected.reduce(UInt64(0)) { $0 + UInt64(index.tensors[$1].byteCount ?? 0) })
            let list = selected
            let results = try ParallelWork.map(count: list.count, weight: { index.tensors[list[$0]].byteCount ?? 0 }) { k -> TensorStats in
                try TensorStats.compute(source, tensor: list[k], parallel: false, progress: { progress.add(UInt64($0)) })
            }
            progress.finish()
            for (k, i) in list.enumerated() { statsByTensor[i] = results[k] }
        }

        var valuesByTensor: [Int: [UInt8]] = [:]
        var valuesShape: [Int: [Int]] = [:]
        // Values are read piece by piece and only as many as printed; what is printed is capped
        // (a billion values is no answer anyone reads, and would need gigabytes of text).
        let printable = valuesCount.map { min($0, Limits.default.maxPrintedValues) }
        if let k = selected.first, tensor != nil, let n = valuesCount, let shown = printable {
            if n > shown { console.print("note: --values prints at most \(shown) values", to: .err) }
            valuesByTensor[k] = try ValuePrinter.firstBytes(source, tensor: k, count: shown)
        } else if let k = selected.first, tensor != nil, let text = values {
            let (bytes, shape) = try TensorValues.gather(source, tensor: k, slice: try TensorSlice(text))
            valuesByTensor[k] = bytes
            valuesShape[k] = shape
        }

        let report = InspectReport(source: source, file: file, selected: selected, stats: statsByTensor, values: valuesByTensor,
                                   verification: verification, valuesShape: valuesShape, slice: valuesCount == nil ? values : nil, layerConfig: layerConfig)
        if let path = self.report {
            try ReportOutput.write(report.html(), to: path, inputs: [file], overwrite: force)
            if path == "-" { return }
        }
        if json {
            console.write(report.json().serialized(.pretty))
        } else {
            let width = display.wide ? Int.max : console.width
            console.write(wrapLines(report.text(style: style, width: width, valuesLimit: printable), width: width))
        }
    }
}
