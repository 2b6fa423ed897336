import ArgumentParser
import CheckpointKit
import Synchronization

struct DiffCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "diff",
        abstract: "Compare two checkpoints tensor by tensor: what an epoch changed, whether two exports are the same.",
        usage: "ckpt diff <a> <b> [--atol <x>] [--rtol <x>] [--exact] [--only-changed]\n                 [-q] [--json] [options]",
        discussion: """
        Structure: tensors only in A (-), only in B (+), dtype or shape changed (!), paired by \
        name after --map and --strip-prefix. Values, for tensors in both with the same data layout: \
        max |Δ|, mean |Δ|, RMS Δ, max relative Δ, cosine similarity and the fraction of elements \
        beyond tolerance, computed in float64 (float16/bfloat16 widened exactly); bit-identical \
        tensors are marked =, tensors within tolerance ~, tensors beyond it *. With both files \
        carrying them, the architecture JSON (layers added, removed, changed config keys) and the \
        optimizer (class, config, iteration count, slots) are compared too.

        Tolerance: element a of A is close to b of B (the reference) when \
        |a − b| ≤ atol + rtol·|b| (numpy.isclose / torch.isclose). Defaults depend on the dtype \
        and accept only floating-point rounding noise, so two epochs always differ and a lossless \
        round trip is identical:
          float64   atol 1e-12  rtol 1e-12
          float32   atol 1e-8   rtol 1e-6   (about 8 ulp)
          float16   atol 1e-5   rtol 1e-3   (about 1 ulp)
          bfloat16  atol 1e-5   rtol 1e-2   (about 1 ulp)
          integers and bool: always exact
        Different dtypes (a float32 tensor against its bfloat16 export) use the looser default. \
        --atol/--rtol replace the defaults for every floating-point dtype; --exact sets both to 0. \
        NaN equals NaN unless --nan differ; +0 equals −0 (but is not bit-identical); inf equals \
        inf of the same sign; inf against anything else differs with |Δ| = inf.

        Metrics are over element pairs without NaN; max relative Δ is max |a − b|/|b| (0 where \
        a = b, inf where b = 0 ≠ a); cosine is over finite pairs. Per-layer bars show \
        ‖A − B‖/‖B‖ on a log scale.

        When only one file carries an architecture (a .keras against its .weights.h5), the \
        other is read with it, so both name their tensors alike (a note says so). What one \
        side's format cannot hold (a .weights.h5 has no architecture and no optimizer \
        configuration) is reported when it differs, but counts as a difference only with \
        --strict.

        Exit status: 0 no differences beyond tolerance, 1 differences, 2 trouble (unreadable \
        file, bad arguments). A tensor with the same CRC-32 and size in two .ckpt indexes is \
        "identical by checksum" without being read; --full reads and compares its bytes \
        ("bit-identical").
        """
    )

    @Argument(help: ArgumentHelp("The checkpoint to compare.", valueName: "a"), completion: .file(extensions: CheckpointFiles.extensions))
    var a: String

    @Argument(help: ArgumentHelp("The reference checkpoint (relative tolerance is taken against B).", valueName: "b"),
              completion: .file(extensions: CheckpointFiles.extensions))
    var b: String

    @Option(name: .long, help: ArgumentHelp("Absolute tolerance for floating-point tensors (default: per dtype, listed above).", valueName: "x"))
    var atol: Double?

    @Option(name: .long, help: ArgumentHelp("Relative tolerance for floating-point tensors, against B (default: per dtype).", valueName: "x"))
    var rtol: Double?

    @Flag(name: .long, help: "No tolerance: any change of a value is a difference (--atol 0 --rtol 0).")
    var exact = false

    @Option(name: .long, help: ArgumentHelp("NaN against NaN: equal (like h5diff) or a difference.", valueName: "equal|differ"))
    var nan: DiffNaNArgument = .equal

    @Option(name: .customLong("map"), help: ArgumentHelp("Pair A's tensor OLD (or every OLD/...) with B's NEW (repeatable). An empty NEW removes the prefix.", valueName: "old=new"))
    var maps: [String] = []

    @Option(name: .customLong("strip-prefix"), help: ArgumentHelp("Remove this prefix from tensor names on both sides, e.g. sequential/ (repeatable).", valueName: "prefix"))
    var stripPrefixes: [String] = []

    @Flag(name: .long, help: "Compare weights only: no optimizer tensors, architecture or optimizer configuration.")
    var weightsOnly = false

    @Flag(name: .long, help: "Also compare the optimizer's tensors (slots, iteration, learning rate) value by value.")
    var includeOptimizer = false

    @Flag(name: .long, help: "Read and compare every tensor's bytes, even those whose CRC-32 and size are equal in both indexes.")
    var full = false

    @Flag(name: .long, help: "Count differences in what one side's format cannot hold (architecture, optimizer configuration) as differences.")
    var strict = false

    @Option(name: .long, help: ArgumentHelp("Only tensors whose name (after --map/--strip-prefix) matches this glob (*, ?, [...]).", valueName: "glob"))
    var filter: String?

    @Option(name: .customLong("tensor"), help: ArgumentHelp("Only this tensor (repeatable).", valueName: "name"))
    var tensors: [String] = []

    @Flag(name: .long, help: "Hide tensors and layers that are identical or within tolerance.")
    var onlyChanged = false

    @Flag(name: [.customShort("q"), .long], help: "No output: only the exit status (stops at the first difference).")
    var quiet = false

    @Flag(name: .long, help: "Print JSON (schema ckpt.diff/1) instead of tables.")
    var json = false

    @Flag(name: .long, help: "Leave out the per-layer bars of relative change.")
    var noBars = false

    @Option(name: .customLong("from-a"), help: ArgumentHelp("Read A as this format: ckpt, npz, safetensors, keras, weights.h5, h5.", valueName: "format"), completion: .list(CheckpointFiles.formatNames))
    var fromA: String?

    @Option(name: .customLong("from-b"), help: ArgumentHelp("Read B as this format.", valueName: "format"), completion: .list(CheckpointFiles.formatNames))
    var fromB: String?

    @Option(name: .long, help: ArgumentHelp("Architecture JSON (model.to_json()) for inputs that lack one (a bare .weights.h5).", valueName: "model.json"),
            completion: .file(extensions: ["json"]))
    var architecture: String?

    @Option(name: .long, help: ArgumentHelp("Also write a self-contained HTML page (verdict, per-layer chart, tables) to this file; - for stdout.", valueName: "file.html"),
            completion: .file(extensions: ["html"]))
    var report: String?

    @Flag(name: .long, help: "With --report: replace the file if it exists.")
    var force = false

    @OptionGroup var reading: ReadingOptions

    @OptionGroup var display: DisplayOptions

    func validate() throws {
        if report != nil && quiet { throw ValidationError("-q stops at the first difference and prints nothing; leave it out to write a --report") }
        if report == "-" && json { throw ValidationError("--report - and --json both write to stdout; give --report a file name") }
        for (name, v) in [("--atol", atol), ("--rtol", rtol)] {
            if let v, !(v >= 0 && v.isFinite) { throw ValidationError("\(name) must be a finite number, 0 or more") }
        }
        if exact && (atol != nil || rtol != nil) { throw ValidationError("--exact cannot be combined with --atol or --rtol") }
        if weightsOnly && includeOptimizer { throw ValidationError("--weights-only and --include-optimizer contradict each other") }
        if quiet && json { throw ValidationError("-q prints nothing; leave out --json") }
        for m in maps {
            guard let eq = m.firstIndex(of: "="), eq != m.startIndex else {
                throw ValidationError("--map needs OLD=NEW, got \"\(escapeForDisplay(m))\"")
            }
        }
    }

    func run() throws {
        let console = Console.current
        var sa = try CheckpointFiles.open(a, from: fromA, architecture: architecture, fromFlag: "--from-a", quiet: true, reading: reading)
        var sb = try CheckpointFiles.open(b, from: fromB, architecture: architecture, fromFlag: "--from-b", quiet: true, reading: reading)
        if architecture == nil {
            // One side carries an architecture, the other none: read the other with it, so both
            // name their tensors the same way.
            if let arch = sa.index.architecture, sb.index.architecture == nil,
               let named = lend(arch, to: b, from: fromB, fromFlag: "--from-b", lender: a, console: console) {
                sb = named
            } else if let arch = sb.index.architecture, sa.index.architecture == nil,
                      let named = lend(arch, to: a, from: fromA, fromFlag: "--from-a", lender: b, console: console) {
                sa = named
            }
        }
        if !quiet {
            for (path, source) in [(a, sa), (b, sb)] {
                for note in source.notes { console.print("note: \(escapeForDisplay(path)): \(note)", to: .err) }
            }
        }

        var options = DiffOptions()
        options.atol = exact ? 0 : atol
        options.rtol = exact ? 0 : rtol
        options.nan = nan.policy
        options.weightsOnly = weightsOnly
        options.includeOptimizer = includeOptimizer
        options.stopAtFirstDifference = quiet
        options.useIndexFingerprints = !full
        options.strict = strict
        options.names = DiffNameMapping(renames: maps.map { m in
            let eq = m.firstIndex(of: "=") ?? m.endIndex
            return DiffNameMapping.Rename(old: String(m[..<eq]), new: eq < m.endIndex ? String(m[m.index(after: eq)...]) : "")
        }, stripPrefixes: stripPrefixes)
        try checkNames(sa, sb, options)
        let glob = filter.map { Glob($0) }
        let wanted = Set(tensors)
        if glob != nil || !wanted.isEmpty {
            options.include = { name in
                (glob?.matches(name) ?? true) && (wanted.isEmpty || wanted.contains(name))
            }
        }

        let showProgress = quiet ? (display.progress ?? false) : display.showProgress(console)
        let holder = Mutex<ProgressReporter?>(nil)
        options.onPlan = { total in
            holder.withLock { $0 = ProgressReporter(console: console, enabled: showProgress, label: "diff", total: total) }
        }
        options.progress = { n in holder.withLock { $0 }?.add(n) }

        let result = try CheckpointDiff.compare(sa, sb, options: options)
        holder.withLock { $0 }?.finish()

        var rendered = DiffReport(result: result, fileA: a, fileB: b, onlyChanged: onlyChanged, bars: !noBars)
        if report != nil { rendered.graph = (sb.index.architecture ?? sa.index.architecture).flatMap { ModelGraph.read(architecture: $0) } }
        if let path = report {
            try ReportOutput.write(rendered.html(), to: path, inputs: [a, b], overwrite: force)
        }
        if report == "-" {
            // The page is the output.
        } else if json {
            console.write(result.json().serialized(.pretty))
        } else if !quiet {
            let style = Style(enabled: display.useColor(console))
            console.write(wrapLines(rendered.text(style: style, width: display.wide ? .max : console.width), width: display.wide ? .max : console.width))
        }
        if result.exitCode != 0 { throw ExitCode(result.exitCode) }
    }

    /// `path` reopened with the architecture of `lender` (nil, with a note, when that fails).
    private func lend(_ arch: [UInt8], to path: String, from: String?, fromFlag: String, lender: String, console: Console) -> (any TensorSource)? {
        do {
            var options = Checkpoints.OpenOptions()
            options.architecture = arch
            options.limits.hdf5.allowSparse = reading.allowSparse
            let source = try Checkpoints.open(path, format: CheckpointFiles.format(from), options: options)
            guard source.index.architecture != nil else { return nil }
            if !quiet {
                console.print("note: \(escapeForDisplay(path)) has no architecture of its own: read with the architecture of \(escapeForDisplay(lender))", to: .err)
            }
            return source
        } catch let e as CheckpointError {
            if !quiet {
                console.print("note: \(escapeForDisplay(path)) does not fit the architecture of \(escapeForDisplay(lender)) (\(e.reason)); compared as it is", to: .err)
            }
            return nil
        } catch {
            return nil
        }
    }

    /// `--map OLD=...` that matches nothing in A, and `--tensor NAME` that names nothing, are
    /// mistakes: say so, with the closest name.
    private func checkNames(_ sa: any TensorSource, _ sb: any TensorSource, _ options: DiffOptions) throws {
        let namesA = sa.index.tensors.map(\.name)
        for r in options.names.unmatchedRenames(in: namesA) {
            var candidates = Set<String>()
            for n in namesA {
                var prefix = ""
                for part in n.split(separator: "/") {
                    prefix += prefix.isEmpty ? String(part) : "/" + part
                    candidates.insert(prefix)
                }
            }
            let guess = Suggest.closest(r.old, among: candidates.sorted())
            throw CheckpointError(.noSuchTensor, "--map \(escapeForDisplay(r.old))=...: no tensor of A is named \"\(escapeForDisplay(r.old))\" or starts with \"\(escapeForDisplay(r.old))/\"",
                                  file: a, hint: guess.map { "did you mean \"\(escapeForDisplay($0))\"?" } ?? "`ckpt inspect \(a)` lists the tensors")
        }
        guard !tensors.isEmpty || filter != nil else { return }
        var aligned = Set<String>()
        for t in sa.index.tensors { aligned.insert(options.names.aligned(t, isA: true)) }
        for t in sb.index.tensors { aligned.insert(options.names.aligned(t, isA: false)) }
        for name in tensors where !aligned.contains(name) {
            throw CheckpointError(.noSuchTensor, "no tensor of A or B is named \"\(escapeForDisplay(name))\"",
                                  hint: Suggest.closest(name, among: aligned.sorted()).map { "did you mean \"\(escapeForDisplay($0))\"?" }
                                      ?? "`ckpt inspect` lists the tensors")
        }
        if let filter, !aligned.contains(where: { Glob(filter).matches($0) }) {
            let literal = String(filter.filter { !"*?[]".contains($0) })
            throw CheckpointError(.noSuchTensor, "--filter \"\(escapeForDisplay(filter))\" matches no tensor of A or B",
                                  hint: Suggest.closest(literal, among: aligned.sorted()).map { "a name is \"\(escapeForDisplay($0))\"" }
                                      ?? "`ckpt inspect` lists the tensors")
        }
    }
}

/// `--nan equal|differ`.
enum DiffNaNArgument: String, ExpressibleByArgument, CaseIterable {
    case equal, differ

    var policy: DiffNaNPolicy { self == .equal ? .equal : .differ }
}
