import Foundation
import Testing
import CheckpointTestSupport
@testable import CheckpointKit

/// Builds ZIP archives byte by byte, including ones no honest writer makes.
struct ZipForge {
    struct Member {
        var name: String
        var data: [UInt8]
        var method: UInt16 = 0
        var flags: UInt16 = 0
        var crc: UInt32? = nil
        var declaredSize: UInt64? = nil          // uncompressed size claimed in both headers
        var compressedOverride: UInt64? = nil    // compressed size claimed
        var localOffsetOverride: UInt64? = nil   // central directory's local-header offset
        var localHeader: LocalOverride? = nil    // what the local header alone says differently
        var zip64: Bool = false
        var disk: UInt16 = 0
    }
    /// Local-header fields that disagree with the central directory.
    struct LocalOverride {
        var method: UInt16? = nil
        var crc: UInt32? = nil
        var compressedSize: UInt32? = nil
        var uncompressedSize: UInt32? = nil
        var name: String? = nil
    }
    var members: [Member] = []
    var trailing: [UInt8] = []
    var eocdDisk: UInt16 = 0
    var cdOffsetDelta: Int64 = 0
    var countOverride: UInt16? = nil

    func bytes() -> [UInt8] {
        var out: [UInt8] = []
        var offsets: [UInt64] = []
        for m in members {
            offsets.append(UInt64(out.count))
            let crc = m.crc ?? crc32(m.data)
            let csize = m.compressedOverride ?? UInt64(m.data.count)
            let usize = m.declaredSize ?? UInt64(m.data.count)
            let local = m.localHeader ?? LocalOverride()
            out.appendLE(UInt32(0x0403_4B50)); out.appendLE(UInt16(20)); out.appendLE(m.flags); out.appendLE(local.method ?? m.method)
            out.appendLE(UInt16(0)); out.appendLE(UInt16(0x21)); out.appendLE(local.crc ?? crc)
            out.appendLE(local.compressedSize ?? (m.zip64 ? UInt32.max : UInt32(truncatingIfNeeded: csize)))
            out.appendLE(local.uncompressedSize ?? (m.zip64 ? UInt32.max : UInt32(truncatingIfNeeded: usize)))
            let name = Array((local.name ?? m.name).utf8)
            out.appendLE(UInt16(name.count)); out.appendLE(UInt16(m.zip64 ? 20 : 0))
            out += name
            if m.zip64 { out.appendLE(UInt16(1)); out.appendLE(UInt16(16)); out.appendLE(usize); out.appendLE(csize) }
            out += m.data
        }
        let cdStart = out.count
        for (k, m) in members.enumerated() {
            let crc = m.crc ?? crc32(m.data)
            let csize = m.compressedOverride ?? UInt64(m.data.count)
            let usize = m.declaredSize ?? UInt64(m.data.count)
            let off = m.localOffsetOverride ?? offsets[k]
            let name = Array(m.name.utf8)
            var extra: [UInt8] = []
            if m.zip64 { extra.appendLE(UInt16(1)); extra.appendLE(UInt16(24)); extra.appendLE(usize); extra.appendLE(csize); extra.appendLE(off) }
            out.appendLE(UInt32(0x0201_4B50)); out.appendLE(UInt16(0x031E)); out.appendLE(UInt16(20)); out.appendLE(m.flags); out.appendLE(m.method)
            out.appendLE(UInt16(0)); out.appendLE(UInt16(0x21)); out.appendLE(crc)
            out.appendLE(m.zip64 ? UInt32.max : UInt32(truncatingIfNeeded: csize)); out.appendLE(m.zip64 ? UInt32.max : UInt32(truncatingIfNeeded: usize))
            out.appendLE(UInt16(name.count)); out.appendLE(UInt16(extra.count)); out.appendLE(UInt16(0)); out.appendLE(m.disk)
            out.appendLE(UInt16(0)); out.appendLE(UInt32(0o100644 << 16)); out.appendLE(m.zip64 ? UInt32.max : UInt32(truncatingIfNeeded: off))
            out += name + extra
        }
        let cdSize = out.count - cdStart
        out.appendLE(UInt32(0x0605_4B50)); out.appendLE(eocdDisk); out.appendLE(eocdDisk)
        out.appendLE(countOverride ?? UInt16(members.count)); out.appendLE(countOverride ?? UInt16(members.count))
        out.appendLE(UInt32(cdSize)); out.appendLE(UInt32(truncatingIfNeeded: Int64(cdStart) + cdOffsetDelta)); out.appendLE(UInt16(0))
        return out + trailing
    }
}

@Suite("Hostile ZIP input", .reportsSeeds)
struct HostileZipTests {
    func open(_ forge: ZipForge, limits: Limits = .default) throws {
        let dir = try TestEnv.temporaryDirectory()
        defer { TestEnv.cleanup(dir) }
        let path = dir + "/hostile.zip"
        try TestEnv.write(forge.bytes(), to: path)
        let zip = try ZipArchive(path: path, limits: limits)
        for e in zip.entries { _ = try zip.readMember(e, maxBytes: 1 << 20) }
    }

    func member(_ name: String, _ data: [UInt8] = Array("hello".utf8)) -> ZipForge.Member { .init(name: name, data: data) }

    @Test func honestArchiveOpens() throws {
        let dir = try TestEnv.temporaryDirectory()
        defer { TestEnv.cleanup(dir) }
        try TestEnv.write(ZipForge(members: [member("a.npy"), member("dir/b.npy", Array("world".utf8))]).bytes(), to: dir + "/honest.zip")
        let zip = try ZipArchive(path: dir + "/honest.zip")
        #expect(zip.entries.map(\.name) == ["a.npy", "dir/b.npy"])
        #expect(try zip.entries.map { String(decoding: try zip.readMember($0, maxBytes: 1 << 20), as: UTF8.self) } == ["hello", "world"])
    }

    @Test("Path traversal and absolute names are refused", arguments: ["../evil", "a/../../evil", "/etc/passwd", "C:/x", "a\\b", "a//b", "./a", "a\u{1}b"])
    func unsafeNames(_ name: String) {
        let e = expectError(.unsafeName) { try open(ZipForge(members: [member(name)])) }
        #expect(e?.file?.hasSuffix("hostile.zip") == true)
    }

    @Test func duplicateNames() {
        expectError(.duplicateName) { try open(ZipForge(members: [member("a"), member("a")])) }
    }

    @Test func encryptedRefused() {
        var m = member("a"); m.flags = 1
        let e = expectError(.unsupported) { try open(ZipForge(members: [m])) }
        #expect(e?.description.contains("encrypted") == true)
    }

    @Test func unknownMethodRefused() {
        var m = member("a"); m.method = 12
        let e = expectError(.unsupported) { try open(ZipForge(members: [m])) }
        #expect(e?.description.contains("bzip2") == true)
    }

    @Test func multiDiskRefused() {
        var f = ZipForge(members: [member("a")]); f.eocdDisk = 1
        expectError(.unsupported) { try open(f) }
        var m = member("a"); m.disk = 2
        expectError(.unsupported) { try open(ZipForge(members: [m])) }
    }

    @Test func directoryPointingOutside() {
        var f = ZipForge(members: [member("a")]); f.cdOffsetDelta = 1_000_000
        expectError(.corrupt) { try open(f) }
        f.cdOffsetDelta = -3
        expectError(.corrupt) { try open(f) }
    }

    @Test func trailingGarbage() {
        var f = ZipForge(members: [member("a")]); f.trailing = Array("garbage after the end".utf8)
        expectError(.corrupt) { try open(f) }
    }

    @Test("Declared sizes that lie: a stored size mismatch, a deflate ratio beyond 1032:1, more or fewer bytes than declared")
    func lyingSizes() throws {
        var stored = member("a"); stored.declaredSize = 999
        expectError(.corrupt) { try open(ZipForge(members: [stored])) }
        // A bomb: 10 compressed bytes claiming 1 GB.
        var bomb = member("a", [0x03, 0x00]); bomb.method = 8; bomb.declaredSize = 1 << 30
        let e = expectError(.corrupt) { try open(ZipForge(members: [bomb])) }
        #expect(e?.description.contains("zip bomb") == true)
        // Real deflate data of 100 000 zeros claiming 1000 bytes: inflation stops at the declared size.
        var out: [UInt8] = []
        let d = try Deflater(strategy: .fast)
        try [UInt8](repeating: 0, count: 100_000).withUnsafeBytes { try d.compressFragment($0, finish: true, into: &out) }
        var liar = member("a", out); liar.method = 8; liar.declaredSize = 1000; liar.crc = crc32([UInt8](repeating: 0, count: 1000))
        expectError(.corrupt) { try open(ZipForge(members: [liar])) }
        var short = member("a", out); short.method = 8; short.declaredSize = 200_000
        expectError(.corrupt) { try open(ZipForge(members: [short])) }
    }

    /// The local header repeats the directory's method, CRC-32, sizes and name; a reader that
    /// trusted either alone could be steered (spec §1: they must agree when bit 3 is clear).
    @Test("a local header that disagrees with the central directory is refused, field by field")
    func localHeaderDisagrees() throws {
        let cases: [(String, ZipForge.LocalOverride)] = [
            ("method", .init(method: 8)), ("CRC-32", .init(crc: 0xDEAD_BEEF)), ("compressed size", .init(compressedSize: 4)),
            ("uncompressed size", .init(uncompressedSize: 9)), ("name", .init(name: "b")),
        ]
        for (what, local) in cases {
            var m = member("a")
            m.localHeader = local
            let e = expectError(.corrupt) { try open(ZipForge(members: [m])) }
            #expect(e?.member == "a", "\(what)")
        }
        // Agreeing headers read fine (the same forge, no override).
        try open(ZipForge(members: [member("a")]))
        // With bit 3 (a data descriptor) the local sizes and CRC may be zero; the method may not differ.
        var d = member("a"); d.flags = 0x0008; d.localHeader = .init(method: 8)
        expectError(.corrupt) { try open(ZipForge(members: [d])) }
    }

    @Test func overlappingMembers() {
        var b = member("b"); b.localOffsetOverride = 0   // the directory points b at a's bytes
        expectError(.corrupt) { try open(ZipForge(members: [member("a"), b])) }
    }

    @Test("ZIP64 fields that overflow or point outside the file")
    func zip64Overflow() {
        var m = member("a"); m.zip64 = true; m.declaredSize = UInt64.max; m.compressedOverride = UInt64.max
        expectError(.corrupt) { try open(ZipForge(members: [m])) }
        var o = member("a"); o.zip64 = true; o.localOffsetOverride = UInt64.max - 10
        expectError(.corrupt) { try open(ZipForge(members: [o])) }
    }

    @Test func tooManyMembers() {
        var limits = Limits()
        limits.maxMembers = 3
        expectError(.limitExceeded) { try open(ZipForge(members: (0..<4).map { member("m\($0)") }), limits: limits) }
        // A count the directory cannot hold is a lie, refused before allocating.
        var f = ZipForge(members: [member("a")]); f.countOverride = 60000
        expectError(.corrupt) { try open(f) }
    }

    @Test func badCRC() {
        var m = member("a"); m.crc = 0x1234_5678
        let e = expectError(.checksumMismatch) { try open(ZipForge(members: [m])) }
        #expect(e?.member == "a")
    }

    @Test func notAZip() throws {
        let dir = try TestEnv.temporaryDirectory()
        defer { TestEnv.cleanup(dir) }
        try TestEnv.write(Array("this is not a checkpoint, just text that is long enough".utf8), to: dir + "/x.ckpt")
        let e = expectError(.notRecognized) { _ = try CheckpointArchive(path: dir + "/x.ckpt") }
        #expect(e?.description.contains("x.ckpt") == true)
        try TestEnv.write([1, 2, 3], to: dir + "/tiny.ckpt")
        expectError(.notRecognized) { _ = try CheckpointArchive(path: dir + "/tiny.ckpt") }
    }
}

@Suite("Corrupted containers", .reportsSeeds)
struct CorruptionTests {
    static func writeSample(_ dir: String) throws -> String {
        let (index, payloads) = ContainerTests.sampleIndex()
        let path = dir + "/sample.ckpt"
        try CheckpointWriter.write(index, payloads: payloads, to: path)
        return path
    }

    /// Opens, lists and fully verifies; returns the error, if any.
    static func check(_ path: String) -> CheckpointError? {
        do {
            let a = try CheckpointArchive(path: path)
            try a.verify()
            return nil
        } catch let e as CheckpointError {
            return e
        } catch {
            Issue.record("not a CheckpointError: \(error)")
            return nil
        }
    }

    @Test("A truncated container is refused at every tested length, naming file and offset")
    func truncation() throws {
        let dir = try TestEnv.temporaryDirectory()
        defer { TestEnv.cleanup(dir) }
        let path = try Self.writeSample(dir)
        let bytes = try TestEnv.read(path)
        let slow = ProcessInfo.processInfo.environment["CKPT_SLOW_TESTS"] == "1"
        var rng = SeededRNG(seed: 7)
        let lengths = slow ? Array(0..<bytes.count) : (0..<300).map { _ in Int.random(in: 0..<bytes.count, using: &rng) } + [0, 1, 21, 22, bytes.count - 1, bytes.count - 22]
        let cut = dir + "/cut.ckpt"
        for n in lengths {
            try TestEnv.write(Array(bytes[0..<n]), to: cut)
            guard let e = Self.check(cut) else {
                Issue.record("a file cut to \(n) of \(bytes.count) bytes was accepted")
                continue
            }
            #expect(e.description.contains("cut.ckpt"))
        }
    }

    @Test("Every flipped byte is either caught or provably unused; --verify catches every flip in member data")
    func flips() throws {
        let dir = try TestEnv.temporaryDirectory()
        defer { TestEnv.cleanup(dir) }
        let path = try Self.writeSample(dir)
        let original = try TestEnv.read(path)
        let zip = try ZipArchive(path: path)
        var dataRanges: [(Range<Int>, String)] = []
        for e in zip.entries {
            let start = Int(try zip.dataOffset(of: e))
            dataRanges.append((start..<(start + Int(e.compressedSize)), e.name))
        }
        let slow = ProcessInfo.processInfo.environment["CKPT_SLOW_TESTS"] == "1"
        var rng = SeededRNG(seed: 11)
        let offsets = slow ? Array(0..<original.count) : (0..<400).map { _ in Int.random(in: 0..<original.count, using: &rng) }
        let flipped = dir + "/flip.ckpt"
        for off in offsets {
            var b = original
            b[off] ^= 0x5A
            try TestEnv.write(b, to: flipped)
            let inData = dataRanges.first { $0.0.contains(off) }
            if let e = Self.check(flipped) {
                #expect(e.description.contains("flip.ckpt"))
                if let (_, member) = inData, e.code == .checksumMismatch || e.code == .corrupt {
                    #expect(e.member == member || e.member == ContainerSpec.manifestMember, "flip at \(off) in \(member) reported for \(e.member ?? "-")")
                }
            } else {
                // Accepted: the byte must be one nothing depends on (the local header's time fields,
                // version-needed or external attributes), and the tensors must read back unchanged.
                #expect(inData == nil, "a flipped byte at \(off) inside member data was not caught")
                let a = try CheckpointArchive(path: flipped)
                let o = try CheckpointArchive(path: path)
                for i in o.index.tensors.indices { #expect(try a.readTensorBytes(i) == o.readTensorBytes(i)) }
            }
        }
    }
}
