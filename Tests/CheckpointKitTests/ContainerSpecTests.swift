import Foundation
import Testing
import CheckpointTestSupport
@testable import CheckpointKit

/// The spec (Sources/CheckpointKit/CheckpointKit.docc/ContainerFormat.md) and the code agree.
@Suite("Container spec")
struct ContainerSpecTests {
    static let spec = TestEnv.path("Sources/CheckpointKit/CheckpointKit.docc/ContainerFormat.md")

    @Test("Every byte of the worked example (§7) is the sample's")
    func workedExampleMatchesSample() throws {
        let text = try String(contentsOfFile: Self.spec, encoding: .utf8)
        let section = try #require(text.range(of: "## 7. Worked example").map { text[$0.upperBound...] })
        let sample = try TestEnv.read(TestEnv.path("Samples/mlp-weights.ckpt"))
        var checked = 0
        for line in section.split(separator: "\n") {
            let parts = line.split(separator: " ", omittingEmptySubsequences: true)
            guard parts.count >= 2, parts[0].count == 6, let offset = Int(parts[0], radix: 16) else { continue }
            var k = 0
            for p in parts.dropFirst() {
                guard p.count == 2, let byte = UInt8(p, radix: 16) else { break }
                #expect(offset + k < sample.count && sample[offset + k] == byte,
                        "spec §7 says byte 0x\(String(offset + k, radix: 16)) is \(p); the sample has \(offset + k < sample.count ? String(sample[offset + k], radix: 16) : "nothing")")
                k += 1
                checked += 1
            }
        }
        #expect(checked > 100)
        // The last line is the end of the file.
        let zip = try ZipArchive(path: TestEnv.path("Samples/mlp-weights.ckpt"))
        #expect(zip.centralDirectoryOffset == 0x05b960)
        #expect(zip.entries.map(\.name) == ["dense/bias.npy", "dense/kernel.npy", "dense_1/bias.npy", "dense_1/kernel.npy", "manifest.json"])
    }

    @Test("The constants the spec names")
    func constants() {
        #expect(ContainerSpec.chunkSize == 1 << 20)
        #expect(ContainerSpec.versionMadeBy == 0x031E)
        #expect(ContainerSpec.externalAttributes == 0o100644 << 16)
        #expect(ContainerSpec.dosDate == 0x0021 && ContainerSpec.dosTime == 0)
        #expect(ContainerSpec.formatVersion.major == 1)
        #expect(DType.bfloat16.npyDescr == "<u2")
        #expect(Limits.default.maxNPYHeaderBytes == 65535 && Limits.default.maxJSONDepth == 128 && Limits.default.maxMembers == 1_000_000)
    }

    @Test("A reader refuses a major version it does not know and reads a newer minor one")
    func versionPolicy() throws {
        let dir = try TestEnv.temporaryDirectory()
        defer { TestEnv.cleanup(dir) }
        func manifest(_ major: Int, _ minor: Int, extra: String = "") -> [UInt8] {
            Array(#"{"format": "ckpt", "format_version": [\#(major), \#(minor)], "kind": "weights", "producer": "test", \#(extra)"tensors": []}"#.utf8)
        }
        func container(_ name: String, _ bytes: [UInt8]) throws -> String {
            var forge = ZipForge()
            forge.members = [.init(name: "manifest.json", data: bytes)]
            let path = dir + "/\(name).ckpt"
            try TestEnv.write(forge.bytes(), to: path)
            return path
        }
        let newerMinor = try container("future-minor", manifest(1, 7, extra: #""new_key": {"x": 1}, "#))
        #expect(try CheckpointArchive(path: newerMinor).index.tensors.isEmpty)
        let newerMajor = try container("future-major", manifest(2, 0))
        let e = expectError(.unsupported) { _ = try CheckpointArchive(path: newerMajor) }
        #expect(e?.description.contains("format version 2.0") == true)
    }

    @Test("chunk offsets must increase inside their member and come one per chunk")
    func chunkOffsets() throws {
        // float32 [2, 300]: 2 400 bytes in 1 024-byte chunks, so three chunks and three offsets.
        func manifest(_ chunks: String) -> [UInt8] {
            Array(#"{"format":"ckpt","format_version":[1,0],"kind":"weights","chunk_size":1024,"tensors":[{"name":"a","member":"a.npy","dtype":"float32","shape":[2,300],"role":"weight","crc32":0,"size":2528,"stored_size":900,"header_size":128,"chunks":\#(chunks)}]}"#.utf8)
        }
        let ok = try Manifest.decode(manifest("[100,300,600]"), file: "m.json", offset: 0)
        #expect(ok.tensors.first?.storage.chunkOffsets == [100, 300, 600])
        for bad in ["[100,600,300]", "[100,300,300]", "[0,300,600]", "[100,300,900]", "[300,600]", "[100,200,300,400]"] {
            let e = expectError(.invalidManifest) { _ = try Manifest.decode(manifest(bad), file: "m.json", offset: 0) }
            #expect(e?.description.contains("chunk") == true, "\(bad)")
        }
    }
}
