/// Constants of the container format, each cited from `CheckpointKit.docc/ContainerFormat.md`.
public enum ContainerSpec {
    /// §3: `manifest.json` `format`.
    public static let formatName = "ckpt"
    /// §3, §6: the version this library writes; it reads any 1.x.
    public static let formatVersion = (major: 1, minor: 0)
    /// §3: member names of the metadata members.
    public static let manifestMember = "manifest.json"
    public static let architectureMember = "architecture.json"
    public static let optimizerMember = "optimizer.json"
    /// §2: tensor members end with this suffix.
    public static let tensorSuffix = ".npy"
    /// §2 rule 5: uncompressed bytes per independently deflated data chunk.
    public static let chunkSize = 1 << 20
    /// §1 rule 6: DOS time 00:00:00 and date 1980-01-01.
    public static let dosTime: UInt16 = 0x0000
    public static let dosDate: UInt16 = 0x0021
    /// §1 rule 6: version made by (Unix, spec 3.0) and external attributes (regular file, 0644).
    public static let versionMadeBy: UInt16 = 0x031E
    public static let externalAttributes: UInt32 = 0o100644 << 16
    /// §1 rule 4: sizes and offsets at or above this need ZIP64 fields.
    public static let zip64Threshold: UInt64 = 0xFFFF_FFFF
    /// §5: deflate cannot expand more than 1032:1; a member claiming more is lying.
    public static let maxDeflateRatio: UInt64 = 1032
    public static let deflateRatioSlack: UInt64 = 4096

    /// §2 rule 6/7: optimizer tensors live under this prefix.
    public static let optimizerPrefix = "optimizer/"
    public static let iterationTensor = "optimizer/iteration"
    public static let learningRateTensor = "optimizer/learning_rate"

    public static func memberName(forTensor name: String) -> String { name + tensorSuffix }
    public static func slotTensorName(slot: String, weight: String) -> String { optimizerPrefix + slot + "/" + weight }
}

/// Every bound ckpt applies, in one place (spec §5): readers check what a file declares against
/// these before allocating, and writers refuse, by name, what a reader would refuse (a name longer
/// than ``maxTensorNameBytes``, more tensors than ``maxMembers``…), so ckpt never writes a file it
/// cannot read back. The defaults suit real checkpoints up to terabytes; tests and fuzzers lower
/// them. ``HDF5Limits`` and ``PickleLimits`` below hold the bounds of the libhdf5 and pickle
/// readers. The peak-memory formula these bounds give is in `ContainerFormat.md` §5.
public struct Limits: Sendable {
    // ZIP archives (.ckpt, .npz, .keras).
    public var maxCentralDirectoryBytes: UInt64 = 256 << 20
    /// Largest TensorFlow checkpoint `.index` (a LevelDB table read whole into memory).
    public var maxIndexBytes: UInt64 = 256 << 20
    /// Members of one archive (a .ckpt: tensors plus its manifest, architecture and optimizer
    /// members); also the most tensors or keys any index may list.
    public var maxMembers: Int = 1_000_000
    public var maxMemberNameBytes: Int = 4096
    public var maxManifestBytes: UInt64 = 64 << 20

    // JSON (manifests, architectures, optimizer configs, metadata, indexes).
    public var maxJSONBytes: UInt64 = 64 << 20
    public var maxJSONDepth: Int = 128
    /// Values (objects, arrays, strings, numbers, literals) one JSON document may build in memory:
    /// a few bytes of text must not become gigabytes of tree.
    public var maxJSONNodes: Int = 1 << 20
    /// Bytes of every string one JSON document builds (keys, values, number texts), together.
    public var maxJSONStringBytes: Int = 32 << 20
    /// Bytes of one JSON string.
    public var maxJSONStringLength: Int = 16 << 20

    // Tensors.
    public var maxNPYHeaderBytes: Int = 65535
    public var maxRank: Int = 32
    /// Largest single tensor a reader will materialise in memory at once (streaming is unbounded).
    public var maxInMemoryTensorBytes: Int = 8 << 30
    /// Largest tensor a reader accepts at all.
    public var maxTensorBytes: UInt64 = 1 << 46
    /// Largest binary header a reader parses into memory: a GGUF file's metadata and tensor infos.
    public var maxHeaderBytes: UInt64 = 256 << 20
    /// The longest tensor name, in bytes: a `.ckpt` or `.npz` member is the name plus `.npy`.
    public var maxTensorNameBytes: Int { maxMemberNameBytes - ContainerSpec.tensorSuffix.utf8.count }
    /// The largest `chunk_size` a `.ckpt` manifest may declare: what ckpt writes
    /// (``ContainerSpec/chunkSize``), since every core inflates one chunk into a buffer that size.
    public var maxChunkSize: Int = ContainerSpec.chunkSize

    /// The bounds of HDF5 files (`.keras`, `.weights.h5`, `.h5`).
    public var hdf5 = HDF5Limits()

    // Work done for people, not files.
    /// Values `inspect --values N` prints at most.
    public var maxPrintedValues: Int = 1 << 20
    /// Edit-distance cells a "did you mean" suggestion may compute (names × lengths).
    public var maxSuggestionWork: Int = 20_000_000

    public init() {}

    public static let `default` = Limits()

    var jsonOptions: JSONParser.Options {
        var o = JSONParser.Options()
        o.maxDepth = maxJSONDepth
        o.maxNodes = maxJSONNodes
        o.maxTotalStringBytes = maxJSONStringBytes
        o.maxStringBytes = maxJSONStringLength
        return o
    }
}

/// Bounds applied to what an HDF5 file declares, checked before anything is allocated.
public struct HDF5Limits: Sendable, Hashable {
    /// Largest tensor (shape × item size) a dataset may declare.
    public var maxTensorBytes: Int = 64 << 30
    /// Largest attribute value (all elements; variable-length strings counted after reading).
    public var maxAttributeBytes: Int = 256 << 20
    /// Most links one group may hold.
    public var maxLinksPerGroup: Int = 1 << 20
    /// Most attributes one object may hold.
    public var maxAttributesPerObject: Int = 1 << 16
    /// Most nodes ``HDF5File/walk()`` visits.
    public var maxNodes: Int = 1 << 22
    /// Deepest group nesting ``HDF5File/walk()`` follows.
    public var maxDepth: Int = 256
    /// Largest chunk (uncompressed bytes) of a chunked dataset: libhdf5 inflates a whole chunk to
    /// read any byte of it. (h5py's automatic chunks are at most 1 MiB.)
    public var maxChunkBytes: Int = 16 << 20
    /// The chunk cache of one dataset being read: the chunks one piece of C-order data crosses.
    public var maxChunkCacheBytes: Int = 64 << 20
    /// Datasets whose declared data the file does not store (never-written chunks, unallocated
    /// storage: libhdf5 makes them up from the fill value) are refused unless this is set.
    public var allowSparse = false

    public init() {}
}

/// Bounds on one pickle. The defaults fit the largest real checkpoints (a data.pkl of a 400B
/// model is a few MB); fuzzers and tests lower them.
public struct PickleLimits: Sendable {
    /// Largest pickle read (data.pkl, or each pickle of a legacy file).
    public var maxPickleBytes: Int = 512 << 20
    public var maxOpcodes: Int = 200_000_000
    /// Items on the stack, all MARK levels together.
    public var maxStack: Int = 1 << 22
    public var maxMarks: Int = 1 << 16
    public var maxMemo: Int = 1 << 24
    /// Bytes held by strings, bytes, big integers and container slots, all together.
    public var maxAllocatedBytes: Int = 2 << 30
    public var maxStringBytes: Int = 256 << 20
    /// Bytes of one LONG1 / LONG4 integer.
    public var maxIntegerBytes: Int = 1024
    /// How deep containers may nest when the result is walked.
    public var maxDepth: Int = 200
    /// Containers and leaves visited when the result is walked (a pickle is a graph: shared
    /// sub-objects could make a tree exponentially larger than the file).
    public var maxVisits: Int = 1 << 20

    public init() {}
    public static let `default` = PickleLimits()
}
