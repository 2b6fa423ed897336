import Foundation
import Testing
import CheckpointTestSupport
@testable import CheckpointKit

/// Helpers shared by the `.npz` and safetensors tests.

/// Tensors held in memory, served as a ``TensorSource`` (in pieces, like a real reader).
final class MemorySource: TensorSource {
    let path: String
    let format: CheckpointFormat
    let index: CheckpointIndex
    let data: [[UInt8]]
    /// Bytes to drop from (negative) or add to (positive) the end of every tensor: a lying source.
    let skew: Int

    init(_ index: CheckpointIndex, _ data: [[UInt8]], path: String = "memory", format: CheckpointFormat = .ckpt, skew: Int = 0) {
        self.index = index
        self.data = data
        self.path = path
        self.format = format
        self.skew = skew
    }

    func pieces(of i: Int) -> [Range<Int>] { Self.uniformPieces(count: data[i].count, size: 1000) }

    func readPiece(_ i: Int, _ p: Int, _ body: (UnsafeRawBufferPointer) throws -> Void) throws -> UInt32 {
        let ps = pieces(of: i)
        var slice = Array(data[i][ps[p]])
        if p == ps.count - 1 {
            if skew < 0 { slice.removeLast(min(-skew, slice.count)) }
            if skew > 0 { slice += [UInt8](repeating: 7, count: skew) }
        }
        try slice.withUnsafeBytes(body)
        return crc32(slice)
    }
}

/// Sample tensors: every dtype, a scalar, an empty tensor, a non-ASCII name, one tensor bigger
/// than a piece (1 MiB), deterministic contents.
enum SampleTensors {
    static func make(seed: UInt64 = 7, big: Bool = true, dtypes: [DType] = DType.allCases) -> (CheckpointIndex, [[UInt8]]) {
        var rng = SeededRNG(seed: seed)
        var infos: [TensorInfo] = []
        for (k, d) in dtypes.enumerated() {
            infos.append(TensorInfo(name: "layer_\(k)/\(d.rawValue)", dtype: d, shape: [3, k + 1]))
        }
        infos.append(TensorInfo(name: "scalar", dtype: .float64, shape: []))
        infos.append(TensorInfo(name: "empty", dtype: .float32, shape: [0, 4]))
        infos.append(TensorInfo(name: "dense/kérnel_é", dtype: .float32, shape: [2, 2]))
        if big { infos.append(TensorInfo(name: "big/embeddings", dtype: .float32, shape: [700, 500])) } // 1.4 MB: two pieces
        let data = infos.map { RandomTensors.bytes($0, &rng) }
        return (CheckpointIndex(tensors: infos, metadata: .object([("epoch", .string("3")), ("note", .string("héllo \"x\"\n"))])), data)
    }
}

/// Builds safetensors files byte by byte, including ones no honest writer makes.
enum SafetensorsForge {
    /// 8-byte little-endian length (or `lengthOverride`), the header text, the data.
    static func file(_ header: String, data: [UInt8] = [], lengthOverride: UInt64? = nil) -> [UInt8] {
        let h = Array(header.utf8)
        var out: [UInt8] = []
        out.appendLE(lengthOverride ?? UInt64(h.count))
        return out + h + data
    }

    /// A header entry of an F32 tensor.
    static func entry(_ name: String, _ shape: [Int], _ begin: Int, _ end: Int) -> String {
        entry(name, "F32", shape, begin, end)
    }

    /// A header entry.
    static func entry(_ name: String, _ dtype: String, _ shape: [Int], _ begin: Int, _ end: Int) -> String {
        "\"\(name)\":{\"dtype\":\"\(dtype)\",\"shape\":[\(shape.map(String.init).joined(separator: ","))],\"data_offsets\":[\(begin),\(end)]}"
    }
}

enum FormatFixtures {
    static let models = ["mlp", "cnn", "lstm"]
    static func dir(_ model: String) -> String { TestEnv.path("Tests/Fixtures/keras/\(model)") }

    /// expected.json `weights[]`: (path, dtype, shape, sha256).
    static func expectedWeights(_ model: String) throws -> [(name: String, dtype: String, shape: [Int], sha256: String)] {
        let v = try JSONParser.parse(TestEnv.read(dir(model) + "/expected.json"), options: {
            var o = JSONParser.Options()
            o.maxDepth = 512
            return o
        }())
        let weights = try #require(v["weights"]?.arrayValue)
        return try weights.map { w in
            (try #require(w["path"]?.stringValue), try #require(w["dtype"]?.stringValue),
             try #require(w["shape"]?.arrayValue?.compactMap { $0.intValue }), try #require(w["sha256"]?.stringValue))
        }
    }

    /// Checks that `source` holds exactly the weights expected.json lists, bytes included.
    static func expectMatches(_ source: any TensorSource, _ model: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let expected = try expectedWeights(model)
        #expect(Set(source.index.tensors.map(\.name)) == Set(expected.map(\.name)), sourceLocation: sourceLocation)
        #expect(source.index.tensors.count == expected.count, sourceLocation: sourceLocation)
        for w in expected {
            let i = try #require(source.tensorIndex(named: w.name), sourceLocation: sourceLocation)
            let t = source.index.tensors[i]
            #expect(t.dtype.rawValue == w.dtype, "\(w.name)", sourceLocation: sourceLocation)
            #expect(t.shape == w.shape, "\(w.name)", sourceLocation: sourceLocation)
            #expect(SHA256.hex(try source.readTensorBytes(i)) == w.sha256, "\(w.name)", sourceLocation: sourceLocation)
        }
    }
}

/// `Tests/Fixtures/safetensors`: small files written by numpy and safetensors (`make.py` there).
enum LibraryFixtures {
    static let dir = TestEnv.path("Tests/Fixtures/safetensors")

    /// Checks that `source` holds exactly the tensors expected.json lists, bytes included.
    static func expectMatches(_ source: any TensorSource, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let v = try JSONParser.parse(TestEnv.read(dir + "/expected.json"))
        let expected = try #require(v["tensors"]?.arrayValue, sourceLocation: sourceLocation)
        #expect(source.index.tensors.count == expected.count, sourceLocation: sourceLocation)
        for e in expected {
            let name = try #require(e["name"]?.stringValue, sourceLocation: sourceLocation)
            let i = try #require(source.tensorIndex(named: name), "\(name)", sourceLocation: sourceLocation)
            let t = source.index.tensors[i]
            #expect(t.dtype == DType.fromNPY(descr: e["dtype"]?.stringValue ?? "")?.0, "\(name)", sourceLocation: sourceLocation)
            #expect(t.shape == e["shape"]?.arrayValue?.compactMap { $0.intValue }, "\(name)", sourceLocation: sourceLocation)
            #expect(SHA256.hex(try source.readTensorBytes(i)) == e["sha256"]?.stringValue, "\(name)", sourceLocation: sourceLocation)
        }
    }
}

/// All tensors of a source, by name.
func tensorsByName(_ source: any TensorSource) throws -> [String: (TensorInfo, [UInt8])] {
    var out: [String: (TensorInfo, [UInt8])] = [:]
    for (i, t) in source.index.tensors.enumerated() { out[t.name] = (t, try source.readTensorBytes(i)) }
    return out
}

/// Expects two sources to hold the same tensors (names, dtypes, shapes, bytes), in any order.
func expectSameTensors(_ a: any TensorSource, _ b: any TensorSource, sourceLocation: SourceLocation = #_sourceLocation) throws {
    let x = try tensorsByName(a), y = try tensorsByName(b)
    #expect(Set(x.keys) == Set(y.keys), sourceLocation: sourceLocation)
    for (name, (ti, bytes)) in x {
        guard let (ui, other) = y[name] else { continue }
        #expect(ti.dtype == ui.dtype && ti.shape == ui.shape, "\(name): \(ti.dtype) \(ti.shape) vs \(ui.dtype) \(ui.shape)", sourceLocation: sourceLocation)
        #expect(bytes == other, "\(name): bytes differ", sourceLocation: sourceLocation)
    }
}

/// Files in `dir` (names only), sorted.
func directoryListing(_ dir: String) -> [String] { TestEnv.listing(dir) }
