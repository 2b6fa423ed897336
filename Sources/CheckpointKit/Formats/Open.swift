/// Opens any checkpoint the toolkit reads, choosing the reader from `format`, else the file's
/// extension, else its first bytes.
public enum Checkpoints {
    public struct OpenOptions: Sendable {
        /// Architecture JSON for formats that lack one (a bare `.weights.h5`).
        public var architecture: [UInt8]?
        public var limits: Limits = .default
        public init(architecture: [UInt8]? = nil) { self.architecture = architecture }
    }

    /// Readers for formats this module does not implement itself register here (Keras HDF5,
    /// safetensors), keeping the dispatch in one place.
    public typealias Opener = @Sendable (String, OpenOptions) throws -> any TensorSource

    public static func open(_ path: String, format: CheckpointFormat? = nil, options: OpenOptions = OpenOptions()) throws -> any TensorSource {
        let fmt = try format ?? CheckpointFormat.fromExtension(path) ?? sniff(path)
        switch fmt {
        case .ckpt: return try CheckpointArchive(path: path, limits: options.limits)
        case .npz: return try NPZSource(path: path, limits: options.limits)
        case .safetensors: return try SafetensorsSource.open(path: path, limits: options.limits)
        case .keras, .kerasWeightsH5, .kerasLegacyH5:
            return try KerasFiles.open(path: path, format: fmt, options: options)
        }
    }

    /// Identifies a file from its first bytes.
    public static func sniff(_ path: String) throws -> CheckpointFormat {
        let file = try ReadableFile(path: path)
        let head = try file.read(at: 0, count: Int(min(file.size, 16)), what: "file signature")
        if head.count >= 8, head[0..<8].elementsEqual([0x89, 0x48, 0x44, 0x46, 0x0D, 0x0A, 0x1A, 0x0A]) { return .kerasLegacyH5 }
        if head.count >= 4, head[0..<4].elementsEqual([0x50, 0x4B, 0x03, 0x04]) || head[0..<4].elementsEqual([0x50, 0x4B, 0x05, 0x06]) {
            let zip = try ZipArchive(file: file)
            if zip.entry(named: ContainerSpec.manifestMember) != nil { return .ckpt }
            if zip.entry(named: "model.weights.h5") != nil || zip.entry(named: "config.json") != nil { return .keras }
            return .npz
        }
        if head.count >= 9, head[8] == UInt8(ascii: "{") { return .safetensors }
        throw CheckpointError(.notRecognized, "the file is not a checkpoint this tool reads (not a ZIP, HDF5 or safetensors file)", file: path, offset: 0,
                              hint: "supported: .ckpt, .npz, .safetensors, .keras, .weights.h5, .h5")
    }
}
