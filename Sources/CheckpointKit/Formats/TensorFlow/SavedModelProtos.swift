// The parts of a SavedModel the toolkit reads:
// - `saved_model.pb` (`SavedModel`, tensorflow/core/protobuf/saved_model.proto): each
//   `MetaGraphDef`'s tags and `signature_def` map (SignatureDef: inputs and outputs as TensorInfo
//   with name, dtype and shape; method name). The graph itself (`graph_def`, most of the file) is
//   skipped over by its length, never parsed.
// - `keras_metadata.pb` (`SavedMetadata`, tf_keras/protobuf/saved_metadata.proto): one node per
//   Keras object, each with its path (`root`, `root.layer-0`), identifier and metadata JSON; the
//   root's holds `model_config` (the model's `get_config()` wrapped like `to_json()`) and
//   `training_config` (loss, metrics and `optimizer_config`).
// - A TF1 `.meta` file (a `MetaGraphDef`): the `trainable_variables` collection (VariableDefs).

/// One tensor of a serving signature.
public struct TFSignatureTensor: Sendable, Equatable {
    /// The key in the signature's map (`dense_input`).
    public var key: String
    /// The graph tensor name (`serving_default_dense_input:0`).
    public var name: String
    public var dtype: TFDataType
    /// Dimensions, nil for unknown ones (`-1`); nil for an unknown rank.
    public var shape: [Int64?]?
}

/// A SignatureDef of a SavedModel.
public struct TFSignature: Sendable, Equatable {
    public var name: String
    public var methodName: String
    public var inputs: [TFSignatureTensor]
    public var outputs: [TFSignatureTensor]
    /// The tags of the meta graph the signature is in (`serve`).
    public var tags: [String]
}

/// One node of `keras_metadata.pb`.
public struct TFKerasMetadataNode: Sendable, Equatable {
    public var nodeID: Int
    public var nodePath: String
    public var identifier: String
    /// The metadata JSON text.
    public var metadata: String
}

enum SavedModelProtos {
    static func decodeSignatures(_ bytes: [UInt8], file: String, limits: Limits) throws -> [TFSignature] {
        var r = try ProtoReader(bytes, origin: ProtoOrigin(file: file, member: nil, base: 0, what: "SavedModel"))
        var out: [TFSignature] = []
        while try r.next() {
            guard r.field == 2 else { try r.skip(); continue }
            var mg = try r.message("MetaGraphDef")
            var tags: [String] = []
            var sigs: [TFSignature] = []
            while try mg.next() {
                switch mg.field {
                case 1:
                    var info = try mg.message("MetaInfoDef")
                    while try info.next() {
                        if info.field == 4 { tags.append(try info.string()) } else { try info.skip() }
                    }
                case 5:
                    guard sigs.count < limits.maxMembers else { throw mg.error("more than \(limits.maxMembers) signatures") }
                    var entry = try mg.message("SignatureDefEntry")
                    var name = ""
                    var sig = TFSignature(name: "", methodName: "", inputs: [], outputs: [], tags: [])
                    while try entry.next() {
                        switch entry.field {
                        case 1: name = try entry.string()
                        case 2:
                            var s = try entry.message("SignatureDef")
                            sig = try decodeSignatureDef(&s, limits: limits)
                        default: try entry.skip()
                        }
                    }
                    sig.name = name
                    sigs.append(sig)
                default: try mg.skip()
                }
            }
            for var s in sigs {
                s.tags = tags
                out.append(s)
            }
        }
        return out
    }

    private static func decodeSignatureDef(_ r: inout ProtoReader, limits: Limits) throws -> TFSignature {
        var sig = TFSignature(name: "", methodName: "", inputs: [], outputs: [], tags: [])
        while try r.next() {
            switch r.field {
            case 1, 2:
                guard sig.inputs.count + sig.outputs.count < limits.maxMembers else { throw r.error("more than \(limits.maxMembers) signature tensors") }
                let isInput = r.field == 1
                var entry = try r.message("SignatureDef map entry")
                var t = TFSignatureTensor(key: "", name: "", dtype: TFDataType(rawValue: 0), shape: nil)
                while try entry.next() {
                    switch entry.field {
                    case 1: t.key = try entry.string()
                    case 2:
                        var info = try entry.message("TensorInfo")
                        while try info.next() {
                            switch info.field {
                            case 1: t.name = try info.string()
                            case 2: t.dtype = TFDataType(rawValue: Int(try info.int32()))
                            case 3:
                                var s = try info.message("TensorShapeProto")
                                let (dims, unknown) = try TFProtos.decodeShape(&s, maxRank: limits.maxRank)
                                t.shape = unknown ? nil : dims.map { $0 < 0 ? nil : $0 }
                            default: try info.skip()
                            }
                        }
                    default: try entry.skip()
                    }
                }
                if isInput { sig.inputs.append(t) } else { sig.outputs.append(t) }
            case 3: sig.methodName = try r.string()
            default: try r.skip()
            }
        }
        sig.inputs.sort { $0.key.utf8.lexicographicallyPrecedes($1.key.utf8) }
        sig.outputs.sort { $0.key.utf8.lexicographicallyPrecedes($1.key.utf8) }
        return sig
    }

    static func decodeKerasMetadata(_ bytes: [UInt8], file: String, limits: Limits) throws -> [TFKerasMetadataNode] {
        var r = try ProtoReader(bytes, origin: ProtoOrigin(file: file, member: nil, base: 0, what: "SavedMetadata"))
        var out: [TFKerasMetadataNode] = []
        while try r.next() {
            guard r.field == 1 else { try r.skip(); continue }
            guard out.count < limits.maxMembers else { throw r.error("more than \(limits.maxMembers) nodes") }
            var n = try r.message("SavedObject")
            var node = TFKerasMetadataNode(nodeID: 0, nodePath: "", identifier: "", metadata: "")
            while try n.next() {
                switch n.field {
                case 2: node.nodeID = Int(try n.int32())
                case 3: node.nodePath = try n.string()
                case 4: node.identifier = try n.string()
                case 5:
                    let range = try n.bytesRange()
                    guard UInt64(range.count) <= limits.maxJSONBytes else { throw n.error("a metadata JSON of \(range.count) bytes is over the limit") }
                    guard let s = String(validating: bytes[range], as: UTF8.self) else { throw n.error("a metadata JSON is not UTF-8") }
                    node.metadata = s
                default: try n.skip()
                }
            }
            out.append(node)
        }
        return out
    }

    /// The variable names (without `:0`) of a MetaGraphDef's `trainable_variables` collection; nil
    /// when the graph has no such collection.
    static func trainableVariables(metaGraph bytes: [UInt8], file: String, limits: Limits) throws -> Set<String>? {
        var r = try ProtoReader(bytes, origin: ProtoOrigin(file: file, member: nil, base: 0, what: "MetaGraphDef"))
        var found: Set<String>?
        while try r.next() {
            guard r.field == 4 else { try r.skip(); continue }
            var entry = try r.message("CollectionDefEntry")
            var key = ""
            var names: [String] = []
            while try entry.next() {
                switch entry.field {
                case 1: key = try entry.string()
                case 2:
                    var c = try entry.message("CollectionDef")
                    while try c.next() {
                        guard c.field == 2 else { try c.skip(); continue }
                        var list = try c.message("BytesList")
                        while try list.next() {
                            guard list.field == 1 else { try list.skip(); continue }
                            guard names.count < limits.maxMembers else { throw list.error("more than \(limits.maxMembers) variables") }
                            var v = try list.message("VariableDef")
                            while try v.next() {
                                if v.field == 1 { names.append(try v.string()) } else { try v.skip() }
                            }
                        }
                    }
                default: try entry.skip()
                }
            }
            if key == "trainable_variables" {
                found = Set(names.map { $0.hasSuffix(":0") ? String($0.dropLast(2)) : $0 })
            }
        }
        return found
    }
}
