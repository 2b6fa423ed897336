import CZlib
import CRuntimeLibs

/// CRC-32 (ISO-HDLC, as ZIP uses) continuing from `crc` (ISA-L's or libdeflate's when present: faster).
@inline(__always)
public func crc32(_ bytes: UnsafeRawBufferPointer, continuing crc: UInt32 = 0) -> UInt32 {
    guard let base = bytes.baseAddress, bytes.count > 0 else { return crc }
    if ISAL.available { return ckpt_isal_crc32(crc, base, bytes.count) }
    if LibDeflate.available { return ckpt_libdeflate_crc32(crc, base, bytes.count) }
    return crc32Zlib(bytes, continuing: crc)
}

/// CRC-32 by zlib alone.
func crc32Zlib(_ bytes: UnsafeRawBufferPointer, continuing crc: UInt32) -> UInt32 {
    guard let base = bytes.baseAddress, bytes.count > 0 else { return crc }
    var c = UInt(crc)
    var p = base.assumingMemoryBound(to: UInt8.self)
    var left = bytes.count
    while left > 0 {
        let n = min(left, Int(UInt32.max >> 1))
        c = CZlib.crc32(c, p, UInt32(n))
        p += n
        left -= n
    }
    return UInt32(truncatingIfNeeded: c)
}

public func crc32(_ bytes: [UInt8], continuing crc: UInt32 = 0) -> UInt32 {
    bytes.withUnsafeBytes { crc32($0, continuing: crc) }
}

/// CRC-32 of A‖B from CRC(A), CRC(B) and len(B) (zlib's `crc32_combine`).
public func crc32Combine(_ a: UInt32, _ b: UInt32, lengthOfB: Int) -> UInt32 {
    UInt32(truncatingIfNeeded: CZlib.crc32_combine(UInt(a), UInt(b), off_t(lengthOfB)))
}

/// How a chunk is deflated (spec §4).
public enum DeflateStrategy: Sendable, Hashable {
    /// zlib level 1, default strategy: constant fills and integers.
    case fast
    /// `Z_HUFFMAN_ONLY`: floating-point weights (same ratio as level 6, ~4x the speed).
    case huffmanOnly
    /// zlib level 6, default strategy: JSON and other text.
    case standard

    var level: Int32 {
        switch self {
        case .fast: return 1
        case .huffmanOnly: return 1
        case .standard: return 6
        }
    }

    var zStrategy: Int32 {
        switch self {
        case .huffmanOnly: return Z_HUFFMAN_ONLY
        default: return Z_DEFAULT_STRATEGY
        }
    }
}

/// Owns one raw-deflate `z_stream` (at a fixed address, as zlib requires), freed in `deinit`,
/// and, for `encoder == .isal` when ISA-L is loaded, an ISA-L stream that does the work (zlib
/// then only stands in if ISA-L refuses a fragment).
/// `@unchecked Sendable`: a deflater is used by one thread at a time; the pool hands it over under a lock.
final class Deflater: @unchecked Sendable {
    private let stream: UnsafeMutablePointer<z_stream>
    private let isal: ISAL.Deflater?
    let strategy: DeflateStrategy
    let encoder: DeflateEncoder

    init(strategy: DeflateStrategy, encoder: DeflateEncoder = .zlib) throws {
        self.strategy = strategy
        self.encoder = encoder
        isal = encoder == .isal ? ISAL.Deflater() : nil
        stream = .allocate(capacity: 1)
        stream.initialize(to: z_stream())
        let rc = ckpt_deflateInit2(stream, strategy.level, Z_DEFLATED, -15, 8, strategy.zStrategy)
        guard rc == Z_OK else {
            stream.deinitialize(count: 1)
            stream.deallocate()
            throw Zlib.error(rc, during: "deflateInit2")
        }
    }

    deinit {
        deflateEnd(stream)
        stream.deinitialize(count: 1)
        stream.deallocate()
    }

    /// Upper bound of the output for `count` input bytes, including a flush marker.
    func bound(_ count: Int) -> Int { Int(deflateBound(stream, UInt(count))) + 16 }

    /// Deflates `input` as one independent fragment: a fresh stream state, ended by a full flush
    /// (`finish == false`) or by the final block (`finish == true`). Appends to `output`.
    func compressFragment(_ input: UnsafeRawBufferPointer, finish: Bool, into output: inout [UInt8]) throws {
        if let isal, input.count > 0, let fragment = isal.fragment(input, finish: finish) {
            if output.isEmpty { output = fragment } else { output.append(contentsOf: fragment) }
            IOStatistics.shared.addDeflated(input.count)
            return
        }
        var rc = deflateReset(stream)
        guard rc == Z_OK else { throw Zlib.error(rc, during: "deflateReset") }
        let cap = bound(input.count)
        // Written into uninitialised capacity (no zero-fill, no per-element loop even unoptimised).
        var failure: CheckpointError?
        let fragment = [UInt8](unsafeUninitializedCapacity: cap) { buf, count in
            stream.pointee.next_in = UnsafeMutablePointer(mutating: input.baseAddress?.assumingMemoryBound(to: UInt8.self))
            stream.pointee.avail_in = UInt32(input.count)
            stream.pointee.next_out = buf.baseAddress
            stream.pointee.avail_out = UInt32(cap)
            rc = deflate(stream, finish ? Z_FINISH : Z_FULL_FLUSH)
            let ok = finish ? rc == Z_STREAM_END : rc == Z_OK
            if !ok || stream.pointee.avail_in != 0 { failure = Zlib.error(rc, during: "deflate") }
            count = failure == nil ? cap - Int(stream.pointee.avail_out) : 0
        }
        if let failure { throw failure }
        if output.isEmpty { output = fragment } else { output.append(contentsOf: fragment) }
        IOStatistics.shared.addDeflated(input.count)
    }
}

/// Owns one raw-inflate `z_stream`, freed in `deinit`.
/// `@unchecked Sendable`: used by one thread at a time; the pool hands it over under a lock.
final class Inflater: @unchecked Sendable {
    private let stream: UnsafeMutablePointer<z_stream>
    private(set) var finished = false

    init() throws {
        stream = .allocate(capacity: 1)
        stream.initialize(to: z_stream())
        let rc = ckpt_inflateInit2(stream, -15)
        guard rc == Z_OK else {
            stream.deinitialize(count: 1)
            stream.deallocate()
            throw Zlib.error(rc, during: "inflateInit2")
        }
    }

    deinit {
        inflateEnd(stream)
        stream.deinitialize(count: 1)
        stream.deallocate()
    }

    nonisolated(unsafe) static let scratch = UnsafeMutablePointer<UInt8>.allocate(capacity: 1)

    func reset() throws {
        let rc = inflateReset(stream)
        guard rc == Z_OK else { throw Zlib.error(rc, during: "inflateReset") }
        finished = false
    }

    /// Inflates from `input` into `output`. Returns bytes consumed and produced; sets `finished`
    /// at the end of the deflate stream. Throws `.corrupt` on bad data.
    func inflate(_ input: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer, account: IOStatistics? = nil) throws -> (consumed: Int, produced: Int) {
        guard !finished else { return (0, 0) }
        stream.pointee.next_in = UnsafeMutablePointer(mutating: input.baseAddress?.assumingMemoryBound(to: UInt8.self))
        stream.pointee.avail_in = UInt32(input.count)
        // zlib refuses a NULL next_out even with avail_out == 0.
        stream.pointee.next_out = output.baseAddress?.assumingMemoryBound(to: UInt8.self) ?? Inflater.scratch
        stream.pointee.avail_out = UInt32(output.count)
        let rc = CZlib.inflate(stream, Z_NO_FLUSH)
        let consumed = input.count - Int(stream.pointee.avail_in)
        let produced = output.count - Int(stream.pointee.avail_out)
        IOStatistics.shared.addInflated(produced)
        account?.addInflated(produced)
        switch rc {
        case Z_OK: break
        case Z_STREAM_END: finished = true
        case Z_BUF_ERROR where consumed == 0 && produced == 0:
            // No progress possible: the caller must give more input or more room.
            break
        default:
            throw Zlib.error(rc, during: "inflate", message: stream.pointee.msg.map { String(cString: $0) })
        }
        return (consumed, produced)
    }
}

enum Zlib {
    static func error(_ rc: Int32, during what: String, message: String? = nil) -> CheckpointError {
        let name: String
        switch rc {
        case Z_DATA_ERROR: name = "invalid deflate data"
        case Z_MEM_ERROR: name = "zlib ran out of memory"
        case Z_BUF_ERROR: name = "deflate data ends early"
        case Z_STREAM_ERROR: name = "zlib stream error"
        case Z_VERSION_ERROR: name = "incompatible zlib version"
        case Z_NEED_DICT: name = "deflate data needs a preset dictionary"
        default: name = "zlib error \(rc)"
        }
        let detail = message.map { " (\($0))" } ?? ""
        let code: CheckpointError.Code = (rc == Z_DATA_ERROR || rc == Z_NEED_DICT || rc == Z_BUF_ERROR) ? .corrupt : .io
        return CheckpointError(code, "\(name)\(detail) in \(what)")
    }
}
