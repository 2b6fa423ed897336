// Public entry points to the TensorFlow decoders, for tools and the fuzzer (Sources/ckpt-fuzz):
// each takes untrusted bytes and returns a value or throws a `CheckpointError`.

extension TFObjectGraph {
    /// Decodes a serialized `TrackableObjectGraph` (the `_CHECKPOINTABLE_OBJECT_GRAPH` string).
    public static func decode(_ bytes: [UInt8], file: String? = nil, limits: Limits = .default) throws -> TFObjectGraph {
        try TFProtos.decodeObjectGraph(bytes, origin: ProtoOrigin(file: file, member: TFNaming.objectGraphKey, base: 0, what: "TrackableObjectGraph"), limits: limits)
    }

    /// The serialized form, as TensorFlow writes it.
    public func encoded() -> [UInt8] { TFProtos.encodeObjectGraph(self) }
}

extension TFSignature {
    /// The public signatures of a serialized `SavedModel` (`saved_model.pb`).
    public static func decode(savedModel bytes: [UInt8], file: String? = nil, limits: Limits = .default) throws -> [TFSignature] {
        try SavedModelProtos.decodeSignatures(bytes, file: file ?? "saved_model.pb", limits: limits)
    }
}

extension TFKerasMetadataNode {
    /// The nodes of a serialized `SavedMetadata` (`keras_metadata.pb`).
    public static func decode(_ bytes: [UInt8], file: String? = nil, limits: Limits = .default) throws -> [TFKerasMetadataNode] {
        try SavedModelProtos.decodeKerasMetadata(bytes, file: file ?? "keras_metadata.pb", limits: limits)
    }
}

extension TFBundle {
    /// The names of a TF1 meta graph's `trainable_variables` collection (a `.meta` file).
    public static func trainableVariables(metaGraph bytes: [UInt8], file: String? = nil, limits: Limits = .default) throws -> Set<String>? {
        try SavedModelProtos.trainableVariables(metaGraph: bytes, file: file ?? "model.meta", limits: limits)
    }

    /// A table holding `entries` (key, value), sorted by key, in the LevelDB format of an `.index`.
    public static func table(_ entries: [(key: [UInt8], value: [UInt8])]) -> [UInt8] {
        LevelDBTableWriter().build(entries.sorted { $0.key.lexicographicallyPrecedes($1.key) })
    }

    /// The entries of a LevelDB table, checked (blocks, restarts, key order, CRC-32C).
    public static func tableEntries(_ bytes: [UInt8], file: String? = nil, limits: Limits = .default) throws -> [(key: [UInt8], value: [UInt8])] {
        try LevelDBTable(bytes: bytes, file: file, limits: limits).entries.map { ($0.key, Array(bytes[$0.value])) }
    }

    /// The header and every entry re-encoded (the writer's encoding of what was read).
    public func reencoded() -> [(key: [UInt8], value: [UInt8])] {
        [([], TFProtos.encodeHeader(header))] + entries.map { (Array($0.key.utf8), TFProtos.encodeEntry($0.proto)) }
    }
}
