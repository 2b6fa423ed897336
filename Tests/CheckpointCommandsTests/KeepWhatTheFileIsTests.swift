import Foundation
import Testing
import CheckpointTestSupport
@testable import CheckpointCommands
@testable import CheckpointKit

/// Issue 14's cases, each on files their real producers wrote: Keras 3.15 (`Tests/Fixtures/keras`),
/// numpy 2.4 and safetensors 0.8 (`Tests/Fixtures/formats`).
@Suite("Conversions keep what the file is (issue 14 cases)", .requires(.hdf5))
struct KeepWhatTheFileIsTests {
    static let mlp = TestEnv.fixture("keras/mlp")
    static let formats = TestEnv.fixture("formats")

    static func json(_ args: [String]) throws -> JSONValue {
        let r = CLI.run(args)
        guard r.status == 0 else { throw ProcessFailure("\(args): \(r.err)") }
        return try JSONParser.parse(Array(r.out.utf8))
    }

    @Test(".keras → .npz keeps a full checkpoint: optimizer recognised, strip strips it, diff --weights-only equal, architecture kept")
    func kerasToNPZ() throws {
        let dir = try TestEnv.temporaryDirectory()
        defer { TestEnv.cleanup(dir) }
        var r = CLI.run(["convert", Self.mlp + "/mlp.keras", dir + "/m.npz"])
        #expect(r.status == 0, "\(r.err)")
        let j = try Self.json(["inspect", "--json", dir + "/m.npz"])
        #expect(j["kind"]?.stringValue == "full")
        #expect(j["optimizer"]?["class_name"]?.stringValue == "Adam" && j["optimizer"]?["iterations"]?.int64Value == 16)
        #expect(j["totals"]?["params"]?.int64Value == 101_770 && j["totals"]?["trainable_params"]?.int64Value == 101_770)
        #expect(j["architecture"] != nil && j["architecture"] != .null)
        r = CLI.run(["strip", dir + "/m.npz", "-o", dir + "/w.npz"])
        #expect(r.status == 0 && r.out.contains("removed 10 optimizer tensors"), "\(r.out)\(r.err)")
        r = CLI.run(["diff", "--weights-only", Self.mlp + "/mlp.keras", dir + "/m.npz"])
        #expect(r.status == 0, "\(r.out)")
        r = CLI.run(["diff", Self.mlp + "/mlp.keras", dir + "/m.npz"])
        #expect(r.status == 0, "\(r.out)")
        // numpy sees exactly the arrays, the ckpt index stays in the archive comment.
        #expect(try ZipArchive(path: dir + "/m.npz").entries.count == 14)
    }

    @Test("bfloat16 and float8 → .npz: raw bits for numpy, with a note; ckpt reads them back as themselves, and → .safetensors gives the source's dtypes and bytes")
    func narrowFloatsThroughNPZ() throws {
        let dir = try TestEnv.temporaryDirectory()
        defer { TestEnv.cleanup(dir) }
        for name in ["bf16", "all_narrow"] {
            let source = Self.formats + "/safetensors/\(name).safetensors"
            var r = CLI.run(["convert", source, dir + "/\(name).npz"])
            #expect(r.status == 0 && r.err.contains("numpy has no dtype for") && r.err.contains("raw bits"), "\(r.err)")
            r = CLI.run(["convert", dir + "/\(name).npz", dir + "/\(name).safetensors"])
            #expect(r.status == 0, "\(r.err)")
            let a = try SafetensorsSource(path: source), b = try SafetensorsSource(path: dir + "/\(name).safetensors")
            let npz = try NPZSource(path: dir + "/\(name).npz")
            for t in a.index.tensors {
                #expect(npz.index.tensors.first { $0.name == t.name }?.dtype == t.dtype, "\(t.name)")
                guard let k = b.index.tensors.firstIndex(where: { $0.name == t.name }), let i = a.index.tensors.firstIndex(where: { $0.name == t.name }) else {
                    Issue.record("\(t.name) is missing")
                    continue
                }
                #expect(b.index.tensors[k].dtype == t.dtype, "\(t.name)")
                #expect(try b.readTensorBytes(k) == a.readTensorBytes(i), "\(t.name)")
            }
        }
    }

    @Test("numpy's own Fortran-order and big-endian members read equal to numpy.load (expected.json's SHA-256 of the C-order little-endian values)",
          arguments: ["fortran", "fortran_compressed", "big_endian", "big_endian_compressed"])
    func numpyLayouts(_ name: String) throws {
        let expected = try JSONParser.parse(TestEnv.read(Self.formats + "/expected.json"))
        let members = try #require(expected["npz"]?[name + ".npz"]?["members"]?.objectValue)
        let j = try Self.json(["inspect", "--json", "--verify", Self.formats + "/npz/\(name).npz"])
        let tensors = j["tensors"]?.arrayValue ?? []
        #expect(tensors.count == members.count)
        for (member, e) in members {
            let t = tensors.first { $0["name"]?.stringValue == member }
            #expect(t?["sha256"]?.stringValue == e["sha256_c_order_little_endian"]?.stringValue, "\(name).npz \(member)")
            #expect(t?["shape"]?.arrayValue?.compactMap(\.int64Value) == e["shape"]?.arrayValue?.compactMap(\.int64Value), "\(name).npz \(member)")
        }
    }

    @Test("One complex member: inspect lists the rest and marks it; convert refuses it by name, writes nothing; --skip-unsupported lists it and writes the rest",
          arguments: ["mixed_complex", "mixed_complex_compressed"])
    func unsupportedMember(_ name: String) throws {
        let dir = try TestEnv.temporaryDirectory()
        defer { TestEnv.cleanup(dir) }
        let path = Self.formats + "/npz/\(name).npz"
        let j = try Self.json(["inspect", "--json", path])
        #expect(j["tensors"]?.arrayValue?.compactMap { $0["name"]?.stringValue } == ["weights", "ids", "mask", "half", "bytes_u8"])
        #expect(j["unsupported"]?.arrayValue?.compactMap { $0["name"]?.stringValue } == ["spectrum_c64"])
        let text = CLI.run(["inspect", path])
        #expect(text.status == 0 && text.out.contains("spectrum_c64") && text.out.contains("complex64"), "\(text.out)")
        var r = CLI.run(["convert", path, dir + "/o.safetensors"])
        #expect(r.status == 2 && r.err.contains("member \"spectrum_c64\" at byte") && r.err.contains("--skip-unsupported"), "\(r.err)")
        #expect(r.err.split(separator: "\n").count == 1 && TestEnv.listing(dir).isEmpty)
        r = CLI.run(["convert", path, dir + "/o.safetensors", "--skip-unsupported"])
        #expect(r.status == 0 && r.err.contains("left out 1 unsupported entry") && r.err.contains("spectrum_c64"), "\(r.err)")
        #expect(try SafetensorsSource(path: dir + "/o.safetensors").index.tensors.count == 5)
    }

    @Test("diff of a .keras and the .weights.h5 of the same epoch exits 0 without flags; a difference the .weights.h5 cannot hold counts only with --strict")
    func kerasAgainstWeightsH5() throws {
        let dir = try TestEnv.temporaryDirectory()
        defer { TestEnv.cleanup(dir) }
        var r = CLI.run(["diff", Self.mlp + "/mlp.keras", Self.mlp + "/mlp.weights.h5"])
        #expect(r.status == 0, "\(r.out)\(r.err)")
        #expect(r.err.contains("read with the architecture of"), "\(r.err)")
        #expect(r.out.contains("Optimizer     identical (Adam, step 16)"), "\(r.out)")
        // The model's to_json() without compile_config: the optimizer's configuration is absent on
        // one side only because a .weights.h5 cannot hold it.
        var arch = try JSONParser.parse(TestEnv.read(Self.mlp + "/architecture.json"))
        arch = .object((arch.objectValue ?? []).filter { $0.0 != "compile_config" })
        try TestEnv.write(arch.serializedBytes(.python), to: dir + "/model.json")
        let args = ["diff", "--architecture", dir + "/model.json", Self.mlp + "/mlp.keras", Self.mlp + "/mlp.weights.h5"]
        r = CLI.run(args)
        #expect(r.status == 0 && r.out.contains("not counted"), "\(r.out)")
        r = CLI.run(args + ["--strict"])
        #expect(r.status == 1, "\(r.out)")
    }

    @Test("inspect --verify says what it checked: no CRC claimed for a .weights.h5 with 64 bytes overwritten in a dataset; the CRC-32 for a .keras; diff says 'identical by checksum' or 'bit-identical'")
    func verifySaysWhatItChecked() throws {
        let dir = try TestEnv.temporaryDirectory()
        defer { TestEnv.cleanup(dir) }
        var bytes = try TestEnv.read(Self.mlp + "/mlp_no_optimizer.weights.h5")
        let h5 = try Checkpoints.open(Self.mlp + "/mlp_no_optimizer.weights.h5")
        // Overwrite 64 bytes in the middle of the largest tensor's data.
        let big = try #require(h5.index.tensors.indices.max { (h5.index.tensors[$0].byteCount ?? 0) < (h5.index.tensors[$1].byteCount ?? 0) })
        var data: [UInt8] = []
        try h5.readTensor(big) { data.append(contentsOf: $0) }
        let at = try #require(Self.find(Array(data[4096..<4160]), in: bytes))
        for k in at..<(at + 64) { bytes[k] ^= 0x5A }
        try TestEnv.write(bytes, to: dir + "/damaged.weights.h5")
        var r = CLI.run(["inspect", "--verify", dir + "/damaged.weights.h5"])
        #expect(r.status == 0 && r.out.contains("keeps no checksum") && !r.out.contains("CRC"), "\(r.out)")
        r = CLI.run(["inspect", "--verify", Self.mlp + "/mlp.keras"])
        #expect(r.status == 0 && r.out.contains("CRC-32 of the ZIP member holding each matched"), "\(r.out)")
        // Two .ckpt files with the same members: equal by checksum from their indexes; --full reads the bytes.
        #expect(CLI.run(["convert", Self.mlp + "/mlp.keras", dir + "/a.ckpt"]).status == 0)
        #expect(CLI.run(["strip", dir + "/a.ckpt", "-o", dir + "/b.ckpt"]).status == 0)
        r = CLI.run(["diff", "--weights-only", dir + "/a.ckpt", dir + "/b.ckpt"])
        #expect(r.status == 0 && r.out.contains("identical by checksum") && !r.out.contains("bit-identical"), "\(r.out)")
        r = CLI.run(["diff", "--weights-only", "--full", dir + "/a.ckpt", dir + "/b.ckpt"])
        #expect(r.status == 0 && r.out.contains("bit-identical (bytes compared)"), "\(r.out)")
        r = CLI.run(["strip", dir + "/a.ckpt", "-o", dir + "/c.ckpt", "--verify"])
        #expect(r.status == 0 && r.out.contains("identical to the input by checksum"), "\(r.out)")
        r = CLI.run(["strip", dir + "/a.ckpt", "-o", dir + "/d.ckpt", "--verify", "--full"])
        #expect(r.status == 0 && r.out.contains("bit-identical"), "\(r.out)")
    }

    static func find(_ needle: [UInt8], in hay: [UInt8]) -> Int? {
        guard needle.count <= hay.count else { return nil }
        for i in 0...(hay.count - needle.count) where hay[i] == needle[0] && Array(hay[i..<(i + needle.count)]) == needle { return i }
        return nil
    }

    @Test("strip of a weights-only input writes the output (a copy in the requested format) and says there was nothing to strip")
    func stripWeightsOnly() throws {
        let dir = try TestEnv.temporaryDirectory()
        defer { TestEnv.cleanup(dir) }
        let r = CLI.run(["strip", Self.mlp + "/weights.npz", "-o", dir + "/w.safetensors"])
        #expect(r.status == 0 && r.out.contains("nothing to strip") && r.out.contains("wrote a copy"), "\(r.out)")
        #expect(try SafetensorsSource(path: dir + "/w.safetensors").index.tensors.count == 4)
    }

    @Test("strip to .keras: the summary says what was written, and Keras loads it uncompiled without a warning", .requires(.keras))
    func stripToKeras() throws {
        let dir = try TestEnv.temporaryDirectory()
        defer { TestEnv.cleanup(dir) }
        let r = CLI.run(["strip", Self.mlp + "/mlp.keras", "-o", dir + "/w.keras"])
        #expect(r.status == 0 && r.out.contains("kept the architecture") && !r.out.contains("the architecture;"), "\(r.out)")
        #expect(r.err.contains("compile configuration"), "\(r.err)")
        let out = try TestEnv.python("""
        import sys, warnings, keras
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter('always')
            m = keras.saving.load_model(sys.argv[1])
        print(len(w), getattr(m, 'optimizer', None) is None, len(m.weights))
        for x in w: print(x.message)
        """, [dir + "/w.keras"])
        #expect(out.hasPrefix("0 True 4"), "\(out)")
    }

    @Test("inspect --architecture on .npz / .safetensors: layers grouped, BatchNormalization's moving statistics non-trainable; without it, the split is unknown")
    func architectureForNamedArrays() throws {
        let cnn = TestEnv.fixture("keras/cnn")
        for file in ["weights.npz", "weights.safetensors"] {
            var j = try Self.json(["inspect", "--json", cnn + "/" + file, "--architecture", cnn + "/architecture.json"])
            let layers = j["layers"]?.arrayValue ?? []
            let bn = layers.first { $0["name"]?.stringValue == "batch_normalization" }
            #expect(bn?["non_trainable_params"]?.int64Value == 16 && bn?["trainable_params"]?.int64Value == 16, "\(file)")
            #expect(j["totals"]?["non_trainable_params"]?.int64Value == 16, "\(file)")
            j = try Self.json(["inspect", "--json", cnn + "/" + file])
            #expect(j["totals"]?["trainable_params"] == .null && j["totals"]?["non_trainable_params"] == .null, "\(file)")
            let text = CLI.run(["inspect", cnn + "/" + file])
            #expect(text.out.contains("Trainable / non-trainable: unknown"), "\(text.out)")
        }
    }
}
