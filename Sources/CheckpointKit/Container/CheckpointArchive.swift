import Synchronization

/// A `.ckpt` file opened for reading. Opening reads only the index: the ZIP directory, the
/// manifest and the small JSON members (all at the file's tail), and checks that they agree.
/// Tensor data is inflated only when a tensor is read.
public final class CheckpointArchive: TensorSource {
    public let zip: ZipArchive
    public let manifest: Manifest
    public let index: CheckpointIndex
    public let limits: Limits
    public var path: String { zip.path }
    public var inputFiles: [ReadableFile] { [zip.file] }
    public var format: CheckpointFormat { .ckpt }
    /// ZIP entry of each tensor, in `index.tensors` order.
    public let entries: [ZipEntry]

    public convenience init(path: String, limits: Limits = .default) throws {
        try self.init(zip: ZipArchive(path: path, limits: limits), limits: limits)
    }

    public init(zip: ZipArchive, limits: Limits = .default) throws {
        self.zip = zip
        self.limits = limits
        let path = zip.path
        guard let manifestEntry = zip.entry(named: ContainerSpec.manifestMember) else {
            throw CheckpointError(.notRecognized, "a ZIP archive without \(ContainerSpec.manifestMember), so not a ckpt container", file: path,
                                  hint: "if it is a NumPy archive, name it .npz or pass --from npz")
        }
        guard manifestEntry.uncompressedSize <= limits.maxManifestBytes else {
            throw CheckpointError(.limitExceeded, "the manifest is \(manifestEntry.uncompressedSize) bytes (the limit is \(limits.maxManifestBytes))",
                                  file: path, member: ContainerSpec.manifestMember, offset: manifestEntry.localHeaderOffset)
        }
        // Spec §1.2: no archive comment (a comment is where a second directory hides).
        guard zip.commentLength == 0 else {
            throw CheckpointError(.corrupt, "the archive has a \(zip.commentLength)-byte comment after its end record, which a .ckpt must not have",
                                  file: path, offset: zip.file.size - UInt64(zip.commentLength), hint: "the file was altered after ckpt wrote it; re-create it")
        }
        let manifestOffset = try zip.dataOffset(of: manifestEntry)
        let manifestBytes = try zip.readMember(manifestEntry, maxBytes: limits.maxManifestBytes)
        let manifest = try Manifest.decode(manifestBytes, file: path, offset: manifestOffset, limits: limits)
        self.manifest = manifest

        // Every tensor has its member with the sizes and CRC the manifest says; no other members.
        var entries: [ZipEntry] = []
        entries.reserveCapacity(manifest.tensors.count)
        var accounted = [Bool](repeating: false, count: zip.entries.count)
        if let m = zip.entryIndex(named: ContainerSpec.manifestMember) { accounted[m] = true }
        for t in manifest.tensors {
            // Byte comparisons (String.hasPrefix compares Characters: slow for thousands of names).
            guard t.member.utf8.count == t.info.name.utf8.count + 4, t.member.utf8.starts(with: t.info.name.utf8),
                  t.member.utf8.reversed().starts(with: ContainerSpec.tensorSuffix.utf8.reversed()) else {
                let expectedMember = ContainerSpec.memberName(forTensor: t.info.name)
                throw CheckpointError(.invalidManifest, "the manifest puts tensor \"\(escapeForDisplay(t.info.name))\" in member \"\(escapeForDisplay(t.member))\", not \"\(escapeForDisplay(expectedMember))\"",
                                      file: path, member: ContainerSpec.manifestMember, offset: manifestOffset)
            }
            guard let ei = zip.entryIndex(named: t.member) else {
                throw CheckpointError(.invalidManifest, "the manifest lists tensor \"\(escapeForDisplay(t.info.name))\" but the archive has no member \"\(escapeForDisplay(t.member))\"",
                                      file: path, member: t.member, offset: zip.centralDirectoryOffset)
            }
            let e = zip.entries[ei]
            guard !accounted[ei] else {
                throw CheckpointError(.duplicateName, "the manifest lists the tensor \"\(escapeForDisplay(t.info.name))\" twice", file: path,
                                      member: ContainerSpec.manifestMember, offset: manifestOffset)
            }
            guard e.crc32 == t.storage.crc32, e.uncompressedSize == t.storage.size, e.compressedSize == t.storage.storedSize else {
                throw CheckpointError(.invalidManifest,
                                      "the manifest and the ZIP directory disagree about member \"\(escapeForDisplay(t.member))\" (CRC-32 \(hex32(t.storage.crc32)) vs \(hex32(e.crc32)), size \(t.storage.size) vs \(e.uncompressedSize), stored \(t.storage.storedSize) vs \(e.compressedSize))",
                                      file: path, member: t.member, offset: e.centralRecordOffset)
            }
            if e.method == 0 && !t.storage.chunkOffsets.isEmpty {
                throw CheckpointError(.invalidManifest, "the manifest gives chunk offsets for a stored member", file: path, member: t.member, offset: e.centralRecordOffset)
            }
            accounted[ei] = true
            entries.append(e)
        }
        self.entries = entries

        var architecture: [UInt8]? = nil
        if let a = manifest.architectureMember {
            guard a == ContainerSpec.architectureMember, let e = zip.entry(named: a) else {
                throw CheckpointError(.invalidManifest, "the manifest names architecture member \"\(escapeForDisplay(a))\", which the archive lacks", file: path, member: a)
            }
            architecture = try zip.readMember(e, maxBytes: limits.maxJSONBytes)
            if let k = zip.entryIndex(named: a) { accounted[k] = true }
        }
        var optimizer: OptimizerInfo? = nil
        if let o = manifest.optimizerMember {
            guard o == ContainerSpec.optimizerMember, let e = zip.entry(named: o) else {
                throw CheckpointError(.invalidManifest, "the manifest names optimizer member \"\(escapeForDisplay(o))\", which the archive lacks", file: path, member: o)
            }
            let bytes = try zip.readMember(e, maxBytes: limits.maxJSONBytes)
            let v: JSONValue
            do { v = try JSONParser.parse(bytes, options: limits.jsonOptions) } catch let err as CheckpointError {
                throw err.located(file: path, member: o, offset: e.localHeaderOffset)
            }
            guard let cls = v["class_name"]?.stringValue, let config = v["config"], config.objectValue != nil, let it = v["iterations"]?.int64Value else {
                throw CheckpointError(.invalidManifest, "optimizer.json needs \"class_name\", a \"config\" object and \"iterations\"", file: path, member: o, offset: e.localHeaderOffset)
            }
            if let mi = manifest.optimizerIterations, mi != it {
                throw CheckpointError(.invalidManifest, "the manifest says \(mi) optimizer iterations, optimizer.json says \(it)", file: path, member: o, offset: e.localHeaderOffset)
            }
            optimizer = OptimizerInfo(className: cls, module: v["module"]?.stringValue ?? "keras.optimizers", config: config, iterations: it)
            if let k = zip.entryIndex(named: o) { accounted[k] = true }
        }
        for (k, e) in zip.entries.enumerated() where !accounted[k] {
            throw CheckpointError(.invalidManifest, "the archive has a member the manifest does not list", file: path, member: e.name, offset: e.localHeaderOffset)
        }
        let hasOptimizerTensors = manifest.tensors.contains { $0.info.role == .optimizer }
        if manifest.kind == .weights && (hasOptimizerTensors || optimizer != nil) {
            throw CheckpointError(.invalidManifest, "a \"weights\" checkpoint that carries optimizer state", file: path, member: ContainerSpec.manifestMember, offset: manifestOffset)
        }
        if manifest.kind == .full && optimizer == nil {
            throw CheckpointError(.invalidManifest, "a \"full\" checkpoint without optimizer.json", file: path, member: ContainerSpec.manifestMember, offset: manifestOffset)
        }
        index = CheckpointIndex(tensors: manifest.tensors.map(\.info), architecture: architecture, optimizer: optimizer,
                                metadata: manifest.metadata, producer: manifest.producer)
    }

    public var storedTensors: [StoredTensor] { manifest.tensors }

    // MARK: TensorSource

    public func pieces(of i: Int) -> [Range<Int>] {
        let t = manifest.tensors[i]
        let n = Int(t.dataSize)
        if entries[i].method == 0 { return Self.uniformPieces(count: n, size: manifest.chunkSize) }
        guard !t.storage.chunkOffsets.isEmpty else { return [0..<n] }
        return Self.uniformPieces(count: n, size: manifest.chunkSize)
    }

    /// Every member can be copied compressed; the writer checks it first (``checkBeforeCopy(_:)``).
    public func storedMember(of i: Int) -> StoredMemberRef? { StoredMemberRef(archive: self, tensor: i) }

    /// What a copy of member `i`'s compressed bytes checks first, so damage in the input never
    /// travels into the output: the CRC-32 of the compressed bytes where the manifest records one
    /// (`stored_crc32`, reads only those bytes), else the member inflated and checked like a read
    /// (CRC-32 of the data, sizes, npy header).
    ///
    /// Returns the CRC-32 of the compressed bytes, now known good, for the copy's manifest: a
    /// file `ckpt` writes always records `stored_crc32`, so copying from it again (a second
    /// strip, a convert) reads only the compressed bytes.
    @discardableResult
    public func checkBeforeCopy(_ i: Int) throws -> UInt32 {
        if manifest.tensors[i].storage.storedCRC32 != nil {
            return try checkStoredBytes(i) ?? 0
        }
        try readTensor(i) { _ in }
        return try storedBytesCRC(i)
    }

    /// Every tensor member carries a CRC-32, checked whenever it is read in full.
    public func integrity(of i: Int) -> TensorIntegrity { .memberCRC32 }

    public func fingerprint(of i: Int) -> TensorFingerprint? {
        let t = manifest.tensors[i]
        return TensorFingerprint(dtype: t.info.dtype, shape: t.info.shape, crc32: t.storage.crc32, size: t.storage.size)
    }

    public func readPiece(_ i: Int, _ p: Int, _ body: (UnsafeRawBufferPointer) throws -> Void) throws -> UInt32 {
        let t = manifest.tensors[i]
        let e = entries[i]
        let ps = pieces(of: i)
        if ps.count == 1 && e.method == 8 {
            try streamWhole(i, body)
            return t.storage.crc32
        }
        let range = ps[p]
        let dataStart = try zip.dataOffset(of: e)
        if e.method == 0 {
            var buf = [UInt8](repeating: 0, count: range.count)
            try buf.withUnsafeMutableBytes { b in
                try zip.readBytes(at: dataStart + UInt64(t.storage.headerSize + range.lowerBound), into: b, what: "member data", member: e.name)
            }
            if ps.count == 1 {
                try checkHeader(i, dataStart: dataStart)
                let c = crc32(buf, continuing: try headerCRC(i, dataStart: dataStart))
                if c != e.crc32 { throw crcError(i, computed: c, offset: dataStart) }
            }
            try buf.withUnsafeBytes(body)
            return crc32(buf)
        }
        let chunkStart = t.storage.chunkOffsets[p]
        let chunkEnd = p + 1 < t.storage.chunkOffsets.count ? t.storage.chunkOffsets[p + 1] : t.storage.storedSize
        guard chunkEnd > chunkStart else {
            throw CheckpointError(.invalidManifest, "chunk \(p) of the member is empty", file: path, member: e.name, offset: dataStart + chunkStart)
        }
        var out = [UInt8](repeating: 0, count: range.count)
        try inflateFragment(member: e.name, at: dataStart + chunkStart, count: Int(chunkEnd - chunkStart), into: &out, last: p + 1 == ps.count)
        try out.withUnsafeBytes(body)
        return crc32(out)
    }

    public func verifyPieces(of i: Int, crcs: [UInt32]) throws {
        let t = manifest.tensors[i]
        let e = entries[i]
        let ps = pieces(of: i)
        guard ps.count > 1, crcs.count == ps.count else { return }
        let dataStart = try zip.dataOffset(of: e)
        var c = e.method == 0 ? try headerCRC(i, dataStart: dataStart) : try chunkedHeaderCRC(i, dataStart: dataStart)
        for (k, r) in ps.enumerated() { c = crc32Combine(c, crcs[k], lengthOfB: r.count) }
        if c != t.storage.crc32 { throw crcError(i, computed: c, offset: dataStart) }
    }

    private func crcError(_ i: Int, computed: UInt32, offset: UInt64) -> CheckpointError {
        let e = entries[i]
        return CheckpointError(.checksumMismatch, "CRC-32 mismatch: the directory says \(hex32(e.crc32)), the data gives \(hex32(computed)) (the member's bytes are damaged)",
                               file: path, member: e.name, offset: offset)
    }

    /// The npy header of a stored member: read, checked against the manifest, CRC returned.
    private func headerCRC(_ i: Int, dataStart: UInt64) throws -> UInt32 {
        let t = manifest.tensors[i]
        let h = try zip.readBytes(at: dataStart, count: t.storage.headerSize, what: "npy header", member: entries[i].name)
        try checkHeaderBytes(h, i, offset: dataStart)
        return crc32(h)
    }

    private func checkHeader(_ i: Int, dataStart: UInt64) throws { _ = try headerCRC(i, dataStart: dataStart) }

    private func chunkedHeaderCRC(_ i: Int, dataStart: UInt64) throws -> UInt32 {
        let t = manifest.tensors[i]
        guard let first = t.storage.chunkOffsets.first else { return 0 }
        var h = [UInt8](repeating: 0, count: t.storage.headerSize)
        try inflateFragment(member: entries[i].name, at: dataStart, count: Int(first), into: &h, last: false)
        try checkHeaderBytes(h, i, offset: dataStart)
        return crc32(h)
    }

    private func checkHeaderBytes(_ h: [UInt8], _ i: Int, offset: UInt64) throws {
        let t = manifest.tensors[i]
        let header = try NPY.parseHeader(h, limits: limits, file: path, member: entries[i].name, offset: offset)
        let expectedDescr = t.info.dtype.npyDescr
        guard header.headerLength == t.storage.headerSize, DType.fromNPY(descr: header.descr)?.0 == DType.fromNPY(descr: expectedDescr)?.0,
              !header.bigEndian, !header.fortranOrder, header.shape == t.info.shape else {
            throw CheckpointError(.invalidManifest,
                                  "the member's npy header says \(header.descr) \(header.shape)\(header.fortranOrder ? " in Fortran order" : "") but the manifest says \(t.info.dtype.rawValue) \(t.info.shape)",
                                  file: path, member: entries[i].name, offset: offset)
        }
    }

    /// Inflates one independent fragment (a chunk ending in a full flush, or the last one ending
    /// the stream) into exactly `out.count` bytes.
    private func inflateFragment(member: String, at offset: UInt64, count: Int, into out: inout [UInt8], last: Bool) throws {
        guard count <= out.count * Int(ContainerSpec.maxDeflateRatio) + 1024 + out.count else {
            throw CheckpointError(.corrupt, "a chunk of \(count) compressed bytes for \(out.count) bytes of data", file: path, member: member, offset: offset)
        }
        // Two spare bytes: with libdeflate a non-final chunk gets a final empty block appended.
        var input = [UInt8](repeating: 0, count: count + 2)
        try input.withUnsafeMutableBytes { try zip.readBytes(at: offset, into: UnsafeMutableRawBufferPointer(rebasing: $0[0..<count]), what: "member data", member: member) }
        if LibDeflate.available {
            if !last {
                input[count] = LibDeflate.finalEmptyBlock[0]
                input[count + 1] = LibDeflate.finalEmptyBlock[1]
            }
            let total = last ? count : count + 2
            let result: (Int, Int)?
            do {
                result = try input.withUnsafeBytes { inb in
                    try out.withUnsafeMutableBytes { outb in try LibDeflate.inflate(UnsafeRawBufferPointer(rebasing: inb[0..<total]), into: outb, account: zip.file.statistics) }
                }
            } catch let e as CheckpointError {
                throw e.located(file: path, member: member, offset: offset)
            }
            if let (consumed, produced) = result {
                guard consumed == total, produced == out.count else {
                    throw CheckpointError(.corrupt, "a chunk inflates to \(produced) bytes from \(consumed) of \(total) compressed bytes; expected \(out.count) bytes and \(last ? "the end of the stream" : "a flush point")",
                                          file: path, member: member, offset: offset)
                }
                return
            }
        }
        input.removeLast(2)
        let inflater = try InflaterPool.shared.take()
        defer { InflaterPool.shared.give(inflater) }
        try inflater.reset()
        var consumed = 0
        var produced = 0
        try input.withUnsafeBytes { inb in
            try out.withUnsafeMutableBytes { outb in
                do {
                    // Output first; then let zlib eat the trailing flush marker with no room left.
                    while consumed < count && !inflater.finished {
                        let r = try inflater.inflate(UnsafeRawBufferPointer(rebasing: inb[consumed...]),
                                                     into: UnsafeMutableRawBufferPointer(rebasing: outb[produced...]), account: zip.file.statistics)
                        consumed += r.consumed
                        produced += r.produced
                        if r.consumed == 0 && r.produced == 0 { break }
                    }
                } catch let e as CheckpointError {
                    throw e.located(file: path, member: member, offset: offset + UInt64(consumed))
                }
            }
        }
        guard produced == out.count, consumed == count, inflater.finished == last else {
            throw CheckpointError(.corrupt, "a chunk inflates to \(produced) bytes from \(consumed) of \(count) compressed bytes; expected \(out.count) bytes\(last ? " and the end of the stream" : " and a flush point")",
                                  file: path, member: member, offset: offset)
        }
    }

    /// Streams a whole deflated member through a fixed buffer, checking its header and CRC.
    private func streamWhole(_ i: Int, _ body: (UnsafeRawBufferPointer) throws -> Void) throws {
        let t = manifest.tensors[i]
        let e = entries[i]
        if LibDeflate.available && e.uncompressedSize <= 4 << 20 {
            // Small member: one read, one whole-buffer inflate.
            let start = try zip.dataOffset(of: e)
            var member = [UInt8](repeating: 0, count: Int(e.uncompressedSize))
            let input = try zip.readBytes(at: start, count: Int(e.compressedSize), what: "member data", member: e.name)
            let result: (Int, Int)?
            do {
                result = try input.withUnsafeBytes { inb in try member.withUnsafeMutableBytes { try LibDeflate.inflate(inb, into: $0, account: zip.file.statistics) } }
            } catch let err as CheckpointError {
                throw err.located(file: path, member: e.name, offset: start)
            }
            if let (consumed, produced) = result {
                guard consumed == input.count, produced == member.count else {
                    throw CheckpointError(.corrupt, "the member inflates to \(produced) bytes from \(consumed) of \(input.count) compressed bytes; the directory says \(member.count)",
                                          file: path, member: e.name, offset: start)
                }
                let c = crc32(member)
                guard c == e.crc32 else { throw crcError(i, computed: c, offset: start) }
                try checkHeaderBytes(Array(member[0..<t.storage.headerSize]), i, offset: start)
                try member.withUnsafeBytes { try body(UnsafeRawBufferPointer(rebasing: $0[t.storage.headerSize...])) }
                return
            }
        }
        let stream = try MemberStream(archive: zip, entry: e)
        var header = [UInt8](repeating: 0, count: t.storage.headerSize)
        guard try header.withUnsafeMutableBytes({ try stream.readFully(into: $0) }) == header.count else {
            throw CheckpointError(.corrupt, "the member ends inside its npy header", file: path, member: e.name, offset: e.localHeaderOffset)
        }
        try checkHeaderBytes(header, i, offset: e.localHeaderOffset)
        try stream.drain(chunk: min(ContainerSpec.chunkSize, max(1, Int(t.dataSize))), body)
    }

    /// Checks the CRC-32 of a member's compressed bytes against the manifest's `stored_crc32`
    /// (when it has one): catches damage that inflating cannot see, such as deflate's unused
    /// padding bits, and reads only the compressed bytes.
    @discardableResult
    public func checkStoredBytes(_ i: Int) throws -> UInt32? {
        guard let expected = manifest.tensors[i].storage.storedCRC32 else { return nil }
        let crc = try storedBytesCRC(i)
        guard crc == expected else {
            throw CheckpointError(.checksumMismatch, "the compressed bytes fail their CRC-32 (the manifest says \(hex32(expected)), the file gives \(hex32(crc))): the member is damaged",
                                  file: path, member: entries[i].name, offset: try zip.dataOffset(of: entries[i]))
        }
        return crc
    }

    /// The CRC-32 of member `i`'s compressed bytes as they are in the file.
    func storedBytesCRC(_ i: Int) throws -> UInt32 {
        let e = entries[i]
        let start = try zip.dataOffset(of: e)
        var crc: UInt32 = 0
        var done: UInt64 = 0
        var buf = [UInt8](repeating: 0, count: Int(min(e.compressedSize, 4 << 20)))
        while done < e.compressedSize {
            let n = Int(min(UInt64(buf.count), e.compressedSize - done))
            try buf.withUnsafeMutableBytes { b in
                try zip.readBytes(at: start + done, into: UnsafeMutableRawBufferPointer(rebasing: b[0..<n]), what: "member data", member: e.name)
                crc = crc32(UnsafeRawBufferPointer(rebasing: b[0..<n]), continuing: crc)
            }
            done += UInt64(n)
        }
        return crc
    }

    /// Checks every member: CRC-32, sizes, npy headers against the manifest, and the optimizer's
    /// iteration tensor against optimizer.json. Throws the first problem found.
    public func verify(parallel: Bool = true, progress: (@Sendable (UInt64) -> Void)? = nil) throws {
        let n = manifest.tensors.count
        try ParallelWork.forEach(count: n, parallel: parallel, weight: { Int(self.manifest.tensors[$0].storage.size) }) { i in
            try self.checkStoredBytes(i)
            try self.readTensor(i) { _ in }
            progress?(self.manifest.tensors[i].storage.size)
        }
        try checkIterationCount()
    }

    /// Checks that `optimizer.json`'s iteration count is the one the `optimizer/iteration`
    /// tensor holds (reads that scalar).
    public func checkIterationCount() throws {
        if let opt = index.optimizer, let k = tensorIndex(named: ContainerSpec.iterationTensor) {
            let bytes = try readTensorBytes(k, limits: limits)
            let t = manifest.tensors[k]
            if t.info.dtype == .int64 && bytes.count == 8 {
                var v: Int64 = 0
                for b in 0..<8 { v |= Int64(bytes[b]) << (8 * Int64(b)) }
                if v != opt.iterations {
                    throw CheckpointError(.invalidManifest, "optimizer.json says \(opt.iterations) iterations but the tensor optimizer/iteration holds \(v)",
                                          file: path, member: entries[k].name)
                }
            }
        }
    }
}

/// Inflaters kept for reuse.
final class InflaterPool: Sendable {
    static let shared = InflaterPool()
    private let pool = Mutex<[Inflater]>([])

    func take() throws -> Inflater {
        if let i = pool.withLock({ $0.popLast() }) { return i }
        return try Inflater()
    }

    func give(_ i: Inflater) {
        pool.withLock { if $0.count < 16 { $0.append(i) } }
    }
}
