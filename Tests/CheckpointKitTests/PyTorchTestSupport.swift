import Foundation
import Testing
import CheckpointTestSupport
@testable import CheckpointKit

/// The PyTorch fixtures (Tests/Fixtures/pytorch, copied from the shared real-producer set) and
/// their oracle: `reference/*.npz` (the values `torch.load(weights_only=True)` read back) and
/// `expected.json` (torch dtypes, structure).
enum TorchFixtures {
    static func path(_ relative: String) -> String { TestEnv.path("Tests/Fixtures/pytorch/" + relative) }

    /// Checkpoint files and their reference .npz.
    static let files: [(file: String, npz: String)] = [
        ("mlp_state_dict.pt", "mlp_state_dict.npz"),
        ("mlp_legacy.pt", "mlp_legacy.npz"),
        ("mlp_state_dict_bytesio.pt", "mlp_state_dict_bytesio.npz"),
        ("training_checkpoint.pt", "training_checkpoint.npz"),
        ("training_checkpoint_sgd.pt", "training_checkpoint_sgd.npz"),
        ("dtypes.pt", "dtypes.npz"),
        ("dtypes_extra.pt", "dtypes_extra.npz"),
        ("views_and_sharing.pt", "views_and_sharing.npz"),
        ("views_and_sharing_legacy.pt", "views_and_sharing_legacy.npz"),
        ("hf_bert/pytorch_model.bin", "hf_bert__pytorch_model.npz"),
        ("hf_bert_sharded/pytorch_model-00001-of-00003.bin", "hf_bert_sharded__pytorch_model-00001-of-00003.npz"),
        ("hf_bert_sharded/pytorch_model-00002-of-00003.bin", "hf_bert_sharded__pytorch_model-00002-of-00003.npz"),
        ("hf_bert_sharded/pytorch_model-00003-of-00003.bin", "hf_bert_sharded__pytorch_model-00003-of-00003.npz"),
    ]

    static let hostile = ["reduce_os_system.pt", "reduce_os_system_proto4.pt", "reduce_os_system_legacy.pt", "global_builtins_eval.pt",
                          "global_builtin_eval_proto2.pt", "custom_class.pt", "inst_os_system.pt"]

    /// The MLP's parameters in `model.parameters()` order (the optimizer's numbering).
    static let mlpParameters = ["fc1.weight", "fc1.bias", "bn.weight", "bn.bias", "fc2.weight", "fc2.bias"]

    /// Our name for a flat key of the fixtures: training checkpoints keep state-dict keys and
    /// name optimizer slots `optimizer/<slot>/<parameter>`.
    static func ourName(_ flatKey: String, file: String) -> String {
        guard file.hasPrefix("training_checkpoint") else { return flatKey }
        if flatKey.hasPrefix("model.") { return String(flatKey.dropFirst(6)) }
        let parts = flatKey.split(separator: ".").map(String.init)
        if parts.count == 4, parts[0] == "optimizer", parts[1] == "state", let i = Int(parts[2]) {
            return "optimizer/\(parts[3])/\(mlpParameters[i])"
        }
        return flatKey
    }

    static let expected: JSONValue = {
        (try? JSONParser.parse(TestEnv.read(path("expected.json")))) ?? .null
    }()

    /// Torch's dtype name (without `torch.`) of a fixture tensor, from expected.json.
    static func torchDType(file: String, key: String) -> String? {
        guard case .string(let s)? = expected["files"]?[file]?["tensors"]?[key]?["dtype"] else { return nil }
        return s.hasPrefix("torch.") ? String(s.dropFirst(6)) : s
    }
}

/// A `.npz` read raw: per key, numpy's descr, the shape and the data bytes (complex included).
enum RawNPZ {
    struct Array {
        var descr: String
        var shape: [Int]
        var bytes: [UInt8]
    }

    static func read(_ path: String) throws -> [String: Array] {
        let zip = try ZipArchive(path: path)
        var out: [String: Array] = [:]
        for e in zip.entries where e.name.hasSuffix(".npy") {
            let member = try zip.readMember(e, maxBytes: 1 << 30)
            let headerLength = Int(member[8]) | Int(member[9]) << 8
            let header = String(decoding: member[10..<(10 + headerLength)], as: UTF8.self)
            let descr = field(header, "descr").trimmingCharacters(in: CharacterSet(charactersIn: "'"))
            let shapeText = field(header, "shape").trimmingCharacters(in: CharacterSet(charactersIn: "()"))
            let shape = shapeText.split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
            out[String(e.name.dropLast(4))] = Array(descr: descr, shape: shape, bytes: Swift.Array(member[(10 + headerLength)...]))
        }
        return out
    }

    private static func field(_ header: String, _ key: String) -> String {
        guard let r = header.range(of: "'\(key)': ") else { return "" }
        let rest = header[r.upperBound...]
        if rest.hasPrefix("(") { return String(rest[...(rest.firstIndex(of: ")") ?? rest.startIndex)]) }
        return String(rest.prefix { $0 != "," })
    }
}

/// Writes pickles opcode by opcode (tests only build what they need).
struct PickleBuilder {
    var bytes: [UInt8] = []

    init(proto: UInt8? = 2) { if let proto { bytes = [0x80, proto] } }

    @discardableResult mutating func op(_ b: UInt8...) -> PickleBuilder { bytes += b; return self }
    mutating func global(_ module: String, _ name: String) { bytes += [0x63] + Array("\(module)\n\(name)\n".utf8) }
    mutating func string(_ s: String) {
        let u = Array(s.utf8)
        bytes.append(0x58)
        bytes.appendLE(UInt32(u.count))
        bytes += u
    }
    mutating func int(_ v: Int) {
        if (0..<256).contains(v) { bytes += [0x4B, UInt8(v)] } else { bytes.append(0x4A); bytes.appendLE(UInt32(bitPattern: Int32(v))) }
    }
    mutating func mark() { bytes.append(0x28) }
    mutating func tuple() { bytes.append(0x74) }
    mutating func reduce() { bytes.append(0x52) }
    mutating func put(_ i: UInt32) { bytes.append(0x72); bytes.appendLE(i) }
    mutating func get(_ i: UInt32) { bytes.append(0x6A); bytes.appendLE(i) }
    mutating func stop() { bytes.append(0x2E) }
    mutating func emptyDict() { bytes.append(0x7D) }
    mutating func setItem() { bytes.append(0x73) }
    mutating func ints(_ v: [Int]) { mark(); for x in v { int(x) }; tuple() }

    /// `('storage', torch.<cls>, key, 'cpu', numel)` BINPERSID.
    mutating func storage(_ cls: String, key: String, numel: Int) {
        mark(); string("storage"); global("torch", cls); string(key); string("cpu"); int(numel); tuple()
        bytes.append(0x51)
    }

    /// `_rebuild_tensor_v2(storage, offset, size, stride, False, OrderedDict())` on the stack.
    mutating func tensor(_ cls: String = "FloatStorage", key: String, numel: Int, offset: Int, size: [Int], stride: [Int]) {
        global("torch._utils", "_rebuild_tensor_v2")
        mark()
        storage(cls, key: key, numel: numel)
        int(offset); ints(size); ints(stride)
        bytes.append(0x89)
        global("collections", "OrderedDict"); op(0x29); reduce()
        tuple(); reduce()
    }
}

/// Stored ZIPs in torch's layout (`<prefix>/data.pkl`, `<prefix>/data/<key>`, ...).
enum TorchZip {
    static func make(prefix: String = "archive", pickle: [UInt8], storages: [(String, [UInt8])] = [], extra: [(String, [UInt8])] = [],
                     byteorder: String = "little", deflated: Bool = false) -> [UInt8] {
        var members: [(String, [UInt8])] = [("\(prefix)/data.pkl", pickle), ("\(prefix)/byteorder", Array(byteorder.utf8))]
        members += storages.map { ("\(prefix)/data/\($0.0)", $0.1) }
        members += extra.map { ("\(prefix)/\($0.0)", $0.1) }
        members.append(("\(prefix)/version", Array("3\n".utf8)))
        var out: [UInt8] = []
        var central: [UInt8] = []
        for (name, data) in members {
            let offset = UInt32(out.count)
            let crc = crc32(data)
            let n = Array(name.utf8)
            var stored = data
            let method: UInt16 = deflated ? 8 : 0
            if deflated {
                stored = []
                let d = try? Deflater(strategy: .standard)
                _ = data.withUnsafeBytes { try? d?.compressFragment($0, finish: true, into: &stored) }
            }
            out.appendLE(UInt32(0x0403_4B50)); out.appendLE(UInt16(20)); out.appendLE(UInt16(0)); out.appendLE(method)
            out.appendLE(UInt16(0)); out.appendLE(UInt16(0x21)); out.appendLE(crc); out.appendLE(UInt32(stored.count)); out.appendLE(UInt32(data.count))
            out.appendLE(UInt16(n.count)); out.appendLE(UInt16(0)); out += n; out += stored
            central.appendLE(UInt32(0x0201_4B50)); central.appendLE(UInt16(20)); central.appendLE(UInt16(20)); central.appendLE(UInt16(0))
            central.appendLE(method); central.appendLE(UInt16(0)); central.appendLE(UInt16(0x21)); central.appendLE(crc)
            central.appendLE(UInt32(stored.count)); central.appendLE(UInt32(data.count)); central.appendLE(UInt16(n.count))
            central.appendLE(UInt16(0)); central.appendLE(UInt16(0)); central.appendLE(UInt16(0)); central.appendLE(UInt16(0))
            central.appendLE(UInt32(0)); central.appendLE(offset); central += n
        }
        let start = UInt32(out.count)
        out += central
        out.appendLE(UInt32(0x0605_4B50)); out.appendLE(UInt16(0)); out.appendLE(UInt16(0))
        out.appendLE(UInt16(members.count)); out.appendLE(UInt16(members.count))
        out.appendLE(UInt32(central.count)); out.appendLE(start); out.appendLE(UInt16(0))
        return out
    }

    static func floats(_ v: [Float]) -> [UInt8] {
        var out: [UInt8] = []
        for x in v { out.appendLE(x.bitPattern) }
        return out
    }

    /// Opens `bytes` as a torch file in memory.
    static func open(_ bytes: [UInt8], lenient: Bool = false, limits: Limits = .default, pickleLimits: PickleLimits = .default) throws -> PyTorchSource {
        try PyTorchSource(file: ReadableFile(bytes: bytes, name: "test.pt"), limits: limits, pickleLimits: pickleLimits, lenient: lenient)
    }
}
