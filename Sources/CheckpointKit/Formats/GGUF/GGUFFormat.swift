extension CheckpointFormat {
    /// GGUF (llama.cpp / ggml models), read only.
    public static let gguf = CheckpointFormat(rawValue: "gguf")
}

/// GGUF: a header of metadata and tensor infos, then aligned tensor data (``GGUFSource``).
/// Read only: ckpt converts GGUF files to other formats but does not write them.
public struct GGUFFormat: FileFormat {
    public init() {}
    public var id: CheckpointFormat { .gguf }
    public var displayName: String { "GGUF" }
    public var names: [String] { ["gguf"] }
    public var suffixes: [String] { [".gguf"] }
    /// Weights and metadata; block-quantized tensors are decoded to float32 when written elsewhere.
    public var parts: FormatParts { [.metadata] }
    public var canWrite: Bool { false }

    /// The magic `GGUF`.
    public func sniff(_ probe: FormatProbe) throws -> Bool { probe.starts(with: GGUFHeader.magic) }

    public func open(_ path: String, options: OpenOptions) throws -> any TensorSource {
        try GGUFSource(path: path, limits: options.limits)
    }
}
