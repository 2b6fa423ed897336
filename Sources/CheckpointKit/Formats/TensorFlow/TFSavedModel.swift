/// What a SavedModel folder holds besides its variables: the Keras architecture and training
/// configuration (`keras_metadata.pb`, written by tf.keras) and the serving signatures
/// (`saved_model.pb`).
public struct TFSavedModelParts: Sendable {
    /// The model as `model.to_json()` would write it (tf.keras dialect), from the root node's
    /// `model_config`, with `keras_version` and `backend`; nil when there is no `keras_metadata.pb`.
    public var architecture: [UInt8]?
    /// The root's `training_config` (loss, metrics, `optimizer_config`).
    public var trainingConfig: JSONValue?
    public var kerasVersion: String?
    public var backend: String?
    public var signatures: [TFSignature] = []
    public var notes: [String] = []

    static let kerasMetadataFile = "keras_metadata.pb"
    static let savedModelFile = "saved_model.pb"

    /// Reads the parts of the SavedModel at `dir` (files larger than the limits are skipped with a note).
    static func read(dir: String, limits: Limits) throws -> TFSavedModelParts {
        var parts = TFSavedModelParts()
        let metaPath = TFCheckpointPaths.join(dir, kerasMetadataFile)
        if TFCheckpointPaths.isFile(metaPath) {
            let file = try ReadableFile(path: metaPath)
            guard file.size <= limits.maxManifestBytes else {
                throw CheckpointError(.limitExceeded, "the file is \(file.size) bytes (the limit is \(limits.maxManifestBytes))", file: metaPath)
            }
            let bytes = try file.read(at: 0, count: Int(file.size), what: kerasMetadataFile)
            let nodes = try SavedModelProtos.decodeKerasMetadata(bytes, file: metaPath, limits: limits)
            if let root = nodes.first(where: { $0.nodePath == "root" }) {
                let json: JSONValue
                do {
                    json = try JSONParser.parse(Array(root.metadata.utf8), options: limits.jsonOptions)
                } catch let e as CheckpointError {
                    throw e.located(file: metaPath, member: "root")
                }
                parts.kerasVersion = json["keras_version"]?.stringValue
                parts.backend = json["backend"]?.stringValue
                if let tc = json["training_config"], tc.objectValue != nil { parts.trainingConfig = normalize(tc) }
                if let mc = json["model_config"], mc.objectValue != nil {
                    var arch = normalize(mc)
                    if let v = parts.kerasVersion { arch = arch.setting("keras_version", to: .string(v)) }
                    if let b = parts.backend { arch = arch.setting("backend", to: .string(b)) }
                    // The training configuration travels as the model's compile_config (Keras 3's
                    // name for it), so a .keras written from it is compiled like the tf.keras model.
                    if let tc = parts.trainingConfig {
                        var ignored: [String] = []
                        arch = arch.setting("compile_config", to: KerasMigration.compileConfig(trainingConfig: tc, notes: &ignored))
                    }
                    parts.architecture = arch.serializedBytes()
                } else {
                    parts.notes.append("keras_metadata.pb has no model_config (a subclassed model): the layers are not known")
                }
            } else {
                parts.notes.append("keras_metadata.pb has no root node")
            }
        } else {
            parts.notes.append("the SavedModel has no keras_metadata.pb (it was not written by Keras): its variables are listed by their object paths")
        }
        let pbPath = TFCheckpointPaths.join(dir, savedModelFile)
        if TFCheckpointPaths.isFile(pbPath) {
            let file = try ReadableFile(path: pbPath)
            if file.size <= limits.maxCentralDirectoryBytes {
                let bytes = try file.read(at: 0, count: Int(file.size), what: savedModelFile)
                // `__saved_model_init_op` and the like are TensorFlow's own, not serving signatures.
                parts.signatures = try SavedModelProtos.decodeSignatures(bytes, file: pbPath, limits: limits).filter { !$0.name.hasPrefix("__") }
            } else {
                parts.notes.append("saved_model.pb is \(file.size) bytes, over the limit; its signatures were not read")
            }
        }
        return parts
    }

    /// tf.keras's metadata JSON spells tuples `{"class_name": "__tuple__", "items": [...]}` and adds
    /// `shared_object_id`s; `to_json()` writes lists and no ids.
    static func normalize(_ v: JSONValue, depth: Int = 0) -> JSONValue {
        guard depth < 256 else { return v }
        switch v {
        case .object(let members):
            if members.count == 2, v["class_name"]?.stringValue == "__tuple__", let items = v["items"]?.arrayValue {
                return .array(items.map { normalize($0, depth: depth + 1) })
            }
            return .object(members.filter { $0.0 != "shared_object_id" }.map { ($0.0, normalize($0.1, depth: depth + 1)) })
        case .array(let items):
            return .array(items.map { normalize($0, depth: depth + 1) })
        default:
            return v
        }
    }

    /// The optimizer of `training_config` as Keras 3 models it (tf.keras ≥ 2.11 registers its
    /// optimizers as `Custom>Adam`); nil when there is none or it is not modelled.
    func optimizerConfig() -> (KerasOptimizerConfig?, className: String?, problem: String?) {
        guard let tc = trainingConfig, var o = tc["optimizer_config"], !o.isNull else { return (nil, nil, nil) }
        var cls = o["class_name"]?.stringValue
        if let c = cls, c.hasPrefix("Custom>") {
            cls = String(c.dropFirst("Custom>".count))
            o = o.setting("class_name", to: .string(cls ?? c))
        }
        do {
            return (try KerasOptimizerConfig(serialized: o), cls, nil)
        } catch let e as CheckpointError {
            return (nil, cls, e.reason)
        } catch {
            return (nil, cls, "\(error)")
        }
    }
}
