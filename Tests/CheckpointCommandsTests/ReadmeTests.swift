import Foundation
import Testing
import CheckpointTestSupport
@testable import CheckpointCommands
@testable import CheckpointKit

/// The README's commands print what the README shows. `CKPT_RECORD_GOLDEN=1` rewrites the
/// outputs in README.md from the current build.
///
/// The commands run as the README says, in the package root: the built `ckpt` as a child process
/// with that working directory (this process's own never changes). `/tmp/ckpt-readme` becomes a
/// fresh scratch directory, so parallel runs do not meet. A command marked `# needs libhdf5` runs
/// only in the test that needs libhdf5 (a reported skip without it).
@Suite("README", .serialized, .requires(.ckptBinary))
struct ReadmeTests {
    static let readme = CLI.path("README.md")
    static let hdf5Mark = "# needs libhdf5"

    struct Command {
        var line: String
        var expected: String
        /// The arguments (the `# needs libhdf5` comment removed).
        var arguments: [String] { line.components(separatedBy: ReadmeTests.hdf5Mark)[0].split(separator: " ").map(String.init) }
        var needsHDF5: Bool { line.hasSuffix(ReadmeTests.hdf5Mark) }
    }

    /// `$ ckpt ...` lines of every ```console block, each with the output shown after it.
    static func commands(_ text: String) -> [[Command]] {
        var out: [[Command]] = []
        var current: [Command]?
        var command: String?
        var output: [String] = []
        func flush() {
            if let c = command { current?.append(Command(line: c, expected: output.joined(separator: "\n"))) }
            command = nil
            output = []
        }
        for line in text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init) {
            if current == nil {
                if line == "```console" { current = [] }
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

    /// Runs `ckpt args` in the package root, `/tmp/ckpt-readme` being `scratch`; the output as the
    /// README shows it.
    static func run(_ command: Command, scratch: String) throws -> String {
        let args = command.arguments.dropFirst().map { $0.replacingOccurrences(of: "/tmp/ckpt-readme", with: scratch) }
        let exe = try #require(CkptExecutable.path)
        let r = try ChildProcess(exe, Array(args), environment: ["COLUMNS": "100", "NO_COLOR": "1"], cwd: CLI.packageRoot.path).wait()
        var text = r.output.replacingOccurrences(of: scratch, with: "/tmp/ckpt-readme")
        while text.hasSuffix("\n") { text.removeLast() }
        return text
    }

    /// A fresh scratch directory whose path is as long as `/tmp/ckpt-readme` (`/tmp/ckpt-XXXXXX`), so
    /// lines wrapped at the README's width wrap where they would for a user.
    static func shortScratch() throws -> String {
        var template = Array("/tmp/ckpt-XXXXXX".utf8CString)
        let made = template.withUnsafeMutableBufferPointer { buffer -> String? in
            guard let base = buffer.baseAddress, mkdtemp(base) != nil else { return nil }
            return String(cString: base)
        }
        let path = try #require(made, "mkdtemp /tmp/ckpt-XXXXXX")
        #expect(path.utf8.count == "/tmp/ckpt-readme".utf8.count)
        return path
    }

    /// Runs the tour's commands in order (all, or those that do not need libhdf5) and compares
    /// (or, recording, rewrites) the outputs of those `checked` selects. Returns how many it checked.
    static func tour(includingHDF5: Bool, checked: (Command) -> Bool) throws -> Int {
        let scratch = try shortScratch()
        defer { TestEnv.cleanup(scratch) }
        var text = try String(contentsOfFile: readme, encoding: .utf8)
        let blocks = commands(text)
        #expect(blocks.count >= 6)
        var count = 0
        for command in blocks.joined() where includingHDF5 || !command.needsHDF5 {
            #expect(command.line.hasPrefix("ckpt "), "README console lines run ckpt: \(command.line)")
            let actual = try run(command, scratch: scratch)
            guard checked(command) else { continue }
            count += 1
            if CLI.recording {
                let old = "$ \(command.line)" + (command.expected.isEmpty ? "" : "\n" + command.expected)
                let new = "$ \(command.line)" + (actual.isEmpty ? "" : "\n" + actual)
                if let r = text.range(of: old) { text.replaceSubrange(r, with: new) }
            } else if actual != command.expected {
                let a = actual.split(separator: "\n", omittingEmptySubsequences: false)
                let e = command.expected.split(separator: "\n", omittingEmptySubsequences: false)
                let k = zip(a, e).enumerated().first { $0.element.0 != $0.element.1 }?.offset ?? min(a.count, e.count)
                Issue.record("""
                README: `\(command.line)` prints something else at line \(k + 1):
                  README: \(k < e.count ? String(e[k]) : "<end>")
                  actual: \(k < a.count ? String(a[k]) : "<end>")
                (CKPT_RECORD_GOLDEN=1 re-records the README if the change is intended)
                """)
            }
        }
        if CLI.recording { try text.write(toFile: readme, atomically: true, encoding: .utf8) }
        return count
    }

    @Test("The README starts with the two commands: the sample and the tests")
    func twoCommands() throws {
        let text = try String(contentsOfFile: Self.readme, encoding: .utf8)
        let firstBlock = try #require(text.components(separatedBy: "```sh\n").dropFirst().first?.components(separatedBy: "```").first)
        let commands = firstBlock.split(separator: "\n").map { $0.components(separatedBy: "#")[0].trimmingCharacters(in: .whitespaces) }
        #expect(commands == ["swift run ckpt inspect Samples/mlp.ckpt", "swift test"])
        #expect(FileManager.default.fileExists(atPath: CLI.path("Samples/mlp.ckpt")))
    }

    @Test("The README names the package the libhdf5 error names, and marks the tour commands that need it")
    func libhdf5Package() throws {
        let text = try String(contentsOfFile: Self.readme, encoding: .utf8)
        #expect(text.contains("sudo apt-get install \(HDF5Library.debianPackage)"))
        let all = Self.commands(text).joined()
        // Exactly the commands that touch a Keras file are marked.
        for c in all {
            let keras = c.arguments.contains { $0.hasSuffix(".keras") || $0.hasSuffix(".h5") }
            #expect(c.needsHDF5 == keras, "\(c.line)")
        }
        #expect(all.filter(\.needsHDF5).count == 2)
    }

    @Test("Every command of the tour that does not need libhdf5 prints what the README shows")
    func tourOutputs() throws {
        #expect(try Self.tour(includingHDF5: false) { _ in true } >= 7)
    }

    @Test("The tour commands that need libhdf5 print what the README shows", .requires(.hdf5))
    func tourOutputsWithHDF5() throws {
        #expect(try Self.tour(includingHDF5: true) { $0.needsHDF5 } == 2)
    }

    @Test("Without libhdf5, a command on a Keras file says which package to install, in one sentence")
    func withoutHDF5() throws {
        let exe = try #require(CkptExecutable.path)
        let r = try ChildProcess(exe, ["inspect", "Tests/Fixtures/keras/mlp/mlp.keras"], environment: ["CKPT_PRETEND_MISSING": "hdf5", "NO_COLOR": "1"],
                                 cwd: CLI.packageRoot.path, separateStreams: true).wait()
        #expect(r.status == 2)
        #expect(r.errorOutput.hasPrefix("ckpt: error: "), "\(r.errorOutput)")
        #expect(r.errorOutput.contains("sudo apt-get install \(HDF5Library.debianPackage)"), "\(r.errorOutput)")
        #expect(r.output.isEmpty)
    }
}
