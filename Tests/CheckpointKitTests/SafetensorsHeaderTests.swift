import Foundation
import Testing
import CheckpointTestSupport
@testable import CheckpointKit

/// safetensors headers no honest writer makes: lying lengths and offsets, broken entries and JSON,
/// names that could escape, and a sweep of mutated and truncated files.
@Suite("safetensors: hostile headers", .reportsSeeds)
struct SafetensorsHeaderTests {
    func parse(_ bytes: [UInt8], limits: Limits = .default) throws -> SafetensorsHeader {
        try SafetensorsSource.parseHeader(bytes, fileSize: UInt64(bytes.count), limits: limits, file: "hostile.safetensors")
    }

    @Test("Header length lies: 2^60, more than the file, shorter than 8 bytes")
    func headerLengthLies() throws {
        var e = expectError(.limitExceeded) { _ = try parse(SafetensorsForge.file("{}", lengthOverride: 1 << 60)) }
        #expect(e?.description == "hostile.safetensors: at byte 0: the header length field says 1152921504606846976 bytes, more than the 100000000-byte limit of the safetensors format; the file is damaged or is not a safetensors file.")
        expectError(.limitExceeded) { _ = try parse(SafetensorsForge.file("{}", lengthOverride: 100_000_001)) }
        e = expectError(.truncated) { _ = try parse(SafetensorsForge.file("{}", lengthOverride: 3)) }
        #expect(e?.reason.contains("only 2 bytes follow it") == true)
        expectError(.truncated) { _ = try parse([1, 0, 0]) }
        expectError(.truncated) { _ = try parse([]) }
        // Through a file too: nothing past the length is read when the length is refused.
        let dir = try TestEnv.temporaryDirectory()
        defer { TestEnv.cleanup(dir) }
        try TestEnv.write(SafetensorsForge.file("{}", lengthOverride: 1 << 60), to: dir + "/x.safetensors")
        e = expectError(.limitExceeded) { _ = try Checkpoints.open(dir + "/x.safetensors") }
        #expect(e?.file == dir + "/x.safetensors")
    }

    @Test("Offsets past the end, overlapping, with holes, or trailing bytes")
    func offsetLies() throws {
        let f = SafetensorsForge.self
        // Past the end (a truncated file).
        var e = expectError(.truncated) { _ = try parse(f.file("{\(f.entry("w", [4], 0, 16))}", data: [UInt8](repeating: 0, count: 8))) }
        #expect(e?.member == "w" && e?.offset == 9)
        #expect(e?.description.contains("data_offsets [0, 16], past the end of the 8-byte data section") == true)
        expectError(.truncated) { _ = try parse(f.file("{\(f.entry("w", [2], 1 << 62, (1 << 62) + 8))}", data: [UInt8](repeating: 0, count: 8))) }
        // Overlap.
        e = expectError(.invalidSafetensors) { _ = try parse(f.file("{\(f.entry("a", [2], 0, 8)),\(f.entry("b", [1], 4, 8))}", data: [UInt8](repeating: 0, count: 8))) }
        #expect(e?.reason.contains("overlap") == true && e?.member == "b")
        e = expectError(.invalidSafetensors) { _ = try parse(f.file("{\(f.entry("a", [2], 0, 8)),\(f.entry("b", [2], 0, 8))}", data: [UInt8](repeating: 0, count: 16))) }
        #expect(e?.reason.contains("overlap") == true)
        // Hole (at the start and in the middle).
        e = expectError(.invalidSafetensors) { _ = try parse(f.file("{\(f.entry("a", [1], 4, 8))}", data: [UInt8](repeating: 0, count: 8))) }
        #expect(e?.reason.contains("no holes") == true)
        expectError(.invalidSafetensors) { _ = try parse(f.file("{\(f.entry("a", [1], 0, 4)),\(f.entry("b", [1], 8, 12))}", data: [UInt8](repeating: 0, count: 12))) }
        // Bytes after the last tensor.
        e = expectError(.invalidSafetensors) { _ = try parse(f.file("{\(f.entry("a", [1], 0, 4))}", data: [UInt8](repeating: 0, count: 5))) }
        #expect(e?.reason.contains("1 bytes follow the last tensor") == true)
        expectError(.invalidSafetensors) { _ = try parse(f.file("{}", data: [0])) }
        // END before BEGIN.
        expectError(.invalidSafetensors) { _ = try parse(f.file("{\(f.entry("a", [0], 4, 0))}", data: [UInt8](repeating: 0, count: 4))) }
    }

    @Test("Sizes, dtypes, fields and JSON that break the rules")
    func entryLies() throws {
        let f = SafetensorsForge.self
        let four = [UInt8](repeating: 0, count: 4)
        // shape × dtype size ≠ END − BEGIN.
        var e = expectError(.invalidSafetensors) { _ = try parse(f.file("{\(f.entry("w", "F32", [2], 0, 4))}", data: four)) }
        #expect(e?.reason == "tensor \"w\" is F32 (2,), 8 bytes, but its data_offsets [0, 4] span 4 bytes")
        // Shapes whose size overflows, ranks above the limit.
        expectError(.limitExceeded) { _ = try parse(f.file("{\(f.entry("w", "F32", [1 << 40, 1 << 40], 0, 4))}", data: four)) }
        expectError(.limitExceeded) { _ = try parse(f.file("{\(f.entry("w", "F32", [Int](repeating: 1, count: 40), 0, 4))}", data: four)) }
        expectError(.limitExceeded) { _ = try parse(f.file("{\"w\":{\"dtype\":\"U8\",\"shape\":[99999999999999999999],\"data_offsets\":[0,4]}}", data: four)) }
        var small = Limits()
        small.maxTensorBytes = 2
        expectError(.limitExceeded) { _ = try parse(f.file("{\(f.entry("w", "F32", [1], 0, 4))}", data: four), limits: small) }
        // Duplicate keys.
        e = expectError(.duplicateName) { _ = try parse(f.file("{\(f.entry("w", [1], 0, 4)),\(f.entry("w", [1], 4, 8))}", data: four + four)) }
        #expect(e?.member == "w")
        expectError(.invalidSafetensors) { _ = try parse(f.file("{\"__metadata__\":{},\"__metadata__\":{}}")) }
        expectError(.invalidSafetensors) { _ = try parse(f.file("{\"__metadata__\":{\"a\":\"1\",\"a\":\"2\"}}")) }
        expectError(.invalidSafetensors) { _ = try parse(f.file("{\"w\":{\"dtype\":\"F32\",\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", data: four)) }
        // Metadata that is not a string-to-string map.
        e = expectError(.invalidSafetensors) { _ = try parse(f.file("{\"__metadata__\":{\"epoch\":3}}")) }
        #expect(e?.reason == "the \"__metadata__\" value of \"epoch\" is a number; safetensors metadata maps strings to strings")
        expectError(.invalidSafetensors) { _ = try parse(f.file("{\"__metadata__\":[\"a\"]}")) }
        expectError(.invalidSafetensors) { _ = try parse(f.file("{\"__metadata__\":\"x\"}")) }
        // Invalid JSON, a header that is not an object, bad UTF-8, text after the object.
        e = expectError(.invalidJSON) { _ = try parse(f.file("{\"w\":{\"dtype\":\"F32\",", data: four)) }
        #expect(e?.file == "hostile.safetensors" && e?.reason.hasPrefix("the safetensors header is invalid JSON") == true)
        expectError(.invalidSafetensors) { _ = try parse(f.file("[]")) }
        expectError(.invalidSafetensors) { _ = try parse(f.file(" {}")) }
        expectError(.invalidSafetensors) { _ = try parse(f.file("")) }
        expectError(.invalidJSON) { _ = try parse(f.file("{}x")) }
        expectError(.invalidJSON) { _ = try parse([6, 0, 0, 0, 0, 0, 0, 0, 0x7B, 0x22, 0xFF, 0x22, 0x3A, 0x7D]) }
        expectError(.invalidJSON) { _ = try parse(f.file("{}\0")) }
        // Unknown and unsupported dtypes.
        e = expectError(.invalidSafetensors) { _ = try parse(f.file("{\(f.entry("w", "F33", [1], 0, 4))}", data: four)) }
        #expect(e?.reason == "tensor \"w\" has an unknown dtype \"F33\"")
        // A dtype the reference defines but this toolkit does not read is listed, not a tensor;
        // its bytes still count for the data section's coverage.
        let h = try parse(f.file("{\(f.entry("w", "F4", [8], 0, 4)),\(f.entry("v", "F32", [1], 4, 8))}", data: four + four))
        #expect(h.tensors.map(\.name) == ["v"] && h.unsupported.map(\.name) == ["w"] && h.unsupported[0].dtype == "F4")
        expectError(.invalidSafetensors) { _ = try parse(f.file("{\(f.entry("w", "C64", [1], 0, 8))}", data: four)) }
        expectError(.invalidSafetensors) { _ = try parse(f.file("{\"w\":{\"dtype\":5,\"shape\":[1],\"data_offsets\":[0,4]}}", data: four)) }
        // Missing or malformed fields.
        expectError(.invalidSafetensors) { _ = try parse(f.file("{\"w\":{\"shape\":[1],\"data_offsets\":[0,4]}}", data: four)) }
        expectError(.invalidSafetensors) { _ = try parse(f.file("{\"w\":{\"dtype\":\"F32\",\"data_offsets\":[0,4]}}", data: four)) }
        expectError(.invalidSafetensors) { _ = try parse(f.file("{\"w\":{\"dtype\":\"F32\",\"shape\":[1]}}", data: four)) }
        expectError(.invalidSafetensors) { _ = try parse(f.file("{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4,8]}}", data: four)) }
        expectError(.invalidSafetensors) { _ = try parse(f.file("{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4]}}", data: four)) }
        expectError(.invalidSafetensors) { _ = try parse(f.file("{\"w\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}}", data: four)) }
        expectError(.invalidSafetensors) { _ = try parse(f.file("{\"w\":{\"dtype\":\"F32\",\"shape\":[1.0],\"data_offsets\":[0,4]}}", data: four)) }
        expectError(.invalidSafetensors) { _ = try parse(f.file("{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4e0]}}", data: four)) }
        expectError(.invalidSafetensors) { _ = try parse(f.file("{\"w\":{\"dtype\":\"F32\",\"shape\":1,\"data_offsets\":[0,4]}}", data: four)) }
        expectError(.invalidSafetensors) { _ = try parse(f.file("{\"w\":[1]}", data: four)) }
        // Names that could escape a directory when the tensors become files.
        expectError(.unsafeName) { _ = try parse(f.file("{\(f.entry("../w", [1], 0, 4))}", data: four)) }
        expectError(.unsafeName) { _ = try parse(f.file("{\(f.entry("", [1], 0, 4))}", data: four)) }
    }

    @Test("What the reference accepts: padding, zero-size tensors, scalars, null metadata, unknown fields")
    func lenientWhereTheReferenceIs() throws {
        let f = SafetensorsForge.self
        var h = try parse(f.file("{\(f.entry("a", [1], 0, 4))}    \n\t ", data: [0, 0, 128, 63]))
        #expect(h.tensors.map(\.name) == ["a"] && h.dataStart == 8 + UInt64(h.headerLength))
        h = try parse(f.file("{\(f.entry("z", [0, 3], 0, 0)),\(f.entry("y", [0], 0, 0)),\(f.entry("s", "F64", [], 0, 8)),\(f.entry("e", [2, 0], 8, 8))}",
                             data: [UInt8](repeating: 0, count: 8)))
        #expect(h.tensors.map(\.name) == ["z", "y", "s", "e"]) // by offsets, then by header order
        #expect(h.tensors.first { $0.name == "s" }?.shape == [])
        h = try parse(f.file("{\"__metadata__\":null,\"w\":{\"dtype\":\"BOOL\",\"shape\":[2],\"data_offsets\":[0,2],\"extra\":{\"x\":[1,2]}}}", data: [1, 0]))
        #expect(h.metadata == nil && h.tensors[0].dtype == .bool)
        h = try parse(f.file("{\"__metadata__\":{\"b\":\"2\",\"a\":\"1\"}}"))
        #expect(h.metadata?.map(\.key) == ["b", "a"] && h.tensors.isEmpty)
    }

    @Test("Mutated headers and truncated files fail with a CheckpointError, never a crash")
    func mutationSweep() throws {
        let (index, data) = SampleTensors.make(big: false)
        let dir = try TestEnv.temporaryDirectory()
        defer { TestEnv.cleanup(dir) }
        try SafetensorsWriter.write(MemorySource(index, data), to: dir + "/x.safetensors")
        let good = try TestEnv.read(dir + "/x.safetensors")
        let headerEnd = 8 + Int(try parse(good).headerLength)
        var rng = SeededRNG(seed: 42)
        var failures = 0
        for round in 0..<3000 {
            var bytes = good
            switch round % 3 {
            case 0: bytes[Int.random(in: 0..<headerEnd, using: &rng)] = UInt8.random(in: 0...255, using: &rng)
            case 1:
                let at = Int.random(in: 8..<headerEnd, using: &rng)
                bytes[at] = Array("{}[],:\"0123456789-.eE \\".utf8).randomElement(using: &rng)!
            default: bytes = Array(good.prefix(Int.random(in: 0..<good.count, using: &rng)))
            }
            do { _ = try parse(bytes) } catch is CheckpointError { failures += 1 }
        }
        #expect(failures > 1000)
        // Every truncation of the file is refused.
        for cut in stride(from: 0, to: good.count, by: 7) {
            expectError(.truncated) { _ = try SafetensorsSource.parseHeader(Array(good.prefix(cut)), fileSize: UInt64(cut)) }
        }
    }

    @Test("Errors name the file, the tensor and the byte offset, as one sentence")
    func errorSentences() throws {
        let dir = try TestEnv.temporaryDirectory()
        defer { TestEnv.cleanup(dir) }
        let path = dir + "/bad.safetensors"
        try TestEnv.write(SafetensorsForge.file("{\(SafetensorsForge.entry("layer/w", [4], 0, 16))}", data: [UInt8](repeating: 0, count: 8)), to: path)
        let e = expectError(.truncated) { _ = try SafetensorsSource(path: path) }
        #expect(e?.description == "\(path): member \"layer/w\" at byte 9: tensor \"layer/w\" has data_offsets [0, 16], past the end of the 8-byte data section (the file ends at byte 77); the file is truncated or its header is wrong.")
    }
}
