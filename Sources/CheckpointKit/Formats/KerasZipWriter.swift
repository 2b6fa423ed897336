/// The ZIP of a `.keras` file, as Python's `zipfile` writes it for Keras: stored members, version
/// 2.0 made on Unix, permissions 0600, no extra fields below the ZIP64 limit (2^31 - 1, Python's).
struct KerasZipWriter {
    let out: AtomicOutputFile
    private var central: [(name: [UInt8], crc: UInt32, size: UInt64, offset: UInt64, zip64: Bool)] = []
    static let zip64Limit: UInt64 = (1 << 31) - 1

    init(out: AtomicOutputFile) {
        self.out = out
    }

    mutating func add(name: String, bytes: [UInt8]) throws {
        let crc = crc32(bytes)
        try header(name: name, crc: crc, size: UInt64(bytes.count))
        try out.append(bytes)
    }

    /// Adds a whole file, copied in the kernel where possible (its CRC-32 is computed first).
    mutating func add(name: String, file: ReadableFile) throws {
        var crc: UInt32 = 0
        var at: UInt64 = 0
        var buffer = [UInt8](repeating: 0, count: 4 << 20)
        while at < file.size {
            let n = Int(min(UInt64(buffer.count), file.size - at))
            try buffer.withUnsafeMutableBytes { try file.read(at: at, into: UnsafeMutableRawBufferPointer(rebasing: $0[0..<n]), what: "\(name) data") }
            crc = buffer.withUnsafeBytes { crc32(UnsafeRawBufferPointer(rebasing: $0[0..<n]), continuing: crc) }
            at += UInt64(n)
        }
        try header(name: name, crc: crc, size: file.size)
        try out.appendCopy(from: file, at: 0, count: file.size)
    }

    private mutating func header(name: String, crc: UInt32, size: UInt64) throws {
        let nameBytes = Array(name.utf8)
        let offset = out.offset
        // Python decides ZIP64 for a member of known size when size * 1.05 exceeds the limit.
        let zip64 = Double(size) * 1.05 > Double(Self.zip64Limit)
        try out.append(zipLocalHeader(name: name, crc: crc, csize: size, usize: size, method: 0, zip64: zip64))
        central.append((nameBytes, crc, size, offset, zip64))
    }

    func finish() throws {
        let start = out.offset
        var cd: [UInt8] = []
        for c in central {
            var fields: [UInt64] = []
            if c.size > Self.zip64Limit { fields += [c.size, c.size] }
            if c.offset > Self.zip64Limit { fields.append(c.offset) }
            let version: UInt16 = fields.isEmpty && !c.zip64 ? 20 : 45
            cd.appendLE(UInt32(0x0201_4B50))
            cd.appendLE(UInt16(0x0300) | version) // made by: Unix, version 2.0 (4.5 with ZIP64)
            cd.appendLE(version)
            cd.appendLE(UInt16(c.name.contains { $0 >= 0x80 } ? 0x0800 : 0))
            cd.appendLE(UInt16(0))
            cd.appendLE(ContainerSpec.dosTime)
            cd.appendLE(ContainerSpec.dosDate)
            cd.appendLE(c.crc)
            let big = c.size > Self.zip64Limit
            cd.appendLE(big ? UInt32.max : UInt32(c.size))
            cd.appendLE(big ? UInt32.max : UInt32(c.size))
            cd.appendLE(UInt16(c.name.count))
            cd.appendLE(UInt16(fields.isEmpty ? 0 : 4 + 8 * fields.count))
            cd.appendLE(UInt16(0)) // comment
            cd.appendLE(UInt16(0)) // disk
            cd.appendLE(UInt16(0)) // internal attributes
            cd.appendLE(UInt32(0o600) << 16)
            cd.appendLE(c.offset > Self.zip64Limit ? UInt32.max : UInt32(c.offset))
            cd += c.name
            if !fields.isEmpty {
                cd.appendLE(UInt16(1))
                cd.appendLE(UInt16(8 * fields.count))
                for f in fields { cd.appendLE(f) }
            }
        }
        try out.append(cd)
        let size = UInt64(cd.count)
        let count = UInt64(central.count)
        let zip64 = count > 0xFFFF || start > Self.zip64Limit || size > Self.zip64Limit
        try out.append(zipEndRecords(entries: count, directorySize: size, directoryStart: start, zip64At: zip64 ? out.offset : nil,
                                     zip64MadeBy: 45))
    }
}
