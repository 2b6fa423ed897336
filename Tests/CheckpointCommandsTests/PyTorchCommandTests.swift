import Foundation
import Testing
import CheckpointTestSupport
@testable import CheckpointCommands
@testable import CheckpointKit

/// `ckpt` on PyTorch files, and the cross-check with real torch: what ckpt reads equals what
/// `torch.load(weights_only=True)` reads, and what ckpt writes from it `safetensors.torch` reads
/// equal. Torch is optional (`.requires(.torch)`: a reported skip) unless CKPT_REQUIRE_TORCH=1.
@Suite("ckpt on PyTorch files")
struct PyTorchCommandTests {
    static func fixture(_ name: String) -> String { CLI.path("Tests/Fixtures/pytorch/" + name) }

    @Test("convert pytorch_model.bin → .safetensors gives the file transformers' save_pretrained writes, byte for byte; diff says equal")
    func huggingFaceConvert() throws {
        let dir = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        for input in ["hf_bert/pytorch_model.bin", "hf_bert_sharded/pytorch_model.bin.index.json"] {
            let out = dir + "/model.safetensors"
            let r = CLI.run(["convert", Self.fixture(input), out, "--force"])
            #expect(r.status == 0, "\(r.err)")
            #expect(try Data(contentsOf: URL(fileURLWithPath: out)) == Data(contentsOf: URL(fileURLWithPath: Self.fixture("hf_bert_safetensors/model.safetensors"))), "\(input)")
            let d = CLI.run(["diff", Self.fixture(input), out])
            #expect(d.status == 0, "\(input): \(d.out) \(d.err)")
        }
    }

    @Test("tied weights are written once with HF's alias metadata; other views keep their own values")
    func tiedWeights() throws {
        let dir = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let r = CLI.run(["convert", Self.fixture("views_and_sharing.pt"), dir + "/v.safetensors"])
        #expect(r.status == 0)
        #expect(r.err.contains("lm_head.weight = embed.weight"), "\(r.err)")
        let st = try SafetensorsSource(path: dir + "/v.safetensors")
        #expect(st.index.metadata == .object([("format", .string("pt")), ("lm_head.weight", .string("embed.weight"))]))
        let pt = try PyTorchSource(path: Self.fixture("views_and_sharing.pt"))
        #expect(Set(st.index.tensors.map(\.name)) == Set(pt.index.tensors.map(\.name)).subtracting(["lm_head.weight"]))
        for (i, t) in st.index.tensors.enumerated() {
            let j = try #require(pt.tensorIndex(named: t.name))
            #expect(try st.readTensorBytes(i) == pt.readTensorBytes(j), "\(t.name)")
        }
    }

    @Test("a training checkpoint converts to .ckpt with its optimizer, and strips to weights")
    func trainingCheckpoint() throws {
        let dir = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var r = CLI.run(["convert", Self.fixture("training_checkpoint.pt"), dir + "/t.ckpt"])
        #expect(r.status == 0, "\(r.err)")
        let ck = try CheckpointArchive(path: dir + "/t.ckpt")
        let pt = try PyTorchSource(path: Self.fixture("training_checkpoint.pt"))
        #expect(ck.index.tensors == pt.index.tensors)
        #expect(ck.index.optimizer?.className == "Adam" && ck.index.optimizer?.iterations == 3)
        #expect(ck.index.metadata == pt.index.metadata)
        r = CLI.run(["diff", Self.fixture("training_checkpoint.pt"), dir + "/t.ckpt"])
        #expect(r.status == 0, "\(r.out)")
        r = CLI.run(["strip", Self.fixture("training_checkpoint.pt"), "-o", dir + "/w.safetensors"])
        #expect(r.status == 0, "\(r.err)")
        #expect(try SafetensorsSource(path: dir + "/w.safetensors").index.tensors.map(\.name) .sorted() == TorchNames.mlpWeights.sorted())
    }

    @Test("hostile files: exit 2 with one sentence naming the global and the byte; --lenient lists them; nothing is written")
    func hostile() throws {
        let dir = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = Self.fixture("hostile/reduce_os_system.pt")
        for args in [["inspect", path], ["convert", path, dir + "/x.safetensors"], ["diff", path, path]] {
            let r = CLI.run(args)
            #expect(r.status == 2, "\(args)")
            #expect(r.err.hasPrefix("ckpt: error: Tests/Fixtures/pytorch/hostile/reduce_os_system.pt: member \"reduce_os_system/data.pkl\" at byte 244: the pickle's GLOBAL names posix.system"), "\(r.err)")
            #expect(r.err.split(separator: "\n").count == 1)
        }
        #expect(!FileManager.default.fileExists(atPath: dir + "/x.safetensors"))
        let r = CLI.run(["inspect", "--lenient", path])
        #expect(r.status == 0)
        #expect(r.err.contains("not loaded (lenient): posix.system (GLOBAL at byte 244)"), "\(r.err)")
        #expect(r.out.contains("payload=<not loaded: posix.system(…)>"), "\(r.out)")
        let w = CLI.run(["convert", Self.fixture("mlp_state_dict.pt"), dir + "/x.pt"])
        #expect(w.status == 2 && w.err.contains("does not write"), "\(w.err)")
    }

    @Test("torch.load(weights_only=True) of every fixture equals what ckpt reads, bit for bit", .requires(.torch))
    func torchReadsTheSame() throws {
        let script = #"""
        import json, sys, zlib, torch
        def flat(prefix, v, out):
            if isinstance(v, torch.Tensor): out[prefix] = v
            elif isinstance(v, dict):
                for k, x in v.items(): flat(f"{prefix}.{k}" if prefix else str(k), x, out)
            elif isinstance(v, (list, tuple)):
                for k, x in enumerate(v): flat(f"{prefix}.{k}" if prefix else str(k), x, out)
        res = {}
        for path in sys.argv[1:]:
            out = {}
            flat("", torch.load(path, weights_only=True), out)
            res[path] = {}
            for k, t in out.items():
                t = t.contiguous()
                if t.dtype.is_complex: continue
                raw = t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b""
                res[path][k] = [str(t.dtype).replace("torch.", ""), list(t.shape), zlib.crc32(raw)]
        print(json.dumps(res))
        """#
        let files = TorchNames.files
        let out = try TestEnv.python(script, files.map(Self.fixture))
        let json = try JSONParser.parse(Array(out.utf8))
        for file in files {
            let s = try PyTorchSource(path: Self.fixture(file))
            let expected = try #require(json[Self.fixture(file)]?.objectValue)
            #expect(expected.count == s.index.tensors.count, "\(file)")
            for (key, v) in expected {
                let name = TorchNames.ours(key, file: file)
                let i = try #require(s.tensorIndex(named: name), "\(file): \(name)")
                let t = s.index.tensors[i]
                #expect(v.arrayValue?[0] == .string(t.dtype.rawValue), "\(file): \(key)")
                #expect(v.arrayValue?[1] == .array(t.shape.map { .number($0) }), "\(file): \(key)")
                #expect(v.arrayValue?[2] == .number(Int(crc32(try s.readTensorBytes(i)))), "\(file): \(key)")
            }
        }
    }

    @Test("safetensors.torch reads what ckpt converted equal to torch.load of the input", .requires(.torch, .safetensors, .numpy))
    func safetensorsReadsTheSame() throws {
        let dir = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let files = ["mlp_state_dict.pt", "mlp_legacy.pt", "dtypes.pt", "dtypes_extra.pt", "views_and_sharing.pt", "views_and_sharing_legacy.pt", "hf_bert/pytorch_model.bin"]
        var pairs: [String] = []
        for (k, f) in files.enumerated() {
            let out = dir + "/\(k).safetensors"
            let r = CLI.run(["convert", Self.fixture(f), out])
            #expect(r.status == 0, "\(f): \(r.err)")
            pairs += [Self.fixture(f), out]
        }
        let script = #"""
        import sys, torch
        from safetensors import safe_open
        from safetensors.torch import load_file
        args = sys.argv[1:]
        for src, out in zip(args[0::2], args[1::2]):
            sd = torch.load(src, weights_only=True)
            st = load_file(out)
            meta = safe_open(out, "pt").metadata()
            assert meta.get("format") == "pt", meta
            for k, v in sd.items():
                if v.dtype.is_complex: assert k not in st; continue  # ckpt has no complex dtype: left out with a note
                w = st[meta[k]] if k not in st else st[k]
                assert v.dtype == w.dtype and v.shape == w.shape, (src, k)
                assert v.contiguous().reshape(-1).view(torch.uint8).numpy().tobytes() == w.reshape(-1).view(torch.uint8).numpy().tobytes() if v.numel() else True, (src, k)
        print("ok")
        """#
        let out = try TestEnv.python(script, pairs)
        #expect(out.contains("ok"), "\(out)")
    }
}

/// The fixture files and our names for their flat keys (CheckpointKitTests' TorchFixtures has the
/// same rules; the test targets do not share code).
private enum TorchNames {
    static let files = ["mlp_state_dict.pt", "mlp_legacy.pt", "mlp_state_dict_bytesio.pt", "training_checkpoint.pt", "training_checkpoint_sgd.pt",
                        "dtypes.pt", "dtypes_extra.pt", "views_and_sharing.pt", "views_and_sharing_legacy.pt", "hf_bert/pytorch_model.bin",
                        "hf_bert_sharded/pytorch_model-00001-of-00003.bin", "hf_bert_sharded/pytorch_model-00002-of-00003.bin",
                        "hf_bert_sharded/pytorch_model-00003-of-00003.bin"]
    static let mlpParameters = ["fc1.weight", "fc1.bias", "bn.weight", "bn.bias", "fc2.weight", "fc2.bias"]
    static let mlpWeights = mlpParameters + ["bn.running_mean", "bn.running_var", "bn.num_batches_tracked"]

    static func ours(_ flatKey: String, file: String) -> String {
        guard file.hasPrefix("training_checkpoint") else { return flatKey }
        if flatKey.hasPrefix("model.") { return String(flatKey.dropFirst(6)) }
        let parts = flatKey.split(separator: ".").map(String.init)
        if parts.count == 4, parts[0] == "optimizer", parts[1] == "state", let i = Int(parts[2]) { return "optimizer/\(parts[3])/\(mlpParameters[i])" }
        return flatKey
    }
}
