import Foundation
import Testing
import CheckpointTestSupport
@testable import CheckpointKit

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// The HDF5 tests' fixtures (Tests/Fixtures/keras, Tests/Fixtures/hdf5) and helpers.

let fixtureRoot = TestEnv.packageRoot.appendingPathComponent("Tests/Fixtures")
let kerasFixtures = fixtureRoot.appendingPathComponent("keras")
let hdf5Fixtures = fixtureRoot.appendingPathComponent("hdf5")

// MARK: - Fixture cases

struct KerasCase: Sendable, CustomTestStringConvertible {
    struct Member: Sendable {
        var headerOffset: Int
        var size: Int
    }

    var label: String
    var url: URL
    var member: Member?
    var tree: JSONValue
    /// HDF5 path -> sha256 of the little-endian C-order bytes.
    var hashes: [String: String]

    var testDescription: String { label }

    static func all() -> [KerasCase] {
        var cases: [KerasCase] = []
        let models = ((try? FileManager.default.contentsOfDirectory(atPath: kerasFixtures.path)) ?? [])
            .filter { !$0.contains(".") }.sorted()
        for model in models {
            let dir = kerasFixtures.appendingPathComponent(model)
            guard let expected = try? loadJSON(dir.appendingPathComponent("expected.json")) else { continue }
            var weightHashes: [String: String] = [:]
            for w in expected["weights"]?.arrayValue ?? [] {
                if let p = w["h5_path"]?.stringValue, let s = w["sha256"]?.stringValue { weightHashes[p] = s }
            }
            for (name, checkpoint) in expected["checkpoints"]?.objectValue ?? [] {
                var hashes = weightHashes
                for v in checkpoint["optimizer"]?["variables"]?.arrayValue ?? [] {
                    if let p = v["h5_path"]?.stringValue, let s = v["sha256"]?.stringValue { hashes[p] = s }
                }
                if checkpoint["contains_optimizer_state"]?.boolValue == false {
                    hashes = hashes.filter { !$0.key.hasPrefix("optimizer/") }
                }
                if name.hasSuffix(".keras") {
                    guard let tree = checkpoint["model_weights_h5"],
                          let entry = checkpoint["zip_entries"]?.arrayValue?.first(where: {
                              $0["name"]?.stringValue == "model.weights.h5"
                          }),
                          let offset = entry["header_offset"]?.intValue, let size = entry["compress_size"]?.intValue
                    else { continue }
                    cases.append(KerasCase(label: "\(model)/\(name)", url: dir.appendingPathComponent(name),
                                           member: Member(headerOffset: offset, size: size), tree: tree,
                                           hashes: hashes))
                } else if let tree = checkpoint["h5"] {
                    cases.append(KerasCase(label: "\(model)/\(name)", url: dir.appendingPathComponent(name),
                                           member: nil, tree: tree, hashes: hashes))
                }
            }
            let legacy = expected["legacy"]
            for (name, checkpoint) in legacy?["checkpoints"]?.objectValue ?? [] {
                guard let tree = checkpoint["h5"] else { continue }
                let key = name.contains("weights") ? "h5_path_weights_only" : "h5_path_full_model"
                var hashes: [String: String] = [:]
                for w in legacy?["weights"]?.arrayValue ?? [] {
                    if let p = w[key]?.stringValue, let s = w["sha256"]?.stringValue { hashes[p] = s }
                }
                cases.append(KerasCase(label: "\(model)/\(name)", url: dir.appendingPathComponent(name), member: nil,
                                       tree: tree, hashes: hashes))
            }
        }
        return cases
    }
}

// MARK: - Helpers

func loadJSON(_ url: URL) throws -> JSONValue {
    try JSONParser.parse([UInt8](Data(contentsOf: url)))
}

func expectCode(_ code: CheckpointError.Code, _ comment: String = "", sourceLocation: SourceLocation = #_sourceLocation,
                        _ body: () throws -> Void) throws {
    do {
        try body()
        Issue.record("expected a .\(code) error \(comment)", sourceLocation: sourceLocation)
    } catch let error as CheckpointError {
        #expect(error.code == code, "\(comment): \(error)", sourceLocation: sourceLocation)
    }
}

/// Walks the file and reads every dataset and attribute.
func readEverything(_ file: HDF5File) throws {
    for node in try file.walk() {
        guard let object = try file.object(node.path) else { continue }
        for name in try object.attributeNames() { _ = try object.attribute(name) }
        if let d = object as? HDF5Dataset { _ = try d.read() }
    }
}

func checkType(_ type: HDF5TypeInfo, _ expected: JSONValue?, at path: String) throws {
    let e = try #require(expected)
    #expect(type.typeClass.rawValue == e["class"]?.stringValue, "\(path)")
    if let size = e["size"]?.intValue { #expect(type.size == size, "\(path)") }
    if let order = e["order"]?.stringValue { #expect(type.order.rawValue == order, "\(path)") }
    if let signed = e["signed"]?.boolValue { #expect(type.isSigned == signed, "\(path)") }
    if let variable = e["variable_length"]?.boolValue { #expect(type.isVariableLengthString == variable, "\(path)") }
    if let charset = e["charset"]?.stringValue { #expect(type.charset?.rawValue == charset, "\(path)") }
}

func checkAttributes(_ object: HDF5Object, _ expected: JSONValue?, at path: String) throws {
    let attrs = try #require(expected?.objectValue)
    #expect(try object.attributeNames() == attrs.map(\.0).sorted(), "\(path)")
    for (name, e) in attrs {
        let a = try #require(try object.attribute(name))
        try checkType(a.type, e["h5type"], at: "\(path)@\(name)")
        #expect(a.shape == e["shape"]?.arrayValue?.compactMap(\.intValue), "\(path)@\(name)")
        switch e["value"] {
        case .string(let s)?:
            #expect(a.stringValue == s, "\(path)@\(name)")
        case .array(let values)?:
            if let strings = a.stringValues {
                #expect(strings == values.compactMap(\.stringValue), "\(path)@\(name)")
            } else {
                #expect(a.doubleValues == values.compactMap(\.doubleValue), "\(path)@\(name)")
            }
        default:
            Issue.record("unexpected attribute value in expected.json at \(path)@\(name)")
        }
    }
}

/// Offset and size of a stored ZIP member's data, from its local file header.
func storedMember(_ m: FixtureMapping, headerOffset: Int, size: Int) throws -> (Int, Int) {
    let h = m.base + headerOffset
    func u16(_ at: Int) -> Int { Int(h.load(fromByteOffset: at, as: UInt8.self)) | Int(h.load(fromByteOffset: at + 1, as: UInt8.self)) << 8 }
    try #require(headerOffset + 30 <= m.count)
    try #require(u16(0) == 0x4B50 && u16(2) == 0x0403, "no local file header")
    try #require(u16(8) == 0, "the member is not stored")
    let start = headerOffset + 30 + u16(26) + u16(28)
    try #require(start + size <= m.count)
    return (start, size)
}

/// A read-only mmap of a whole file.
final class FixtureMapping {
    let base: UnsafeRawPointer
    let count: Int

    init(_ path: String) throws {
        let fd = open(path, O_RDONLY)
        try #require(fd >= 0, "cannot open \(path)")
        defer { close(fd) }
        var st = stat()
        try #require(fstat(fd, &st) == 0)
        count = Int(st.st_size)
        let p = mmap(nil, count, PROT_READ, MAP_PRIVATE, fd, 0)
        try #require(p != MAP_FAILED && p != nil)
        base = UnsafeRawPointer(p!)
    }

    deinit { munmap(UnsafeMutableRawPointer(mutating: base), count) }
}

func temporaryDirectory() throws -> URL {
    URL(fileURLWithPath: try TestEnv.temporaryDirectory("ckpt-hdf5"))
}
