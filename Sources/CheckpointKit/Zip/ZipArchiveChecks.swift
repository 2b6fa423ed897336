// What ZipArchive checks of each member beyond parsing its directory record: its method, its name
// (spec §1 rule 7), and that every byte of the archive belongs to a member (issue 16: bytes that
// belong to none are where a second reading of the archive hides).

extension ZipArchive {
    static func methodName(_ m: UInt16) -> String {
        switch m {
        case 1: return "shrink"
        case 6: return "implode"
        case 9: return "deflate64"
        case 12: return "bzip2"
        case 14: return "LZMA"
        case 93: return "zstd"
        case 95: return "xz"
        case 99: return "AES encryption"
        default: return "unknown"
        }
    }

    /// Spec §1 rule 7: relative, `/`-separated, no `.`/`..`/empty components, no `\`, NUL or controls.
    /// Scans bytes once (it runs for every member of every archive).
    static func checkMemberName(_ name: String, file: String?, offset: UInt64?) throws {
        func refuse(_ why: String) -> CheckpointError {
            CheckpointError(.unsafeName, "the member name \"\(escapeForDisplay(name))\" \(why); refused", file: file, offset: offset)
        }
        var contiguous = name
        contiguous.makeContiguousUTF8()
        let checked: String?? = contiguous.utf8.withContiguousStorageIfAvailable { b -> String? in
            guard !b.isEmpty else { return "is empty" }
            if b[0] == 0x2F { return "is an absolute path" }
            if b.count >= 2, b[1] == 0x3A, (b.count == 2 || b[2] == 0x2F), (b[0] | 0x20) >= 0x61, (b[0] | 0x20) <= 0x7A { return "starts with a drive letter" }
            var componentStart = 0
            for i in 0...b.count {
                let c: UInt8 = i < b.count ? b[i] : 0x2F
                if i < b.count {
                    if c < 0x20 || c == 0x7F { return "contains a control character" }
                    if c == 0x5C { return "contains a backslash" }
                    if c == 0xC2, i + 1 < b.count, b[i + 1] >= 0x80, b[i + 1] < 0xA0 { return "contains a control character" }
                }
                if c == 0x2F {
                    let len = i - componentStart
                    if len == 0 && !(i == b.count && i > 0) { return "has an empty path component" }
                    if len == 1 && b[componentStart] == 0x2E { return "has a \".\" component" }
                    if len == 2 && b[componentStart] == 0x2E && b[componentStart + 1] == 0x2E { return "climbs out of its directory with \"..\"" }
                    componentStart = i + 1
                }
            }
            return nil
        }
        guard let result = checked else { throw refuse("could not be checked") }
        if let problem = result { throw refuse(problem) }
    }

    /// Every byte before the central directory belongs to a member: the first local header at
    /// byte 0, and each member (local header, name, extra field, data, data descriptor) ending
    /// exactly where the next begins, the last where the directory begins. Bytes that belong to no
    /// member could hold what another reader takes for a member (a stream reader walking the local
    /// headers, a tool that repairs archives) while ckpt does not: readers would disagree, so the
    /// archive is refused (issue 16). One read of the local header per member (and of its data
    /// descriptor, where it has one).
    func checkEveryByteAccounted(_ sorted: [ZipEntry]) throws {
        func quoted(_ e: ZipEntry?) -> String { e.map { "\"\(escapeForDisplay($0.name))\"" } ?? "" }
        var at: UInt64 = 0
        var previous: ZipEntry?
        for (k, e) in sorted.enumerated() {
            guard e.localHeaderOffset == at else {
                throw unaccounted(from: at, to: e.localHeaderOffset, what: "member \(quoted(e))",
                                  place: previous.map { "between members \(quoted($0)) and \(quoted(e))" } ?? "before the first member, \(quoted(e))")
            }
            let next = k + 1 < sorted.count ? sorted[k + 1].localHeaderOffset : centralDirectoryOffset
            let header = try readBytes(at: e.localHeaderOffset, count: 30, what: "local file header", member: e.name)
            var c = ByteCursor(header, base: e.localHeaderOffset, file: path, what: "local file header of \"\(escapeForDisplay(e.name))\"")
            guard try c.u32le() == 0x0403_4B50 else {
                throw CheckpointError(.corrupt, "no local file header where the central directory says the member starts", file: path, member: e.name,
                                      offset: e.localHeaderOffset)
            }
            try c.skip(2)
            let flags = try c.u16le()
            try c.skip(18)
            let nameLen = UInt64(try c.u16le())
            let extraLen = UInt64(try c.u16le())
            guard let dataEnd = checkedAdd(e.localHeaderOffset, 30 + nameLen + extraLen).flatMap({ checkedAdd($0, e.compressedSize) }), dataEnd <= next else {
                throw CheckpointError(.corrupt, "the member (its local header, name, extra field and \(e.compressedSize) bytes of data) runs past byte \(next), into \(k + 1 < sorted.count ? "member " + quoted(sorted[k + 1]) : "the central directory")",
                                      file: path, member: e.name, offset: e.localHeaderOffset)
            }
            at = dataEnd
            if flags & 0x0008 != 0, dataEnd < next {
                at += try descriptorLength(of: e, at: dataEnd, next: next)
            }
            previous = e
        }
        guard at == centralDirectoryOffset else {
            throw unaccounted(from: at, to: centralDirectoryOffset, what: "the central directory",
                              place: previous.map { "between the last member, \(quoted($0)), and the central directory" } ?? "before the central directory")
        }
    }

    private func unaccounted(from: UInt64, to: UInt64, what: String, place: String) -> CheckpointError {
        guard to > from else {
            return CheckpointError(.corrupt, "\(what) starts at byte \(to), inside the member before it, which ends at byte \(from)", file: path, offset: to)
        }
        return CheckpointError(.corrupt, "\(to - from) byte\(to - from == 1 ? "" : "s") belong\(to - from == 1 ? "s" : "") to no member (\(place)); other ZIP readers could see members there that ckpt does not",
                               file: path, offset: from, hint: "the archive was altered after it was written; re-create it")
    }

    /// The length of `e`'s data descriptor at `at`: 12 or 20 bytes (32- or 64-bit sizes), 4 more
    /// with its optional signature; the one whose CRC-32 and sizes are the directory's and that
    /// ends at `next`.
    private func descriptorLength(of e: ZipEntry, at: UInt64, next: UInt64) throws -> UInt64 {
        let b = try readBytes(at: at, count: Int(min(24, next - at)), what: "data descriptor", member: e.name)
        func u32(_ p: Int) -> UInt64 { UInt64(b[p]) | UInt64(b[p + 1]) << 8 | UInt64(b[p + 2]) << 16 | UInt64(b[p + 3]) << 24 }
        func u64(_ p: Int) -> UInt64 { u32(p) | u32(p + 4) << 32 }
        let length = b.count
        for p in [4, 0] {
            if p == 4 && !(length >= 4 && u32(0) == 0x0807_4B50) { continue }
            if length == p + 12, u32(p) == UInt64(e.crc32), u32(p + 4) == e.compressedSize, u32(p + 8) == e.uncompressedSize { return UInt64(length) }
            if length == p + 20, u32(p) == UInt64(e.crc32), u64(p + 4) == e.compressedSize, u64(p + 12) == e.uncompressedSize { return UInt64(length) }
        }
        throw CheckpointError(.corrupt, "the \(next - at) bytes after the member's data (at byte \(at)) are not its data descriptor: other ZIP readers could see members there that ckpt does not",
                              file: path, member: e.name, offset: at, hint: "the archive was altered after it was written; re-create it")
    }
}
