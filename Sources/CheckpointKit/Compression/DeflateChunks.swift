/// Chunked deflate as the container writes it (spec §2 rule 5), and inflate back with each
/// inflater, exposed for the deflate fuzz target and the tests that compare the encoders.
public enum DeflateChunks {
    /// `bytes` cut into chunks of `chunkSize`, each deflated by `encoder` as an independent
    /// fragment (float data as the writer does: Huffman-only under zlib); the last one ends the
    /// stream. Returns the stream and the offset where each chunk ends.
    public static func deflate(_ bytes: [UInt8], chunkSize: Int, floating: Bool, encoder: DeflateEncoder) throws -> (stream: [UInt8], ends: [Int]) {
        guard chunkSize > 0 else { throw CheckpointError(.invalidArgument, "a chunk size of \(chunkSize)") }
        let d = try Deflater(strategy: floating ? .huffmanOnly : .fast, encoder: encoder)
        var stream: [UInt8] = []
        var ends: [Int] = []
        var at = 0
        repeat {
            let n = min(chunkSize, bytes.count - at)
            let finish = at + n == bytes.count
            try bytes.withUnsafeBytes { raw in
                try d.compressFragment(UnsafeRawBufferPointer(rebasing: raw[at..<(at + n)]), finish: finish, into: &stream)
            }
            ends.append(stream.count)
            at += n
        } while at < bytes.count
        return (stream, ends)
    }

    /// Inflates a complete raw deflate stream of `size` bytes with zlib, or with libdeflate
    /// (nil when libdeflate is not loaded). Throws `.corrupt` if it is not exactly that.
    public static func inflate(_ stream: [UInt8], size: Int, libdeflate: Bool) throws -> [UInt8]? {
        if libdeflate && !LibDeflate.available { return nil }
        var out = [UInt8](repeating: 0, count: size)
        let (used, produced): (Int, Int) = try stream.withUnsafeBytes { input in
            try out.withUnsafeMutableBytes { output in
                if libdeflate { return try LibDeflate.inflate(input, into: output) ?? (0, 0) }
                let z = try Inflater()
                let r = try z.inflate(input, into: output)
                guard z.finished else { throw CheckpointError(.corrupt, "the deflate stream does not end after \(size) bytes") }
                return r
            }
        }
        guard used == stream.count, produced == size else {
            throw CheckpointError(.corrupt, "the deflate stream gives \(produced) bytes from \(used) of \(stream.count)")
        }
        return out
    }

    /// Whether `encoder` runs here (ISA-L needs libisal; zlib always).
    public static func isAvailable(_ encoder: DeflateEncoder) -> Bool { encoder == .zlib || ISAL.available }

    /// The CRC-32 of `bytes` by zlib alone (the reference the faster ones are checked against).
    public static func zlibCRC32(_ bytes: [UInt8]) -> UInt32 {
        bytes.withUnsafeBytes { crc32Zlib($0, continuing: 0) }
    }
}
