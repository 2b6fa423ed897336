/// File formats the toolkit reads and writes.
public enum CheckpointFormat: String, Sendable, CaseIterable {
    /// Our container (spec: ContainerFormat.md).
    case ckpt
    /// NumPy `.npz` (`np.savez` / `np.savez_compressed`).
    case npz
    /// safetensors, single file or a sharded set through `model.safetensors.index.json`.
    case safetensors
    /// Keras 3 `.keras` (ZIP of config.json, metadata.json, model.weights.h5).
    case keras
    /// Keras 3 `.weights.h5` (`model.save_weights`).
    case kerasWeightsH5 = "weights.h5"
    /// Keras 2 / tf.keras HDF5 (`model.save("x.h5")` or `save_weights("x.h5")`).
    case kerasLegacyH5 = "h5"

    /// A human name for messages.
    public var displayName: String {
        switch self {
        case .ckpt: return "ckpt container"
        case .npz: return "NumPy .npz"
        case .safetensors: return "safetensors"
        case .keras: return "Keras 3 .keras"
        case .kerasWeightsH5: return "Keras 3 .weights.h5"
        case .kerasLegacyH5: return "Keras 2 HDF5 .h5"
        }
    }

    /// The format a path's name says (`x.weights.h5` before `x.h5`); nil if the extension is unknown.
    public static func fromExtension(_ path: String) -> CheckpointFormat? {
        let lower = path.lowercased()
        if lower.hasSuffix(".ckpt") { return .ckpt }
        if lower.hasSuffix(".npz") { return .npz }
        if lower.hasSuffix(".safetensors") || lower.hasSuffix(".safetensors.index.json") { return .safetensors }
        if lower.hasSuffix(".keras") { return .keras }
        if lower.hasSuffix(".weights.h5") { return .kerasWeightsH5 }
        if lower.hasSuffix(".h5") || lower.hasSuffix(".hdf5") { return .kerasLegacyH5 }
        return nil
    }

    /// Parses `--from`/`--to` values: `ckpt`, `npz`, `safetensors`, `keras`, `weights.h5`, `h5`.
    public init?(name: String) {
        switch name.lowercased() {
        case "ckpt": self = .ckpt
        case "npz", "numpy": self = .npz
        case "safetensors", "st": self = .safetensors
        case "keras": self = .keras
        case "weights.h5", "weights-h5", "keras-weights": self = .kerasWeightsH5
        case "h5", "hdf5", "keras2", "legacy-h5": self = .kerasLegacyH5
        default: return nil
        }
    }
}

/// A checkpoint opened for reading, in any format: its index, and its tensors' data on demand.
///
/// Tensor data is little-endian, C order, without any header. Each tensor is split into one or
/// more *pieces* that can be read independently (and so in parallel); a reader that cannot seek
/// inside a tensor cheaply offers one piece. Reading never holds more than one piece's worth of
/// buffers per call.
public protocol TensorSource: AnyObject, Sendable {
    var path: String { get }
    var format: CheckpointFormat { get }
    var index: CheckpointIndex { get }

    /// Byte ranges of the data of tensor `i`'s pieces, in order, covering it exactly.
    func pieces(of i: Int) -> [Range<Int>]

    /// Streams the bytes of piece `p` of tensor `i` through `body` (called one or more times, in
    /// order). Returns the CRC-32 of the piece's bytes when the format keeps checksums (else 0).
    /// A single-piece tensor is checked in full here (CRC, sizes); multi-piece tensors are checked
    /// by ``verifyPieces(of:crcs:)``.
    @discardableResult
    func readPiece(_ i: Int, _ p: Int, _ body: (UnsafeRawBufferPointer) throws -> Void) throws -> UInt32

    /// Checks a tensor read piece by piece against the file's checksum, given every piece's CRC.
    func verifyPieces(of i: Int, crcs: [UInt32]) throws

    /// A value equal for two tensors only if their bytes are provably equal without reading them
    /// (for `.ckpt`: dtype, shape, CRC-32 and stored sizes of the member). nil when unknown.
    func fingerprint(of i: Int) -> TensorFingerprint?
}

/// Identity of a tensor's stored bytes, from an index alone.
public struct TensorFingerprint: Sendable, Hashable {
    public var dtype: DType
    public var shape: [Int]
    public var crc32: UInt32
    public var size: UInt64
}

extension TensorSource {
    public func fingerprint(of i: Int) -> TensorFingerprint? { nil }
    public func verifyPieces(of i: Int, crcs: [UInt32]) throws {}

    /// Streams the whole tensor in order, checking it.
    public func readTensor(_ i: Int, _ body: (UnsafeRawBufferPointer) throws -> Void) throws {
        let ps = pieces(of: i)
        var crcs: [UInt32] = []
        crcs.reserveCapacity(ps.count)
        for p in ps.indices { crcs.append(try readPiece(i, p, body)) }
        if ps.count > 1 { try verifyPieces(of: i, crcs: crcs) }
    }

    /// Streams the whole tensor like ``readTensor(_:_:)``, checking that it holds exactly the
    /// bytes its dtype and shape need: a chunk past that size is refused before `body` sees it.
    public func readTensorChecked(_ i: Int, _ body: (UnsafeRawBufferPointer) throws -> Void) throws {
        let info = index.tensors[i]
        let need = UInt64(info.byteCount ?? 0)
        var got: UInt64 = 0
        try readTensor(i) { chunk in
            got += UInt64(chunk.count)
            guard got <= need else {
                throw CheckpointError(.corrupt, "tensor \"\(escapeForDisplay(info.name))\" has more data than its shape holds", file: path, member: info.name)
            }
            try body(chunk)
        }
        guard got == need else {
            throw CheckpointError(.corrupt, "tensor \"\(escapeForDisplay(info.name))\" has \(got) bytes of data where its shape needs \(need)", file: path, member: info.name)
        }
    }

    /// The whole tensor in memory (refused above `limits.maxInMemoryTensorBytes`).
    public func readTensorBytes(_ i: Int, limits: Limits = .default) throws -> [UInt8] {
        let info = index.tensors[i]
        guard let n = info.byteCount, n <= limits.maxInMemoryTensorBytes else {
            throw CheckpointError(.limitExceeded, "the tensor is \(info.byteCount.map(String.init) ?? "too many") bytes, more than the in-memory limit \(limits.maxInMemoryTensorBytes)",
                                  file: path, member: info.name)
        }
        var out: [UInt8] = []
        out.reserveCapacity(n)
        try readTensor(i) { out.append(contentsOf: $0) }
        guard out.count == n else {
            throw CheckpointError(.corrupt, "the tensor gave \(out.count) bytes where its shape needs \(n)", file: path, member: info.name)
        }
        return out
    }

    public func tensorIndex(named name: String) -> Int? { index.tensors.firstIndex { $0.name == name } }

    /// Splits `count` bytes into ranges of `size` (for formats with cheap random access).
    static func uniformPieces(count: Int, size: Int) -> [Range<Int>] {
        guard count > size else { return [0..<count] }
        return stride(from: 0, to: count, by: size).map { $0..<min($0 + size, count) }
    }
}
