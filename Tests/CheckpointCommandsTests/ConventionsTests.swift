import Foundation
import Testing
import CheckpointTestSupport
@testable import CheckpointCommands
@testable import CheckpointKit

/// One stream policy, typos that get a suggestion, negative option values, and output that fits
/// the terminal's width.
@Suite("ckpt conventions: streams, suggestions, width")
struct ConventionsTests {
    static let full = CLI.path("Samples/mlp.ckpt")
    static let weights = CLI.path("Samples/mlp-weights.ckpt")
    static let e1 = CLI.path("Tests/Fixtures/keras-epochs/epoch1.weights.npz")
    static let e2 = CLI.path("Tests/Fixtures/keras-epochs/epoch2.weights.npz")
    static let architecture = CLI.path("Tests/Fixtures/keras/mlp/architecture.json")

    @Test("`help inpsect` suggests the subcommand and exits 2")
    func helpTypo() {
        let r = CLI.run(["help", "inpsect"])
        #expect(r.status == 2)
        #expect(r.out.isEmpty)
        #expect(r.err.contains("\"inpsect\" is not a ckpt subcommand") && r.err.contains("did you mean `ckpt help inspect`?"), "\(r.err)")
        #expect(CLI.run(["help", "inspect"]).status == 0)
    }

    @Test("`--verison` suggests --version, at the root and after a subcommand")
    func versionTypo() {
        for args in [["--verison"], ["inspect", "--verison", Self.full]] {
            let r = CLI.run(args)
            #expect(r.status == 2)
            #expect(r.err.contains("Unknown option '--verison'. Did you mean '--version'?"), "\(r.err)")
        }
        // A command's own option still wins when it is the closer one.
        #expect(CLI.run(["inspect", "--tensr", "x", Self.full]).err.contains("Did you mean '--tensor'?"))
    }

    @Test("`--atol -1` is read as a negative value, and refused as one")
    func negativeValues() {
        let r = CLI.run(["diff", Self.e1, Self.e2, "--atol", "-1"])
        #expect(r.status == 2)
        #expect(!r.err.contains("Missing value"), "\(r.err)")
        #expect(r.err.contains("--atol must be"), "\(r.err)")
        #expect(CkptCommand.negativeValuesJoined(["diff", "a", "--atol", "-1e-3", "--", "--x", "-2"])
            == ["diff", "a", "--atol=-1e-3", "--", "--x", "-2"])
    }

    @Test("results on stdout, notes and progress on stderr, for every subcommand")
    func streams() throws {
        let dir = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let convert = CLI.run(["convert", Self.full, dir + "/m.safetensors"])
        #expect(convert.status == 0, "\(convert.err)")
        #expect(convert.out.contains("wrote ") && !convert.err.contains("wrote "), "convert's summary is a result")
        for line in convert.err.split(separator: "\n") { #expect(line.hasPrefix("note: ") || line.hasPrefix("    "), "\(line)") }
        let strip = CLI.run(["strip", Self.full, "-o", dir + "/w.ckpt"])
        #expect(strip.status == 0 && strip.out.contains("stripped ") && strip.err.isEmpty, "\(strip.err)")
        let rebuild = CLI.run(["rebuild", Self.weights, "--architecture", Self.architecture, "-o", dir + "/r.ckpt"])
        #expect(rebuild.status == 0 && rebuild.out.contains("rebuilt "), "\(rebuild.err)")
        let inspect = CLI.run(["inspect", Self.full])
        #expect(inspect.out.contains("Layer (type)") && inspect.err.isEmpty)
        let diff = CLI.run(["diff", Self.e1, Self.e2])
        #expect(diff.out.contains("different") && diff.err.isEmpty)
    }

    static func widest(_ text: String) -> Int { text.split(separator: "\n").map { displayWidth(String($0)) }.max() ?? 0 }

    @Test("every subcommand's default output fits 80 columns when COLUMNS=80; --wide does not cut")
    func fitsEighty() throws {
        let dir = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let env = ["COLUMNS": "80"]
        let runs: [[String]] = [
            ["inspect", Self.full], ["inspect", Self.full, "--stats"], ["inspect", Self.weights],
            ["inspect", Self.full, "--tensor", "dense/kernel", "--values", "40"],
            ["diff", Self.e1, Self.e2], ["diff", Self.full, Self.weights],
            ["convert", Self.full, dir + "/converted.safetensors"],
            ["strip", Self.full, "-o", dir + "/stripped.ckpt"],
            ["rebuild", Self.weights, "--architecture", Self.architecture, "-o", dir + "/rebuilt.ckpt"],
            ["--help"], ["inspect", "--help"], ["diff", "--help"],
        ]
        for args in runs {
            let r = CLI.run(args, environment: env)
            #expect(r.status <= 1, "\(args): \(r.err)")
            #expect(Self.widest(r.out) <= 80, "ckpt \(args.joined(separator: " ")) is \(Self.widest(r.out)) columns wide:\n\(r.out)")
        }
        let stats = CLI.run(["inspect", Self.full, "--stats"], environment: env)
        #expect(stats.out.contains("--wide shows"), "a dropped column is named")
        let wide = CLI.run(["inspect", Self.full, "--stats", "--wide"], environment: env)
        #expect(Self.widest(wide.out) > 80 && wide.out.contains("histogram") && !wide.out.contains("--wide shows"))
    }

    @Test("golden outputs at 80 and 120 columns", .requires(.hdf5))
    func goldenWidths() throws {
        // Relative paths: the header lines wrap where the path ends, which must not depend on
        // where the package is checked out.
        try #require(FileManager.default.currentDirectoryPath == CLI.packageRoot.path, "run from the package root (swift test does)")
        let cnn = "Tests/Fixtures/keras/cnn/cnn.keras"
        let multi = "Tests/Fixtures/keras-files/functional_multi.keras"
        let full = "Samples/mlp.ckpt"
        let e1 = "Tests/Fixtures/keras-epochs/epoch1.weights.npz", e2 = "Tests/Fixtures/keras-epochs/epoch2.weights.npz"
        for columns in [80, 120] {
            let env = ["COLUMNS": "\(columns)"]
            let cases: [(String, [String])] = [
                ("inspect-cnn", ["inspect", cnn]),
                ("inspect-functional", ["inspect", multi]),
                ("inspect-stats", ["inspect", full, "--stats"]),
                ("diff-epochs", ["diff", e1, e2]),
            ]
            for (name, args) in cases {
                let r = CLI.run(args, environment: env)
                #expect(Self.widest(r.out) <= columns, "\(name) at \(columns)")
                try CLI.golden("\(name)-\(columns).txt", r.out.replacingOccurrences(of: #"date_saved=\S+"#, with: "date_saved=…", options: .regularExpression))
            }
        }
    }
}
