import Foundation
import Testing
import CheckpointTestSupport
@testable import CheckpointCommands
@testable import CheckpointKit

@Suite("ckpt with GGUF files")
struct GGUFCommandTests {
    static let dir = CLI.path("Tests/Fixtures/gguf")
    static let llama = dir + "/tiny_llama.gguf"

    @Test("inspect shows the GGUF summary, every key, and the GGML type of quantized tensors")
    func inspectText() {
        let r = CLI.run(["inspect", Self.llama])
        #expect(r.status == 0, "\(r.err)")
        #expect(r.out.contains("  format      GGUF\n"))
        #expect(r.out.contains("  metadata    gguf: version=3 byte_order=little"))
        for part in ["architecture=llama", "context_length=128", "vocabulary_size=32", "file_type=Q8_0 (7)", "llama.rope.freq_base=10000.0"] {
            #expect(r.out.contains(part), "\(part)")
        }
        #expect(r.out.contains("tokenizer.ggml.tokens: type=array[STRING] count=32"), "long arrays as type, count and head")
        #expect(r.out.contains("blk.1.ffn_down.weight     float32 (Q4_K)  (64, 256)"))
        #expect(r.out.contains("token_embd.weight         float16         (32, 64)"))
        #expect(r.err.contains("note: Tests/Fixtures/gguf/tiny_llama.gguf: metadata arrays longer than 16 values (tokenizer.ggml.tokens, tokenizer.ggml.scores and 1 more)"))
    }

    @Test("inspect --json: metadata summary, quantization per tensor, values")
    func inspectJSON() throws {
        let r = CLI.run(["inspect", Self.llama, "--tensor", "blk.0.ffn_down.weight", "--values", "3", "--json"])
        #expect(r.status == 0, "\(r.err)")
        let v = try JSONParser.parse(Array(r.out.utf8))
        #expect(v["format"] == .string("gguf"))
        #expect(v["metadata"]?["gguf"]?["architecture"] == .string("llama"))
        let t = try #require(v["tensors"]?[0])
        #expect(t["quantization"] == .string("Q6_K") && t["dtype"] == .string("float32") && t["shape"] == .array([.number(64), .number(256)]))
        #expect(t["values"]?.arrayValue?.count == 3)
        let plain = CLI.run(["inspect", Self.llama, "--tensor", "output_norm.weight", "--json"])
        #expect(!plain.out.contains("\"quantization\""), "plain tensors carry no quantization key")
    }

    @Test("convert refuses quantized tensors by name unless --dequantize; writes nothing; GGUF is not written")
    func convertQuantized() throws {
        let out = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: out) }
        var r = CLI.run(["convert", Self.llama, out + "/m.safetensors"])
        #expect(r.status == 2)
        #expect(r.err.hasSuffix("\nckpt: error: Tests/Fixtures/gguf/tiny_llama.gguf: member \"blk.0.attn_q.weight\": tensor \"blk.0.attn_q.weight\" is stored quantized as Q8_0 (and 11 more quantized tensors), which safetensors cannot hold; convert with --dequantize to write them as float32.\n"),
                "\(r.err)")
        #expect(!FileManager.default.fileExists(atPath: out + "/m.safetensors"))
        r = CLI.run(["convert", Self.llama, out + "/m.safetensors", "--dequantize"])
        #expect(r.status == 0, "\(r.err)")
        #expect(r.err.contains("note: 12 quantized tensors were written as float32, decoded from Q4_0, Q4_1, Q4_K, Q5_0, Q5_1, Q6_K, Q8_0"))
        r = CLI.run(["diff", Self.llama, out + "/m.safetensors"])
        #expect(r.status == 0, "a GGUF file and its dequantized safetensors are identical: \(r.out)")
        r = CLI.run(["convert", Self.dir + "/types_and_shapes.gguf", out + "/t.ckpt", "--dequantize"])
        #expect(r.status == 0, "\(r.err)")
        r = CLI.run(["diff", Self.dir + "/types_and_shapes.gguf", out + "/t.ckpt"])
        #expect(r.status == 0)
        r = CLI.run(["convert", out + "/t.ckpt", out + "/x.gguf"])
        #expect(r.status == 2 && r.err.contains("ckpt reads GGUF files but does not write them"), "\(r.err)")
    }

    @Test("Hostile GGUF: exit 2, one sentence naming the file, the tensor and the byte")
    func hostile() throws {
        let out = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: out) }
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: Self.dir + "/types_and_shapes.gguf")))
        bytes.removeLast(100)
        try Data(bytes).write(to: URL(fileURLWithPath: out + "/cut.gguf"))
        let r = CLI.run(["inspect", out + "/cut.gguf"])
        #expect(r.status == 2)
        #expect(r.err == "ckpt: error: \(out)/cut.gguf: member \"q6_k.3x256\" at byte 788: tensor \"q6_k.3x256\" has 630 bytes of data at offset 2336 past the data start 864, beyond the end of the file at byte 3740; the file is truncated or its header is wrong.\n", "\(r.err)")
    }

    @Test("--values and the dequantized safetensors equal gguf-py (GGUFReader + gguf.quants.dequantize), read by safetensors/torch",
          .requires(.gguf, .numpy, .safetensors, .torch))
    func crossCheck() throws {
        let out = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: out) }
        let source = try GGUFSource(path: Self.llama)
        var printed: [(String, JSONValue)] = []
        for t in source.index.tensors {
            let r = CLI.run(["inspect", Self.llama, "--tensor", t.name, "--values", "100", "--json"])
            #expect(r.status == 0)
            printed.append((t.name, try #require(JSONParser.parse(Array(r.out.utf8))["tensors"]?[0]?["values"])))
        }
        try Data(JSONValue.object(printed).serializedBytes()).write(to: URL(fileURLWithPath: out + "/values.json"))
        #expect(CLI.run(["convert", Self.llama, out + "/m.safetensors", "--dequantize"]).status == 0)
        let script = """
        import json, sys, numpy as np, gguf, torch
        from safetensors import safe_open
        r = gguf.GGUFReader(sys.argv[1])
        printed = json.load(open(sys.argv[2]))
        st = safe_open(sys.argv[3], "pt")
        for t in r.tensors:
            ref = gguf.quants.dequantize(np.array(t.data), t.tensor_type).astype(np.float32).reshape(tuple(reversed(t.shape.tolist())))
            got = np.array(printed[t.name], dtype=np.float64)
            if t.tensor_type == gguf.GGMLQuantizationType.F16:
                got = got.astype(np.float16)  # printed as the shortest float16 text
            if t.tensor_type == gguf.GGMLQuantizationType.BF16:
                got = torch.tensor(got).to(torch.bfloat16).float().numpy()
            got = got.astype(np.float32)
            assert got.view(np.uint32).tolist() == ref.ravel()[:100].view(np.uint32).tolist(), ("--values", t.name)
            st_t = st.get_tensor(t.name).float().numpy()
            assert st_t.shape == ref.shape and st_t.tobytes() == ref.tobytes(), ("safetensors", t.name)
        print("ok", len(r.tensors))
        """
        let text = try TestEnv.python(script, [Self.llama, out + "/values.json", out + "/m.safetensors"])
        #expect(text.hasPrefix("ok 21"), "\(text)")
    }
}
