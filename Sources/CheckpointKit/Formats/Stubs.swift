/// Placeholder until the Keras readers land.
public enum KerasFiles {
    public static func open(path: String, format: CheckpointFormat, options: Checkpoints.OpenOptions) throws -> any TensorSource {
        throw CheckpointError(.unsupported, "\(format.displayName) files are not supported yet", file: path)
    }
}
