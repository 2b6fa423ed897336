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
            ("header_size", .number(t.storage.headerSize)),
        ]
        if !t.storage.chunkOffsets.isEmpty {
            e.append(("chunks", .array(t.storage.chunkOffsets.map { .number($0) })))
        }
        return .object(e)
    }

    /// Parses and checks a manifest. Unknown keys are ignored (spec §6); wrong types, missing
    /// keys, unsafe names and impossible sizes are errors naming the tensor.
    public static func parse(_ v: JSONValue, file: String?, offset: UInt64?, limits: Limits = .default) throws -> Manifest {
        func bad(_ why: String, tensor: String? = nil) -> CheckpointError {
            CheckpointError(.invalidManifest, "the manifest " + why, file: file, member: tensor ?? ContainerSpec.manifestMember, offset: offset)
        }
        guard v.objectValue != nil else { throw bad("is \(v.typeDescription), not an object") }
        guard v["format"]?.stringValue == ContainerSpec.formatName else {
            throw bad("does not say \"format\": \"ckpt\"")
        }
        guard let ver = v["format_version"]?.arrayValue, ver.count == 2, let major = ver[0].intValue, let minor = ver[1].intValue else {
            throw bad("has no [major, minor] \"format_version\"")
        }
        guard major == ContainerSpec.formatVersion.major else {
            throw CheckpointError(.unsupported, "format version \(major).\(minor) is not supported (this ckpt reads \(ContainerSpec.formatVersion.major).x)",
                                  file: file, member: ContainerSpec.manifestMember, offset: offset, hint: "upgrade ckpt")
        }
        guard let kindText = v["kind"]?.stringValue, let kind = CheckpointIndex.Kind(rawValue: kindText) else {
            throw bad("has no \"kind\" of \"full\" or \"weights\"")
        }
        let producer = v["producer"]?.stringValue ?? "unknown"
        let chunkSize = v["chunk_size"]?.intValue ?? ContainerSpec.chunkSize
        guard chunkSize >= 1024, chunkSize <= 1 << 30 else { throw bad("has a chunk_size of \(chunkSize), outside 1 KiB to 1 GiB") }
        let metadata = v["metadata"] ?? .object([])
        guard metadata.objectValue != nil else { throw bad("\"metadata\" is \(metadata.typeDescription), not an object") }
        var architecture: String? = nil
        if let a = v["architecture"], !a.isNull {
            guard let s = a.stringValue else { throw bad("\"architecture\" is not a member name") }
            architecture = s
        }
        var optMember: String? = nil, optClass: String? = nil, optIter: Int64? = nil
        if let o = v["optimizer"], !o.isNull {
            guard o.objectValue != nil, let m = o["member"]?.stringValue else { throw bad("\"optimizer\" has no \"member\"") }
            optMember = m
            optClass = o["class_name"]?.stringValue
            optIter = o["iterations"]?.int64Value
        }
        guard let list = v["tensors"]?.arrayValue else { throw bad("has no \"tensors\" array") }
        var tensors: [StoredTensor] = []
        tensors.reserveCapacity(list.count)
        var names = Set<String>()
        for (k, e) in list.enumerated() {
            guard e.objectValue != nil else { throw bad("tensor #\(k) is \(e.typeDescription), not an object") }
            guard let name = e["name"]?.stringValue, !name.isEmpty else { throw bad("tensor #\(k) has no \"name\"") }
            func badT(_ why: String) -> CheckpointError { bad("entry for \"\(escapeForDisplay(name))\" " + why, tensor: ContainerSpec.manifestMember) }
            try TensorNames.check(name, file: file)
            guard names.insert(name).inserted else {
                throw CheckpointError(.duplicateName, "the manifest lists the tensor \"\(escapeForDisplay(name))\" twice", file: file, member: ContainerSpec.manifestMember, offset: offset)
            }
            guard let member = e["member"]?.stringValue else { throw badT("has no \"member\"") }
            guard let dtypeText = e["dtype"]?.stringValue, let dtype = DType(rawValue: dtypeText) else {
                throw badT("has an unknown \"dtype\" \(e["dtype"]?.serialized() ?? "(missing)")")
            }
            guard let shapeJSON = e["shape"]?.arrayValue else { throw badT("has no \"shape\" array") }
            guard shapeJSON.count <= limits.maxRank else { throw badT("has \(shapeJSON.count) dimensions (the limit is \(limits.maxRank))") }
            var shape: [Int] = []
            for d in shapeJSON {
                guard let n = d.intValue, n >= 0 else { throw badT("has a dimension \(d.serialized()) that is not a non-negative integer") }
                shape.append(n)
            }
            guard let roleText = e["role"]?.stringValue, let role = TensorRole(rawValue: roleText) else { throw badT("has no \"role\" of \"weight\" or \"optimizer\"") }
            let trainable = e["trainable"]?.boolValue ?? (role == .weight)
            let info = TensorInfo(name: name, dtype: dtype, shape: shape, role: role, trainable: trainable,
                                  slot: e["slot"]?.stringValue, weight: e["weight"]?.stringValue)
            guard let nbytes = info.byteCount else { throw badT("has a shape whose byte size overflows") }
            guard let crc = e["crc32"]?.int64Value, crc >= 0, crc <= Int64(UInt32.max) else { throw badT("has no valid \"crc32\"") }
            guard let size = e["size"]?.int64Value, size >= 0 else { throw badT("has no valid \"size\"") }
            guard let stored = e["stored_size"]?.int64Value, stored >= 0 else { throw badT("has no valid \"stored_size\"") }
            guard let headerSize = e["header_size"]?.intValue, headerSize >= 10, headerSize <= limits.maxNPYHeaderBytes + 12 else { throw badT("has no valid \"header_size\"") }
            guard UInt64(size) == UInt64(headerSize) + UInt64(nbytes) else {
                throw badT("says the member is \(size) bytes, but a \(headerSize)-byte header and \(shape) of \(dtype.rawValue) make \(headerSize + nbytes)")
            }
            var chunks: [UInt64] = []
            if let c = e["chunks"]?.arrayValue {
                let expected = (nbytes + chunkSize - 1) / chunkSize
                guard c.count == expected, expected > 1 else { throw badT("has \(c.count) chunk offsets where its \(nbytes) bytes make \(expected) chunks") }
                var last: UInt64 = 0
                for x in c {
                    guard let o = x.int64Value, o > 0, UInt64(o) > last || last == 0, o < stored else { throw badT("has chunk offsets that are not increasing inside the member") }
                    last = UInt64(o)
                    chunks.append(UInt64(o))
                }
            }
            tensors.append(StoredTensor(info: info, member: member,
                                        storage: MemberStorage(crc32: UInt32(crc), size: UInt64(size), storedSize: UInt64(stored), headerSize: headerSize, chunkOffsets: chunks)))
        }
        return Manifest(formatVersion: (major, minor), kind: kind, producer: producer, chunkSize: chunkSize, metadata: metadata,
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
