import Foundation
import Testing
import CheckpointTestSupport
import ArgumentParser
@testable import CheckpointCommands
@testable import CheckpointKit

@Suite("Shell integration: version, help, completions, man page")
struct ShellIntegrationTests {
    static let subcommands = ["inspect", "diff", "strip", "rebuild", "convert"]

    @Test func version() {
        let r = CLI.run(["--version"])
        #expect(r.status == 0 && r.out == CheckpointKitVersion.string + "\n")
    }

    @Test("help texts (80 columns) match the golden files")
    func helpGolden() throws {
        try CLI.golden("help.txt", CkptCommand.helpMessage(for: CkptCommand.self, columns: 80) + "\n")
        let types: [ParsableCommand.Type] = [InspectCommand.self, DiffCommand.self, StripCommand.self, RebuildCommand.self, ConvertCommand.self]
        for (name, type) in zip(Self.subcommands, types) {
            try CLI.golden("help-\(name).txt", CkptCommand.helpMessage(for: type, columns: 80) + "\n")
            let r = CLI.run([name, "--help"])
            #expect(r.status == 0 && r.out.contains("USAGE: ckpt \(name)"), "\(name)")
        }
    }

    @Test("completion scripts for bash, zsh and fish match the golden files")
    func completionGolden() throws {
        for shell in ["bash", "zsh", "fish"] {
            let r = CLI.run(["--generate-completion-script", shell])
            #expect(r.status == 0, "\(r.err)")
            try CLI.golden("completion.\(shell)", r.out)
        }
    }

    /// The shell accepts the script (`-n`: parse without running).
    func completionParses(_ shell: String) throws {
        let r = CLI.run(["--generate-completion-script", shell])
        #expect(r.status == 0 && r.out.count > 1000, "\(r.err)")
        let dir = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try r.out.write(toFile: dir + "/script", atomically: true, encoding: .utf8)
        let check = try TestEnv.run(shell, ["-n", dir + "/script"])
        #expect(check.status == 0, "\(shell) -n: \(check.output)")
    }

    @Test("bash parses its completion script", .requires(.bash)) func bashParses() throws { try completionParses("bash") }
    @Test("zsh parses its completion script", .requires(.tool("zsh"))) func zshParses() throws { try completionParses("zsh") }
    @Test("fish parses its completion script", .requires(.tool("fish"))) func fishParses() throws { try completionParses("fish") }

    @Test("bash completes checkpoint files, subcommands and format names", .requires(.bash))
    func bashCompletes() throws {
        let dir = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let script = CLI.run(["--generate-completion-script", "bash"]).out
        try script.write(toFile: dir + "/ckpt.bash", atomically: true, encoding: .utf8)
        for f in ["model.ckpt", "w.npz", "t.safetensors", "notes.txt", "page.html"] {
            try TestEnv.write([], to: dir + "/" + f)
        }
        try FileManager.default.createDirectory(atPath: dir + "/sub", withIntermediateDirectories: true)
        func complete(_ line: String) throws -> [String] {
            var words = line.split(separator: " ").map(String.init)
            if line.hasSuffix(" ") { words.append("") }
            let program = """
            cd '\(dir)' && source ./ckpt.bash
            COMP_WORDS=(\(words.map { "'\($0)'" }.joined(separator: " "))); COMP_CWORD=\(words.count - 1)
            COMP_LINE='\(line)'; COMP_POINT=${#COMP_LINE}; COMPREPLY=()
            _ckpt ckpt "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"; printf '%s\\n' "${COMPREPLY[@]}"
            """
            let r = try TestEnv.run("bash", ["-c", program])
            #expect(r.status == 0, "\(r.output)")
            return r.output.split(separator: "\n").map(String.init).sorted()
        }
        #expect(try complete("ckpt inspect ") == ["model.ckpt", "sub", "t.safetensors", "w.npz"])
        #expect(try complete("ckpt diff model.ckpt ") == ["model.ckpt", "sub", "t.safetensors", "w.npz"])
        #expect(try complete("ckpt diff model.ckpt w.npz --report ") == ["page.html", "sub"])
        #expect(try complete("ckpt in").contains("inspect"))
        #expect(try complete("ckpt convert w.npz --to ") == ["ckpt", "gguf", "h5", "keras", "npz", "pytorch", "safetensors", "saved-model", "tf-checkpoint", "weights.h5", "weights.json"])
        #expect(try complete("ckpt rebuild w.npz --architecture ") == ["sub"])
    }

    @Test("every argument that names a file completes files")
    func fileArgumentsComplete() throws {
        let dump = try JSONParser.parse(CkptCommand._dumpHelp())
        let fileValueNames: Set<String> = ["file", "a", "b", "full", "weights", "input", "output", "model.json", "opt.json", "file.html"]
        var checked = 0
        for sub in dump["command"]?["subcommands"]?.arrayValue ?? [] {
            for arg in sub["arguments"]?.arrayValue ?? [] {
                guard let name = arg["valueName"]?.stringValue, fileValueNames.contains(name), arg["kind"]?.stringValue != "flag" else { continue }
                #expect(arg["completionKind"]?["file"] != nil, "\(sub["commandName"]?.stringValue ?? "") <\(name)> has no file completion")
                checked += 1
            }
        }
        #expect(checked >= 15)
    }

    @Test("the man page is generated from the command definitions and is valid troff")
    func manPage() throws {
        let r = CLI.run(["generate-manual"])
        #expect(r.status == 0, "\(r.err)")
        try CLI.golden("ckpt.1", r.out)
        #expect(r.out.contains(".TH CKPT 1"))
        for s in Self.subcommands { #expect(r.out.contains(".SS \"ckpt \(s)\""), "\(s)") }
        for option in ["\\-\\-report", "\\-\\-strip\\-prefix", "\\-\\-optimizer\\-config", "\\-\\-max\\-shard\\-size", "\\-\\-no\\-progress"] {
            #expect(r.out.contains(option), "\(option)")
        }
        // Hidden from the help, like ArgumentParser's own generators.
        #expect(!CLI.run(["--help"]).out.contains("generate-manual"))
    }

    @Test("groff reads the man page without a warning", .requires(.tool("groff", package: "groff-base")))
    func manPageLints() throws {
        let r = CLI.run(["generate-manual"])
        #expect(r.status == 0 && r.out.contains(".TH CKPT 1"), "\(r.err)")
        let dir = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try r.out.write(toFile: dir + "/ckpt.1", atomically: true, encoding: .utf8)
        let lint = try TestEnv.run("groff", ["-k", "-man", "-Tutf8", "-ww", "-z", dir + "/ckpt.1"])
        #expect(lint.status == 0 && lint.output.isEmpty, "groff: \(lint.output)")
    }

    @Test("a mistyped subcommand or option suggests the closest one")
    func typos() {
        let r = CLI.run(["inpsect", "x.ckpt"])
        #expect(r.status == 2)
        #expect(r.err == "ckpt: error: \"inpsect\" is not a ckpt subcommand (they are: inspect, diff, strip, rebuild, convert); did you mean `ckpt inspect`?\n")
        #expect(CLI.run(["dif", "a", "b"]).err.contains("did you mean `ckpt diff`?"))
        let far = CLI.run(["frobnicate"])
        #expect(far.status == 2 && far.err.contains("`ckpt --help` describes them"))
        let option = CLI.run(["inspect", CLI.path("Samples/mlp-weights.ckpt"), "--stat"])
        #expect(option.status == 2 && option.err.hasPrefix("ckpt: error: Unknown option '--stat'. Did you mean '--stats'?"))
        #expect(CLI.run(["help", "inspect"]).status == 0)
    }
}
