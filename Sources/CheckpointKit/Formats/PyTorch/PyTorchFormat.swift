extension CheckpointFormat {
    /// PyTorch `torch.save` files (zip or legacy), or a Hugging Face sharded `.bin` set.
    public static let pytorch = CheckpointFormat(rawValue: "pytorch")
}

/// PyTorch: `.pt` / `.pth` / `.bin` written by `torch.save` (zip since torch 1.6, or the legacy
/// format), or a sharded set through its `pytorch_model.bin.index.json`. Read without running the
/// pickle (``PyTorchSource``); not written.
public struct PyTorchFormat: FileFormat {
    public init() {}
    public var id: CheckpointFormat { .pytorch }
    public var displayName: String { "PyTorch" }
    public var names: [String] { ["pytorch", "torch", "pt", "pth"] }
    /// `.bin` is not claimed by name (many things are `.bin`): such files are told by their bytes.
    public var suffixes: [String] { [".pt", ".pth", ".bin.index.json"] }
    /// Optimizer state and its configuration (`optimizer.state_dict()`), and other values.
    public var parts: FormatParts { [.optimizerState, .optimizerConfig, .metadata, .trainability] }
    public var canWrite: Bool { false }

    /// A legacy file's magic number, or a ZIP with `<folder>/data.pkl`.
    public func sniff(_ probe: FormatProbe) throws -> Bool {
        if PyTorchFile.isLegacy(probe.head) { return true }
        guard startsLikeZip(probe.head), let file = probe.file else { return false }
        return try ZipArchive(file: file).entries.contains { $0.name.hasSuffix("/data.pkl") }
    }

    public func open(_ path: String, options: OpenOptions) throws -> any TensorSource {
        try PyTorchSource(path: path, limits: options.limits, lenient: options.lenient)
    }
}
