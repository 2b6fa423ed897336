import CheckpointSystem

extension CheckpointFormat {
    /// A TensorFlow checkpoint (tensor bundle): `prefix.index` + `prefix.data-NNNNN-of-MMMMM`.
    public static let tfCheckpoint = CheckpointFormat(rawValue: "tf-checkpoint")
    /// A TensorFlow SavedModel folder (its `variables/` bundle, `keras_metadata.pb`, `saved_model.pb`).
    public static let savedModel = CheckpointFormat(rawValue: "saved-model")
}

/// TensorFlow checkpoints, named by prefix, `.index`, a `.data-*` shard, a folder with a
/// `checkpoint` state file, or that state file (``TFCheckpointPaths``).
public struct TFCheckpointFormat: FileFormat {
    public init() {}
    public var id: CheckpointFormat { .tfCheckpoint }
    public var displayName: String { "TensorFlow checkpoint" }
    public var names: [String] { ["tf-checkpoint", "tf", "tensorflow", "tf-ckpt"] }
    public var suffixes: [String] { [".index"] }
    /// Weights and optimizer variables (recognised through the object graph); the optimizer's class
    /// is told from its variables' names, its configuration is not stored.
    public var parts: FormatParts { [.optimizerState] }

    public func claims(path: String) -> Bool {
        guard let loc = try? TFCheckpointPaths.resolve(path) else { return false }
        return loc.savedModel == nil
    }

    /// A folder holding a `checkpoint` state file.
    public func sniff(_ probe: FormatProbe) throws -> Bool {
        probe.isDirectory && TFCheckpointPaths.isFile(TFCheckpointPaths.join(probe.path, TFCheckpointPaths.stateFileName))
    }

    public func open(_ path: String, options: OpenOptions) throws -> any TensorSource {
        try TFCheckpointSource(path: path, options: options)
    }

    /// `path` is the prefix (`dir/model_weights`; a trailing `.index` is dropped).
    public func write(_ source: any TensorSource, to path: String, options: WriteOptions) throws -> WriteResult {
        try TFCheckpointWriter.write(source, to: path, options: options)
    }
}

/// TensorFlow SavedModel folders (read only: a SavedModel holds a traced graph ckpt cannot make).
public struct SavedModelFormat: FileFormat {
    public init() {}
    public var id: CheckpointFormat { .savedModel }
    public var displayName: String { "TensorFlow SavedModel" }
    public var names: [String] { ["saved-model", "savedmodel"] }
    public var suffixes: [String] { [] }
    public var parts: FormatParts { [.optimizerState, .optimizerConfig, .architecture, .metadata, .trainability] }
    public var canWrite: Bool { false }

    public func claims(path: String) -> Bool { TFCheckpointPaths.isDirectory(path) && TFCheckpointPaths.isSavedModel(path) }

    public func sniff(_ probe: FormatProbe) throws -> Bool { probe.isDirectory && TFCheckpointPaths.isSavedModel(probe.path) }

    public func open(_ path: String, options: OpenOptions) throws -> any TensorSource {
        guard TFCheckpointPaths.isDirectory(path), TFCheckpointPaths.isSavedModel(path) else {
            throw CheckpointError(.notRecognized, "the path is not a SavedModel folder (no saved_model.pb or variables/variables.index)", file: path)
        }
        return try TFCheckpointSource(path: path, location: TFCheckpointLocation(prefix: TFCheckpointPaths.join(path, "variables/variables"), savedModel: path),
                                      options: options)
    }

    public func write(_ source: any TensorSource, to path: String, options: WriteOptions) throws -> WriteResult {
        throw CheckpointError(.unsupported, "writing TensorFlow SavedModels is not supported (a SavedModel holds a traced graph)", file: path,
                              hint: "write a TensorFlow checkpoint (--to tf-checkpoint) and load it with model.load_weights")
    }
}
