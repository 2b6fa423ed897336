/// What reading a tensor in full proves about its bytes, beyond sizes and structure.
public enum TensorIntegrity: String, Sendable {
    /// The CRC-32 of the ZIP member holding it (a `.ckpt` or `.npz` member; a `.keras` file's
    /// `model.weights.h5`) was recomputed and matched.
    case memberCRC32 = "crc32"
    /// The TensorFlow bundle entry's masked CRC-32C was recomputed and matched.
    case crc32c
    /// The HDF5 dataset is written with the fletcher32 filter; libhdf5 checked it while reading.
    case fletcher32
    /// The format keeps no checksum for it: damaged values read as values.
    case none
}

/// What `inspect --verify` checked: every selected tensor read in full (structure and sizes
/// checked on the way), the checksums the format keeps, and each tensor's SHA-256.
public struct Verification: Sendable {
    public var tensors = 0
    public var bytes: UInt64 = 0
    /// Tensors whose bytes a stored checksum covered, by kind.
    public var crc32 = 0
    public var crc32c = 0
    public var fletcher32 = 0
    /// Whether a TensorFlow bundle was checked whole: every entry, those that are not tensors
    /// (the object graph) included.
    public var wholeBundle = false
    /// Tensors no checksum covers.
    public var unchecked = 0
    /// Entries that are not tensors (``CheckpointIndex/unsupported``) whose checksum was checked.
    public var unsupportedChecked = 0
    /// SHA-256 of each tensor's bytes (little-endian, C order), by tensor index.
    public var sha256: [Int: String] = [:]

    /// Reads tensors `selected` of `source` in full (in parallel), checking sizes and every
    /// checksum the format keeps, hashing each. `progress` gets the bytes read.
    /// A `.ckpt` archive also has each member's stored bytes checked against the manifest and,
    /// when every tensor is read, its iteration count against `optimizer.json`.
    public static func run(_ source: any TensorSource, tensors selected: [Int], progress: (@Sendable (Int) -> Void)? = nil) throws -> Verification {
        let index = source.index
        let archive = source as? CheckpointArchive
        let hashes = try ParallelWork.map(count: selected.count, weight: { index.tensors[selected[$0]].byteCount ?? 0 }) { k -> String in
            let i = selected[k]
            try archive?.checkStoredBytes(i)
            var sha = SHA256()
            try source.readTensorChecked(i) { chunk in
                sha.update(chunk)
                progress?(chunk.count)
            }
            return sha.finalizeHex()
        }
        if let archive, selected.count == index.tensors.count { try archive.checkIterationCount() }
        var v = Verification()
        if let tf = source as? TFCheckpointSource, selected.count == index.tensors.count {
            // Every entry of the bundle, including those that are not tensors (the object graph).
            try tf.verify()
            v.wholeBundle = true
        }
        if selected.count == index.tensors.count { v.unsupportedChecked = try source.verifyUnsupported() }
        for (k, i) in selected.enumerated() {
            v.tensors += 1
            v.bytes += UInt64(index.tensors[i].byteCount ?? 0)
            v.sha256[i] = hashes[k]
            switch source.integrity(of: i) {
            case .memberCRC32: v.crc32 += 1
            case .crc32c: v.crc32c += 1
            case .fletcher32: v.fletcher32 += 1
            case .none: v.unchecked += 1
            }
        }
        return v
    }

    /// One sentence: what was read, and what the checksums cover — never a checksum the file
    /// does not have.
    public var summary: String {
        let s = "every tensor read in full (\(tensors) tensor\(tensors == 1 ? "" : "s"), \(bytes) bytes; sizes and structure checked)"
        var parts: [String] = []
        if crc32 > 0 { parts.append(crc32 == tensors ? "the CRC-32 of the ZIP member holding each matched" : "the CRC-32 of the ZIP member matched for \(crc32)") }
        if crc32c > 0 {
            parts.append((crc32c == tensors ? "the CRC-32C of each bundle entry matched" : "the CRC-32C matched for \(crc32c)")
                         + (wholeBundle ? " (every entry of the bundle, the object graph included, and the index's block checksums)" : ""))
        }
        if fletcher32 > 0 { parts.append(fletcher32 == tensors ? "each dataset's fletcher32 checksum matched" : "fletcher32 matched for \(fletcher32)") }
        if unchecked > 0 {
            parts.append(unchecked == tensors
                ? "the format keeps no checksum of the data, so damaged values would read as values"
                : "\(unchecked) carry no checksum, so damaged values there would read as values")
        }
        if unsupportedChecked > 0 { parts.append("the CRC-32 of \(unsupportedChecked) unsupported member\(unsupportedChecked == 1 ? "" : "s") matched") }
        return s + (parts.isEmpty ? "" : "; " + parts.joined(separator: "; "))
    }

    var json: JSONValue {
        .object([("tensors", .number(tensors)), ("bytes", .number(bytes)), ("crc32", .number(crc32)), ("crc32c", .number(crc32c)), ("fletcher32", .number(fletcher32)),
                 ("unchecked", .number(unchecked)), ("unsupported_checked", .number(unsupportedChecked)), ("summary", .string(summary))])
    }
}
