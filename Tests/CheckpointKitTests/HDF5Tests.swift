import Foundation
import Testing
import CheckpointTestSupport
@testable import CheckpointKit

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// Reading with the libhdf5 binding (Sources/CheckpointKit/HDF5). It needs libhdf5
// (`.requires(.hdf5)`: a reported skip without it, a failure with CKPT_REQUIRE_HDF5=1). Writing:
// HDF5WriteTests; fixtures and helpers: HDF5TestSupport.

@Suite("HDF5", .requires(.hdf5), .reportsSeeds)
struct HDF5Tests {
    // MARK: Keras fixtures against expected.json

    @Test("Keras fixtures: tree, attributes, dataset info and data match expected.json",
          arguments: KerasCase.all())
    func kerasFixture(_ c: KerasCase) throws {
        let file: HDF5File
        var mapping: FixtureMapping?
        if let member = c.member {
            let m = try FixtureMapping(c.url.path)
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
