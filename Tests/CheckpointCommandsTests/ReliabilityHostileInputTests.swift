import Foundation
import Testing
import CheckpointTestSupport
@testable import CheckpointCommands
@testable import CheckpointKit

/// A `.ckpt` built member by member (all stored), with a manifest that says what the members
/// hold unless a test makes it lie: the container analogue of HostileZipTests' ZipForge.
struct CraftedContainer {
    struct Tensor {
        var name: String
        var dtype: DType = .float32
        var shape: [Int]
        var data: [UInt8]
        var role: TensorRole = .weight
        /// The member's npy header; default: the one numpy writes for dtype and shape.
        var header: [UInt8]? = nil

        init(_ name: String, _ dtype: DType = .float32, _ shape: [Int], data: [UInt8]? = nil, role: TensorRole = .weight, header: [UInt8]? = nil) {
            self.name = name
            self.dtype = dtype
            self.shape = shape
            self.data = data ?? [UInt8](repeating: 0, count: TensorInfo(name: name, dtype: dtype, shape: shape).byteCount ?? 0)
            self.role = role
            self.header = header
        }

        var member: [UInt8] { (header ?? NPY.header(dtype: dtype, shape: shape)) + data }
        var headerSize: Int { (header ?? NPY.header(dtype: dtype, shape: shape)).count }
    }

    var tensors: [Tensor]
    var kind = "weights"
    var architecture: [UInt8]? = nil
    var optimizer: [UInt8]? = nil
    /// Edits the manifest's top-level members (and, through them, the tensor entries).
    var editManifest: (inout [(String, JSONValue)]) -> Void = { _ in }
    /// Edits tensor entry `k` of the manifest.
    var editEntry: (Int, inout [(String, JSONValue)]) -> Void = { _, _ in }
    /// Replaces the manifest's bytes entirely.
    var rawManifest: [UInt8]? = nil
    /// Members added after the manifest's view of the archive (name, bytes).
    var extraMembers: [(String, [UInt8])] = []
    /// Members left out of the archive (by name).
    var dropMembers: Set<String> = []

    init(_ tensors: [Tensor]) { self.tensors = tensors }

    static func set(_ list: inout [(String, JSONValue)], _ key: String, _ value: JSONValue?) {
        if let i = list.firstIndex(where: { $0.0 == key }) {
            if let value { list[i].1 = value } else { list.remove(at: i) }
        } else if let value {
            list.append((key, value))
        }
    }

    func manifestBytes() -> [UInt8] {
        if let rawManifest { return rawManifest }
        var entries: [JSONValue] = []
        for (k, t) in tensors.enumerated() {
            let m = t.member
            var e: [(String, JSONValue)] = [
                ("name", .string(t.name)), ("member", .string(t.name + ".npy")), ("dtype", .string(t.dtype.rawValue)),
                ("shape", .array(t.shape.map { .number($0) })), ("role", .string(t.role.rawValue)), ("trainable", .bool(t.role == .weight)),
                ("crc32", .number(crc32(m))), ("size", .number(m.count)), ("stored_size", .number(m.count)), ("header_size", .number(t.headerSize)),
            ]
            editEntry(k, &e)
            entries.append(.object(e))
        }
        var top: [(String, JSONValue)] = [
            ("format", .string("ckpt")), ("format_version", .array([.number(1), .number(0)])), ("kind", .string(kind)),
            ("producer", .string("test")), ("chunk_size", .number(1 << 20)), ("metadata", .object([])),
            ("architecture", architecture == nil ? .null : .string("architecture.json")),
            ("optimizer", optimizer == nil ? .null : .object([("member", .string("optimizer.json")), ("class_name", .string("SGD")), ("iterations", .number(0))])),
            ("tensors", .array(entries)),
        ]
        editManifest(&top)
        return JSONValue.object(top).serializedBytes(.pretty)
    }

    func bytes() -> [UInt8] {
        var members: [(String, [UInt8])] = tensors.map { ($0.name + ".npy", $0.member) }
        if let architecture { members.append(("architecture.json", architecture)) }
        if let optimizer { members.append(("optimizer.json", optimizer)) }
        members += extraMembers
        members.append(("manifest.json", manifestBytes()))
        return StoredZip.bytes(members.filter { !dropMembers.contains($0.0) })
    }

    func write(to path: String) throws { try Data(bytes()).write(to: URL(fileURLWithPath: path)) }
}

/// A stored-only ZIP writer that writes exactly what it is given (names, data), for containers
/// whose members are hostile but whose ZIP structure is sound.
enum StoredZip {
    /// `gaps[i]`: bytes that belong to no member, written before member `i` (`members.count`:
    /// before the central directory); the directory's offsets account for them.
    static func bytes(_ members: [(String, [UInt8])], gaps: [Int: [UInt8]] = [:]) -> [UInt8] {
        var out: [UInt8] = []
        var central: [UInt8] = []
        for (i, (name, data)) in members.enumerated() {
            out += gaps[i] ?? []
            let offset = UInt32(out.count)
            let n = Array(name.utf8)
            let crc = crc32(data)
            func fields(_ b: inout [UInt8]) {
                b.appendLE(UInt16(0)); b.appendLE(UInt16(0)); b.appendLE(UInt16(0)); b.appendLE(UInt16(0x21))
                b.appendLE(crc); b.appendLE(UInt32(data.count)); b.appendLE(UInt32(data.count)); b.appendLE(UInt16(n.count)); b.appendLE(UInt16(0))
            }
            out.appendLE(UInt32(0x0403_4B50)); out.appendLE(UInt16(20)); fields(&out); out += n + data
            central.appendLE(UInt32(0x0201_4B50)); central.appendLE(UInt16(0x031E)); central.appendLE(UInt16(20)); fields(&central)
            central.appendLE(UInt16(0)); central.appendLE(UInt16(0)); central.appendLE(UInt16(0)); central.appendLE(UInt32(0o100644 << 16))
            central.appendLE(offset); central += n
        }
        out += gaps[members.count] ?? []
        let cdStart = UInt32(out.count)
        out += central
        out.appendLE(UInt32(0x0605_4B50)); out.appendLE(UInt16(0)); out.appendLE(UInt16(0))
        out.appendLE(UInt16(members.count)); out.appendLE(UInt16(members.count)); out.appendLE(UInt32(central.count)); out.appendLE(cdStart); out.appendLE(UInt16(0))
        return out
    }
}

/// Hostile input, each refused with exit 2 and one clear sentence naming the file: `.npy` members
/// inside a container, manifests that lie or break the JSON rules, optimizer and architecture
/// JSON, and ZIP structures, through `ckpt inspect --verify` (and `rebuild` for architectures);
/// the library's error code checked alongside.
@Suite("Reliability: hostile input")
struct ReliabilityHostileInputTests {
    static func f32(_ v: [Float]) -> [UInt8] { v.flatMap { withUnsafeBytes(of: $0.bitPattern.littleEndian, Array.init) } }

    /// A header in numpy's layout (version `major`), padded to 64 bytes, for any dict text.
    static func npyHeader(_ dict: String, major: UInt8 = 1, declaredLength: UInt32? = nil) -> [UInt8] {
        var text = Array(dict.utf8)
        let pre = major == 1 ? 10 : 12
        text += [UInt8](repeating: 0x20, count: (64 - (pre + text.count + 1) % 64) % 64) + [0x0A]
        var h = NPY.magic + [major, 0]
        if major == 1 { h.appendLE(UInt16(declaredLength ?? UInt32(text.count))) } else { h.appendLE(declaredLength ?? UInt32(text.count)) }
        return h + text
    }

    /// Writes the container; expects the library to refuse it with `code` (opening, or verifying
    /// when `atVerify`) and `ckpt inspect --verify` to exit 2 with one sentence mentioning `words`.
    func refuse(_ c: CraftedContainer, _ code: CheckpointError.Code, atVerify: Bool = false, _ words: [String] = [],
                sourceLocation: SourceLocation = #_sourceLocation) throws {
        let dir = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/hostile.ckpt"
        try c.write(to: path)
        do {
            let a = try CheckpointArchive(path: path)
            #expect(atVerify, "opened without complaint", sourceLocation: sourceLocation)
            try a.verify()
            Issue.record("accepted; expected \(code)", sourceLocation: sourceLocation)
        } catch let e as CheckpointError {
            #expect(e.code == code, "expected \(code), got \(e.code): \(e)", sourceLocation: sourceLocation)
        }
        let r = CLI.run(["inspect", path, "--verify"])
        CLI.expectSentence(r, mentioning: ["hostile.ckpt"] + words, sourceLocation: sourceLocation)
    }

    static let kernel = CraftedContainer.Tensor("dense/kernel", .float32, [2, 3], data: f32([1, 2, 3, 4, 5, 6]))
    static let bias = CraftedContainer.Tensor("dense/bias", .float32, [3])

    @Test("The crafted container itself is sound (so each refusal below is about its one lie)")
    func honestCraftedContainer() throws {
        let dir = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var c = CraftedContainer([Self.kernel, Self.bias])
        c.kind = "full"
        c.optimizer = Array(#"{"class_name": "SGD", "config": {"learning_rate": 0.01}, "iterations": 0}"#.utf8)
        c.tensors.append(.init("optimizer/iteration", .int64, [], role: .optimizer))
        c.architecture = Array(#"{"class_name": "Sequential", "config": {"layers": []}}"#.utf8)
        try c.write(to: dir + "/ok.ckpt")
        let a = try CheckpointArchive(path: dir + "/ok.ckpt")
        try a.verify()
        #expect(try a.readTensorBytes(0) == Self.f32([1, 2, 3, 4, 5, 6]))
        let r = CLI.run(["inspect", dir + "/ok.ckpt", "--verify"])
        #expect(r.status == 0, "\(r.err)")
    }

    // MARK: .npy members inside a container

    @Test(".npy members: object dtype (pickle), a header above its cap, negative and overflowing shapes, Fortran order, big-endian, sizes that disagree")
    func npyMembers() throws {
        func withHeader(_ dict: String, major: UInt8 = 1, declared: UInt32? = nil, dataCount: Int = 24) -> CraftedContainer {
            let h = Self.npyHeader(dict, major: major, declaredLength: declared)
            var t = CraftedContainer.Tensor("dense/kernel", .float32, [2, 3], data: [UInt8](repeating: 0, count: dataCount), header: h)
            t.header = h
            return CraftedContainer([t])
        }
        try refuse(withHeader("{'descr': '|O', 'fortran_order': False, 'shape': (2, 3), }"), .unsupported, atVerify: true, ["pickle"])
        try refuse(withHeader("{'descr': '<f4', 'fortran_order': False, 'shape': (-2, 3), }"), .invalidNPY, atVerify: true, ["negative"])
        try refuse(withHeader("{'descr': '<f4', 'fortran_order': False, 'shape': (4611686018427387904, 4), }"), .limitExceeded, atVerify: true, ["63 bits"])
        try refuse(withHeader("{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999999, 4), }"), .invalidNPY, atVerify: true)
        try refuse(withHeader("{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3), }"), .invalidManifest, atVerify: true, ["Fortran order"])
        try refuse(withHeader("{'descr': '>f4', 'fortran_order': False, 'shape': (2, 3), }"), .invalidManifest, atVerify: true, [">f4"])
        // The header says another shape than the manifest (same byte count, and a different one).
        try refuse(withHeader("{'descr': '<f4', 'fortran_order': False, 'shape': (3, 2), }"), .invalidManifest, atVerify: true, ["[3, 2]", "float32 [2, 3]"])
        try refuse(withHeader("{'descr': '<i8', 'fortran_order': False, 'shape': (2, 3), }"), .invalidManifest, atVerify: true, ["<i8"])
        // A version 2 header whose length field claims 1 GiB: refused before anything is allocated.
        try refuse(withHeader("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", major: 2, declared: 1 << 30), .limitExceeded, atVerify: true, ["limit"])
        // Garbage where the header should be.
        var junk = Self.kernel
        junk.header = [UInt8](repeating: 0x41, count: 128)
        try refuse(CraftedContainer([junk]), .invalidNPY, atVerify: true, ["NUMPY"])
        // The manifest's own sizes: a header_size above the cap, a size that is not header + data.
        var cap = CraftedContainer([Self.kernel])
        cap.editEntry = { _, e in CraftedContainer.set(&e, "header_size", .number(70_000)) }
        try refuse(cap, .invalidManifest, ["header_size"])
        var size = CraftedContainer([Self.kernel])
        size.editEntry = { _, e in CraftedContainer.set(&e, "shape", .array([.number(2), .number(4)])) }
        try refuse(size, .invalidManifest, ["dense/kernel"])
    }

    @Test(".npz members: headers that disagree with the member size, negative shapes, huge headers; object arrays listed, refused by convert")
    func npzMembers() throws {
        let dir = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let cases: [(String, [UInt8], CheckpointError.Code, String)] = [
            ("short", Self.npyHeader("{'descr': '<f4', 'fortran_order': False, 'shape': (5,), }") + [UInt8](repeating: 0, count: 12), .invalidNPY, "holds"),
            ("long", Self.npyHeader("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }") + [UInt8](repeating: 0, count: 12), .invalidNPY, "holds"),
            ("negative", Self.npyHeader("{'descr': '<f4', 'fortran_order': False, 'shape': (-1,), }"), .invalidNPY, "negative"),
            ("huge", Self.npyHeader("{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }", major: 2, declaredLength: 0x7FFF_FFFF), .limitExceeded, "limit"),
        ]
        for (name, member, code, word) in cases {
            let path = dir + "/\(name).npz"
            try Data(StoredZip.bytes([("x.npy", member)])).write(to: URL(fileURLWithPath: path))
            do {
                let npz = try NPZSource(path: path)
                for i in npz.index.tensors.indices { _ = try npz.readTensorBytes(i) }
                Issue.record("\(name): accepted")
            } catch let e as CheckpointError {
                #expect(e.code == code, "\(name): expected \(code), got \(e.code): \(e)")
            }
            CLI.expectSentence(CLI.run(["inspect", path]), mentioning: ["\(name).npz", word])
        }
        // An object array (pickle) is listed, never read; convert refuses it by name, writing nothing.
        let object = dir + "/object.npz"
        try Data(StoredZip.bytes([("x.npy", Self.npyHeader("{'descr': '|O', 'fortran_order': False, 'shape': (2,), }") + [0x80, 0x04])])).write(to: URL(fileURLWithPath: object))
        let listed = CLI.run(["inspect", object])
        #expect(listed.status == 0 && listed.out.contains("pickle"), "\(listed.err)")
        CLI.expectSentence(CLI.run(["convert", object, dir + "/out.safetensors"]), mentioning: ["object.npz", "\"x\"", "pickle", "--skip-unsupported"])
        #expect(!FileManager.default.fileExists(atPath: dir + "/out.safetensors"))
        // Fortran order is read (transposed as numpy does).
        let fortran = dir + "/fortran.npz"
        let values: [Float] = [1, 2, 3, 4]
        try Data(StoredZip.bytes([("x.npy", Self.npyHeader("{'descr': '<f4', 'fortran_order': True, 'shape': (2, 2), }") + values.flatMap { withUnsafeBytes(of: $0.bitPattern.littleEndian, Array.init) })])).write(to: URL(fileURLWithPath: fortran))
        let npz = try NPZSource(path: fortran)
        #expect(try npz.readTensorBytes(0) == ([1, 3, 2, 4] as [Float]).flatMap { withUnsafeBytes(of: $0.bitPattern.littleEndian, Array.init) })
    }

    // MARK: The manifest

    static func manifest(_ text: String) -> CraftedContainer {
        var c = CraftedContainer([Self.kernel])
        c.rawManifest = Array(text.utf8)
        return c
    }

    static let goodEntry = #"{"name": "dense/kernel", "member": "dense/kernel.npy", "dtype": "float32", "shape": [2, 3], "role": "weight", "crc32": CRC, "size": 152, "stored_size": 152, "header_size": 128}"#

    /// A manifest text around the honest entry, with `CRC` filled in.
    static func manifestText(top: String = #""format": "ckpt", "format_version": [1, 0], "kind": "weights""#, entry: String = goodEntry, after: String = "") -> String {
        let entry = entry.replacingOccurrences(of: "CRC", with: String(crc32(Self.kernel.member)))
        return "{" + top + #", "tensors": ["# + entry + "]" + after + "}"
    }

    @Test("Manifest JSON: deep nesting, huge numbers, wrong types, duplicate keys")
    func manifestJSON() throws {
        // Sanity: the template is accepted.
        let dir = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try Self.manifest(Self.manifestText()).write(to: dir + "/ok.ckpt")
        #expect(CLI.run(["inspect", dir + "/ok.ckpt", "--verify"]).status == 0)

        // Deep nesting: 200 levels, and 100 000 (no stack overflow either way).
        for depth in [200, 100_000] {
            let deep = String(repeating: "[", count: depth) + String(repeating: "]", count: depth)
            try refuse(Self.manifest(Self.manifestText(after: #", "metadata": {"x": "# + deep + "}")), .invalidJSON, ["nesting deeper than 128 levels", "manifest.json"])
        }
        // Huge numbers where integers are needed.
        try refuse(Self.manifest(Self.manifestText(top: #""format": "ckpt", "format_version": [1, 0], "kind": "weights", "chunk_size": 1e400"#)), .invalidJSON, ["1e400"])
        try refuse(Self.manifest(Self.manifestText(entry: Self.goodEntry.replacingOccurrences(of: #""size": 152"#, with: #""size": 99999999999999999999"#))),
                   .invalidJSON, ["too large for 64 bits"])
        try refuse(Self.manifest(Self.manifestText(entry: Self.goodEntry.replacingOccurrences(of: "[2, 3]", with: "[2, 9223372036854775807]"))),
                   .invalidManifest, ["overflows"])
        try refuse(Self.manifest(Self.manifestText(entry: Self.goodEntry.replacingOccurrences(of: "[2, 3]", with: "[2, -3]"))), .invalidManifest, ["negative"])
        try refuse(Self.manifest(Self.manifestText(entry: Self.goodEntry.replacingOccurrences(of: #""size": 152"#, with: #""size": -152"#))), .invalidManifest, ["size"])
        // A size that disagrees with the header and the shape.
        try refuse(Self.manifest(Self.manifestText(entry: Self.goodEntry.replacingOccurrences(of: #""size": 152"#, with: #""size": 153"#))),
                   .invalidManifest, ["says the member is 153 bytes"])
        try refuse(Self.manifest(Self.manifestText(top: #""format": "ckpt", "format_version": [1, 0], "kind": "weights", "chunk_size": 12"#)), .invalidManifest, ["chunk_size"])
        // A number too long to be a number.
        try refuse(Self.manifest(Self.manifestText(after: #", "metadata": {"x": 1"# + String(repeating: "0", count: 100) + "}")), .invalidJSON, ["characters long"])
        // Wrong types.
        for (top, word) in [(#""format": "ckpt", "format_version": "1.0", "kind": "weights""#, "array"),
                            (#""format": "ckpt", "format_version": [1, 0], "kind": 5"#, "string"),
                            (#""format": 1, "format_version": [1, 0], "kind": "weights""#, "string"),
                            (#""format": "ckpt", "format_version": [1, 0], "kind": "weights", "metadata": [1]"#, "not an object"),
                            (#""format": "ckpt", "format_version": [1, 0], "kind": "weights", "optimizer": "adam""#, "object")] {
            try refuse(Self.manifest(Self.manifestText(top: top)), top.contains("metadata") ? .invalidManifest : .invalidJSON, [word])
        }
        for (from, to) in [("[2, 3]", #""2x3""#), (#""role": "weight""#, #""role": 1"#), (#""crc32": CRC"#, #""crc32": "CRC""#),
                           (#""role": "weight""#, #""role": "weight", "trainable": "yes""#), ("[2, 3]", "[2.5, 3]")] {
            try refuse(Self.manifest(Self.manifestText(entry: Self.goodEntry.replacingOccurrences(of: from, with: to))), .invalidJSON, ["manifest"])
        }
        try refuse(Self.manifest("[1, 2, 3]"), .invalidManifest, ["not a JSON object"])
        try refuse(Self.manifest(#"{"format": "ckpt", "format_version": [1, 0], "kind": "weights", "tensors": {}}"#), .invalidJSON, ["array"])
        try refuse(Self.manifest(Self.manifestText(top: #""format": "ckpt", "format": "ckpt", "format_version": [1, 0], "kind": "weights""#)), .invalidJSON, ["duplicate key"])
        try refuse(Self.manifest(Self.manifestText(entry: Self.goodEntry.replacingOccurrences(of: #""role": "weight""#, with: #""role": "weight", "role": "weight""#))),
                   .invalidManifest, ["repeats a key"])
        try refuse(Self.manifest(Self.manifestText() + " trailing"), .invalidJSON, ["after the JSON value"])
        try refuse(Self.manifest(""), .invalidManifest, [])
        // The version policy: another major version is refused with a hint.
        try refuse(Self.manifest(Self.manifestText(top: #""format": "ckpt", "format_version": [2, 0], "kind": "weights""#)), .unsupported, ["upgrade ckpt"])
        try refuse(Self.manifest(Self.manifestText(top: #""format": "zip", "format_version": [1, 0], "kind": "weights""#)), .invalidManifest, ["format"])
    }

    @Test("Names in the manifest: control characters, terminal escapes, invalid UTF-8, lone surrogates, traversal")
    func manifestNames() throws {
        func named(_ name: String) -> CraftedContainer {
            var t = Self.kernel
            t.name = name
            return CraftedContainer([t])
        }
        // Raw control characters cannot reach a JSON string; escaped ones are refused as names.
        for name in ["dense\u{1B}[2Jkernel", "dense\u{7}kernel", "a\u{0}b", "dense\u{85}kernel", "../../etc/passwd", "/abs", "a//b", "a/./b"] {
            var c = named(name)
            // The member name must stay a safe ZIP name for the archive to open at all.
            c.editEntry = { _, e in CraftedContainer.set(&e, "member", .string("dense/kernel.npy")) }
            c.tensors[0].name = "dense/kernel"
            c.editEntry = { _, e in CraftedContainer.set(&e, "name", .string(name)) }
            try refuse(c, .unsafeName, ["refused"])
        }
        // Escapes are shown escaped, never as the raw character.
        let dir = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var esc = named("dense/kernel")
        esc.editEntry = { _, e in CraftedContainer.set(&e, "name", .string("x\u{1B}]0;pwned\u{7}")) }
        try esc.write(to: dir + "/esc.ckpt")
        let r = CLI.run(["inspect", dir + "/esc.ckpt"])
        CLI.expectSentence(r, mentioning: ["\\u{1b}]0;pwned\\u{7}"])
        // Invalid UTF-8 in the manifest: a raw 0xFF, an overlong NUL, a lone surrogate escape.
        let text = Self.manifestText()
        for bad in [[0xFF], [0xC0, 0x80], [0xED, 0xA0, 0x80]] as [[UInt8]] {
            var bytes = Array(text.utf8)
            let at = try #require(bytes.firstIndex(of: UInt8(ascii: "k")))  // inside "dense/kernel"
            bytes.replaceSubrange(at..<(at + 1), with: bad)
            var c = CraftedContainer([Self.kernel])
            c.rawManifest = bytes
            try refuse(c, .invalidJSON, ["UTF-8"])
        }
        try refuse(Self.manifest(Self.manifestText(entry: Self.goodEntry.replacingOccurrences(of: "dense/kernel\"", with: #"dense/kernel\ud800""#))),
                   .invalidJSON, ["surrogate"])
    }

    @Test("A manifest that disagrees with the members")
    func manifestDisagrees() throws {
        // CRC-32, size and stored size each disagreeing with the ZIP directory.
        for key in ["crc32", "stored_size"] {
            var c = CraftedContainer([Self.kernel])
            c.editEntry = { _, e in CraftedContainer.set(&e, key, .number(key == "crc32" ? 12345 : 999)) }
            try refuse(c, .invalidManifest, ["disagree"])
        }
        // A tensor whose member is missing; a member the manifest does not list; a tensor listed twice.
        var missing = CraftedContainer([Self.kernel, Self.bias])
        missing.dropMembers = ["dense/bias.npy"]
        try refuse(missing, .invalidManifest, ["no member"])
        var extra = CraftedContainer([Self.kernel])
        extra.extraMembers = [("notes.txt", Array("hi".utf8))]
        try refuse(extra, .invalidManifest, ["does not list", "notes.txt"])
        var twice = CraftedContainer([Self.kernel])
        twice.editManifest = { top in
            if case .array(let a)? = top.first(where: { $0.0 == "tensors" })?.1 { CraftedContainer.set(&top, "tensors", .array(a + a)) }
        }
        try refuse(twice, .duplicateName, ["twice"])
        // A tensor stored under another tensor's member.
        var moved = CraftedContainer([Self.kernel, Self.bias])
        moved.editEntry = { k, e in if k == 1 { CraftedContainer.set(&e, "member", .string("dense/kernel.npy")) } }
        try refuse(moved, .invalidManifest, ["dense/bias"])
        // Kinds that lie about optimizer state.
        var weightsWithSlots = CraftedContainer([Self.kernel, .init("optimizer/iteration", .int64, [], role: .optimizer)])
        weightsWithSlots.kind = "weights"
        try refuse(weightsWithSlots, .invalidManifest, ["optimizer state"])
        var fullWithout = CraftedContainer([Self.kernel])
        fullWithout.kind = "full"
        try refuse(fullWithout, .invalidManifest, ["without optimizer.json"])
        // Architecture / optimizer members named but absent.
        var noArch = CraftedContainer([Self.kernel])
        noArch.editManifest = { CraftedContainer.set(&$0, "architecture", .string("architecture.json")) }
        try refuse(noArch, .invalidManifest, ["architecture"])
        // Chunk offsets for a stored member.
        var chunks = CraftedContainer([Self.kernel])
        chunks.editEntry = { _, e in CraftedContainer.set(&e, "chunks", .array([.number(10), .number(20)])) }
        try refuse(chunks, .invalidManifest, ["chunk"])
        // Iterations: the manifest against optimizer.json, and the step tensor against both.
        var iters = CraftedContainer([Self.kernel, .init("optimizer/iteration", .int64, [], data: [7, 0, 0, 0, 0, 0, 0, 0], role: .optimizer)])
        iters.kind = "full"
        iters.optimizer = Array(#"{"class_name": "SGD", "config": {}, "iterations": 5}"#.utf8)
        try refuse(iters, .invalidManifest, ["iterations"])
        iters.editManifest = { top in
            CraftedContainer.set(&top, "optimizer", .object([("member", .string("optimizer.json")), ("class_name", .string("SGD")), ("iterations", .number(5))]))
        }
        try refuse(iters, .invalidManifest, atVerify: true, ["optimizer/iteration", "7"])
    }

    // MARK: optimizer.json and architecture.json

    @Test("optimizer.json: deep nesting, wrong types, huge numbers, invalid UTF-8")
    func optimizerJSON() throws {
        let deep = String(repeating: "{\"a\":", count: 300) + "1" + String(repeating: "}", count: 300)
        let cases: [(String, CheckpointError.Code, String)] = [
            (#"{"class_name": "SGD", "config": "# + deep + #", "iterations": 0}"#, .invalidJSON, "nesting"),
            (#"{"class_name": 5, "config": {}, "iterations": 0}"#, .invalidManifest, "class_name"),
            (#"{"class_name": "SGD", "config": [], "iterations": 0}"#, .invalidManifest, "config"),
            (#"{"class_name": "SGD", "config": {}, "iterations": "0"}"#, .invalidManifest, "iterations"),
            (#"{"class_name": "SGD", "config": {}, "iterations": 1e400}"#, .invalidManifest, "iterations"),
            (#"{"class_name": "SGD", "config": {}, "iterations": 0.5}"#, .invalidManifest, "iterations"),
            ("{\"class_name\": \"SG\u{FFFD}D\", \"config\": {}, \"iterations\": 0, \"x\": \"\\udc00\"}", .invalidJSON, "surrogate"),
            (#"["not", "an", "object"]"#, .invalidManifest, "class_name"),
        ]
        for (text, code, word) in cases {
            var c = CraftedContainer([Self.kernel, .init("optimizer/iteration", .int64, [], role: .optimizer)])
            c.kind = "full"
            c.optimizer = Array(text.utf8)
            try refuse(c, code, [word, "optimizer.json"])
        }
        var raw = CraftedContainer([Self.kernel, .init("optimizer/iteration", .int64, [], role: .optimizer)])
        raw.kind = "full"
        raw.optimizer = Array(#"{"class_name": "SGD", "config": {}, "iterations": 0}"#.utf8)
        raw.optimizer?[17] = 0xFF
        try refuse(raw, .invalidJSON, ["UTF-8", "optimizer.json"])
    }

    @Test("Architecture JSON through rebuild and inspect: deep nesting, wrong types, huge and negative numbers, hostile names, invalid UTF-8")
    func architectureJSON() throws {
        let dir = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let weights = dir + "/w.ckpt"
        try CheckpointWriter.write(CheckpointIndex(tensors: [TensorInfo(name: "dense/kernel", dtype: .float32, shape: [3, 2]), TensorInfo(name: "dense/bias", dtype: .float32, shape: [2])]),
                                   payloads: [.bytes([UInt8](repeating: 0, count: 24)), .bytes([UInt8](repeating: 0, count: 8))], to: weights)
        func arch(units: String = "2", name: String = #""dense""#, layers: String? = nil, input: String = "[null, 3]") -> String {
            let l = layers ?? """
            [{"module": "keras.layers", "class_name": "InputLayer", "config": {"batch_shape": \(input), "dtype": "float32", "name": "input_layer"}},
             {"module": "keras.layers", "class_name": "Dense", "config": {"name": \(name), "trainable": true, "dtype": "float32", "units": \(units), "use_bias": true}}]
            """
            return #"{"module": "keras", "class_name": "Sequential", "config": {"name": "s", "trainable": true, "dtype": "float32", "layers": "# + l + "}}"
        }
        // The honest one rebuilds.
        try Data(arch().utf8).write(to: URL(fileURLWithPath: dir + "/ok.json"))
        let ok = CLI.run(["rebuild", weights, "--architecture", dir + "/ok.json", "--optimizer", "sgd", "-o", dir + "/ok.ckpt"])
        #expect(ok.status == 0, "\(ok.err)")

        let deep = String(repeating: "[", count: 5000) + String(repeating: "]", count: 5000)
        let cases: [(String, String)] = [
            ("deep", arch(layers: deep)),
            ("deep-config", arch(units: String(repeating: "{\"a\":", count: 200) + "1" + String(repeating: "}", count: 200))),
            ("layers-string", arch(layers: #""dense""#)),
            ("layers-number", arch(layers: "1e999")),
            ("units-huge", arch(units: "1e30")),
            ("units-int-overflow", arch(units: "99999999999999999999999")),
            ("units-negative", arch(units: "-2")),
            ("units-fraction", arch(units: "2.5")),
            ("units-string", arch(units: #""two""#)),
            ("input-huge", arch(input: "[null, 9223372036854775807]")),
            ("input-negative", arch(input: "[null, -3]")),
            ("input-wrong-type", arch(input: #""3""#)),
            ("name-escape", arch(name: #""dense\u001b[2J""#)),
            ("name-traversal", arch(name: #""../../x""#)),
            ("name-number", arch(name: "7")),
            ("not-object", "[1, 2]"),
            ("top-class", #"{"class_name": "Dense", "config": {}}"#),
            ("empty", ""),
        ]
        for (name, text) in cases {
            let path = dir + "/\(name).json"
            try Data(text.utf8).write(to: URL(fileURLWithPath: path))
            let out = dir + "/\(name).ckpt"
            let r = CLI.run(["rebuild", weights, "--architecture", path, "--optimizer", "sgd", "-o", out])
            if name.hasPrefix("name-") && name != "name-number" {
                // A name Keras would not make: the weights cannot match; the lists come first, then
                // the sentence, every name escaped.
                CLI.expectSentence(r, lastLineOnly: true, mentioning: ["do not match"])
            } else {
                CLI.expectSentence(r, mentioning: [])
            }
            #expect(!FileManager.default.fileExists(atPath: out), "\(name): an output was written")
            #expect(CLI.temporaries(in: dir).isEmpty)
        }
        // Invalid UTF-8 in a layer name.
        var bytes = Array(arch().utf8)
        let at = try #require(bytes.indices.first { bytes[$0] == UInt8(ascii: "d") && bytes[$0 + 1] == UInt8(ascii: "e") && bytes[$0 + 2] == UInt8(ascii: "n") })
        bytes[at] = 0xFF
        try Data(bytes).write(to: URL(fileURLWithPath: dir + "/utf8.json"))
        CLI.expectSentence(CLI.run(["rebuild", weights, "--architecture", dir + "/utf8.json", "--optimizer", "sgd", "-o", dir + "/u.ckpt"]), mentioning: ["UTF-8"])

        // Inside a container: inspect treats the architecture as opaque text it summarises when it
        // can (exit 0, "not parseable"); rebuild refuses it.
        var c = CraftedContainer([.init("dense/kernel", .float32, [3, 2]), .init("dense/bias", .float32, [2])])
        c.architecture = Array(arch(layers: deep).utf8)
        try c.write(to: dir + "/deep-arch.ckpt")
        let i = CLI.run(["inspect", dir + "/deep-arch.ckpt"])
        #expect(i.status == 0 && i.out.contains("not parseable"), "\(i.out) \(i.err)")
        CLI.expectSentence(CLI.run(["rebuild", dir + "/deep-arch.ckpt", "--optimizer", "sgd", "-o", dir + "/r.ckpt"]), mentioning: ["nesting"])
    }

    // MARK: ZIP structure, through the command line

    @Test("Hostile ZIP structure through ckpt inspect: each exits 2 with a sentence naming the file")
    func zipStructure() throws {
        let dir = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let honest = CraftedContainer([Self.kernel]).bytes()
        func patched(_ edit: (inout [UInt8]) -> Void) -> [UInt8] { var b = honest; edit(&b); return b }
        let eocd = honest.count - 22
        let cd = Int(honest[eocd + 16]) | Int(honest[eocd + 17]) << 8 | Int(honest[eocd + 18]) << 16 | Int(honest[eocd + 19]) << 24
        let cases: [(String, [UInt8], String)] = [
            ("traversal", StoredZip.bytes([("../evil.npy", [1]), ("manifest.json", [])]), "climbs out"),
            ("absolute", StoredZip.bytes([("/etc/passwd", [1]), ("manifest.json", [])]), "absolute"),
            ("duplicate", StoredZip.bytes([("a.npy", [1]), ("a.npy", [2]), ("manifest.json", [])]), "two members"),
            ("encrypted", patched { $0[cd + 8] = 1 }, "encrypted"),
            ("multidisk", patched { $0[eocd + 4] = 1; $0[eocd + 6] = 1 }, "multi-disk"),
            ("cd-outside", patched { $0[eocd + 19] = 0x7F }, "central directory"),
            ("too-many", patched { $0[eocd + 8] = 0xFF; $0[eocd + 9] = 0xFF; $0[eocd + 10] = 0xFF; $0[eocd + 11] = 0xFF }, "members"),
            ("trailing", honest + Array("appended".utf8), "trailing"),
            ("bomb", patched { b in
                // method 8, claiming 4 GiB - 2 from a few bytes, in both headers.
                for at in [8, cd + 10] { b[at] = 8 }
                for at in [22, cd + 24] { b[at] = 0xFE; b[at + 1] = 0xFF; b[at + 2] = 0xFF; b[at + 3] = 0xFF }
            }, "zip bomb"),
            ("overlap", StoredZip.bytes([("a.npy", [1, 2, 3]), ("manifest.json", [])]).enumerated().map { $0.element }, ""),
            ("empty", [], "too short"),
            ("text", Array("just some text, not a checkpoint at all".utf8), "not a ZIP"),
        ]
        for (name, bytes, word) in cases where name != "overlap" {
            let path = dir + "/\(name).ckpt"
            try Data(bytes).write(to: URL(fileURLWithPath: path))
            CLI.expectSentence(CLI.run(["inspect", path]), mentioning: ["\(name).ckpt", word])
        }
        // Overlapping members: the second central record points at the first member's header.
        var overlap = StoredZip.bytes([("a.npy", [1, 2, 3]), ("b.npy", [4, 5, 6]), ("manifest.json", [])])
        let e = overlap.count - 22
        var p = Int(overlap[e + 16]) | Int(overlap[e + 17]) << 8
        p += 46 + 5                    // the second record
        for k in 0..<4 { overlap[p + 42 + k] = 0 }
        try Data(overlap).write(to: URL(fileURLWithPath: dir + "/overlap.ckpt"))
        CLI.expectSentence(CLI.run(["inspect", dir + "/overlap.ckpt"]), mentioning: ["overlap.ckpt"])
    }
}
