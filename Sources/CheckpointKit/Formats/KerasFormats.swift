extension CheckpointFormat {
    /// Keras 3 `.keras` (ZIP of config.json, metadata.json, model.weights.h5).
    public static let keras = CheckpointFormat(rawValue: "keras")
    /// Keras 3 `.weights.h5` (`model.save_weights`).
    public static let kerasWeightsH5 = CheckpointFormat(rawValue: "weights.h5")
    /// Keras 2 / tf.keras HDF5 (`model.save("x.h5")` or `save_weights("x.h5")`).
    public static let kerasLegacyH5 = CheckpointFormat(rawValue: "h5")
}

/// Keras 3 `.keras`: a ZIP of `config.json`, `metadata.json` and `model.weights.h5`.
public struct KerasArchiveFormat: FileFormat {
    public init() {}
    public var id: CheckpointFormat { .keras }
    public var displayName: String { "Keras 3 .keras" }
    public var names: [String] { ["keras"] }
    public var suffixes: [String] { [".keras"] }
    public var parts: FormatParts { .all }

    public func sniff(_ probe: FormatProbe) throws -> Bool {
        guard startsLikeZip(probe.head), let file = probe.file else { return false }
        let zip = try ZipArchive(file: file)
        return zip.entry(named: KerasFiles.weightsMember) != nil || zip.entry(named: KerasFiles.configMember) != nil
    }

    public func open(_ path: String, options: OpenOptions) throws -> any TensorSource {
        try KerasFiles.open(path: path, format: id, options: options)
    }

    public func write(_ source: any TensorSource, to path: String, options: WriteOptions) throws -> WriteResult {
        let notes = try KerasFiles.write(source, to: path, format: id, options: options)
        return WriteResult(paths: [path], tensors: source.index.tensors.count, notes: notes)
    }
}

/// Keras 3 `.weights.h5`: the HDF5 file `model.save_weights` writes, laid out by the architecture.
public struct KerasWeightsH5Format: FileFormat {
    public init() {}
    public var id: CheckpointFormat { .kerasWeightsH5 }
    public var displayName: String { "Keras 3 .weights.h5" }
    public var names: [String] { ["weights.h5", "weights-h5", "keras-weights"] }
    public var suffixes: [String] { [".weights.h5"] }
    /// Weights and optimizer variables; names and the optimizer's class come from an architecture.
    public var parts: FormatParts { [.optimizerState, .trainability] }

    public func open(_ path: String, options: OpenOptions) throws -> any TensorSource {
        try KerasFiles.open(path: path, format: id, options: options)
    }

    public func write(_ source: any TensorSource, to path: String, options: WriteOptions) throws -> WriteResult {
        let notes = try KerasFiles.write(source, to: path, format: id, options: options)
        return WriteResult(paths: [path], tensors: source.index.tensors.count, notes: notes)
    }
}

/// Keras 2 / tf.keras HDF5 (`model.save("x.h5")`, `save_weights("x.h5")`); read only. Any HDF5
/// file sniffs as this format: the reader picks the Keras 2 or Keras 3 layout from its contents.
public struct KerasLegacyH5Format: FileFormat {
    public init() {}
    public var id: CheckpointFormat { .kerasLegacyH5 }
    public var displayName: String { "Keras 2 HDF5 .h5" }
    public var names: [String] { ["h5", "hdf5", "keras2", "legacy-h5"] }
    public var suffixes: [String] { [".h5", ".hdf5"] }
    public var parts: FormatParts { .all }
    public var canWrite: Bool { false }

    public func sniff(_ probe: FormatProbe) throws -> Bool { probe.starts(with: hdf5Signature) }

    public func open(_ path: String, options: OpenOptions) throws -> any TensorSource {
        try KerasFiles.open(path: path, format: id, options: options)
    }

    public func write(_ source: any TensorSource, to path: String, options: WriteOptions) throws -> WriteResult {
        throw CheckpointError(.unsupported, "writing Keras 2 .h5 files is not supported", file: path,
                              hint: "write a Keras 3 .weights.h5 or .keras file instead (Keras 2 cannot load those; tf.keras users can load .weights.h5 weights by name)")
    }
}
