import Foundation
import Testing
import CheckpointTestSupport
@testable import CheckpointKit

/// The .ckpt container: round trips, determinism, the spec's byte-level rules, and what
/// independent readers (unzip, Python zipfile, numpy) make of it.
@Suite("Container", .reportsSeeds)
struct ContainerTests {
    /// A small full checkpoint with every dtype, a scalar, an empty tensor, a multi-chunk tensor,
    /// constant fills and an optimizer.
    static func sampleIndex() -> (CheckpointIndex, [TensorPayload]) {
        var rng = SeededRNG(seed: 42)
        var tensors: [TensorInfo] = []
        var payloads: [TensorPayload] = []
        func add(_ t: TensorInfo, constant: Bool = false) {
            tensors.append(t)
            payloads.append(.bytes(RandomTensors.bytes(t, &rng, constant: constant)))
        }
        add(TensorInfo(name: "dense/kernel", dtype: .float32, shape: [600, 1000]))      // 2.4 MB: three chunks
        add(TensorInfo(name: "dense/bias", dtype: .float32, shape: [1000]))
        for (k, d) in DType.allCases.enumerated() {
            add(TensorInfo(name: "types/t\(k)_\(d.rawValue)", dtype: d, shape: [3, 5], trainable: k % 2 == 0))
        }
        add(TensorInfo(name: "batch_normalization/moving_mean", dtype: .float32, shape: [8], trainable: false), constant: true)
        add(TensorInfo(name: "empty/var", dtype: .float64, shape: [0, 4]))
        add(TensorInfo(name: "scalar/var", dtype: .int64, shape: []))
        tensors.append(TensorInfo(name: "optimizer/iteration", dtype: .int64, shape: [], role: .optimizer))
        payloads.append(.bytes(withUnsafeBytes(of: Int64(32).littleEndian) { Array($0) }))
        tensors.append(TensorInfo(name: "optimizer/learning_rate", dtype: .float32, shape: [], role: .optimizer))
        payloads.append(.bytes(withUnsafeBytes(of: Float(0.001).bitPattern.littleEndian) { Array($0) }))
        tensors.append(TensorInfo(name: "optimizer/momentum/dense/kernel", dtype: .float32, shape: [600, 1000], role: .optimizer, slot: "momentum", weight: "dense/kernel"))
        payloads.append(.fill([0, 0, 0, 0]))
        tensors.append(TensorInfo(name: "optimizer/accumulator/dense/bias", dtype: .float32, shape: [1000], role: .optimizer, slot: "accumulator", weight: "dense/bias"))
        payloads.append(.fill(withUnsafeBytes(of: Float(0.1).bitPattern.littleEndian) { Array($0) }))
        let config = JSONValue.object([("name", .string("adam")), ("learning_rate", .number("0.0010000000474974513"))])
        let index = CheckpointIndex(tensors: tensors, architecture: Array(#"{"class_name": "Sequential", "config": {"name": "s", "layers": []}}"#.utf8),
                                    optimizer: OptimizerInfo(className: "Adam", config: config, iterations: 32),
                                    metadata: .object([("epoch", .number(3)), ("monitor", .string("val_accuracy"))]))
        return (index, payloads)
    }

    static func expectedBytes(_ payload: TensorPayload, _ info: TensorInfo) -> [UInt8] {
        switch payload {
        case .bytes(let b): return b
        case .fill(let p): return (0..<(info.elementCount ?? 0)).flatMap { _ in p }
        default: return []
        }
    }

    @Test func roundTripEveryTensor() throws {
        let dir = try TestEnv.temporaryDirectory()
        defer { TestEnv.cleanup(dir) }
        let (index, payloads) = Self.sampleIndex()
        let path = dir + "/full.ckpt"
        try CheckpointWriter.write(index, payloads: payloads, to: path)
        let archive = try CheckpointArchive(path: path)
        #expect(archive.index.kind == .full)
        #expect(archive.index.tensors == index.tensors)
        #expect(archive.index.architecture == index.architecture)
        #expect(archive.index.optimizer == index.optimizer)
        #expect(archive.index.metadata == index.metadata)
        for (i, t) in index.tensors.enumerated() {
            #expect(try archive.readTensorBytes(i) == Self.expectedBytes(payloads[i], t), "\(t.name)")
        }
        // The 2.4 MB kernel spans three data chunks, readable independently.
        let k = try #require(archive.tensorIndex(named: "dense/kernel"))
        #expect(archive.pieces(of: k).count == 3)
        #expect(archive.manifest.tensors[k].storage.chunkOffsets.count == 3)
        try archive.verify()
    }

    @Test("Writing the same checkpoint twice gives the same bytes")
    func deterministic() throws {
        let dir = try TestEnv.temporaryDirectory()
        defer { TestEnv.cleanup(dir) }
        let (index, payloads) = Self.sampleIndex()
        try CheckpointWriter.write(index, payloads: payloads, to: dir + "/a.ckpt")
        try CheckpointWriter.write(index, payloads: payloads, to: dir + "/b.ckpt")
        #expect(try TestEnv.read(dir + "/a.ckpt") == TestEnv.read(dir + "/b.ckpt"))
        // Re-encoding a container from itself gives the same bytes too.
        let a = try CheckpointArchive(path: dir + "/a.ckpt")
        try CheckpointWriter.write(a.index, payloads: a.index.tensors.indices.map { .source(a, $0) }, to: dir + "/c.ckpt")
        #expect(try TestEnv.read(dir + "/a.ckpt") == TestEnv.read(dir + "/c.ckpt"))
    }

    @Test("Members follow spec §1: sorted tensors, then architecture, optimizer, manifest; fixed time; Unix 0644")
    func byteLevelRules() throws {
        let dir = try TestEnv.temporaryDirectory()
        defer { TestEnv.cleanup(dir) }
        let (index, payloads) = Self.sampleIndex()
        let path = dir + "/x.ckpt"
        try CheckpointWriter.write(index, payloads: payloads, to: path)
        let zip = try ZipArchive(path: path)
        let names = zip.entries.map(\.name)
        let tensorMembers = index.tensors.map { $0.name + ".npy" }.sorted { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) }
        #expect(names == tensorMembers + ["architecture.json", "optimizer.json", "manifest.json"])
        #expect(zip.entries.allSatisfy { $0.method == 8 && $0.flags & 0x0008 == 0 })
        let bytes = try TestEnv.read(path)
        // Every central directory record: version made by 0x031E, DOS time 0 and date 0x0021, attributes 0o100644 << 16.
        var p = Int(zip.centralDirectoryOffset)
        for _ in zip.entries {
            #expect(Array(bytes[p..<(p + 4)]) == [0x50, 0x4B, 0x01, 0x02])
            let u16 = { (o: Int) in Int(bytes[p + o]) | Int(bytes[p + o + 1]) << 8 }
            #expect(u16(4) == Int(ContainerSpec.versionMadeBy))
            #expect(u16(12) == 0 && u16(14) == 0x0021)
            let attrs = UInt32(bytes[p + 38]) | UInt32(bytes[p + 39]) << 8 | UInt32(bytes[p + 40]) << 16 | UInt32(bytes[p + 41]) << 24
            #expect(attrs == ContainerSpec.externalAttributes)
            p += 46 + u16(28) + u16(30) + u16(32)
        }
        // The .npy headers are exactly numpy.save's (version 1.0, padded to 64 bytes).
        let header = NPY.header(dtype: .float32, shape: [784, 128])
        #expect(header.count == 128)
        #expect(String(decoding: header[10...], as: UTF8.self).hasPrefix("{'descr': '<f4', 'fortran_order': False, 'shape': (784, 128), }"))
        #expect(NPY.header(dtype: .bfloat16, shape: [3]).count % 64 == 0)
        #expect(String(decoding: NPY.header(dtype: .int64, shape: [5])[10...], as: UTF8.self).contains("'shape': (5,)"))
    }

    @Test("Seeded random checkpoints round-trip", arguments: [1, 2, 3, 4, 5, 6, 7, 8] as [UInt64])
    func randomRoundTrip(seed: UInt64) throws {
        let dir = try TestEnv.temporaryDirectory()
        defer { TestEnv.cleanup(dir) }
        var rng = SeededRNG(seed: seed)
        var index = RandomTensors.index(count: Int.random(in: 1...24, using: &rng), &rng)
        // Names must be unique.
        var seen = Set<String>()
        index.tensors = index.tensors.filter { seen.insert($0.name).inserted }
        var data: [[UInt8]] = []
        for t in index.tensors { data.append(RandomTensors.bytes(t, &rng, constant: Bool.random(using: &rng) && Bool.random(using: &rng))) }
        let path = dir + "/r.ckpt"
        try CheckpointWriter.write(index, payloads: data.map { .bytes($0) }, to: path)
        let a = try CheckpointArchive(path: path)
        #expect(a.index.tensors == index.tensors)
        for i in index.tensors.indices {
            #expect(try a.readTensorBytes(i) == data[i])
            // Piece-wise reads in parallel agree with the sequential read.
            let pieces = a.pieces(of: i)
            let parts = try ParallelWork.map(count: pieces.count) { p -> [UInt8] in
                var out: [UInt8] = []
                _ = try a.readPiece(i, p) { out.append(contentsOf: $0) }
                return out
            }
            #expect(parts.flatMap { $0 } == data[i])
        }
    }

    @Test("unzip -t reads the container", .requires(.unzip))
    func unzipReads() throws {
        let dir = try TestEnv.temporaryDirectory()
        defer { TestEnv.cleanup(dir) }
        let (index, payloads) = Self.sampleIndex()
        let path = dir + "/x.ckpt"
        try CheckpointWriter.write(index, payloads: payloads, to: path)
        let (status, out) = try TestEnv.run("unzip", ["-t", path])
        #expect(status == 0, "\(out)")
        #expect(out.contains("No errors detected"))
        #expect(out.contains("testing: dense/kernel.npy") && out.contains("testing: manifest.json"), "\(out)")
    }

    @Test("Python zipfile and numpy.load read the container; numpy sees our values", .requires(.numpy))
    func numpyReads() throws {
        let dir = try TestEnv.temporaryDirectory()
        defer { TestEnv.cleanup(dir) }
        let (index, payloads) = Self.sampleIndex()
        let path = dir + "/x.ckpt"
        try CheckpointWriter.write(index, payloads: payloads, to: path)
        // numpy prints name, dtype, shape and a SHA-256 of each array's C-order bytes.
        let out = try TestEnv.python("""
        import sys, zipfile, hashlib, json, numpy as np
        z = zipfile.ZipFile(sys.argv[1]); assert z.testzip() is None
        m = json.loads(z.read('manifest.json'))
        a = np.load(sys.argv[1])
        for t in m['tensors']:
            x = a[t['name']]
            print(t['name'], x.dtype.str, list(x.shape), hashlib.sha256(np.ascontiguousarray(x).tobytes()).hexdigest())
        """, [path])
        var lines = Set(out.split(separator: "\n").map(String.init))
        for (i, t) in index.tensors.enumerated() {
            let digest = SHA256.hex(Self.expectedBytes(payloads[i], t))
            let line = "\(t.name) \(t.dtype.npyDescr) \(t.shape) \(digest)"
            #expect(lines.remove(line) != nil, "numpy disagrees on \(t.name): expected \(line) in\n\(out)")
        }
        #expect(lines.filter { !$0.isEmpty }.isEmpty, "numpy lists more arrays than the manifest: \(lines)")
    }

    @Test("A file of only the index is enough to list the tensors: inspect reads no tensor data")
    func indexOnly() throws {
        let dir = try TestEnv.temporaryDirectory()
        defer { TestEnv.cleanup(dir) }
        let (index, payloads) = Self.sampleIndex()
        let path = dir + "/x.ckpt"
        try CheckpointWriter.write(index, payloads: payloads, to: path)
        let size = try ReadableFile(path: path).size
        let zip = try ZipArchive(path: path)
        let tensorBytes = zip.entries.filter { $0.name.hasSuffix(".npy") }.reduce(UInt64(0)) { $0 + $1.compressedSize }
        let archive = try CheckpointArchive(path: path)
        let stats = archive.zip.file.statistics
        // Only the tail (directory + manifest + JSON members) and each member's 30-byte local header
        // (every byte of the archive accounted for, issue 16) were read, and nothing inflated but those.
        let headers = UInt64(zip.entries.count) * 30
        #expect(stats.bytesRead <= size - tensorBytes + 4096 || stats.bytesRead <= (256 << 10) + headers)
        #expect(stats.bytesInflated < 64 << 10)
        #expect(stats.bytesInflated > 0, "the manifest itself is inflated")
        // Reading one tensor inflates about that tensor's bytes, not the others.
        let before = stats.bytesInflated
        _ = try archive.readTensorBytes(try #require(archive.tensorIndex(named: "dense/bias")))
        #expect(stats.bytesInflated - before < 8 << 10)
    }
}

