import ArgumentParser
import CheckpointKit

/// The root command: it only configures; each subcommand lives in its own file.
public struct CkptCommand: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "ckpt",
        abstract: "Inspect, diff, strip, rebuild and convert model checkpoints.",
        discussion: """
        Reads the .ckpt container and the formats users already have: .npz, .safetensors, \
        Keras .keras, .weights.h5 and legacy .h5, TensorFlow checkpoints (named by prefix, \
        .index or folder) and SavedModel folders. Exit status: 0 success (diff: no differences), \
        1 differences (diff), 2 trouble (unreadable file, bad arguments).

        Streams, for every subcommand: results (tables, JSON, the summary of what was written) \
        go to stdout; progress bars, notes ("note: ...") and errors go to stderr, so \
        `ckpt ... > out.txt` keeps only the result and `2>/dev/null` silences the rest. Tables \
        fit the terminal's width (COLUMNS); --wide prints them in full.
        """,
        version: CheckpointKitVersion.string,
        subcommands: [InspectCommand.self, DiffCommand.self, StripCommand.self, RebuildCommand.self, ConvertCommand.self,
                      GenerateManualCommand.self]
    )

    public init() {}

    /// Runs `ckpt` with `arguments` (without the program name) and returns the exit status.
    /// Errors are printed on the console's stderr as one sentence; nothing is thrown.
    public static func run(_ arguments: [String]) -> Int32 {
        let console = Console.current
        let arguments = negativeValuesJoined(arguments)
        if let message = unknownSubcommand(arguments) ?? unknownHelpTopic(arguments) {
            console.print(message, to: .err)
            return 2
        }
        do {
            var command = try parseAsRoot(arguments)
            // Every file the command opens for reading is registered, so no output replaces one.
            try InputRegistry.$current.withValue(InputRegistry()) { try command.run() }
            return 0
        } catch let error as CheckpointError {
            console.print(errorStyle(arguments, console).red("ckpt: error:") + " " + error.description, to: .err)
            return 2
        } catch let code as ExitCode {
            return code.rawValue
        } catch {
            let code = exitCode(for: error)
            let message = suggestingVersion(fullMessage(for: error))
            if code == .success {
                if !message.isEmpty { console.print(message) }
                return 0
            }
            if !message.isEmpty { console.print(Self.prefixed(message, style: errorStyle(arguments, console)), to: .err) }
            // Usage errors are "trouble" like any other (h5diff/diff convention): exit 2.
            return 2
        }
    }

    /// ArgumentParser's "Error: ..." in the same voice as every other error ("ckpt: error: ...").
    static func prefixed(_ message: String, style: Style = Style(enabled: false)) -> String {
        message.hasPrefix("Error: ") ? style.red("ckpt: error:") + " " + message.dropFirst("Error: ".count) : message
    }

    /// Colour for "ckpt: error:" on stderr: on a terminal unless NO_COLOR or --color never;
    /// always with --color always. (Read from the raw arguments: parsing may be what failed.)
    static func errorStyle(_ arguments: [String], _ console: Console) -> Style {
        var choice = "auto"
        for (k, a) in arguments.enumerated() {
            if a == "--" { break }
            if a == "--color", k + 1 < arguments.count { choice = arguments[k + 1] }
            if a.hasPrefix("--color=") { choice = String(a.dropFirst("--color=".count)) }
        }
        switch choice {
        case "always": return Style(enabled: true)
        case "never": return Style(enabled: false)
        default:
            if let v = console.environment["NO_COLOR"], !v.isEmpty { return Style(enabled: false) }
            return Style(enabled: console.stderrIsTTY)
        }
    }

    /// `--atol -1`: ArgumentParser reads `-1` as an option and says "Missing value". A value that
    /// reads as a negative number after a long option is joined to it (`--atol=-1`), so the
    /// option's own check says what is wrong with it.
    static func negativeValuesJoined(_ arguments: [String]) -> [String] {
        var out: [String] = []
        var k = 0
        while k < arguments.count {
            let a = arguments[k]
            if a == "--" { out += arguments[k...]; break }
            if a.hasPrefix("--"), !a.contains("="), k + 1 < arguments.count, isNegativeNumber(arguments[k + 1]) {
                out.append(a + "=" + arguments[k + 1])
                k += 2
                continue
            }
            out.append(a)
            k += 1
        }
        return out
    }

    static func isNegativeNumber(_ s: String) -> Bool {
        guard s.hasPrefix("-"), s.count > 1 else { return false }
        let rest = s.dropFirst()
        guard let c = rest.first, c.isASCII, c.isNumber || c == "." else { return rest == "inf" || rest == "Infinity" }
        return Double(s) != nil
    }

    /// `ckpt help inpsect`: ArgumentParser prints the root help with exit 0; say which
    /// subcommand was meant, as `ckpt inpsect` does.
    static func unknownHelpTopic(_ arguments: [String]) -> String? {
        guard arguments.count >= 2, arguments[0] == "help", !arguments[1].hasPrefix("-") else { return nil }
        let topic = arguments[1]
        let all = configuration.subcommands.compactMap { $0.configuration.commandName }
        guard !all.contains(topic) else { return nil }
        let known = subcommandNames.filter { $0 != "help" }
        var text = errorStyle(arguments, Console.current).red("ckpt: error:") + " \"\(escapeForDisplay(topic))\" is not a ckpt subcommand (they are: \(known.joined(separator: ", ")))"
        if let guess = Suggest.closest(topic, among: known) {
            text += "; did you mean `ckpt help \(guess)`?"
        } else {
            text += "; `ckpt --help` describes them."
        }
        return text
    }

    /// "Unknown option '--verison'": ArgumentParser suggests among a command's own options only,
    /// never the built-in --version and --help; suggest those when they are closer.
    static func suggestingVersion(_ message: String) -> String {
        var lines = message.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        guard let first = lines.first, first.contains("Unknown option '") else { return message }
        let parts = first.split(separator: "'", omittingEmptySubsequences: false).map(String.init)
        guard parts.count >= 2, parts[0].hasSuffix("Unknown option ") else { return message }
        let option = parts[1]
        guard let builtIn = Suggest.closest(option, among: ["--version", "--help"]) else { return message }
        if parts.count >= 4, parts[2].contains("Did you mean") {
            let theirs = parts[3]
            guard Suggest.distance(Array(option.unicodeScalars), Array(builtIn.unicodeScalars)) < Suggest.distance(Array(option.unicodeScalars), Array(theirs.unicodeScalars)) else { return message }
        }
        lines[0] = parts[0] + "'" + option + "'. Did you mean '" + builtIn + "'?"
        return lines.joined(separator: "\n")
    }

    /// The names `ckpt SUBCOMMAND` accepts (visible ones, and `help`).
    static var subcommandNames: [String] {
        configuration.subcommands.filter { $0.configuration.shouldDisplay }.compactMap { $0.configuration.commandName } + ["help"]
    }

    /// `ckpt inpsect ...`: ArgumentParser would say "2 unexpected arguments"; say which
    /// subcommand was meant instead.
    static func unknownSubcommand(_ arguments: [String]) -> String? {
        guard let first = arguments.first, !first.hasPrefix("-") else { return nil }
        let all = configuration.subcommands.compactMap { $0.configuration.commandName } + ["help"]
        guard !all.contains(first) else { return nil }
        let known = subcommandNames
        var text = errorStyle(arguments, Console.current).red("ckpt: error:") + " \"\(escapeForDisplay(first))\" is not a ckpt subcommand (they are: \(known.filter { $0 != "help" }.joined(separator: ", ")))"
        if let guess = Suggest.closest(first, among: known) {
            text += "; did you mean `ckpt \(guess)`?"
        } else {
            text += "; `ckpt --help` describes them."
        }
        return text
    }
}

extension CkptCommand {
    /// The executable's entry point: installs the interrupt clean-up (temporary files are
    /// removed on Ctrl-C), runs, returns the exit status.
    public static func main(_ argv: [String]) -> Int32 {
        installSignalCleanup()
        return run(Array(argv.dropFirst()))
    }
}
