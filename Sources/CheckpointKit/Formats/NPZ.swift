/// A NumPy `.npz` archive (from `np.savez` or `np.savez_compressed`) read as a weights checkpoint:
/// every `<key>.npy` member is a tensor named `<key>`.
public final class NPZSource: TensorSource {
    public let zip: ZipArchive
    public let index: CheckpointIndex
    public var path: String { zip.path }
    public var format: CheckpointFormat { .npz }
    private let entries: [ZipEntry]
    private let headerLengths: [Int]
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
        for e in zip.entries {
            guard e.name.hasSuffix(".npy") else {
                throw CheckpointError(.unsupported, "the member is not a .npy array (an .npz holds only arrays)", file: zip.path, member: e.name, offset: e.localHeaderOffset)
            }
            let name = String(e.name.dropLast(4))
            try TensorNames.check(name, file: zip.path)
            // Read just enough of the member to parse its header.
            let stream = try MemberStream(archive: zip, entry: e, verifyCRC: false, bufferSize: 4096)
            var prefix = [UInt8](repeating: 0, count: Int(min(e.uncompressedSize, UInt64(NPY.preambleLength))))
            try Self.fill(&prefix, from: stream)
            let total = try NPY.headerLength(prefix: prefix, limits: limits, file: zip.path, member: e.name, offset: e.localHeaderOffset)
            guard UInt64(total) <= e.uncompressedSize else {
                throw CheckpointError(.invalidNPY, "the .npy header (\(total) bytes) is longer than the member (\(e.uncompressedSize) bytes)", file: zip.path, member: e.name, offset: e.localHeaderOffset)
            }
            var rest = [UInt8](repeating: 0, count: total - prefix.count)
            try Self.fill(&rest, from: stream)
            let header = try NPY.parseHeader(prefix + rest, limits: limits, file: zip.path, member: e.name, offset: e.localHeaderOffset)
            if header.fortranOrder && header.shape.filter({ $0 > 1 }).count > 1 {
                throw CheckpointError(.unsupported, "Fortran-order arrays are not supported", file: zip.path, member: e.name, offset: e.localHeaderOffset,
                                      hint: "save it with np.ascontiguousarray(a)")
            }
            if header.bigEndian {
                throw CheckpointError(.unsupported, "big-endian arrays (\(header.descr)) are not supported", file: zip.path, member: e.name, offset: e.localHeaderOffset,
                                      hint: "convert with a.astype(a.dtype.newbyteorder('<'))")
            }
            let info = TensorInfo(name: name, dtype: header.dtype, shape: header.shape)
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
        index = CheckpointIndex(tensors: tensors, producer: "numpy")
    }

    private static func fill(_ buf: inout [UInt8], from stream: MemberStream) throws {
        var got = 0
        while got < buf.count {
            let n = try buf.withUnsafeMutableBytes { try stream.read(into: UnsafeMutableRawBufferPointer(rebasing: $0[got...])) }
            if n == 0 { break }
            got += n
        }
        guard got == buf.count else {
            throw CheckpointError(.invalidNPY, "the member ends inside its .npy header", file: stream.archive.path, member: stream.entry.name, offset: stream.entry.localHeaderOffset)
        }
    }

    public func pieces(of i: Int) -> [Range<Int>] {
        let n = index.tensors[i].byteCount ?? 0
        return entries[i].method == 0 ? Self.uniformPieces(count: n, size: ContainerSpec.chunkSize) : [0..<n]
    }

    public func readPiece(_ i: Int, _ p: Int, _ body: (UnsafeRawBufferPointer) throws -> Void) throws -> UInt32 {
        let e = entries[i]
        let ps = pieces(of: i)
        if e.method == 0 && ps.count > 1 {
            let r = ps[p]
            let start = try zip.dataOffset(of: e) + UInt64(headerLengths[i] + r.lowerBound)
            var buf = [UInt8](repeating: 0, count: r.count)
            try buf.withUnsafeMutableBytes { try zip.readBytes(at: start, into: $0, what: "member data", member: e.name) }
            try buf.withUnsafeBytes(body)
            return crc32(buf)
        }
        // Whole member, streamed, CRC checked at the end.
        let stream = try MemberStream(archive: zip, entry: e)
        var skip = [UInt8](repeating: 0, count: headerLengths[i])
        try Self.fill(&skip, from: stream)
        var buf = [UInt8](repeating: 0, count: min(ContainerSpec.chunkSize, max(1, ps[0].count)))
        try buf.withUnsafeMutableBytes { b in
            while true {
                var filled = 0
                while filled < b.count {
                    let n = try stream.read(into: UnsafeMutableRawBufferPointer(rebasing: b[filled...]))
                    if n == 0 { break }
                    filled += n
                }
                if filled == 0 { break }
                try body(UnsafeRawBufferPointer(rebasing: b[0..<filled]))
                if filled < b.count { break }
            }
        }
        try stream.finish()
        return 0
    }

    public func verifyPieces(of i: Int, crcs: [UInt32]) throws {
        let e = entries[i]
        guard e.method == 0, crcs.count > 1 else { return }
        let start = try zip.dataOffset(of: e)
        let header = try zip.readBytes(at: start, count: headerLengths[i], what: "npy header", member: e.name)
        var c = crc32(header)
        for (k, r) in pieces(of: i).enumerated() { c = crc32Combine(c, crcs[k], lengthOfB: r.count) }
        guard c == e.crc32 else {
            throw CheckpointError(.checksumMismatch, "CRC-32 mismatch: the directory says \(hex32(e.crc32)), the data gives \(hex32(c))", file: path, member: e.name, offset: start)
        }
    }
}

/// Writes a `.npz` that `numpy.load` reads like one from `np.savez_compressed`: one deflated
/// `<name>.npy` member per tensor, in the index's order.
public enum NPZWriter {
    public static func write(_ source: any TensorSource, tensors: [Int]? = nil, to path: String, options: WriteOptions = WriteOptions()) throws {
        let out = try AtomicOutputFile(destination: path, overwrite: options.overwrite, inputs: options.inputs)
        let writer = ZipWriter(output: out)
        let list = tensors ?? Array(source.index.tensors.indices)
        let total = list.reduce(UInt64(0)) { $0 + UInt64(source.index.tensors[$1].byteCount ?? 0) }
        var done: UInt64 = 0
        for k in list {
            let t = source.index.tensors[k]
            // bfloat16 has no numpy dtype: its bits go out as uint16 (as in the container, spec "bfloat16").
            let header = NPY.header(dtype: t.dtype, shape: t.shape)
            let nbytes = UInt64(t.byteCount ?? 0)
            try writer.beginTensor(name: t.name + ".npy", header: header, dataSize: nbytes, itemSize: t.dtype.itemSize, floating: t.dtype.isFloatingPoint)
            if nbytes > 0 { try source.readTensor(k) { try writer.write($0) } }
            done += nbytes
            options.progress?(done, total)
        }
        try writer.finish()
        try out.commit()
    }
}
