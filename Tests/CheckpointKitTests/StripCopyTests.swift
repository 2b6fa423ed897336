import Foundation
import Testing
import CheckpointTestSupport
@testable import CheckpointKit

/// `strip` copies `.ckpt` members compressed as they are (no re-deflating), including from files
/// whose manifest has no `stored_crc32` (older writers, the independent Python writer of the
/// benchmark); a damaged member is still refused before anything is written.
@Suite("Strip copies members compressed, and checks them first", .requires(.numpy))
struct StripCopyTests {
    static let writer = """
    import sys, json, numpy as np
    sys.path.insert(0, sys.argv[2])
    from ckptwrite import CkptWriter
    rng = np.random.default_rng(7)
    w = {"dense/kernel": rng.standard_normal((700, 600)).astype(np.float32), "dense/bias": rng.standard_normal(600).astype(np.float32)}
    full = CkptWriter(sys.argv[1], kind="full", optimizer={"class_name": "Adam", "config": {"learning_rate": 0.001}, "iterations": 3})
    entries = dict(w)
    for n, a in w.items():
        entries["optimizer/momentum/" + n] = (a * 0.5, n, "momentum")
    entries["optimizer/iteration"] = np.array(3, dtype=np.int64)
    for name in sorted(entries, key=lambda n: (n + ".npy").encode()):
        v = entries[name]
        if isinstance(v, tuple):
            full.add(name, v[0], role="optimizer", slot=v[2], weight=v[1])
        elif name.startswith("optimizer/"):
            full.add(name, v, role="optimizer")
        else:
            full.add(name, v)
    full.close(order=["dense/kernel", "dense/bias", "optimizer/iteration", "optimizer/momentum/dense/kernel", "optimizer/momentum/dense/bias"])
    """

    func make(_ dir: String) throws -> String {
        let path = dir + "/full.ckpt"
        try TestEnv.python(Self.writer, [path, TestEnv.path("Tests/Benchmarks")])
        return path
    }

    @Test("A file without stored_crc32: the weights are copied byte for byte (same compressed member), equal when read")
    func copiesWithoutStoredCRC() throws {
        let dir = try TestEnv.temporaryDirectory()
        defer { TestEnv.cleanup(dir) }
        let input = try CheckpointArchive(path: try make(dir))
        #expect(input.manifest.tensors.allSatisfy { $0.storage.storedCRC32 == nil }, "the Python writer records no stored_crc32")
        let summary = try Strip.run(input, to: dir + "/w.ckpt")
        #expect(summary.removedTensors == 3)
        let out = try CheckpointArchive(path: dir + "/w.ckpt")
        #expect(out.index.tensors.map(\.name) == ["dense/kernel", "dense/bias"])
        for (k, t) in out.index.tensors.enumerated() {
            let i = try #require(input.tensorIndex(named: t.name))
            #expect(try out.readTensorBytes(k) == input.readTensorBytes(i))
            #expect(out.entries[k].compressedSize == input.entries[i].compressedSize, "\(t.name) copied, not re-deflated")
        }
        // The copy records the CRC-32 of the (checked) compressed bytes, so the next copy from it
        // reads only those bytes; verify agrees with it.
        #expect(out.manifest.tensors.allSatisfy { $0.storage.storedCRC32 != nil }, "stored_crc32 recorded for copied members")
        try out.verify()
    }

    @Test("A flipped byte in a member without stored_crc32: refused naming the member, nothing written")
    func damageIsCaught() throws {
        let dir = try TestEnv.temporaryDirectory()
        defer { TestEnv.cleanup(dir) }
        let path = try make(dir)
        let archive = try CheckpointArchive(path: path)
        let k = try #require(archive.tensorIndex(named: "dense/kernel"))
        let start = Int(try archive.zip.dataOffset(of: archive.entries[k]))
        var bytes = try TestEnv.read(path)
        bytes[start + Int(archive.entries[k].compressedSize) / 2] ^= 0x10
        try TestEnv.write(bytes, to: path)
        var refusal: CheckpointError?
        do {
            _ = try Strip.run(try CheckpointArchive(path: path), to: dir + "/w.ckpt")
        } catch let e as CheckpointError {
            refusal = e
        }
        #expect(refusal?.member?.contains("dense/kernel") == true, "\(String(describing: refusal))")
        #expect(!FileManager.default.fileExists(atPath: dir + "/w.ckpt"))
        #expect(TestEnv.listing(dir) == ["full.ckpt"], "no temporary file left")
    }
}
