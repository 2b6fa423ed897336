import Foundation
import Testing
import CheckpointTestSupport
@testable import CheckpointKit

@Suite("npz", .reportsSeeds)
struct NPZTests {
    /// A `.npy` member: a version 1.0 header with this dict text (padded as numpy pads), then data.
    static func npy(_ dict: String, _ data: [UInt8] = []) -> [UInt8] {
        var text = dict
        let pad = (64 - (10 + text.utf8.count + 1) % 64) % 64
        text += String(repeating: " ", count: pad) + "\n"
        var out = NPY.magic + [1, 0]
        out.appendLE(UInt16(text.utf8.count))
        return out + Array(text.utf8) + data
    }

    static func npy(_ info: TensorInfo, _ data: [UInt8]) -> [UInt8] { NPY.header(dtype: info.dtype, shape: info.shape) + data }

    /// Writes a stored (np.savez-like) archive of `members` and opens it.
    func open(_ members: [(String, [UInt8])], limits: Limits = .default) throws -> NPZSource {
        let dir = try TestEnv.temporaryDirectory()
        defer { TestEnv.cleanup(dir) }
        let forge = ZipForge(members: members.map { ZipForge.Member(name: $0.0, data: $0.1) })
        try TestEnv.write(forge.bytes(), to: dir + "/x.npz")
        return try NPZSource(path: dir + "/x.npz", limits: limits)
    }

    // MARK: Fixtures written by numpy

    @Test("Every fixture reads with the names, dtypes, shapes and bytes expected.json records, in numpy's order", arguments: FormatFixtures.models)
    func fixtures(model: String) throws {
        let source = try NPZSource(path: FormatFixtures.dir(model) + "/weights.npz")
        #expect(source.format == .npz && source.index.kind == .weights)
        try FormatFixtures.expectMatches(source, model)
        #expect(source.index.tensors.map(\.name) == (try FormatFixtures.expectedWeights(model)).map(\.name))
        #expect(try Checkpoints.open(FormatFixtures.dir(model) + "/weights.npz").format == .npz)
    }

    @Test("A fixture → .ckpt → .npz keeps names, order, dtypes, shapes and bytes", arguments: FormatFixtures.models)
    func roundTripThroughCkpt(model: String) throws {
        let dir = try TestEnv.temporaryDirectory()
        defer { TestEnv.cleanup(dir) }
        let source = try NPZSource(path: FormatFixtures.dir(model) + "/weights.npz")
        try CheckpointWriter.write(source.index, payloads: source.index.tensors.indices.map { .source(source, $0) }, to: dir + "/a.ckpt")
        let ckpt = try CheckpointArchive(path: dir + "/a.ckpt")
        try NPZWriter.write(ckpt, to: dir + "/b.npz")
        let back = try NPZSource(path: dir + "/b.npz")
        #expect(back.index.tensors.map(\.name) == source.index.tensors.map(\.name))
        try expectSameTensors(source, back)
        // What we write is deflated, like np.savez_compressed.
        #expect(back.zip.entries.allSatisfy { $0.method == 8 })
        #expect(back.zip.entries.map(\.name) == source.index.tensors.map { $0.name + ".npy" })
    }

    @Test("Files np.savez and np.savez_compressed wrote (every dtype, scalar, empty, non-ASCII); → .ckpt → .npz", arguments: ["savez", "savez_compressed"])
    func libraryFixtures(name: String) throws {
        let source = try NPZSource(path: LibraryFixtures.dir + "/\(name).npz")
        #expect(source.zip.entries.allSatisfy { $0.method == (name == "savez" ? 0 : 8) })
        try LibraryFixtures.expectMatches(source)
        let dir = try TestEnv.temporaryDirectory()
        defer { TestEnv.cleanup(dir) }
        try CheckpointWriter.write(source.index, payloads: source.index.tensors.indices.map { .source(source, $0) }, to: dir + "/a.ckpt")
        try NPZWriter.write(CheckpointArchive(path: dir + "/a.ckpt"), to: dir + "/b.npz")
        let back = try NPZSource(path: dir + "/b.npz")
        #expect(back.index.tensors.map(\.name) == source.index.tensors.map(\.name))
        try LibraryFixtures.expectMatches(back)
        // And the safetensors file of the same values agrees.
        try expectSameTensors(source, SafetensorsSource(path: LibraryFixtures.dir + "/mixed.safetensors"))
    }

    // MARK: Edge cases

    @Test("np.savez (stored) archives: empty arrays, 0-d scalars, non-ASCII names, big members read in checked pieces")
    func storedArchives() throws {
        var rng = SeededRNG(seed: 3)
        let infos = [
            TensorInfo(name: "empty", dtype: .float32, shape: [0, 5]),
            TensorInfo(name: "scalar", dtype: .int64, shape: []),
            TensorInfo(name: "poids/kérnel_é", dtype: .float16, shape: [3, 2]),
            TensorInfo(name: "big", dtype: .float32, shape: [600, 1000]), // 2.4 MB: three pieces
            TensorInfo(name: "flags", dtype: .bool, shape: [7]),
        ]
        let data = infos.map { RandomTensors.bytes($0, &rng) }
        let source = try open(zip(infos, data).map { ($0.name + ".npy", Self.npy($0, $1)) })
        #expect(source.index.tensors == infos)
        #expect(source.zip.file.statistics.bytesRead < 300 << 10, "opening read the directory and the npy headers, not the 2.4 MB of data")
        let memory = MemorySource(CheckpointIndex(tensors: infos), data)
        try expectSameTensors(memory, source)
        let big = try #require(source.tensorIndex(named: "big"))
        let pieces = source.pieces(of: big)
        #expect(pieces.count == 3)
        // Random access: the last piece alone.
        var last: [UInt8] = []
        _ = try source.readPiece(big, 2) { last += $0 }
        #expect(last == Array(data[3][pieces[2]]))
        #expect(source.pieces(of: try #require(source.tensorIndex(named: "empty"))) == [0..<0])
    }

    @Test("A damaged byte in a stored member read in pieces is caught by its CRC-32")
    func storedPiecesAreChecked() throws {
        let dir = try TestEnv.temporaryDirectory()
        defer { TestEnv.cleanup(dir) }
        let info = TensorInfo(name: "big", dtype: .uint8, shape: [3 << 20])
        var rng = SeededRNG(seed: 9)
        let data = RandomTensors.bytes(info, &rng)
        var bytes = ZipForge(members: [ZipForge.Member(name: "big.npy", data: Self.npy(info, data))]).bytes()
        bytes[30 + 7 + 128 + (2 << 20) + 5] ^= 0x40 // inside the third piece
        try TestEnv.write(bytes, to: dir + "/x.npz")
        let source = try NPZSource(path: dir + "/x.npz")
        #expect(source.pieces(of: 0).count == 3)
        let e = expectError(.checksumMismatch) { _ = try source.readTensorBytes(0) }
        #expect(e?.member == "big.npy")
    }

    @Test("Listed as unsupported, the rest still read: object, string, structured and complex dtypes, datetimes, non-arrays")
    func unsupportedMembers() throws {
        let weights = ("w.npy", Self.npy(TensorInfo(name: "w", dtype: .float32, shape: [2]), [0, 0, 128, 63, 0, 0, 0, 64]))
        let odd: [(String, [UInt8], String)] = [
            ("o.npy", Self.npy("{'descr': '|O', 'fortran_order': False, 'shape': (2,), }", Array("pickle".utf8)), "pickle"),
            ("s.npy", Self.npy("{'descr': '<U3', 'fortran_order': False, 'shape': (2,), }", [UInt8](repeating: 0, count: 24)), "strings"),
            ("c.npy", Self.npy("{'descr': '<c8', 'fortran_order': False, 'shape': (1,), }", [UInt8](repeating: 0, count: 8)), "complex"),
            ("r.npy", Self.npy("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (1,), }", [UInt8](repeating: 0, count: 4)), "structured"),
            ("t.npy", Self.npy("{'descr': '<M8[ns]', 'fortran_order': False, 'shape': (1,), }", [UInt8](repeating: 0, count: 8)), "dates"),
            ("notes.txt", Array("hello".utf8), "bytes"),
        ]
        for (name, bytes, word) in odd {
            let source = try open([weights, (name, bytes)])
            #expect(source.index.tensors.map(\.name) == ["w"], "\(name)")
            #expect(try source.readTensorBytes(0) == [0, 0, 128, 63, 0, 0, 0, 64])
            let u = try #require(source.index.unsupported.first, "\(name)")
            #expect(u.name == (name.hasSuffix(".npy") ? String(name.dropLast(4)) : name) && u.reason.contains(word), "\(name): \(u)")
            #expect(try source.verifyUnsupported() == 1)
        }
        // The complex member is named with its numpy dtype and shape.
        let c = try open([("c.npy", odd[2].1)])
        #expect(c.index.unsupported.first?.what == "complex64 '<c8' (1,)")
        // Other checkpoints in ZIP clothing are not read as archives of arrays.
        expectError(.notRecognized) { _ = try open([weights, ("manifest.json", Array("{}".utf8))]) }
    }

    @Test("Refused with a sentence: headers that disagree with the member or are not headers, unsafe names, tensors above the limit")
    func refusals() throws {
        // Headers that disagree with the member, or are not headers.
        expectError(.invalidNPY) { _ = try open([("short.npy", Self.npy("{'descr': '<f4', 'fortran_order': False, 'shape': (4,), }", [0, 0, 0, 0]))]) }
        expectError(.invalidNPY) { _ = try open([("junk.npy", Array("not an npy".utf8))]) }
        expectError(.invalidNPY) { _ = try open([("tiny.npy", [0x93])]) }
        let e = expectError(.invalidNPY) { _ = try open([("neg.npy", Self.npy("{'descr': '<f4', 'fortran_order': False, 'shape': (-1, 2), }"))]) }
        #expect(e?.reason.contains("negative") == true && e?.member == "neg.npy")
        // An unsafe name is not a tensor either: listed, not read.
        #expect(try open([(".npy", Self.npy(TensorInfo(name: "", dtype: .uint8, shape: [1]), [1]))]).index.unsupported.count == 1)
        var limits = Limits()
        limits.maxTensorBytes = 10
        expectError(.limitExceeded) { _ = try open([("w.npy", Self.npy(TensorInfo(name: "w", dtype: .float32, shape: [4]), [UInt8](repeating: 0, count: 16)))], limits: limits) }
    }

    @Test("Accepted: Fortran order where it is the same layout (1-D, a single long axis, no data), single-byte '>' / '|' data, version 2.0 headers")
    func acceptedLayouts() throws {
        let source = try open([
            ("a.npy", Self.npy("{'descr': '<f4', 'fortran_order': True, 'shape': (3,), }", [UInt8](repeating: 1, count: 12))),
            ("b.npy", Self.npy("{'descr': '<i2', 'fortran_order': True, 'shape': (1, 4, 1), }", [UInt8](repeating: 2, count: 8))),
            ("c.npy", Self.npy("{'descr': '<f8', 'fortran_order': True, 'shape': (2, 0, 3), }")),
            ("d.npy", Self.npy("{'descr': '>u1', 'fortran_order': False, 'shape': (2,), }", [5, 6])),
            ("e.npy", Self.npy("{'descr': '|b1', 'fortran_order': False, 'shape': (2,), }", [0, 1])),
        ])
        #expect(source.index.tensors.map(\.name) == ["a", "b", "c", "d", "e"])
        #expect(source.index.tensors.map(\.dtype) == [.float32, .int16, .float64, .uint8, .bool])
        #expect(try source.readTensorBytes(3) == [5, 6])
        // Version 2.0: a 4-byte header length.
        var text = "{'descr': '<u2', 'fortran_order': False, 'shape': (2,), }"
        text += String(repeating: " ", count: (64 - (12 + text.utf8.count + 1) % 64) % 64) + "\n"
        var v2 = NPY.magic + [2, 0]
        v2.appendLE(UInt32(text.utf8.count))
        v2 += Array(text.utf8) + [1, 0, 2, 0]
        let s2 = try open([("v2.npy", v2)])
        #expect(s2.index.tensors[0].dtype == .uint16)
        #expect(try s2.readTensorBytes(0) == [1, 0, 2, 0])
    }

    // MARK: Writing

    @Test("The writer: every dtype, scalars, empty and non-ASCII names round-trip; bfloat16 and float8 go out as raw bits and come back as themselves")
    func writer() throws {
        let dir = try TestEnv.temporaryDirectory()
        defer { TestEnv.cleanup(dir) }
        let (index, data) = SampleTensors.make()
        let memory = MemorySource(index, data)
        let notes = try NPZWriter.write(memory, to: dir + "/x.npz")
        let back = try NPZSource(path: dir + "/x.npz")
        #expect(back.index.tensors.map(\.name) == index.tensors.map(\.name))
        for (i, t) in index.tensors.enumerated() {
            let u = back.index.tensors[i]
            #expect(u.shape == t.shape)
            // numpy has no bfloat16 or float8: their bits go out as the unsigned integer of their
            // width, and the archive comment says what they are.
            #expect(u.dtype == t.dtype)
            #expect(try back.readTensorBytes(i) == data[i], "\(t.name)")
        }
        let lacking = index.tensors.filter(\.dtype.numpyLacks)
        if !lacking.isEmpty {
            #expect(notes.contains { $0.contains("numpy has no dtype for") && $0.contains("raw bits") }, "\(notes)")
        }
        // A subset, in the order asked.
        try NPZWriter.write(memory, tensors: [3, 1], to: dir + "/y.npz")
        #expect(try NPZSource(path: dir + "/y.npz").index.tensors.map(\.name) == [index.tensors[3].name, index.tensors[1].name])
    }

    static let lyingInfos = [TensorInfo(name: "a", dtype: .float32, shape: [600]), TensorInfo(name: "b", dtype: .float32, shape: [2])]
    static let lyingData = [[UInt8](repeating: 1, count: 2400), [UInt8](repeating: 2, count: 8)]

    /// Also a regression test: an error mid-tensor once left ZipWriter freed with compression jobs
    /// in flight and libdispatch trapped on a semaphore instead of the error being reported.
    @Test("The writer refuses sources that give more or fewer bytes than the shape holds, leaving nothing behind")
    func writerRefusesLyingSources() throws {
        let dir = try TestEnv.temporaryDirectory()
        defer { TestEnv.cleanup(dir) }
        let e = expectError(.corrupt) { try NPZWriter.write(MemorySource(CheckpointIndex(tensors: Self.lyingInfos), Self.lyingData, skew: -3), to: dir + "/x.npz") }
        #expect(e?.member == "a")
        expectError(.corrupt) { try NPZWriter.write(MemorySource(CheckpointIndex(tensors: Self.lyingInfos), Self.lyingData, skew: 2), to: dir + "/x.npz") }
        #expect(directoryListing(dir).isEmpty)
    }

    @Test("The writer refuses duplicate names and existing outputs, leaving nothing behind")
    func writerRefusals() throws {
        let dir = try TestEnv.temporaryDirectory()
        defer { TestEnv.cleanup(dir) }
        let infos = Self.lyingInfos, data = Self.lyingData
        expectError(.duplicateName) { try NPZWriter.write(MemorySource(CheckpointIndex(tensors: [infos[1], infos[1]]), [data[1], data[1]]), to: dir + "/x.npz") }
        #expect(directoryListing(dir).isEmpty)
        try NPZWriter.write(MemorySource(CheckpointIndex(tensors: infos), data), to: dir + "/x.npz")
        expectError(.outputExists) { try NPZWriter.write(MemorySource(CheckpointIndex(tensors: infos), data), to: dir + "/x.npz") }
        let input = try NPZSource(path: dir + "/x.npz")
        expectError(.outputExists) { try NPZWriter.write(input, to: dir + "/x.npz", options: WriteOptions(overwrite: true, inputs: [input.zip.file])) }
        #expect(directoryListing(dir) == ["x.npz"])
    }

    // MARK: Cross-check with numpy

    @Test("numpy.load reads what we write, equal to the source, keys = tensor names", .requires(.numpy))
    func numpyReadsOurFiles() throws {
        let dir = try TestEnv.temporaryDirectory()
        defer { TestEnv.cleanup(dir) }
        let (index, data) = SampleTensors.make()
        try NPZWriter.write(MemorySource(index, data), to: dir + "/x.npz")
        var manifest: [JSONValue] = []
        for (k, t) in index.tensors.enumerated() {
            try TestEnv.write(data[k], to: dir + "/expected-\(k).bin")
            manifest.append(.object([("name", .string(t.name)), ("dtype", .string(t.dtype.npyDescr)), ("shape", .array(t.shape.map { .number($0) })), ("file", .string("expected-\(k).bin"))]))
        }
        try TestEnv.write(JSONValue.array(manifest).serializedBytes(), to: dir + "/expected.json")
        let out = try TestEnv.python("""
        import sys, os, json, zipfile, numpy as np
        d = sys.argv[1]
        expected = json.load(open(os.path.join(d, 'expected.json'), encoding='utf-8'))
        z = np.load(os.path.join(d, 'x.npz'))
        assert list(z.keys()) == [e['name'] for e in expected], list(z.keys())
        for e in expected:
            a = z[e['name']]
            assert a.dtype == np.dtype(e['dtype']) and list(a.shape) == e['shape'], (e['name'], a.dtype, a.shape)
            assert a.tobytes() == open(os.path.join(d, e['file']), 'rb').read(), e['name']
        zf = zipfile.ZipFile(os.path.join(d, 'x.npz'))
        assert zf.testzip() is None
        assert all(i.compress_type == zipfile.ZIP_DEFLATED for i in zf.infolist())
        print('ok')
        """, [dir])
        #expect(out.hasPrefix("ok"), "\(out)")
    }

    @Test("We read what np.savez and np.savez_compressed write: edge cases, and refusals with numpy's own files", .requires(.numpy))
    func weReadNumpyFiles() throws {
        let dir = try TestEnv.temporaryDirectory()
        defer { TestEnv.cleanup(dir) }
        _ = try TestEnv.python("""
        import sys, os, numpy as np
        d = sys.argv[1]
        rng = np.random.default_rng(1)
        t = {
            'empty': np.zeros((0, 4), np.float32), 'scalar': np.array(7, np.int32), 'ünï/cödé': np.arange(6, dtype=np.uint16).reshape(2, 3),
            'big': rng.standard_normal((700, 1000)).astype(np.float32), 'half': rng.standard_normal(5).astype(np.float16),
            'flags': np.array([True, False, True]), 'f64': rng.standard_normal((3, 3)), 'i8': np.arange(-3, 3, dtype=np.int8),
            'fortran1d': np.asfortranarray(np.arange(4.0)),
        }
        np.savez(os.path.join(d, 'stored.npz'), **t)
        np.savez_compressed(os.path.join(d, 'deflated.npz'), **t)
        for k, v in t.items():
            open(os.path.join(d, k.replace('/', '_') + '.bin'), 'wb').write(np.ascontiguousarray(v).tobytes())
        np.savez(os.path.join(d, 'fortran.npz'), a=np.asfortranarray(np.arange(6.0).reshape(2, 3)))
        np.savez(os.path.join(d, 'bigendian.npz'), a=np.arange(3, dtype='>i4'))
        np.savez(os.path.join(d, 'object.npz'), a=np.array([1, 'x'], dtype=object))
        np.savez(os.path.join(d, 'strings.npz'), a=np.array(['ab', 'c']))
        """, [dir])
        for name in ["stored", "deflated"] {
            let source = try NPZSource(path: dir + "/\(name).npz")
            #expect(source.index.tensors.map(\.name) == ["empty", "scalar", "ünï/cödé", "big", "half", "flags", "f64", "i8", "fortran1d"])
            #expect(source.zip.entries.allSatisfy { $0.method == (name == "stored" ? 0 : 8) })
            for (i, t) in source.index.tensors.enumerated() {
                #expect(try source.readTensorBytes(i) == TestEnv.read(dir + "/" + t.name.replacingOccurrences(of: "/", with: "_") + ".bin"), "\(name): \(t.name)")
            }
            let big = try #require(source.tensorIndex(named: "big"))
            #expect(source.pieces(of: big).count == (name == "stored" ? 3 : 1))
        }
        // Fortran order and big-endian data read as numpy.load gives them.
        let fortran = try NPZSource(path: dir + "/fortran.npz")
        #expect(fortran.index.tensors[0].shape == [2, 3])
        #expect(try fortran.readTensorBytes(0) == (0..<6).flatMap { k in withUnsafeBytes(of: Double(k).bitPattern.littleEndian, Array.init) })
        let big = try NPZSource(path: dir + "/bigendian.npz")
        #expect(big.index.tensors[0].dtype == .int32)
        #expect(try big.readTensorBytes(0) == [0, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0])
        // Objects and strings are listed, not read.
        #expect(try NPZSource(path: dir + "/object.npz").index.unsupported.map(\.name) == ["a"])
        #expect(try NPZSource(path: dir + "/strings.npz").index.unsupported.first?.what == "str '<U2' (2,)")
    }
}
