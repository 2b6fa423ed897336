/// Where a tensor's data comes from when a checkpoint is written.
public enum TensorPayload: Sendable {
    /// Read (and recompress) tensor `index` of any source.
    case source(any TensorSource, Int)
    /// Every element equals `pattern` (one element's little-endian bytes): fresh optimizer slots.
    case fill([UInt8])
    /// The data in memory.
    case bytes([UInt8])
    /// Copy the compressed member of tensor `index` of a `.ckpt` as it is (no inflate, no deflate).
    case copy(CheckpointArchive, Int)
}

/// Options for writing a container.
public struct WriteOptions: Sendable {
    /// Replace an existing destination (`--force`).
    public var overwrite = false
    /// Files that must never be replaced by the output.
    public var inputs: [ReadableFile] = []
    public var producer = "ckpt " + CheckpointKitVersion.string
    /// Called on the writing thread with (bytes done, bytes total) of tensor data.
    public var progress: (@Sendable (UInt64, UInt64) -> Void)?

    public init(overwrite: Bool = false, inputs: [ReadableFile] = []) {
        self.overwrite = overwrite
        self.inputs = inputs
    }
}

public enum CheckpointKitVersion {
    public static let string = "0.1.0"
}

/// Writes `.ckpt` containers (spec §1–§3): members in the spec's order, chunks compressed on every
/// core, the manifest last, atomically renamed into place.
public enum CheckpointWriter {
    /// Writes `index` with the data `payloads[i]` for `index.tensors[i]` to `path`.
    /// Returns the manifest that was written.
    @discardableResult
    public static func write(_ index: CheckpointIndex, payloads: [TensorPayload], to path: String,
                             options: WriteOptions = WriteOptions()) throws -> Manifest {
        guard payloads.count == index.tensors.count else {
            throw CheckpointError(.invalidArgument, "\(payloads.count) payloads for \(index.tensors.count) tensors; give one payload per tensor", file: path)
        }
        let kind = index.kind
        if kind == .full && index.optimizer == nil {
            throw CheckpointError(.missingPart, "optimizer tensors without an optimizer configuration cannot be written as a full checkpoint", file: path)
        }
        var seen = Set<String>()
        for t in index.tensors {
            try TensorNames.check(t.name, file: path)
            guard seen.insert(t.name).inserted else {
                throw CheckpointError(.duplicateName, "two tensors are named \"\(escapeForDisplay(t.name))\"", file: path)
            }
            guard t.byteCount != nil else {
                throw CheckpointError(.limitExceeded, "tensor \"\(escapeForDisplay(t.name))\" has a shape whose size overflows", file: path)
            }
        }
        let out = try AtomicOutputFile(destination: path, overwrite: options.overwrite, inputs: options.inputs)
        let writer = ZipWriter(output: out)
        let total = index.tensors.reduce(UInt64(0)) { $0 + UInt64($1.byteCount ?? 0) }
        var done: UInt64 = 0

        let order = index.tensors.indices.sorted { Array(index.tensors[$0].name.utf8).lexicographicallyPrecedes(Array(index.tensors[$1].name.utf8)) }
        for i in order {
            let t = index.tensors[i]
            let member = ContainerSpec.memberName(forTensor: t.name)
            let nbytes = UInt64(t.byteCount ?? 0)
            switch payloads[i] {
            case .copy(let archive, let k):
                let st = archive.manifest.tensors[k]
                // The member's bytes (npy header + data) depend only on dtype and shape; the name may change.
                guard st.info.dtype == t.dtype, st.info.shape == t.shape else {
                    throw CheckpointError(.invalidArgument, "cannot copy member \"\(escapeForDisplay(st.member))\" as tensor \"\(escapeForDisplay(t.name))\": the dtype or shape differ", file: path)
                }
                try writer.copyMember(name: member, from: archive.zip, entry: archive.entries[k], storage: st.storage)
            case .fill(let pattern):
                guard pattern.count == t.dtype.itemSize else {
                    throw CheckpointError(.invalidArgument, "a fill value of \(pattern.count) bytes for \(t.dtype.rawValue) tensor \"\(escapeForDisplay(t.name))\"", file: path)
                }
                try writer.beginTensor(name: member, header: NPY.header(dtype: t.dtype, shape: t.shape), dataSize: nbytes,
                                       itemSize: t.dtype.itemSize, floating: t.dtype.isFloatingPoint)
                if nbytes > 0 { try writer.writeFill(pattern: pattern, count: t.elementCount ?? 0) }
            case .bytes(let data):
                guard UInt64(data.count) == nbytes else {
                    throw CheckpointError(.invalidArgument, "\(data.count) bytes of data for tensor \"\(escapeForDisplay(t.name))\" of \(nbytes) bytes", file: path)
                }
                try writer.beginTensor(name: member, header: NPY.header(dtype: t.dtype, shape: t.shape), dataSize: nbytes,
                                       itemSize: t.dtype.itemSize, floating: t.dtype.isFloatingPoint)
                if nbytes > 0 { try data.withUnsafeBytes { try writer.write($0) } }
            case .source(let source, let k):
                let s = source.index.tensors[k]
                guard s.dtype == t.dtype, s.shape == t.shape else {
                    throw CheckpointError(.invalidArgument, "tensor \"\(escapeForDisplay(s.name))\" of \(source.path) is \(s.dtype.rawValue) \(s.shape), not \(t.dtype.rawValue) \(t.shape)", file: path)
                }
                try writer.beginTensor(name: member, header: NPY.header(dtype: t.dtype, shape: t.shape), dataSize: nbytes,
                                       itemSize: t.dtype.itemSize, floating: t.dtype.isFloatingPoint)
                if nbytes > 0 { try source.readTensorChecked(k) { try writer.write($0) } }
            }
            done += nbytes
            options.progress?(done, total)
        }

        if let arch = index.architecture {
            try writer.addSmallMember(name: ContainerSpec.architectureMember, bytes: arch)
        }
        if let opt = index.optimizer {
            try writer.addSmallMember(name: ContainerSpec.optimizerMember, bytes: optimizerJSON(opt).serializedBytes(.pretty))
        }
        // Drain so every tensor's storage is known, then write the manifest last.
        try writer.finishMembers()
        var stored: [StoredTensor] = []
        stored.reserveCapacity(index.tensors.count)
        for t in index.tensors {
            let member = ContainerSpec.memberName(forTensor: t.name)
            guard let st = writer.storage[member] else {
                throw CheckpointError(.io, "internal error: no storage recorded for member \"\(member)\"", file: path)
            }
            stored.append(StoredTensor(info: t, member: member, storage: st))
        }
        let manifest = Manifest(kind: kind, producer: options.producer, metadata: index.metadata,
                                architectureMember: index.architecture == nil ? nil : ContainerSpec.architectureMember,
                                optimizerMember: index.optimizer == nil ? nil : ContainerSpec.optimizerMember,
                                optimizerClassName: index.optimizer?.className, optimizerIterations: index.optimizer?.iterations,
                                tensors: stored)
        // Compact: the manifest is the whole of index-only work, parsed on every open.
        try writer.addSmallMember(name: ContainerSpec.manifestMember, bytes: manifest.json().serializedBytes(.compact))
        try writer.finish()
        try out.commit()
        return manifest
    }

    static func optimizerJSON(_ o: OptimizerInfo) -> JSONValue {
        .object([
            ("module", .string(o.module)),
            ("class_name", .string(o.className)),
            ("config", o.config),
            ("iterations", .number(o.iterations)),
        ])
    }
}
