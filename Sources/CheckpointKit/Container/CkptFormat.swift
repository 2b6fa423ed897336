extension CheckpointFormat {
    /// Our container (spec: ContainerFormat.md).
    public static let ckpt = CheckpointFormat(rawValue: "ckpt")
}

/// The `.ckpt` container: a ZIP of `.npy` members and a manifest.
public struct CkptFormat: FileFormat {
    public init() {}
    public var id: CheckpointFormat { .ckpt }
    public var displayName: String { "ckpt container" }
    public var names: [String] { ["ckpt"] }
    public var suffixes: [String] { [".ckpt"] }
    public var parts: FormatParts { .all }

    public func sniff(_ probe: FormatProbe) throws -> Bool {
        guard startsLikeZip(probe.head), let file = probe.file else { return false }
        return try ZipArchive(file: file).entry(named: ContainerSpec.manifestMember) != nil
    }

    public func open(_ path: String, options: OpenOptions) throws -> any TensorSource {
        try CheckpointArchive(path: path, limits: options.limits)
    }

    public func write(_ source: any TensorSource, to path: String, options: WriteOptions) throws -> WriteResult {
        try CheckpointWriter.write(source, to: path, options: options)
        return WriteResult(paths: [path], tensors: source.index.tensors.count)
    }
}
