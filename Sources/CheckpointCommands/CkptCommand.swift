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
        if let message = unknownSubcommand(arguments) {
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
            let message = fullMessage(for: error)
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
