import Foundation
import Testing
import CheckpointTestSupport
@testable import CheckpointKit

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// Tests of the libhdf5 binding (Sources/CheckpointKit/HDF5). They need libhdf5 (`.requires(.hdf5)`:
// a reported skip without it, a failure with CKPT_REQUIRE_HDF5=1); the h5py cross-checks also need
// python3 with h5py (CKPT_REQUIRE_PYTHON=1).

private let fixtures = TestEnv.packageRoot.appendingPathComponent("Tests/Fixtures")
private let kerasFixtures = fixtures.appendingPathComponent("keras")
private let hdf5Fixtures = fixtures.appendingPathComponent("hdf5")

@Suite("HDF5", .requires(.hdf5), .reportsSeeds)
struct HDF5Tests {
    // MARK: Keras fixtures against expected.json

    @Test("Keras fixtures: tree, attributes, dataset info and data match expected.json",
          arguments: KerasCase.all())
    func kerasFixture(_ c: KerasCase) throws {
        let file: HDF5File
        var mapping: MappedFile?
        if let member = c.member {
            let m = try MappedFile(c.url.path)
            mapping = m
            let (offset, size) = try storedMember(m, headerOffset: member.headerOffset, size: member.size)
            file = try HDF5File.openImage(pointer: m.base + offset, count: size, fileName: c.url.lastPathComponent,
                                          member: "model.weights.h5")
        } else {
            file = try HDF5File.open(path: c.url.path)
        }
        defer { withExtendedLifetime(mapping) {} }

        let nodes = try file.walk()
        let expectedNodes = try #require(c.tree["nodes"]?.arrayValue)
        #expect(nodes.map(\.path) == expectedNodes.compactMap { $0["path"]?.stringValue })
        #expect(try file.root().tracksCreationOrder() == c.tree["root_tracks_link_creation_order"]?.boolValue)

        for (node, expected) in zip(nodes, expectedNodes) {
            let kind = expected["kind"]?.stringValue
            #expect(node.kind == (kind == "group" ? .group : .dataset), "\(node.path)")
            let object = try #require(try file.object(node.path))
            try checkAttributes(object, expected["attrs"], at: node.path)
            guard kind == "dataset" else {
                #expect(object is HDF5Group)
                continue
            }
            let dataset = try #require(object as? HDF5Dataset)
            let info = try dataset.info()
            #expect(info.shape == expected["shape"]?.arrayValue?.compactMap(\.intValue), "\(node.path)")
            #expect(info.dtype.rawValue == expected["dtype"]?.stringValue, "\(node.path)")
            try checkType(info.storedType, expected["h5type"], at: node.path)
            #expect(info.layout.rawValue == expected["layout"]?.stringValue)
            #expect(expected["chunks"]?.isNull == true && info.chunkShape == nil)
            #expect(info.filters.count == expected["filters"]?.arrayValue?.count)
            #expect(info.storageSize == expected["storage_size"]?.int64Value.map(UInt64.init))
            #expect(info.offset == expected["offset"]?.int64Value.map(UInt64.init), "\(node.path)")
            #expect(info.byteCount == info.shape.reduce(1, *) * info.dtype.itemSize)
        }

        // Data: sha256 of the little-endian C-order bytes, as recorded from weights.npz / Keras.
        #expect(!c.hashes.isEmpty)
        for (path, sha) in c.hashes {
            let dataset = try file.dataset(path)
            let whole = try dataset.read()
            #expect(SHA256.hex(whole) == sha, "\(c.label): \(path)")
            var streamed: [UInt8] = []
            try dataset.read(chunkBytes: 1000) { streamed.append(contentsOf: $0) }
            #expect(streamed == whole, "\(c.label): \(path) streamed")
        }
    }

    @Test("every HDF5 file among the Keras fixtures is covered by an expected.json tree")
    func everyFixtureCovered() throws {
        let covered = Set(KerasCase.all().map { $0.url.standardizedFileURL.path })
        var found: [String] = []
        for model in try FileManager.default.contentsOfDirectory(atPath: kerasFixtures.path) {
            let dir = kerasFixtures.appendingPathComponent(model)
            for name in (try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? []
            where name.hasSuffix(".h5") || name.hasSuffix(".keras") {
                found.append(dir.appendingPathComponent(name).standardizedFileURL.path)
            }
        }
        #expect(found.count >= 7)
        #expect(Set(found).subtracting(covered).isEmpty, "\(Set(found).subtracting(covered))")
    }

    // MARK: Reads in ranges

    @Test("flat element ranges and streamed reads equal the whole read")
    func rangedReads() throws {
        let file = try HDF5File.open(path: hdf5Fixtures.appendingPathComponent("types.h5").path)
        var rng = SeededRNG(seed: 7)
        for path in ["data/rank5", "layouts/chunked_gzip", "layouts/chunked_be", "data/float16_be", "data/bool",
                     "data/uint64_be", "layouts/compact", "data/scalar"] {
            let dataset = try file.dataset(path)
            let info = try dataset.info()
            let whole = try dataset.read()
            let item = info.dtype.itemSize
            for _ in 0..<40 {
                let a = Int(rng.next() % UInt64(info.elementCount + 1))
                let b = Int(rng.next() % UInt64(info.elementCount + 1))
                let range = min(a, b)..<max(a, b)
                var part = [UInt8](repeating: 0, count: range.count * item)
                try part.withUnsafeMutableBytes { try dataset.read(elements: range, into: $0) }
                #expect(part == Array(whole[(range.lowerBound * item)..<(range.upperBound * item)]), "\(path) \(range)")
            }
            for chunk in [1, item, 3 * item + 1, 64, 1 << 20] {
                var streamed: [UInt8] = []
                var pieces = 0
                try dataset.read(chunkBytes: chunk) { streamed.append(contentsOf: $0); pieces += 1 }
                #expect(streamed == whole, "\(path) chunk \(chunk)")
                #expect(pieces == (info.elementCount + max(1, chunk / item) - 1) / max(1, chunk / item))
            }
            var buffer = [UInt8](repeating: 0, count: whole.count)
            try buffer.withUnsafeMutableBytes { try dataset.read(into: $0) }
            #expect(buffer == whole)
            // Wrong sizes and ranges are refused, not read.
            var small = [UInt8](repeating: 0, count: max(0, whole.count - 1))
            #expect(throws: CheckpointError.self) { try small.withUnsafeMutableBytes { try dataset.read(into: $0) } }
            #expect(throws: CheckpointError.self) {
                try small.withUnsafeMutableBytes {
                    try dataset.read(elements: 0..<(info.elementCount + 1), into: $0)
                }
            }
        }
    }

    @Test("readers on several threads at once")
    func concurrentReads() async throws {
        let url = kerasFixtures.appendingPathComponent("mlp/mlp.weights.h5")
        let expected = try SHA256.hex(HDF5File.open(path: url.path).dataset("layers/dense/vars/0").read())
        try await withThrowingTaskGroup(of: String.self) { group in
            for i in 0..<8 {
                group.addTask {
                    let file = try HDF5File.open(path: url.path)
                    var bytes: [UInt8] = []
                    try file.dataset("layers/dense/vars/0").read(chunkBytes: 4096 * (i + 1)) {
                        bytes.append(contentsOf: $0)
                    }
                    _ = try file.walk()
                    return SHA256.hex(bytes)
                }
            }
            for try await sha in group { #expect(sha == expected) }
        }
    }

    // MARK: Types, layouts, attributes

    @Test("every dtype, both byte orders, layouts and filters decode to the recorded values")
    func typesFixture() throws {
        let file = try HDF5File.open(path: hdf5Fixtures.appendingPathComponent("types.h5").path)
        let expected = try loadJSON(hdf5Fixtures.appendingPathComponent("expected.json"))
        let datasets = try #require(expected["files"]?["types.h5"]?["datasets"]?.objectValue)
        #expect(datasets.count >= 25)
        for (path, e) in datasets {
            let dataset = try file.dataset(path)
            let info = try dataset.info()
            #expect(info.dtype.rawValue == e["dtype"]?.stringValue, "\(path)")
            #expect(info.shape == e["shape"]?.arrayValue?.compactMap(\.intValue), "\(path)")
            #expect(SHA256.hex(try dataset.read()) == e["sha256"]?.stringValue, "\(path)")
            if path.hasSuffix("_be") { #expect(info.storedType.order == .big, "\(path)") }
        }
        #expect(try file.dataset("data/float16_le").storedType().floatFields?.exponentBias == 15)
        #expect(try file.dataset("data/bfloat16_keras").info().storedType.typeClass == .opaque)

        let gz = try file.dataset("layouts/chunked_gzip").info()
        #expect(gz.layout == .chunked && gz.chunkShape == [8, 5])
        #expect(gz.filters.map(\.name) == ["shuffle", "gzip", "fletcher32"])
        #expect(gz.filters.allSatisfy { $0.isAvailable })
        #expect(gz.offset == nil)
        #expect(try file.dataset("layouts/compact").info().layout == .compact)
        let contiguous = try file.dataset("layouts/contiguous").info()
        #expect(contiguous.layout == .contiguous && contiguous.offset != nil && contiguous.storageSize == 37 * 23 * 4)
        #expect(try file.dataset("data/empty").read().isEmpty)

        // Readable metadata, refused data.
        let lzf = try file.dataset("layouts/lzf")
        #expect(try lzf.info().filters.map(\.name) == ["lzf"])
        #expect(try lzf.info().filters.first?.isAvailable == false)
        try expectCode(.unsupported) { _ = try lzf.read() }
        for path in ["data/opaque", "data/strings", "data/compound", "data/null"] {
            try expectCode(.unsupported, path) { _ = try file.dataset(path).info() }
        }
        #expect(try file.dataset("data/strings").storedType().typeClass == .string)
        #expect(try file.dataset("data/null").shape() == nil)

        // A tensor bigger than the limit is refused before anything is allocated.
        var limits = HDF5Limits()
        limits.maxTensorBytes = 100
        let limited = try HDF5File.open(path: hdf5Fixtures.appendingPathComponent("types.h5").path, limits: limits)
        try expectCode(.limitExceeded) { _ = try limited.dataset("layouts/contiguous").read() }
        #expect(try limited.dataset("data/int8_le").read().count == 15)
    }

    @Test("string and numeric attributes, fixed and variable length, both charsets")
    func attributesFixture() throws {
        let file = try HDF5File.open(path: hdf5Fixtures.appendingPathComponent("types.h5").path)
        let g = try file.group("attrs")
        #expect(try g.attributeNames() == ["bool_scalar", "compound", "empty", "fixed_array", "fixed_nullterm",
                                           "fixed_spacepad", "float_array", "float_empty", "int_scalar",
                                           "vlen_array", "vlen_ascii", "vlen_utf8"])
        let utf8 = try #require(try g.attribute("vlen_utf8"))
        #expect(utf8.stringValue == "dense_1 \u{e9}\u{4e2d}")
        #expect(utf8.type.isVariableLengthString && utf8.type.charset == .utf8 && utf8.shape == [])
        let ascii = try #require(try g.attribute("vlen_ascii"))
        #expect(ascii.stringValue == "tensorflow" && ascii.type.charset == .ascii)
        let fixed = try #require(try g.attribute("fixed_array"))
        #expect(fixed.stringValues == ["dense", "dense_1", ""] && fixed.shape == [3])
        #expect(!fixed.type.isVariableLengthString && fixed.type.size == 7 && fixed.type.stringPadding == .nullPadded)
        #expect(try g.stringArrayAttribute("fixed_nullterm") == ["ab", "cdef"])
        #expect(try g.stringArrayAttribute("fixed_spacepad") == ["ab", "cdef"])
        #expect(try g.stringArrayAttribute("vlen_array") == ["kernel:0", "bias:0"])
        #expect(try g.stringArrayAttribute("float_empty") == [])
        #expect(try g.stringAttribute("vlen_utf8") == "dense_1 \u{e9}\u{4e2d}")
        #expect(try g.stringAttribute("missing") == nil)
        try expectCode(.invalidHDF5) { _ = try g.stringAttribute("vlen_array") }
        try expectCode(.invalidHDF5) { _ = try g.stringAttribute("int_scalar") }
        let int = try #require(try g.attribute("int_scalar"))
        #expect(int.value == .numbers(.int64, [0xF9, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF]))
        #expect(int.doubleValues == [-7])
        let floats = try #require(try g.attribute("float_array"))
        #expect(floats.doubleValues == [1.5, -2] && floats.type.order == .big && floats.shape == [2])
        #expect(try g.attribute("bool_scalar")?.value == .numbers(.bool, [1]))
        #expect(try g.attribute("float_empty")?.shape == [0])
        let empty = try #require(try g.attribute("empty"))
        #expect(empty.value == .empty && empty.shape == nil)
        try expectCode(.unsupported) { _ = try g.attribute("compound") }
        #expect(try file.dataset("data/bfloat16_keras").stringAttribute("dtype") == "bfloat16")
    }

    // MARK: Links

    @Test("soft links, a hard-link cycle and creation order")
    func linksFixture() throws {
        let file = try HDF5File.open(path: hdf5Fixtures.appendingPathComponent("links.h5").path)
        let nodes = try file.walk()
        #expect(nodes.map(\.path) == ["/", "dangling", "g", "g/alias", "g/relative", "loop_a", "loop_b", "ordered",
                                      "ordered/10", "ordered/2", "ordered/alpha", "ordered/mid", "ordered/zeta",
                                      "soft_to_x"])
        #expect(nodes.first { $0.path == "g/relative" }?.kind == .softLink(target: "x"))
        #expect(nodes.first { $0.path == "g/alias" }?.kind == .dataset)

        let x = try SHA256.hex(file.dataset("g/x").read())
        let expected = try loadJSON(hdf5Fixtures.appendingPathComponent("expected.json"))
        #expect(x == expected["files"]?["links.h5"]?["datasets"]?["g/x"]?["sha256"]?.stringValue)
        #expect(try SHA256.hex(file.dataset("soft_to_x").read()) == x)
        #expect(try SHA256.hex(file.dataset("/g/relative").read()) == x)
        #expect(try SHA256.hex(file.dataset("g/parent/g/parent/g/x").read()) == x)
        #expect(try SHA256.hex(file.group("g").dataset("alias").read()) == x)
        #expect(try file.object("dangling") == nil)
        #expect(try file.object("g/x/y") == nil)
        #expect(try file.contains("g/x") && !file.contains("nothing"))
        try expectCode(.invalidHDF5) { _ = try file.object("loop_a") }
        try expectCode(.invalidHDF5) { _ = try file.dataset("g") }
        try expectCode(.invalidHDF5) { _ = try file.group("g/x") }
        try expectCode(.invalidHDF5) { _ = try file.dataset("missing") }

        let g = try file.group("g")
        #expect(try g.links().map(\.name) == ["alias", "parent", "relative", "x"])
        #expect(try g.links().map(\.kind) == [.dataset, .group, .softLink(target: "x"), .dataset])
        let ordered = try file.group("ordered")
        #expect(try ordered.tracksCreationOrder())
        #expect(try ordered.links(order: .creationIfTracked).map(\.name) == ["zeta", "alpha", "mid", "10", "2"])
        #expect(try ordered.links(order: .creationIfTracked).map(\.creationOrder) == [0, 1, 2, 3, 4])
        #expect(try ordered.links().map(\.name) == ["10", "2", "alpha", "mid", "zeta"])
        #expect(try g.tracksCreationOrder() == false)
        #expect(try g.links(order: .creationIfTracked).map(\.name) == ["alias", "parent", "relative", "x"])
    }

    @Test("external links are refused, wherever they appear")
    func externalLinkRefused() throws {
        let file = try HDF5File.open(path: hdf5Fixtures.appendingPathComponent("external_link.h5").path)
        try expectCode(.unsupported) { _ = try file.walk() }
        try expectCode(.unsupported) { _ = try file.dataset("g/ext") }
        try expectCode(.unsupported) { _ = try file.dataset("via_soft") }
        try expectCode(.unsupported) { _ = try file.group("g").links() }
        do {
            _ = try file.dataset("g/ext")
        } catch let error as CheckpointError {
            #expect(error.reason.contains("HDF5 external link") && error.reason.contains("refused"))
            #expect(error.member == "/g/ext")
        }
        #expect(try file.dataset("local").read().count == 12)
        #expect(try file.root().links().map(\.name) == ["g", "local", "via_soft"])
    }

    @Test("datasets stored outside the file (external storage, virtual) are refused")
    func outsideStorageRefused() throws {
        let ext = try HDF5File.open(path: hdf5Fixtures.appendingPathComponent("external_storage.h5").path)
        try expectCode(.unsupported) { _ = try ext.dataset("outside").info() }
        try expectCode(.unsupported) { _ = try ext.dataset("outside").read() }
        #expect(try ext.dataset("inside").read() == [0, 0, 1, 0, 2, 0])
        let vds = try HDF5File.open(path: hdf5Fixtures.appendingPathComponent("virtual.h5").path)
        try expectCode(.unsupported) { _ = try vds.dataset("vds").read() }
    }

    // MARK: Broken input

    @Test("truncated files and images fail with .invalidHDF5, never crash")
    func truncated() throws {
        let url = kerasFixtures.appendingPathComponent("mlp/mlp.weights.h5")
        let data = try [UInt8](Data(contentsOf: url))
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        for cut in [0, 1, 8, 100, 512, 800, 2048, 9000, 9160 + 1000, data.count / 2, data.count - 1000, data.count - 1] {
            let piece = Array(data.prefix(cut))
            let path = dir.appendingPathComponent("cut\(cut).h5").path
            try Data(piece).write(to: URL(fileURLWithPath: path))
            try expectCode(.invalidHDF5, "cut at \(cut)") { try readEverything(try HDF5File.open(path: path)) }
            if cut > 0 {
                try piece.withUnsafeBytes { raw in
                    try expectCode(.invalidHDF5, "image cut at \(cut)") {
                        try readEverything(try HDF5File.openImage(pointer: raw.baseAddress!, count: cut,
                                                                  fileName: "x.keras", member: "model.weights.h5"))
                    }
                }
            }
        }
        do {
            _ = try HDF5File.open(path: dir.appendingPathComponent("cut100.h5").path)
        } catch let error as CheckpointError {
            #expect(error.reason.contains("libhdf5: "), "\(error)")
        }
        // Corrupt bytes inside a dataset's metadata and data must not crash either.
        var damaged = data
        for i in stride(from: 600, to: 9000, by: 97) { damaged[i] ^= 0x5A }
        let damagedPath = dir.appendingPathComponent("damaged.h5").path
        try Data(damaged).write(to: URL(fileURLWithPath: damagedPath))
        do { try readEverything(try HDF5File.open(path: damagedPath)) } catch let error as CheckpointError {
            #expect([.invalidHDF5, .unsupported, .limitExceeded].contains(error.code), "\(error)")
        }
    }

    @Test("files that are not HDF5, and missing files")
    func notHDF5() throws {
        try expectCode(.invalidHDF5) {
            _ = try HDF5File.open(path: kerasFixtures.appendingPathComponent("mlp/weights.npz").path)
        }
        try expectCode(.io) { _ = try HDF5File.open(path: "/nonexistent/file.h5") }
        let text = Array("hello".utf8)
        try text.withUnsafeBytes { raw in
            try expectCode(.invalidHDF5) { _ = try HDF5File.openImage(pointer: raw.baseAddress!, count: 5, fileName: "t") }
        }
    }

    // MARK: Writing

    @Test("write, then read back with this binding")
    func writeRoundTrip() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("out.h5").path
        let sample = try writeSample(path)

        let file = try HDF5File.open(path: path)
        #expect(try file.walk().map(\.path) == ["/", "layers", "layers/dense", "layers/dense/vars"]
            + sample.tensors.keys.sorted().map { "layers/dense/vars/" + $0 } + ["vars"])
        let vars = try file.group("layers/dense/vars")
        #expect(try vars.attribute("name")?.stringValue == "dense")
        #expect(try vars.attribute("name")?.type.isVariableLengthString == true)
        #expect(try vars.attribute("name")?.type.charset == .utf8)
        for (name, (dtype, shape, bytes)) in sample.tensors {
            let d = try vars.dataset(name)
            let info = try d.info()
            #expect(info.dtype == dtype && info.shape == shape && info.layout == .contiguous, "\(name)")
            #expect(info.storedType.order == (dtype.itemSize > 1 && dtype != .bfloat16 ? .little : info.storedType.order))
            #expect(try d.read() == bytes, "\(name)")
        }
        #expect(try vars.dataset("bfloat16").stringAttribute("dtype") == "bfloat16")
        let root = try file.root()
        #expect(try root.stringArrayAttribute("layer_names") == ["dense", "dense_1", ""])
        #expect(try root.attribute("layer_names")?.type.isVariableLengthString == false)
        #expect(try root.attribute("layer_names")?.type.stringPadding == .nullPadded)
        #expect(try root.stringArrayAttribute("weight_names") == ["dense/kernel:0", "dense/bias:0"])
        #expect(try root.attribute("weight_names")?.type.isVariableLengthString == true)
        #expect(try root.attribute("model_config")?.stringValue == "{\"a\": 1}")
        #expect(try root.attribute("model_config")?.type.charset == .ascii)
        #expect(try root.attribute("empty_weights")?.value == .numbers(.float64, []))
        #expect(try root.attribute("empty_weights")?.shape == [0])
        #expect(try root.attribute("scale")?.doubleValues == [0.5, 2])
        #expect(try file.group("vars").attribute("name")?.stringValue == "sequential \u{e9}")
        // Read-only files refuse writes.
        try expectCode(.invalidArgument) { _ = try root.createGroup("more") }
        try expectCode(.invalidArgument) {
            try [UInt8](repeating: 0, count: 4).withUnsafeBytes { try vars.dataset("scalar").write($0) }
        }
    }

    @Test("what this binding writes, h5py reads back equal (and types match h5py's own)", .requires(.h5py))
    func h5pyCrossCheck() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("out.h5").path
        let sample = try writeSample(path)
        let script = #"""
import hashlib, json, sys
import h5py, numpy as np
out = {"datasets": {}, "attrs": {}, "type_checks": {}}
def le(a):
    a = np.ascontiguousarray(a)
    if a.dtype.kind == "b":
        a = a.astype(np.uint8)
    if a.dtype.kind == "V":
        a = a.view(np.uint16)
    return a.astype(a.dtype.newbyteorder("<")).tobytes()
with h5py.File(sys.argv[1], "r") as f:
    def visit(name, obj):
        if isinstance(obj, h5py.Dataset):
            v = obj[()]
            out["datasets"][name] = {"dtype": str(obj.dtype), "shape": list(obj.shape),
                                     "sha256": hashlib.sha256(le(np.asarray(v))).hexdigest()}
    f.visititems(visit)
    def attr(v):
        if isinstance(v, bytes): return v.decode()
        if isinstance(v, np.ndarray): return [attr(x) for x in v.tolist()]
        if isinstance(v, (np.generic,)): return v.item()
        return v
    for key in ["layer_names", "weight_names", "model_config", "empty_weights", "scale"]:
        out["attrs"][key] = attr(f.attrs[key])
    out["attrs"]["vars.name"] = attr(f["layers/dense/vars"].attrs["name"])
    out["attrs"]["root.name"] = attr(f["vars"].attrs["name"])
    # The attribute types must be exactly those h5py itself writes for the same values.
    with h5py.File(sys.argv[2], "w") as g:
        g.attrs["name"] = "dense"
        g.attrs["layer_names"] = np.array([b"dense", b"dense_1", b""])
        g.attrs["weight_names"] = ["dense/kernel:0", "dense/bias:0"]
        g.attrs["empty_weights"] = np.zeros(0)
        g.create_dataset("b", data=np.array([True]))
        g.create_dataset("h", data=np.array([1], dtype=np.float16))
    with h5py.File(sys.argv[2], "r") as g:
        def same(a, b):
            ta, tb = a.get_type(), b.get_type()
            return (ta == tb, a.shape == b.shape)
        out["type_checks"]["name"] = same(f["layers/dense/vars"].attrs.get_id("name"), g.attrs.get_id("name"))
        for k in ["layer_names", "weight_names", "empty_weights"]:
            out["type_checks"][k] = same(f.attrs.get_id(k), g.attrs.get_id(k))
        out["type_checks"]["bool"] = (f["layers/dense/vars/bool"].id.get_type() == g["b"].id.get_type(), True)
        out["type_checks"]["float16"] = (f["layers/dense/vars/float16"].id.get_type() == g["h"].id.get_type(), True)
print(json.dumps(out))
"""#
        let output = try TestEnv.python(script, [path, dir.appendingPathComponent("h5py.h5").path])
        let result = try JSONParser.parse(output)
        let datasets = try #require(result["datasets"]?.objectValue)
        #expect(Set(datasets.map(\.0)) == Set(sample.tensors.keys.map { "layers/dense/vars/" + $0 }))
        for (name, (dtype, shape, bytes)) in sample.tensors {
            let e = try #require(result["datasets"]?["layers/dense/vars/" + name])
            #expect(e["shape"]?.arrayValue?.compactMap(\.intValue) == shape, "\(name)")
            #expect(e["sha256"]?.stringValue == SHA256.hex(bytes), "\(name)")
            let numpy: [DType: String] = [.bool: "bool", .float16: "float16", .bfloat16: "|V2"]
            #expect(e["dtype"]?.stringValue == numpy[dtype] ?? dtype.rawValue, "\(name)")
        }
        #expect(result["attrs"]?["layer_names"] == .array([.string("dense"), .string("dense_1"), .string("")]))
        #expect(result["attrs"]?["weight_names"] == .array([.string("dense/kernel:0"), .string("dense/bias:0")]))
        #expect(result["attrs"]?["model_config"]?.stringValue == "{\"a\": 1}")
        #expect(result["attrs"]?["empty_weights"] == .array([]))
        #expect(result["attrs"]?["scale"]?.arrayValue?.compactMap(\.doubleValue) == [0.5, 2])
        #expect(result["attrs"]?["vars.name"]?.stringValue == "dense")
        #expect(result["attrs"]?["root.name"]?.stringValue == "sequential \u{e9}")
        for (check, value) in try #require(result["type_checks"]?.objectValue) {
            #expect(value == .array([.bool(true), .bool(true)]), "type of \(check) differs from h5py's")
        }
    }

    @Test("Keras fixtures copied through this binding are identical for h5py (values, shapes, dtypes, attribute types)", .requires(.h5py))
    func h5pyCopyCheck() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        var pairs: [String] = []
        for c in KerasCase.all() where c.member == nil {
            let copy = dir.appendingPathComponent(c.url.lastPathComponent).path
            try copyHDF5(try HDF5File.open(path: c.url.path), to: copy)
            pairs += [c.url.path, copy]
        }
        #expect(pairs.count >= 8)
        let script = #"""
import hashlib, json, sys
import h5py, numpy as np
def dump(path):
    out = {}
    with h5py.File(path, "r") as f:
        def one(name, obj):
            attrs = {}
            for k in obj.attrs:
                aid = obj.attrs.get_id(k)
                t = aid.get_type()
                desc = [t.get_class(), aid.shape]
                if isinstance(t, h5py.h5t.TypeStringID):
                    desc += [t.is_variable_str(), t.get_cset(), t.get_strpad(), None if t.is_variable_str() else t.get_size()]
                else:
                    desc += [t.get_size(), t.get_order()]
                v = obj.attrs[k]
                attrs[k] = [desc, repr(v.tolist() if isinstance(v, np.ndarray) else v)]
            entry = {"kind": type(obj).__name__, "attrs": attrs}
            if isinstance(obj, h5py.Dataset):
                a = np.ascontiguousarray(obj[()])
                entry.update(dtype=str(obj.dtype), shape=list(obj.shape), sha=hashlib.sha256(a.tobytes()).hexdigest(),
                             type=[obj.id.get_type().get_class(), obj.id.get_type().get_size()])
            out[name] = entry
        one("/", f)
        f.visititems(one)
    return out
args = sys.argv[1:]
diffs = []
for a, b in zip(args[::2], args[1::2]):
    da, db = dump(a), dump(b)
    if da != db:
        for k in sorted(set(da) | set(db)):
            if da.get(k) != db.get(k):
                diffs.append([a, k, da.get(k), db.get(k)])
print(json.dumps({"compared": len(args) // 2, "diffs": diffs[:20]}, default=str))
"""#
        let output = try TestEnv.python(script, pairs)
        let result = try JSONParser.parse(output)
        #expect(result["compared"]?.intValue == pairs.count / 2)
        #expect(result["diffs"] == .array([]), "\(output)")
    }

    @Test("streamed writes in ranges equal one whole write")
    func rangedWrites() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let shape = [7, 3, 5]
        let count = shape.reduce(1, *)
        var rng = SeededRNG(seed: 3)
        let bytes = (0..<(count * 4)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
        let a = dir.appendingPathComponent("a.h5").path
        let b = dir.appendingPathComponent("b.h5").path
        do {
            let f = try HDF5File.create(path: a)
            let d = try f.root().createDataset("t", dtype: .float32, shape: shape)
            try bytes.withUnsafeBytes { try d.write($0) }
            try f.close()
        }
        do {
            let f = try HDF5File.create(path: b)
            let d = try f.root().createDataset("t", dtype: .float32, shape: shape)
            var start = 0
            while start < count {
                let end = min(count, start + 1 + Int(rng.next() % 17))
                try bytes[(start * 4)..<(end * 4)].withUnsafeBytes { try d.write(elements: start..<end, from: $0) }
                start = end
            }
            try f.close()
            try f.close() // harmless
        }
        #expect(try HDF5File.open(path: a).dataset("t").read() == bytes)
        #expect(try HDF5File.open(path: b).dataset("t").read() == bytes)
        // Deterministic output: no timestamps.
        #expect(try Data(contentsOf: URL(fileURLWithPath: a)) == Data(contentsOf: URL(fileURLWithPath: b)))
    }

    @Test("bad write arguments are refused")
    func badWrites() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let f = try HDF5File.create(path: dir.appendingPathComponent("x.h5").path)
        let root = try f.root()
        for name in ["", ".", "a/b", "nul\u{0}"] {
            try expectCode(.invalidArgument, name) { _ = try root.createGroup(name) }
        }
        try expectCode(.invalidArgument) { _ = try root.createDataset("d", dtype: .int8, shape: [-1]) }
        let d = try root.createDataset("d", dtype: .int16, shape: [4])
        try expectCode(.invalidArgument) { try [UInt8](repeating: 0, count: 7).withUnsafeBytes { try d.write($0) } }
        try expectCode(.invalidArgument) {
            try [UInt8](repeating: 0, count: 4).withUnsafeBytes { try d.write(elements: 3..<5, from: $0) }
        }
        try expectCode(.invalidHDF5) { _ = try root.createGroup("d") } // exists
        try expectCode(.invalidArgument) { try root.setAttribute("s", string: "a\u{0}b") }
        try expectCode(.invalidArgument) { try root.setAttribute("n", dtype: .int32, shape: [2], littleEndianBytes: [1]) }
        try root.setAttribute("twice", string: "one")
        try root.setAttribute("twice", string: "two")
        #expect(try root.stringAttribute("twice") == "two")
        try f.close()
        try expectCode(.io) { _ = try HDF5File.create(path: "/nonexistent/dir/x.h5") }
    }
}

@Suite("HDF5 (no libhdf5 needed)")
struct HDF5UnavailableTests {
    /// Runs where libhdf5 is missing, or pretended missing (CKPT_PRETEND_MISSING=hdf5); the
    /// commands' tests check the same message through a `ckpt` process everywhere.
    @Test("without libhdf5, a clear error names what was tried and the package to install",
          .enabled(if: !HDF5Library.isAvailable, "libhdf5 is installed here: CKPT_PRETEND_MISSING=hdf5 runs this"))
    func unavailable() {
        do {
            _ = try HDF5Library.load()
            Issue.record("libhdf5 loaded")
        } catch {
            #expect(error.code == .hdf5Unavailable)
            #expect(error.reason.hasPrefix("libhdf5 could not be loaded (tried "))
            #expect(error.hint?.contains("CKPT_LIBHDF5") == true)
            #expect(error.hint?.contains("sudo apt-get install \(HDF5Library.debianPackage)") == true)
        }
    }

    @Test("flat ranges split into hyperslab boxes covering exactly the range, in C order")
    func boxes() {
        for shape in [[5], [3, 4], [2, 3, 4], [2, 1, 3, 2], [1, 1, 7], [4, 5, 1]] {
            let total = shape.reduce(1, *)
            for lo in 0...total {
                for hi in lo...total {
                    let boxes = hyperslabBoxes(lo..<hi, shape: shape)
                    #expect(boxes.count <= 2 * shape.count)
                    var flat: [Int] = []
                    for box in boxes {
                        var index = box.start.map { Int($0) }
                        let count = box.count.map { Int($0) }
                        // enumerate the box in C order
                        func rec(_ d: Int) {
                            if d == shape.count {
                                flat.append(zip(index, shape).reduce(0) { $0 * $1.1 + $1.0 })
                                return
                            }
                            for k in 0..<count[d] {
                                index[d] = Int(box.start[d]) + k
                                rec(d + 1)
                            }
                        }
                        rec(0)
                    }
                    #expect(flat == Array(lo..<hi), "\(shape) \(lo)..<\(hi)")
                }
            }
        }
    }
}

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

private func loadJSON(_ url: URL) throws -> JSONValue {
    try JSONParser.parse([UInt8](Data(contentsOf: url)))
}

private func expectCode(_ code: CheckpointError.Code, _ comment: String = "", sourceLocation: SourceLocation = #_sourceLocation,
                        _ body: () throws -> Void) throws {
    do {
        try body()
        Issue.record("expected a .\(code) error \(comment)", sourceLocation: sourceLocation)
    } catch let error as CheckpointError {
        #expect(error.code == code, "\(comment): \(error)", sourceLocation: sourceLocation)
    }
}

/// Walks the file and reads every dataset and attribute.
private func readEverything(_ file: HDF5File) throws {
    for node in try file.walk() {
        guard let object = try file.object(node.path) else { continue }
        for name in try object.attributeNames() { _ = try object.attribute(name) }
        if let d = object as? HDF5Dataset { _ = try d.read() }
    }
}

private func checkType(_ type: HDF5TypeInfo, _ expected: JSONValue?, at path: String) throws {
    let e = try #require(expected)
    #expect(type.typeClass.rawValue == e["class"]?.stringValue, "\(path)")
    if let size = e["size"]?.intValue { #expect(type.size == size, "\(path)") }
    if let order = e["order"]?.stringValue { #expect(type.order.rawValue == order, "\(path)") }
    if let signed = e["signed"]?.boolValue { #expect(type.isSigned == signed, "\(path)") }
    if let variable = e["variable_length"]?.boolValue { #expect(type.isVariableLengthString == variable, "\(path)") }
    if let charset = e["charset"]?.stringValue { #expect(type.charset?.rawValue == charset, "\(path)") }
}

private func checkAttributes(_ object: HDF5Object, _ expected: JSONValue?, at path: String) throws {
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
private func storedMember(_ m: MappedFile, headerOffset: Int, size: Int) throws -> (Int, Int) {
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
private final class MappedFile {
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

private struct Sample {
    var tensors: [String: (DType, [Int], [UInt8])]
}

/// Writes a Keras-like file with every dtype, streamed in ranges, and the attribute kinds Keras uses.
private func writeSample(_ path: String) throws -> Sample {
    var rng = SeededRNG(seed: 11)
    var tensors: [String: (DType, [Int], [UInt8])] = [:]
    let shapes: [DType: [Int]] = [.float32: [4, 6], .float64: [3], .float16: [2, 5], .bfloat16: [9], .bool: [3, 3],
                                  .int8: [5], .int16: [2, 2], .int32: [7], .int64: [1, 2, 3], .uint8: [4],
                                  .uint16: [3], .uint32: [2], .uint64: [2]]
    for (dtype, shape) in shapes {
        let n = shape.reduce(1, *) * dtype.itemSize
        var bytes = (0..<n).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
        if dtype == .bool { bytes = bytes.map { $0 & 1 } }
        if dtype == .float16 || dtype == .bfloat16 {
            for i in stride(from: 1, to: n, by: 2) { bytes[i] &= 0x3F } // finite values
        }
        tensors[dtype.rawValue] = (dtype, shape, bytes)
    }
    tensors["scalar"] = (.int64, [], [42, 0, 0, 0, 0, 0, 0, 0])
    tensors["empty"] = (.float32, [0, 3], [])

    let file = try HDF5File.create(path: path)
    let root = try file.root()
    let vars = try root.requireGroup("layers/dense/vars")
    try vars.setAttribute("name", string: "dense")
    for (name, (dtype, shape, bytes)) in tensors.sorted(by: { $0.key < $1.key }) {
        let d = try vars.createDataset(name, dtype: dtype, shape: shape)
        let count = shape.reduce(1, *)
        var start = 0
        while start < count {
            let end = min(count, start + 4)
            try bytes[(start * dtype.itemSize)..<(end * dtype.itemSize)].withUnsafeBytes {
                try d.write(elements: start..<end, from: $0)
            }
            start = end
        }
    }
    try root.createGroup("vars").setAttribute("name", string: "sequential \u{e9}")
    try root.setAttribute("layer_names", strings: ["dense", "dense_1", ""], storage: .fixedLength)
    try root.setAttribute("weight_names", strings: ["dense/kernel:0", "dense/bias:0"], storage: .variableLength(.utf8))
    try root.setAttribute("model_config", string: "{\"a\": 1}", charset: .ascii)
    try root.setAttribute("empty_weights", dtype: .float64, shape: [0], littleEndianBytes: [])
    try root.setAttribute("scale", dtype: .float32, shape: [2], littleEndianBytes: [0, 0, 0, 0x3F, 0, 0, 0, 0x40])
    try file.close()
    return Sample(tensors: tensors)
}

/// Rewrites `source` at `path` through the write API: groups, datasets (streamed in 64 KiB pieces)
/// and attributes, keeping each attribute's storage (variable/fixed length, charset, shape).
private func copyHDF5(_ source: HDF5File, to path: String) throws {
    let out = try HDF5File.create(path: path)
    let root = try out.root()
    for node in try source.walk() {
        let object = try #require(try source.object(node.path))
        let target: HDF5Object
        switch node.kind {
        case .group:
            target = node.path == "/" ? root : try root.requireGroup(node.path)
        case .dataset:
            let d = try #require(object as? HDF5Dataset)
            let info = try d.info()
            let parts = node.path.split(separator: "/").map(String.init)
            let parent = try root.requireGroup(parts.dropLast().joined(separator: "/"))
            let created = try parent.createDataset(parts[parts.count - 1], dtype: info.dtype, shape: info.shape)
            var start = 0
            try d.read(chunkBytes: 1 << 16) { piece in
                let n = piece.count / info.dtype.itemSize
                try created.write(elements: start..<(start + n), from: piece)
                start += n
            }
            target = created
        default:
            continue
        }
        for name in try object.attributeNames() {
            let a = try #require(try object.attribute(name))
            switch a.value {
            case .strings(let s):
                if a.shape == [] {
                    try target.setAttribute(a.name, string: s[0], charset: a.type.charset ?? .ascii)
                } else {
                    try target.setAttribute(a.name, strings: s, storage: a.type.isVariableLengthString
                        ? .variableLength(a.type.charset ?? .ascii) : .fixedLength)
                }
            case .numbers(let dtype, let bytes):
                try target.setAttribute(a.name, dtype: dtype, shape: a.shape ?? [], littleEndianBytes: bytes)
            case .empty:
                continue
            }
        }
    }
    try out.close()
}

private func temporaryDirectory() throws -> URL {
    URL(fileURLWithPath: try TestEnv.temporaryDirectory("ckpt-hdf5"))
}
