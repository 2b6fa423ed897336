import Foundation
import Testing
import CheckpointTestSupport
@testable import CheckpointKit

@Suite("safetensors", .reportsSeeds)
struct SafetensorsTests {
    // MARK: Fixtures written by Python

    @Test("Every fixture reads with the names, dtypes, shapes and bytes expected.json records", arguments: FormatFixtures.models)
    func fixtures(model: String) throws {
        let path = FormatFixtures.dir(model) + "/weights.safetensors"
        let source = try SafetensorsSource(path: path)
        #expect(source.format == .safetensors)
        #expect(!source.isSharded)
        #expect(source.index.kind == .weights)
        #expect(source.index.metadata == .object([]))
        try FormatFixtures.expectMatches(source, model)
        // The generic opener picks the same reader from the extension and from the bytes.
        #expect(try Checkpoints.open(path).format == .safetensors)
        #expect(try Checkpoints.sniff(path) == .safetensors)
        // And it agrees with the .npz numpy wrote from the same values.
        try expectSameTensors(source, NPZSource(path: FormatFixtures.dir(model) + "/weights.npz"))
    }

    @Test("A fixture → .ckpt → .safetensors is the same file, byte for byte", arguments: FormatFixtures.models)
    func roundTripThroughCkptIsByteExact(model: String) throws {
        let dir = try TestEnv.temporaryDirectory()
        defer { TestEnv.cleanup(dir) }
        let input = FormatFixtures.dir(model) + "/weights.safetensors"
        let source = try SafetensorsSource(path: input)
        let stats = source.shards[0].file.statistics
        let header = source.shards[0].header
        #expect(stats.bytesRead == header.dataStart, "opening reads the length and the header only")
        try CheckpointWriter.write(source.index, payloads: source.index.tensors.indices.map { .source(source, $0) }, to: dir + "/a.ckpt")
        #expect(stats.bytesRead == header.dataStart + header.dataLength, "writing the .ckpt read every data byte once")
        let ckpt = try CheckpointArchive(path: dir + "/a.ckpt")
        try expectSameTensors(source, ckpt)
        try SafetensorsWriter.write(ckpt, to: dir + "/b.safetensors")
        #expect(try TestEnv.read(dir + "/b.safetensors") == TestEnv.read(input))
        // Straight from safetensors too (the kernel-copy path): every data byte read once.
        let before = stats.bytesRead
        try SafetensorsWriter.write(source, to: dir + "/c.safetensors")
        #expect(try TestEnv.read(dir + "/c.safetensors") == TestEnv.read(input))
        #expect(stats.bytesRead - before == header.dataLength)
    }

    @Test("Files safetensors.numpy.save_file wrote (every dtype, scalar, empty, non-ASCII, metadata; a transformers-style sharded set)")
    func libraryFixtures() throws {
        let single = try SafetensorsSource(path: LibraryFixtures.dir + "/mixed.safetensors")
        try LibraryFixtures.expectMatches(single)
        #expect(single.index.metadata == .object([("format", .string("np"))]))
        let sharded = try SafetensorsSource(path: LibraryFixtures.dir + "/sharded/model.safetensors.index.json")
        #expect(sharded.shards.map(\.name) == (1...3).map { "model-0000\($0)-of-00003.safetensors" })
        try LibraryFixtures.expectMatches(sharded)
        #expect(sharded.index.metadata == .object([("format", .string("pt"))]))
        // → .ckpt → .safetensors: save_file's bytes again.
        let dir = try TestEnv.temporaryDirectory()
        defer { TestEnv.cleanup(dir) }
        try CheckpointWriter.write(single.index, payloads: single.index.tensors.indices.map { .source(single, $0) }, to: dir + "/m.ckpt")
        try SafetensorsWriter.write(CheckpointArchive(path: dir + "/m.ckpt"), to: dir + "/m.safetensors")
        #expect(try TestEnv.read(dir + "/m.safetensors") == TestEnv.read(LibraryFixtures.dir + "/mixed.safetensors"))
        // Each shard alone is an ordinary file, and rewriting one gives it back.
        for shard in sharded.shards {
            let alone = try SafetensorsSource(path: LibraryFixtures.dir + "/sharded/" + shard.name)
            try SafetensorsWriter.write(alone, to: dir + "/" + shard.name)
            #expect(try TestEnv.read(dir + "/" + shard.name) == TestEnv.read(LibraryFixtures.dir + "/sharded/" + shard.name))
        }
    }

    // MARK: Layout, as the reference writes it

    @Test("Headers match the reference's own test vectors (tensor.rs)")
    func referenceVectors() throws {
        // test_serialization: one F32 [1, 2, 3] tensor "attn.0": a 64-byte header, no padding.
        let attn = SafetensorsWriter.encodeHeader([TensorInfo(name: "attn.0", dtype: .float32, shape: [1, 2, 3])], metadata: [])
        #expect(attn == [64, 0, 0, 0, 0, 0, 0, 0] + Array(#"{"attn.0":{"dtype":"F32","shape":[1,2,3],"data_offsets":[0,24]}}"#.utf8))
        // test_serialization_forced_alignement: "attn0", [1, 1, 2, 3]: padded with 7 spaces to 72.
        let attn0 = SafetensorsWriter.encodeHeader([TensorInfo(name: "attn0", dtype: .float32, shape: [1, 1, 2, 3])], metadata: [])
        #expect(attn0 == [72, 0, 0, 0, 0, 0, 0, 0] + Array(#"{"attn0":{"dtype":"F32","shape":[1,1,2,3],"data_offsets":[0,24]}}"#.utf8) + [UInt8](repeating: 32, count: 7))
        // test_empty: "{}" padded to 8; with metadata {"framework": "pt"}: 40 bytes.
        #expect(SafetensorsWriter.encodeHeader([], metadata: []) == [8, 0, 0, 0, 0, 0, 0, 0, 123, 125, 32, 32, 32, 32, 32, 32])
        #expect(SafetensorsWriter.encodeHeader([], metadata: [("framework", "pt")])
            == [40, 0, 0, 0, 0, 0, 0, 0] + Array(#"{"__metadata__":{"framework":"pt"}}"#.utf8) + [32, 32, 32, 32, 32])
        // And they parse back.
        let file = attn0 + [UInt8](repeating: 0, count: 24)
        let h = try SafetensorsSource.parseHeader(file, fileSize: UInt64(file.count))
        #expect(h.headerLength == 72 && h.tensors.map(\.name) == ["attn0"] && h.tensors[0].shape == [1, 1, 2, 3])
    }

    @Test("Data order: descending dtype alignment, then name by bytes (tensor.rs prepare)")
    func dataOrder() throws {
        let dir = try TestEnv.temporaryDirectory()
        defer { TestEnv.cleanup(dir) }
        var infos = DType.allCases.map { TensorInfo(name: "t_\($0.rawValue)", dtype: $0, shape: [1]) }
        infos += ["b", "B", "a.10", "a.9", "é", "z"].map { TensorInfo(name: $0, dtype: .float32, shape: [1]) }
        let data = infos.map { [UInt8](repeating: 1, count: $0.byteCount ?? 0) }
        try SafetensorsWriter.write(MemorySource(CheckpointIndex(tensors: infos), data), to: dir + "/x.safetensors")
        let back = try SafetensorsSource(path: dir + "/x.safetensors")
        #expect(back.index.tensors.map(\.name) == [
            "t_uint64", "t_int64", "t_float64", "B", "a.10", "a.9", "b", "t_float32", "z", "é", "t_uint32", "t_int32",
            "t_bfloat16", "t_float16", "t_uint16", "t_int16", "t_float8_e5m2fnuz", "t_float8_e4m3fnuz", "t_float8_e8m0fnu",
            "t_float8_e4m3fn", "t_float8_e5m2", "t_int8", "t_uint8", "t_bool",
        ])
        #expect(back.shards[0].header.dataStart % 8 == 0)
        #expect(back.index.tensors.first { $0.name == "t_bfloat16" }?.dtype == .bfloat16)
    }

    @Test("Every dtype, scalars, empty tensors, non-ASCII names and multi-piece tensors round-trip bit for bit")
    func roundTripSamples() throws {
        let dir = try TestEnv.temporaryDirectory()
        defer { TestEnv.cleanup(dir) }
        let (index, data) = SampleTensors.make()
        let memory = MemorySource(index, data)
        try SafetensorsWriter.write(memory, to: dir + "/x.safetensors")
        let st = try SafetensorsSource(path: dir + "/x.safetensors")
        try expectSameTensors(memory, st)
        #expect(st.index.metadata == index.metadata)
        // The 1.4 MB tensor comes in pieces of ContainerSpec.chunkSize, each readable on its own.
        let big = try #require(st.tensorIndex(named: "big/embeddings"))
        let pieces = st.pieces(of: big)
        #expect(pieces.count == 2 && pieces[0] == 0..<ContainerSpec.chunkSize)
        var second: [UInt8] = []
        try st.readPiece(big, 1) { second += $0 }
        let k = try #require(index.tensors.firstIndex { $0.name == "big/embeddings" })
        #expect(second == Array(data[k][pieces[1]]))
        // → .ckpt → .safetensors: identical file.
        try CheckpointWriter.write(st.index, payloads: st.index.tensors.indices.map { .source(st, $0) }, to: dir + "/x.ckpt")
        try SafetensorsWriter.write(CheckpointArchive(path: dir + "/x.ckpt"), to: dir + "/y.safetensors")
        #expect(try TestEnv.read(dir + "/y.safetensors") == TestEnv.read(dir + "/x.safetensors"))
    }

    @Test("Metadata: strings go into __metadata__ and come back; other JSON values as their text for other readers, typed through the ckpt index")
    func metadataMapping() throws {
        let dir = try TestEnv.temporaryDirectory()
        defer { TestEnv.cleanup(dir) }
        let info = TensorInfo(name: "w", dtype: .float32, shape: [1])
        let index = CheckpointIndex(tensors: [info], metadata: .object([("format", .string("pt")), ("epoch", .number(3)), ("cfg", .object([("a", .array([.bool(true), .null]))]))]))
        try SafetensorsWriter.write(MemorySource(index, [[0, 0, 128, 63]]), to: dir + "/m.safetensors")
        let bytes = try TestEnv.read(dir + "/m.safetensors")
        let n = Int(try SafetensorsSource.parseHeader(bytes, fileSize: UInt64(bytes.count)).headerLength)
        let text = String(decoding: bytes[8..<(8 + n)], as: UTF8.self)
        #expect(text.hasPrefix(#"{"__metadata__":{"format":"pt","epoch":"3","cfg":"{\"a\":[true,null]}","ckpt.index":"#))
        let back = try SafetensorsSource(path: dir + "/m.safetensors")
        #expect(back.index.metadata == index.metadata)
        // Strings only: nothing but the strings, as safetensors writes them.
        let strings = CheckpointIndex(tensors: [info], metadata: .object([("format", .string("pt"))]))
        try SafetensorsWriter.write(MemorySource(strings, [[0, 0, 128, 63]]), to: dir + "/s.safetensors")
        let plain = try TestEnv.read(dir + "/s.safetensors")
        #expect(String(decoding: plain, as: UTF8.self).contains(#"{"__metadata__":{"format":"pt"},"w":"#))
        #expect(try SafetensorsSource(path: dir + "/s.safetensors").index.metadata == strings.metadata)
        // No metadata: no __metadata__ key at all (as save_file(metadata=None)).
        try SafetensorsWriter.write(MemorySource(CheckpointIndex(tensors: [info]), [[0, 0, 128, 63]]), to: dir + "/n.safetensors")
        #expect(!String(decoding: try TestEnv.read(dir + "/n.safetensors"), as: UTF8.self).contains("__metadata__"))
    }

    // MARK: Sharded sets

    @Test("Sharded: names, index, greedy shards; → .ckpt → sharded again, bit-exact tensors and metadata")
    func shardedRoundTrip() throws {
        let dir = try TestEnv.temporaryDirectory()
        defer { TestEnv.cleanup(dir) }
        let (index, data) = SampleTensors.make()
        let memory = MemorySource(index, data)
        let written = try SafetensorsWriter.write(memory, to: dir + "/model.safetensors.index.json", maxShardSize: 100)
        let shardNames = directoryListing(dir).filter { $0.hasSuffix(".safetensors") }
        #expect(written.count == shardNames.count + 1 && written[0] == dir + "/model.safetensors.index.json")
        let n = shardNames.count
        #expect(n > 3)
        #expect(shardNames.first == "model-00001-of-\(String(repeating: "0", count: 5 - String(n).count))\(n).safetensors")
        // Greedy: each shard holds at most 100 bytes of data unless it holds a single bigger tensor.
        for name in shardNames {
            let shard = try SafetensorsSource(path: dir + "/" + name)
            let size = shard.index.tensors.reduce(0) { $0 + ($1.byteCount ?? 0) }
            #expect(size <= 100 || shard.index.tensors.count == 1, "\(name): \(size) bytes in \(shard.index.tensors.count) tensors")
            #expect(shard.index.metadata == index.metadata, "every shard carries the metadata")
        }
        // The index, as transformers writes it: total_size, weight_map sorted by name.
        let json = try JSONParser.parse(TestEnv.read(dir + "/model.safetensors.index.json"))
        #expect(json.objectValue?.map(\.0) == ["metadata", "weight_map"])
        #expect(json["metadata"]?["total_size"]?.intValue == data.reduce(0) { $0 + $1.count })
        let keys = try #require(json["weight_map"]?.objectValue?.map(\.0))
        #expect(keys == keys.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) } && keys.count == index.tensors.count)

        let sharded = try SafetensorsSource(path: dir + "/model.safetensors.index.json")
        #expect(sharded.isSharded && sharded.shards.count == n && sharded.files.count == n + 1)
        #expect(try Checkpoints.open(dir + "/model.safetensors.index.json").format == .safetensors)
        try expectSameTensors(memory, sharded)
        #expect(sharded.index.metadata == index.metadata)

        // → .ckpt → sharded again (elsewhere) → the same tensors.
        try CheckpointWriter.write(sharded.index, payloads: sharded.index.tensors.indices.map { .source(sharded, $0) }, to: dir + "/s.ckpt")
        let ckpt = try CheckpointArchive(path: dir + "/s.ckpt")
        try FileManager.default.createDirectory(atPath: dir + "/again", withIntermediateDirectories: true)
        try SafetensorsWriter.write(ckpt, to: dir + "/again/model.safetensors.index.json", maxShardSize: 100)
        let again = try SafetensorsSource(path: dir + "/again/model.safetensors.index.json")
        try expectSameTensors(memory, again)
        #expect(again.index.metadata == index.metadata)
        // And a fixture, sharded one tensor per shard and read back.
        let fixture = try SafetensorsSource(path: FormatFixtures.dir("cnn") + "/weights.safetensors")
        try SafetensorsWriter.write(fixture, to: dir + "/cnn.safetensors.index.json", maxShardSize: 1)
        let cnn = try SafetensorsSource(path: dir + "/cnn.safetensors.index.json")
        #expect(cnn.shards.count == fixture.index.tensors.count)
        try FormatFixtures.expectMatches(cnn, "cnn")
    }

    @Test("Sharded destinations: an index name is required, an index name alone uses 5 GB shards")
    func shardedDestinations() throws {
        let dir = try TestEnv.temporaryDirectory()
        defer { TestEnv.cleanup(dir) }
        let (index, data) = SampleTensors.make(big: false)
        let memory = MemorySource(index, data)
        let e = expectError(.invalidArgument) { try SafetensorsWriter.write(memory, to: dir + "/model.safetensors", maxShardSize: 1000) }
        #expect(e?.description.contains("model.safetensors.index.json") == true)
        #expect(directoryListing(dir).isEmpty)
        try SafetensorsWriter.write(memory, to: dir + "/w.safetensors.index.json")
        #expect(directoryListing(dir) == ["w-00001-of-00001.safetensors", "w.safetensors.index.json"])
        #expect(try SafetensorsWriter.shardNames(forIndex: "/a/b/x.index.json", count: 2) == ["x-00001-of-00002.safetensors", "x-00002-of-00002.safetensors"])
        #expect(SafetensorsWriter.indexPath(for: "/a/model.safetensors") == "/a/model.safetensors.index.json")
        expectError(.invalidArgument) { _ = try SafetensorsWriter.shardNames(forIndex: "/a/.safetensors.index.json", count: 1) }
    }

    @Test("Sharded writes refuse existing files before writing anything, and never replace an input")
    func shardedOutputsAreChecked() throws {
        let dir = try TestEnv.temporaryDirectory()
        defer { TestEnv.cleanup(dir) }
        let (index, data) = SampleTensors.make(big: false)
        let memory = MemorySource(index, data)
        try SafetensorsWriter.write(memory, to: dir + "/model.safetensors.index.json", maxShardSize: 200)
        let before = directoryListing(dir)
        expectError(.outputExists) { try SafetensorsWriter.write(memory, to: dir + "/model.safetensors.index.json", maxShardSize: 200) }
        #expect(directoryListing(dir) == before, "no temporary file is left behind")
        // --force replaces, but not the files being read.
        let source = try SafetensorsSource(path: dir + "/model.safetensors.index.json")
        var options = WriteOptions(overwrite: true, inputs: source.files)
        expectError(.outputExists) { try SafetensorsWriter.write(source, to: dir + "/model.safetensors.index.json", options: options, maxShardSize: 200) }
        #expect(directoryListing(dir) == before)
        options.inputs = []
        try SafetensorsWriter.write(memory, to: dir + "/model.safetensors.index.json", options: options, maxShardSize: 200)
        try expectSameTensors(memory, SafetensorsSource(path: dir + "/model.safetensors.index.json"))
    }

    /// Writes a two-shard set of tensors a, b (shard 1) and c (shard 2) and returns the index path.
    func twoShards(_ dir: String) throws -> String {
        let infos = ["a", "b", "c"].map { TensorInfo(name: $0, dtype: .float32, shape: [2]) }
        try SafetensorsWriter.write(MemorySource(CheckpointIndex(tensors: infos), infos.map { _ in [UInt8](repeating: 1, count: 8) }),
                                    to: dir + "/model.safetensors.index.json", maxShardSize: 16)
        #expect(directoryListing(dir) == ["model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors", "model.safetensors.index.json"])
        return dir + "/model.safetensors.index.json"
    }

    func writeIndex(_ path: String, _ weightMap: [(String, String)]) throws {
        let v = JSONValue.object([("metadata", .object([("total_size", .number(24))])), ("weight_map", .object(weightMap.map { ($0.0, .string($0.1)) }))])
        try TestEnv.write(v.serializedBytes(.pretty), to: path)
    }

    @Test("The index and the shards are checked against each other, both ways")
    func shardedIndexChecks() throws {
        let dir = try TestEnv.temporaryDirectory()
        defer { TestEnv.cleanup(dir) }
        let index = try twoShards(dir)
        let s1 = "model-00001-of-00002.safetensors", s2 = "model-00002-of-00002.safetensors"
        _ = try SafetensorsSource(path: index)

        // A shard the index names is missing.
        try writeIndex(index, [("a", s1), ("b", s1), ("c", "model-00003-of-00003.safetensors")])
        var e = expectError(.missingPart) { _ = try SafetensorsSource(path: index) }
        #expect(e?.description.contains("model-00003-of-00003.safetensors") == true)
        #expect(e?.description.contains("\"c\"") == true)
        #expect(e?.file == index)

        // A tensor in a shard that the index does not list.
        try writeIndex(index, [("a", s1), ("c", s2)])
        e = expectError(.invalidSafetensors) { _ = try SafetensorsSource(path: index) }
        #expect(e?.member == "b" && e?.file == dir + "/" + s1)
        #expect(e?.description.contains("does not list") == true)

        // An index entry whose shard lacks it.
        try writeIndex(index, [("a", s1), ("b", s1), ("c", s2), ("d", s2)])
        e = expectError(.invalidSafetensors) { _ = try SafetensorsSource(path: index) }
        #expect(e?.member == "d" && e?.file == index)
        #expect(e?.description.contains("does not hold it") == true)

        // A tensor the index assigns to another shard.
        try writeIndex(index, [("a", s1), ("b", s2), ("c", s2)])
        e = expectError(.invalidSafetensors) { _ = try SafetensorsSource(path: index) }
        #expect(e?.member == "b")
        #expect(e?.description.contains("assigns to shard") == true)

        // Shard names are plain file names next to the index.
        try writeIndex(index, [("a", "../" + s1), ("b", s1), ("c", s2)])
        e = expectError(.unsafeName) { _ = try SafetensorsSource(path: index) }
        #expect(e?.member == "a")
        try writeIndex(index, [("a", "/etc/passwd")])
        expectError(.unsafeName) { _ = try SafetensorsSource(path: index) }

        // Malformed indexes.
        try TestEnv.write(Array(#"{"metadata": {}}"#.utf8), to: index)
        expectError(.invalidSafetensors) { _ = try SafetensorsSource(path: index) }
        try TestEnv.write(Array(#"{"weight_map": {"a": "x", "a": "y"}}"#.utf8), to: index)
        expectError(.duplicateName) { _ = try SafetensorsSource(path: index) }
        try TestEnv.write(Array(#"{"weight_map": {"a": 3}}"#.utf8), to: index)
        expectError(.invalidSafetensors) { _ = try SafetensorsSource(path: index) }
        try TestEnv.write(Array(#"{"weight_map": []}"#.utf8), to: index)
        expectError(.invalidSafetensors) { _ = try SafetensorsSource(path: index) }
        try TestEnv.write(Array(#"{"weight_map": {"a": "#.utf8), to: index)
        expectError(.invalidJSON) { _ = try SafetensorsSource(path: index) }
        try TestEnv.write(Array(#"[1]"#.utf8), to: index)
        expectError(.invalidSafetensors) { _ = try SafetensorsSource(path: index) }

        // A shard that is itself broken is reported as such, naming the shard.
        try writeIndex(index, [("a", s1), ("b", s1), ("c", s2)])
        try TestEnv.write(SafetensorsForge.file("{\"c\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", data: [1, 2, 3]), to: dir + "/" + s2)
        e = expectError(.truncated) { _ = try SafetensorsSource(path: index) }
        #expect(e?.file == dir + "/" + s2 && e?.member == "c")
    }

    // MARK: Reading

    @Test("Opening reads only the header: a 4 GiB sparse file opens at once and reads anywhere")
    func openReadsOnlyTheHeader() throws {
        let dir = try TestEnv.temporaryDirectory()
        defer { TestEnv.cleanup(dir) }
        let n = 1 << 30
        let header = SafetensorsWriter.encodeHeader([TensorInfo(name: "huge", dtype: .float32, shape: [n])], metadata: [])
        let path = dir + "/huge.safetensors"
        try TestEnv.write(header, to: path)
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        try handle.truncate(atOffset: UInt64(header.count) + UInt64(4 * n))
        try handle.seekToEnd()
        try handle.close()
        let source = try SafetensorsSource(path: path)
        #expect(source.shards[0].file.statistics.bytesRead == UInt64(header.count), "opening read only the 8-byte length and the header")
        #expect(source.index.tensors[0].byteCount == 4 * n)
        let pieces = source.pieces(of: 0)
        #expect(pieces.count == 4 * n / ContainerSpec.chunkSize)
        var last: [UInt8] = []
        try source.readPiece(0, pieces.count - 1) { last += $0 }
        #expect(last.count == ContainerSpec.chunkSize && last.allSatisfy { $0 == 0 })
        #expect(source.shards[0].file.statistics.bytesRead == UInt64(header.count + ContainerSpec.chunkSize))
        // The in-memory limit applies to whole-tensor reads.
        var limits = Limits()
        limits.maxInMemoryTensorBytes = 1 << 20
        expectError(.limitExceeded) { _ = try source.readTensorBytes(0, limits: limits) }
    }

    @Test("A file that shrinks after opening gives .truncated, naming the tensor")
    func shrinksAfterOpening() throws {
        let dir = try TestEnv.temporaryDirectory()
        defer { TestEnv.cleanup(dir) }
        let (index, data) = SampleTensors.make(big: false)
        try SafetensorsWriter.write(MemorySource(index, data), to: dir + "/x.safetensors")
        let source = try SafetensorsSource(path: dir + "/x.safetensors")
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: dir + "/x.safetensors"))
        try handle.truncate(atOffset: source.shards[0].header.dataStart + 4)
        try handle.close()
        let last = source.index.tensors.count - 1
        let e = expectError(.truncated) { _ = try source.readTensorBytes(last) }
        #expect(e?.member == source.index.tensors[last].name)
        // Writing from it fails cleanly, leaving nothing behind.
        expectError(.truncated) { try SafetensorsWriter.write(source, to: dir + "/y.safetensors") }
        #expect(directoryListing(dir) == ["x.safetensors"])
    }

    // MARK: Writing

    @Test("Writer refusals: duplicate names, __metadata__, lying sources, existing outputs, the input itself")
    func writerRefusals() throws {
        let dir = try TestEnv.temporaryDirectory()
        defer { TestEnv.cleanup(dir) }
        let w = TensorInfo(name: "w", dtype: .float32, shape: [1])
        expectError(.duplicateName) { try SafetensorsWriter.write(MemorySource(CheckpointIndex(tensors: [w, w]), [[0, 0, 0, 0], [0, 0, 0, 0]]), to: dir + "/a.safetensors") }
        var m = w
        m.name = "__metadata__"
        expectError(.invalidArgument) { try SafetensorsWriter.write(MemorySource(CheckpointIndex(tensors: [m]), [[0, 0, 0, 0]]), to: dir + "/a.safetensors") }
        let big = TensorInfo(name: "b", dtype: .float32, shape: [300])
        expectError(.corrupt) { try SafetensorsWriter.write(MemorySource(CheckpointIndex(tensors: [big]), [[UInt8](repeating: 0, count: 1200)], skew: -1), to: dir + "/a.safetensors") }
        expectError(.corrupt) { try SafetensorsWriter.write(MemorySource(CheckpointIndex(tensors: [big]), [[UInt8](repeating: 0, count: 1200)], skew: 3), to: dir + "/a.safetensors") }
        #expect(directoryListing(dir).isEmpty)
        // Some tensors only, in the order asked; then the file exists.
        let (index, data) = SampleTensors.make(big: false)
        try SafetensorsWriter.write(MemorySource(index, data), tensors: [0, 2], to: dir + "/a.safetensors")
        #expect(Set(try SafetensorsSource(path: dir + "/a.safetensors").index.tensors.map(\.name)) == [index.tensors[0].name, index.tensors[2].name])
        expectError(.outputExists) { try SafetensorsWriter.write(MemorySource(index, data), to: dir + "/a.safetensors") }
        let source = try SafetensorsSource(path: dir + "/a.safetensors")
        expectError(.outputExists) {
            try SafetensorsWriter.write(source, to: dir + "/a.safetensors", options: WriteOptions(overwrite: true, inputs: source.files))
        }
        let box = ProgressBox()
        var options = WriteOptions(overwrite: true)
        options.progress = { done, total in box.add(done, total) }
        try SafetensorsWriter.write(MemorySource(index, data), to: dir + "/a.safetensors", options: options)
        #expect(box.values.count == index.tensors.count)
        #expect(box.values.last == UInt64(data.reduce(0) { $0 + $1.count }))
    }

    @Test("--max-shard-size values", arguments: [
        ("500MB", UInt64(500_000_000)), ("2GB", 2_000_000_000), ("1GiB", 1 << 30), ("1000000", 1_000_000), ("5gb", 5_000_000_000),
        ("1.5GB", 1_500_000_000), ("10 KiB", 10_240), ("7B", 7), ("2k", 2000), ("0.5MiB", 524_288), (" 3TB ", 3_000_000_000_000),
    ])
    func sizes(text: String, value: UInt64) throws {
        #expect(try SafetensorsWriter.parseSize(text) == value)
    }

    @Test("Bad --max-shard-size values are refused with a hint", arguments: ["", "MB", "0", "0GB", "-1GB", "1.GB", "12XB", "1e9", "99999999999999999999", "20000000TB", "1.2.3GB"])
    func badSizes(text: String) {
        let e = expectError(.invalidArgument) { _ = try SafetensorsWriter.parseSize(text) }
        #expect(e?.hint?.contains("500MB") == true)
    }

    // MARK: Cross-check with Python (numpy + safetensors)

    @Test("safetensors.numpy.load_file reads what we write, equal to the source; save_file writes the same bytes", .requires(.numpy, .safetensors))
    func pythonReadsOurFiles() throws {
        let dir = try TestEnv.temporaryDirectory()
        defer { TestEnv.cleanup(dir) }
        // numpy has no bfloat16 or float8: everything else.
        let (index, data) = SampleTensors.make(dtypes: DType.allCases.filter { !$0.numpyLacks })
        let memory = MemorySource(index, data)
        var single = index
        single.metadata = .object([("format", .string("np"))]) // one key: Python orders metadata at random
        try SafetensorsWriter.write(MemorySource(single, data), to: dir + "/one.safetensors")
        try SafetensorsWriter.write(memory, to: dir + "/model.safetensors.index.json", maxShardSize: 2000)
        // The expected values: raw bytes per tensor, with dtype and shape.
        var manifest: [JSONValue] = []
        for (k, t) in index.tensors.enumerated() {
            try TestEnv.write(data[k], to: dir + "/expected-\(k).bin")
            manifest.append(.object([("name", .string(t.name)), ("dtype", .string(t.dtype.npyDescr)), ("shape", .array(t.shape.map { .number($0) })), ("file", .string("expected-\(k).bin"))]))
        }
        try TestEnv.write(JSONValue.array(manifest).serializedBytes(), to: dir + "/expected.json")
        let out = try TestEnv.python("""
        import sys, os, json, numpy as np
        from safetensors.numpy import load_file, save_file, save
        from safetensors import safe_open
        d = sys.argv[1]
        expected = json.load(open(os.path.join(d, 'expected.json'), encoding='utf-8'))
        def check(tensors, label):
            assert sorted(tensors) == sorted(e['name'] for e in expected), (label, sorted(tensors))
            for e in expected:
                a = tensors[e['name']]
                raw = open(os.path.join(d, e['file']), 'rb').read()
                assert a.dtype == np.dtype(e['dtype']), (label, e['name'], a.dtype, e['dtype'])
                assert list(a.shape) == e['shape'], (label, e['name'], a.shape)
                assert np.ascontiguousarray(a).tobytes() == raw, (label, e['name'])
        one = load_file(os.path.join(d, 'one.safetensors'))
        check(one, 'single')
        with safe_open(os.path.join(d, 'one.safetensors'), framework='np') as f:
            assert f.metadata() == {'format': 'np'}, f.metadata()
        # safetensors writes the very same bytes from the same tensors.
        again = save(one, metadata={'format': 'np'})
        assert again == open(os.path.join(d, 'one.safetensors'), 'rb').read(), 'save() differs from our file'
        index = json.load(open(os.path.join(d, 'model.safetensors.index.json'), encoding='utf-8'))
        shards = sorted(set(index['weight_map'].values()))
        merged = {}
        for s in shards:
            part = load_file(os.path.join(d, s))
            for k in part:
                assert index['weight_map'][k] == s, (k, s)
            merged.update(part)
        check(merged, 'sharded')
        assert index['metadata']['total_size'] == sum(a.nbytes for a in merged.values())
        print('ok', len(shards))
        """, [dir])
        #expect(out.hasPrefix("ok "), "\(out)")
    }

    @Test("We read what safetensors.numpy.save_file writes (metadata, every numpy dtype, a sharded set made by hand)", .requires(.numpy, .safetensors))
    func weReadPythonFiles() throws {
        let dir = try TestEnv.temporaryDirectory()
        defer { TestEnv.cleanup(dir) }
        _ = try TestEnv.python("""
        import sys, os, json, numpy as np
        from safetensors.numpy import save_file
        d = sys.argv[1]
        rng = np.random.default_rng(5)
        t = {}
        for i, dt in enumerate(['bool', 'uint8', 'int8', 'int16', 'uint16', 'float16', 'int32', 'uint32', 'float32', 'float64', 'int64', 'uint64']):
            t[f'x{i}/{dt}'] = (rng.integers(0, 255, size=(2, i + 1)) % (2 if dt == 'bool' else 255)).astype(dt)
        t['scalar'] = np.array(2.5)
        t['empty'] = np.zeros((0, 3), np.float32)
        t['ñame'] = rng.standard_normal((300, 1000)).astype(np.float32)
        save_file(t, os.path.join(d, 'py.safetensors'), metadata={'format': 'np', 'ünï': 'cödé\\n'})
        for k, v in t.items():
            open(os.path.join(d, k.replace('/', '_') + '.bin'), 'wb').write(np.ascontiguousarray(v).tobytes())
        # A transformers-style sharded set.
        names = sorted(t)
        parts = [names[:5], names[5:]]
        wm = {}
        for i, p in enumerate(parts):
            fn = f'model-{i+1:05d}-of-{len(parts):05d}.safetensors'
            save_file({k: t[k] for k in p}, os.path.join(d, fn), metadata={'format': 'pt'})
            wm.update({k: fn for k in p})
        json.dump({'metadata': {'total_size': sum(v.nbytes for v in t.values())}, 'weight_map': dict(sorted(wm.items()))},
                  open(os.path.join(d, 'model.safetensors.index.json'), 'w'), indent=2, sort_keys=True)
        """, [dir])
        let single = try SafetensorsSource(path: dir + "/py.safetensors")
        #expect(single.index.tensors.count == 15)
        #expect(Set(single.index.metadata.objectValue?.map(\.0) ?? []) == ["format", "ünï"])
        #expect(single.index.metadata["ünï"] == .string("cödé\n"))
        for (i, t) in single.index.tensors.enumerated() {
            let expected = try TestEnv.read(dir + "/" + t.name.replacingOccurrences(of: "/", with: "_") + ".bin")
            #expect(try single.readTensorBytes(i) == expected, "\(t.name)")
        }
        #expect(single.index.tensors.first { $0.name == "scalar" }?.shape == [])
        let sharded = try SafetensorsSource(path: dir + "/model.safetensors.index.json")
        #expect(sharded.shards.count == 2 && sharded.index.metadata == .object([("format", .string("pt"))]))
        try expectSameTensors(single, sharded)
        // Ours, from Python's, is Python's byte for byte (metadata order kept as read).
        try SafetensorsWriter.write(single, to: dir + "/ours.safetensors")
        #expect(try TestEnv.read(dir + "/ours.safetensors") == TestEnv.read(dir + "/py.safetensors"))
    }
}

/// Collects progress reports from the writing thread.
final class ProgressBox: @unchecked Sendable {
    private let lock = NSLock()
    private var _values: [UInt64] = []
    func add(_ done: UInt64, _ total: UInt64) { lock.lock(); _values.append(done); lock.unlock() }
    var values: [UInt64] { lock.lock(); defer { lock.unlock() }; return _values }
}
