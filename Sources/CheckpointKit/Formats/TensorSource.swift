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

    /// Where tensor `i` sits as a compressed `.ckpt` member that a `.ckpt` writer can copy as it
    /// is (no inflate, no deflate: what keeps `strip` at disk speed). nil when the tensor must be
    /// read and encoded.
    func storedMember(of i: Int) -> StoredMemberRef?

    /// One element's bytes when every element of tensor `i` is that value (fresh optimizer state),
    /// so a writer can encode it without reading it; nil otherwise.
    func uniformElement(of i: Int) -> [UInt8]?

    /// Things the reader could not do or had to guess (e.g. a `.weights.h5` named without an
    /// architecture), one sentence each, for `note:` lines.
    var notes: [String] { get }

    /// Every file this source reads (a sharded set's index and shards), so that no output ever
    /// replaces one of them.
    var inputFiles: [ReadableFile] { get }

    /// The checksum reading tensor `i` in full checks (default: none).
    func integrity(of i: Int) -> TensorIntegrity

    /// Checks the bytes of the entries listed in ``CheckpointIndex/unsupported`` against the
    /// checksums the format keeps for them (a `.npz` member's CRC-32), without interpreting them;
    /// returns how many were checked (default: none).
    func verifyUnsupported() throws -> Int

    /// Equal for two tensors that are the same data of the same file (tied weights: one PyTorch
    /// storage seen through one view), so a format that cannot share data writes it once; nil
    /// when the tensor shares nothing.
    func sharedDataKey(of i: Int) -> String?
}

/// A tensor's compressed member in a `.ckpt` archive.
public struct StoredMemberRef: Sendable {
    public let archive: CheckpointArchive
    public let tensor: Int
    public init(archive: CheckpointArchive, tensor: Int) {
        self.archive = archive
        self.tensor = tensor
    }
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
    public func storedMember(of i: Int) -> StoredMemberRef? { nil }
    public func uniformElement(of i: Int) -> [UInt8]? { nil }
    public func integrity(of i: Int) -> TensorIntegrity { .none }
    public func verifyUnsupported() throws -> Int { 0 }
    public func sharedDataKey(of i: Int) -> String? { nil }
    public var notes: [String] { [] }
    public var inputFiles: [ReadableFile] { (try? ReadableFile(path: path)).map { [$0] } ?? [] }
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

    /// The tensor named exactly `name` (bytes, not canonical equivalence: see ``ByteName``).
    public func tensorIndex(named name: String) -> Int? { index.tensors.firstIndex { $0.name.sameBytes(name) } }

    /// Splits `count` bytes into ranges of `size` (for formats with cheap random access).
    static func uniformPieces(count: Int, size: Int) -> [Range<Int>] {
        guard count > size else { return [0..<count] }
        return stride(from: 0, to: count, by: size).map { $0..<min($0 + size, count) }
    }
}
