import Foundation
import Testing
import CheckpointTestSupport
@testable import CheckpointKit

/// The two deflate encoders of tensor data (ISA-L when libisal is loaded, zlib otherwise, and
/// always in reach through `WriteOptions.encoder`): both write what zlib, libdeflate, `unzip`,
/// Python's `zipfile` and `numpy.load` read as the same bytes, in the chunk layout of spec §2.
@Suite("Deflate encoders", .reportsSeeds)
struct DeflateEncoderTests {
    /// The encoders this machine runs; ISA-L is a reported skip elsewhere (CKPT_REQUIRE_ISAL=1 fails).
    static let encoders: [DeflateEncoder] = DeflateEncoder.allCases.filter(DeflateChunks.isAvailable)

    @Test("libisal is loaded where it is installed, and CKPT_NO_ISAL / CKPT_PRETEND_MISSING=isal turn it off in a child", .requires(.isal, .ckptBinary))
    func isalLoaded() throws {
        #expect(DeflateEncoder.preferred == .isal)
        let exe = try #require(CkptExecutable.path, "the built ckpt")
        // The child's CRC-32 and deflate path: inspect --verify of a file written by the other encoder.
        let dir = try TestEnv.temporaryDirectory()
        defer { TestEnv.cleanup(dir) }
        let (index, payloads) = ContainerTests.sampleIndex()
        for e in Self.encoders {
            let path = "\(dir)/\(e.rawValue).ckpt"
            var options = WriteOptions()
            options.encoder = e
            try CheckpointWriter.write(index, payloads: payloads, to: path, options: options)
            for env in [[:], ["CKPT_NO_ISAL": "1"], ["CKPT_PRETEND_MISSING": "isal", "CKPT_NO_LIBDEFLATE": "1"]] {
                let r = try TestEnv.run(exe, ["inspect", "--verify", path], environment: env)
                #expect(r.status == 0, "\(e) \(env): \(r.output)")
                let copy = "\(dir)/\(e.rawValue)-\(env.count)-copy.npz"
                let c = try TestEnv.run(exe, ["convert", path, copy], environment: env)
                #expect(c.status == 0, "\(e) \(env): \(c.output)")
            }
        }
    }

    @Test("Chunked streams of both encoders inflate back with zlib and libdeflate, chunk by chunk and whole", arguments: encoders)
    func chunksRoundTrip(_ encoder: DeflateEncoder) throws {
        var rng = SeededRNG(seed: 7)
        let floats = RandomTensors.bytes(TensorInfo(name: "w", dtype: .float32, shape: [300_000]), &rng, constant: false)
        let noise = (0..<200_000).map { _ in UInt8.random(in: 0...255, using: &rng) }
        let cases: [(String, [UInt8], Bool)] = [("floats", floats, true), ("zeros", [UInt8](repeating: 0, count: 300_001), true),
                                                ("noise", noise, false), ("byte", [7], true)]
        for (what, data, floating) in cases {
            let chunk = 64 << 10
            let (stream, ends) = try DeflateChunks.deflate(data, chunkSize: chunk, floating: floating, encoder: encoder)
            for lib in [false, true] {
                if let back = try DeflateChunks.inflate(stream, size: data.count, libdeflate: lib) {
                    #expect(back == data, "\(encoder) \(what) libdeflate \(lib)")
                }
            }
            var start = 0
            for (k, end) in ends.enumerated() where k < ends.count - 1 {
                #expect(stream[start..<end].suffix(4).elementsEqual([0x00, 0x00, 0xFF, 0xFF]), "\(encoder) \(what) chunk \(k): no full flush")
                let alone = try DeflateChunks.inflate(Array(stream[start..<end]) + [0x03, 0x00], size: chunk, libdeflate: false)
                #expect(alone.map { $0.elementsEqual(data[(k * chunk)..<((k + 1) * chunk)]) } == true, "\(encoder) \(what) chunk \(k)")
                start = end
            }
            if what == "floats" {
                // Float weights compress to ~92 % under both (Huffman codes of the exponent bytes).
                #expect(stream.count < data.count * 95 / 100, "\(encoder): \(stream.count) of \(data.count)")
            }
        }
    }

    @Test("The CRC-32 in use (ISA-L's, libdeflate's or zlib's) is zlib's, continued across pieces")
    func crcMatchesZlib() {
        var rng = SeededRNG(seed: 11)
        let data = (0..<100_003).map { _ in UInt8.random(in: 0...255, using: &rng) }
        let whole = DeflateChunks.zlibCRC32(data)
        #expect(crc32(data) == whole)
        let split = 33_333
        #expect(crc32(Array(data[split...]), continuing: crc32(Array(data[..<split]))) == whole)
        #expect(crc32([UInt8]()) == 0)
    }

    @Test("A .ckpt and an .npz written by each encoder: unzip -t, zipfile and numpy.load see our values; ours reads them back",
          .requires(.numpy, .unzip), arguments: encoders)
    func readersAgree(_ encoder: DeflateEncoder) throws {
        let dir = try TestEnv.temporaryDirectory()
        defer { TestEnv.cleanup(dir) }
        let (index, payloads) = ContainerTests.sampleIndex()
        var options = WriteOptions()
        options.encoder = encoder
        let ckpt = dir + "/x.ckpt", npz = dir + "/x.npz"
        try CheckpointWriter.write(index, payloads: payloads, to: ckpt, options: options)
        let archive = try CheckpointArchive(path: ckpt)
        try archive.verify()
        try NPZWriter.write(archive, to: npz, options: options)
        for path in [ckpt, npz] {
            let (status, out) = try TestEnv.run("unzip", ["-t", path])
            #expect(status == 0 && out.contains("No errors detected"), "\(encoder) \(path): \(out)")
        }
        let out = try TestEnv.python("""
        import sys, zipfile, hashlib, numpy as np
        for p in sys.argv[1:]:
            z = zipfile.ZipFile(p); assert z.testzip() is None
            a = np.load(p)
            for k in sorted(a.files):
                x = a[k]
                print(p[-4:], k, hashlib.sha256(np.ascontiguousarray(x).tobytes()).hexdigest())
        """, [ckpt, npz])
        let lines = Set(out.split(separator: "\n").map(String.init))
        for (i, t) in index.tensors.enumerated() {
            let digest = SHA256.hex(ContainerTests.expectedBytes(payloads[i], t))
            for suffix in ["ckpt", ".npz"] {
                #expect(lines.contains("\(suffix) \(t.name) \(digest)"), "\(encoder) \(suffix): numpy disagrees on \(t.name)")
            }
            let k = try #require(archive.tensorIndex(named: t.name))
            #expect(try archive.readTensorBytes(k) == ContainerTests.expectedBytes(payloads[i], t), "\(encoder): \(t.name)")
        }
    }
}
