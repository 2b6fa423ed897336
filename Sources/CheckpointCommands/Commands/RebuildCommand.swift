import ArgumentParser
import CheckpointKit

struct RebuildCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rebuild",
        abstract: "Weights + a Keras architecture JSON + a fresh optimizer → a full checkpoint.",
        discussion: """
        The architecture is the text of Keras's model.to_json(), Keras 3 or Keras 2 (tf.keras). \
        Every variable each layer owns is inferred from it; the weights must match by name \
        (with or without a leading model name) and shape. The optimizer state is what Keras 3's \
        optimizer.build(model.trainable_variables) creates: its slots, a zero step counter and \
        the learning rate. The optimizer comes from --optimizer (with --learning-rate and \
        --set key=value), from --optimizer-config (Keras get_config() JSON, with the class from \
        --optimizer or its name; or keras.optimizers.serialize() JSON), or from the \
        architecture's compile_config; its configuration is kept as given, changed only by \
        --learning-rate and --set. When the architecture's layers compute in mixed_float16, the \
        state is that of the LossScaleOptimizer Keras wraps the optimizer in (--loss-scale). \
        Optimizers: \(KerasOptimizerKind.helpList).
        """
    )

    @Argument(help: ArgumentHelp("The weights (any readable format).", valueName: "weights"), completion: .file(extensions: CheckpointFiles.extensions))
    var input: String

    @Option(name: .long, help: ArgumentHelp("The architecture JSON (model.to_json()); default: the one inside the weights file.", valueName: "model.json"),
            completion: .file(extensions: ["json"]))
    var architecture: String?

    @Option(name: .long, help: ArgumentHelp("Keras optimizer class, case-insensitive (adam, sgd, rmsprop, adamw, ...).", valueName: "name"), completion: .list(CheckpointFiles.optimizerNames))
    var optimizer: String?

    @Option(name: .long, help: ArgumentHelp("The optimizer's learning rate.", valueName: "rate"))
    var learningRate: String?

    @Option(name: .customLong("set"), help: ArgumentHelp("Another optimizer hyperparameter, KEY=VALUE (repeatable), e.g. --set momentum=0.9.", valueName: "key=value"))
    var settings: [String] = []

    @Option(name: .long, help: ArgumentHelp("Keras optimizer.get_config() JSON, or keras.optimizers.serialize() JSON (with class_name).", valueName: "opt.json"),
            completion: .file(extensions: ["json"]))
    var optimizerConfig: String?

    @Option(name: .shortAndLong, help: ArgumentHelp("Where to write the full checkpoint (.ckpt, .keras, .weights.h5).", valueName: "full"),
            completion: .file(extensions: CheckpointFiles.extensions))
    var output: String

    @Option(name: .long, help: ArgumentHelp("Read the weights as this format.", valueName: "format"), completion: .list(CheckpointFiles.formatNames))
    var from: String?

    @Option(name: .long, help: ArgumentHelp("The Keras backend the checkpoint is for: tensorflow (int64 step counter), jax or torch (int32).", valueName: "backend"), completion: .list(["tensorflow", "jax", "torch"]))
    var backend: String = "tensorflow"

    @Option(name: .long, help: ArgumentHelp("Wrap the optimizer in a LossScaleOptimizer as compile does under mixed_float16: auto (when the layers compute in mixed_float16), yes or no.", valueName: "when"),
            completion: .list(Rebuild.LossScale.allCases.map(\.rawValue)))
    var lossScale: String = "auto"

    @Flag(name: .long, help: "Take the tensors of layers whose class is unknown from the weights as they are, where the layer sits in the model.")
    var allowUnknownLayers = false

    @Option(name: .customLong("non-trainable"), help: ArgumentHelp("With --allow-unknown-layers: tensors of unknown layers that are not trainable (glob, repeatable), e.g. 'scaled/vars/1'.", valueName: "pattern"))
    var nonTrainable: [String] = []

    @Flag(name: .long, help: "Leave out mismatched and unexpected tensors (listed) instead of failing.")
    var skipMismatch = false

    @Flag(name: .long, help: "Replace the output if it exists (never the input).")
    var force = false

    @Flag(name: .long, help: "Print a JSON report (schema ckpt.rebuild/1).")
    var json = false

    @OptionGroup var reading: ReadingOptions

    @OptionGroup var display: DisplayOptions

    func validate() throws {
        if optimizer == nil && optimizerConfig == nil && (learningRate != nil || !settings.isEmpty) {
            throw ValidationError("--learning-rate and --set need --optimizer NAME or --optimizer-config FILE")
        }
        if Rebuild.LossScale(rawValue: lossScale.lowercased()) == nil {
            throw ValidationError("--loss-scale takes auto, yes or no")
        }
    }

    func run() throws {
        let console = Console.current
        let source = try CheckpointFiles.open(input, from: from, architecture: architecture, reading: reading)
        guard let archBytes = try CheckpointFiles.readArchitecture(architecture) ?? source.index.architecture else {
            throw CheckpointError(.missingPart, "rebuild needs the model's architecture, and this \(source.index.kind == .weights ? "weights-only checkpoint" : "checkpoint") carries none",
                                  file: input,
                                  hint: "pair it with an architecture JSON (the text of Keras's model.to_json()): `ckpt rebuild \(escapeForDisplay(input)) --architecture model.json -o \(escapeForDisplay(output))`")
        }
        guard let kerasBackend = KerasBackend(rawValue: backend.lowercased()) else {
            throw CheckpointError(.invalidArgument, "unknown backend \"\(escapeForDisplay(backend))\"", hint: "use tensorflow, jax or torch")
        }

        var overrides: [(String, String)] = []
        if let learningRate { overrides.append(("learning_rate", learningRate)) }
        for s in settings {
            guard let eq = s.firstIndex(of: "="), eq != s.startIndex else {
                throw CheckpointError(.invalidArgument, "--set needs KEY=VALUE, got \"\(escapeForDisplay(s))\"")
            }
            overrides.append((String(s[..<eq]), String(s[s.index(after: eq)...])))
        }
        let optimizerSource: Rebuild.OptimizerSource
        if let path = optimizerConfig {
            guard let bytes = try CheckpointFiles.readArchitecture(path) else { return }
            let v: JSONValue
            do { v = try JSONParser.parse(bytes) } catch let e as CheckpointError { throw e.located(file: path) }
            if let cls = v["class_name"]?.stringValue {
                // keras.optimizers.serialize(): {"module", "class_name", "config", "registered_name"}.
                if let name = optimizer, KerasOptimizerKind(className: name) != KerasOptimizerKind(className: cls.split(separator: ">").last.map(String.init) ?? cls) {
                    throw CheckpointError(.invalidOptimizer, "--optimizer \(escapeForDisplay(name)) and the \(escapeForDisplay(cls)) in --optimizer-config disagree", file: path)
                }
                optimizerSource = .config(className: nil, v)
            } else if let name = optimizer {
                optimizerSource = .config(className: name, v)     // get_config() of the class --optimizer names
            } else if let name = v["name"]?.stringValue, let kind = KerasOptimizerKind(instanceName: name) {
                optimizerSource = .config(className: kind.className, v) // get_config() named by Keras (adam, adam_4, rm_sprop)
            } else {
                throw CheckpointError(.invalidOptimizer, "the optimizer config says neither its class (\"class_name\") nor a name Keras gives that class (\"name\": \"\(escapeForDisplay(v["name"]?.stringValue ?? ""))\")", file: path,
                                      hint: "add --optimizer CLASS, or use keras.optimizers.serialize(optimizer)")
            }
        } else if let name = optimizer {
            optimizerSource = .named(name, overrides: [])
        } else {
            optimizerSource = .fromArchitecture
        }

        var options = Rebuild.Options()
        options.allowUnknownLayers = allowUnknownLayers
        options.skipMismatch = skipMismatch
        options.backend = kerasBackend
        options.optimizerOverrides = overrides
        options.nonTrainable = nonTrainable
        options.lossScale = Rebuild.LossScale(rawValue: lossScale.lowercased()) ?? .auto
        let (rebuilt, report): (ComposedSource, Rebuild.Report)
        do {
            (rebuilt, report) = try Rebuild.plan(weights: source, architecture: archBytes, optimizer: optimizerSource, options: options)
        } catch let e as CheckpointError where e.code == .unknownLayer && !allowUnknownLayers {
            var e = e
            e.hint = "--allow-unknown-layers takes its tensors from the weights file as they are (names, shapes, order) and places them where the layer sits in the model, trainable unless the input's optimizer state or --non-trainable says otherwise"
            throw e
        }
        if !report.ignoredOptimizerState.isEmpty && !json {
            console.print("note: the \(report.ignoredOptimizerState.count) optimizer tensors of \(escapeForDisplay(input)) are replaced by a fresh \(report.optimizer?.className ?? "optimizer") state", to: .err)
        }
        let style = Style(enabled: display.useColor(console) && !json)
        if report.hasProblems {
            if !json { console.write(Self.problems(report, file: input, skipping: skipMismatch, style: style), to: .err) }
            if !skipMismatch {
                if json { console.write(report.json(input: input, output: nil).serialized(.pretty)) }
                throw Rebuild.mismatchError(report, file: input)
            }
        }

        let outFormat = try Convert.outputFormat(for: output, explicit: nil, default: .ckpt)
        var write = WriteOptions(overwrite: force)
        let total = rebuilt.index.tensors.reduce(UInt64(0)) { $0 + UInt64($1.byteCount ?? 0) }
        let progress = ProgressReporter(console: console, enabled: display.showProgress(console), label: "rebuild", total: total)
        write.progress = { done, _ in progress.update(done: done) }
        let written = try Convert.write(rebuilt, as: outFormat, to: output, options: write)
        progress.finish()
        if !json { for note in report.notes + written.notes { console.print("note: \(note)", to: .err) } }

        if json {
            console.write(report.json(input: input, output: output).serialized(.pretty))
            return
        }
        let opt = report.optimizer.map { "\($0.className)" } ?? "?"
        console.print(wrapLine("architecture: \(report.dialect.displayName) JSON, \(report.modelClass) \"\(escapeForDisplay(report.modelName))\", \(report.layerCount) layers", width: display.wide ? .max : console.width))
        console.print(wrapLine("\(style.green("rebuilt")) \(escapeForDisplay(output)): \(report.matched.count) weights from \(escapeForDisplay(input))"
            + (report.takenAsIs.isEmpty ? "" : " (+\(report.takenAsIs.count) of unknown layers, as they are)")
            + ", fresh \(opt) state: \(report.optimizerVariables.count) variables (step 0"
            + (report.optimizer?.learningRate.map { ", learning rate \(Fmt.g($0))" } ?? "") + ")", width: display.wide ? .max : console.width))
    }

    /// The three lists, each line saying which side is the file and which the architecture.
    static func problems(_ r: Rebuild.Report, file: String, skipping: Bool, style: Style) -> String {
        let f = escapeForDisplay(file)
        var out = ""
        if !r.missing.isEmpty {
            out += "missing (in the architecture, not in \(f)):\n"
            for m in r.missing { out += "  \(escapeForDisplay(m.name))  the architecture needs \(Fmt.shape(m.shape))\n" }
        }
        if !r.unexpected.isEmpty {
            out += "unexpected (in \(f), not in the architecture)\(skipping ? ", skipped" : ""):\n"
            for u in r.unexpected { out += "  \(escapeForDisplay(u.name))  \(Fmt.shape(u.shape)) in \(f)\n" }
        }
        if !r.mismatched.isEmpty {
            out += "mismatched (shape or dtype in \(f) vs the architecture)\(skipping ? ", skipped" : ""):\n"
            for m in r.mismatched {
                out += "  \(escapeForDisplay(m.name))  \(m.fileDType.rawValue) \(Fmt.shape(m.fileShape)) in \(f), the architecture needs \(m.architectureDType.rawValue) \(Fmt.shape(m.architectureShape))\n"
            }
        }
        if skipping && !r.missing.isEmpty {
            out += style.yellow("warning") + ": the output lacks \(r.missing.count) variable\(r.missing.count == 1 ? "" : "s") the architecture needs; Keras will not load it until they are provided\n"
        }
        return out
    }
}
