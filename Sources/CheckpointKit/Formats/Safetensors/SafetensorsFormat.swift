extension CheckpointFormat {
    /// safetensors, single file or a sharded set through `model.safetensors.index.json`.
    public static let safetensors = CheckpointFormat(rawValue: "safetensors")
}

/// safetensors: one file, or a sharded set named by its `.safetensors.index.json`.
public struct SafetensorsFormat: FileFormat {
    public init() {}
    public var id: CheckpointFormat { .safetensors }
    public var displayName: String { "safetensors" }
    public var names: [String] { ["safetensors", "st"] }
    public var suffixes: [String] { [".safetensors", ".safetensors.index.json"] }
    /// Tensors and string metadata natively; the rest in the ckpt index kept in `__metadata__`
    /// (``IndexSidecar``).
    public var parts: FormatParts { .all }

    /// An 8-byte header length followed by the JSON header's brace.
    public func sniff(_ probe: FormatProbe) throws -> Bool { probe.head.count >= 9 && probe.head[8] == UInt8(ascii: "{") }

    public func open(_ path: String, options: OpenOptions) throws -> any TensorSource {
        try ArchitectureNaming.attach(options.architecture, to: SafetensorsSource.open(path: path, limits: options.limits))
    }

    /// `path` is the file, or (a name ending in `.index.json`) the index of a sharded set written
    /// next to it, shards of at most ``WriteOptions/maxShardSize``.
    public func write(_ source: any TensorSource, to path: String, options: WriteOptions) throws -> WriteResult {
        let paths = try SafetensorsWriter.write(source, to: path, options: options, maxShardSize: options.maxShardSize)
        return WriteResult(paths: paths, tensors: source.index.tensors.count)
    }
}
