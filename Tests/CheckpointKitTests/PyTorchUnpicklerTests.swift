import Foundation
import Testing
import CheckpointTestSupport
@testable import CheckpointKit

/// The unpickler against CPython's pickler: the same objects dumped with protocols 0 to 5 read
/// back as the values Python holds (every opcode family: text and binary numbers, strings and
/// their escapes, bytes through `_codecs.encode` / BINBYTES / BYTEARRAY8, sets and frozensets,
/// OrderedDict, frames, memoization, STACK_GLOBAL).
@Suite("Unpickler")
struct PyTorchUnpicklerTests {
    static func read(_ bytes: [UInt8], lenient: Bool = false) throws -> JSONValue {
        let u = Unpickler(bytes: bytes, base: 0, file: "test.pkl", member: nil, limits: .default, lenient: lenient, persistentIDs: .refused)
        let (v, end) = try u.load()
        #expect(end == bytes.count)
        return try withExtendedLifetime(u) { try PickleWalker(limits: .default, file: nil).walk(v, "") }
    }

    @Test("CPython's pickles of plain data, protocols 0 to 5, read as Python reads them", .requires(.python3))
    func cpythonProtocols() throws {
        let dir = try TestEnv.temporaryDirectory("ckpt-pickle")
        defer { TestEnv.cleanup(dir) }
        let script = #"""
        import json, pickle, sys, collections, math
        big = 2**100
        obj = {
            "ints": [0, 1, -1, 255, 256, 65535, 65536, 2**31 - 1, -2**31, 2**31, 2**63 - 1, -2**63, 2**64, big, -big, 10**40],
            "floats": [0.0, -0.0, 1.5, 1e-300, 3.141592653589793, 1e300, -2.5e-8],
            "strings": ["", "a", "é ü ß", "tab\there", "quote ' and \" and \\ back", "nl\nx", "snow ☃ 🙂", "\x00\x7f", "u\\u1234"],
            "bytes": [b"", b"\x00\xff\x80abc", bytearray(b"\x01\x02")],
            "none": None, "t": True, "f": False,
            "tuples": [(), (1,), (1, 2), (1, 2, 3), (1, 2, 3, 4)],
            "set": {3, 1, 2}, "frozen": frozenset({"x"}),
            "od": collections.OrderedDict([("b", 1), ("a", [2, 3])]),
            "intkeys": {1: "one", 2: "two"},
            "shared": None,
        }
        shared = ["s1", "s2"]
        obj["shared"] = [shared, shared, {"again": shared}]
        def plain(v):
            if isinstance(v, (bytes, bytearray)): return {"$bytes": len(v)}
            if isinstance(v, dict): return {str(k): plain(x) for k, x in v.items()}
            if isinstance(v, (list, tuple, set, frozenset)): return [plain(x) for x in v]
            return v
        for p in range(6):
            open(f"{sys.argv[1]}/p{p}.pkl", "wb").write(pickle.dumps(obj, protocol=p))
        json.dump(plain(obj), open(f"{sys.argv[1]}/expected.json", "w"))
        """#
        try TestEnv.python(script, [dir])
        let expected = try JSONParser.parse(TestEnv.read(dir + "/expected.json"))
        for p in 0...5 {
            let got = try Self.read(try TestEnv.read(dir + "/p\(p).pkl"))
            #expect(got == expected, "protocol \(p): \(got.serialized(.compact).prefix(400))")
        }
    }

    @Test("text opcodes of protocol 0 written by hand: INT booleans, LONG, STRING escapes, GET/PUT, DICT, LIST, POP_MARK, DUP")
    func protocolZero() throws {
        let text = "(dp0\nS'a\\x41\\n\\'q\\''\np1\nI01\nsS'b'\nL12345678901234567890L\nsS'c'\n(lp2\nF1.5\naI-7\nag1\na20sS'd'\n(I1\nI2\n1Ns."
        let v = try Self.read(Array(text.utf8))
        #expect(v == .object([("aA\n'q'", .bool(true)), ("b", .number("12345678901234567890")),
                              ("c", .array([.number(1.5), .number(-7), .string("aA\n'q'")])), ("d", .null)]), "\(v.serialized(.compact))")
        #expect(v["d"] == .null)
    }

    @Test("BigDecimal renders two's-complement integers of any length")
    func bigIntegers() {
        #expect(BigDecimal.text(littleEndianTwosComplement: [0x6C, 0xFC, 0x9C, 0x46, 0xF9, 0x20, 0x6A, 0xA8, 0x50, 0x19]) == "119547037146038801333356")
        #expect(BigDecimal.text(littleEndianTwosComplement: [0, 0, 0, 0, 0, 0, 0, 0, 0xC0, 0xFF]) == "-1180591620717411303424")
        #expect(BigDecimal.text(littleEndianTwosComplement: [0, 0, 0, 0, 0, 0, 0, 0, 1]) == "18446744073709551616")
        #expect(BigDecimal.text(littleEndianTwosComplement: [0xFF]) == "-1")
        #expect(BigDecimal.text(littleEndianTwosComplement: [0, 0, 0, 0, 0, 0, 0, 0, 0]) == "0")
    }

    @Test("the allow-list: torch's rebuild functions, storages of every dtype, dtypes; not numpy, not eval")
    func allowList() {
        #expect(PickleGlobal.lookup(module: "torch._utils", name: "_rebuild_tensor_v2") == .rebuildTensorV2)
        #expect(PickleGlobal.lookup(module: "torch._utils", name: "_rebuild_parameter_with_state") == .rebuildParameterWithState)
        #expect(PickleGlobal.lookup(module: "torch", name: "BFloat16Storage") == .storageClass(TorchScalarType.byName["bfloat16"]!))
        #expect(PickleGlobal.lookup(module: "torch.cuda", name: "HalfStorage") == .storageClass(TorchScalarType.byName["float16"]!))
        #expect(PickleGlobal.lookup(module: "torch", name: "float8_e4m3fn") == .dtype(TorchScalarType.byName["float8_e4m3fn"]!))
        #expect(PickleGlobal.lookup(module: "__builtin__", name: "set") == .set)
        for (m, n) in [("numpy", "dtype"), ("numpy.core.multiarray", "scalar"), ("builtins", "eval"), ("builtins", "getattr"), ("os", "system"),
                       ("torch", "load"), ("torch._utils", "_import_dotted_name"), ("collections", "defaultdict"), ("copyreg", "_reconstructor")] {
            #expect(PickleGlobal.lookup(module: m, name: n) == nil, "\(m).\(n)")
        }
        for t in TorchScalarType.all where t.storageClass != nil {
            #expect(PickleGlobal.lookup(module: "torch", name: t.storageClass ?? "") == .storageClass(t))
        }
    }
}
