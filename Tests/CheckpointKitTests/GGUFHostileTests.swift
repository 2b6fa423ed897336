import Foundation
import Testing
import CheckpointTestSupport
@testable import CheckpointKit

/// Hostile and odd GGUF files: every refusal is a CheckpointError whose sentence names the file
/// and a byte offset; nothing crashes, hangs or allocates what a count claims.
@Suite("GGUF hostile input", .reportsSeeds)
struct GGUFHostileTests {
    static let name = "forged.gguf"

    /// Opens `bytes` as a GGUF file and reads every tensor.
    static func open(_ bytes: [UInt8], limits: Limits = .default) throws -> GGUFSource {
        let source = try GGUFSource(file: ReadableFile(bytes: bytes, name: name), limits: limits)
        for i in source.index.tensors.indices { try source.readTensorChecked(i) { _ in } }
        return source
    }

    /// Expects `bytes` to be refused with `code`, in a sentence naming the file and a byte offset.
    @discardableResult
    static func refused(_ code: CheckpointError.Code, _ bytes: [UInt8], limits: Limits = .default, mentions: String? = nil,
                        sourceLocation: SourceLocation = #_sourceLocation) -> CheckpointError? {
        let e = expectError(code, sourceLocation: sourceLocation) { _ = try open(bytes, limits: limits) }
        if let e {
            #expect(e.description.hasPrefix(name + ": ") && e.description.contains("at byte ") && e.description.hasSuffix("."), "\(e)", sourceLocation: sourceLocation)
            if let mentions { #expect(e.description.contains(mentions), "\(e)", sourceLocation: sourceLocation) }
        }
        return e
    }

    /// A small honest file: one F32 tensor [2, 3] (ne = [3, 2]) and one key.
    static func honest() -> GGUFForge {
        var f = GGUFForge()
        f.string("general.architecture", "test")
        f.tensor("w", .f32, ne: [3, 2], bytes: f.items((0..<6).map { Float($0).bitPattern }))
        return f
    }

    @Test("An honest forged file opens")
    func honestOpens() throws {
        let s = try Self.open(Self.honest().bytes())
        #expect(s.index.tensors.map(\.shape) == [[2, 3]])
        #expect(try s.readTensorBytes(0) == GGUFForge().items((0..<6).map { Float($0).bitPattern }))
    }

    @Test("Every truncation of a real file is refused until the last tensor's data is whole")
    func truncation() throws {
        let bytes = try TestEnv.read(GGUFFixtures.dir + "/types_and_shapes.gguf")
        let full = try Self.open(bytes)
        let dataEnd = Int(full.header.tensors.map { $0.absoluteOffset + UInt64($0.byteCount) }.max() ?? 0)
        #expect(full.index.tensors.count == 15 && dataEnd > 4 && dataEnd <= bytes.count, "\(dataEnd) of \(bytes.count)")
        for n in 0..<bytes.count {
            let code: CheckpointError.Code = n < 4 ? .notRecognized : .truncated
            if n < dataEnd {
                let e = expectError(code) { _ = try GGUFSource(file: ReadableFile(bytes: Array(bytes[0..<n]), name: Self.name)) }
                #expect(e?.description.hasSuffix(".") ?? false)
            } else {
                #expect(try GGUFSource(file: ReadableFile(bytes: Array(bytes[0..<n]), name: Self.name)).index.tensors.count == 15)
            }
        }
    }

    @Test("Magic and versions")
    func magicAndVersions() {
        expectError(.notRecognized) { _ = try Self.open([]) }
        expectError(.notRecognized) { _ = try Self.open(Array("GGUG\u{3}\0\0\0".utf8)) }
        for v: UInt32 in [1, 4, 0xFFFF] {
            var f = Self.honest()
            f.version = v
            Self.refused(.unsupported, f.bytes(), mentions: "version \(v)")
        }
        var be = Self.honest()
        be.bigEndian = true
        be.version = 1
        Self.refused(.unsupported, be.bytes(), mentions: "version 1")
    }

    @Test("Huge counts and lengths are refused before anything is allocated")
    func hugeCounts() {
        var f = Self.honest()
        f.tensorCountOverride = 1 << 62
        Self.refused(.truncated, f.bytes(), mentions: "tensor count")
        f = Self.honest()
        f.kvCountOverride = UInt64.max
        Self.refused(.truncated, f.bytes(), mentions: "metadata key/value count")
        var few = Limits()
        few.maxMembers = 2
        f = Self.honest()
        for k in 0..<3 { f.uint32("k\(k)", 1) }
        Self.refused(.limitExceeded, f.bytes(), limits: few, mentions: "metadata keys")

        f = Self.honest()
        f.kvRaw(f.str("big.string") + f.u32(GGUFValueType.string.rawValue) + f.u64(1 << 62))
        Self.refused(.truncated, f.bytes(), mentions: "big.string")
        f = Self.honest()
        f.kv("big.array", .array, f.array(.uint64, count: 1 << 61, []))
        Self.refused(.truncated, f.bytes(), mentions: "big.array")
        f = Self.honest()
        f.kv("big.strings", .array, f.array(.string, count: 1 << 40, []))
        Self.refused(.truncated, f.bytes(), mentions: "at least 8 bytes each")
        f = Self.honest()
        f.kvRaw(f.u64(UInt64.max) + Array("k".utf8))
        Self.refused(.truncated, f.bytes(), mentions: "length of the key")
        f = Self.honest()
        f.kvRaw(f.str(String(repeating: "k", count: 5000)) + f.u32(0) + [1])
        Self.refused(.limitExceeded, f.bytes(), mentions: "4096-byte limit")
    }

    @Test("The header is bounded by Limits.maxHeaderBytes")
    func headerLimit() {
        var f = Self.honest()
        f.string("long", String(repeating: "x", count: 10_000))
        var small = Limits()
        small.maxHeaderBytes = 4096
        Self.refused(.limitExceeded, f.bytes(), limits: small, mentions: "4096-byte header limit")
        #expect((try? Self.open(f.bytes())) != nil)
    }

    @Test("Nested array bombs: too deep, too many arrays")
    func nestedArrays() {
        var f = Self.honest()
        var value = f.array(.int32, count: 0, [])
        for _ in 0..<200 { value = f.array(.array, count: 1, value) }
        f.kv("deep", .array, value)
        Self.refused(.limitExceeded, f.bytes(), mentions: "nests arrays more than 128 deep")

        f = Self.honest()
        let empty = f.array(.uint8, count: 0, [])
        f.kv("wide", .array, f.array(.array, count: 5000, Array([[UInt8]](repeating: empty, count: 5000).joined())))
        var few = Limits()
        few.maxMembers = 1000
        Self.refused(.limitExceeded, f.bytes(), limits: few, mentions: "more than 1000 arrays")
        let ok = try? Self.open(f.bytes())
        #expect(ok?.header.value("wide")?.arrayValue?.count == 5000)
        #expect(ok?.index.metadata["wide"]?["type"] == .string("array[ARRAY[UINT8]]"))
    }

    @Test("Tensor data past the end, misaligned or overlapping")
    func placement() {
        var f = Self.honest()
        f.info("past", ne: [4], type: GGMLType.f32.rawValue, offset: 4096)
        Self.refused(.truncated, f.bytes(), mentions: "\"past\"")
        f = Self.honest()
        f.info("far", ne: [4], type: GGMLType.f32.rawValue, offset: UInt64.max - 31)
        Self.refused(.truncated, f.bytes(), mentions: "\"far\"")
        f = Self.honest()
        f.info("odd", ne: [1], type: GGMLType.f32.rawValue, offset: 4)
        Self.refused(.corrupt, f.bytes(), mentions: "not a multiple of the alignment 32")
        f = Self.honest()
        f.info("twin", ne: [2], type: GGMLType.f32.rawValue, offset: 0)
        Self.refused(.corrupt, f.bytes(), mentions: "overlap")
        // Zero-size tensors may share an offset; so may a tensor and the gap after another.
        f = Self.honest()
        f.info("empty", ne: [0, 3], type: GGMLType.f32.rawValue, offset: 0)
        #expect((try? Self.open(f.bytes()))?.index.tensors.last?.shape == [3, 0])
    }

    @Test("general.alignment: used when valid, refused when not a UINT32 power of two")
    func alignment() throws {
        var f = GGUFForge()
        f.alignment = 64
        f.uint32("general.alignment", 64)
        f.tensor("a", .i8, ne: [3], bytes: [1, 2, 3])
        f.tensor("b", .i8, ne: [2], bytes: [4, 5])
        let s = try Self.open(f.bytes())
        #expect(s.header.alignment == 64 && s.header.dataOffset % 64 == 0)
        #expect(s.header.tensors.map(\.relativeOffset) == [0, 64])
        #expect(try s.readTensorBytes(1) == [4, 5])
        for a: UInt32 in [0, 3, 48] {
            var g = Self.honest()
            g.uint32("general.alignment", a)
            Self.refused(.corrupt, g.bytes(), mentions: "general.alignment")
        }
        var g = Self.honest()
        g.kv("general.alignment", .uint64, g.u64(32))
        Self.refused(.corrupt, g.bytes(), mentions: "UINT32")
    }

    @Test("Types, shapes and names that cannot be right")
    func badInfos() {
        var f = Self.honest()
        f.info("x", ne: [4], type: 99, offset: 64)
        Self.refused(.unsupported, f.bytes(), mentions: "GGML type 99")
        f = Self.honest()
        f.kv("k", .uint8, [1])
        f.kvRaw(f.str("bad") + f.u32(13) + [0])
        Self.refused(.unsupported, f.bytes(), mentions: "value type 13")
        f = Self.honest()
        f.info("q", ne: [33], type: GGMLType.q4_0.rawValue, offset: 64)
        Self.refused(.corrupt, f.bytes(), mentions: "not a multiple of the Q4_0 block size 32")
        f = Self.honest()
        f.info("huge", ne: [1 << 40, 1 << 40], type: GGMLType.f32.rawValue, offset: 64)
        Self.refused(.limitExceeded, f.bytes(), mentions: "overflow")
        f = Self.honest()
        f.info("big", ne: [1 << 45], type: GGMLType.f32.rawValue, offset: 64)
        Self.refused(.limitExceeded, f.bytes(), mentions: "more than the limit")
        f = Self.honest()
        f.infoRaw(f.str("dims") + f.u32(1000))
        Self.refused(.limitExceeded, f.bytes(), mentions: "1000 dimensions")
        f = Self.honest()
        f.info("w", ne: [1], type: GGMLType.f32.rawValue, offset: 64)
        Self.refused(.duplicateName, f.bytes(), mentions: "twice")
        f = Self.honest()
        f.uint32("general.architecture", 1)
        Self.refused(.duplicateName, f.bytes(), mentions: "twice")
        f = Self.honest()
        f.kvRaw(f.rawStr([0x66, 0xFF]) + f.u32(0) + [1])
        Self.refused(.unsafeName, f.bytes(), mentions: "not valid UTF-8")
        f = Self.honest()
        f.info("../escape", ne: [1], type: GGMLType.f32.rawValue, offset: 64)
        Self.refused(.unsafeName, f.bytes())
    }

    @Test("Odd but valid: scalars, empty tensors, invalid UTF-8 strings, undecodable types")
    func oddButValid() throws {
        var f = GGUFForge()
        f.kv("bytes", .string, f.rawStr([0x61, 0xC3]))
        f.kv("tokens", .array, f.array(.string, count: 2, f.str("ok") + f.rawStr([0xE2, 0x82])))
        f.kv("flag", .bool, [2])
        f.tensor("scalar", .f32, ne: [], bytes: f.items([Float(2.5).bitPattern]))
        f.tensor("empty", .q4_K, ne: [256, 0], bytes: [])
        f.tensor("iq2", .iq2_XXS, ne: [256], bytes: [UInt8](repeating: 0, count: 66))
        let s = try GGUFSource(file: ReadableFile(bytes: f.bytes(), name: Self.name))
        #expect(s.notes == ["2 metadata strings are not valid UTF-8 (shown with U+FFFD)"])
        #expect(s.header.value("bytes") == .string("a\u{FFFD}"))
        #expect(s.header.value("flag") == .bool(true))
        #expect(s.index.tensors.map(\.shape) == [[], [0, 256], [256]])
        #expect(try s.readTensorBytes(0) == f.items([Float(2.5).bitPattern]))
        #expect(try s.readTensorBytes(1).isEmpty)
        #expect(s.index.tensors[2].quantization == "IQ2_XXS")
        let e = expectError(.unsupported) { _ = try s.readTensorBytes(2) }
        #expect(e?.description.contains("\"iq2\" is stored as IQ2_XXS") ?? false)
    }

    @Test("A big-endian file reads as its little-endian twin")
    func bigEndian() throws {
        let rng = SeededRNG(seed: 42)
        func make(_ big: Bool) -> GGUFForge {
            var f = GGUFForge(bigEndian: big)
            var r = rng
            f.string("general.architecture", "be")
            f.kv("n16", .uint16, f.u16(0x1234))
            f.kv("arr", .array, f.array(.int64, count: 2, f.items([Int64.min, 7])))
            f.kv("f", .float64, f.items([(0.1).bitPattern]))
            f.tensor("f32", .f32, ne: [3], bytes: f.items([Float(1.5).bitPattern, Float(-0.0).bitPattern, Float.nan.bitPattern]))
            f.tensor("f16", .f16, ne: [2], bytes: f.items([UInt16(0x3C00), 0x8001]))
            f.tensor("bf16", .bf16, ne: [2], bytes: f.items([UInt16(0x3F80), 0xFF80]))
            f.tensor("i16", .i16, ne: [2], bytes: f.items([Int16.min, 3]))
            f.tensor("i64", .i64, ne: [1], bytes: f.items([Int64.max - 5]))
            var q8: [UInt8] = []
            for _ in 0..<2 {
                q8 += f.items([UInt16(0x2E66)])
                q8 += (0..<32).map { _ in UInt8.random(in: 0...255, using: &r) }
            }
            f.tensor("q8", .q8_0, ne: [64], bytes: q8)
            return f
        }
        let le = try Self.open(make(false).bytes())
        let be = try Self.open(make(true).bytes())
        #expect(be.header.bigEndian && !le.header.bigEndian)
        #expect(be.header.metadata == le.header.metadata)
        for i in le.index.tensors.indices {
            #expect(try be.readTensorBytes(i) == le.readTensorBytes(i), "\(le.index.tensors[i].name)")
        }
        var f = GGUFForge(bigEndian: true)
        f.tensor("q41", .q4_1, ne: [32], bytes: [UInt8](repeating: 0, count: 20))
        let s = try GGUFSource(file: ReadableFile(bytes: f.bytes(), name: Self.name))
        let e = expectError(.unsupported) { _ = try s.readTensorBytes(0) }
        #expect(e?.description.contains("big-endian") ?? false)
    }
}

@Suite("GGUF UTF-8 check", .reportsSeeds)
struct GGUFUTF8Tests {
    @Test("isValidUTF8 agrees with the standard library on edge sequences and random bytes")
    func agreesWithStandardLibrary() {
        var cases: [[UInt8]] = [[], [0x41], [0xC2, 0x80], [0xC1, 0xBF], [0xE0, 0x9F, 0x80], [0xE0, 0xA0, 0x80], [0xED, 0xA0, 0x80],
                                [0xED, 0x9F, 0xBF], [0xF0, 0x8F, 0xBF, 0xBF], [0xF0, 0x90, 0x80, 0x80], [0xF4, 0x8F, 0xBF, 0xBF],
                                [0xF4, 0x90, 0x80, 0x80], [0xF5, 0x80, 0x80, 0x80], [0xE2, 0x82], [0xE2, 0x82, 0x41], [0x80], [0xFF]]
        var rng = SeededRNG(seed: 5)
        for _ in 0..<20_000 {
            cases.append((0..<Int.random(in: 1...6, using: &rng)).map { _ in
                [UInt8.random(in: 0...255, using: &rng), UInt8.random(in: 0x80...0xBF, using: &rng), 0xE2, 0xF0, 0x41].randomElement(using: &rng) ?? 0
            })
        }
        for c in cases {
            #expect(isValidUTF8(c[...]) == (String(validating: c, as: UTF8.self) != nil), "\(c)")
        }
    }
}
