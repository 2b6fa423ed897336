import Foundation
import Testing
import CheckpointTestSupport
@testable import CheckpointKit

/// Every real-PyTorch fixture read without torch: names, dtypes, shapes and bytes equal what
/// `torch.load(weights_only=True)` read back (reference/*.npz), bit for bit.
@Suite("PyTorch fixtures")
struct PyTorchFixtureTests {
    @Test("names, dtypes, shapes and values equal the producer's reader", arguments: TorchFixtures.files.map(\.file))
    func fixtureEqualsReference(_ file: String) throws {
        let npz = TorchFixtures.files.first { $0.file == file }?.npz ?? ""
        let reference = try RawNPZ.read(TorchFixtures.path("reference/" + npz))
        let source = try PyTorchSource(path: TorchFixtures.path(file))
        var seen = Set<String>()
        for (key, array) in reference {
            let name = TorchFixtures.ourName(key, file: file)
            let torchDType = TorchFixtures.torchDType(file: file, key: key)
            guard let i = source.tensorIndex(named: name) else {
                // Only dtypes ckpt lacks may be missing, and then they are listed as unsupported.
                let u = source.unsupported.first { $0.name == name }
                #expect(u != nil, "\(file): \(key) is neither a tensor nor an unsupported entry")
                #expect(u?.what == torchDType, "\(file): \(key) unsupported as \(u?.what ?? "-"), torch says \(torchDType ?? "-")")
                #expect(u?.shape == array.shape)
                #expect(DType(rawValue: torchDType ?? "") == nil, "\(file): \(key) has a ckpt dtype but was not read")
                continue
            }
            seen.insert(name)
            let info = source.index.tensors[i]
            #expect(info.dtype.rawValue == torchDType, "\(file): \(key) is \(info.dtype), torch says \(torchDType ?? "-")")
            #expect(info.shape == array.shape, "\(file): \(key) shape \(info.shape) vs \(array.shape)")
            let bytes = try source.readTensorBytes(i)
            #expect(bytes == array.bytes, "\(file): \(key) bytes differ from torch's")
        }
        #expect(Set(source.index.tensors.map(\.name)) == seen, "\(file): tensors beyond the reference")
    }

    @Test("float8 tensors are read; complex64, which ckpt lacks, is listed as unsupported with a note")
    func dtypesExtra() throws {
        let s = try PyTorchSource(path: TorchFixtures.path("dtypes_extra.pt"))
        #expect(s.index.tensor(named: "float8_e4m3fn")?.dtype == .float8_e4m3fn)
        #expect(s.index.tensor(named: "float8_e5m2")?.dtype == .float8_e5m2)
        #expect(s.unsupported == [PyTorchUnsupportedEntry(name: "complex64", what: "complex64", shape: [3])])
        #expect(s.notes == ["\"complex64\" (complex64 of shape (3,)) is not read: ckpt has no complex64 dtype"])
    }

    @Test("the sharded set reads as the single file, and as the safetensors save of the same model")
    func shardedSet() throws {
        let sharded = try PyTorchSource(path: TorchFixtures.path("hf_bert_sharded/pytorch_model.bin.index.json"))
        let single = try PyTorchSource(path: TorchFixtures.path("hf_bert/pytorch_model.bin"))
        let st = try SafetensorsSource(path: TorchFixtures.path("hf_bert_safetensors/model.safetensors"))
        #expect(Set(sharded.index.tensors.map(\.name)) == Set(single.index.tensors.map(\.name)))
        #expect(Set(st.index.tensors.map(\.name)) == Set(single.index.tensors.map(\.name)))
        for (i, t) in single.index.tensors.enumerated() {
            let a = try single.readTensorBytes(i)
            let j = try #require(sharded.tensorIndex(named: t.name))
            let k = try #require(st.tensorIndex(named: t.name))
            #expect(sharded.index.tensors[j].shape == t.shape && st.index.tensors[k].dtype == t.dtype)
            #expect(try sharded.readTensorBytes(j) == a, "\(t.name)")
            #expect(try st.readTensorBytes(k) == a, "\(t.name)")
        }
    }

    @Test("a shard index that disagrees with its shards is refused")
    func brokenShardIndex() throws {
        let dir = try TestEnv.temporaryDirectory("ckpt-torch-shards")
        defer { TestEnv.cleanup(dir) }
        let src = TorchFixtures.path("hf_bert_sharded") + "/"
        for f in ["pytorch_model-00001-of-00003.bin", "pytorch_model-00002-of-00003.bin", "pytorch_model-00003-of-00003.bin"] {
            try FileManager.default.copyItem(atPath: src + f, toPath: dir + "/" + f)
        }
        let index = try String(contentsOfFile: src + "pytorch_model.bin.index.json", encoding: .utf8)
        // A tensor moved to another shard.
        let moved = index.replacingOccurrences(of: "\"embeddings.LayerNorm.bias\": \"pytorch_model-00002-of-00003.bin\"",
                                               with: "\"embeddings.LayerNorm.bias\": \"pytorch_model-00001-of-00003.bin\"")
        #expect(moved != index)
        try moved.write(toFile: dir + "/a.bin.index.json", atomically: true, encoding: .utf8)
        let e = expectError(.corrupt) { _ = try PyTorchSource(path: dir + "/a.bin.index.json") }
        #expect(e?.member == "embeddings.LayerNorm.bias")
        // A shard that is missing.
        try FileManager.default.removeItem(atPath: dir + "/pytorch_model-00003-of-00003.bin")
        try index.write(toFile: dir + "/b.bin.index.json", atomically: true, encoding: .utf8)
        expectError(.missingPart) { _ = try PyTorchSource(path: dir + "/b.bin.index.json") }
    }

    @Test("a training checkpoint: weights by state-dict key, Adam's slots matched to them, the rest as metadata")
    func trainingCheckpoint() throws {
        let s = try PyTorchSource(path: TorchFixtures.path("training_checkpoint.pt"))
        let opt = try #require(s.index.optimizer)
        #expect(opt.className == "Adam" && opt.module == "torch.optim")
        #expect(opt.iterations == 3)
        #expect(opt.learningRate == 0.001)
        #expect(opt.config["betas"] == .array([.number(0.9), .number(0.999)]))
        #expect(opt.config["amsgrad"] == .bool(false))
        #expect(s.index.metadata == .object([("epoch", .number(3)), ("loss", .number(0.5))]))
        #expect(s.index.kind == .full)
        #expect(s.notes.isEmpty)
        for p in TorchFixtures.mlpParameters {
            let w = try #require(s.index.tensor(named: p))
            #expect(w.role == .weight && w.trainable)
            for slot in ["exp_avg", "exp_avg_sq", "step"] {
                let t = try #require(s.index.tensor(named: "optimizer/\(slot)/\(p)"))
                #expect(t.role == .optimizer && t.slot == slot && t.weight == p && !t.trainable)
                #expect(t.shape == (slot == "step" ? [] : w.shape))
            }
        }
        for buffer in ["bn.running_mean", "bn.running_var", "bn.num_batches_tracked"] {
            #expect(s.index.tensor(named: buffer)?.trainable == false, "\(buffer)")
        }
    }

    @Test("SGD with momentum, and every kind of non-tensor value kept exactly")
    func sgdCheckpoint() throws {
        let s = try PyTorchSource(path: TorchFixtures.path("training_checkpoint_sgd.pt"))
        #expect(s.index.optimizer?.className == "SGD")
        #expect(s.index.optimizer?.config["momentum"] == .number(0.9))
        #expect(s.index.tensor(named: "optimizer/momentum_buffer/fc2.bias")?.weight == "fc2.bias")
        let extras = try #require(s.index.metadata["extras"])
        #expect(extras["global_step"] == .number("1099511627776"))
        #expect(extras["big_negative"] == .number("-1180591620717411303424"))
        #expect(extras["negative_small"] == .number(-5))
        #expect(extras["amp"] == .bool(true))
        #expect(extras["best"] == .null)
        #expect(extras["vocab"]?.arrayValue?.count == 300)
        #expect(extras["vocab_again"] == extras["vocab"])
        #expect(extras["last_token"] == .string("tok299"))
    }

    @Test("views: offsets, strides, transposes, stride 0 and channels-last read as torch reads them; tied weights share one storage")
    func views() throws {
        for file in ["views_and_sharing.pt", "views_and_sharing_legacy.pt"] {
            let s = try PyTorchSource(path: TorchFixtures.path(file))
            let plan = SharedTensors.plan(s, Array(s.index.tensors.indices))
            #expect(plan.aliases == [SharedTensors.Alias(removed: "lm_head.weight", kept: "embed.weight")], "\(file)")
            #expect(plan.keep.count == s.index.tensors.count - 1)
        }
    }

    @Test("the pickle's archive prefix may be anything (archive/ for a file object, the stem for a path)")
    func archivePrefix() throws {
        let a = try PyTorchSource(path: TorchFixtures.path("mlp_state_dict_bytesio.pt"))
        let b = try PyTorchSource(path: TorchFixtures.path("mlp_state_dict.pt"))
        #expect(a.index.tensors == b.index.tensors)
        #expect(a.files[0].pickleMember == "archive/data.pkl")
    }

    @Test("opening reads data.pkl and the ZIP directory, never tensor data (flat in the data size)")
    func indexOnlyReads() throws {
        for mib in [1, 16] {
            var p = PickleBuilder()
            p.emptyDict(); p.string("w"); p.tensor(key: "0", numel: mib << 18, offset: 0, size: [mib << 10, 256], stride: [256, 1]); p.setItem(); p.stop()
            let bytes = TorchZip.make(pickle: p.bytes, storages: [("0", [UInt8](repeating: 7, count: mib << 20))])
            let dir = try TestEnv.temporaryDirectory("ckpt-torch-flat")
            defer { TestEnv.cleanup(dir) }
            try TestEnv.write(bytes, to: dir + "/big.pt")
            let f = try ReadableFile(path: dir + "/big.pt")
            let s = try PyTorchSource(file: f)
            #expect(s.index.tensors.map(\.shape) == [[mib << 10, 256]])
            // The ZIP reader looks for the end record in the last 256 KiB; nothing else but data.pkl.
            #expect(f.statistics.bytesRead <= UInt64(p.bytes.count + (256 << 10) + 4096), "\(mib) MiB: read \(f.statistics.bytesRead) bytes")
        }
    }
}
