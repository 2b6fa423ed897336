import CheckpointSystem
import CRuntimeLibs
import Synchronization


// Reading Keras files as checkpoints: Keras 3 `.keras` (a ZIP of `metadata.json`, `config.json`
// and `model.weights.h5`), Keras 3 `.weights.h5` (`model.save_weights`), and Keras 2 / tf.keras
// HDF5 (`model.save("x.h5")`, `model.save_weights("x.h5")`).
//
// Mapping rules (what a tensor is called and what it is), in order of preference:
//
// 1. With an architecture (the `.keras` file's `config.json`, a legacy file's `model_config`, or
//    `--architecture`, which wins), every variable Keras would create is looked up where Keras's
//    saver puts it (`layers/<snake_case class>[_N]/vars/<i>`, `layers/lstm/cell/vars/<i>`; Keras 2:
//    `model_weights/<layer>/<weight name>`, matched by name, else by position within the layer)
//    and named by its Keras 3 path (`dense/kernel`, `lstm/lstm_cell/kernel`), in `model.weights`
//    order, with Keras's trainable flags and the file's dtype. A missing dataset, a shape that
//    differs, or a dataset the architecture does not account for is a `.weightsMismatch` error
//    naming the HDF5 path and the variable (Keras refuses such files too). Layers whose class is
//    not modelled (custom layers) keep the datasets the file has for them, named
//    `<layer>/<attribute path>/vars/<i>`, placed where their layer is, marked trainable unless the
//    optimizer state shows which are not (Keras saves trainable variables first). An architecture
//    inside the file that cannot be interpreted at all falls back to rule 2 with a note; a given
//    `--architecture` that cannot be interpreted is an error.
// 2. Without an architecture (a bare `.weights.h5`), tensors are named after the HDF5 layout:
//    `<top-level layer name>/<path below the layer's group>/<i>`, e.g. `dense/vars/0`,
//    `lstm/cell/vars/1`, using each top-level vars group's `name` attribute, all marked trainable;
//    a Keras 2 file's weights keep their weight names (`dense/kernel:0` → `dense/kernel`).
//    ``KerasFileSource/notes`` says so and suggests `--architecture`.
// 3. Optimizer state (`optimizer/vars/<i>`; Keras 2 `optimizer_weights`) is named as
//    ``KerasOptimizerConfig/stateVariables(trainableTensors:backend:)`` names it
//    (`optimizer/iteration`, `optimizer/learning_rate`, `optimizer/momentum/dense/kernel`) when the
//    optimizer class is known (from `compile_config` / `training_config`, else guessed from the
//    `name` attribute Keras writes on `optimizer/vars`, trying the options that change the layout)
//    and the file's variables have exactly the shapes that class builds for the model's trainable
//    weights. A mixed-precision LossScaleOptimizer's four own scalars come first, as
//    `optimizer/loss_scale/{iteration,learning_rate,step_counter,dynamic_scale}`. Keras 2 slots
//    (`Adam/m/dense/kernel:0`, older `Adam/dense/kernel/m:0`, Keras 3's legacy writer
//    `adam/dense_kernel_momentum`) are matched to their Keras 3 slots; the learning rate variable
//    Keras 2 does not save is made from the config. Otherwise the variables keep their layout
//    names (`optimizer/vars/<i>`, Keras 2 `optimizer/legacy/<name>`) and a note says why. The step
//    count always comes from the file.

/// Reading and writing Keras files.
public enum KerasFiles {
    /// ZIP members of a `.keras` file.
    public static let weightsMember = "model.weights.h5"
    public static let configMember = "config.json"
    public static let metadataMember = "metadata.json"
    /// The Keras version written to `metadata.json` when the checkpoint does not record a Keras 3 one.
    public static let writtenKerasVersion = "3.15.1"

    /// A deflated `model.weights.h5` member is inflated into memory up to this size, else into a
    /// temporary file (Keras itself always stores it uncompressed).
    static let maxInMemoryMember: UInt64 = 1 << 30
    /// A deflated member larger than this that expands more than ``bombRatio`` times is refused as
    /// a zip bomb (Keras refuses the same, with the same numbers).
    static let bombFloor: UInt64 = 256 << 20
    static let bombRatio: UInt64 = 100

    /// Opens a Keras file. The layout decides the reader, whatever the extension says: a ZIP is a
    /// `.keras`; an HDF5 file whose root has `layer_names` or a `model_weights` group is Keras 2;
    /// any other HDF5 file is read with the Keras 3 layout.
    public static func open(path: String, format: CheckpointFormat, options: Checkpoints.OpenOptions) throws -> KerasFileSource {
        let file = try ReadableFile(path: path)
        let head = try file.read(at: 0, count: Int(min(file.size, 8)), what: "file signature")
        let isZip = head.count >= 4 && (head[0..<4].elementsEqual([0x50, 0x4B, 0x03, 0x04]) || head[0..<4].elementsEqual([0x50, 0x4B, 0x05, 0x06]))
        if isZip || (format == .keras && !head.starts(with: [0x89, 0x48, 0x44, 0x46])) {
            return try openArchive(file, options: options)
        }
        if let index = indexNaming(shard: path) {
            throw CheckpointError(.unsupported, "the file is one shard of the Keras sharded set \(index); alone it holds only part of the model and its optimizer",
                                  file: path, hint: "open the index: ckpt inspect \(index)")
        }
        let h5 = try HDF5File.open(path: path, limits: hdf5Limits(options.limits))
        return try KerasFileSource(file: h5, path: path, archive: nil, options: options)
    }

    static func hdf5Limits(_ limits: Limits) -> HDF5Limits {
        var l = limits.hdf5
        l.maxTensorBytes = Int(clamping: min(limits.maxTensorBytes, UInt64(l.maxTensorBytes)))
        return l
    }

    /// What a `.keras` archive contributes besides its HDF5 member.
    struct ArchiveParts {
        var config: [UInt8]
        var metadata: JSONValue
        var check: StoredMemberCheck?
        var keepAlive: (any AnyObject & Sendable)?
    }

    private static func openArchive(_ file: ReadableFile, options: Checkpoints.OpenOptions) throws -> KerasFileSource {
        let path = file.path
        let zip = try ZipArchive(file: file, limits: options.limits)
        guard let weights = zip.entry(named: weightsMember) else {
            if zip.entry(named: "model.weights.npz") != nil {
                throw CheckpointError(.unsupported, "the .keras file stores its weights as model.weights.npz (weights_format=\"npz\"), which is not supported",
                                      file: path, hint: "save it with model.save(path) (the default h5 weights format)")
            }
            if zip.entry(named: ContainerSpec.manifestMember) != nil {
                throw CheckpointError(.notRecognized, "the file is a .ckpt container, not a .keras file", file: path, hint: "open it as ckpt (--from ckpt)")
            }
            throw CheckpointError(.notRecognized, "the ZIP archive has no \(weightsMember) member, so it is not a Keras 3 .keras file", file: path)
        }
        guard let configEntry = zip.entry(named: configMember) else {
            throw CheckpointError(.missingPart, "the .keras file has no \(configMember) member (the model's architecture)", file: path)
        }
        let config = try zip.readMember(configEntry, maxBytes: options.limits.maxJSONBytes)
        var metadata = JSONValue.object([])
        if let m = zip.entry(named: metadataMember) {
            let bytes = try zip.readMember(m, maxBytes: options.limits.maxJSONBytes)
            do {
                metadata = try JSONParser.parse(bytes, options: options.limits.jsonOptions)
            } catch let e as CheckpointError {
                throw e.located(file: path, member: metadataMember)
            }
            guard metadata.objectValue != nil else {
                throw CheckpointError(.invalidJSON, "\(metadataMember) should hold a JSON object, found \(metadata.typeDescription)", file: path, member: metadataMember)
            }
        }
        let limits = hdf5Limits(options.limits)
        let h5: HDF5File
        var parts = ArchiveParts(config: config, metadata: metadata, check: nil, keepAlive: nil)
        switch weights.method {
        case 0:
            // Stored (what Keras writes): map the file and hand libhdf5 the member's bytes in place.
            let start = try zip.dataOffset(of: weights)
            guard weights.uncompressedSize > 0 else {
                throw CheckpointError(.invalidHDF5, "the \(weightsMember) member is empty", file: path, member: weightsMember, offset: start)
            }
            let mapping = try MappedFile(file)
            let region = try mapping.bytes(at: start, count: weights.compressedSize, what: "\(weightsMember) member", member: weightsMember)
            guard let base = region.baseAddress else {
                throw CheckpointError(.invalidHDF5, "the \(weightsMember) member is empty", file: path, member: weightsMember, offset: start)
            }
            h5 = try HDF5File.openImage(pointer: base, count: region.count, fileName: path, member: weightsMember, limits: limits)
            parts.keepAlive = mapping
            parts.check = StoredMemberCheck(mapping: mapping, offset: start, entry: weights, file: path)
        default:
            let usize = weights.uncompressedSize
            if usize > bombFloor && usize / max(weights.compressedSize, 1) > bombRatio {
                throw CheckpointError(.limitExceeded,
                                      "the \(weightsMember) member would inflate from \(weights.compressedSize) to \(usize) bytes (more than \(bombRatio) times); refused as a zip bomb",
                                      file: path, member: weightsMember, offset: weights.localHeaderOffset)
            }
            guard usize > 0 else {
                throw CheckpointError(.invalidHDF5, "the \(weightsMember) member is empty", file: path, member: weightsMember, offset: weights.localHeaderOffset)
            }
            if usize <= maxInMemoryMember {
                let buffer = try InflatedMember(zip: zip, entry: weights)
                h5 = try HDF5File.openImage(pointer: buffer.base, count: buffer.count, fileName: path, member: weightsMember, limits: limits)
                parts.keepAlive = buffer
            } else {
                h5 = try inflateToTemporaryFile(zip: zip, entry: weights, limits: limits)
            }
        }
        // libhdf5 reads the stored member through the mapping: if the file shrank meanwhile, it read
        // zeros, and whatever it made of them (or the error it gave) is void.
        do {
            let source = try KerasFileSource(file: h5, path: path, archive: parts, options: options)
            try parts.check?.mapping.checkIntact(member: weightsMember)
            return source
        } catch {
            try parts.check?.mapping.checkIntact(member: weightsMember)
            throw error
        }
    }

    /// Inflates a large deflated member into a temporary file and opens it; the file is unlinked
    /// once libhdf5 has it open (it keeps its descriptor), so nothing is left on disk.
    static func inflateToTemporaryFile(zip: ZipArchive, entry: ZipEntry, limits: HDF5Limits) throws -> HDF5File {
        let dir = SystemProcess.temporaryDirectory
        let temp = try ScratchFile(directory: dir, displayName: zip.path, forLibHDF5: true)
        defer { temp.remove() }
        let stream = try MemberStream(archive: zip, entry: entry)
        var buffer = [UInt8](repeating: 0, count: 4 << 20)
        while true {
            let n = try buffer.withUnsafeMutableBytes { try stream.read(into: $0) }
            if n == 0 { break }
            try buffer.withUnsafeBytes { try temp.append(UnsafeRawBufferPointer(rebasing: $0[0..<n])) }
        }
        try stream.finish()
        return try HDF5File.open(path: temp.path, displayName: zip.path + " (member \(weightsMember))", limits: limits)
    }
}

/// A deflated member inflated into memory that libhdf5 reads as an image.
final class InflatedMember: @unchecked Sendable {
    // @unchecked Sendable: written once in init, read-only after.
    let base: UnsafeMutableRawPointer
    let count: Int

    init(zip: ZipArchive, entry: ZipEntry) throws {
        count = Int(entry.uncompressedSize)
        base = UnsafeMutableRawPointer.allocate(byteCount: count, alignment: 16)
        do {
            let stream = try MemberStream(archive: zip, entry: entry)
            var filled = 0
            while filled < count {
                let n = try stream.read(into: UnsafeMutableRawBufferPointer(start: base + filled, count: count - filled))
                if n == 0 { break }
                filled += n
            }
            try stream.finish()
        } catch {
            base.deallocate()
            throw error
        }
    }

    deinit { base.deallocate() }
}

/// The CRC-32 of a stored `model.weights.h5` member, checked once, the first time tensor data is
/// read (listing a `.keras` file reads only metadata and does not pay for it).
final class StoredMemberCheck: Sendable {
    let mapping: MappedFile
    let offset: UInt64
    let entry: ZipEntry
    let file: String
    private let outcome = Mutex<CheckpointError??>(nil)

    init(mapping: MappedFile, offset: UInt64, entry: ZipEntry, file: String) {
        self.mapping = mapping
        self.offset = offset
        self.entry = entry
        self.file = file
    }

    func verify() throws {
        let failure: CheckpointError? = outcome.withLock { state in
            if let done = state { return done }
            var result: CheckpointError? = nil
            do {
                let region = try mapping.bytes(at: offset, count: entry.compressedSize, what: "member", member: entry.name)
                var crc: UInt32 = 0
                var at = 0
                while at < region.count {
                    let n = min(region.count - at, 8 << 20)
                    crc = crc32(UnsafeRawBufferPointer(rebasing: region[at..<(at + n)]), continuing: crc)
                    mapping.release(offset + UInt64(at)..<offset + UInt64(at + n))
                    at += n
                }
                try mapping.checkIntact(member: entry.name)
                if crc != entry.crc32 {
                    result = CheckpointError(.checksumMismatch,
                                             "CRC-32 mismatch: the ZIP directory says \(hex32(entry.crc32)), the data gives \(hex32(crc)) (the member's bytes are damaged)",
                                             file: file, member: entry.name, offset: offset)
                }
            } catch let e as CheckpointError {
                result = e
            } catch {
                result = CheckpointError(.io, "\(error)", file: file, member: entry.name)
            }
            state = .some(result)
            return result
        }
        if let failure { throw failure }
    }
}

/// A Keras file opened for reading (see ``KerasFiles``).
public final class KerasFileSource: TensorSource {
    public let path: String
    /// What the file turned out to be: `.keras`, `.kerasWeightsH5` (Keras 3 HDF5 layout) or
    /// `.kerasLegacyH5` (Keras 2 layout).
    public let format: CheckpointFormat
    public let index: CheckpointIndex
    /// The HDF5 dataset each tensor was read from (`layers/dense/vars/0`); nil for a tensor made
    /// from the file's configuration (a Keras 2 file's learning rate, which it does not store).
    public let datasetPaths: [String?]
    /// How names were decided where the file alone could not say (no architecture, an optimizer
    /// whose layout could not be matched...), one sentence each. Empty when every tensor was mapped.
    public let notes: [String]

    enum Storage: Sendable {
        /// A dataset, and for a contiguous unfiltered one its data's address in the HDF5 file.
        case dataset(HDF5Dataset, DType, address: UInt64?)
        case bytes([UInt8])
    }

    private let storage: [Storage]
    private let h5: HDF5File
    private let shards: [HDF5File]
    private let setPaths: [String]

    /// Every file read: a sharded set's index and shards, else the file.
    public var inputFiles: [ReadableFile] {
        (setPaths.isEmpty ? [path] : setPaths).compactMap { try? ReadableFile(path: $0) }
    }
    private let check: StoredMemberCheck?
    private let keepAlive: (any AnyObject & Sendable)?
    /// Whether the HDF5 file is a `.keras` archive's member (whose ZIP CRC-32 is checked).
    private let isArchive: Bool

    convenience init(file: HDF5File, path: String, archive: KerasFiles.ArchiveParts?, options: Checkpoints.OpenOptions) throws {
        try self.init(tree: KerasH5Tree(file: file), path: path, archive: archive, options: options, setPaths: [])
    }

    /// `setPaths`: every file of a sharded set (index first); empty for a single file.
    init(tree: KerasH5Tree, path: String, archive: KerasFiles.ArchiveParts? = nil, options: Checkpoints.OpenOptions,
         setPaths: [String]) throws {
        self.path = path
        self.h5 = tree.file
        self.shards = tree.files
        self.setPaths = setPaths
        self.check = archive?.check
        self.keepAlive = archive?.keepAlive
        self.isArchive = archive != nil
        let result: KerasReadResult
        if archive == nil, setPaths.isEmpty, try tree.isLegacyLayout() {
            result = try KerasLegacyReader(tree: tree, explicitArchitecture: options.architecture).read()
            format = .kerasLegacyH5
        } else {
            var reader = Keras3Reader(tree: tree)
            if let archive {
                reader.architecture = (archive.config, explicit: false, label: KerasFiles.configMember)
            } else if let a = options.architecture {
                reader.architecture = (a, explicit: true, label: "--architecture")
            }
            result = try reader.read()
            format = archive != nil ? .keras : setPaths.isEmpty ? .kerasWeightsH5 : .kerasShardedWeights
        }
        var metadata = result.metadata
        var producer = result.producer
        if let archive {
            metadata = archive.metadata
            if let v = archive.metadata["keras_version"]?.stringValue { producer = "keras " + v }
        }
        index = CheckpointIndex(tensors: result.tensors.map(\.info), architecture: archive?.config ?? result.architecture,
                                optimizer: result.optimizer, metadata: metadata, producer: producer)
        datasetPaths = result.tensors.map(\.datasetPath)
        storage = result.tensors.map(\.storage)
        notes = result.notes
        var seen = Set<ByteName>()
        for t in index.tensors where !seen.insert(ByteName(t.name)).inserted {
            throw CheckpointError(.duplicateName, "two tensors would be named \"\(escapeForDisplay(t.name))\"", file: path)
        }
    }

    /// A dataset written with fletcher32 is checked by libhdf5; otherwise a `.keras` file's
    /// `model.weights.h5` member has a CRC-32 (checked once, on the first read); a bare HDF5 file
    /// has nothing.
    public func integrity(of i: Int) -> TensorIntegrity {
        if case .dataset(let d, _, _) = storage[i], let info = try? d.info(), info.filters.contains(where: { $0.id == 3 }) { return .fletcher32 }
        return isArchive ? .memberCRC32 : .none
    }

    public func pieces(of i: Int) -> [Range<Int>] {
        let n = index.tensors[i].byteCount ?? 0
        switch storage[i] {
        case .dataset: return Self.uniformPieces(count: n, size: ContainerSpec.chunkSize)
        case .bytes: return [0..<n]
        }
    }

    @discardableResult
    public func readPiece(_ i: Int, _ p: Int, _ body: (UnsafeRawBufferPointer) throws -> Void) throws -> UInt32 {
        try check?.verify()
        switch storage[i] {
        case .bytes(let bytes):
            try bytes.withUnsafeBytes(body)
        case .dataset(let dataset, let dtype, let address):
            let ps = pieces(of: i)
            guard ps.indices.contains(p) else {
                throw CheckpointError(.invalidArgument, "piece \(p) of a tensor with \(ps.count) pieces", file: path, member: index.tensors[i].name)
            }
            let range = ps[p]
            let item = dtype.itemSize
            let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: max(range.count, 1), alignment: 16)
            defer { buffer.deallocate() }
            let part = UnsafeMutableRawBufferPointer(rebasing: buffer[0..<range.count])
            try dataset.read(elements: (range.lowerBound / item)..<(range.upperBound / item), into: part)
            if p == ps.count - 1, ps.count > 1, address == nil { dataset.releaseChunkCache() }
            try check?.mapping.checkIntact(member: KerasFiles.weightsMember)
            if let check, let address {
                // Stream through a mapped .keras without keeping what was read resident.
                let start = check.offset + address + UInt64(range.lowerBound)
                check.mapping.release(start..<start + UInt64(range.count))
            }
            try body(UnsafeRawBufferPointer(part))
        }
        return 0
    }
}

/// A scratch file (``TemporaryFiles``' naming scheme, so the stale-file sweep knows it), removed
/// on ``remove()``, on release, or if the process is interrupted.
final class ScratchFile {
    private let temp: TemporaryFile
    private var offset: UInt64 = 0
    var path: String { temp.path }
    var displayName: String { temp.displayName }

    /// A scratch file in `directory`. `forLibHDF5`: libhdf5 will open the path itself and take its
    /// own lock, so this object holds none.
    init(directory: String, displayName: String, forLibHDF5: Bool = false) throws {
        temp = try TemporaryFile(directory: directory, displayName: displayName)
        if forLibHDF5 { temp.releaseLock() }
    }

    func append(_ bytes: UnsafeRawBufferPointer) throws {
        guard let fd = temp.fd else { throw CheckpointError(.io, "the temporary file was already removed", file: displayName) }
        do { try fd.writeAll(bytes, at: offset) } catch {
            throw CheckpointError.io("cannot write a temporary file", file: displayName, errno: error.rawValue)
        }
        offset += UInt64(bytes.count)
    }

    func remove() { temp.remove() }
}
