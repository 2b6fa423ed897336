// Reading one tensor's bytes out of its storage: a contiguous tensor streams straight from the
// file (pread, or inflating a deflated member); a non-contiguous view reads the span of storage it
// covers once and gathers its elements in C order. Big-endian storages are swapped on the way.

struct PyTorchReader {
    let file: PyTorchFile
    let loc: PyTorchSource.Located
    let limits: Limits

    var item: Int { loc.ref.scalar.itemSize }

    /// File offset of the storage's first byte. Legacy files: checks the element count before it.
    func storageDataOffset() throws -> UInt64 {
        let s = loc.storage
        if let e = s.entry {
            guard let zip = file.zip else { throw CheckpointError(.corrupt, "a zip storage outside a zip file", file: file.path) }
            return try zip.dataOffset(of: e)
        }
        let raw = try file.file.read(at: s.countOffset, count: 8, what: "element count of storage \"\(escapeForDisplay(s.key))\"")
        var count: UInt64 = 0
        for k in 0..<8 { count |= UInt64(raw[file.bigEndian ? 7 - k : k]) << (8 * UInt64(k)) }
        let expected = UInt64(s.nbytes / max(1, s.itemSize))
        guard count == expected else {
            throw CheckpointError(.corrupt, "storage \"\(escapeForDisplay(s.key))\" is declared with \(expected) elements, but the file says \(count) before its data",
                                  file: file.path, offset: s.countOffset)
        }
        return s.countOffset + 8
    }

    /// Streams the raw bytes `range` of the storage (relative to its first byte).
    func raw(_ range: Range<Int>, _ sink: (UnsafeRawBufferPointer) throws -> Void) throws {
        guard !range.isEmpty else { return }
        let chunk = ContainerSpec.chunkSize
        if let e = loc.storage.entry, e.method != 0, let zip = file.zip {
            // A deflated member (torch stores them, but a re-zipped file may not): inflate from its start.
            let stream = try MemberStream(archive: zip, entry: e, verifyCRC: range.lowerBound == 0 && range.upperBound == loc.storage.nbytes)
            var buf = [UInt8](repeating: 0, count: min(chunk, max(range.upperBound, 1)))
            var at = 0
            try buf.withUnsafeMutableBytes { b in
                while at < range.upperBound {
                    let want = min(b.count, range.upperBound - at)
                    var got = 0
                    while got < want {
                        let n = try stream.read(into: UnsafeMutableRawBufferPointer(rebasing: b[got..<want]))
                        if n == 0 { break }
                        got += n
                    }
                    guard got == want else {
                        throw CheckpointError(.corrupt, "member \"\(escapeForDisplay(e.name))\" inflates to fewer bytes than its storage holds", file: file.path, member: e.name)
                    }
                    let lo = max(at, range.lowerBound)
                    if lo < at + got { try sink(UnsafeRawBufferPointer(rebasing: b[(lo - at)..<got])) }
                    at += got
                }
            }
            if range.upperBound == loc.storage.nbytes { try stream.finish() }
            return
        }
        let base = try storageDataOffset()
        var buf = [UInt8](repeating: 0, count: min(chunk, range.count))
        var pos = range.lowerBound
        let what = "data of storage \"\(escapeForDisplay(loc.storage.key))\""
        try buf.withUnsafeMutableBytes { b in
            while pos < range.upperBound {
                let n = min(b.count, range.upperBound - pos)
                let part = UnsafeMutableRawBufferPointer(rebasing: b[0..<n])
                try file.file.read(at: base + UInt64(pos), into: part, what: what, member: loc.storage.entry?.name)
                try sink(UnsafeRawBufferPointer(part))
                pos += n
            }
        }
    }

    /// Streams bytes `range` of the tensor's C-order little-endian data. Returns the CRC-32 of the
    /// raw bytes read when the tensor is its whole stored storage (so the zip's CRC can check it), else 0.
    @discardableResult
    func read(_ range: Range<Int>, _ body: (UnsafeRawBufferPointer) throws -> Void) throws -> UInt32 {
        let wantCRC = loc.wholeStorage && loc.storage.entry?.method == 0
        let swap = file.bigEndian && item > 1
        var scratch: [UInt8] = []
        func deliver(_ chunk: UnsafeRawBufferPointer) throws {
            guard swap else { return try body(chunk) }
            scratch.removeAll(keepingCapacity: true)
            scratch.append(contentsOf: chunk)
            Self.swapBytes(&scratch, item: item)
            try scratch.withUnsafeBytes(body)
        }
        if loc.contiguous {
            var crc: UInt32 = 0
            try raw((loc.start + range.lowerBound)..<(loc.start + range.upperBound)) { chunk in
                if wantCRC { crc = crc32(chunk, continuing: crc) }
                try deliver(chunk)
            }
            return crc
        }
        try gather(range, body) // the gathered span is swapped already
        return 0
    }

    /// A non-contiguous view: the storage span it covers, read once, then its elements in C order.
    private func gather(_ range: Range<Int>, _ deliver: (UnsafeRawBufferPointer) throws -> Void) throws {
        let t = loc.ref
        var last = t.storageOffset
        for d in t.shape.indices where t.shape[d] > 0 { last += (t.shape[d] - 1) * t.stride[d] } // checked by locate()
        let span = (last - t.storageOffset + 1) * item
        guard span <= limits.maxInMemoryTensorBytes else {
            throw CheckpointError(.limitExceeded, "the non-contiguous view \"\(escapeForDisplay(t.storage.key))\" spans \(span) bytes of its storage, more than the in-memory limit \(limits.maxInMemoryTensorBytes)",
                                  file: file.path, hint: "save it with .contiguous() first")
        }
        var src: [UInt8] = []
        src.reserveCapacity(span)
        try raw(loc.start..<(loc.start + span)) { src.append(contentsOf: $0) }
        if file.bigEndian && item > 1 { Self.swapBytes(&src, item: item) }
        let rank = t.shape.count
        let total = TensorInfo.elementCount(t.shape) ?? 0
        var out = [UInt8](repeating: 0, count: min(ContainerSpec.chunkSize, max(item, range.count)))
        var filled = 0
        var index = [Int](repeating: 0, count: rank)
        var produced = 0 // bytes of the logical tensor produced so far
        try src.withUnsafeBytes { s in
            try out.withUnsafeMutableBytes { o in
                guard let sb = s.baseAddress, let ob = o.baseAddress else { return }
                for _ in 0..<total {
                    var e = 0
                    for d in 0..<rank { e += index[d] * t.stride[d] }
                    if produced >= range.lowerBound && produced < range.upperBound {
                        (ob + filled).copyMemory(from: sb + e * item, byteCount: item)
                        filled += item
                        if filled + item > o.count {
                            try deliver(UnsafeRawBufferPointer(rebasing: o[0..<filled]))
                            filled = 0
                        }
                    }
                    produced += item
                    var d = rank - 1
                    while d >= 0 {
                        index[d] += 1
                        if index[d] < t.shape[d] { break }
                        index[d] = 0
                        d -= 1
                    }
                }
                if filled > 0 { try deliver(UnsafeRawBufferPointer(rebasing: o[0..<filled])) }
            }
        }
    }

    static func swapBytes(_ b: inout [UInt8], item: Int) {
        guard item > 1 else { return }
        b.withUnsafeMutableBytes { p in
            var k = 0
            while k + item <= p.count {
                var lo = k, hi = k + item - 1
                while lo < hi { p.swapAt(lo, hi); lo += 1; hi -= 1 }
                k += item
            }
        }
    }
}
