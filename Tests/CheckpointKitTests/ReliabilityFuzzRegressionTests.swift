import Foundation
import Testing
import CheckpointTestSupport
import CheckpointFuzz
@testable import CheckpointKit

/// Inputs the fuzzers (Tests/Fuzz/run.sh) found crashing a reader, replayed through the very steps
/// and oracles of the fuzz target their file name starts with
/// (`Tests/Fixtures/fuzz-regressions/<target>-<what>.<ext>`, `FuzzTargets` in CheckpointFuzz).
/// Each must now give a result or a `CheckpointError` with no finding: a trap would stop the run.
@Suite("Reliability: fuzz regressions")
struct ReliabilityFuzzRegressionTests {
    static let directory = TestEnv.fixture("fuzz-regressions")

    static var inputs: [String] {
        TestEnv.listing(directory).filter { !$0.hasPrefix(".") && !$0.hasSuffix(".md") }
    }

    @Test("Every committed crashing input now gives a result or a CheckpointError, with no finding", arguments: inputs)
    func replayCommitted(_ file: String) throws {
        let bytes = try TestEnv.read(Self.directory + "/" + file)
        let name = String(file.prefix { $0 != "-" })
        let target = try #require(FuzzTargets.named(name), "\(file): the name does not start with a fuzz target (\(FuzzTargets.all.map(\.name)))")
        let run = FuzzTargets.run(target, bytes)
        #expect(run.findings.isEmpty, "\(run.findings)")
        #expect(!run.steps.isEmpty)
    }

    @Test("There are committed regression inputs, and every target has its steps")
    func inputsExist() {
        #expect(Self.inputs.count >= 2)
        #expect(Set(FuzzTargets.all.map(\.steps)).isSubset(of: Set(FuzzTargets.all.map(\.name))))
        #expect(Set(FuzzTargets.all.map(\.name)).count == FuzzTargets.all.count)
    }

    /// The harness's oracles on valid inputs: a finding here would be a false alarm (or a real bug
    /// in a writer: a seed is what our own writers make).
    @Test("Every seed passes its target without a finding, and most are accepted")
    func seedsPass() throws {
        let dir = try TestEnv.temporaryDirectory("ckpt-fuzz-seeds")
        defer { TestEnv.cleanup(dir) }
        for d in Seeds.directories { try FileManager.default.createDirectory(atPath: dir + "/" + d, withIntermediateDirectories: true) }
        try Seeds.make(into: dir)
        var accepted = 0, files = 0
        for target in FuzzTargets.all where target.steps == target.name {
            for file in TestEnv.listing(dir + "/" + target.name) {
                let run = FuzzTargets.run(target, try TestEnv.read(dir + "/" + target.name + "/" + file))
                #expect(run.findings.isEmpty, "\(target.name) \(file): \(run.findings)")
                files += 1
                if run.topLevel.contains(where: { $0.refusal == nil }) { accepted += 1 }
            }
        }
        #expect(files >= 20)
        #expect(accepted * 4 >= files * 3, "\(accepted) of \(files) seeds accepted")
    }

    /// A finding is reported, not swallowed: a step that throws something other than a
    /// CheckpointError.
    @Test("A non-CheckpointError in a step is a finding")
    func findingsAreReported() {
        struct Other: Error {}
        let run = FuzzTargets.run(FuzzTarget("probe", maxLength: 1) { run, _ in run.step("throws") { throw Other() } }, [])
        #expect(run.findings.count == 1 && run.findings[0].contains("non-CheckpointError"))
    }

    // MARK: The findings, as minimal hand-made inputs

    /// A manifest whose top-level object has 200 000 keys: the duplicate-key check compared each
    /// key with every earlier one (quadratic: minutes for a 3 MB file). Now a set after 16 keys.
    @Test("A manifest with 200 000 top-level keys is decoded in linear time, and a duplicate among them is still found")
    func manyKeysAreLinear() throws {
        var text = #"{"format": "ckpt", "format_version": [1, 0], "kind": "weights", "tensors": []"#
        for k in 0..<200_000 { text += #", "k\#(k)": 0"# }
        let clock = ContinuousClock()
        let elapsed = try clock.measure { _ = try Manifest.decode(Array((text + "}").utf8), file: "many.json", offset: 0) }
        #expect(elapsed < .seconds(20), "\(elapsed)")
        let e = expectError(.invalidJSON) { _ = try Manifest.decode(Array((text + #", "k123456": 1}"#).utf8), file: "many.json", offset: 0) }
        #expect(e?.description.contains("duplicate key \"k123456\"") == true)
        // The optimizer object goes through the same reader.
        var opt = #"{"format": "ckpt", "format_version": [1, 0], "kind": "weights", "tensors": [], "optimizer": {"member": "optimizer.json""#
        for k in 0..<50_000 { opt += #", "o\#(k)": 0"# }
        expectError(.invalidJSON) { _ = try Manifest.decode(Array((opt + #", "o7": 1}}"#).utf8), file: "many.json", offset: 0) }
    }

    /// `"chunk_size": 0` before a tensor entry with `chunks`: the entry divided by it before the
    /// range check ran (a trap; found reviewing the paths the json target covers).
    @Test("A manifest with chunk_size 0 (or negative) before chunked tensors is refused, not a division by zero")
    func chunkSizeZero() throws {
        for size in ["0", "-1048576", "1"] {
            let text = #"{"format":"ckpt","format_version":[1,0],"kind":"weights","chunk_size":\#(size),"tensors":[{"name":"a","member":"a.npy","dtype":"float32","shape":[2],"role":"weight","crc32":0,"size":136,"stored_size":10,"header_size":128,"chunks":[1,2]}]}"#
            let e = expectError(.invalidManifest) { _ = try Manifest.decode(Array(text.utf8), file: "m.json", offset: 0) }
            #expect(e?.description.contains("chunk_size") == true)
        }
    }

    /// A v1 `.npy` header whose length field says 0 or 1: the header ends inside the 12-byte
    /// preamble the reader had already read (NPZSource computed a negative remaining length and
    /// trapped; found by the npz target).
    @Test("npz: a .npy header shorter than the 12-byte preamble is refused, stored or deflated")
    func npzHeaderShorterThanPreamble() throws {
        let dir = try TestEnv.temporaryDirectory()
        defer { TestEnv.cleanup(dir) }
        for length: UInt8 in [0, 1] {
            let member: [UInt8] = NPY.magic + [1, 0, length, 0] + Array("{}  ".utf8)
            for method: UInt16 in [0, 8] {
                var m = ZipForge.Member(name: "x.npy", data: member)
                if method == 8 {
                    var out: [UInt8] = []
                    let d = try Deflater(strategy: .standard)
                    try member.withUnsafeBytes { try d.compressFragment($0, finish: true, into: &out) }
                    m = ZipForge.Member(name: "x.npy", data: out, method: 8, crc: crc32(member), declaredSize: UInt64(member.count))
                }
                let path = dir + "/short-\(length)-\(method).npz"
                try TestEnv.write(ZipForge(members: [m]).bytes(), to: path)
                let e = expectError(.invalidNPY) { _ = try NPZSource(path: path) }
                #expect(e?.member == "x.npy")
            }
        }
    }
}
