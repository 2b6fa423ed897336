import Foundation
import Testing
import CheckpointTestSupport
@testable import CheckpointCommands
@testable import CheckpointKit

@Suite("ckpt inspect")
struct InspectCommandTests {
    static let weightsSample = CLI.path("Samples/mlp-weights.ckpt")

    @Test func goldenText() throws {
        let r = CLI.run(["inspect", Self.weightsSample])
        #expect(r.status == 0, "\(r.err)")
        try CLI.golden("inspect-mlp-weights.txt", r.out)
    }

    @Test func goldenJSON() throws {
        let r = CLI.run(["inspect", Self.weightsSample, "--json", "--stats"])
        #expect(r.status == 0, "\(r.err)")
        try CLI.golden("inspect-mlp-weights.json", r.out)
        // It parses, and says what it is.
        let v = try JSONParser.parse(r.out)
        #expect(v["schema"]?.stringValue == "ckpt.inspect/1")
        #expect(v["kind"]?.stringValue == "weights")
        #expect(v["totals"]?["params"]?.intValue == 101_770)
    }

    static func values() throws -> [JSONValue] {
        let r = CLI.run(["inspect", Self.weightsSample, "--tensor", "dense_1/bias", "--values", "10", "--json"])
        #expect(r.status == 0, "\(r.err)")
        return try #require(try JSONParser.parse(r.out)["tensors"]?[0]?["values"]?.arrayValue)
    }

    @Test("--values prints the values, as text and in --json")
    func valuesTextAndJSON() throws {
        let values = try Self.values()
        #expect(values.count == 10)
        let text = CLI.run(["inspect", Self.weightsSample, "--tensor", "dense_1/bias", "--values", "10"])
        #expect(text.out.contains("dense_1/bias  float32 (10,), 10 values:"))
    }

    @Test("--values and --json agree with numpy.load on the same file", .requires(.numpy))
    func valuesMatchNumpy() throws {
        let values = try Self.values()
        let out = try TestEnv.python("import sys, numpy as np; a = np.load(sys.argv[1])['dense_1/bias']; print(' '.join(repr(float(x)) for x in a))",
                                     [Self.weightsSample])
        let numpy = out.split(separator: " ").compactMap { Double($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
        #expect(numpy.count == 10)
        for (k, x) in values.enumerated() {
            // Our text is the shortest float32 repr; it must denote exactly numpy's float32 value.
            let ours = try #require(x.doubleValue)
            #expect(Float(ours) == Float(numpy[k]), "value \(k): ckpt \(ours), numpy \(numpy[k])")
        }
    }

    @Test func filterAndUnknownTensor() {
        let r = CLI.run(["inspect", Self.weightsSample, "--filter", "*bias"])
        #expect(r.status == 0)
        #expect(r.out.contains("dense/bias") && r.out.contains("dense_1/bias") && !r.out.contains("dense/kernel"))
        let bad = CLI.run(["inspect", Self.weightsSample, "--tensor", "dense/kernal"])
        #expect(bad.status == 2)
        #expect(bad.err.contains("did you mean \"dense/kernel\""))
    }

    @Test("Trouble exits 2 with one sentence naming the file, member and byte offset")
    func troubleExitsTwo() throws {
        let dir = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: Self.weightsSample)))
        // Truncated.
        try Data(bytes[0..<(bytes.count / 2)]).write(to: URL(fileURLWithPath: dir + "/cut.ckpt"))
        var r = CLI.run(["inspect", dir + "/cut.ckpt"])
        #expect(r.status == 2)
        #expect(r.err.hasPrefix("ckpt: error: ") && r.err.contains("cut.ckpt") && r.err.split(separator: "\n").count == 1)
        // A flipped byte inside a tensor's data: the index still reads, --verify catches it.
        let zip = try ZipArchive(path: Self.weightsSample)
        let kernel = try #require(zip.entry(named: "dense/kernel.npy"))
        let at = Int(try zip.dataOffset(of: kernel)) + 1000
        var flipped = bytes
        flipped[at] ^= 0xFF
        try Data(flipped).write(to: URL(fileURLWithPath: dir + "/flip.ckpt"))
        r = CLI.run(["inspect", dir + "/flip.ckpt"])
        #expect(r.status == 0)
        r = CLI.run(["inspect", dir + "/flip.ckpt", "--verify"])
        #expect(r.status == 2)
        #expect(r.err.contains("flip.ckpt") && r.err.contains("member \"dense/kernel.npy\"") && r.err.contains("at byte "))
        // Not a ZIP at all.
        try Data("hello world, definitely not a zip archive".utf8).write(to: URL(fileURLWithPath: dir + "/text.ckpt"))
        r = CLI.run(["inspect", dir + "/text.ckpt"])
        #expect(r.status == 2)
        #expect(r.err.contains("text.ckpt") && r.err.contains("not a ZIP archive"))
        // Bad arguments are trouble too.
        #expect(CLI.run(["inspect"]).status == 2)
        #expect(CLI.run(["inspect", Self.weightsSample, "--values", "3"]).status == 2)
        #expect(CLI.run(["frobnicate"]).status == 2)
    }

    @Test("Output is stable and free of control characters from hostile names")
    func escapesNames() throws {
        let dir = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let index = CheckpointIndex(tensors: [TensorInfo(name: "evil\u{1B}[31mred/kernel", dtype: .float32, shape: [2])])
        // The writer refuses control characters in names, so a hostile manifest is the only way in.
        #expect(throws: CheckpointError.self) { try CheckpointWriter.write(index, payloads: [.bytes([UInt8](repeating: 0, count: 8))], to: dir + "/x.ckpt") }
        #expect(escapeForDisplay("a\u{1B}[31mb\n") == "a\\u{1b}[31mb\\n")
    }
}
