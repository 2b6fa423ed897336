import Foundation
import Testing
import CheckpointTestSupport
@testable import CheckpointKit

/// Pickles that would run code, and pickles built to exhaust a reader: each is a CheckpointError
/// with one sentence, and nothing runs.
@Suite("PyTorch hostile pickles", .reportsSeeds)
struct PyTorchHostileTests {
    @Test("every hostile fixture is refused, naming the global and its byte offset", arguments: TorchFixtures.hostile)
    func hostileFixture(_ file: String) throws {
        let path = TorchFixtures.path("hostile/" + file)
        let e = expectError(.unsupported) { _ = try PyTorchSource(path: path) }
        let text = e?.description ?? ""
        let global = file.contains("eval") ? "builtins.eval" : file.contains("custom") ? "__main__.TrainingConfig" : file.hasPrefix("inst") ? "os.system" : "posix.system"
        #expect(text.contains(global), "\(text)")
        #expect(text.contains("nothing was run"))
        // The offset is the opcode that names the global (GLOBAL, STACK_GLOBAL or INST).
        let offset = try #require(e?.offset)
        let bytes = try TestEnv.read(path)
        #expect([0x63, 0x93, 0x69].contains(bytes[Int(offset)]), "byte \(offset) is 0x\(String(bytes[Int(offset)], radix: 16))")
        // Lenient: listed with a placeholder, still nothing run.
        let s = try PyTorchSource(path: path, lenient: true)
        #expect(s.placeholders.contains { $0.hasPrefix(global) })
        #expect(s.notes.contains { $0.contains(global) })
    }

    /// A pickle that, if anything executed it, would create `marker`.
    static func wouldCreate(_ marker: String, via module: String, _ name: String, proto: UInt8 = 2) -> [UInt8] {
        var p = PickleBuilder(proto: proto)
        p.emptyDict()
        p.string("payload"); p.global(module, name); p.mark(); p.string("touch " + marker); p.tuple(); p.reduce(); p.setItem()
        p.string("weight"); p.tensor(key: "0", numel: 2, offset: 0, size: [2], stride: [1]); p.setItem()
        p.stop()
        return TorchZip.make(pickle: p.bytes, storages: [("0", TorchZip.floats([1, 2]))])
    }

    @Test("a pickle that would create a file creates none, strict or lenient")
    func nothingRuns() throws {
        let dir = try TestEnv.temporaryDirectory("ckpt-torch-exec")
        defer { TestEnv.cleanup(dir) }
        for (k, (module, name)) in [("posix", "system"), ("os", "system"), ("subprocess", "getoutput"), ("builtins", "exec"), ("__builtin__", "eval")].enumerated() {
            let marker = dir + "/ran-\(k)"
            let bytes = Self.wouldCreate(marker, via: module, name)
            let e = expectError(.unsupported) { _ = try TorchZip.open(bytes) }
            #expect(e?.description.contains("\(module == "__builtin__" ? "builtins" : module).\(name)") == true)
            let s = try TorchZip.open(bytes, lenient: true)
            #expect(s.index.tensors.map(\.name) == ["weight"])
            #expect(try s.readTensorBytes(0) == TorchZip.floats([1, 2]))
            #expect(s.index.metadata["payload"]?.stringValue?.contains("not loaded") == true)
            #expect(!FileManager.default.fileExists(atPath: marker), "\(module).\(name) ran")
        }
    }

    /// Python's own unpickler runs the payload (it comes first): proof that the files the test
    /// above refuses are live, so that test proves something.
    @Test("the hostile payload is live: Python's unpickler runs it", .requires(.python3))
    func payloadIsLive() throws {
        let dir = try TestEnv.temporaryDirectory("ckpt-torch-exec")
        defer { TestEnv.cleanup(dir) }
        let marker = dir + "/python-ran"
        try TestEnv.write(Self.wouldCreate(marker, via: "posix", "system"), to: dir + "/live.pt")
        let script = """
        import pickle, sys, zipfile
        class U(pickle.Unpickler):
            def persistent_load(self, pid): return None
        try: U(zipfile.ZipFile(sys.argv[1]).open('archive/data.pkl')).load()
        except Exception: pass
        """
        _ = try TestEnv.python(script, [dir + "/live.pt"])
        #expect(FileManager.default.fileExists(atPath: marker), "the hostile file is not live: the test proves nothing")
    }

    @Test("storage offset past its data, and a view larger than its storage, are refused with the tensor named")
    func viewsOutsideTheirStorage() throws {
        for (offset, size, stride) in [(100, [5], [1]), (38, [5], [1]), (0, [4, 4], [4, 1]), (0, [3], [20]), (9, [2, 2], [0, 1])] {
            var p = PickleBuilder()
            p.emptyDict(); p.string("bad"); p.tensor(key: "0", numel: 10, offset: offset, size: size, stride: stride); p.setItem(); p.stop()
            let bytes = TorchZip.make(pickle: p.bytes, storages: [("0", [UInt8](repeating: 0, count: 40))])
            let e = expectError(.corrupt) { _ = try TorchZip.open(bytes) }
            #expect(e?.member == "bad")
            #expect(e?.description.contains("reaches past the end of storage") == true, "\(e?.description ?? "")")
        }
        // Stride 0 over 4 bytes claiming 4 TiB.
        var x = PickleBuilder()
        x.emptyDict(); x.string("bomb"); x.tensor(key: "0", numel: 1, offset: 0, size: [1 << 20, 1 << 20], stride: [0, 0]); x.setItem(); x.stop()
        let bomb = expectError(.limitExceeded) { _ = try TorchZip.open(TorchZip.make(pickle: x.bytes, storages: [("0", [0, 0, 0, 0])])) }
        #expect(bomb?.member == "bomb")
        // A storage member shorter than the persistent id says.
        var p = PickleBuilder()
        p.emptyDict(); p.string("w"); p.tensor(key: "0", numel: 10, offset: 0, size: [10], stride: [1]); p.setItem(); p.stop()
        let e = expectError(.corrupt) { _ = try TorchZip.open(TorchZip.make(pickle: p.bytes, storages: [("0", [UInt8](repeating: 0, count: 12))])) }
        #expect(e?.member == "archive/data/0")
        expectError(.corrupt) { _ = try TorchZip.open(TorchZip.make(pickle: p.bytes)) }
    }

    @Test("memo bombs: a memo past its limit, and shared lists that would expand exponentially")
    func memoBombs() throws {
        var limits = PickleLimits()
        limits.maxMemo = 1000
        var p = PickleBuilder()
        p.emptyDict()
        for i in 0..<2000 { p.op(0x4E); p.put(UInt32(i)); p.op(0x30) }
        p.stop()
        expectError(.limitExceeded) { _ = try TorchZip.open(TorchZip.make(pickle: p.bytes), pickleLimits: limits) }
        // A huge memo index is just a key.
        var q = PickleBuilder()
        q.emptyDict(); q.put(0xFFFF_FFFF); q.op(0x30); q.get(0xFFFF_FFFF); q.stop()
        #expect(try TorchZip.open(TorchZip.make(pickle: q.bytes)).index.tensors.isEmpty)
        // Billion laughs: list k holds list k-1 twice; 64 levels.
        var b = PickleBuilder()
        b.op(0x5D); b.put(0)
        for k in 1...64 { b.op(0x5D); b.mark(); b.get(UInt32(k - 1)); b.get(UInt32(k - 1)); b.op(0x65); b.put(UInt32(k)); b.op(0x30) }
        b.emptyDict(); b.string("laughs"); b.get(64); b.setItem(); b.stop()
        let e = expectError(.limitExceeded) { _ = try TorchZip.open(TorchZip.make(pickle: b.bytes)) }
        #expect(e?.description.contains("parts") == true)
    }

    @Test("deep nesting, MARK floods, stack floods and cycles end in an error or a placeholder, never a crash")
    func deepStructures() throws {
        // 100 000 nested lists (each appended into the previous): too deep to walk.
        var p = PickleBuilder()
        for _ in 0..<100_000 { p.op(0x5D) }
        for _ in 0..<99_999 { p.op(0x61) }
        p.stop()
        expectError(.limitExceeded) { _ = try TorchZip.open(TorchZip.make(pickle: p.bytes)) }
        var limits = PickleLimits()
        limits.maxMarks = 1000
        limits.maxStack = 5000
        expectError(.limitExceeded) { _ = try TorchZip.open(TorchZip.make(pickle: [UInt8](repeating: 0x28, count: 5000) + [0x2E]), pickleLimits: limits) }
        expectError(.limitExceeded) { _ = try TorchZip.open(TorchZip.make(pickle: [UInt8](repeating: 0x4E, count: 10_000) + [0x2E]), pickleLimits: limits) }
        // A list that contains itself.
        var c = PickleBuilder()
        c.op(0x5D); c.put(0); c.get(0); c.op(0x61); c.op(0x30)
        c.emptyDict(); c.string("loop"); c.get(0); c.setItem(); c.stop()
        let s = try TorchZip.open(TorchZip.make(pickle: c.bytes))
        #expect(s.index.metadata["loop"] == .array([.string("<cycle>")]))
    }

    @Test("malformed pickles: each a sentence naming where", arguments: [
        ([0x80, 0x02, 0x7D], CheckpointError.Code.truncated),        // no STOP
        ([0x80, 0x02, 0x2E], .corrupt),                            // STOP on an empty stack
        ([0x80, 0x02, 0xFF, 0x2E], .corrupt),                      // unknown opcode
        ([0x80, 0x06, 0x4E, 0x2E], .unsupported),                  // protocol 6
        ([0x80, 0x02, 0x58, 0xFF, 0xFF, 0xFF, 0x7F, 0x2E], .limitExceeded), // a 2 GB string
        ([0x80, 0x02, 0x58, 0x02, 0x00, 0x00, 0x00, 0xC3, 0x28, 0x2E], .corrupt), // bad UTF-8
        ([0x80, 0x02, 0x68, 0x05, 0x2E], .corrupt),                // memo read before write
        ([0x80, 0x02, 0x7D, 0x5D, 0x4E, 0x73, 0x2E], .corrupt),    // unhashable key
        ([0x80, 0x02, 0x4E, 0x4E, 0x61, 0x2E], .unsupported),      // append to None
        ([0x80, 0x02, 0x4E, 0x51, 0x2E], .unsupported),            // persistent id that is not a storage
        ([0x80, 0x02, 0x82, 0x01, 0x2E], .unsupported),            // EXT1
        ([0x80, 0x02, 0x8B, 0x00, 0x00, 0x01, 0x00, 0x2E], .limitExceeded), // LONG4 of 64 KiB
    ] as [([UInt8], CheckpointError.Code)])
    func malformed(_ pickle: [UInt8], _ code: CheckpointError.Code) throws {
        var limits = PickleLimits()
        limits.maxStringBytes = 1 << 20
        let e = expectError(code) { _ = try TorchZip.open(TorchZip.make(pickle: pickle), pickleLimits: limits) }
        #expect(e?.offset != nil)
        #expect(e?.description.hasSuffix(".") == true)
    }

    @Test("seeded byte flips of every fixture: a result or a CheckpointError, never a crash")
    func mutations() throws {
        var rng = SeededRNG(seed: 20)
        var outcomes = 0, attempts = 0
        var limits = Limits()
        limits.maxInMemoryTensorBytes = 64 << 20
        limits.maxTensorBytes = 64 << 20
        var pl = PickleLimits()
        pl.maxAllocatedBytes = 64 << 20
        pl.maxOpcodes = 1_000_000
        var refused = 0, opened = 0
        for (file, _) in TorchFixtures.files.prefix(9) {
            let original = try TestEnv.read(TorchFixtures.path(file))
            for _ in 0..<60 {
                var bytes = original
                attempts += 1
                for _ in 0..<Int.random(in: 1...4, using: &rng) {
                    let k = Int.random(in: 0..<bytes.count, using: &rng)
                    bytes[k] = UInt8.random(in: 0...255, using: &rng)
                }
                do {
                    let s = try PyTorchSource(file: ReadableFile(bytes: bytes, name: file), limits: limits, pickleLimits: pl)
                    for i in s.index.tensors.indices { _ = try? s.readTensorBytes(i, limits: limits) }
                    outcomes += 1
                    opened += 1
                } catch is CheckpointError {
                    outcomes += 1
                    refused += 1
                } catch {
                    Issue.record("\(file): \(error)")
                }
            }
            // The pickle itself mutated, in a ZIP whose CRCs agree (so the unpickler sees every flip).
            guard let zip = try? ZipArchive(file: ReadableFile(bytes: original, name: file)),
                  let pkl = zip.entries.first(where: { $0.name.hasSuffix("/data.pkl") }) else { continue }
            let pickle = try zip.readMember(pkl, maxBytes: 1 << 20)
            let storages = zip.entries.filter { $0.name.contains("/data/") }.map { e in
                (String(e.name.split(separator: "/").last ?? ""), (try? zip.readMember(e, maxBytes: 1 << 20)) ?? [])
            }
            for _ in 0..<300 {
                var bytes = pickle
                for _ in 0..<Int.random(in: 1...3, using: &rng) {
                    let k = Int.random(in: 0..<bytes.count, using: &rng)
                    bytes[k] = UInt8.random(in: 0...255, using: &rng)
                }
                do {
                    let s = try TorchZip.open(TorchZip.make(pickle: bytes, storages: storages), limits: limits, pickleLimits: pl)
                    for i in s.index.tensors.indices { _ = try? s.readTensorBytes(i, limits: limits) }
                    opened += 1
                } catch is CheckpointError {
                    refused += 1
                } catch {
                    Issue.record("\(file) pickle: \(error)")
                }
            }
        }
        #expect(attempts > 0 && outcomes == attempts, "every mutated file gives a result or a CheckpointError")
        // Both outcomes occur: the flips reach the checks, and not every flip is fatal.
        #expect(refused > 0 && opened > 0, "refused \(refused), opened \(opened)")
    }
}
