import CheckpointSystem

/// A TensorFlow checkpoint resolved to its files.
public struct TFCheckpointLocation: Sendable, Equatable {
    /// The bundle prefix: `dir/model_weights`, `saved_model_dir/variables/variables`.
    public var prefix: String
    /// The SavedModel directory, when the checkpoint is a SavedModel's variables.
    public var savedModel: String?
    /// The `checkpoint` state file that named the prefix, if one did.
    public var stateFile: String?

    public var indexPath: String { prefix + ".index" }

    public init(prefix: String, savedModel: String? = nil, stateFile: String? = nil) {
        self.prefix = prefix
        self.savedModel = savedModel
        self.stateFile = stateFile
    }
}

/// Every way a user names a TensorFlow checkpoint: the prefix (`model_weights`, as TensorFlow
/// names it), its `.index`, one of its `.data-NNNNN-of-MMMMM` shards, a folder holding a
/// `checkpoint` state file (its `model_checkpoint_path`, like `tf.train.latest_checkpoint`), the
/// state file itself, or a SavedModel folder (`saved_model.pb` + `variables/variables.*`).
public enum TFCheckpointPaths {
    /// The name of the state file `tf.train.CheckpointManager` and Keras's callback keep.
    public static let stateFileName = "checkpoint"

    static func isFile(_ path: String) -> Bool { FileSystem.kind(path) == .regular }
    static func isDirectory(_ path: String) -> Bool { FileSystem.isDirectory(path) }

    static func join(_ dir: String, _ name: String) -> String {
        if name.hasPrefix("/") { return name }
        if dir.isEmpty || dir == "." { return name }
        return dir.hasSuffix("/") ? dir + name : dir + "/" + name
    }

    static func directory(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        return path[..<slash].isEmpty ? "/" : String(path[..<slash])
    }

    static func baseName(_ path: String) -> String {
        var p = Substring(path)
        while p.count > 1 && p.hasSuffix("/") { p = p.dropLast() }
        guard let slash = p.lastIndex(of: "/") else { return String(p) }
        return String(p[p.index(after: slash)...])
    }

    /// The prefix of a data shard's name (`x.data-00000-of-00001` → `x`), nil for other names.
    static func prefixOfShard(_ path: String) -> String? {
        let b = Array(path.utf8)
        let marker = Array(".data-".utf8)
        guard b.count > marker.count else { return nil }
        var at = -1
        var k = b.count - marker.count
        while k >= 0 {
            if b[k..<(k + marker.count)].elementsEqual(marker) { at = k; break }
            k -= 1
        }
        guard at >= 0 else { return nil }
        let tail = b[(at + marker.count)...].split(separator: UInt8(ascii: "-"), omittingEmptySubsequences: false)
        func digits(_ s: ArraySlice<UInt8>) -> Bool { !s.isEmpty && s.allSatisfy { $0 >= 0x30 && $0 <= 0x39 } }
        guard tail.count == 3, tail[1].elementsEqual(Array("of".utf8)), digits(tail[0]), digits(tail[2]) else { return nil }
        return String(decoding: b[..<at], as: UTF8.self)
    }

    /// Whether a folder is a SavedModel.
    public static func isSavedModel(_ dir: String) -> Bool {
        isFile(join(dir, "saved_model.pb")) || isFile(join(dir, "saved_model.pbtxt")) || isFile(join(dir, "variables/variables.index"))
    }

    /// Resolves `path` when its name or layout says it is a TensorFlow checkpoint or SavedModel;
    /// nil when it is not one (another reader may take it). A folder that is neither a SavedModel
    /// nor holds a state file, or a state file naming a missing checkpoint, is an error.
    public static func resolve(_ path: String) throws -> TFCheckpointLocation? {
        if isDirectory(path) {
            if isSavedModel(path) {
                return TFCheckpointLocation(prefix: join(path, "variables/variables"), savedModel: path)
            }
            let state = join(path, stateFileName)
            if isFile(state) { return try fromStateFile(state) }
            throw CheckpointError(.notRecognized, "the folder is neither a SavedModel (no saved_model.pb) nor a TensorFlow checkpoint folder (no \"checkpoint\" state file)",
                                  file: path, hint: "name a checkpoint file or prefix inside it")
        }
        if path.hasSuffix(".index") && isFile(path) { return TFCheckpointLocation(prefix: String(path.dropLast(6))) }
        if let prefix = prefixOfShard(path), isFile(path) || isFile(prefix + ".index") { return TFCheckpointLocation(prefix: prefix) }
        if baseName(path) == stateFileName && isFile(path) { return try fromStateFile(path) }
        if !FileSystem.exists(path) && isFile(path + ".index") { return TFCheckpointLocation(prefix: path) }
        return nil
    }

    /// Reads `model_checkpoint_path` from a state file (a text-format `CheckpointState`).
    public static func fromStateFile(_ path: String) throws -> TFCheckpointLocation {
        let file = try ReadableFile(path: path)
        guard file.size <= 1 << 20 else {
            throw CheckpointError(.limitExceeded, "the checkpoint state file is \(file.size) bytes (more than 1 MiB)", file: path)
        }
        let bytes = try file.read(at: 0, count: Int(file.size), what: "checkpoint state file")
        guard let value = try parseState(bytes, file: path) else {
            throw CheckpointError(.corrupt, "the checkpoint state file has no model_checkpoint_path line", file: path)
        }
        let dir = directory(of: path)
        var prefix = join(dir, value)
        if value.hasPrefix("/") && !isFile(prefix + ".index") && isFile(join(dir, baseName(value)) + ".index") {
            // Written on another machine or moved: TensorFlow looks next to the state file too.
            prefix = join(dir, baseName(value))
        }
        guard isFile(prefix + ".index") else {
            throw CheckpointError(.missingPart, "the state file names the checkpoint \"\(escapeForDisplay(value))\", but \(escapeForDisplay(prefix)).index does not exist",
                                  file: path, hint: "the checkpoint was deleted or moved; name its .index file directly")
        }
        return TFCheckpointLocation(prefix: prefix, stateFile: path)
    }

    /// The `model_checkpoint_path` value of a state file's text (C escapes decoded).
    static func parseState(_ bytes: [UInt8], file: String) throws -> String? {
        let text = String(decoding: bytes, as: UTF8.self)
        for line in text.split(whereSeparator: { $0 == "\n" || $0 == "\r" }) {
            var s = Substring(line)
            while s.first == " " || s.first == "\t" { s = s.dropFirst() }
            guard s.hasPrefix("model_checkpoint_path") else { continue }
            s = s.dropFirst("model_checkpoint_path".count)
            while s.first == " " { s = s.dropFirst() }
            guard s.first == ":" else { continue }
            s = s.dropFirst()
            while s.first == " " { s = s.dropFirst() }
            guard let quote = s.first, quote == "\"" || quote == "'" else {
                throw CheckpointError(.corrupt, "model_checkpoint_path is not a quoted string", file: file)
            }
            var out: [UInt8] = []
            var u = Array(s.utf8.dropFirst())
            var i = 0
            while i < u.count && u[i] != quote.asciiValue {
                if u[i] == UInt8(ascii: "\\"), i + 1 < u.count {
                    i += 1
                    switch u[i] {
                    case UInt8(ascii: "n"): out.append(0x0A)
                    case UInt8(ascii: "t"): out.append(0x09)
                    case UInt8(ascii: "r"): out.append(0x0D)
                    case UInt8(ascii: "0")...UInt8(ascii: "7"):
                        var v = 0
                        var k = 0
                        while k < 3 && i < u.count && (UInt8(ascii: "0")...UInt8(ascii: "7")).contains(u[i]) {
                            v = v * 8 + Int(u[i] - UInt8(ascii: "0"))
                            i += 1
                            k += 1
                        }
                        out.append(UInt8(truncatingIfNeeded: v))
                        continue
                    default: out.append(u[i])
                    }
                    i += 1
                    continue
                }
                out.append(u[i])
                i += 1
            }
            guard i < u.count else { throw CheckpointError(.corrupt, "model_checkpoint_path has no closing quote", file: file) }
            u.removeAll()
            guard let value = String(validating: out, as: UTF8.self), !value.isEmpty else {
                throw CheckpointError(.corrupt, "model_checkpoint_path is empty or not UTF-8", file: file)
            }
            return value
        }
        return nil
    }

    /// The text of a state file naming `name` (relative to the file's folder), as TensorFlow writes it.
    public static func stateText(_ name: String) -> String {
        var q = ""
        for c in name.unicodeScalars {
            switch c {
            case "\"": q += "\\\""
            case "\\": q += "\\\\"
            case "\n": q += "\\n"
            default: q.unicodeScalars.append(c)
            }
        }
        return "model_checkpoint_path: \"\(q)\"\nall_model_checkpoint_paths: \"\(q)\"\n"
    }
}
