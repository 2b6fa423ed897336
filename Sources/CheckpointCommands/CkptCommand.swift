import ArgumentParser
import CheckpointKit

/// The root command: it only configures; each subcommand lives in its own file.
public struct CkptCommand: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "ckpt",
        abstract: "Inspect, diff, strip, rebuild and convert model checkpoints.",
        discussion: """
        Reads the .ckpt container and the formats users already have: .npz, .safetensors, \
        Keras .keras, .weights.h5 and legacy .h5. Exit status: 0 success (diff: no differences), \
        1 differences (diff), 2 trouble (unreadable file, bad arguments).
        """,
        version: CheckpointKitVersion.string,
        subcommands: [InspectCommand.self, DiffCommand.self, StripCommand.self, RebuildCommand.self, ConvertCommand.self]
    )

    public init() {}

    /// Runs `ckpt` with `arguments` (without the program name) and returns the exit status.
    /// Errors are printed on the console's stderr as one sentence; nothing is thrown.
    public static func run(_ arguments: [String]) -> Int32 {
        let console = Console.current
        do {
            var command = try parseAsRoot(arguments)
            try command.run()
            return 0
        } catch let error as CheckpointError {
            console.print("ckpt: error: " + error.description, to: .err)
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
            if !message.isEmpty { console.print(message, to: .err) }
            // Usage errors are "trouble" like any other (h5diff/diff convention): exit 2.
            return 2
        }
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
