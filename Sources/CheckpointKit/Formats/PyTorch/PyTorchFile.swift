// One `torch.save` file opened: its pickle run through the restricted unpickler, its structure
// interpreted, and where every storage's bytes are. Two layouts:
//
//  - zip (torch ≥ 1.6): `<prefix>/data.pkl`, `<prefix>/data/<key>` per storage (stored, each
//    starting on a 64-byte boundary), `<prefix>/byteorder` (`little` / `big`; absent = little),
//    `<prefix>/version`. The prefix is the first member's top folder (the file's stem, or
//    `archive` for a file object).
//  - legacy (`_use_new_zipfile_serialization=False`): five pickles back to back (the magic number
//    0x1950a86a20f9469cfc6c, protocol version 1001, sys_info, the object, the sorted storage keys),
//    then for each key in that list an 8-byte element count and the storage's raw bytes.
//
// Opening reads the pickle(s) and the ZIP directory only; no tensor data.

/// Where one storage's bytes are.
struct PyTorchStorage: Sendable {
    let key: String
    let nbytes: Int
    /// Zip: the member holding it.
    let entry: ZipEntry?
    /// Legacy: file offset of the 8-byte element count before the data.
    let countOffset: UInt64
    /// Legacy: the element size the count is in.
    let itemSize: Int
}

final class PyTorchFile: Sendable {
    static let legacyMagic = "119547037146038801333356" // 0x1950a86a20f9469cfc6c
    static let legacyProtocolVersion: Int64 = 1001

    let file: ReadableFile
    let zip: ZipArchive?
    let bigEndian: Bool
    /// The pickle's member (zip) for messages.
    let pickleMember: String?
    let contents: PyTorchContents
    let storages: [ByteName: PyTorchStorage]
    /// Lenient: what became a placeholder.
    let placeholders: [String]

    var path: String { file.path }
    var isZip: Bool { zip != nil }

    /// Whether the first bytes are a legacy torch file's: PROTO 2, LONG1 of 10 bytes, the magic.
    static func isLegacy(_ head: [UInt8]) -> Bool {
        let magic: [UInt8] = [0x80, 0x02, 0x8A, 0x0A, 0x6C, 0xFC, 0x9C, 0x46, 0xF9, 0x20, 0x6A, 0xA8, 0x50, 0x19]
        return head.count >= magic.count && head[0..<magic.count].elementsEqual(magic)
    }

    init(file: ReadableFile, limits: Limits, pickleLimits: PickleLimits, lenient: Bool) throws {
        self.file = file
        let head = try file.read(at: 0, count: Int(min(file.size, 16)), what: "file signature")
        if head.count >= 4, head[0..<4].elementsEqual([0x50, 0x4B, 0x03, 0x04]) || head[0..<4].elementsEqual([0x50, 0x4B, 0x05, 0x06]) {
            let zip = try ZipArchive(file: file, limits: limits)
            self.zip = zip
            let (prefix, pkl) = try Self.findPickle(zip)
            pickleMember = pkl.name
            bigEndian = try Self.byteOrder(zip, prefix: prefix)
            guard pkl.uncompressedSize <= UInt64(pickleLimits.maxPickleBytes) else {
                throw CheckpointError(.limitExceeded, "data.pkl is \(pkl.uncompressedSize) bytes (the limit is \(pickleLimits.maxPickleBytes))", file: file.path, member: pkl.name)
            }
            let bytes: [UInt8]
            var base: UInt64? = nil
            if pkl.method == 0 {
                let start = try zip.dataOffset(of: pkl)
                bytes = try zip.readBytes(at: start, count: Int(pkl.uncompressedSize), what: "data.pkl", member: pkl.name)
                guard crc32(bytes) == pkl.crc32 else {
                    throw CheckpointError(.checksumMismatch, "data.pkl does not match its CRC-32", file: file.path, member: pkl.name, offset: start)
                }
                base = start
            } else {
                bytes = try zip.readMember(pkl, maxBytes: UInt64(pickleLimits.maxPickleBytes))
            }
            let u = Unpickler(bytes: bytes, base: base, file: file.path, member: pkl.name, limits: pickleLimits, lenient: lenient, persistentIDs: .zip)
            let (root, _) = try u.load()
            contents = try withExtendedLifetime(u) { try PyTorchStructure.interpret(root, limits: pickleLimits, file: file.path) }
            placeholders = u.placeholders
            var storages: [ByteName: PyTorchStorage] = [:]
            for key in u.storageOrder {
                guard let ref = u.storages[ByteName(key)] else { continue }
                let name = prefix + "data/" + key
                guard let e = zip.entry(named: name) else {
                    throw CheckpointError(.corrupt, "the pickle uses storage \"\(escapeForDisplay(key))\", but the archive has no member \"\(escapeForDisplay(name))\"", file: file.path, member: pkl.name)
                }
                guard e.uncompressedSize == UInt64(ref.nbytes) else {
                    throw CheckpointError(.corrupt, "storage \"\(escapeForDisplay(key))\" is declared as \(ref.numel) × \(ref.element.itemSize) bytes = \(ref.nbytes), but its member holds \(e.uncompressedSize) bytes",
                                          file: file.path, member: name, offset: e.localHeaderOffset)
                }
                storages[ByteName(key)] = PyTorchStorage(key: key, nbytes: ref.nbytes, entry: e, countOffset: 0, itemSize: ref.element.itemSize)
            }
            self.storages = storages
        } else if Self.isLegacy(head) {
            zip = nil
            pickleMember = nil
            let legacy = try Self.readLegacy(file, pickleLimits: pickleLimits, lenient: lenient)
            bigEndian = legacy.bigEndian
            contents = legacy.contents
            placeholders = legacy.placeholders
            storages = legacy.storages
        } else {
            throw CheckpointError(.notRecognized, "the file is not a torch.save checkpoint (neither a ZIP with data.pkl nor a legacy pickle with torch's magic number)",
                                  file: file.path, offset: 0)
        }
    }

    /// The archive prefix (with its slash) and data.pkl.
    static func findPickle(_ zip: ZipArchive) throws -> (String, ZipEntry) {
        if let first = zip.entries.first, let slash = first.name.firstIndex(of: "/") {
            let prefix = String(first.name[...slash])
            if let e = zip.entry(named: prefix + "data.pkl") { return (prefix, e) }
        }
        for e in zip.entries where e.name.hasSuffix("/data.pkl") && e.name.utf8.filter({ $0 == UInt8(ascii: "/") }).count == 1 {
            return (String(e.name.dropLast("data.pkl".count)), e)
        }
        let torchscript = zip.entries.contains { $0.name.hasSuffix("/constants.pkl") || $0.name.contains("/code/") }
        throw CheckpointError(.notRecognized, "the ZIP has no <folder>/data.pkl, so it is not a torch.save checkpoint", file: zip.path,
                              hint: torchscript ? "it looks like a TorchScript archive (torch.jit.save), which holds code; save model.state_dict() with torch.save instead" : nil)
    }

    static func byteOrder(_ zip: ZipArchive, prefix: String) throws -> Bool {
        guard let e = zip.entry(named: prefix + "byteorder") else { return false }
        let text = try zip.readMember(e, maxBytes: 64)
        switch String(decoding: text, as: UTF8.self) {
        case "little", "little\n": return false
        case "big", "big\n": return true
        default:
            throw CheckpointError(.corrupt, "the byteorder record says \"\(escapeForDisplay(String(decoding: text.prefix(16), as: UTF8.self)))\", not little or big", file: zip.path, member: e.name)
        }
    }

    private struct Legacy {
        var contents: PyTorchContents
        var placeholders: [String]
        var storages: [ByteName: PyTorchStorage]
        var bigEndian: Bool
    }

    /// Reads the five pickles in growing windows (they end where they end), then lays out the
    /// storages after them by their declared sizes. The element counts before each storage are
    /// checked when its data is read.
    private static func readLegacy(_ file: ReadableFile, pickleLimits: PickleLimits, lenient: Bool) throws -> Legacy {
        var window = Int(min(file.size, 1 << 20))
        while true {
            let bytes = try file.read(at: 0, count: window, what: "legacy pickles")
            do {
                return try parseLegacy(bytes, complete: UInt64(window) == file.size, file: file, pickleLimits: pickleLimits, lenient: lenient)
            } catch is Unpickler.NeedMoreInput {
                guard window < pickleLimits.maxPickleBytes else {
                    throw CheckpointError(.limitExceeded, "the legacy file's pickles run past \(pickleLimits.maxPickleBytes) bytes (the limit)", file: file.path)
                }
                window = Int(min(file.size, UInt64(min(window * 4, pickleLimits.maxPickleBytes))))
            }
        }
    }

    private static func parseLegacy(_ bytes: [UInt8], complete: Bool, file: ReadableFile, pickleLimits: PickleLimits, lenient: Bool) throws -> Legacy {
        // Each result is used while its unpickler (which owns its containers) is alive.
        func run<T>(_ start: Int, _ ids: Unpickler.PersistentIDs, _ use: (PickleValue, Unpickler) throws -> T) throws -> (T, Int) {
            let u = Unpickler(bytes: bytes, base: 0, complete: complete, file: file.path, member: nil, limits: pickleLimits, lenient: lenient, persistentIDs: ids)
            u.pos = start
            let (v, end) = try u.load()
            return (try withExtendedLifetime(u) { try use(v, u) }, end)
        }
        let (magicText, e1) = try run(0, .refused) { v, _ -> String? in if case .bigInt(let s) = v { return s } else { return nil } }
        guard magicText == legacyMagic else {
            throw CheckpointError(.notRecognized, "the file does not start with torch's magic number", file: file.path, offset: 0)
        }
        let (version, e2) = try run(e1, .refused) { v, _ in v.intValue }
        guard version == legacyProtocolVersion else {
            throw CheckpointError(.unsupported, "the legacy protocol version is \(version.map(String.init) ?? "not a number"), not \(legacyProtocolVersion)", file: file.path, offset: UInt64(e1))
        }
        let (bigEndian, e3) = try run(e2, .refused) { v, _ -> Bool in
            if case .bool(let little)? = v.dictValue?["little_endian"] { return !little }
            return false
        }
        let ((contents, pickled, placeholders, order), e4) = try run(e3, .legacy) { root, u in
            (try PyTorchStructure.interpret(root, limits: pickleLimits, file: file.path), u.storages, u.placeholders, u.storageOrder)
        }
        let (keys, e5) = try run(e4, .refused) { v, _ -> [String]? in
            v.sequence.map { items in items.compactMap { $0.stringValue ?? $0.intValue.map { String($0) } } }.flatMap { $0.count == v.sequence?.count ? $0 : nil }
        }
        guard let keys else {
            throw CheckpointError(.corrupt, "the storage key list is not a list of strings", file: file.path, offset: UInt64(e4))
        }
        var storages: [ByteName: PyTorchStorage] = [:]
        var offset = UInt64(e5)
        for key in keys {
            guard let ref = pickled[ByteName(key)], storages[ByteName(key)] == nil else {
                throw CheckpointError(.corrupt, "the storage key list names \"\(escapeForDisplay(key))\", which the pickle \(pickled[ByteName(key)] == nil ? "never uses" : "lists twice")", file: file.path, offset: UInt64(e4))
            }
            storages[ByteName(key)] = PyTorchStorage(key: key, nbytes: ref.nbytes, entry: nil, countOffset: offset, itemSize: ref.element.itemSize)
            guard let next = checkedAdd(offset, 8 + UInt64(ref.nbytes)), next <= file.size else {
                throw CheckpointError(.truncated, "the file ends at byte \(file.size), before the end of storage \"\(escapeForDisplay(key))\" (\(ref.nbytes) bytes after byte \(offset + 8))",
                                      file: file.path, offset: offset)
            }
            offset = next
        }
        for key in order where storages[ByteName(key)] == nil {
            throw CheckpointError(.corrupt, "the pickle uses storage \"\(escapeForDisplay(key))\", which the storage key list leaves out", file: file.path, offset: UInt64(e4))
        }
        return Legacy(contents: contents, placeholders: placeholders, storages: storages, bigEndian: bigEndian)
    }
}
