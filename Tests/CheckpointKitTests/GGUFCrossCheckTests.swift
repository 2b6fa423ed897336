import Foundation
import Testing
import CheckpointTestSupport
@testable import CheckpointKit

// Cross-checks against the `gguf` Python package (pure Python: `pip install gguf`): a reported skip
// naming the package when python3 cannot import gguf and numpy, a failure with CKPT_REQUIRE_GGUF=1.

@Suite("GGUF cross-check with gguf-py", .requires(.gguf, .numpy))
struct GGUFCrossCheckTests {
    @Test("Random blocks of every decodable type (NaN, inf and subnormal scales included) equal gguf.quants.dequantize bit for bit",
          arguments: [1, 2, 3] as [UInt64])
    func randomBlocks(seed: UInt64) throws {
        let dir = try TestEnv.temporaryDirectory()
        defer { TestEnv.cleanup(dir) }
        let (status, out) = try TestEnv.run("python3", [GGUFFixtures.dir + "/crosscheck.py", dir, String(seed)])
        try #require(status == 0, "crosscheck.py failed: \(out)")
        let source = try GGUFSource(path: dir + "/random.gguf")
        let decodable = GGMLType.allCases.filter(\.isDequantizable)
        #expect(Set(source.index.tensors.compactMap(\.quantization)) == Set(decodable.map(\.name)), "every decodable type is cross-checked")
        try GGUFFixtures.expectReferenceValues(source, npz: dir + "/random.npz")
    }

    @Test("gguf-py's reader lists the same keys, types, shapes and offsets for every fixture", arguments: GGUFFixtures.files)
    func readerAgrees(file: String) throws {
        let script = """
        import sys, gguf
        r = gguf.GGUFReader(sys.argv[1])
        print(r.alignment, r.data_offset)
        for k, f in r.fields.items():
            if not k.startswith("GGUF."):
                print("K", k, f.offset, "/".join(gguf.GGUFValueType(t).name for t in f.types))
        for t in r.tensors:
            print("T", t.name, t.tensor_type.name, ",".join(str(int(d)) for d in reversed(t.shape.tolist())), t.data_offset, t.n_bytes)
        """
        let path = GGUFFixtures.dir + "/" + file
        let lines = try TestEnv.python(script, [path]).split(separator: "\n").map(String.init)
        let source = try GGUFSource(path: path)
        let h = source.header
        var mine = ["\(h.alignment) \(h.dataOffset)"]
        for e in h.metadata {
            let types = [e.value.type] + (e.value.arrayValue?.typeChain ?? [])
            mine.append("K \(e.key) \(e.offset) \(types.map(\.name).joined(separator: "/"))")
        }
        for t in h.tensors {
            mine.append("T \(t.name) \(t.type.name) \(t.shape.map(String.init).joined(separator: ",")) \(t.absoluteOffset) \(t.byteCount)")
        }
        #expect(lines == mine)
    }
}
