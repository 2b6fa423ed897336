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

/// Bounds a reader checks before allocating (spec §5). The defaults suit real checkpoints up to
/// terabytes; tests and fuzzers lower them.
public struct Limits: Sendable {
    public var maxCentralDirectoryBytes: UInt64 = 256 << 20
    /// Largest TensorFlow checkpoint `.index` (a LevelDB table read whole into memory).
    public var maxIndexBytes: UInt64 = 256 << 20
    public var maxMembers: Int = 1_000_000
    public var maxMemberNameBytes: Int = 4096
    public var maxManifestBytes: UInt64 = 64 << 20
    public var maxJSONBytes: UInt64 = 64 << 20
    public var maxJSONDepth: Int = 128
    public var maxNPYHeaderBytes: Int = 65535
    public var maxRank: Int = 32
    /// Largest single tensor a reader will materialise in memory at once (streaming is unbounded).
    public var maxInMemoryTensorBytes: Int = 8 << 30
    /// Largest tensor a reader accepts at all.
    public var maxTensorBytes: UInt64 = 1 << 46
    /// Largest binary header a reader parses into memory: a GGUF file's metadata and tensor infos.
    public var maxHeaderBytes: UInt64 = 256 << 20

    public init() {}

    public static let `default` = Limits()

    var jsonOptions: JSONParser.Options {
        var o = JSONParser.Options()
        o.maxDepth = maxJSONDepth
        return o
    }
}
