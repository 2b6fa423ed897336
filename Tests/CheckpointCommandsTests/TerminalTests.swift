import Foundation
import Testing
import CheckpointTestSupport
@testable import CheckpointCommands
@testable import CheckpointKit

/// Progress bars and colour as a person at a terminal sees them: the real executable, with its
/// streams on a pseudo-terminal or on files.
@Suite("Progress and colour on a pseudo-terminal", .serialized, .requires(.ckptBinary))
struct TerminalTests {
    static let e1 = "Tests/Fixtures/keras-epochs/epoch1.weights.npz"
    static let e2 = "Tests/Fixtures/keras-epochs/epoch2.weights.npz"
    static let weights = "Samples/mlp-weights.ckpt"
    static let now = ["CKPT_PROGRESS_DELAY": "0"]
    static let esc = "\u{1B}"

    static func hasBar(_ s: String, _ label: String) -> Bool {
        s.contains("\r\(label) ") && s.contains("%") && s.contains("/s") && s.contains("ETA") && s.contains("\u{1B}[K")
    }

    @Test("a progress bar on stderr when it is a terminal: bytes, rate, ETA; cleared at the end")
    func barOnTerminal() throws {
        for (args, label) in [(["diff", Self.e1, Self.e2], "diff"), (["inspect", Self.weights, "--stats"], "stats"),
                              (["inspect", Self.weights, "--verify"], "verify")] {
            let r = try Terminal.run(args, onTerminal: [.err], environment: Self.now)
            #expect(Self.hasBar(r.terminal, label), "\(args): \(r.terminal.debugDescription)")
            #expect(r.terminal.hasSuffix("\r\u{1B}[K"), "the bar is cleared: \(r.terminal.debugDescription)")
            #expect(r.terminal.contains(" / ") && r.terminal.contains("KB"))
            // stdout was a file: no control sequence at all.
            #expect(!r.out.contains(Self.esc) && !r.out.contains("\r"), "\(args)")
        }
        // Writers too.
        let dir = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let c = try Terminal.run(["convert", Self.e1, dir + "/e1.ckpt"], onTerminal: [.err], environment: Self.now)
        #expect(c.status == 0 && Self.hasBar(c.terminal, "convert"), "\(c.terminal.debugDescription)")
        let rb = try Terminal.run(["rebuild", Self.weights, "--architecture", "Tests/Fixtures/keras/mlp/architecture.json", "-o", dir + "/full.ckpt"],
                                  onTerminal: [.err], environment: Self.now)
        #expect(rb.status == 0 && Self.hasBar(rb.terminal, "rebuild"), "\(rb.terminal.debugDescription)")
        let st = try Terminal.run(["strip", dir + "/full.ckpt", "-o", dir + "/w.ckpt"], onTerminal: [.err], environment: Self.now)
        #expect(st.status == 0 && Self.hasBar(st.terminal, "strip"), "\(st.terminal.debugDescription)")
    }

    @Test("no bar within the first second by default")
    func delay() throws {
        let r = try Terminal.run(["inspect", Self.weights, "--stats"], onTerminal: [.err])
        #expect(!r.terminal.contains("ETA"))
    }

    @Test("never a bar, nor any control sequence, when stderr and stdout are not terminals")
    func notATerminal() throws {
        for args in [["diff", Self.e1, Self.e2], ["inspect", Self.weights, "--stats", "--verify"], ["inspect", Self.weights, "--tensor", "nope"]] {
            let r = try Terminal.run(args, onTerminal: [], environment: Self.now)
            #expect(!r.out.contains(Self.esc) && !r.err.contains(Self.esc), "\(args)")
            #expect(!r.err.contains("ETA") && !r.out.contains("\r"))
        }
    }

    @Test("--progress forces the bar into a pipe; --no-progress keeps it off a terminal")
    func overrides() throws {
        let forced = try Terminal.run(["diff", Self.e1, Self.e2, "--progress"], onTerminal: [], environment: Self.now)
        #expect(Self.hasBar(forced.err, "diff"))
        #expect(!forced.out.contains(Self.esc))
        let off = try Terminal.run(["diff", Self.e1, Self.e2, "--no-progress"], onTerminal: [.err], environment: Self.now)
        #expect(!off.terminal.contains("ETA") && !off.terminal.contains(Self.esc))
        let quiet = try Terminal.run(["diff", "-q", Self.e1, Self.e2], onTerminal: [.err], environment: Self.now)
        #expect(quiet.terminal.isEmpty && quiet.status == 1)
    }

    @Test("colour on a terminal for verdicts and changed values; NO_COLOR and --color honoured")
    func colour() throws {
        let tty = try Terminal.run(["diff", Self.e1, Self.e2, "--no-progress"], onTerminal: [.out, .err])
        #expect(tty.status == 1)
        #expect(tty.terminal.contains("\u{1B}[1m\u{1B}[31mdifferent\u{1B}[0m"), "the verdict is red")
        #expect(tty.terminal.contains("\u{1B}[31m*\u{1B}[0m"), "changed tensors are marked red")
        #expect(tty.terminal.contains("\u{1B}[2m=\u{1B}[0m"), "identical ones are dimmed")
        let same = try Terminal.run(["diff", Self.e1, Self.e1, "--no-progress"], onTerminal: [.out])
        #expect(same.terminal.contains("\u{1B}[1m\u{1B}[32midentical\u{1B}[0m"), "a green verdict")

        let noColor = try Terminal.run(["diff", Self.e1, Self.e2, "--no-progress"], onTerminal: [.out, .err], environment: ["NO_COLOR": "1"])
        #expect(!noColor.terminal.contains(Self.esc) && noColor.terminal.contains("different: 8 of 13"))
        let never = try Terminal.run(["diff", Self.e1, Self.e2, "--no-progress", "--color", "never"], onTerminal: [.out, .err])
        #expect(!never.terminal.contains(Self.esc))
        let always = try Terminal.run(["diff", Self.e1, Self.e2, "--color", "always"], onTerminal: [])
        #expect(always.out.contains("\u{1B}[31m"))
        // NO_COLOR set but empty does not count (no-color.org).
        let empty = try Terminal.run(["diff", Self.e1, Self.e2, "--no-progress"], onTerminal: [.out], environment: ["NO_COLOR": ""])
        #expect(empty.terminal.contains("\u{1B}[31m"))

        // Errors: "ckpt: error:" in red on a terminal, plain otherwise.
        let err = try Terminal.run(["inspect", "nope.ckpt"], onTerminal: [.err])
        #expect(err.status == 2 && err.terminal.hasPrefix("\u{1B}[31mckpt: error:\u{1B}[0m nope.ckpt: cannot open"))
        let errPlain = try Terminal.run(["inspect", "nope.ckpt"], onTerminal: [.err], environment: ["NO_COLOR": "1"])
        #expect(errPlain.terminal.hasPrefix("ckpt: error: nope.ckpt"))
        // inspect: nothing to colour in a clean table except the kind; --stats marks NaN/inf counts.
        let inspect = try Terminal.run(["inspect", Self.weights], onTerminal: [.out])
        #expect(inspect.terminal.contains("\u{1B}[1mweights-only checkpoint\u{1B}[0m"))
    }
}
