import Foundation
import Testing
import CheckpointTestSupport
@testable import CheckpointKit

/// Layouts the fixtures do not cover: big-endian files, legacy storage views, deflated members,
/// parameters, optimizer state without its model.
@Suite("PyTorch layouts")
struct PyTorchLayoutTests {
    static func floatsBE(_ v: [Float]) -> [UInt8] { v.flatMap { x in (0..<4).map { UInt8(truncatingIfNeeded: x.bitPattern >> (8 * (3 - $0))) } } }

    /// `{"m": 2×3 matrix, "mT": its transpose, "tail": elements 4..<6}` over one 6-float storage.
    static func viewsPickle() -> [UInt8] {
        var p = PickleBuilder()
        p.emptyDict()
        p.string("m"); p.tensor(key: "0", numel: 6, offset: 0, size: [2, 3], stride: [3, 1]); p.setItem()
        p.string("mT"); p.tensor(key: "0", numel: 6, offset: 0, size: [3, 2], stride: [1, 3]); p.setItem()
        p.string("tail"); p.tensor(key: "0", numel: 6, offset: 4, size: [2], stride: [1]); p.setItem()
        p.stop()
        return p.bytes
    }

    static let values: [Float] = [1, 2, 3, 4, 5, -6.5]

    static func check(_ s: PyTorchSource, sourceLocation: SourceLocation = #_sourceLocation) throws {
        #expect(try s.readTensorBytes(0) == TorchZip.floats(values), sourceLocation: sourceLocation)
        #expect(try s.readTensorBytes(1) == TorchZip.floats([1, 4, 2, 5, 3, -6.5]), sourceLocation: sourceLocation)
        #expect(try s.readTensorBytes(2) == TorchZip.floats([5, -6.5]), sourceLocation: sourceLocation)
        #expect(SharedTensors.plan(s, [0, 1, 2]).aliases.isEmpty, sourceLocation: sourceLocation)
    }

    @Test("big-endian zip files are swapped to little-endian, views included")
    func bigEndianZip() throws {
        let s = try TorchZip.open(TorchZip.make(pickle: Self.viewsPickle(), storages: [("0", Self.floatsBE(Self.values))], byteorder: "big"))
        try Self.check(s)
        expectError(.corrupt) { _ = try TorchZip.open(TorchZip.make(pickle: Self.viewsPickle(), storages: [("0", TorchZip.floats(Self.values))], byteorder: "middle")) }
    }

    @Test("deflated data.pkl and storage members (a re-zipped file) read the same")
    func deflatedMembers() throws {
        let s = try TorchZip.open(TorchZip.make(pickle: Self.viewsPickle(), storages: [("0", TorchZip.floats(Self.values))], deflated: true))
        #expect(s.files[0].zip?.entries.first?.method == 8)
        try Self.check(s)
    }

    /// A legacy file: magic, protocol 1001, sys_info, the object, the key list, then each storage.
    static func legacy(object: [UInt8], keys: [String], storages: [[UInt8]], counts: [Int], littleEndian: Bool) -> [UInt8] {
        var out: [UInt8] = [0x80, 0x02, 0x8A, 0x0A, 0x6C, 0xFC, 0x9C, 0x46, 0xF9, 0x20, 0x6A, 0xA8, 0x50, 0x19, 0x2E]
        out += [0x80, 0x02, 0x4D, 0xE9, 0x03, 0x2E]
        var sys = PickleBuilder()
        sys.emptyDict(); sys.string("little_endian"); sys.op(littleEndian ? 0x88 : 0x89); sys.setItem(); sys.stop()
        out += sys.bytes + object
        var k = PickleBuilder()
        k.op(0x5D); k.mark(); for key in keys { k.string(key) }; k.op(0x65); k.stop()
        out += k.bytes
        for (data, count) in zip(storages, counts) {
            for b in 0..<8 { out.append(UInt8(truncatingIfNeeded: UInt64(count) >> (8 * UInt64(littleEndian ? b : 7 - b)))) }
            out += data
        }
        return out
    }

    @Test("legacy files: big-endian, and old storage views (view_metadata) into a root storage")
    func legacyLayouts() throws {
        // The views pickle with 6-item persistent ids: ('storage', cls, key, 'cpu', numel, None).
        let zipPickle = Self.viewsPickle()
        var legacyPickle: [UInt8] = []
        var k = 0
        while k < zipPickle.count { // add None before each persistent id's closing TUPLE: after `K\x06` (numel 6)
            legacyPickle.append(zipPickle[k])
            if zipPickle[k] == 0x4B, k + 2 < zipPickle.count, zipPickle[k + 1] == 6, zipPickle[k + 2] == 0x74 { legacyPickle += [6, 0x4E]; k += 2; continue }
            k += 1
        }
        let be = Self.legacy(object: legacyPickle, keys: ["0"], storages: [Self.floatsBE(Self.values)], counts: [6], littleEndian: false)
        try Self.check(try TorchZip.open(be))
        let le = Self.legacy(object: legacyPickle, keys: ["0"], storages: [TorchZip.floats(Self.values)], counts: [6], littleEndian: true)
        try Self.check(try TorchZip.open(le))
        // A count that disagrees with the persistent id is caught when the data is read.
        let bad = Self.legacy(object: legacyPickle, keys: ["0"], storages: [TorchZip.floats(Self.values)], counts: [5], littleEndian: true)
        expectError(.corrupt) { _ = try TorchZip.open(bad).readTensorBytes(0) }
        // Truncated storages are caught when opening.
        expectError(.truncated) { _ = try TorchZip.open(Array(le.dropLast(3))) }

        // view_metadata: tensor "v" sees 2 floats from element 3 of root storage "r" through view "r.v".
        var p = PickleBuilder()
        p.emptyDict(); p.string("v")
        p.global("torch._utils", "_rebuild_tensor_v2"); p.mark()
        p.mark(); p.string("storage"); p.global("torch", "FloatStorage"); p.string("r"); p.string("cpu"); p.int(6)
        p.mark(); p.string("r.v"); p.int(3); p.int(2); p.tuple(); p.tuple(); p.op(0x51)
        p.int(1); p.ints([1]); p.ints([1]); p.op(0x89); p.global("collections", "OrderedDict"); p.op(0x29); p.reduce(); p.tuple(); p.reduce()
        p.setItem(); p.stop()
        let v = try TorchZip.open(Self.legacy(object: p.bytes, keys: ["r"], storages: [TorchZip.floats(Self.values)], counts: [6], littleEndian: true))
        #expect(try v.readTensorBytes(0) == TorchZip.floats([5]))
    }

    @Test("parameters, v3 dtype views of untyped storages, and a bare optimizer state dict")
    func parametersAndOptimizers() throws {
        var p = PickleBuilder()
        p.emptyDict()
        p.string("w"); p.global("torch._utils", "_rebuild_parameter"); p.mark()
        p.tensor(key: "0", numel: 2, offset: 0, size: [2], stride: [1])
        p.op(0x88); p.global("collections", "OrderedDict"); p.op(0x29); p.reduce(); p.tuple(); p.reduce(); p.setItem()
        p.string("h"); p.global("torch._utils", "_rebuild_tensor_v3"); p.mark()
        p.storage("UntypedStorage", key: "1", numel: 4)
        p.int(0); p.ints([2]); p.ints([1]); p.op(0x89); p.global("collections", "OrderedDict"); p.op(0x29); p.reduce()
        p.global("torch", "bfloat16"); p.tuple(); p.reduce(); p.setItem()
        p.stop()
        let s = try TorchZip.open(TorchZip.make(pickle: p.bytes, storages: [("0", TorchZip.floats([1, 2])), ("1", [0x80, 0x3F, 0x00, 0xC0])]))
        #expect(s.index.tensors.map(\.dtype) == [.float32, .bfloat16])
        #expect(try s.readTensorBytes(1) == [0x80, 0x3F, 0x00, 0xC0])

        // optimizer.state_dict() saved alone: slots keep the optimizer's numbering, with a note.
        var o = PickleBuilder()
        o.emptyDict()
        o.string("state"); o.emptyDict(); o.int(0); o.emptyDict(); o.string("momentum_buffer"); o.tensor(key: "0", numel: 2, offset: 0, size: [2], stride: [1]); o.setItem(); o.setItem(); o.setItem()
        o.string("param_groups"); o.op(0x5D); o.emptyDict(); o.string("lr"); o.op(0x47, 0x3F, 0x84, 0x7A, 0xE1, 0x47, 0xAE, 0x14, 0x7B); o.setItem()
        o.string("momentum"); o.int(0); o.setItem(); o.string("dampening"); o.int(0); o.setItem(); o.string("nesterov"); o.op(0x89); o.setItem()
        o.string("params"); o.op(0x5D); o.int(0); o.op(0x61); o.setItem(); o.op(0x61); o.setItem()
        o.stop()
        let opt = try TorchZip.open(TorchZip.make(pickle: o.bytes, storages: [("0", TorchZip.floats([1, 2]))]))
        #expect(opt.index.tensors.map(\.name) == ["optimizer/momentum_buffer/0"])
        #expect(opt.index.tensors.first?.role == .optimizer && opt.index.tensors.first?.weight == nil)
        #expect(opt.index.optimizer?.className == "SGD" && opt.index.optimizer?.learningRate == 0.01)
        #expect(opt.notes.contains { $0.contains("named by parameter number") })
    }
}
