import CheckpointSystem
import Synchronization
import CheckpointKit

/// A progress bar on stderr for work that runs longer than about a second: bytes done / total,
/// rate and ETA. Silent when disabled (stderr not a terminal, or --no-progress).
final class ProgressReporter: Sendable {
    private struct State {
        var done: UInt64 = 0
        var lastDraw: Double = 0
        var drawn = false
    }
    private let console: Console
    private let enabled: Bool
    private let label: String
    private let total: UInt64
    private let start: Double
    private let delay: Double
    private let state = Mutex(State())
    /// Shown only once the work has taken this long (seconds); `CKPT_PROGRESS_DELAY` overrides
    /// it (tests set 0 to see the bar on short runs).
    static let defaultDelay = 1.0

    init(console: Console, enabled: Bool, label: String, total: UInt64) {
        self.console = console
        self.enabled = enabled && total > 0
        self.label = label
        self.total = total
        self.start = Self.now()
        let custom = console.environment["CKPT_PROGRESS_DELAY"].flatMap(Double.init)
        self.delay = custom.map { $0.isFinite && $0 >= 0 ? $0 : Self.defaultDelay } ?? Self.defaultDelay
    }

    static func now() -> Double { Clock.monotonic() }

    func add(_ n: UInt64) { set { $0 += n } }
    func update(done: UInt64) { set { $0 = done } }

    private func set(_ change: (inout UInt64) -> Void) {
        guard enabled else { return }
        let t = Self.now()
        let line: String? = state.withLock { s in
            change(&s.done)
            guard t - start >= delay, t - s.lastDraw >= 0.1 || s.done >= total else { return nil }
            s.lastDraw = t
            s.drawn = true
            return render(done: s.done, elapsed: t - start)
        }
        if let line { console.write("\r" + line + "\u{1B}[K", to: .err) }
    }

    private func render(done: UInt64, elapsed: Double) -> String {
        let frac = total == 0 ? 1 : min(1, Double(done) / Double(total))
        let width = 24
        let filled = Int(frac * Double(width))
        let bar = String(repeating: "█", count: filled) + String(repeating: "░", count: width - filled)
        let rate = elapsed > 0 ? Double(done) / elapsed : 0
        let eta = rate > 0 ? Double(total - min(done, total)) / rate : 0
        return "\(label) \(bar) \(Fmt.fixed(frac * 100, 0))%  \(Fmt.bytes(done)) / \(Fmt.bytes(total))  \(Fmt.bytes(UInt64(rate)))/s  ETA \(Fmt.duration(eta))"
    }

    /// Clears the bar.
    func finish() {
        guard enabled else { return }
        let drawn = state.withLock { $0.drawn }
        if drawn { console.write("\r\u{1B}[K", to: .err) }
    }
}
