import Foundation
import Testing
@testable import CheckpointKit

// Cross-checks against the `gguf` Python package (pure Python: `pip install gguf`). Skipped, with
// the reason, when python3 cannot import gguf and numpy, unless CKPT_REQUIRE_GGUF=1 or
// CKPT_REQUIRE_PYTHON=1 (then a missing package fails).

enum GGUFPython {
    static let required = ["CKPT_REQUIRE_GGUF", "CKPT_REQUIRE_PYTHON"].contains { ProcessInfo.processInfo.environment[$0] == "1" }
    static let available = TestEnv.pythonAvailable(["gguf", "numpy"])
    static let usable = available || required
}

@Suite("GGUF cross-check with gguf-py",
       .enabled(if: GGUFPython.usable, "python3 with gguf and numpy is not available (pip install gguf; set CKPT_REQUIRE_GGUF=1 to fail instead)"))
struct GGUFCrossCheckTests {
    @Test("Random blocks of every decodable type (NaN, inf and subnormal scales included) equal gguf.quants.dequantize bit for bit",
          arguments: [1, 2, 3] as [UInt64])
    func randomBlocks(seed: UInt64) throws {
        try #require(GGUFPython.available, "python3 with gguf and numpy is required (CKPT_REQUIRE_GGUF=1 or CKPT_REQUIRE_PYTHON=1)")
        let dir = try TestEnv.temporaryDirectory()
        defer { TestEnv.cleanup(dir) }
        let py = try #require(TestEnv.which("python3"))
        let (status, out) = try TestEnv.run(py, [GGUFFixtures.dir + "/crosscheck.py", dir, String(seed)])
        try #require(status == 0, "crosscheck.py failed: \(out)")
        let source = try GGUFSource(path: dir + "/random.gguf")
        let decodable = GGMLType.allCases.filter(\.isDequantizable)
        #expect(Set(source.index.tensors.compactMap(\.quantization)) == Set(decodable.map(\.name)), "every decodable type is cross-checked")
        try GGUFFixtures.expectReferenceValues(source, npz: dir + "/random.npz")
    }

    @Test("gguf-py's reader lists the same keys, types, shapes and offsets for every fixture", arguments: GGUFFixtures.files)
    func readerAgrees(file: String) throws {
        try #require(GGUFPython.available, "python3 with gguf and numpy is required (CKPT_REQUIRE_GGUF=1 or CKPT_REQUIRE_PYTHON=1)")
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
        let lines = try runPython(script, [path]).split(separator: "\n").map(String.init)
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
