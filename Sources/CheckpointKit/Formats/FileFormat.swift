/// A file format's identity: the name `--from` / `--to` take and JSON documents carry
/// (`ckpt`, `npz`, `safetensors`, `keras`, `weights.h5`, `h5`, …).
///
/// Each format declares its identifier next to its ``FileFormat`` conformance; everything else
/// about it (display name, suffixes, what it holds) is asked of the registered format
/// (``FormatRegistry``).
public struct CheckpointFormat: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }

    public var description: String { rawValue }

    /// The registered format with this identifier.
    public var handler: (any FileFormat)? { FormatRegistry.format(self) }

    /// A human name for messages (`Keras 3 .keras`); the identifier if the format is unknown.
    public var displayName: String { handler?.displayName ?? rawValue }

    /// The format a path's name says (`x.weights.h5` before `x.h5`); nil if no format claims it.
    public static func fromExtension(_ path: String) -> CheckpointFormat? { FormatRegistry.claiming(path: path)?.id }

    /// Parses `--from` / `--to` values and their aliases (`st`, `numpy`, `keras2`, …).
    public init?(name: String) {
        guard let f = FormatRegistry.named(name) else { return nil }
        self = f.id
    }
}

/// What a format can hold besides tensors. A conversion into a format that lacks a part leaves it
/// out and says so in a note.
public struct FormatParts: OptionSet, Sendable, Hashable {
    public let rawValue: Int
    public init(rawValue: Int) { self.rawValue = rawValue }

    /// Optimizer slots and counters, recognisable as such when read back.
    public static let optimizerState = FormatParts(rawValue: 1 << 0)
    /// The optimizer's class and configuration.
    public static let optimizerConfig = FormatParts(rawValue: 1 << 1)
    /// The model's architecture (Keras `to_json()`).
    public static let architecture = FormatParts(rawValue: 1 << 2)
    /// Free-form metadata (epoch, monitored metric, …).
    public static let metadata = FormatParts(rawValue: 1 << 3)
    /// Whether each weight is trainable.
    public static let trainability = FormatParts(rawValue: 1 << 4)

    public static let all: FormatParts = [.optimizerState, .optimizerConfig, .architecture, .metadata, .trainability]
}

/// The first bytes of a file and its name, for ``FileFormat/sniff(_:)``.
public struct FormatProbe {
    /// The path as the user gave it.
    public let path: String
    /// Up to 64 bytes from the start of the file (empty for a directory).
    public let head: [UInt8]
    /// Whether the path is a directory (SavedModel folders and the like).
    public let isDirectory: Bool
    /// The opened file (nil for a directory), for formats that must look further than `head`.
    public let file: ReadableFile?

    public init(path: String, head: [UInt8], isDirectory: Bool, file: ReadableFile?) {
        self.path = path
        self.head = head
        self.isDirectory = isDirectory
        self.file = file
    }

    public func starts(with magic: [UInt8]) -> Bool { head.count >= magic.count && head.starts(with: magic) }
}

/// What a writer did: the files it wrote and what it could not keep.
public struct WriteResult: Sendable {
    /// Every file written (a single file, or an index and its shards, index first).
    public var paths: [String]
    /// Tensors written.
    public var tensors: Int
    /// Things the destination could not hold, one sentence each (shown as `note:` lines).
    public var notes: [String]

    public init(paths: [String], tensors: Int, notes: [String] = []) {
        self.paths = paths
        self.tensors = tensors
        self.notes = notes
    }
}

/// One file format: how to recognise, read and write its files. Every format the toolkit knows is
/// one type conforming to this protocol, listed once in ``FormatRegistry/all``; `convert`, `strip`,
/// `rebuild`, `diff` and `inspect` reach it only through here.
///
/// Adding a format: a type conforming to `FileFormat` next to its reader (and writer), a
/// `CheckpointFormat` constant, and one line in ``FormatRegistry/all``.
public protocol FileFormat: Sendable {
    var id: CheckpointFormat { get }
    /// A human name for messages (`NumPy .npz`).
    var displayName: String { get }
    /// Names `--from` / `--to` accept, lowercased; the first is the identifier.
    var names: [String] { get }
    /// Lowercased file-name suffixes that say this format (`.weights.h5`), for naming outputs and
    /// choosing a reader when no `--from` is given. Longer suffixes win over shorter ones.
    var suffixes: [String] { get }
    /// What the format holds besides tensors.
    var parts: FormatParts { get }
    /// Whether ``write(_:to:options:)`` is implemented.
    var canWrite: Bool { get }

    /// Whether `path` names this format without reading it (beyond its suffix: a TensorFlow
    /// checkpoint prefix, a SavedModel folder). Default: a suffix matches.
    func claims(path: String) -> Bool

    /// Whether the file's first bytes say it is this format. Called in ``FormatRegistry/all``
    /// order; the first format to say yes reads the file.
    func sniff(_ probe: FormatProbe) throws -> Bool

    /// A catch-all sniffer, asked after every other format (default false).
    var sniffsLast: Bool { get }

    /// Opens a file (or set of files) of this format, reading only its index.
    func open(_ path: String, options: OpenOptions) throws -> any TensorSource

    /// Writes `source`'s index and tensors to `path`. The caller has already left out what the
    /// format cannot hold (see ``Convert``). Must be atomic: the destination (every file of a set)
    /// appears complete or not at all.
    func write(_ source: any TensorSource, to path: String, options: WriteOptions) throws -> WriteResult
}

extension FileFormat {
    public func claims(path: String) -> Bool { matchingSuffix(path) != nil }

    /// The longest of ``suffixes`` that `path` ends with (case-insensitive).
    public func matchingSuffix(_ path: String) -> String? {
        let lower = path.lowercased()
        return suffixes.filter { lower.hasSuffix($0) }.max { $0.count < $1.count }
    }

    public func sniff(_ probe: FormatProbe) throws -> Bool { false }
    public var sniffsLast: Bool { false }

    public var canWrite: Bool { true }

    public func write(_ source: any TensorSource, to path: String, options: WriteOptions) throws -> WriteResult {
        throw CheckpointError(.unsupported, "ckpt reads \(displayName) files but does not write them", file: path,
                              hint: "write one of: " + FormatRegistry.all.filter(\.canWrite).map(\.id.rawValue).joined(separator: ", "))
    }
}

/// Options for opening an input.
public struct OpenOptions: Sendable {
    /// Architecture JSON for formats that lack one (a bare `.weights.h5`).
    public var architecture: [UInt8]?
    public var limits: Limits = .default
    /// PyTorch pickles: objects outside the allow-list become placeholders instead of an error.
    public var lenient = false
    public init(architecture: [UInt8]? = nil) { self.architecture = architecture }
}
