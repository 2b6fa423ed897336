import Foundation
import Testing
import CheckpointTestSupport
@testable import CheckpointCommands
@testable import CheckpointKit

/// Corruption through the command line: truncated and byte-flipped copies of sample files, read
/// with `ckpt inspect --verify`. Never a crash or a hang; each case exits 2 with one sentence
/// naming the file, or (for a byte nothing depends on) prints exactly what the original gives.
/// A flip inside a `.ckpt` member's data is always caught (exit 2: the manifest's `stored_crc32`
/// covers the stored bytes). In a `.npz` it is caught unless it falls in deflate's slack (bits the
/// inflated data never depends on): then every member still inflates to exactly its original
/// bytes, which the test checks.
///
/// Fast by default (a seeded sample of offsets); `CKPT_SLOW_TESTS=1` tries every offset of files
/// up to 64 KiB and a dense seeded sample (20 000 offsets) of larger ones.
@Suite("Reliability: corruption through the CLI", .reportsSeeds)
struct ReliabilityCorruptionTests {
    static var slow: Bool { ProcessInfo.processInfo.environment["CKPT_SLOW_TESTS"] == "1" }

    struct Sample: CustomTestStringConvertible, Sendable {
        let name: String
        /// Relative to the package root, or nil for the small full checkpoint made by the test.
        let path: String?
        /// Whether every byte of member data is covered by a checksum.
        let checksummed: Bool
        var testDescription: String { name }
    }

    static let samples: [Sample] = [
        Sample(name: "small-full.ckpt", path: nil, checksummed: true),
        Sample(name: "mlp-weights.ckpt", path: "Samples/mlp-weights.ckpt", checksummed: true),
        Sample(name: "savez.npz", path: "Tests/Fixtures/safetensors/savez.npz", checksummed: true),
        Sample(name: "savez_compressed.npz", path: "Tests/Fixtures/safetensors/savez_compressed.npz", checksummed: true),
        Sample(name: "mixed.safetensors", path: "Tests/Fixtures/safetensors/mixed.safetensors", checksummed: false),
    ]

    /// A full checkpoint of a few KiB: weights, optimizer slots, step counter, architecture, metadata.
    static func smallFull(_ path: String) throws {
        let tensors: [(TensorInfo, [UInt8])] = [
            (TensorInfo(name: "dense/kernel", dtype: .float32, shape: [16, 8]), NoiseBytes.make(512, seed: 3)),
            (TensorInfo(name: "dense/bias", dtype: .float32, shape: [8]), [UInt8](repeating: 0, count: 32)),
            (TensorInfo(name: "bn/moving_mean", dtype: .float16, shape: [8], trainable: false), NoiseBytes.make(16, seed: 4)),
            (TensorInfo(name: "optimizer/iteration", dtype: .int64, shape: [], role: .optimizer), [9, 0, 0, 0, 0, 0, 0, 0]),
            (TensorInfo(name: "optimizer/momentum/dense/kernel", dtype: .float32, shape: [16, 8], role: .optimizer, slot: "momentum", weight: "dense/kernel"),
             NoiseBytes.make(512, seed: 5)),
        ]
        let opt = OptimizerInfo(className: "SGD", config: .object([("learning_rate", .number(0.01)), ("momentum", .number(0.9))]), iterations: 9)
        let index = CheckpointIndex(tensors: tensors.map(\.0), architecture: Array(#"{"class_name": "Sequential", "config": {"name": "s", "layers": []}}"#.utf8),
                                    optimizer: opt, metadata: .object([("epoch", .number(2))]))
        try CheckpointWriter.write(index, payloads: tensors.map { .bytes($0.1) }, to: path)
    }

    /// Byte ranges of member data (compressed bytes of each member) in a ZIP-based file.
    static func memberData(_ path: String) -> [Range<Int>] {
        guard let zip = try? ZipArchive(path: path) else { return [] }
        return zip.entries.compactMap { e in
            guard let start = try? zip.dataOffset(of: e) else { return nil }
            return Int(start)..<(Int(start) + Int(e.compressedSize))
        }
    }

    /// The ZIP entry whose data holds byte `offset`.
    static func member(at offset: Int, in path: String) -> ZipEntry? {
        guard let zip = try? ZipArchive(path: path) else { return nil }
        return zip.entries.first { e in
            guard let start = try? zip.dataOffset(of: e) else { return false }
            return (Int(start)..<(Int(start) + Int(e.compressedSize))).contains(offset)
        }
    }

    /// A member's bytes as the reader inflates them (CRC-32 checked).
    static func inflated(_ name: String, of path: String) throws -> [UInt8] {
        let zip = try ZipArchive(path: path)
        guard let e = zip.entry(named: name) else { throw CheckpointError(.noSuchTensor, "no member", file: path, member: name) }
        return try zip.readMember(e, maxBytes: 1 << 30)
    }

    static func offsets(count: Int, seed: UInt64, fast: Int) -> [Int] {
        var rng = SeededRNG(seed: seed)
        if slow && count <= 64 << 10 { return Array(0..<count) }
        let n = slow ? 20_000 : fast
        return (0..<n).map { _ in Int.random(in: 0..<count, using: &rng) } + [0, count - 1]
    }

    @Test("Truncated at any length: exit 2 with a sentence naming the file", arguments: samples)
    func truncated(_ sample: Sample) throws {
        let dir = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let original = dir + "/original-" + sample.name
        if let p = sample.path { try FileManager.default.copyItem(atPath: CLI.path(p), toPath: original) } else { try Self.smallFull(original) }
        let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: original)))
        #expect(CLI.run(["inspect", original, "--verify"]).status == 0)
        let cut = dir + "/cut-" + sample.name
        for n in Self.offsets(count: bytes.count, seed: 17, fast: 60) {
            try Data(bytes[0..<n]).write(to: URL(fileURLWithPath: cut))
            let r = CLI.run(["inspect", cut, "--verify"])
            CLI.expectSentence(r, mentioning: ["cut-" + sample.name])
            if r.status != 2 { Issue.record("\(sample.name) cut to \(n) of \(bytes.count) bytes: exit \(r.status)"); break }
        }
    }

    @Test("A flipped byte: exit 2 with a sentence, or exactly the original's output; every flip in .ckpt member data is caught; in .npz, unless the member inflates unchanged", arguments: samples)
    func flipped(_ sample: Sample) throws {
        let dir = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let name = sample.name
        let original = dir + "/" + name
        if let p = sample.path { try FileManager.default.copyItem(atPath: CLI.path(p), toPath: original) } else { try Self.smallFull(original) }
        let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: original)))
        let reference = CLI.run(["inspect", original, "--verify"])
        #expect(reference.status == 0, "\(reference.err)")
        let data = Self.memberData(original)
        // The flipped copy has the same name in another directory, so outputs compare as text.
        let flipDir = dir + "/flip"
        try FileManager.default.createDirectory(atPath: flipDir, withIntermediateDirectories: true)
        let flipped = flipDir + "/" + name
        var accepted = 0, refused = 0, slack = 0
        for off in Self.offsets(count: bytes.count, seed: 23, fast: 120) {
            var b = bytes
            b[off] ^= 0x5A
            try Data(b).write(to: URL(fileURLWithPath: flipped))
            let r = CLI.run(["inspect", flipped, "--verify"])
            let inData = data.contains { $0.contains(off) }
            if r.status == 0 {
                accepted += 1
                if sample.checksummed {
                    #expect(r.out.replacingOccurrences(of: flipDir, with: dir) == reference.out,
                            "\(name): a flip at byte \(off) was accepted but changed the output")
                    if inData {
                        // A .ckpt keeps a CRC-32 of every member's stored bytes (stored_crc32):
                        // nothing in its member data may change unnoticed.
                        #expect(!name.hasSuffix(".ckpt"), "\(name): a flip at byte \(off), inside member data, was not caught")
                        // Elsewhere (.npz) deflate streams have slack the data never sees: the
                        // padding and type bits of an empty flush block, code lengths of unused
                        // symbols. A flip there leaves every inflated byte as it was (so the CRC-32
                        // of the data cannot see it). Anything else in member data must be caught.
                        let member = try #require(Self.member(at: off, in: original))
                        #expect(member.method == 8, "\(name): a flip at byte \(off), inside stored member \(member.name), was not caught")
                        #expect(try Self.inflated(member.name, of: flipped) == Self.inflated(member.name, of: original),
                                "\(name): a flip at byte \(off) changed member \(member.name) and was not caught")
                        slack += 1
                    }
                }
            } else {
                refused += 1
                CLI.expectSentence(r, mentioning: [name])
            }
        }
        #expect(refused > 0)
        _ = (accepted, slack)
    }
}
