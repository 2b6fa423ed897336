import Foundation
import Testing
import CheckpointTestSupport
@testable import CheckpointKit

/// `Tests/Fixtures/gguf`: files gguf-py's GGUFWriter wrote, with what GGUFReader and
/// `gguf.quants.dequantize` read back (expected.json, reference/*.npz; gen.py there).
enum GGUFFixtures {
    static let dir = TestEnv.path("Tests/Fixtures/gguf")
    static let files = ["tiny_llama.gguf", "types_and_shapes.gguf", "vocab_only.gguf"]

    static let expected: JSONValue = {
        var o = JSONParser.Options()
        o.maxDepth = 512
        return (try? JSONParser.parse(TestEnv.read(dir + "/expected.json"), options: o)) ?? .null
    }()

    /// A tensor's values as float32 bits when its dtype is a float type (F16 and BF16 widened
    /// exactly), else its bytes: what the reference .npz holds.
    static func referenceBytes(_ info: TensorInfo, _ bytes: [UInt8]) -> [UInt8] {
        switch info.dtype {
        case .float16, .bfloat16:
            var out: [UInt8] = []
            out.reserveCapacity(bytes.count * 2)
            for k in stride(from: 0, to: bytes.count, by: 2) {
                let h = UInt16(bytes[k]) | UInt16(bytes[k + 1]) << 8
                let bits = info.dtype == .float16 ? GGUFDequantizer.halfBitsToFloatBits(h) : UInt32(h) << 16
                out.appendLE(bits)
            }
            return out
        default:
            return bytes
        }
    }

    /// Expects `source` to hold the reference .npz's tensors, bit for bit.
    static func expectReferenceValues(_ source: GGUFSource, npz: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let reference = try NPZSource(path: npz)
        #expect(reference.index.tensors.map(\.name).sorted() == source.index.tensors.map(\.name).sorted(), sourceLocation: sourceLocation)
        for (i, info) in source.index.tensors.enumerated() {
            let r = try #require(reference.tensorIndex(named: info.name), sourceLocation: sourceLocation)
            let ref = reference.index.tensors[r]
            #expect(ref.shape == info.shape, "\(info.name)", sourceLocation: sourceLocation)
            let want = try reference.readTensorBytes(r)
            let got = referenceBytes(info, try source.readTensorBytes(i))
            let firstDifference = (0..<min(got.count, want.count)).first { got[$0] != want[$0] } ?? (got.count == want.count ? nil : min(got.count, want.count))
            #expect(firstDifference == nil, "\(info.name) (\(info.quantization ?? info.dtype.rawValue)): differs from the reference at byte \(firstDifference ?? 0) of \(want.count)",
                    sourceLocation: sourceLocation)
            #expect(ref.dtype == (info.dtype == .float16 || info.dtype == .bfloat16 ? .float32 : info.dtype), "\(info.name)", sourceLocation: sourceLocation)
        }
    }
}

@Suite("GGUF fixtures")
struct GGUFFixtureTests {
    @Test("Header, metadata (every value type, nested arrays) and tensor infos equal what gguf-py recorded", arguments: GGUFFixtures.files)
    func headerMatches(file: String) throws {
        let want = try #require(GGUFFixtures.expected["files"]?[file])
        let source = try GGUFSource(path: GGUFFixtures.dir + "/" + file)
        let h = source.header
        #expect(h.version == UInt32(try #require(want["version"]?.intValue)))
        #expect(h.bigEndian == (want["endianness"]?.stringValue == "big"))
        #expect(h.alignment == want["alignment"]?.intValue)
        #expect(h.endOfTensorInfos == UInt64(try #require(want["end_of_tensor_infos"]?.intValue)))
        #expect(h.dataOffset == UInt64(try #require(want["data_offset"]?.intValue)))
        #expect(h.notes.isEmpty)

        let metadata = try #require(want["metadata"]?.arrayValue)
        #expect(h.metadata.count == metadata.count && metadata.count == want["kv_count"]?.intValue)
        for (entry, m) in zip(h.metadata, metadata) {
            #expect(entry.key == m["key"]?.stringValue)
            #expect(entry.value.type.name == m["type"]?.stringValue, "\(entry.key)")
            #expect(entry.offset == UInt64(try #require(m["offset"]?.intValue)), "\(entry.key)")
            #expect(entry.length == UInt64(try #require(m["length"]?.intValue)), "\(entry.key)")
            #expect(entry.value.json() == m["value"], "\(entry.key): \(entry.value.json().serialized()) vs \(m["value"]?.serialized() ?? "nil")")
            if let text = m["value_text"]?.stringValue { #expect(entry.value.json() == .number(text), "\(entry.key)") }
            if let array = entry.value.arrayValue {
                #expect(array.elementType.name == m["array_type"]?.stringValue, "\(entry.key)")
                #expect(array.count == m["count"]?.intValue, "\(entry.key)")
                let chain = m["nested_type_chain"]?.arrayValue?.compactMap(\.stringValue) ?? [array.elementType.name]
                #expect(array.typeChain.map(\.name) == chain, "\(entry.key)")
            }
        }

        let tensors = try #require(want["tensors"]?.arrayValue)
        #expect(h.tensors.count == tensors.count && tensors.count == want["tensor_count"]?.intValue)
        let bytes = try TestEnv.read(GGUFFixtures.dir + "/" + file)
        for (k, (t, w)) in zip(h.tensors, tensors).enumerated() {
            #expect(t.name == w["name"]?.stringValue)
            #expect(t.type.name == w["ggml_type"]?.stringValue && Int(t.type.rawValue) == w["ggml_type_id"]?.intValue, "\(t.name)")
            #expect(t.ne == w["ne"]?.arrayValue?.compactMap(\.intValue), "\(t.name)")
            #expect(t.shape == w["numpy_shape"]?.arrayValue?.compactMap(\.intValue), "\(t.name)")
            #expect(source.index.tensors[k].shape == t.shape, "\(t.name): the index has the numpy shape")
            #expect(t.relativeOffset == UInt64(try #require(w["offset"]?.intValue)), "\(t.name)")
            #expect(t.absoluteOffset == UInt64(try #require(w["absolute_offset"]?.intValue)), "\(t.name)")
            #expect(t.infoOffset == UInt64(try #require(w["info_offset"]?.intValue)), "\(t.name)")
            #expect(t.elementCount == w["n_elements"]?.intValue && t.byteCount == w["n_bytes"]?.intValue, "\(t.name)")
            #expect(t.type.blockLayout.blockSize == w["block_size"]?.intValue && t.type.blockLayout.typeSize == w["type_size"]?.intValue, "\(t.name)")
            let stored = Array(bytes[Int(t.absoluteOffset)..<(Int(t.absoluteOffset) + t.byteCount)])
            #expect(SHA256.hex(stored) == w["raw_sha256"]?.stringValue, "\(t.name)")
            let info = source.index.tensors[k]
            #expect(info.quantization == (t.type.plainDType == nil ? t.type.name : nil), "\(t.name)")
            let ref = GGUFFixtures.referenceBytes(info, try source.readTensorBytes(k))
            #expect(SHA256.hex(ref) == w["reference"]?["sha256"]?.stringValue, "\(t.name): the values' sha256 is the reference's")
        }
    }

    @Test("Values equal reference/*.npz (gguf.quants.dequantize) bit for bit", arguments: GGUFFixtures.files)
    func valuesMatchReference(file: String) throws {
        let source = try GGUFSource(path: GGUFFixtures.dir + "/" + file)
        try GGUFFixtures.expectReferenceValues(source, npz: GGUFFixtures.dir + "/reference/" + file.replacing(".gguf", with: ".npz"))
    }

    @Test("The opener picks GGUF from the extension and from the magic")
    func opener() throws {
        let path = GGUFFixtures.dir + "/tiny_llama.gguf"
        #expect(try Checkpoints.open(path).format == .gguf)
        #expect(try Checkpoints.sniff(path) == .gguf)
        #expect(CheckpointFormat(name: "gguf") == .gguf)
        let dir = try TestEnv.temporaryDirectory()
        defer { TestEnv.cleanup(dir) }
        try TestEnv.write(try TestEnv.read(path), to: dir + "/model.bin")
        #expect(try Checkpoints.open(dir + "/model.bin").format == .gguf)
    }

    @Test("The index metadata summarises the model and shortens long arrays")
    func metadataSummary() throws {
        let source = try GGUFSource(path: GGUFFixtures.dir + "/tiny_llama.gguf")
        let m = source.index.metadata
        let g = try #require(m["gguf"])
        #expect(g["architecture"] == .string("llama"))
        #expect(g["context_length"]?.intValue == 128)
        #expect(g["vocabulary_size"]?.intValue == 32)
        #expect(g["tokenizer"] == .string("llama"))
        #expect(g["file_type"] == .string("Q8_0 (7)"))
        #expect(g["tensor_types"]?["Q8_0"]?.intValue == 4 && g["tensor_types"]?["F32"]?.intValue == 5)
        #expect(m["llama.context_length"]?.intValue == 128)
        let tokens = try #require(m["tokenizer.ggml.tokens"])
        #expect(tokens["count"]?.intValue == 32 && tokens["type"] == .string("array[STRING]"))
        #expect(tokens["head"]?.arrayValue?.count == GGUFSource.inlineArrayLimit / 2)
        #expect(m["test.array.string"]?.arrayValue?.count == 5, "short arrays stay inline")
        #expect(m.objectValue?.count == source.header.metadata.count + 1)
        // The full values stay in the header.
        #expect(source.header.value("tokenizer.ggml.tokens")?.arrayValue?[15] == .string("🙂"))
    }

    @Test("Opening reads the header only, and each tensor's bytes once")
    func readsHeaderOnly() throws {
        let file = try ReadableFile(path: GGUFFixtures.dir + "/tiny_llama.gguf")
        let source = try GGUFSource(file: file)
        // The header is read in windows of at least 64 KiB: never the tensor data beyond that.
        #expect(file.statistics.bytesRead <= max(64 << 10, 2 * source.header.endOfTensorInfos))
        let before = file.statistics.bytesRead
        for i in source.index.tensors.indices { try source.readTensor(i) { _ in } }
        #expect(file.statistics.bytesRead - before == UInt64(source.header.tensors.reduce(0) { $0 + $1.byteCount }))
    }
}
