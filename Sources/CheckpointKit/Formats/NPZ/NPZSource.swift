/// A NumPy `.npz` archive (from `np.savez` or `np.savez_compressed`) read as a checkpoint: every
/// `<key>.npy` member is a tensor named `<key>`, in the archive's order.
///
/// Stored members (`np.savez`) are read in pieces of ``ContainerSpec/chunkSize`` at any offset,
/// their CRC-32 checked by ``verifyPieces(of:crcs:)``; deflated members (`np.savez_compressed`)
/// stream as one piece, checked at their end. Layouts numpy writes every day are served as
/// `numpy.load` gives them: big-endian elements byte-swapped, Fortran-order arrays transposed to C
/// order (in memory, one tensor at a time, up to ``Limits/maxInMemoryTensorBytes``).
///
/// What a tensor is comes from its name (``TensorRoles``: `optimizer/...` is optimizer state) and,
/// when ckpt wrote the file, from the ckpt index in the archive comment (``IndexSidecar``): real
/// dtypes of raw-bits members (bfloat16, float8), trainability, the optimizer, the metadata and
/// the architecture. Without that index, trainability is unknown.
///
/// Members that are not tensors here — not `.npy`, or complex / string / object / structured /
/// datetime dtypes — are listed in ``CheckpointIndex/unsupported``, never read; malformed headers,
/// headers that disagree with the member's size and tensors above ``Limits/maxTensorBytes`` are
/// refused with a sentence naming the member.
public final class NPZSource: TensorSource {
    public let zip: ZipArchive
    public var inputFiles: [ReadableFile] { [zip.file] }
    public let index: CheckpointIndex
    public var path: String { zip.path }
    public var format: CheckpointFormat { .npz }
    public let notes: [String]

    /// How a member's bytes become the tensor's.
    enum Layout: Sendable {
        case plain
        /// Big-endian elements of this size, swapped piece by piece.
        case swapped(Int)
        /// Fortran order (transposed in memory); elements of `swap` bytes swapped first (0: none).
        case fortran(swap: Int)
    }

    struct Member: Sendable {
        let entry: ZipEntry
        let headerLength: Int
        /// File offset of a stored member's data (its npy header); 0 for deflated members.
        let dataOffset: UInt64
        let layout: Layout
    }
    private let members: [Member]
    /// The ZIP members listed as unsupported, for ``verifyUnsupported()``.
    private let unsupportedEntries: [ZipEntry]
    private let limits: Limits

    public convenience init(path: String, limits: Limits = .default) throws {
        try self.init(zip: ZipArchive(path: path, limits: limits), limits: limits)
    }

    public init(zip: ZipArchive, limits: Limits = .default) throws {
        self.zip = zip
        self.limits = limits
        // Other ZIP-based checkpoints are not archives of arrays: say what they are.
        if zip.entry(named: ContainerSpec.manifestMember) != nil {
            throw CheckpointError(.notRecognized, "the ZIP archive has a \(ContainerSpec.manifestMember) member: it is a ckpt container, not a .npz", file: zip.path)
        }
        if zip.entry(named: KerasFiles.weightsMember) != nil && zip.entry(named: KerasFiles.configMember) != nil {
            throw CheckpointError(.notRecognized, "the ZIP archive holds \(KerasFiles.configMember) and \(KerasFiles.weightsMember): it is a Keras 3 .keras file, not a .npz", file: zip.path)
        }
        var tensors: [TensorInfo] = []
        var members: [Member] = []
        var unsupported: [UnsupportedEntry] = []
        var unsupportedEntries: [ZipEntry] = []
        for e in zip.entries {
            let listed = unsupported.count
            defer { if unsupported.count > listed { unsupportedEntries.append(e) } }
            guard e.name.hasSuffix(".npy") else {
                unsupported.append(UnsupportedEntry(name: e.name, what: "a ZIP member that is not a .npy array",
                                                    reason: "numpy.load returns it as bytes, not an array", offset: e.localHeaderOffset))
                continue
            }
            let name = String(e.name.dropLast(4))
            do {
                try TensorNames.check(name, file: zip.path)
            } catch let error as CheckpointError {
                unsupported.append(UnsupportedEntry(name: e.name, what: "a .npy member", reason: error.reason, offset: e.localHeaderOffset))
                continue
            }
            let (parsed, total, start) = try Self.readHeader(zip, e, limits: limits)
            guard case .array(let header) = parsed else {
                if case .unsupported(let what, let reason) = parsed {
                    unsupported.append(UnsupportedEntry(name: name, what: what, reason: reason, offset: e.localHeaderOffset))
                }
                continue
            }
            let info = TensorInfo(name: name, dtype: header.dtype, shape: header.shape)
            if let nbytes = info.byteCount, UInt64(nbytes) > limits.maxTensorBytes {
                throw CheckpointError(.limitExceeded, "the array is \(nbytes) bytes (the limit is \(limits.maxTensorBytes))", file: zip.path, member: e.name, offset: e.localHeaderOffset)
            }
            guard let nbytes = info.byteCount, UInt64(total) + UInt64(nbytes) == e.uncompressedSize else {
                throw CheckpointError(.invalidNPY, "the header says \(header.descr) \(header.shape), \(info.byteCount ?? -1) bytes of data, but the member holds \(e.uncompressedSize - UInt64(total))",
                                      file: zip.path, member: e.name, offset: e.localHeaderOffset)
            }
            let swap = header.bigEndian ? header.dtype.itemSize : 0
            var layout = Layout.plain
            if header.fortranOrder && NPYLayout.fortranDiffers(header.shape) {
                guard nbytes <= limits.maxInMemoryTensorBytes else {
                    unsupported.append(UnsupportedEntry(name: name, what: "a Fortran-order \(header.descr) array \(info.shapeDescription)",
                                                        reason: "transposing its \(nbytes) bytes to C order would take more memory than the in-memory limit (\(limits.maxInMemoryTensorBytes) bytes)",
                                                        offset: e.localHeaderOffset))
                    continue
                }
                layout = .fortran(swap: swap)
            } else if swap > 0 {
                layout = .swapped(swap)
            }
            tensors.append(info)
            members.append(Member(entry: e, headerLength: total, dataOffset: start, layout: layout))
        }
        var plain = CheckpointIndex(tensors: TensorRoles.fromNames(tensors), producer: "numpy")
        plain.unsupported = unsupported
        plain.trainabilityKnown = false
        var notes: [String] = []
        if !zip.comment.isEmpty, zip.comment.first == UInt8(ascii: "{") {
            let (completed, order, note) = IndexSidecar.apply(zip.comment, to: plain, where: "archive comment", limits: limits)
            plain = completed
            members = order.map { members[$0] }
            if let note { notes.append(note) }
        }
        self.members = members
        self.unsupportedEntries = unsupportedEntries
        self.notes = notes
        index = plain
    }

    /// Reads and parses the `.npy` header of member `e`: in place for a stored member, through a
    /// small inflating stream for a deflated one. Returns the parsed header, its length, and the
    /// file offset of a stored member's data (0 for a deflated one).
    private static func readHeader(_ zip: ZipArchive, _ e: ZipEntry, limits: Limits) throws -> (NPY.Parsed, Int, UInt64) {
        let prefixCount = Int(min(e.uncompressedSize, UInt64(NPY.preambleLength)))
        var prefix = [UInt8](repeating: 0, count: prefixCount)
        var rest: [UInt8] = []
        let total: Int
        var start: UInt64 = 0
        if e.method == 0 {
            start = try zip.dataOffset(of: e)
            prefix = try zip.readBytes(at: start, count: prefixCount, what: "npy header", member: e.name)
            total = try NPY.headerLength(prefix: prefix, limits: limits, file: zip.path, member: e.name, offset: start)
            guard UInt64(total) <= e.uncompressedSize else {
                throw CheckpointError(.invalidNPY, "the .npy header (\(total) bytes) is longer than the member (\(e.uncompressedSize) bytes)", file: zip.path, member: e.name, offset: start)
            }
            // A header shorter than the preamble (a length field of 0 or 1) is already in `prefix`.
            rest = try zip.readBytes(at: start + UInt64(prefix.count), count: max(0, total - prefix.count), what: "npy header", member: e.name)
        } else {
            let stream = try MemberStream(archive: zip, entry: e, verifyCRC: false, bufferSize: 4096)
            try fill(&prefix, from: stream)
            total = try NPY.headerLength(prefix: prefix, limits: limits, file: zip.path, member: e.name, offset: e.localHeaderOffset)
            guard UInt64(total) <= e.uncompressedSize else {
                throw CheckpointError(.invalidNPY, "the .npy header (\(total) bytes) is longer than the member (\(e.uncompressedSize) bytes)", file: zip.path, member: e.name, offset: e.localHeaderOffset)
            }
            rest = [UInt8](repeating: 0, count: max(0, total - prefix.count))
            try fill(&rest, from: stream)
        }
        let parsed = try NPY.inspectHeader(prefix + rest, limits: limits, file: zip.path, member: e.name, offset: e.localHeaderOffset)
        return (parsed, total, start)
    }

    private static func fill(_ buf: inout [UInt8], from stream: MemberStream) throws {
        guard try buf.withUnsafeMutableBytes({ try stream.readFully(into: $0) }) == buf.count else {
            throw CheckpointError(.invalidNPY, "the member ends inside its .npy header", file: stream.archive.path, member: stream.entry.name, offset: stream.entry.localHeaderOffset)
        }
    }

    /// Whether tensor `i` is stored in an order other than C order (and so served as one piece).
    private func isTransposed(_ i: Int) -> Bool {
        if case .fortran = members[i].layout { return true }
        return false
    }

    public func pieces(of i: Int) -> [Range<Int>] {
        let n = index.tensors[i].byteCount ?? 0
        return members[i].entry.method == 0 && !isTransposed(i) ? Self.uniformPieces(count: n, size: ContainerSpec.chunkSize) : [0..<n]
    }

    @discardableResult
    public func readPiece(_ i: Int, _ p: Int, _ body: (UnsafeRawBufferPointer) throws -> Void) throws -> UInt32 {
        switch members[i].layout {
        case .plain:
            return try readStored(i, p, body)
        case .swapped(let item):
            var copy: [UInt8] = []
            return try readStored(i, p) { chunk in
                copy.removeAll(keepingCapacity: true)
                copy.append(contentsOf: chunk)
                copy.withUnsafeMutableBytes { NPYLayout.swapBytes($0, itemSize: item) }
                try copy.withUnsafeBytes(body)
            }
        case .fortran(let swap):
            let info = index.tensors[i]
            var data: [UInt8] = []
            data.reserveCapacity(info.byteCount ?? 0)
            _ = try readStored(i, 0) { data.append(contentsOf: $0) }
            if swap > 0 { data.withUnsafeMutableBytes { NPYLayout.swapBytes($0, itemSize: swap) } }
            try NPYLayout.fortranToC(data, shape: info.shape, itemSize: info.dtype.itemSize).withUnsafeBytes(body)
            return 0
        }
    }

    /// Streams piece `p` of member `i`'s data as stored (the whole member when it is one piece).
    private func readStored(_ i: Int, _ p: Int, _ body: (UnsafeRawBufferPointer) throws -> Void) throws -> UInt32 {
        let m = members[i]
        let ps = pieces(of: i)
        if m.entry.method == 0 && ps.count > 1 {
            let r = ps[p]
            let start = m.dataOffset + UInt64(m.headerLength + r.lowerBound)
            var buf = [UInt8](repeating: 0, count: r.count)
            try buf.withUnsafeMutableBytes { try zip.readBytes(at: start, into: $0, what: "member data", member: m.entry.name) }
            let crc = crc32(buf)
            try buf.withUnsafeBytes(body)
            return crc
        }
        // Whole member, streamed, CRC checked at the end; chunks hold whole elements.
        let stream = try MemberStream(archive: zip, entry: m.entry)
        var skip = [UInt8](repeating: 0, count: m.headerLength)
        try Self.fill(&skip, from: stream)
        let n = index.tensors[i].byteCount ?? 0
        try stream.drain(chunk: min(ContainerSpec.chunkSize, max(1, n)), body)
        return 0
    }

    /// Streams every unsupported member through its CRC-32 check (nothing is interpreted).
    public func verifyUnsupported() throws -> Int {
        for e in unsupportedEntries {
            let stream = try MemberStream(archive: zip, entry: e)
            try stream.drain(chunk: ContainerSpec.chunkSize) { _ in }
        }
        return unsupportedEntries.count
    }

    /// Every member carries a CRC-32, checked whenever a tensor is read in full.
    public func integrity(of i: Int) -> TensorIntegrity { .memberCRC32 }

    public func verifyPieces(of i: Int, crcs: [UInt32]) throws {
        let m = members[i]
        guard m.entry.method == 0, crcs.count > 1 else { return }
        let header = try zip.readBytes(at: m.dataOffset, count: m.headerLength, what: "npy header", member: m.entry.name)
        var c = crc32(header)
        for (k, r) in pieces(of: i).enumerated() { c = crc32Combine(c, crcs[k], lengthOfB: r.count) }
        guard c == m.entry.crc32 else {
            throw CheckpointError(.checksumMismatch, "CRC-32 mismatch: the directory says \(hex32(m.entry.crc32)), the data gives \(hex32(c))", file: path, member: m.entry.name, offset: m.dataOffset)
        }
    }
}
