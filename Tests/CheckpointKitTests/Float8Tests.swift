import Foundation
import Testing
import CheckpointTestSupport
@testable import CheckpointKit

// float8 tensors as safetensors 0.8 / ml_dtypes 0.7 write them (Tests/Fixtures/formats, made by
// gen.py there): every bit pattern decoded to the value ml_dtypes gives, read, diffed and
// converted without changing a bit.

private enum Formats {
    static let dir = TestEnv.path("Tests/Fixtures/formats/safetensors")
    static let expected: JSONValue = {
        var o = JSONParser.Options()
        o.maxDepth = 64
        return (try? JSONParser.parse(TestEnv.read(TestEnv.path("Tests/Fixtures/formats/expected.json")), options: o)) ?? .null
    }()
    static let narrowFiles = ["f8_e4m3", "f8_e5m2", "f8_e4m3fnuz", "f8_e5m2fnuz", "f8_e8m0", "bf16", "all_narrow"]
}

@Suite("float8 and other narrow floats")
struct Float8Tests {
    @Test("decode tables: the formats' landmarks", arguments: Float8.Format.allCases)
    func landmarks(_ f: Float8.Format) {
        let t = Float8.table(f)
        #expect(t.count == 256)
        switch f {
        case .e4m3fn:
            #expect(t[0x7E] == 448 && t[0xFE] == -448 && t[0x7F].isNaN && t[0xFF].isNaN && t[0x01] == 0x1p-9 && t[0x38] == 1)
            #expect(t.filter(\.isNaN).count == 2 && !t.contains(.infinity))
        case .e5m2:
            #expect(t[0x7B] == 57344 && t[0x7C] == .infinity && t[0xFC] == -.infinity && t[0x7D].isNaN && t[0x01] == 0x1p-16 && t[0x3C] == 1)
            #expect(t.filter(\.isNaN).count == 6)
        case .e4m3fnuz:
            #expect(t[0x80].isNaN && t[0x7F] == 240 && t[0x01] == 0x1p-10 && t[0x40] == 1 && t.filter(\.isNaN).count == 1)
        case .e5m2fnuz:
            #expect(t[0x80].isNaN && t[0x7F] == 57344 && t[0x01] == 0x1p-17 && t[0x40] == 1 && t.filter(\.isNaN).count == 1)
        case .e8m0fnu:
            #expect(t[0x00] == 0x1p-127 && t[0x7F] == 1 && t[0xFE] == 0x1p127 && t[0xFF].isNaN)
        }
        // encode is the inverse of decode on every non-NaN pattern (−0 included).
        for b in 0..<256 where !t[b].isNaN {
            #expect(Float8.encode(t[b], f) == UInt8(b), "\(f) \(b)")
        }
    }

    @Test("every fixture tensor: dtype, shape, raw bytes and every value as ml_dtypes decodes it", arguments: Formats.narrowFiles)
    func fixtureValues(_ name: String) throws {
        let file = try #require(Formats.expected["safetensors"]?["files"]?[name + ".safetensors"], "expected.json has \(name)")
        let source = try Checkpoints.open(Formats.dir + "/" + name + ".safetensors")
        let tensors = try #require(file["tensors"]?.objectValue)
        #expect(Set(source.index.tensors.map(\.name)) == Set(tensors.map(\.0)))
        for (key, e) in tensors {
            let i = try #require(source.tensorIndex(named: key))
            let info = source.index.tensors[i]
            #expect(info.dtype.safetensorsName == e["safetensors_dtype"]?.stringValue, "\(name) \(key)")
            #expect(info.dtype.rawValue == e["numpy_dtype"]?.stringValue || e["numpy_dtype"]?.stringValue == nil, "\(name) \(key): \(info.dtype)")
            #expect(info.shape == e["shape"]?.arrayValue?.compactMap(\.intValue), "\(name) \(key)")
            let bytes = try source.readTensorBytes(i)
            #expect(SHA256.hex(bytes) == e["sha256"]?.stringValue, "\(name) \(key)")
            guard let values = e["values"]?.arrayValue?.compactMap(\.stringValue) else { continue }
            var decoded: [Double] = []
            bytes.withUnsafeBytes { b in Elements.forEach(info.dtype, b) { decoded.append($0) } }
            #expect(decoded.count == values.count, "\(name) \(key)")
            for (d, v) in zip(decoded, values) {
                switch v {
                case "nan": #expect(d.isNaN, "\(name) \(key): \(d) for nan")
                case "inf": #expect(d == .infinity, "\(name) \(key)")
                case "-inf": #expect(d == -.infinity, "\(name) \(key)")
                default:
                    let x = try #require(Double(v))
                    #expect(d == x && d.sign == x.sign, "\(name) \(key): \(d) for \(v)")
                }
            }
        }
    }

    @Test("safetensors → .ckpt → safetensors keeps every float8 dtype and bit; diff in float64 says identical")
    func roundTrip() throws {
        let dir = try TestEnv.temporaryDirectory("ckpt-f8")
        defer { TestEnv.cleanup(dir) }
        let source = try Checkpoints.open(Formats.dir + "/all_narrow.safetensors")
        try Convert.run(source, to: dir + "/a.ckpt")
        let ckpt = try Checkpoints.open(dir + "/a.ckpt")
        try Convert.run(ckpt, to: dir + "/b.safetensors")
        let back = try Checkpoints.open(dir + "/b.safetensors")
        for s in [ckpt, back] {
            #expect(s.index.tensors.count == source.index.tensors.count)
            for (i, t) in source.index.tensors.enumerated() {
                let j = try #require(s.tensorIndex(named: t.name))
                #expect(s.index.tensors[j].dtype == t.dtype && s.index.tensors[j].shape == t.shape, "\(t.name)")
                #expect(try s.readTensorBytes(j) == source.readTensorBytes(i), "\(t.name)")
            }
        }
        // The container keeps the raw bits in a `|u1` member that numpy reads as uint8.
        #expect(try CheckpointArchive(path: dir + "/a.ckpt").manifest.tensors.first { $0.info.dtype == .float8_e4m3fn }.map { _ in true } == true)
        let diff = try CheckpointDiff.compare(source, back)
        #expect(diff.tensors.allSatisfy { $0.values == .identical }, "\(diff.tensors.filter { $0.values != .identical }.map(\.name))")
    }

    @Test("a Keras file cannot hold float8: refused by name, nothing written")
    func kerasRefuses() throws {
        let dir = try TestEnv.temporaryDirectory("ckpt-f8")
        defer { TestEnv.cleanup(dir) }
        let source = try Checkpoints.open(Formats.dir + "/f8_e5m2.safetensors")
        let arch = try TestEnv.read(TestEnv.path("Tests/Fixtures/keras/mlp/architecture.json"))
        var options = Convert.Options()
        options.architecture = arch
        let e = #expect(throws: CheckpointError.self) { try Convert.run(source, to: dir + "/x.weights.h5", options: options) }
        #expect(e?.code == .unsupported && e?.reason.contains("float8_e5m2") == true, "\(String(describing: e))")
        #expect(directoryListing(dir).isEmpty)
    }
}
