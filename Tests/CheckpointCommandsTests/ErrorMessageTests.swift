import Foundation
import Testing
import CheckpointTestSupport
@testable import CheckpointCommands
@testable import CheckpointKit

/// The errors people hit most each say what was expected, what was found and what to do next,
/// in one line.
@Suite("Errors a person can act on")
struct ErrorMessageTests {
    static let weights = CLI.path("Samples/mlp-weights.ckpt")
    static let fixtures = CLI.path("Tests/Fixtures/keras/mlp")

    static func oneLine(_ r: CLI.Result, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(r.status == 2, sourceLocation: sourceLocation)
        #expect(r.err.hasPrefix("ckpt: error: ") && r.err.hasSuffix("\n") && r.err.dropLast().split(separator: "\n").count == 1,
                "\(r.err)", sourceLocation: sourceLocation)
        #expect(!r.err.contains("?."), "no period after a question", sourceLocation: sourceLocation)
    }

    @Test("a file named for one format holding another says which, and how to read it")
    func wrongExtension() throws {
        let dir = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let cases: [(String, String, String)] = [
            (Self.fixtures + "/mlp.keras", "model.ckpt", "the file is really a Keras 3 .keras file (not a ckpt container): name it .keras or pass --from keras"),
            (Self.fixtures + "/weights.npz", "weights.ckpt", "the file is really a NumPy .npz file (not a ckpt container): name it .npz or pass --from npz"),
            (Self.fixtures + "/weights.safetensors", "st.ckpt", "the file is really a safetensors file (not a ckpt container): name it .safetensors or pass --from safetensors"),
            (Self.weights, "sample.npz", "the file is really a ckpt container file (not a NumPy .npz): name it .ckpt or pass --from ckpt"),
            (Self.weights, "sample.safetensors", "the file is really a ckpt container file (not a safetensors): name it .ckpt or pass --from ckpt"),
        ]
        for (source, name, hint) in cases {
            try FileManager.default.copyItem(atPath: source, toPath: dir + "/" + name)
            let r = CLI.run(["inspect", dir + "/" + name])
            Self.oneLine(r)
            #expect(r.err.contains(name) && r.err.contains(hint), "\(name): \(r.err)")
            // The advice works (a Keras file where libhdf5 is: without it, the error names the package).
            let format = String(hint.split(separator: " ").last ?? "")
            let fixed = CLI.run(["inspect", dir + "/" + name, "--from", format])
            if format == "keras" && !HDF5Library.isAvailable {
                #expect(fixed.status == 2 && fixed.err.contains("sudo apt-get install \(HDF5Library.debianPackage)"), "\(name): \(fixed.err)")
            } else {
                #expect(fixed.status == 0, "\(name): \(fixed.err)")
                #expect(fixed.out.contains("dense"), "\(name): \(fixed.out)")
            }
        }
        // diff names its own flags.
        let d = CLI.run(["diff", dir + "/weights.ckpt", Self.weights])
        Self.oneLine(d)
        #expect(d.err.contains("pass --from-a npz"))
    }

    @Test("an architecture JSON where a checkpoint goes: use it with --architecture or rebuild")
    func architectureInsteadOfCheckpoint() {
        let r = CLI.run(["inspect", Self.fixtures + "/architecture.json"])
        Self.oneLine(r)
        #expect(r.err.contains("this is a Keras architecture JSON (model.to_json()), not a checkpoint"))
        #expect(r.err.contains("`ckpt rebuild WEIGHTS --architecture Tests/Fixtures/keras/mlp/architecture.json -o full.ckpt`"))
        let text = CLI.run(["inspect", CLI.path("Package.swift")])
        Self.oneLine(text)
        #expect(text.err.contains("not a checkpoint this tool reads") && text.err.contains("supported: .ckpt, .npz"))
    }

    @Test("weights-only where the architecture is needed: pair it with an architecture JSON")
    func weightsOnly() throws {
        let r = CLI.run(["rebuild", Self.weights, "-o", "/tmp/never-written.ckpt"])
        Self.oneLine(r)
        #expect(r.err.contains("rebuild needs the model's architecture, and this weights-only checkpoint carries none"))
        #expect(r.err.contains("`ckpt rebuild Samples/mlp-weights.ckpt --architecture model.json -o /tmp/never-written.ckpt`"))
        #expect(!FileManager.default.fileExists(atPath: "/tmp/never-written.ckpt"))

        // Against a full checkpoint, diff says what was left out and how to line them up.
        let dir = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        #expect(CLI.run(["rebuild", Self.weights, "--architecture", Self.fixtures + "/architecture.json", "-o", dir + "/full.ckpt"]).status == 0)
        let d = CLI.run(["diff", dir + "/full.ckpt", Self.weights])
        #expect(d.status == 0)
        #expect(d.out.contains("hint: B is a weights-only checkpoint and A a full one: the optimizer state is only in A; `ckpt strip` makes A weights-only, `ckpt rebuild` pairs B with an architecture JSON and a fresh optimizer"))
        // Stripping a weights-only checkpoint is not an error: nothing to do, said plainly.
        let s = CLI.run(["strip", Self.weights, "-o", dir + "/w.ckpt"])
        #expect(s.status == 0 && s.out.contains("is already a weights-only checkpoint: nothing to strip"))
    }

    @Test("typos in tensor names and formats, unknown output extensions")
    func typos() {
        let t = CLI.run(["inspect", Self.weights, "--tensor", "dense_1/kernal"])
        Self.oneLine(t)
        #expect(t.err.hasSuffix("no tensor is named \"dense_1/kernal\"; did you mean \"dense_1/kernel\"?\n"))
        let f = CLI.run(["inspect", Self.weights, "--from", "nzp"])
        Self.oneLine(f)
        #expect(f.err.contains("unknown format \"nzp\"; use one of ckpt, npz"))
        let o = CLI.run(["convert", Self.weights, "/tmp/out.txt"])
        Self.oneLine(o)
        #expect(o.err.contains("cannot tell the output format from the name \"/tmp/out.txt\"; use an extension (.ckpt, .npz, .safetensors"))
        let missing = CLI.run(["inspect", "no/such/file.ckpt"])
        Self.oneLine(missing)
        #expect(missing.err.contains("no/such/file.ckpt: cannot open the file for reading"))
    }
}
