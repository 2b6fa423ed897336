/// Options for writing a container.
public struct WriteOptions: Sendable {
    /// Replace an existing destination (`--force`).
    public var overwrite = false
    /// Files that must never be replaced by the output.
    public var inputs: [ReadableFile] = []
    public var producer = "ckpt " + CheckpointKitVersion.string
    /// Called on the writing thread with (bytes done, bytes total) of tensor data.
    public var progress: (@Sendable (UInt64, UInt64) -> Void)?
    /// Formats written as a set of shards (safetensors): the largest shard, in bytes. Writing a
    /// set is chosen by naming its index file; nil means the format's default.
    public var maxShardSize: UInt64?
    /// For formats laid out by the model's architecture (Keras): the architecture to use when the
    /// checkpoint written carries none (a weights-only index made from a full checkpoint).
    public var layoutArchitecture: [UInt8]?
    /// Write tensors stored block-quantized (``TensorInfo/quantization``: GGUF `Q4_K`, …) as the
    /// float32 they decode to. Without it, ``Convert`` refuses them by name.
    public var dequantize = false
    /// What the format's reader accepts: a writer refuses, by name, anything beyond (see ``Limits``).
    public var limits: Limits = .default
    /// The deflate encoder of tensor data in ZIP containers (`.ckpt`, `.npz`): ISA-L when present.
    public var encoder: DeflateEncoder = .preferred
    /// Leave out the source's unsupported entries (``CheckpointIndex/unsupported``) with a note;
    /// without it, ``Convert`` refuses the first by name.
    public var skipUnsupported = false

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
    /// Writes `source` (its index and every tensor) to `path`. A tensor the source holds as a
    /// `.ckpt` member (``TensorSource/storedMember(of:)``) is copied compressed as it is.
    /// Returns the manifest that was written.
    @discardableResult
    public static func write(_ source: any TensorSource, to path: String, options: WriteOptions = WriteOptions()) throws -> Manifest {
        let index = source.index
        let kind = index.kind
        if kind == .full && index.optimizer == nil {
            throw CheckpointError(.missingPart, "optimizer tensors without an optimizer configuration cannot be written as a full checkpoint", file: path)
        }
        let others = 1 + (index.architecture == nil ? 0 : 1) + (index.optimizer == nil ? 0 : 1)
        try WriterChecks.zipTensors(index.tensors, otherMembers: others, limits: options.limits, file: path)
        // The manifest holds every name twice and about 200 bytes more per tensor: refuse early
        // what is sure to exceed the reader's limit (the exact size is checked before writing it).
        let manifestFloor = index.tensors.reduce(0) { $0 + 2 * $1.name.utf8.count + 200 }
        try WriterChecks.json(manifestFloor, limit: options.limits.maxManifestBytes, file: path, what: "manifest")
        var seen = Set<ByteName>()
        for t in index.tensors {
            guard seen.insert(ByteName(t.name)).inserted else {
                throw CheckpointError(.duplicateName, "two tensors are named \"\(escapeForDisplay(t.name))\"", file: path)
            }
            guard t.byteCount != nil else {
                throw CheckpointError(.limitExceeded, "tensor \"\(escapeForDisplay(t.name))\" has a shape whose size overflows", file: path)
            }
        }
        // Members copied compressed are checked first, on every core (damage in the input must not
        // travel silently into the output).
        // The checks run beside the writing (on the other cores while this thread copies), and the
        // output is committed only after every one passed: a failure leaves nothing behind.
        let copies: [(Int, StoredMemberRef)] = index.tensors.indices.compactMap { i in source.storedMember(of: i).map { (i, $0) } }
        let checks = BackgroundResult<[UInt32]> {
            try ParallelWork.map(count: copies.count, weight: { Int(copies[$0].1.archive.manifest.tensors[copies[$0].1.tensor].storage.size) }) { k in
                try copies[k].1.archive.checkBeforeCopy(copies[k].1.tensor)
            }
        }
        defer { _ = try? checks.wait() }
        let out = try AtomicOutputFile(destination: path, overwrite: options.overwrite, inputs: options.inputs)
        let writer = ZipWriter(output: out, limits: options.limits, encoder: options.encoder)
        let total = index.tensors.reduce(UInt64(0)) { $0 + UInt64($1.byteCount ?? 0) }
        var done: UInt64 = 0

        let order = index.tensors.indices.sorted { Array(index.tensors[$0].name.utf8).lexicographicallyPrecedes(Array(index.tensors[$1].name.utf8)) }
        for i in order {
            let t = index.tensors[i]
            let member = ContainerSpec.memberName(forTensor: t.name)
            let nbytes = UInt64(t.byteCount ?? 0)
            if let ref = source.storedMember(of: i) {
                let st = ref.archive.manifest.tensors[ref.tensor]
                // The member's bytes (npy header + data) depend only on dtype and shape; the name may change.
                guard st.info.dtype == t.dtype, st.info.shape == t.shape else {
                    throw CheckpointError(.invalidArgument, "cannot copy member \"\(escapeForDisplay(st.member))\" as tensor \"\(escapeForDisplay(t.name))\": the dtype or shape differ", file: path)
                }
                try writer.copyMember(name: member, from: ref.archive.zip, entry: ref.archive.entries[ref.tensor], storage: st.storage)
            } else if let pattern = source.uniformElement(of: i) {
                guard pattern.count == t.dtype.itemSize else {
                    throw CheckpointError(.invalidArgument, "a fill value of \(pattern.count) bytes for \(t.dtype.rawValue) tensor \"\(escapeForDisplay(t.name))\"", file: path)
                }
                try writer.beginTensor(name: member, header: NPY.header(dtype: t.dtype, shape: t.shape), dataSize: nbytes,
                                       itemSize: t.dtype.itemSize, floating: t.dtype.isFloatingPoint)
                if nbytes > 0 { try writer.writeFill(pattern: pattern, count: t.elementCount ?? 0) }
            } else {
                try writer.beginTensor(name: member, header: NPY.header(dtype: t.dtype, shape: t.shape), dataSize: nbytes,
                                       itemSize: t.dtype.itemSize, floating: t.dtype.isFloatingPoint)
                if nbytes > 0 { try source.readTensorChecked(i) { try writer.write($0) } }
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
        // The CRC-32 of each copied member's compressed bytes, now checked: recorded in the output.
        let checkedCRCs = try checks.wait()
        var storedCRC: [Int: UInt32] = [:]
        for (k, c) in copies.enumerated() where k < checkedCRCs.count { storedCRC[c.0] = checkedCRCs[k] }
        var stored: [StoredTensor] = []
        stored.reserveCapacity(index.tensors.count)
        for (i, t) in index.tensors.enumerated() {
            let member = ContainerSpec.memberName(forTensor: t.name)
            guard var st = writer.storage[member] else {
                throw CheckpointError(.io, "internal error: no storage recorded for member \"\(member)\"", file: path)
            }
            if st.storedCRC32 == nil, let c = storedCRC[i] { st.storedCRC32 = c }
            stored.append(StoredTensor(info: t, member: member, storage: st))
        }
        let manifest = Manifest(kind: kind, producer: options.producer, metadata: index.metadata,
                                architectureMember: index.architecture == nil ? nil : ContainerSpec.architectureMember,
                                optimizerMember: index.optimizer == nil ? nil : ContainerSpec.optimizerMember,
                                optimizerClassName: index.optimizer?.className, optimizerIterations: index.optimizer?.iterations,
                                tensors: stored)
        // Compact: the manifest is the whole of index-only work, parsed on every open.
        let manifestBytes = manifest.json().serializedBytes(.compact)
        try WriterChecks.json(manifestBytes.count, limit: options.limits.maxManifestBytes, file: path, what: "manifest")
        try writer.addSmallMember(name: ContainerSpec.manifestMember, bytes: manifestBytes)
        try writer.finish()
        try out.commit()
        return manifest
    }

    /// Writes `index` with `payloads[i]` the data of `index.tensors[i]` (a ``ComposedSource``).
    @discardableResult
    public static func write(_ index: CheckpointIndex, payloads: [TensorPayload], to path: String,
                             options: WriteOptions = WriteOptions()) throws -> Manifest {
        try write(ComposedSource(index: index, payloads: payloads, path: path, format: .ckpt), to: path, options: options)
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
