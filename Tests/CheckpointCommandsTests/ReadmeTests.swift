import Foundation
import Testing
@testable import CheckpointCommands

/// The README's commands print what the README shows. `CKPT_RECORD_GOLDEN=1` rewrites the
/// outputs in README.md from the current build.
@Suite("README", .serialized)
struct ReadmeTests {
    static let readme = CLI.path("README.md")

    struct Block {
        var commands: [(line: String, expected: String)]
    }

    /// `$ ckpt ...` lines of every ```console block, each with the output shown after it.
    static func blocks(_ text: String) -> [Block] {
        var out: [Block] = []
        var current: Block?
        var command: String?
        var output: [String] = []
        func flush() {
            if let c = command { current?.commands.append((c, output.joined(separator: "\n"))) }
            command = nil
            output = []
        }
        for line in text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init) {
            if current == nil {
                if line == "```console" { current = Block(commands: []) }
                continue
            }
            if line == "```" {
                flush()
                if let b = current { out.append(b) }
                current = nil
            } else if line.hasPrefix("$ ") {
                flush()
                command = String(line.dropFirst(2))
            } else {
                output.append(line)
            }
        }
        return out
    }

    static func run(_ command: String) -> String {
        let args = command.split(separator: " ").map(String.init)
        let r = CLI.run(Array(args.dropFirst()), environment: ["COLUMNS": "100"])
        var text = r.out + r.err
        while text.hasSuffix("\n") { text.removeLast() }
        return text
    }

    @Test("The README starts with the two commands: the sample and the tests")
    func twoCommands() throws {
        let text = try String(contentsOfFile: Self.readme, encoding: .utf8)
        let firstBlock = try #require(text.components(separatedBy: "```sh\n").dropFirst().first?.components(separatedBy: "```").first)
        let commands = firstBlock.split(separator: "\n").map { $0.components(separatedBy: "#")[0].trimmingCharacters(in: .whitespaces) }
        #expect(commands == ["swift run ckpt inspect Samples/mlp.ckpt", "swift test"])
        #expect(FileManager.default.fileExists(atPath: CLI.path("Samples/mlp.ckpt")))
    }

    @Test("Every command of the tour prints what the README shows")
    func tourOutputs() throws {
        _ = FileManager.default.changeCurrentDirectoryPath(CLI.packageRoot.path)
        try FileManager.default.createDirectory(atPath: "/tmp/ckpt-readme", withIntermediateDirectories: true)
        var text = try String(contentsOfFile: Self.readme, encoding: .utf8)
        let blocks = Self.blocks(text)
        #expect(blocks.count >= 6)
        for block in blocks {
            for (command, expected) in block.commands {
                #expect(command.hasPrefix("ckpt "), "README console lines run ckpt: \(command)")
                let actual = Self.run(command)
                if CLI.recording {
                    let old = "$ \(command)" + (expected.isEmpty ? "" : "\n" + expected)
                    let new = "$ \(command)" + (actual.isEmpty ? "" : "\n" + actual)
                    if let r = text.range(of: old) { text.replaceSubrange(r, with: new) }
                } else if actual != expected {
                    let a = actual.split(separator: "\n", omittingEmptySubsequences: false)
                    let e = expected.split(separator: "\n", omittingEmptySubsequences: false)
                    let k = zip(a, e).enumerated().first { $0.element.0 != $0.element.1 }?.offset ?? min(a.count, e.count)
                    Issue.record("""
                    README: `ckpt \(command.dropFirst(5))` prints something else at line \(k + 1):
                      README: \(k < e.count ? String(e[k]) : "<end>")
                      actual: \(k < a.count ? String(a[k]) : "<end>")
                    (CKPT_RECORD_GOLDEN=1 re-records the README if the change is intended)
                    """)
                }
            }
        }
        if CLI.recording { try text.write(toFile: Self.readme, atomically: true, encoding: .utf8) }
    }
}
