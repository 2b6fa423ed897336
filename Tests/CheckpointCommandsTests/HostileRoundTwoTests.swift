import Foundation
import Testing
import CheckpointTestSupport
@testable import CheckpointCommands
@testable import CheckpointKit
#if canImport(Glibc)
import Glibc
#endif

/// Issue 16, the second outside attack: each class of hostile input, careless argument or fault
/// ends as exit 2 with one sentence naming the file (member, offset), in bounded time and memory,
/// with nothing half-written and the inputs untouched. The hostile files are generated here.
@Suite("Hostile input, round two (issue 16)", .reportsSeeds)
struct HostileRoundTwoTests {
    static let mlp = CLI.path("Tests/Fixtures/keras/mlp")

    /// `[[],[],…]`: a few bytes per value of text, a hundred bytes per value of tree.
    static func shapeBomb(_ values: Int) -> [UInt8] { Array(("[" + String(repeating: "[],", count: values) + "[]]").utf8) }

    static func safetensors(_ tensors: [(String, [Float])]) -> [UInt8] {
        var header: [(String, JSONValue)] = []
        var data: [UInt8] = []
        for (name, values) in tensors {
            let bytes = values.flatMap { withUnsafeBytes(of: $0.bitPattern.littleEndian, Array.init) }
            header.append((name, .object([("dtype", .string("F32")), ("shape", .array([.number(values.count)])),
                                          ("data_offsets", .array([.number(data.count), .number(data.count + bytes.count)]))])))
            data += bytes
        }
        let h = JSONValue.object(header).serializedBytes(.compact)
        var out: [UInt8] = []
        out.appendLE(UInt64(h.count))
        return out + h + data
    }

    /// Runs the built ckpt under `ulimit` settings (bash), with a deadline; the result.
    static func limited(_ ulimits: String, _ args: [String], seconds: Double = 60) throws -> ProcessResult {
        let exe = try #require(CkptExecutable.path)
        let quoted = args.map { "'" + $0.replacingOccurrences(of: "'", with: "'\\''") + "'" }.joined(separator: " ")
        let child = try ChildProcess("bash", ["-c", "\(ulimits); exec '\(exe)' \(quoted)"], environment: ["NO_COLOR": "1"])
        let start = Date()
        while child.process.isRunning && Date().timeIntervalSince(start) < seconds { usleep(20_000) }
        if child.process.isRunning { child.signal(SIGKILL) }
        let r = child.wait()
        #expect(Date().timeIntervalSince(start) < seconds, "ckpt \(args) ran longer than \(seconds) s")
        return r
    }

    static func oneSentence(_ r: ProcessResult, mentioning words: [String], sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(r.status == 2, "exit \(r.status): \(r.output)", sourceLocation: sourceLocation)
        let lines = r.output.split(separator: "\n").filter { !$0.hasPrefix("note:") }
        #expect(lines.count == 1 && lines.first?.hasPrefix("ckpt: error: ") == true, "not one sentence: \(r.output)", sourceLocation: sourceLocation)
        for w in words { #expect(r.output.contains(w), "\"\(w)\" not in: \(r.output)", sourceLocation: sourceLocation) }
    }

    // MARK: JSON shape bombs

    @Test("JSON shape bombs (manifest, optimizer, .keras metadata, a shard index) are refused within 1 GiB of address space, naming file and member",
          .requires(.bash, .ckptBinary))
    func jsonShapeBombs() throws {
        let dir = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let bomb = Self.shapeBomb(1_200_000)
        var manifest = CraftedContainer([.init("w", .float32, [3])])
        manifest.rawManifest = Array(#"{"metadata":{"a":"#.utf8) + bomb + Array("}}".utf8)
        try manifest.write(to: dir + "/manifest.ckpt")
        var optimizer = CraftedContainer([.init("w", .float32, [3], role: .weight)])
        optimizer.kind = "full"
        optimizer.optimizer = Array(#"{"class_name":"SGD","iterations":0,"config":{"x":"#.utf8) + bomb + Array("}}".utf8)
        try optimizer.write(to: dir + "/optimizer.ckpt")
        try Data(StoredZip.bytes([("config.json", Array("{}".utf8)), ("metadata.json", Array(#"{"x":"#.utf8) + bomb + Array("}".utf8)),
                                  ("model.weights.h5", [UInt8](repeating: 0, count: 64))])).write(to: URL(fileURLWithPath: dir + "/metadata.keras"))
        try Data(Array(#"{"metadata":{"x":"#.utf8) + bomb + Array(#"},"weight_map":{"w":"s.safetensors"}}"#.utf8))
            .write(to: URL(fileURLWithPath: dir + "/m.safetensors.index.json"))
        try Data(Self.safetensors([("w", [1])])).write(to: URL(fileURLWithPath: dir + "/s.safetensors"))

        for (file, member) in [("manifest.ckpt", "manifest.json"), ("optimizer.ckpt", "optimizer.json"), ("metadata.keras", "metadata.json"),
                               ("m.safetensors.index.json", "m.safetensors.index.json")] {
            let r = try Self.limited("ulimit -v 1048576", ["inspect", dir + "/" + file], seconds: 30)
            Self.oneSentence(r, mentioning: [file, member, "values"])
        }
        // In the library: the limit is on what the text builds, for any parse.
        #expect(throws: CheckpointError.self) { try JSONParser.parse(bomb) }
        var small = JSONParser.Options()
        small.maxTotalStringBytes = 100
        #expect { try JSONParser.parse(Array(("[" + String(repeating: "\"abcdefghij\",", count: 20) + "1]").utf8), options: small) } throws: {
            ($0 as? CheckpointError)?.code == .limitExceeded
        }
    }

    // MARK: Names

    @Test("A 70,000- or 5,000-byte tensor name: convert to .ckpt/.npz refuses it by name, writes nothing; writer and reader share the limit")
    func longNames() throws {
        let dir = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        for n in [70_000, 5_000] {
            let input = dir + "/long\(n).safetensors"
            try Data(Self.safetensors([(String(repeating: "a", count: n), [1])])).write(to: URL(fileURLWithPath: input))
            let before = try FileSnapshot(input)
            for out in ["o.ckpt", "o.npz"] {
                let r = CLI.run(["convert", input, dir + "/" + out])
                CLI.expectSentence(r, mentioning: [out, "\(n)-byte name", "\(Limits.default.maxTensorNameBytes)"])
                #expect(!FileManager.default.fileExists(atPath: dir + "/" + out))
            }
            #expect(try FileSnapshot(input) == before)
        }
        #expect(CLI.temporaries(in: dir).isEmpty)
        // The longest name the writer accepts is one the reader reads back.
        let name = String(repeating: "n", count: Limits.default.maxTensorNameBytes)
        try Data(Self.safetensors([(name, [2])])).write(to: URL(fileURLWithPath: dir + "/max.safetensors"))
        #expect(CLI.run(["convert", dir + "/max.safetensors", dir + "/max.ckpt"]).status == 0)
        #expect(CLI.run(["inspect", dir + "/max.ckpt", "--verify"]).status == 0)
    }

    @Test("Writers refuse more members than readers accept (the limit's number in one place)")
    func memberCountSymmetry() throws {
        let dir = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var limits = Limits()
        limits.maxMembers = 20
        let tensors = (0..<20).map { TensorInfo(name: "t\($0)", dtype: .float32, shape: [1]) }
        #expect { try WriterChecks.zipTensors(tensors, otherMembers: 1, limits: limits, file: dir + "/x.ckpt") } throws: {
            ($0 as? CheckpointError)?.code == .limitExceeded
        }
        #expect(throws: Never.self) { try WriterChecks.zipTensors(Array(tensors.prefix(19)), otherMembers: 1, limits: limits, file: dir + "/x.ckpt") }
        // And the reader with the same limits refuses a 21-member archive.
        let zip = StoredZip.bytes((0..<21).map { ("m\($0)", [UInt8(0)]) })
        #expect { try ZipArchive(file: ReadableFile(bytes: zip, name: "x.npz"), limits: limits) } throws: {
            ($0 as? CheckpointError)?.code == .limitExceeded
        }
    }

    @Test("Shard names that differ only in Unicode normalisation are two files (bytes, not canonical equivalence)")
    func normalisedNames() throws {
        let dir = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let nfc = "caf\u{E9}.safetensors", nfd = "cafe\u{301}.safetensors"
        #expect(nfc == nfd && !nfc.sameBytes(nfd), "Swift calls them equal; the file system does not")
        try Data(Self.safetensors([("a", [1])])).write(to: URL(fileURLWithPath: dir + "/" + nfc))
        try Data(Self.safetensors([("b", [1000])])).write(to: URL(fileURLWithPath: dir + "/" + nfd))
        let index = JSONValue.object([("weight_map", .object([("a", .string(nfc)), ("b", .string(nfd))]))])
        try Data(index.serializedBytes(.pretty)).write(to: URL(fileURLWithPath: dir + "/m.safetensors.index.json"))
        let r = CLI.run(["inspect", dir + "/m.safetensors.index.json", "--tensor", "b", "--values", "1"])
        #expect(r.status == 0, "\(r.err)")
        #expect(r.out.contains("1000"), "tensor b read from the wrong shard: \(r.out)")
    }

    @Test("Names with bidi and zero-width characters are escaped in messages and reports")
    func spoofedNames() throws {
        let dir = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let input = dir + "/s.safetensors"
        try Data(Self.safetensors([("evil\u{202E}txt.npy", [1]), ("a\u{200B}b", [2])])).write(to: URL(fileURLWithPath: input))
        let r = CLI.run(["inspect", input])
        #expect(r.status == 0)
        #expect(!r.out.unicodeScalars.contains { $0.value == 0x202E || $0.value == 0x200B })
        #expect(r.out.contains("\\u{202e}") && r.out.contains("\\u{200b}"))
        let page = CLI.run(["inspect", input, "--report", "-"]).out
        #expect(!page.unicodeScalars.contains { $0.value == 0x202E || $0.value == 0x200B })
    }

    // MARK: Polyglots and amplification

    @Test("A ZIP whose comment hides a second directory is refused (.ckpt and .npz), and so is any comment on a .ckpt")
    func polyglotZip() throws {
        let dir = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let genuine = CraftedContainer([.init("dense/bias", .float32, [1], data: ReliabilityHostileInputTests.f32([1]))]).bytes()
        let other = CraftedContainer([.init("dense/bias", .float32, [1], data: ReliabilityHostileInputTests.f32([1000]))]).bytes()
        // The second archive's directory and end record (its last 22 + directory bytes) in the comment.
        // One byte after it, so that only the outer end record's comment runs to the end of the file
        // (Python's zipfile takes the last signature, ckpt the record that ends the file).
        let hidden = Array(other.suffix(200)) + [0x20]
        var polyglot = Array(genuine.dropLast(2))
        polyglot.appendLE(UInt16(hidden.count))
        polyglot += hidden
        for name in ["p.ckpt", "p.npz"] {
            try Data(polyglot).write(to: URL(fileURLWithPath: dir + "/" + name))
            CLI.expectSentence(CLI.run(["inspect", dir + "/" + name, "--verify"]), mentioning: [name, "comment"])
        }
        var commented = Array(genuine.dropLast(2))
        commented.appendLE(UInt16(5))
        commented += Array("hello".utf8)
        try Data(commented).write(to: URL(fileURLWithPath: dir + "/c.ckpt"))
        CLI.expectSentence(CLI.run(["inspect", dir + "/c.ckpt"]), mentioning: ["c.ckpt", "comment"])
    }

    @Test("Bytes between ZIP members that belong to no member (a hidden local header, padding, prepended bytes) are refused, naming file and offset")
    func unaccountedZipBytes() throws {
        let dir = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let npy = ReliabilityHostileInputTests.npyHeader("{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }") + ReliabilityHostileInputTests.f32([1])
        let members = [("a.npy", npy), ("b.npy", npy)]
        let memberBytes = 30 + 5 + npy.count
        // A member only a reader walking the local headers sees: its header and data, no directory record.
        let hidden = Array(StoredZip.bytes([("evil.npy", npy)]).prefix(30 + 8 + npy.count))
        try Data(StoredZip.bytes(members)).write(to: URL(fileURLWithPath: dir + "/plain.npz"))
        #expect(CLI.run(["inspect", dir + "/plain.npz"]).status == 0)
        let cases: [(String, [Int: [UInt8]], Int)] = [
            ("between.npz", [1: hidden], memberBytes),
            ("padded.ckpt", [2: [UInt8](repeating: 0, count: 7)], 2 * memberBytes),
            ("prepended.npz", [0: Array("#!/bin/sh\n".utf8)], 0),
        ]
        for (name, gaps, offset) in cases {
            try Data(StoredZip.bytes(members, gaps: gaps)).write(to: URL(fileURLWithPath: dir + "/" + name))
            CLI.expectSentence(CLI.run(["inspect", dir + "/" + name]), mentioning: [name, "byte \(offset)", "belong to no member"])
            #expect { try ZipArchive(path: dir + "/" + name) } throws: { e in
                let e = e as? CheckpointError
                return e?.code == .corrupt && e?.offset == UInt64(offset)
            }
        }
    }

    @Test("A JSON shape bomb as rebuild's (or inspect's) --architecture: refused as beyond the JSON limit, naming that file", .requires(.bash, .ckptBinary))
    func architectureShapeBomb() throws {
        let dir = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try Data(Self.shapeBomb(1_200_000)).write(to: URL(fileURLWithPath: dir + "/wide.json"))
        try Data(Array((String(repeating: "[", count: 200) + String(repeating: "]", count: 200)).utf8)).write(to: URL(fileURLWithPath: dir + "/deep.json"))
        for bomb in ["wide.json", "deep.json"] {
            for args in [["rebuild", Self.mlp + "/weights.npz", "--architecture", dir + "/" + bomb, "--optimizer", "adam", "-o", dir + "/out.ckpt"],
                         ["inspect", Self.mlp + "/weights.npz", "--architecture", dir + "/" + bomb]] {
                let r = try Self.limited("ulimit -v 1048576", args, seconds: 30)
                Self.oneSentence(r, mentioning: [bomb, "JSON limit"])
                #expect(!r.output.contains("weights.npz") && !r.output.contains("not parseable"), "\(r.output)")
            }
        }
        #expect(!FileManager.default.fileExists(atPath: dir + "/out.ckpt"))
    }

    @Test("A .ckpt declaring chunk_size 1 GiB is refused before any buffer that size exists")
    func hugeChunkSize() throws {
        let dir = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var c = CraftedContainer([.init("w", .float32, [4])])
        c.editManifest = { CraftedContainer.set(&$0, "chunk_size", .number(1 << 30)) }
        try c.write(to: dir + "/big.ckpt")
        CLI.expectSentence(CLI.run(["inspect", dir + "/big.ckpt", "--tensor", "w", "--values", "5"]), mentioning: ["big.ckpt", "chunk_size", "manifest.json"])
    }

    // MARK: Careless arguments

    @Test("--values 1000000000 prints a capped number of values in bounded memory; --values -5 says what is wrong",
          .requires(.bash, .ckptBinary))
    func valuesArgument() throws {
        let weights = CLI.path("Samples/mlp-weights.ckpt")
        let r = try Self.limited("ulimit -v 1048576", ["inspect", weights, "--tensor", "dense/kernel", "--values", "1000000000"], seconds: 60)
        #expect(r.status == 0, "\(r.output)")
        #expect(r.output.contains("note: --values prints at most"))
        let negative = CLI.run(["inspect", weights, "--tensor", "dense/kernel", "--values", "-5"])
        #expect(negative.status != 0 && negative.err.contains("--values must be 0 or more") && !negative.err.contains("Missing value"))
    }

    @Test("A mistyped --tensor among 20,000 names of 4,000 characters: the suggestion search is bounded")
    func boundedSuggestion() throws {
        var rng = SeededRNG(seed: 16)
        let names = (0..<20_000).map { k in String(repeating: "x", count: 3_990) + String(format: "%010d", k + Int(rng.next() % 7)) }
        let start = Date()
        _ = Suggest.closest(String(repeating: "y", count: 4_000), among: names)
        #expect(Date().timeIntervalSince(start) < 20, "the search took \(Date().timeIntervalSince(start)) s")
        #expect(Suggest.closest("dense/kernl", among: ["dense/bias", "dense/kernel"]) == "dense/kernel")
    }

    @Test("--report replaces an existing page only with --force")
    func reportNeedsForce() throws {
        let dir = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let page = dir + "/page.html"
        try Data("<!doctype html><p>mine</p>".utf8).write(to: URL(fileURLWithPath: page))
        CLI.expectSentence(CLI.run(["inspect", CLI.path("Samples/mlp-weights.ckpt"), "--report", page]), mentioning: ["page.html", "--force"])
        #expect(try String(contentsOfFile: page, encoding: .utf8) == "<!doctype html><p>mine</p>")
    }
}
