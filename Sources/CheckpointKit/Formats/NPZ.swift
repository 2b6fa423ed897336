/// A NumPy `.npz` archive (from `np.savez` or `np.savez_compressed`) read as a weights checkpoint:
/// every `<key>.npy` member is a tensor named `<key>`, in the archive's order.
///
/// Stored members (`np.savez`) are read in pieces of ``ContainerSpec/chunkSize`` at any offset,
/// their CRC-32 checked by ``verifyPieces(of:crcs:)``; deflated members (`np.savez_compressed`)
/// stream as one piece, checked at their end. Refused, each with a sentence naming the member:
/// members that are not `.npy` arrays, object / string / structured / complex dtypes,
/// Fortran-order arrays with more than one non-trivial axis, big-endian data (with a hint on how
/// to convert), headers that disagree with the member's size, tensors above
/// ``Limits/maxTensorBytes``.
public final class NPZSource: TensorSource {
    public let zip: ZipArchive
    public var inputFiles: [ReadableFile] { [zip.file] }
    public let index: CheckpointIndex
    public var path: String { zip.path }
    public var format: CheckpointFormat { .npz }
    private let entries: [ZipEntry]
    private let headerLengths: [Int]
    /// File offset of each stored member's data (its npy header); 0 for deflated members.
    private let dataOffsets: [UInt64]
    private let limits: Limits

    public convenience init(path: String, limits: Limits = .default) throws {
        try self.init(zip: ZipArchive(path: path, limits: limits), limits: limits)
    }

    public init(zip: ZipArchive, limits: Limits = .default) throws {
        self.zip = zip
        self.limits = limits
        var tensors: [TensorInfo] = []
        var entries: [ZipEntry] = []
        var headerLengths: [Int] = []
        var dataOffsets: [UInt64] = []
        for e in zip.entries {
            guard e.name.hasSuffix(".npy") else {
                throw CheckpointError(.unsupported, "the member is not a .npy array (an .npz holds only arrays)", file: zip.path, member: e.name, offset: e.localHeaderOffset)
            }
            let name = String(e.name.dropLast(4))
            try TensorNames.check(name, file: zip.path)
            // Read just enough of the member to parse its header: in place for a stored member,
            // through a small inflating stream for a deflated one.
            let prefixCount = Int(min(e.uncompressedSize, UInt64(NPY.preambleLength)))
            var prefix = [UInt8](repeating: 0, count: prefixCount)
            var rest: [UInt8] = []
            let total: Int
            if e.method == 0 {
                let start = try zip.dataOffset(of: e)
                prefix = try zip.readBytes(at: start, count: prefixCount, what: "npy header", member: e.name)
                total = try NPY.headerLength(prefix: prefix, limits: limits, file: zip.path, member: e.name, offset: start)
                guard UInt64(total) <= e.uncompressedSize else {
                    throw CheckpointError(.invalidNPY, "the .npy header (\(total) bytes) is longer than the member (\(e.uncompressedSize) bytes)", file: zip.path, member: e.name, offset: start)
                }
                // A header shorter than the preamble (a length field of 0 or 1) is already in `prefix`.
                rest = try zip.readBytes(at: start + UInt64(prefix.count), count: max(0, total - prefix.count), what: "npy header", member: e.name)
                dataOffsets.append(start)
            } else {
                let stream = try MemberStream(archive: zip, entry: e, verifyCRC: false, bufferSize: 4096)
                try Self.fill(&prefix, from: stream)
                total = try NPY.headerLength(prefix: prefix, limits: limits, file: zip.path, member: e.name, offset: e.localHeaderOffset)
                guard UInt64(total) <= e.uncompressedSize else {
                    throw CheckpointError(.invalidNPY, "the .npy header (\(total) bytes) is longer than the member (\(e.uncompressedSize) bytes)", file: zip.path, member: e.name, offset: e.localHeaderOffset)
                }
                rest = [UInt8](repeating: 0, count: max(0, total - prefix.count))
                try Self.fill(&rest, from: stream)
                dataOffsets.append(0)
            }
            let header = try NPY.parseHeader(prefix + rest, limits: limits, file: zip.path, member: e.name, offset: e.localHeaderOffset)
            // Fortran order is the same layout as C order when at most one axis is longer than 1
            // (or there is no data at all); anything else would need a transpose.
            if header.fortranOrder && header.shape.filter({ $0 > 1 }).count > 1 && TensorInfo.elementCount(header.shape) != 0 {
                throw CheckpointError(.unsupported, "Fortran-order arrays are not supported", file: zip.path, member: e.name, offset: e.localHeaderOffset,
                                      hint: "save it with np.ascontiguousarray(a)")
            }
            if header.bigEndian {
                throw CheckpointError(.unsupported, "big-endian arrays (\(header.descr)) are not supported", file: zip.path, member: e.name, offset: e.localHeaderOffset,
                                      hint: "convert with a.astype(a.dtype.newbyteorder('<'))")
            }
            let info = TensorInfo(name: name, dtype: header.dtype, shape: header.shape)
            if let nbytes = info.byteCount, UInt64(nbytes) > limits.maxTensorBytes {
                throw CheckpointError(.limitExceeded, "the array is \(nbytes) bytes (the limit is \(limits.maxTensorBytes))", file: zip.path, member: e.name, offset: e.localHeaderOffset)
            }
            guard let nbytes = info.byteCount, UInt64(total) + UInt64(nbytes) == e.uncompressedSize else {
                throw CheckpointError(.invalidNPY, "the header says \(header.descr) \(header.shape), \(info.byteCount ?? -1) bytes of data, but the member holds \(e.uncompressedSize - UInt64(total))",
                                      file: zip.path, member: e.name, offset: e.localHeaderOffset)
            }
            tensors.append(info)
            entries.append(e)
            headerLengths.append(total)
        }
        self.entries = entries
        self.headerLengths = headerLengths
        self.dataOffsets = dataOffsets
        index = CheckpointIndex(tensors: tensors, producer: "numpy")
    }

    private static func fill(_ buf: inout [UInt8], from stream: MemberStream) throws {
        guard try buf.withUnsafeMutableBytes({ try stream.readFully(into: $0) }) == buf.count else {
            throw CheckpointError(.invalidNPY, "the member ends inside its .npy header", file: stream.archive.path, member: stream.entry.name, offset: stream.entry.localHeaderOffset)
        }
    }

    public func pieces(of i: Int) -> [Range<Int>] {
        let n = index.tensors[i].byteCount ?? 0
        return entries[i].method == 0 ? Self.uniformPieces(count: n, size: ContainerSpec.chunkSize) : [0..<n]
    }

    @discardableResult
    public func readPiece(_ i: Int, _ p: Int, _ body: (UnsafeRawBufferPointer) throws -> Void) throws -> UInt32 {
        let e = entries[i]
        let ps = pieces(of: i)
        if e.method == 0 && ps.count > 1 {
            let r = ps[p]
            let start = dataOffsets[i] + UInt64(headerLengths[i] + r.lowerBound)
            var buf = [UInt8](repeating: 0, count: r.count)
            try buf.withUnsafeMutableBytes { try zip.readBytes(at: start, into: $0, what: "member data", member: e.name) }
            try buf.withUnsafeBytes(body)
            return crc32(buf)
        }
        // Whole member, streamed, CRC checked at the end.
        let stream = try MemberStream(archive: zip, entry: e)
        var skip = [UInt8](repeating: 0, count: headerLengths[i])
        try Self.fill(&skip, from: stream)
        try stream.drain(chunk: min(ContainerSpec.chunkSize, max(1, ps[0].count)), body)
        return 0
    }

    public func verifyPieces(of i: Int, crcs: [UInt32]) throws {
        let e = entries[i]
        guard e.method == 0, crcs.count > 1 else { return }
        let start = dataOffsets[i]
        let header = try zip.readBytes(at: start, count: headerLengths[i], what: "npy header", member: e.name)
        var c = crc32(header)
        for (k, r) in pieces(of: i).enumerated() { c = crc32Combine(c, crcs[k], lengthOfB: r.count) }
        guard c == e.crc32 else {
            throw CheckpointError(.checksumMismatch, "CRC-32 mismatch: the directory says \(hex32(e.crc32)), the data gives \(hex32(c))", file: path, member: e.name, offset: start)
        }
    }
}

/// Writes a `.npz` that `numpy.load` reads like one from `np.savez_compressed`: one deflated
/// `<name>.npy` member per tensor (key = tensor name), in the index's order, each with the header
/// `np.save` writes (format 1.0, C order, little-endian, padded to 64 bytes). bfloat16 has no
/// numpy dtype: its bits go out as `<u2` (as in the container, spec "bfloat16").
///
/// Tensors stream through in chunks; the archive is written to a temporary file and renamed into
/// place (``AtomicOutputFile``). A source that gives more or fewer bytes than a tensor's shape
/// holds is an error, and nothing is left behind.
public enum NPZWriter {
    public static func write(_ source: any TensorSource, tensors: [Int]? = nil, to path: String, options: WriteOptions = WriteOptions()) throws {
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
        let out = try AtomicOutputFile(destination: path, overwrite: options.overwrite, inputs: options.inputs)
        let writer = ZipWriter(output: out, limits: options.limits)
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
        try writer.finish()
        try out.commit()
    }
}

extension CheckpointFormat {
    /// NumPy `.npz` (`np.savez` / `np.savez_compressed`).
    public static let npz = CheckpointFormat(rawValue: "npz")
}

/// NumPy `.npz`: a ZIP of `.npy` members, one per tensor, named by the tensor.
public struct NPZFormat: FileFormat {
    public init() {}
    public var id: CheckpointFormat { .npz }
    public var displayName: String { "NumPy .npz" }
    public var names: [String] { ["npz", "numpy"] }
    public var suffixes: [String] { [".npz"] }
    /// Every tensor under its name, optimizer slots included.
    public var parts: FormatParts { [.optimizerState] }

    /// Any ZIP that neither the container nor Keras claimed.
    public func sniff(_ probe: FormatProbe) throws -> Bool { startsLikeZip(probe.head) }
    public var sniffsLast: Bool { true }

    public func open(_ path: String, options: OpenOptions) throws -> any TensorSource {
        try NPZSource(path: path, limits: options.limits)
    }

    public func write(_ source: any TensorSource, to path: String, options: WriteOptions) throws -> WriteResult {
        try NPZWriter.write(source, to: path, options: options)
        return WriteResult(paths: [path], tensors: source.index.tensors.count)
    }
}
