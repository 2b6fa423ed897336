import ArgumentParser

/// Flags every subcommand shares.
public struct DisplayOptions: ParsableArguments {
    public enum ColorChoice: String, ExpressibleByArgument, CaseIterable, Sendable { case auto, always, never }

    @Option(name: .long, help: "Colour output: auto (on a terminal, unless NO_COLOR is set), always, never.")
    public var color: ColorChoice = .auto

    @Flag(inversion: .prefixedNo, help: "Show a progress bar on stderr (default: only when stderr is a terminal).")
    public var progress: Bool? = nil

    @Flag(name: .long, help: "Print tables at full width; by default they fit the terminal (COLUMNS), dropping or shortening the least important columns.")
    public var wide = false

    public init() {}

    /// Whether to colour stdout.
    public func useColor(_ console: Console) -> Bool {
        switch color {
        case .always: return true
        case .never: return false
        case .auto:
            if let v = console.environment["NO_COLOR"], !v.isEmpty { return false }
            return console.stdoutIsTTY
        }
    }

    public func showProgress(_ console: Console) -> Bool { progress ?? console.stderrIsTTY }
}

/// Flags of every subcommand that reads tensor data.
public struct ReadingOptions: ParsableArguments {
    @Flag(name: .long, help: "Read HDF5 datasets whose data the file does not store (never-written chunks, made up from the fill value); refused without it.")
    public var allowSparse = false

    public init() {}
}
