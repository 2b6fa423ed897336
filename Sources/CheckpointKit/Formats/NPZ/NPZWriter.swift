/// Writes a `.npz` that `numpy.load` reads like one from `np.savez_compressed`: one deflated
/// `<name>.npy` member per tensor (key = tensor name), in the index's order, each with the header
/// `np.save` writes (format 1.0, C order, little-endian, padded to 64 bytes).
///
/// Dtypes numpy lacks (bfloat16 and the float8 family, ``DType/numpyLacks``) have one rule: the
/// member holds the raw bits as the unsigned integer of the same width (`<u2`, `|u1`), which is
/// what numpy sees; the ckpt index in the archive comment (``IndexSidecar``) records the real
/// dtype, so ckpt reads them back as they were, and a note says what numpy sees. The same index
/// keeps what named arrays cannot say (optimizer class, configuration and step; trainability;
/// metadata; architecture), up to the 65,535 bytes a ZIP comment holds: past that, the
/// architecture, then the metadata, then the optimizer's configuration are left out, each with a
/// note.
///
/// Tensors stream through in chunks; the archive is written to a temporary file and renamed into
/// place (``AtomicOutputFile``). A source that gives more or fewer bytes than a tensor's shape
/// holds is an error, and nothing is left behind.
public enum NPZWriter {
    /// The largest archive comment ZIP allows.
    public static let maxComment = 0xFFFF

    /// Writes `source` (or its tensors `tensors`); returns notes on what numpy sees and what the
    /// archive comment could not hold.
    @discardableResult
    public static func write(_ source: any TensorSource, tensors: [Int]? = nil, to path: String, options: WriteOptions = WriteOptions()) throws -> [String] {
        let list = tensors ?? Array(source.index.tensors.indices)
        try WriterChecks.zipTensors(list.map { source.index.tensors[$0] }, otherMembers: 0, limits: options.limits, file: path)
        var seen = Set<ByteName>()
        for k in list {
            let t = source.index.tensors[k]
            guard seen.insert(ByteName(t.name)).inserted else {
                throw CheckpointError(.duplicateName, "two tensors are named \"\(escapeForDisplay(t.name))\"", file: path, member: t.name)
            }
            guard t.byteCount != nil else {
                throw CheckpointError(.limitExceeded, "tensor \"\(escapeForDisplay(t.name))\" has a shape whose size overflows", file: path, member: t.name)
            }
        }
        var index = source.index
        index.tensors = list.map { source.index.tensors[$0] }
        let (comment, notes) = sidecar(index, writer: options.producer)

        let out = try AtomicOutputFile(destination: path, overwrite: options.overwrite, inputs: options.inputs)
        let writer = ZipWriter(output: out, limits: options.limits, encoder: options.encoder)
        let total = list.reduce(UInt64(0)) { $0 + UInt64(source.index.tensors[$1].byteCount ?? 0) }
        var done: UInt64 = 0
        for k in list {
            let t = source.index.tensors[k]
            let header = NPY.header(dtype: t.dtype, shape: t.shape)
            let nbytes = UInt64(t.byteCount ?? 0)
            try writer.beginTensor(name: t.name + ".npy", header: header, dataSize: nbytes, itemSize: t.dtype.itemSize, floating: t.dtype.isFloatingPoint)
            if nbytes > 0 { try source.readTensorChecked(k) { try writer.write($0) } }
            done += nbytes
            options.progress?(done, total)
        }
        try writer.finish(comment: comment)
        try out.commit()
        return notes
    }

    /// The archive comment for `index` (empty when names say everything) and notes: what numpy
    /// sees of dtypes it lacks, and what did not fit.
    static func sidecar(_ index: CheckpointIndex, writer: String) -> ([UInt8], [String]) {
        var notes: [String] = []
        let lacking = index.tensors.filter { $0.dtype.numpyLacks }
        if !lacking.isEmpty {
            let kinds = Dictionary(grouping: lacking, by: \.dtype).sorted { $0.key < $1.key }.map { dtype, ts in
                "\(ts.count) \(dtype.rawValue) as \(IndexSidecar.rawBitsDType(ofWidth: dtype.itemSize)?.rawValue ?? "raw bits") (\(Self.examples(ts)))"
            }
            notes.append("numpy has no dtype for \(kinds.joined(separator: "; ")): numpy.load sees their raw bits; ckpt reads them back as they were (in numpy: a.view(ml_dtypes.\(lacking[0].dtype.rawValue)))")
        }
        let stored = index.tensors.map { t -> TensorInfo in
            var s = t
            if t.dtype.numpyLacks, let raw = IndexSidecar.rawBitsDType(ofWidth: t.dtype.itemSize) { s.dtype = raw }
            return s
        }
        // Drop parts, least needed first, until the record fits the comment.
        var parts = FormatParts.all
        let order: [(FormatParts, String)] = [
            (.architecture, "the architecture (\(index.architecture?.count ?? 0) bytes)"),
            (.metadata, "the metadata"),
            (.optimizerConfig, "the optimizer's class, configuration and step"),
            (.trainability, "which weights are not trainable"),
        ]
        var left: [String] = []
        for (part, what) in [(FormatParts(), "")] + order {
            if !part.isEmpty {
                parts.remove(part)
                if has(part, index) { left.append(what) }
            }
            guard let record = IndexSidecar.encode(index, stored: stored, parts: parts, writer: writer) else { return ([], notes) }
            let bytes = record.serializedBytes(.compact)
            if bytes.count <= maxComment {
                if !left.isEmpty {
                    notes.append("left out, as the ckpt index in a .npz's archive comment holds at most \(maxComment) bytes: " + left.joined(separator: ", "))
                }
                return (bytes, notes)
            }
        }
        notes.append("the ckpt index does not fit a .npz's archive comment (at most \(maxComment) bytes): real dtypes and optimizer roles not given by names are left out; write .ckpt or .safetensors to keep them")
        return ([], notes)
    }

    private static func has(_ part: FormatParts, _ index: CheckpointIndex) -> Bool {
        switch part {
        case .architecture: return index.architecture != nil
        case .metadata: return !(index.metadata.objectValue ?? []).isEmpty
        case .optimizerConfig: return index.optimizer != nil
        case .trainability: return index.trainabilityKnown && index.weights.contains { !$0.trainable }
        default: return false
        }
    }

    /// Up to three names, quoted, and how many more.
    static func examples(_ tensors: [TensorInfo]) -> String {
        let shown = tensors.prefix(3).map { "\"\(escapeForDisplay($0.name))\"" }.joined(separator: ", ")
        return tensors.count > 3 ? shown + " and \(tensors.count - 3) more" : shown
    }
}

extension CheckpointFormat {
    /// NumPy `.npz` (`np.savez` / `np.savez_compressed`).
    public static let npz = CheckpointFormat(rawValue: "npz")
}

/// NumPy `.npz`: a ZIP of `.npy` members, one per tensor, named by the tensor; what names cannot
/// say is kept in the archive comment (``NPZWriter``).
public struct NPZFormat: FileFormat {
    public init() {}
    public var id: CheckpointFormat { .npz }
    public var displayName: String { "NumPy .npz" }
    public var names: [String] { ["npz", "numpy"] }
    public var suffixes: [String] { [".npz"] }
    /// Every tensor under its name; the rest in the ckpt index of the archive comment (which may
    /// not hold a large architecture: the writer says so).
    public var parts: FormatParts { .all }

    /// Any ZIP that neither the container nor Keras claimed.
    public func sniff(_ probe: FormatProbe) throws -> Bool { startsLikeZip(probe.head) }
    public var sniffsLast: Bool { true }

    public func open(_ path: String, options: OpenOptions) throws -> any TensorSource {
        try ArchitectureNaming.attach(options.architecture, to: NPZSource(path: path, limits: options.limits))
    }

    public func write(_ source: any TensorSource, to path: String, options: WriteOptions) throws -> WriteResult {
        let notes = try NPZWriter.write(source, to: path, options: options)
        return WriteResult(paths: [path], tensors: source.index.tensors.count, notes: notes)
    }
}
