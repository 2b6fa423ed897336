/// One member as the central directory describes it.
public struct ZipEntry: Sendable, Hashable {
    public let name: String
    /// 0 stored, 8 deflate.
    public let method: UInt16
    public let flags: UInt16
    public let crc32: UInt32
    public let compressedSize: UInt64
    public let uncompressedSize: UInt64
    /// Offset of the local file header.
    public let localHeaderOffset: UInt64
    /// Offset of this entry's record in the central directory (for error messages).
    public let centralRecordOffset: UInt64
    /// The member's data must end at or before this offset (the next member or the directory).
    public let dataLimit: UInt64
    let nameByteCount: Int
}

/// A ZIP archive opened for reading: the central directory is parsed and checked up front
/// (spec §1, §5); member data is read only when asked for.
///
/// Refused with a `CheckpointError`: no end record, trailing bytes, multi-disk, encryption,
/// methods other than stored/deflate, ZIP64 fields that overflow or point outside the file,
/// path-traversal or control-character names, duplicates, overlapping members, more members or a
/// bigger directory than ``Limits`` allows, and declared sizes deflate cannot produce.
public final class ZipArchive: Sendable {
    public let file: ReadableFile
    public let entries: [ZipEntry]
    public let centralDirectoryOffset: UInt64
    public let centralDirectorySize: UInt64
    /// The archive comment (the bytes after the end record; at most 65,535).
    public let comment: [UInt8]
    /// Bytes of the archive comment after the end record (a `.ckpt` must have none).
    public var commentLength: Int { comment.count }
    private let index: [ByteName: Int]
    /// Bytes `[tailStart, file.size)` read while locating the directory; member reads that fall
    /// inside are served from here without touching the file again.
    private let tail: [UInt8]
    private let tailStart: UInt64

    public var path: String { file.path }

    public convenience init(path: String, limits: Limits = .default) throws {
        try self.init(file: ReadableFile(path: path), limits: limits)
    }

    public init(file: ReadableFile, limits: Limits = .default, tailBytes: Int = 256 << 10) throws {
        self.file = file
        let path = file.path
        let size = file.size
        guard size >= 22 else {
            throw CheckpointError(.notRecognized, "not a ZIP archive: \(size) bytes is too short to hold a ZIP end record", file: path, offset: 0,
                                  hint: "a .ckpt file is a ZIP archive; check that the file was copied completely")
        }
        let tailLength = UInt64(min(UInt64(tailBytes), size))
        let tailStart = size - tailLength
        let tail = try file.read(at: tailStart, count: Int(tailLength), what: "end of the file")

        // End of central directory: the last signature whose comment runs exactly to the end.
        let eocdSig: [UInt8] = [0x50, 0x4B, 0x05, 0x06]
        var eocdPos: Int? = nil
        var sawSignature = false
        let lowest = max(0, tail.count - 22 - 65535)
        var p = tail.count - 22
        while p >= lowest {
            if tail[p] == eocdSig[0] && tail[p + 1] == eocdSig[1] && tail[p + 2] == eocdSig[2] && tail[p + 3] == eocdSig[3] {
                sawSignature = true
                let commentLength = Int(tail[p + 20]) | Int(tail[p + 21]) << 8
                if p + 22 + commentLength == tail.count { eocdPos = p; break }
            }
            p -= 1
        }
        guard let eocdPos else {
            if sawSignature {
                throw CheckpointError(.corrupt, "bytes follow the ZIP end record (trailing garbage, or a truncated comment)", file: path, offset: size,
                                      hint: "the file was appended to or damaged; re-create it")
            }
            throw CheckpointError(.notRecognized, "not a ZIP archive: no end-of-central-directory record in the last \(tail.count) bytes", file: path, offset: size,
                                  hint: "the file may be truncated, or it is not a .ckpt/.npz/.keras file")
        }
        let eocdOffset = tailStart + UInt64(eocdPos)
        // A comment that holds ZIP records is a second archive in disguise (a polyglot): readers
        // that look for the last end record (Python's zipfile, numpy) would read another directory
        // than this one. Refused, so that every reader sees the same members or none does.
        try Self.refuseRecords(inComment: tail[(eocdPos + 22)...], file: path, at: eocdOffset + 22)
        let comment = Array(tail[(eocdPos + 22)...])
        var c = ByteCursor(tail, base: tailStart, file: path, what: "end-of-central-directory record", position: eocdPos + 4)
        let diskNumber = try c.u16le()
        let cdDisk = try c.u16le()
        let entriesOnDisk = try c.u16le()
        let totalEntries16 = try c.u16le()
        let cdSize32 = try c.u32le()
        let cdOffset32 = try c.u32le()

        var totalEntries = UInt64(totalEntries16)
        var cdSize = UInt64(cdSize32)
        var cdOffset = UInt64(cdOffset32)
        var cdEnd = eocdOffset

        // ZIP64 end-of-central-directory locator, 20 bytes before the EOCD.
        var hasZip64 = false
        if eocdOffset >= 20 {
            let locAt = eocdOffset - 20
            let loc: [UInt8]
            if locAt >= tailStart {
                let s = Int(locAt - tailStart)
                loc = Array(tail[s..<(s + 20)])
            } else {
                loc = try file.read(at: locAt, count: 20, what: "ZIP64 end locator")
            }
            if loc[0] == 0x50, loc[1] == 0x4B, loc[2] == 0x06, loc[3] == 0x07 {
                hasZip64 = true
                var l = ByteCursor(loc, base: locAt, file: path, what: "ZIP64 end locator", position: 4)
                let z64Disk = try l.u32le()
                let z64Offset = try l.u64le()
                let totalDisks = try l.u32le()
                guard z64Disk == 0, totalDisks <= 1 else {
                    throw CheckpointError(.unsupported, "multi-disk (spanned) ZIP archives are not supported", file: path, offset: locAt)
                }
                guard let recEnd = checkedAdd(z64Offset, 56), recEnd <= locAt else {
                    throw CheckpointError(.corrupt, "the ZIP64 end locator points to byte \(z64Offset), outside the file's directory area", file: path, offset: locAt)
                }
                let rec = try file.read(at: z64Offset, count: 56, what: "ZIP64 end record")
                var r = ByteCursor(rec, base: z64Offset, file: path, what: "ZIP64 end record")
                guard try r.u32le() == 0x0606_4B50 else {
                    throw CheckpointError(.corrupt, "no ZIP64 end record signature where the locator points", file: path, offset: z64Offset)
                }
                let recordSize = try r.u64le()
                guard let declaredEnd = checkedAdd(z64Offset, 12), let declaredEnd2 = checkedAdd(declaredEnd, recordSize), declaredEnd2 == locAt else {
                    throw CheckpointError(.corrupt, "the ZIP64 end record's size (\(recordSize)) does not reach the locator", file: path, offset: z64Offset + 4)
                }
                _ = try r.u16le()
                _ = try r.u16le()
                let d1 = try r.u32le()
                let d2 = try r.u32le()
                let onDisk64 = try r.u64le()
                let total64 = try r.u64le()
                let size64 = try r.u64le()
                let off64 = try r.u64le()
                guard d1 == 0, d2 == 0, onDisk64 == total64 else {
                    throw CheckpointError(.unsupported, "multi-disk (spanned) ZIP archives are not supported", file: path, offset: z64Offset)
                }
                totalEntries = total64
                cdSize = size64
                cdOffset = off64
                cdEnd = z64Offset
            }
        }
        if !hasZip64 {
            guard diskNumber == 0, cdDisk == 0, entriesOnDisk == totalEntries16 else {
                throw CheckpointError(.unsupported, "multi-disk (spanned) ZIP archives are not supported", file: path, offset: eocdOffset)
            }
        }
        guard totalEntries <= UInt64(limits.maxMembers) else {
            throw CheckpointError(.limitExceeded, "the archive declares \(totalEntries) members (the limit is \(limits.maxMembers))", file: path, offset: eocdOffset)
        }
        guard cdSize <= limits.maxCentralDirectoryBytes else {
            throw CheckpointError(.limitExceeded, "the central directory declares \(cdSize) bytes (the limit is \(limits.maxCentralDirectoryBytes))", file: path, offset: eocdOffset)
        }
        guard let cdDeclaredEnd = checkedAdd(cdOffset, cdSize), cdDeclaredEnd == cdEnd else {
            throw CheckpointError(.corrupt, "the central directory (\(cdSize) bytes at byte \(cdOffset)) does not end where the end record begins (byte \(cdEnd))",
                                  file: path, offset: eocdOffset,
                                  hint: "the file is truncated, has bytes prepended, or its directory points outside the file")
        }
        guard totalEntries * 46 <= cdSize else {
            throw CheckpointError(.corrupt, "\(totalEntries) members cannot fit in a \(cdSize)-byte central directory", file: path, offset: cdOffset)
        }

        // Parse the directory in place when the tail already holds it.
        var cur: ByteCursor
        if cdOffset >= tailStart {
            cur = ByteCursor(tail, base: tailStart, file: path, what: "central directory", position: Int(cdOffset - tailStart))
        } else {
            cur = ByteCursor(try file.read(at: cdOffset, count: Int(cdSize), what: "central directory"), base: cdOffset, file: path, what: "central directory")
        }
        let cdEndPosition = cur.position + Int(cdSize)
        var raw: [(entry: ZipEntry, nameLen: Int)] = []
        raw.reserveCapacity(Int(totalEntries))
        var index: [ByteName: Int] = [:]
        index.reserveCapacity(Int(totalEntries))
        for _ in 0..<totalEntries {
            let recordAt = cur.fileOffset
            guard try cur.u32le() == 0x0201_4B50 else {
                throw CheckpointError(.corrupt, "a central directory record lacks its signature", file: path, offset: recordAt)
            }
            _ = try cur.u16le() // version made by
            _ = try cur.u16le() // version needed
            let flags = try cur.u16le()
            let method = try cur.u16le()
            _ = try cur.u16le() // time
            _ = try cur.u16le() // date
            let crc = try cur.u32le()
            var csize = UInt64(try cur.u32le())
            var usize = UInt64(try cur.u32le())
            let nameLen = Int(try cur.u16le())
            let extraLen = Int(try cur.u16le())
            let commentLen = Int(try cur.u16le())
            var diskStart = UInt32(try cur.u16le())
            _ = try cur.u16le() // internal attributes
            _ = try cur.u32le() // external attributes
            var localOffset = UInt64(try cur.u32le())
            guard nameLen <= limits.maxMemberNameBytes else {
                throw CheckpointError(.limitExceeded, "a member name of \(nameLen) bytes (the limit is \(limits.maxMemberNameBytes))", file: path, offset: recordAt)
            }
            let nameBytes = try cur.take(nameLen)
            let extra = Array(try cur.take(extraLen))
            try cur.skip(commentLen)

            guard let name = String(validating: nameBytes, as: UTF8.self) else {
                throw CheckpointError(.unsafeName, "a member name that is not valid UTF-8", file: path, offset: recordAt + 46)
            }
            if flags & 0x0001 != 0 || flags & 0x0040 != 0 || flags & 0x2000 != 0 {
                throw CheckpointError(.unsupported, "the member is encrypted; encrypted archives are not supported", file: path, member: name, offset: recordAt)
            }
            guard method == 0 || method == 8 else {
                throw CheckpointError(.unsupported, "compression method \(method) (\(ZipArchive.methodName(method))) is not supported; only stored (0) and deflate (8) are",
                                      file: path, member: name, offset: recordAt + 10)
            }
            // ZIP64 extended information: only the saturated fields are present, in this order.
            if usize == 0xFFFF_FFFF || csize == 0xFFFF_FFFF || localOffset == 0xFFFF_FFFF || diskStart == 0xFFFF {
                var e = ByteCursor(extra, base: recordAt + 46 + UInt64(nameLen), file: path, what: "extra field of member \"\(escapeForDisplay(name))\"")
                var found = false
                while e.remaining >= 4 {
                    let id = try e.u16le()
                    let len = Int(try e.u16le())
                    guard len <= e.remaining else {
                        throw CheckpointError(.corrupt, "an extra field runs past the end of its record", file: path, member: name, offset: e.fileOffset)
                    }
                    if id == 0x0001 {
                        found = true
                        var z = ByteCursor(Array(try e.take(len)), base: e.fileOffset, file: path, what: "ZIP64 extra field of member \"\(escapeForDisplay(name))\"")
                        if usize == 0xFFFF_FFFF { usize = try z.u64le() }
                        if csize == 0xFFFF_FFFF { csize = try z.u64le() }
                        if localOffset == 0xFFFF_FFFF { localOffset = try z.u64le() }
                        if diskStart == 0xFFFF { diskStart = try z.u32le() }
                    } else {
                        try e.skip(len)
                    }
                }
                guard found else {
                    throw CheckpointError(.corrupt, "sizes are saturated (0xFFFFFFFF) but there is no ZIP64 extra field", file: path, member: name, offset: recordAt)
                }
            }
            guard diskStart == 0 else {
                throw CheckpointError(.unsupported, "multi-disk (spanned) ZIP archives are not supported", file: path, member: name, offset: recordAt)
            }
            try ZipArchive.checkMemberName(name, file: path, offset: recordAt + 46)
            if method == 0 && csize != usize {
                throw CheckpointError(.corrupt, "a stored member whose compressed size (\(csize)) differs from its size (\(usize))", file: path, member: name, offset: recordAt)
            }
            if method == 8 {
                let maxOut = csize.multipliedReportingOverflow(by: ContainerSpec.maxDeflateRatio)
                if maxOut.overflow || usize > maxOut.partialValue + ContainerSpec.deflateRatioSlack {
                    throw CheckpointError(.corrupt, "the member claims \(usize) bytes from \(csize) compressed bytes, more than deflate can produce (a zip bomb or a lie)",
                                          file: path, member: name, offset: recordAt)
                }
            }
            guard let minEnd = checkedAdd(localOffset, 30 + UInt64(nameLen)).flatMap({ checkedAdd($0, csize) }), minEnd <= cdOffset else {
                throw CheckpointError(.corrupt, "the member's data (\(csize) bytes from local header at byte \(localOffset)) runs into the central directory at byte \(cdOffset)",
                                      file: path, member: name, offset: recordAt)
            }
            if index[ByteName(name)] != nil {
                throw CheckpointError(.duplicateName, "two members are named \"\(escapeForDisplay(name))\"", file: path, member: name, offset: recordAt)
            }
            index[ByteName(name)] = raw.count
            raw.append((ZipEntry(name: name, method: method, flags: flags, crc32: crc, compressedSize: csize, uncompressedSize: usize,
                                 localHeaderOffset: localOffset, centralRecordOffset: recordAt, dataLimit: cdOffset, nameByteCount: nameLen), nameLen))
        }
        guard cur.position == cdEndPosition else {
            throw CheckpointError(.corrupt, "the central directory's records do not end where its size says (byte \(cdOffset + cdSize))", file: path, offset: cur.fileOffset)
        }

        // Members must not overlap: each one's local header + name + data ends before the next starts.
        let order = raw.indices.sorted { raw[$0].entry.localHeaderOffset < raw[$1].entry.localHeaderOffset }
        var entries = raw.map(\.entry)
        for (k, i) in order.enumerated() {
            let e = raw[i].entry
            let limit = k + 1 < order.count ? raw[order[k + 1]].entry.localHeaderOffset : cdOffset
            let minEnd = e.localHeaderOffset + 30 + UInt64(raw[i].nameLen) + e.compressedSize
            if minEnd > limit {
                let other = raw[order[k + 1]].entry
                throw CheckpointError(.corrupt, "members \"\(escapeForDisplay(e.name))\" and \"\(escapeForDisplay(other.name))\" overlap (their data share bytes)",
                                      file: path, member: e.name, offset: other.localHeaderOffset)
            }
            entries[i] = ZipEntry(name: e.name, method: e.method, flags: e.flags, crc32: e.crc32, compressedSize: e.compressedSize,
                                  uncompressedSize: e.uncompressedSize, localHeaderOffset: e.localHeaderOffset,
                                  centralRecordOffset: e.centralRecordOffset, dataLimit: limit, nameByteCount: e.nameByteCount)
        }
        self.entries = entries
        self.index = index
        self.centralDirectoryOffset = cdOffset
        self.centralDirectorySize = cdSize
        self.comment = comment
        self.tail = tail
        self.tailStart = tailStart
        try checkEveryByteAccounted(order.map { entries[$0] })
    }

    /// The member named exactly `name` (bytes, not canonical equivalence: see ``ByteName``).
    public func entry(named name: String) -> ZipEntry? { index[ByteName(name)].map { entries[$0] } }

    /// Position of the member in ``entries``.
    public func entryIndex(named name: String) -> Int? { index[ByteName(name)] }

    // MARK: - Member data

    /// Reads and checks the local header; returns the offset of the member's data.
    public func dataOffset(of entry: ZipEntry) throws -> UInt64 {
        let header = try readBytes(at: entry.localHeaderOffset, count: 30, what: "local file header", member: entry.name)
        var c = ByteCursor(header, base: entry.localHeaderOffset, file: path, what: "local file header of \"\(escapeForDisplay(entry.name))\"")
        guard try c.u32le() == 0x0403_4B50 else {
            throw CheckpointError(.corrupt, "no local file header where the central directory says the member starts", file: path, member: entry.name, offset: entry.localHeaderOffset)
        }
        _ = try c.u16le()
        let flags = try c.u16le()
        let method = try c.u16le()
        _ = try c.u16le()
        _ = try c.u16le()
        let crc = try c.u32le()
        let csize = try c.u32le()
        let usize = try c.u32le()
        let nameLen = Int(try c.u16le())
        let extraLen = Int(try c.u16le())
        guard method == entry.method else {
            throw CheckpointError(.corrupt, "the local header says method \(method), the central directory \(entry.method)", file: path, member: entry.name, offset: entry.localHeaderOffset + 8)
        }
        if flags & 0x0041 != 0 {
            throw CheckpointError(.unsupported, "the member is encrypted", file: path, member: entry.name, offset: entry.localHeaderOffset + 6)
        }
        if flags & 0x0008 == 0 {
            let sizesAgree = (csize == 0xFFFF_FFFF || UInt64(csize) == entry.compressedSize) && (usize == 0xFFFF_FFFF || UInt64(usize) == entry.uncompressedSize)
            guard crc == entry.crc32, sizesAgree else {
                throw CheckpointError(.corrupt, "the local header's CRC-32 or sizes disagree with the central directory", file: path, member: entry.name, offset: entry.localHeaderOffset + 14)
            }
        }
        guard nameLen == entry.nameByteCount else {
            throw CheckpointError(.corrupt, "the local header's name length (\(nameLen)) differs from the central directory's (\(entry.nameByteCount))",
                                  file: path, member: entry.name, offset: entry.localHeaderOffset + 26)
        }
        let nameBytes = try readBytes(at: entry.localHeaderOffset + 30, count: nameLen, what: "local header name", member: entry.name)
        guard nameBytes.elementsEqual(entry.name.utf8) else {
            throw CheckpointError(.corrupt, "the local header names a different member", file: path, member: entry.name, offset: entry.localHeaderOffset + 30)
        }
        let dataStart = entry.localHeaderOffset + 30 + UInt64(nameLen) + UInt64(extraLen)
        guard let dataEnd = checkedAdd(dataStart, entry.compressedSize), dataEnd <= entry.dataLimit else {
            throw CheckpointError(.corrupt, "the member's data runs past byte \(entry.dataLimit), into the next member or the central directory",
                                  file: path, member: entry.name, offset: dataStart)
        }
        return dataStart
    }

    func readBytes(at offset: UInt64, count: Int, what: String, member: String?) throws -> [UInt8] {
        if offset >= tailStart, let end = checkedAdd(offset, UInt64(count)), end <= tailStart + UInt64(tail.count) {
            let s = Int(offset - tailStart)
            return Array(tail[s..<(s + count)])
        }
        return try file.read(at: offset, count: count, what: what, member: member)
    }

    func readBytes(at offset: UInt64, into buffer: UnsafeMutableRawBufferPointer, what: String, member: String?) throws {
        if offset >= tailStart, let end = checkedAdd(offset, UInt64(buffer.count)), end <= tailStart + UInt64(tail.count) {
            let s = Int(offset - tailStart)
            tail.withUnsafeBytes { t in buffer.copyMemory(from: UnsafeRawBufferPointer(rebasing: t[s..<(s + buffer.count)])) }
            return
        }
        try file.read(at: offset, into: buffer, what: what, member: member)
    }

    /// Reads a whole member into memory, inflating it and checking its CRC-32. Refuses members
    /// larger than `maxBytes` before allocating.
    public func readMember(_ entry: ZipEntry, maxBytes: UInt64) throws -> [UInt8] {
        guard entry.uncompressedSize <= maxBytes else {
            throw CheckpointError(.limitExceeded, "the member is \(entry.uncompressedSize) bytes (the limit is \(maxBytes))", file: path, member: entry.name, offset: entry.localHeaderOffset)
        }
        var out = [UInt8](repeating: 0, count: Int(entry.uncompressedSize))
        if entry.method == 8 && LibDeflate.available {
            // One read and one whole-buffer inflate (the manifest of a big model is ~1 MB).
            let start = try dataOffset(of: entry)
            let input = try readBytes(at: start, count: Int(entry.compressedSize), what: "member data", member: entry.name)
            let result: (Int, Int)?
            do {
                result = try input.withUnsafeBytes { inb in try out.withUnsafeMutableBytes { try LibDeflate.inflate(inb, into: $0, account: file.statistics) } }
            } catch let e as CheckpointError {
                throw e.located(file: path, member: entry.name, offset: start)
            }
            if let (consumed, produced) = result {
                guard consumed == input.count, produced == out.count else {
                    throw CheckpointError(.corrupt, "the member inflates to \(produced) bytes from \(consumed) of \(input.count) compressed bytes; the directory says \(out.count)",
                                          file: path, member: entry.name, offset: start)
                }
                let c = crc32(out)
                guard c == entry.crc32 else {
                    throw CheckpointError(.checksumMismatch, "CRC-32 mismatch: the directory says \(hex32(entry.crc32)), the data gives \(hex32(c)) (the member's bytes are damaged)",
                                          file: path, member: entry.name, offset: start)
                }
                return out
            }
        }
        let stream = try MemberStream(archive: self, entry: entry)
        try out.withUnsafeMutableBytes { buf in
            var filled = 0
            while filled < buf.count {
                let n = try stream.read(into: UnsafeMutableRawBufferPointer(rebasing: buf[filled...]))
                if n == 0 { break }
                filled += n
            }
            try stream.finish()
        }
        return out
    }
}

/// Streams one member's uncompressed bytes through a fixed-size read buffer, checking size and
/// CRC-32 at the end.
public final class MemberStream {
    let archive: ZipArchive
    public let entry: ZipEntry
    private let dataStart: UInt64
    private var compressedRead: UInt64 = 0
    private var produced: UInt64 = 0
    private var crc: UInt32 = 0
    private let inflater: Inflater?
    private var input: [UInt8]
    private var inputPos = 0
    private var inputEnd = 0
    private let verifyCRC: Bool
    private var done = false

    public init(archive: ZipArchive, entry: ZipEntry, verifyCRC: Bool = true, bufferSize: Int = 256 << 10) throws {
        self.archive = archive
        self.entry = entry
        self.dataStart = try archive.dataOffset(of: entry)
        self.inflater = entry.method == 8 ? try Inflater() : nil
        self.input = [UInt8](repeating: 0, count: entry.method == 8 ? Int(min(UInt64(bufferSize), max(entry.compressedSize, 1))) : 0)
        self.verifyCRC = verifyCRC
    }

    /// File offset of the next compressed byte (for error messages).
    var fileOffset: UInt64 { dataStart + compressedRead - UInt64(inputEnd - inputPos) }

    /// Fills up to `buffer.count` bytes; returns 0 at the end of the member.
    public func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        guard !done, buffer.count > 0 else { return 0 }
        let remainingOut = entry.uncompressedSize - produced
        if remainingOut == 0 && (inflater == nil || inflater?.finished == true) {
            return 0
        }
        if inflater == nil {
            let n = Int(min(UInt64(buffer.count), remainingOut))
            try archive.readBytes(at: dataStart + produced, into: UnsafeMutableRawBufferPointer(rebasing: buffer[0..<n]), what: "member data", member: entry.name)
            if verifyCRC { crc = crc32(UnsafeRawBufferPointer(rebasing: buffer[0..<n]), continuing: crc) }
            produced += UInt64(n)
            return n
        }
        guard let inflater else { return 0 }
        var out = 0
        while out < buffer.count && !inflater.finished {
            if inputPos == inputEnd {
                let left = entry.compressedSize - compressedRead
                guard left > 0 else {
                    throw CheckpointError(.corrupt, "the deflate data ends before the stream does (the member is truncated or corrupt)",
                                          file: archive.path, member: entry.name, offset: dataStart + compressedRead)
                }
                let n = Int(min(UInt64(input.count), left))
                try input.withUnsafeMutableBytes { b in
                    try archive.readBytes(at: dataStart + compressedRead, into: UnsafeMutableRawBufferPointer(rebasing: b[0..<n]), what: "member data", member: entry.name)
                }
                compressedRead += UInt64(n)
                inputPos = 0
                inputEnd = n
            }
            let room = Int(min(UInt64(buffer.count - out), entry.uncompressedSize - produced + 1))
            let target = UnsafeMutableRawBufferPointer(rebasing: buffer[out..<(out + min(room, buffer.count - out))])
            let result: (consumed: Int, produced: Int)
            do {
                result = try input.withUnsafeBytes { b in
                    try inflater.inflate(UnsafeRawBufferPointer(rebasing: b[inputPos..<inputEnd]), into: target, account: archive.file.statistics)
                }
            } catch let e as CheckpointError {
                throw e.located(file: archive.path, member: entry.name, offset: fileOffset)
            }
            inputPos += result.consumed
            if result.produced > 0 {
                if verifyCRC { crc = crc32(UnsafeRawBufferPointer(rebasing: target[0..<result.produced]), continuing: crc) }
                out += result.produced
                produced += UInt64(result.produced)
                if produced > entry.uncompressedSize {
                    throw CheckpointError(.corrupt, "the member inflates to more than its declared \(entry.uncompressedSize) bytes (a zip bomb or a lie)",
                                          file: archive.path, member: entry.name, offset: fileOffset)
                }
            }
            if result.consumed == 0 && result.produced == 0 && !inflater.finished && inputPos < inputEnd {
                throw CheckpointError(.corrupt, "the deflate stream makes no progress", file: archive.path, member: entry.name, offset: fileOffset)
            }
        }
        return out
    }

    /// Checks that the member ended exactly: all declared bytes produced, stream finished, CRC right.
    /// Reads until `buffer` is full or the member ends; returns the bytes read.
    public func readFully(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        var filled = 0
        while filled < buffer.count {
            let n = try read(into: UnsafeMutableRawBufferPointer(rebasing: buffer[filled...]))
            if n == 0 { break }
            filled += n
        }
        return filled
    }

    /// Streams the rest of the member through `body` in pieces of up to `chunk` bytes, then checks
    /// it (``finish()``).
    public func drain(chunk: Int, _ body: (UnsafeRawBufferPointer) throws -> Void) throws {
        var buf = [UInt8](repeating: 0, count: max(1, chunk))
        try buf.withUnsafeMutableBytes { b in
            while true {
                let filled = try readFully(into: b)
                if filled == 0 { break }
                try body(UnsafeRawBufferPointer(rebasing: b[0..<filled]))
                if filled < b.count { break }
            }
        }
        try finish()
    }

    public func finish() throws {
        guard !done else { return }
        if produced < entry.uncompressedSize || (inflater != nil && inflater?.finished != true) {
            // Drain to find out whether the stream ends early or runs long.
            var scratch = [UInt8](repeating: 0, count: 64 << 10)
            while try scratch.withUnsafeMutableBytes({ try read(into: $0) }) > 0 {}
        }
        if let inflater, !inflater.finished {
            throw CheckpointError(.corrupt, "the deflate stream does not end where the member does", file: archive.path, member: entry.name, offset: fileOffset)
        }
        guard produced == entry.uncompressedSize else {
            throw CheckpointError(.corrupt, "the member inflates to \(produced) bytes but declares \(entry.uncompressedSize)", file: archive.path, member: entry.name, offset: fileOffset)
        }
        if inflater != nil && (inputEnd - inputPos != 0 || compressedRead != entry.compressedSize) {
            throw CheckpointError(.corrupt, "\(entry.compressedSize - compressedRead + UInt64(inputEnd - inputPos)) bytes of compressed data follow the end of the deflate stream",
                                  file: archive.path, member: entry.name, offset: fileOffset)
        }
        if verifyCRC && crc != entry.crc32 {
            throw CheckpointError(.checksumMismatch, "CRC-32 mismatch: the directory says \(hex32(entry.crc32)), the data gives \(hex32(crc)) (the member's bytes are damaged)",
                                  file: archive.path, member: entry.name, offset: dataStart)
        }
        done = true
    }
}

func hex32(_ v: UInt32) -> String {
    let h = String(v, radix: 16)
    return "0x" + String(repeating: "0", count: 8 - h.count) + h
}
