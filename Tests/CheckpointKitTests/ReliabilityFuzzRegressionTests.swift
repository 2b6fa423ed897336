import Foundation
import Testing
@testable import CheckpointKit

/// Inputs the fuzzers (Sources/ckpt-fuzz, Tests/Fuzz/run.sh) found crashing a reader, replayed
/// through the same steps as the fuzz target their file name starts with
/// (`Tests/Fixtures/fuzz-regressions/<target>-<what>.<ext>`). Each must now give a result or a
/// `CheckpointError`: a trap would stop the test run.
@Suite("Reliability: fuzz regressions")
struct ReliabilityFuzzRegressionTests {
    static let directory = TestEnv.path("Tests/Fixtures/fuzz-regressions")

    static var inputs: [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []).filter { !$0.hasPrefix(".") && !$0.hasSuffix(".md") }.sorted()
    }

    static var limits: Limits {
        var l = Limits()
        l.maxCentralDirectoryBytes = 1 << 20
        l.maxMembers = 512
        l.maxManifestBytes = 1 << 20
        l.maxJSONBytes = 1 << 20
        l.maxJSONDepth = 64
        l.maxNPYHeaderBytes = 8192
        l.maxInMemoryTensorBytes = 64 << 20
        l.maxTensorBytes = 64 << 20
        return l
    }

    /// Runs `body`; a CheckpointError is a refusal (fine), any other error a failure.
    static func refusal(_ what: String, _ body: () throws -> Void) {
        do {
            try body()
        } catch let e as CheckpointError {
            #expect(!e.description.isEmpty && (e.description.hasSuffix(".") || e.description.hasSuffix("?")), "\(what): \(e)")
        } catch {
            Issue.record("\(what): a non-CheckpointError: \(error)")
        }
    }

    static func readAll(_ source: any TensorSource, _ what: String) {
        for i in source.index.tensors.indices {
            refusal("\(what) tensor \(i)") { _ = try source.readTensorBytes(i, limits: limits) }
            refusal("\(what) stats \(i)") { _ = try TensorStats.compute(source, tensor: i, parallel: false) }
        }
    }

    /// The fuzz targets' steps (Sources/ckpt-fuzz/Fuzz.swift), minus the harness's own oracles.
    static func replay(_ target: String, _ bytes: [UInt8], name: String) {
        switch target {
        case "container", "npz":
            for tail in [64, 256 << 10] {
                refusal(name) {
                    let zip = try ZipArchive(file: ReadableFile(bytes: bytes, name: name), limits: limits, tailBytes: tail)
                    if target == "npz" {
                        readAll(try NPZSource(zip: zip, limits: limits), name)
                    } else {
                        let a = try CheckpointArchive(zip: zip, limits: limits)
                        refusal(name + " verify") { try a.verify(parallel: false) }
                        readAll(a, name)
                    }
                }
            }
        case "npy":
            refusal(name) { _ = try NPY.parseHeader(bytes, limits: limits) }
        case "json":
            refusal(name) { _ = try JSONParser.parse(bytes) }
            refusal(name) { _ = try Manifest.decode(bytes, file: name, offset: 0, limits: limits) }
        case "keras":
            refusal(name) {
                let arch = try KerasArchitecture(bytes: bytes)
                for o in [KerasInferenceOptions(), KerasInferenceOptions(allowUnknownLayers: true, useRecordedShapes: false)] {
                    refusal(name) {
                        let v = try arch.variables(options: o)
                        if let opt = try arch.optimizerConfig(), v.unknownLayers.isEmpty { _ = try opt.stateVariables(for: v) }
                    }
                }
            }
        case "safetensors":
            refusal(name) { _ = try SafetensorsSource.parseHeader(bytes, fileSize: UInt64(bytes.count), limits: limits, file: name) }
            refusal(name) { _ = try SafetensorsSource.parseShardIndex(bytes, limits: limits, file: name) }
        default:
            Issue.record("\(name): the file name does not start with a fuzz target (container, npz, npy, json, keras, safetensors)")
        }
    }

    @Test("Every committed crashing input now gives a result or a CheckpointError", arguments: inputs)
    func replayCommitted(_ file: String) throws {
        let bytes = try TestEnv.read(Self.directory + "/" + file)
        let target = String(file.prefix { $0 != "-" })
        Self.replay(target, bytes, name: file)
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
