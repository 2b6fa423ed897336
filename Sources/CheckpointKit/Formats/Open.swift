import CheckpointSystem

/// The formats the toolkit knows, in one list, and opening any checkpoint through them.
public enum FormatRegistry {
    /// Every format. A file whose name says nothing is read by the first whose
    /// ``FileFormat/sniff(_:)`` says yes, formats with ``FileFormat/sniffsLast`` (catch-alls such
    /// as "any ZIP is an .npz") after the others. Adding a format is one line here.
    public static let all: [any FileFormat] = [
        CkptFormat(),
        NPZFormat(),
        SafetensorsFormat(),
        KerasArchiveFormat(),
        KerasWeightsH5Format(),
        KerasLegacyH5Format(),
        KerasShardedWeightsFormat(),
        GGUFFormat(),
        PyTorchFormat(),
        TFCheckpointFormat(),
        SavedModelFormat(),
    ]

    /// The registered format with identifier `id`.
    public static func format(_ id: CheckpointFormat) -> (any FileFormat)? { all.first { $0.id == id } }

    /// The format `--from` / `--to` name (`safetensors`, `st`, `weights.h5`, …), case-insensitive.
    public static func named(_ name: String) -> (any FileFormat)? {
        let lower = name.lowercased()
        return all.first { $0.names.contains(lower) }
    }

    /// The format whose name rules claim `path` (the longest matching suffix wins).
    public static func claiming(path: String) -> (any FileFormat)? {
        var best: (any FileFormat, Int)? = nil
        for f in all {
            if let s = f.matchingSuffix(path) {
                if best == nil || s.count > (best?.1 ?? 0) { best = (f, s.count) }
            } else if f.claims(path: path), best == nil {
                best = (f, 0)
            }
        }
        return best?.0
    }

    /// Every `--from` / `--to` name (for help and shell completion).
    public static var formatNames: [String] { all.map(\.id.rawValue) }
    public static var writableNames: [String] { all.filter(\.canWrite).map(\.id.rawValue) }
    /// File extensions of every format, without the dot (for shell completion).
    public static var fileExtensions: [String] {
        var seen = Set<String>()
        var out: [String] = []
        for f in all {
            for s in f.suffixes {
                let ext = s.split(separator: ".").last.map(String.init) ?? s
                if seen.insert(ext).inserted { out.append(ext) }
            }
        }
        return out
    }

    /// Identifies a file from its first bytes.
    public static func sniff(_ path: String) throws -> CheckpointFormat {
        let probe = try makeProbe(path)
        for f in all where !f.sniffsLast { if try f.sniff(probe) { return f.id } }
        for f in all where f.sniffsLast { if try f.sniff(probe) { return f.id } }
        throw CheckpointError(.notRecognized, "the file is not a checkpoint this tool reads (not a ZIP, HDF5, safetensors or PyTorch file)", file: path, offset: 0,
                              hint: "supported: " + all.flatMap(\.suffixes).joined(separator: ", "))
    }

    static func makeProbe(_ path: String) throws -> FormatProbe {
        if FileSystem.isDirectory(path) { return FormatProbe(path: path, head: [], isDirectory: true, file: nil) }
        let file = try ReadableFile(path: path)
        let head = try file.read(at: 0, count: Int(min(file.size, 64)), what: "file signature")
        return FormatProbe(path: path, head: head, isDirectory: false, file: file)
    }
}

/// Opening any checkpoint: the reader comes from `format`, else the file's name, else its first bytes.
public enum Checkpoints {
    public typealias OpenOptions = CheckpointKit.OpenOptions

    public static func open(_ path: String, format: CheckpointFormat? = nil, options: OpenOptions = OpenOptions()) throws -> any TensorSource {
        // A name that is no file but that a format claims by more than its suffix (a TensorFlow
        // checkpoint prefix `model.ckpt` beside `model.ckpt.index`) goes to that format.
        let byName = FileSystem.exists(path) ? nil : FormatRegistry.all.first { $0.matchingSuffix(path) == nil && $0.claims(path: path) }?.id
        let id = try format ?? byName ?? CheckpointFormat.fromExtension(path) ?? sniff(path)
        guard let handler = FormatRegistry.format(id) else {
            throw CheckpointError(.invalidArgument, "unknown format \"\(escapeForDisplay(id.rawValue))\"", file: path,
                                  hint: "use one of " + FormatRegistry.formatNames.joined(separator: ", "))
        }
        return try handler.open(path, options: options)
    }

    /// Identifies a file from its first bytes.
    public static func sniff(_ path: String) throws -> CheckpointFormat { try FormatRegistry.sniff(path) }
}

/// ZIP local-file or end-of-directory signature at the start of a file.
func startsLikeZip(_ head: [UInt8]) -> Bool {
    head.count >= 4 && (head[0..<4].elementsEqual([0x50, 0x4B, 0x03, 0x04]) || head[0..<4].elementsEqual([0x50, 0x4B, 0x05, 0x06]))
}

let hdf5Signature: [UInt8] = [0x89, 0x48, 0x44, 0x46, 0x0D, 0x0A, 0x1A, 0x0A]
