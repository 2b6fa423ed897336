import CheckpointSystem
import Synchronization

/// Where a command's output goes. The real console writes to stdout/stderr; tests capture.
/// Commands reach it through ``Console/current`` so they can be run in process.
public final class Console: Sendable {
    public enum Stream: Sendable { case out, err }

    private final class Capture: Sendable { let text = Mutex<(out: String, err: String)>(("", "")) }
    private let capture: Capture?
    /// Whether stdout / stderr are terminals (decides colour and progress bars).
    public let stdoutIsTTY: Bool
    public let stderrIsTTY: Bool
    /// Environment variables the commands consult (NO_COLOR, COLUMNS, CKPT_PROGRESS_DELAY).
    public let environment: [String: String]

    /// The process's console.
    public static let standard = Console()

    @TaskLocal public static var current: Console = .standard

    private init() {
        capture = nil
        stdoutIsTTY = FileDescriptor.standardOutput.isTerminal
        stderrIsTTY = FileDescriptor.standardError.isTerminal
        var env: [String: String] = [:]
        for key in ["NO_COLOR", "COLUMNS", "TERM", "CLICOLOR_FORCE", "CKPT_PROGRESS_DELAY"] {
            if let v = SystemProcess.environment(key) { env[key] = v }
        }
        environment = env
    }

    /// A console that records everything (for tests), pretending to be a terminal or not.
    public init(capturing: Bool = true, tty: Bool = false, environment: [String: String] = [:]) {
        capture = Capture()
        stdoutIsTTY = tty
        stderrIsTTY = tty
        self.environment = environment
    }

    public func write(_ text: String, to stream: Stream = .out) {
        if let capture {
            capture.text.withLock { c in
                if stream == .out { c.out += text } else { c.err += text }
            }
            return
        }
        var t = text
        t.withUTF8 { buf in
            // A closed pipe or a full disk: nothing sensible to report it to.
            try? (stream == .out ? FileDescriptor.standardOutput : FileDescriptor.standardError).writeAll(UnsafeRawBufferPointer(buf))
        }
    }

    public func print(_ line: String = "", to stream: Stream = .out) { write(line + "\n", to: stream) }

    public var capturedOutput: String { capture?.text.withLock { $0.out } ?? "" }
    public var capturedError: String { capture?.text.withLock { $0.err } ?? "" }

    /// The width tables and lines are fitted to: COLUMNS when set; else the terminal's width when
    /// stdout is one (100 when unknown); else unlimited (a pipe or a file gets every column, for
    /// grep and scripts).
    public var width: Int {
        if let c = environment["COLUMNS"].flatMap(Int.init), c > 0 { return c }
        guard stdoutIsTTY else { return .max }
        return (capture == nil ? FileDescriptor.standardOutput.terminalColumns : nil) ?? 100
    }
}
