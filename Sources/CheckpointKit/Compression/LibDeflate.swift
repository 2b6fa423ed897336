import CRuntimeLibs
import Synchronization

/// libdeflate, when the system has it (Debian's libdeflate0 is on most machines): inflates a
/// whole chunk ~1.5x faster than zlib and computes CRC-32 several times faster. Loaded at run
/// time; `CKPT_NO_LIBDEFLATE=1` turns it off (tests run both ways).
enum LibDeflate {
    static let available: Bool = ckpt_libdeflate_available() == 1

    /// A final, empty fixed-Huffman block (BFINAL=1, BTYPE=01, end-of-block): appended after a
    /// chunk that ends in a full flush, it makes the chunk a complete deflate stream, which is
    /// what libdeflate's whole-buffer API needs (spec §2 rule 5: chunks end byte-aligned).
    static let finalEmptyBlock: [UInt8] = [0x03, 0x00]

    final class Decompressor: @unchecked Sendable {
        // @unchecked: used by one thread at a time; handed over through the pool's lock.
        let handle: UnsafeMutableRawPointer
        init?() {
            guard let h = ckpt_libdeflate_alloc() else { return nil }
            handle = h
        }
        deinit { ckpt_libdeflate_free(handle) }
    }

    private static let pool = Mutex<[Decompressor]>([])

    static func take() -> Decompressor? { pool.withLock { $0.popLast() } ?? Decompressor() }
    static func give(_ d: Decompressor) { pool.withLock { if $0.count < 16 { $0.append(d) } } }

    /// Inflates `input` (a complete deflate stream) into exactly `output.count` bytes.
    /// Returns (consumed, produced) or nil if libdeflate is unavailable; throws on bad data.
    static func inflate(_ input: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer, account: IOStatistics? = nil) throws -> (Int, Int)? {
        guard available, let d = take() else { return nil }
        defer { give(d) }
        var used = 0, produced = 0
        let rc = ckpt_libdeflate_decompress(d.handle, input.baseAddress, input.count, output.baseAddress, output.count, &used, &produced)
        switch rc {
        case 0:
            IOStatistics.shared.addInflated(produced)
            account?.addInflated(produced)
            return (used, produced)
        case 3:
            throw CheckpointError(.corrupt, "the deflate data inflates to more than the \(output.count) bytes expected")
        default:
            throw CheckpointError(.corrupt, "invalid deflate data")
        }
    }
}
