/// A tensor as the manifest records it: what it is and how its member is stored.
public struct StoredTensor: Sendable, Equatable {
    public var info: TensorInfo
    public var member: String
    public var storage: MemberStorage

    public var dataSize: UInt64 { storage.size - UInt64(storage.headerSize) }
}

/// `manifest.json` (spec §3).
public struct Manifest: Sendable {
    public var formatVersion: (major: Int, minor: Int) = ContainerSpec.formatVersion
    public var kind: CheckpointIndex.Kind
    public var producer: String
    public var chunkSize: Int = ContainerSpec.chunkSize
    public var metadata: JSONValue
    public var architectureMember: String?
    public var optimizerMember: String?
    public var optimizerClassName: String?
    public var optimizerIterations: Int64?
    public var tensors: [StoredTensor]

    public func json() -> JSONValue {
        var members: [(String, JSONValue)] = [
            ("format", .string(ContainerSpec.formatName)),
            ("format_version", .array([.number(formatVersion.major), .number(formatVersion.minor)])),
            ("kind", .string(kind.rawValue)),
            ("producer", .string(producer)),
            ("chunk_size", .number(chunkSize)),
            ("metadata", metadata),
            ("architecture", architectureMember.map { .string($0) } ?? .null),
        ]
        if let optimizerMember {
            members.append(("optimizer", .object([
                ("member", .string(optimizerMember)),
                ("class_name", .string(optimizerClassName ?? "")),
                ("iterations", .number(optimizerIterations ?? 0)),
            ])))
        } else {
            members.append(("optimizer", .null))
        }
        members.append(("tensors", .array(tensors.map(Self.entryJSON))))
        return .object(members)
    }

    static func entryJSON(_ t: StoredTensor) -> JSONValue {
        var e: [(String, JSONValue)] = [
            ("name", .string(t.info.name)),
            ("member", .string(t.member)),
            ("dtype", .string(t.info.dtype.rawValue)),
            ("shape", .array(t.info.shape.map { .number($0) })),
            ("role", .string(t.info.role.rawValue)),
            ("trainable", .bool(t.info.trainable)),
        ]
        if let slot = t.info.slot { e.append(("slot", .string(slot))) }
        if let weight = t.info.weight { e.append(("weight", .string(weight))) }
        e += [
            ("crc32", .number(t.storage.crc32)),
            ("size", .number(t.storage.size)),
            ("stored_size", .number(t.storage.storedSize)),
        ]
        if let s = t.storage.storedCRC32 { e.append(("stored_crc32", .number(s))) }
        e += [
            ("header_size", .number(t.storage.headerSize)),
        ]
        if !t.storage.chunkOffsets.isEmpty {
            e.append(("chunks", .array(t.storage.chunkOffsets.map { .number($0) })))
        }
        return .object(e)
    }

    /// Decodes and checks a manifest straight from its bytes (no intermediate JSON tree: it is
    /// the whole cost of index-only work). Unknown keys are ignored (spec §6); wrong types,
    /// missing keys, unsafe names and impossible sizes are errors naming the tensor.
    public static func decode(_ bytes: [UInt8], file: String?, offset: UInt64?, limits: Limits = .default) throws -> Manifest {
        func bad(_ why: String) -> CheckpointError {
            CheckpointError(.invalidManifest, "the manifest " + why, file: file, member: ContainerSpec.manifestMember, offset: offset)
        }
        var format: String?
        var version: [Int64] = []
        var kindText: String?
        var producer = "unknown"
        var chunkSize = Int64(ContainerSpec.chunkSize)
        var metadata: JSONValue = .object([])
        var architecture: String?
        var optMember: String?, optClass: String?, optIter: Int64?
        var sawTensors = false
        var tensors: [StoredTensor] = []

        // Local constants, not statics: a static is a lazy global, checked on every access.
        struct Keys {
            let name = JSONKey("name"), member = JSONKey("member"), dtype = JSONKey("dtype"), shape = JSONKey("shape")
            let role = JSONKey("role"), trainable = JSONKey("trainable"), slot = JSONKey("slot"), weight = JSONKey("weight")
            let crc32 = JSONKey("crc32"), size = JSONKey("size"), stored_size = JSONKey("stored_size"), stored_crc32 = JSONKey("stored_crc32")
            let header_size = JSONKey("header_size"), chunks = JSONKey("chunks")
        }
        let K = Keys()
        struct Entry {
            var name: String?, member: String?, dtype: String?, shape: [Int]?, role: String?, trainable: Bool?
            var slot: String?, weight: String?, crc: Int64?, size: Int64?, stored: Int64?, storedCRC: Int64?, header: Int64?, chunks: [Int64]?
        }

        do {
            try bytes.withUnsafeBufferPointer { buf in
                try JSONParser.read(buf, options: limits.jsonOptions, baseOffset: 0) { p in
                    p.skipWhitespace()
                    guard p.i < p.buf.count, p.buf[p.i] == UInt8(ascii: "{") else { throw bad("is not a JSON object") }
                    try p.readObject { p, key in
                        switch key {
                        case "format": format = try p.readString()
                        case "format_version": try p.readArray { p, _ in version.append(try p.readInt64()) }
                        case "kind": kindText = try p.readString()
                        case "producer": producer = try p.readString()
                        case "chunk_size":
                            chunkSize = try p.readInt64()
                            // Checked here, not after the loop: tensor entries that follow divide by it.
                            guard chunkSize >= 1024, chunkSize <= Int64(limits.maxChunkSize) else { throw bad("has a chunk_size of \(chunkSize), outside 1 KiB to \(limits.maxChunkSize) bytes (each core inflates one chunk at a time into a buffer that size)") }
                        case "metadata":
                            metadata = try p.readValue()
                            guard metadata.objectValue != nil else { throw bad("\"metadata\" is \(metadata.typeDescription), not an object") }
                        case "architecture":
                            if try !p.readNull() { architecture = try p.readString() }
                        case "optimizer":
                            if try !p.readNull() {
                                try p.readObject { p, k in
                                    switch k {
                                    case "member": optMember = try p.readString()
                                    case "class_name": optClass = try p.readString()
                                    case "iterations": optIter = try p.readInt64()
                                    default: _ = try p.readValue()
                                    }
                                }
                                guard optMember != nil else { throw bad("\"optimizer\" has no \"member\"") }
                            }
                        case "tensors":
                            sawTensors = true
                            try p.beginArray()
                            var k = 0
                            while try p.nextElement(first: k == 0) {
                                var e = Entry()
                                try p.beginObject()
                                var firstKey = true
                                var seen: UInt16 = 0
                                while let f = try p.nextKey(first: firstKey) {
                                    firstKey = false
                                    let bit: UInt16
                                    switch f {
                                    case K.name: bit = 1; e.name = try p.readString()
                                    case K.member: bit = 2; e.member = try p.readString()
                                    case K.dtype: bit = 4; e.dtype = try p.readString()
                                    case K.shape:
                                        bit = 8
                                        var dims: [Int] = []
                                        try p.beginArray()
                                        while try p.nextElement(first: dims.isEmpty) {
                                            guard dims.count < limits.maxRank else { throw bad("tensor #\(k) has more than \(limits.maxRank) dimensions") }
                                            let d = try p.readInt64()
                                            guard d >= 0, d <= Int64(Int.max) else { throw bad("tensor #\(k) has a negative dimension") }
                                            dims.append(Int(d))
                                        }
                                        e.shape = dims
                                    case K.role: bit = 16; e.role = try p.readString()
                                    case K.trainable: bit = 32; e.trainable = try p.readBool()
                                    case K.slot: bit = 64; if try !p.readNull() { e.slot = try p.readString() }
                                    case K.weight: bit = 128; if try !p.readNull() { e.weight = try p.readString() }
                                    case K.crc32: bit = 256; e.crc = try p.readInt64()
                                    case K.size: bit = 512; e.size = try p.readInt64()
                                    case K.stored_size: bit = 1024; e.stored = try p.readInt64()
                                    case K.stored_crc32: bit = 8192; e.storedCRC = try p.readInt64()
                                    case K.header_size: bit = 2048; e.header = try p.readInt64()
                                    case K.chunks:
                                        bit = 4096
                                        var c: [Int64] = []
                                        try p.beginArray()
                                        while try p.nextElement(first: c.isEmpty) { c.append(try p.readInt64()) }
                                        e.chunks = c
                                    default:
                                        bit = 0
                                        _ = try p.readValue()
                                    }
                                    guard seen & bit == 0 else { throw bad("tensor #\(k) repeats a key") }
                                    seen |= bit
                                }
                                tensors.append(try makeTensor(e, k))
                                k += 1
                            }
                        default:
                            _ = try p.readValue()
                        }
                    }
                }
            }
        } catch var e as CheckpointError where e.file == nil {
            // The parser's errors (bad JSON, or a text that would build too much) name the byte
            // within the manifest: made a byte of the file, with the file and member named.
            e.file = file
            e.member = ContainerSpec.manifestMember
            if let base = offset { e.offset = e.offset.map { base + $0 } ?? base }
            if e.code == .invalidJSON { e.reason = "the manifest is " + e.reason }
            throw e
        }

        func makeTensor(_ e: Entry, _ k: Int) throws -> StoredTensor {
            guard let name = e.name, !name.isEmpty else { throw bad("tensor #\(k) has no \"name\"") }
            func badT(_ why: String) -> CheckpointError { bad("entry for \"\(escapeForDisplay(name))\" " + why) }
            try TensorNames.check(name, file: file)
            guard let member = e.member else { throw badT("has no \"member\"") }
            guard let dt = e.dtype, let dtype = DType(rawValue: dt) else { throw badT("has an unknown \"dtype\" \"\(escapeForDisplay(e.dtype ?? "(missing)"))\"") }
            guard let shape = e.shape else { throw badT("has no \"shape\" array") }
            guard let rt = e.role, let role = TensorRole(rawValue: rt) else { throw badT("has no \"role\" of \"weight\" or \"optimizer\"") }
            let info = TensorInfo(name: name, dtype: dtype, shape: shape, role: role, trainable: e.trainable ?? (role == .weight), slot: e.slot, weight: e.weight)
            guard let nbytes = info.byteCount else { throw badT("has a shape whose byte size overflows") }
            guard let crc = e.crc, crc >= 0, crc <= Int64(UInt32.max) else { throw badT("has no valid \"crc32\"") }
            guard let size = e.size, size >= 0 else { throw badT("has no valid \"size\"") }
            guard let stored = e.stored, stored >= 0 else { throw badT("has no valid \"stored_size\"") }
            if let sc = e.storedCRC, sc < 0 || sc > Int64(UInt32.max) { throw badT("has an invalid \"stored_crc32\"") }
            guard let header = e.header, header >= 10, header <= Int64(limits.maxNPYHeaderBytes + 12) else { throw badT("has no valid \"header_size\"") }
            let (total, overflow) = UInt64(header).addingReportingOverflow(UInt64(nbytes))
            guard !overflow, UInt64(size) == total else {
                throw badT("says the member is \(size) bytes, but a \(header)-byte header and \(shape) of \(dtype.rawValue) make \(overflow ? "more" : String(total))")
            }
            var chunks: [UInt64] = []
            if let c = e.chunks {
                let cs = Int(chunkSize)
                let expected = nbytes / cs + (nbytes % cs == 0 ? 0 : 1)
                guard c.count == expected, expected > 1 else { throw badT("has \(c.count) chunk offsets where its \(nbytes) bytes make \(expected) chunks") }
                var last: Int64 = 0
                for o in c {
                    guard o > last, o < stored else { throw badT("has chunk offsets that are not increasing inside the member") }
                    last = o
                    chunks.append(UInt64(o))
                }
            }
            return StoredTensor(info: info, member: member,
                                storage: MemberStorage(crc32: UInt32(crc), size: UInt64(size), storedSize: UInt64(stored), storedCRC32: e.storedCRC.map { UInt32($0) },
                                                       headerSize: Int(header), chunkOffsets: chunks))
        }

        guard format == ContainerSpec.formatName else { throw bad("does not say \"format\": \"ckpt\"") }
        guard version.count == 2 else { throw bad("has no [major, minor] \"format_version\"") }
        guard version[0] == Int64(ContainerSpec.formatVersion.major) else {
            throw CheckpointError(.unsupported, "format version \(version[0]).\(version[1]) is not supported (this ckpt reads \(ContainerSpec.formatVersion.major).x)",
                                  file: file, member: ContainerSpec.manifestMember, offset: offset, hint: "upgrade ckpt")
        }
        guard let kt = kindText, let kind = CheckpointIndex.Kind(rawValue: kt) else { throw bad("has no \"kind\" of \"full\" or \"weights\"") }
        guard chunkSize >= 1024, chunkSize <= Int64(limits.maxChunkSize) else { throw bad("has a chunk_size of \(chunkSize), outside 1 KiB to \(limits.maxChunkSize) bytes (each core inflates one chunk at a time into a buffer that size)") }
        guard sawTensors else { throw bad("has no \"tensors\" array") }
        return Manifest(formatVersion: (Int(version[0]), Int(version[1])), kind: kind, producer: producer, chunkSize: Int(chunkSize), metadata: metadata,
                        architectureMember: architecture, optimizerMember: optMember, optimizerClassName: optClass,
                        optimizerIterations: optIter, tensors: tensors)
    }
}

/// Rules for tensor names (spec §2 rules 6, 7).
public enum TensorNames {
    /// A tensor name becomes a member path, so it obeys the member-name rules, and it must be printable.
    public static func check(_ name: String, file: String?) throws {
        do {
            try ZipArchive.checkMemberName(name, file: file, offset: nil)
        } catch var e as CheckpointError {
            e.reason = e.reason.replacing("the member name", with: "the tensor name", maxReplacements: 1)
            throw e
        }
        if name.hasSuffix("/") {
            throw CheckpointError(.unsafeName, "the tensor name \"\(escapeForDisplay(name))\" ends with \"/\"", file: file)
        }
    }
}
