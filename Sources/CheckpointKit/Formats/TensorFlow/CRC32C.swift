import CRuntimeLibs

/// CRC-32C (Castagnoli), the checksum of TensorFlow tensor bundles and of LevelDB table blocks,
/// and its *masked* form, which both store: `((crc >> 15) | (crc << 17)) + 0xa282ead8` (a CRC of
/// data that itself holds CRCs is then not trivially related to them).
public enum CRC32C {
    /// Extends `crc` (0 to start) over `bytes`.
    public static func checksum(_ bytes: UnsafeRawBufferPointer, continuing crc: UInt32 = 0) -> UInt32 {
        guard let base = bytes.baseAddress, bytes.count > 0 else { return crc }
        return ckpt_crc32c(crc, base, bytes.count)
    }

    public static func checksum(_ bytes: [UInt8], continuing crc: UInt32 = 0) -> UInt32 {
        bytes.withUnsafeBytes { checksum($0, continuing: crc) }
    }

    public static func checksum(_ bytes: ArraySlice<UInt8>, continuing crc: UInt32 = 0) -> UInt32 {
        bytes.withUnsafeBytes { checksum($0, continuing: crc) }
    }

    /// The CRC of A followed by B, from `crc(A)`, `crc(B)` and B's length.
    public static func combine(_ a: UInt32, _ b: UInt32, lengthOfB: UInt64) -> UInt32 {
        ckpt_crc32c_combine(a, b, lengthOfB)
    }

    static let maskDelta: UInt32 = 0xa282_ead8

    public static func mask(_ crc: UInt32) -> UInt32 { ((crc >> 15) | (crc << 17)) &+ maskDelta }

    public static func unmask(_ masked: UInt32) -> UInt32 {
        let rot = masked &- maskDelta
        return (rot >> 17) | (rot << 15)
    }

    /// The table-driven computation alone (the fallback when the CPU has no CRC-32C instruction).
    static func tableChecksum(_ bytes: [UInt8], continuing crc: UInt32 = 0) -> UInt32 {
        bytes.withUnsafeBytes { b in b.baseAddress.map { ckpt_crc32c_table(crc, $0, b.count) } ?? crc }
    }

    /// Whether the CPU's CRC-32C instruction is used.
    public static var usesHardware: Bool { ckpt_crc32c_hardware() != 0 }
}
