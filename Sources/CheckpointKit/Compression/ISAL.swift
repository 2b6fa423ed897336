import CRuntimeLibs

/// Which deflate encoder writes tensor data (spec §4). Both write ordinary raw deflate that zlib,
/// `unzip`, Python's `zipfile` and `numpy.load` read; only speed (and the exact bytes) differ.
public enum DeflateEncoder: String, Sendable, Hashable, CaseIterable {
    /// ISA-L's `isal_deflate` at level 1 (dynamic Huffman codes with short matches): on float
    /// weights about ten times zlib's Huffman-only speed at the same ratio.
    case isal
    /// zlib: Huffman-only for float data, level 1 for the rest.
    case zlib

    /// ISA-L when the system has it (Debian: libisal2) and `CKPT_NO_ISAL` is unset, else zlib.
    public static var preferred: DeflateEncoder { ISAL.available ? .isal : .zlib }
}

/// ISA-L (Intel's Intelligent Storage Acceleration Library), loaded at run time: a fast deflater
/// and CRC-32. `CKPT_NO_ISAL=1` (or `CKPT_PRETEND_MISSING=isal`) turns it off.
enum ISAL {
    static let available: Bool = ckpt_isal_available() == 1

    /// One level-1 stream with its level buffer (~270 KiB); used by one thread at a time.
    final class Deflater: @unchecked Sendable {
        // @unchecked: handed over between threads through the compression pool's lock.
        private let handle: UnsafeMutableRawPointer

        init?() {
            guard let h = ckpt_isal_deflater_alloc() else { return nil }
            handle = h
        }

        deinit { ckpt_isal_deflater_free(handle) }

        /// Deflates `input` as an independent fragment (see `ckpt_isal_deflate_fragment`) and
        /// returns its bytes, or nil if ISA-L refused (the caller then uses zlib).
        func fragment(_ input: UnsafeRawBufferPointer, finish: Bool) -> [UInt8]? {
            let cap = ckpt_isal_deflate_bound(input.count)
            var ok = false
            let out = [UInt8](unsafeUninitializedCapacity: cap) { buf, count in
                var produced = 0
                let rc = ckpt_isal_deflate_fragment(handle, input.baseAddress, input.count, buf.baseAddress, cap, finish ? 1 : 0, &produced)
                ok = rc == 0 && produced <= cap
                count = ok ? produced : 0
            }
            return ok ? out : nil
        }
    }
}
