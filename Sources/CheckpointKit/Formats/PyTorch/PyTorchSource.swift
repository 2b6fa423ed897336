/// A PyTorch checkpoint read without running its pickle: a `torch.save` file (zip or legacy
/// format) or a Hugging Face sharded set through its `pytorch_model.bin.index.json`.
///
/// Tensors are named by their path in the saved object (state-dict keys; nested dicts joined with
/// `.`); in a training checkpoint the weights keep their state-dict keys and the optimizer's
/// slots are `optimizer/<slot>/<parameter>` (PyTorchStructure.swift). Non-tensor values (epoch,
/// loss, ...) are the index's metadata. Tensors whose dtype ckpt lacks (complex, quantized, ...) and
/// tensors without strided data (sparse, quantized) are listed in ``unsupported`` and ``notes``,
/// not as tensors.
///
/// Views are resolved: a tensor reads only its own elements of its storage (storage offset and
/// strides applied; a non-contiguous view is gathered in memory, up to
/// ``Limits/maxInMemoryTensorBytes`` of the storage span it covers). Big-endian files are
/// swapped to little-endian as they are read.
public final class PyTorchSource: TensorSource {
    public let path: String
    public var format: CheckpointFormat { .pytorch }
    public let index: CheckpointIndex
    /// Tensor-like entries that are not readable tensors here.
    public let unsupported: [PyTorchUnsupportedEntry]
    /// What a reader should be told: unsupported entries, unmatched optimizer state, placeholders.
    public let notes: [String]
    /// `--lenient`: the globals replaced by placeholders (`posix.system (GLOBAL at byte 120)`).
    public let placeholders: [String]
    let files: [PyTorchFile]
    let tensors: [Located]
    let limits: Limits

    struct Located: Sendable {
        let file: Int
        let ref: TorchTensorRef
        let storage: PyTorchStorage
        let contiguous: Bool
        /// Byte offset of the first element inside the storage's data.
        let start: Int
        /// Whether the tensor is exactly its whole storage (so the zip CRC covers just it).
        let wholeStorage: Bool
    }

    /// Every file this source reads (outputs must never replace one): the index of a set, and each file.
    public var inputFiles: [ReadableFile] { (indexFile.map { [$0] } ?? []) + files.map(\.file) }
    let indexFile: ReadableFile?

    /// Opens a `.pt` / `.pth` / `.bin` file, or a sharded set through its `*.bin.index.json`.
    public convenience init(path: String, limits: Limits = .default, pickleLimits: PickleLimits = .default, lenient: Bool = false) throws {
        if path.lowercased().hasSuffix(".json") {
            let shards = try PyTorchShards.open(indexPath: path, limits: limits) { try PyTorchFile(file: ReadableFile(path: $0), limits: limits, pickleLimits: pickleLimits, lenient: lenient) }
            try self.init(path: path, files: shards.files, weightMap: shards.weightMap, indexFile: shards.index, limits: limits)
        } else {
            try self.init(file: ReadableFile(path: path), limits: limits, pickleLimits: pickleLimits, lenient: lenient)
        }
    }

    /// Reads a torch file from `file` (a real file, or bytes in memory).
    public convenience init(file: ReadableFile, limits: Limits = .default, pickleLimits: PickleLimits = .default, lenient: Bool = false) throws {
        try self.init(path: file.path, files: [PyTorchFile(file: file, limits: limits, pickleLimits: pickleLimits, lenient: lenient)], weightMap: nil, indexFile: nil, limits: limits)
    }

    init(path: String, files: [PyTorchFile], weightMap: [ByteName: String]?, indexFile: ReadableFile?, limits: Limits) throws {
        self.path = path
        self.files = files
        self.indexFile = indexFile
        self.limits = limits
        var infos: [TensorInfo] = []
        var located: [Located] = []
        var unsupported: [PyTorchUnsupportedEntry] = []
        var notes: [String] = []
        var placeholders: [String] = []
        var metadata: [(String, JSONValue)] = []
        var seenMeta = Set<ByteName>()
        var optimizer: OptimizerInfo? = nil
        var names: [ByteName: String] = [:]
        for (f, pf) in files.enumerated() {
            let c = pf.contents
            for e in c.tensors {
                if let other = names[ByteName(e.name)] {
                    throw CheckpointError(.duplicateName, "two tensors are named \"\(escapeForDisplay(e.name))\"\(other == pf.path ? "" : " (the other is in \(escapeForDisplay(other)))")",
                                          file: pf.path, member: e.name)
                }
                names[ByteName(e.name)] = pf.path
                let loc = try Self.locate(e, storages: pf.storages, path: pf.path, fileIndex: f, limits: limits)
                guard let dtype = e.ref.scalar.dtype else { continue }
                infos.append(TensorInfo(name: e.name, dtype: dtype, shape: e.ref.shape, role: e.role, trainable: e.trainable, slot: e.slot, weight: e.weight))
                located.append(loc)
            }
            unsupported += c.unsupported
            for u in c.unsupported {
                let shape = u.shape.map { " of shape " + TensorInfo(name: "", dtype: .uint8, shape: $0).shapeDescription } ?? ""
                notes.append("\"\(escapeForDisplay(u.name))\" (\(u.what)\(shape)) is not read: " + (TorchScalarType.byName[u.what] != nil ? "ckpt has no \(u.what) dtype" : "only strided tensors are read"))
            }
            notes += c.notes
            placeholders += pf.placeholders
            for (k, v) in c.metadata.objectValue ?? [] where seenMeta.insert(ByteName(k)).inserted { metadata.append((k, v)) }
            if optimizer == nil, var opt = c.optimizer {
                if let step = c.stepTensor, let k = located.indices.first(where: { infos[$0].name.sameBytes(step) }) {
                    opt.iterations = try Self.readStep(info: infos[k], loc: located[k], files: files, limits: limits) ?? opt.iterations
                }
                optimizer = opt
            }
        }
        if let weightMap { try PyTorchShards.check(weightMap, tensors: infos, unsupported: unsupported, files: files, indexPath: path) }
        for p in placeholders { notes.append("not loaded (lenient): \(p)") }
        self.tensors = located
        self.unsupported = unsupported
        self.notes = notes
        self.placeholders = placeholders
        index = CheckpointIndex(tensors: infos, optimizer: optimizer, metadata: .object(metadata), producer: "torch")
    }

    /// Checks a tensor's view against its storage and works out how to read it.
    static func locate(_ e: PickleTensorEntry, storages: [ByteName: PyTorchStorage], path: String, fileIndex: Int, limits: Limits) throws -> Located {
        let t = e.ref
        let item = t.scalar.itemSize
        func refuse(_ code: CheckpointError.Code, _ why: String) -> CheckpointError {
            CheckpointError(code, "tensor \"\(escapeForDisplay(e.name))\" \(why)", file: path, member: e.name, offset: t.pickleOffset)
        }
        guard let storage = storages[ByteName(t.storage.key)] else { throw refuse(.corrupt, "uses storage \"\(escapeForDisplay(t.storage.key))\", which the file does not hold") }
        guard t.shape.count <= limits.maxRank else { throw refuse(.limitExceeded, "has \(t.shape.count) dimensions (the limit is \(limits.maxRank))") }
        // The window of the storage this tensor may see (a legacy storage view narrows it).
        var windowStart = 0
        var windowBytes = storage.nbytes
        if let v = t.storage.view {
            guard let end = Int.addChecked(v.byteOffset, v.byteCount), end <= storage.nbytes else {
                throw refuse(.corrupt, "uses bytes \(v.byteOffset)..<\(v.byteOffset + min(v.byteCount, Int.max - v.byteOffset)) of storage \"\(escapeForDisplay(storage.key))\", which holds \(storage.nbytes) bytes")
            }
            windowStart = v.byteOffset
            windowBytes = v.byteCount
        }
        guard let numel = TensorInfo.elementCount(t.shape), let nbytes = Int.mulChecked(numel, item) else {
            throw refuse(.limitExceeded, "has a shape \(t.shape) whose size overflows")
        }
        guard UInt64(nbytes) <= limits.maxTensorBytes else { throw refuse(.limitExceeded, "is \(nbytes) bytes (the limit is \(limits.maxTensorBytes))") }
        // Stride 0 repeats data: a few bytes of storage could claim terabytes of tensor. Allow what
        // deflate could (ContainerSpec's ratio), as a tiny compressed member could.
        guard UInt64(nbytes) <= UInt64(windowBytes) * ContainerSpec.maxDeflateRatio + ContainerSpec.deflateRatioSlack else {
            throw refuse(.limitExceeded, "is \(nbytes) bytes, a view repeating its \(windowBytes)-byte storage more than \(ContainerSpec.maxDeflateRatio) times")
        }
        var contiguous = true
        var start = windowStart
        if numel > 0 {
            // Last element's index: offset + Σ (size-1)·stride, in elements, then in bytes.
            var last = t.storageOffset
            var expected = 1
            for d in stride(from: t.shape.count - 1, through: 0, by: -1) where t.shape[d] != 1 {
                guard let span = Int.mulChecked(t.shape[d] - 1, t.stride[d]), let l = Int.addChecked(last, span) else {
                    throw refuse(.corrupt, "has strides \(t.stride) that overflow")
                }
                last = l
                if t.stride[d] != expected { contiguous = false }
                expected = expected &* t.shape[d]
            }
            guard let endElem = Int.addChecked(last, 1), let endByte = Int.mulChecked(endElem, item), endByte <= windowBytes,
                  let offsetBytes = Int.mulChecked(t.storageOffset, item) else {
                throw refuse(.corrupt, "(shape \(t.shape), stride \(t.stride), storage offset \(t.storageOffset)) reaches past the end of storage \"\(escapeForDisplay(storage.key))\", which holds \(windowBytes) bytes (\(windowBytes / max(item, 1)) \(t.scalar.name) elements)")
            }
            start = windowStart + offsetBytes
        }
        return Located(file: fileIndex, ref: t, storage: storage, contiguous: contiguous, start: start,
                       wholeStorage: contiguous && start == 0 && nbytes == storage.nbytes)
    }

    /// The value of a 0-d step tensor (a few bytes).
    static func readStep(info: TensorInfo, loc: Located, files: [PyTorchFile], limits: Limits) throws -> Int64? {
        guard info.shape.isEmpty else { return nil }
        var bytes: [UInt8] = []
        try PyTorchReader(file: files[loc.file], loc: loc, limits: limits).read(0..<info.dtype.itemSize) { bytes += $0 }
        guard bytes.count == info.dtype.itemSize else { return nil }
        var v = Double.nan
        bytes.withUnsafeBytes { Elements.forEach(info.dtype, $0) { v = $0 } }
        guard v.isFinite, let i = Int64(exactly: v.rounded()) else { return nil }
        return i
    }

    // MARK: TensorSource

    public func pieces(of i: Int) -> [Range<Int>] {
        let n = index.tensors[i].byteCount ?? 0
        let loc = tensors[i]
        return loc.contiguous && loc.storage.entry?.method ?? 0 == 0 ? Self.uniformPieces(count: n, size: ContainerSpec.chunkSize) : [0..<n]
    }

    @discardableResult
    public func readPiece(_ i: Int, _ p: Int, _ body: (UnsafeRawBufferPointer) throws -> Void) throws -> UInt32 {
        let loc = tensors[i]
        let reader = PyTorchReader(file: files[loc.file], loc: loc, limits: limits)
        let ps = pieces(of: i)
        guard p < ps.count else { return 0 }
        let crc = try reader.read(ps[p], body)
        if ps.count == 1, loc.wholeStorage, let e = loc.storage.entry, e.method == 0, crc != e.crc32 {
            throw CheckpointError(.checksumMismatch, "CRC-32 mismatch: the directory says \(hex32(e.crc32)), the data gives \(hex32(crc))", file: files[loc.file].path, member: e.name)
        }
        return crc
    }

    /// A tensor that is its whole storage in a zip `torch.save` file is checked against the
    /// member's CRC-32; a view of part of a storage, or a legacy file, has no checksum.
    public func integrity(of i: Int) -> TensorIntegrity {
        tensors[i].wholeStorage && tensors[i].storage.entry != nil ? .memberCRC32 : .none
    }

    public func verifyPieces(of i: Int, crcs: [UInt32]) throws {
        let loc = tensors[i]
        guard loc.wholeStorage, let e = loc.storage.entry, e.method == 0, crcs.count > 1 else { return }
        var c: UInt32 = 0
        for (k, r) in pieces(of: i).enumerated() { c = k == 0 ? crcs[0] : crc32Combine(c, crcs[k], lengthOfB: r.count) }
        guard c == e.crc32 else {
            throw CheckpointError(.checksumMismatch, "CRC-32 mismatch: the directory says \(hex32(e.crc32)), the data gives \(hex32(c))", file: files[loc.file].path, member: e.name)
        }
    }

    /// Where a contiguous tensor's bytes sit in its file, when they can be copied as they are
    /// (a stored zip member or a legacy file, little-endian); nil otherwise.
    public func fileRange(of i: Int) throws -> (file: ReadableFile, offset: UInt64, count: Int)? {
        let loc = tensors[i]
        let pf = files[loc.file]
        guard loc.contiguous, !pf.bigEndian, loc.storage.entry?.method ?? 0 == 0 else { return nil }
        let base = try PyTorchReader(file: pf, loc: loc, limits: limits).storageDataOffset()
        return (pf.file, base + UInt64(loc.start), index.tensors[i].byteCount ?? 0)
    }
}

extension Int {
    static func addChecked(_ a: Int, _ b: Int) -> Int? {
        let (r, o) = a.addingReportingOverflow(b)
        return o ? nil : r
    }

    static func mulChecked(_ a: Int, _ b: Int) -> Int? {
        let (r, o) = a.multipliedReportingOverflow(by: b)
        return o ? nil : r
    }
}

extension PyTorchSource {
    /// What a bare pickle (a `data.pkl`) describes, checked as far as it can be without storage
    /// data: its tensors (views checked against the storage sizes the persistent ids declare),
    /// unsupported entries, metadata and optimizer. Nothing is run. For fuzzing and tools.
    public static func describePickle(_ bytes: [UInt8], limits: Limits = .default, pickleLimits: PickleLimits = .default,
                                      lenient: Bool = false) throws -> CheckpointIndex {
        let u = Unpickler(bytes: bytes, base: 0, file: "data.pkl", member: nil, limits: pickleLimits, lenient: lenient, persistentIDs: .zip)
        let (root, _) = try u.load()
        let c = try withExtendedLifetime(u) { try PyTorchStructure.interpret(root, limits: pickleLimits, file: "data.pkl") }
        var storages: [ByteName: PyTorchStorage] = [:]
        for (k, ref) in u.storages { storages[k] = PyTorchStorage(key: k.string, nbytes: ref.nbytes, entry: nil, countOffset: 0, itemSize: ref.element.itemSize) }
        var infos: [TensorInfo] = []
        for e in c.tensors {
            _ = try locate(e, storages: storages, path: "data.pkl", fileIndex: 0, limits: limits)
            guard let dtype = e.ref.scalar.dtype else { continue }
            infos.append(TensorInfo(name: e.name, dtype: dtype, shape: e.ref.shape, role: e.role, trainable: e.trainable, slot: e.slot, weight: e.weight))
        }
        return CheckpointIndex(tensors: infos, optimizer: c.optimizer, metadata: c.metadata, producer: "torch")
    }
}
