// The TensorFlow messages of a tensor bundle (tensorflow/core/protobuf/tensor_bundle.proto,
// framework/tensor_shape.proto, tensor_slice.proto, versions.proto) and of the object graph
// (protobuf/trackable_object_graph.proto), decoded field by field with ProtoReader and encoded
// with ProtoWriter. Unknown fields are skipped, as protobuf parsers do.

/// A TensorFlow `DataType` enum value and what the toolkit makes of it.
public struct TFDataType: Sendable, Hashable {
    public var rawValue: Int

    public init(rawValue: Int) { self.rawValue = rawValue }

    public static let float = TFDataType(rawValue: 1)
    public static let string = TFDataType(rawValue: 7)
    public static let int64 = TFDataType(rawValue: 9)

    /// The toolkit's dtype, nil for strings, complex, quantized, resource, variant, 4-bit types
    /// and float8_e4m3b11fnuz.
    public var dtype: DType? {
        switch rawValue {
        case 1: return .float32
        case 2: return .float64
        case 3: return .int32
        case 4: return .uint8
        case 5: return .int16
        case 6: return .int8
        case 9: return .int64
        case 10: return .bool
        case 14: return .bfloat16
        case 17: return .uint16
        case 19: return .float16
        case 22: return .uint32
        case 23: return .uint64
        case 24: return .float8_e5m2
        case 25: return .float8_e4m3fn
        case 26: return .float8_e4m3fnuz
        case 28: return .float8_e5m2fnuz
        default: return nil
        }
    }

    /// nil for dtypes TensorFlow has no type for (float8_e8m0fnu).
    public init?(_ dtype: DType) {
        switch dtype {
        case .float32: rawValue = 1
        case .float64: rawValue = 2
        case .int32: rawValue = 3
        case .uint8: rawValue = 4
        case .int16: rawValue = 5
        case .int8: rawValue = 6
        case .int64: rawValue = 9
        case .bool: rawValue = 10
        case .bfloat16: rawValue = 14
        case .uint16: rawValue = 17
        case .float16: rawValue = 19
        case .uint32: rawValue = 22
        case .uint64: rawValue = 23
        case .float8_e5m2: rawValue = 24
        case .float8_e4m3fn: rawValue = 25
        case .float8_e4m3fnuz: rawValue = 26
        case .float8_e5m2fnuz: rawValue = 28
        case .float8_e8m0fnu: return nil
        }
    }

    /// TensorFlow's name for the type (`float32`, `string`, `complex64`, `DT_47` when unknown).
    public var name: String {
        if let d = dtype { return d.rawValue }
        let names: [Int: String] = [0: "invalid", 7: "string", 8: "complex64", 11: "qint8", 12: "quint8", 13: "qint32", 15: "qint16",
                                    16: "quint16", 18: "complex128", 20: "resource", 21: "variant", 24: "float8_e5m2",
                                    25: "float8_e4m3fn", 26: "float8_e4m3fnuz", 27: "float8_e4m3b11fnuz", 28: "float8_e5m2fnuz",
                                    29: "int4", 30: "uint4", 31: "int2", 32: "uint2"]
        if let n = names[rawValue] { return n }
        if rawValue > 100, let base = TFDataType(rawValue: rawValue - 100).dtype { return base.rawValue + "_ref" }
        return "DT_\(rawValue)"
    }
}

/// `TensorSliceProto`: one extent per dimension; `length` nil means the whole dimension.
public struct TFTensorSlice: Sendable, Hashable {
    public struct Extent: Sendable, Hashable {
        public var start: Int64
        public var length: Int64?
    }
    public var extents: [Extent]
}

/// `BundleHeaderProto`, the value of the empty key.
public struct TFBundleHeader: Sendable, Equatable {
    public var numShards: Int32
    /// 0 little-endian, 1 big-endian.
    public var endianness: Int64
    public var producer: Int32
    public var minConsumer: Int32
}

/// `BundleEntryProto`: where one tensor's bytes are, and what they are.
public struct TFBundleEntry: Sendable, Equatable {
    public var dtype: TFDataType
    /// Dimensions as stored (-1 for unknown; checked by the bundle reader).
    public var shape: [Int64]
    public var unknownRank: Bool
    public var shardID: Int32
    public var offset: Int64
    public var size: Int64
    /// The masked CRC-32C of the bytes.
    public var crc32c: UInt32
    public var slices: [TFTensorSlice]

    public init(dtype: TFDataType, shape: [Int64], unknownRank: Bool = false, shardID: Int32 = 0, offset: Int64 = 0, size: Int64 = 0,
                crc32c: UInt32 = 0, slices: [TFTensorSlice] = []) {
        self.dtype = dtype
        self.shape = shape
        self.unknownRank = unknownRank
        self.shardID = shardID
        self.offset = offset
        self.size = size
        self.crc32c = crc32c
        self.slices = slices
    }
}

/// `TrackableObjectGraph`: the objects a checkpoint was saved from, their children, and which
/// bundle key holds each variable.
public struct TFObjectGraph: Sendable, Equatable {
    public struct Child: Sendable, Equatable {
        public var nodeID: Int
        public var localName: String
    }
    public struct Attribute: Sendable, Equatable {
        public var name: String
        public var fullName: String
        public var checkpointKey: String
    }
    public struct SlotVariable: Sendable, Equatable {
        public var originalNodeID: Int
        public var slotName: String
        public var slotNodeID: Int
    }
    public struct Node: Sendable, Equatable {
        public var children: [Child] = []
        public var attributes: [Attribute] = []
        public var slotVariables: [SlotVariable] = []
        /// `has_checkpoint_values` (a `BoolValue`): nil when absent.
        public var hasCheckpointValues: Bool?
        public init() {}
    }
    public var nodes: [Node]

    public init(nodes: [Node]) { self.nodes = nodes }
}

enum TFProtos {
    // MARK: Decoding

    static func decodeShape(_ r: inout ProtoReader, maxRank: Int) throws -> (dims: [Int64], unknownRank: Bool) {
        var dims: [Int64] = []
        var unknown = false
        while try r.next() {
            switch r.field {
            case 2:
                guard dims.count < maxRank else { throw r.error("the shape has more than \(maxRank) dimensions") }
                var d = try r.message("TensorShapeProto.Dim")
                var size: Int64 = 0
                while try d.next() {
                    if d.field == 1 { size = try d.int64() } else { try d.skip() }
                }
                dims.append(size)
            case 3: unknown = try r.bool()
            default: try r.skip()
            }
        }
        return (dims, unknown)
    }

    static func decodeSlice(_ r: inout ProtoReader, maxRank: Int) throws -> TFTensorSlice {
        var extents: [TFTensorSlice.Extent] = []
        while try r.next() {
            guard r.field == 1 else { try r.skip(); continue }
            guard extents.count < maxRank else { throw r.error("a slice has more than \(maxRank) extents") }
            var e = try r.message("TensorSliceProto.Extent")
            var ext = TFTensorSlice.Extent(start: 0, length: nil)
            while try e.next() {
                switch e.field {
                case 1: ext.start = try e.int64()
                case 2: ext.length = try e.int64()
                default: try e.skip()
                }
            }
            extents.append(ext)
        }
        return TFTensorSlice(extents: extents)
    }

    static func decodeHeader(_ bytes: [UInt8], range: Range<Int>, origin: ProtoOrigin) throws -> TFBundleHeader {
        var r = try ProtoReader(bytes, range: range, origin: origin)
        var h = TFBundleHeader(numShards: 0, endianness: 0, producer: 0, minConsumer: 0)
        while try r.next() {
            switch r.field {
            case 1: h.numShards = try r.int32()
            case 2: h.endianness = try r.int64()
            case 3:
                var v = try r.message("VersionDef")
                while try v.next() {
                    switch v.field {
                    case 1: h.producer = try v.int32()
                    case 2: h.minConsumer = try v.int32()
                    default: try v.skip()
                    }
                }
            default: try r.skip()
            }
        }
        return h
    }

    static func decodeEntry(_ bytes: [UInt8], range: Range<Int>, origin: ProtoOrigin, limits: Limits) throws -> TFBundleEntry {
        var r = try ProtoReader(bytes, range: range, origin: origin)
        var e = TFBundleEntry(dtype: TFDataType(rawValue: 0), shape: [])
        while try r.next() {
            switch r.field {
            case 1: e.dtype = TFDataType(rawValue: Int(try r.int32()))
            case 2:
                var s = try r.message("TensorShapeProto")
                (e.shape, e.unknownRank) = try decodeShape(&s, maxRank: limits.maxRank)
            case 3: e.shardID = try r.int32()
            case 4: e.offset = try r.int64()
            case 5: e.size = try r.int64()
            case 6: e.crc32c = try r.fixed32()
            case 7:
                guard e.slices.count < limits.maxMembers else { throw r.error("more than \(limits.maxMembers) slices") }
                var s = try r.message("TensorSliceProto")
                e.slices.append(try decodeSlice(&s, maxRank: limits.maxRank))
            default: try r.skip()
            }
        }
        return e
    }

    static func decodeObjectGraph(_ bytes: [UInt8], origin: ProtoOrigin, limits: Limits) throws -> TFObjectGraph {
        var r = try ProtoReader(bytes, origin: origin)
        var nodes: [TFObjectGraph.Node] = []
        while try r.next() {
            guard r.field == 1 else { try r.skip(); continue }
            guard nodes.count < limits.maxMembers else { throw r.error("more than \(limits.maxMembers) objects") }
            var n = try r.message("TrackableObject")
            var node = TFObjectGraph.Node()
            while try n.next() {
                switch n.field {
                case 1:
                    var c = try n.message("ObjectReference")
                    var child = TFObjectGraph.Child(nodeID: 0, localName: "")
                    while try c.next() {
                        switch c.field {
                        case 1: child.nodeID = Int(try c.int32())
                        case 2: child.localName = try c.string()
                        default: try c.skip()
                        }
                    }
                    node.children.append(child)
                case 2:
                    var a = try n.message("SerializedTensor")
                    var attr = TFObjectGraph.Attribute(name: "", fullName: "", checkpointKey: "")
                    while try a.next() {
                        switch a.field {
                        case 1: attr.name = try a.string()
                        case 2: attr.fullName = try a.string()
                        case 3: attr.checkpointKey = try a.string()
                        default: try a.skip()
                        }
                    }
                    node.attributes.append(attr)
                case 3:
                    var s = try n.message("SlotVariableReference")
                    var slot = TFObjectGraph.SlotVariable(originalNodeID: 0, slotName: "", slotNodeID: 0)
                    while try s.next() {
                        switch s.field {
                        case 1: slot.originalNodeID = Int(try s.int32())
                        case 2: slot.slotName = try s.string()
                        case 3: slot.slotNodeID = Int(try s.int32())
                        default: try s.skip()
                        }
                    }
                    node.slotVariables.append(slot)
                case 5:
                    var b = try n.message("BoolValue")
                    var value = false
                    while try b.next() {
                        if b.field == 1 { value = try b.bool() } else { try b.skip() }
                    }
                    node.hasCheckpointValues = value
                default: try n.skip()
                }
            }
            nodes.append(node)
        }
        // Every reference must name a node that exists.
        for (i, node) in nodes.enumerated() {
            let refs = node.children.map(\.nodeID) + node.slotVariables.flatMap { [$0.originalNodeID, $0.slotNodeID] }
            if let bad = refs.first(where: { $0 < 0 || $0 >= nodes.count }) {
                throw CheckpointError(.corrupt, "the \(origin.what) is malformed: object \(i) refers to object \(bad), but there are \(nodes.count)",
                                      file: origin.file, member: origin.member, offset: origin.base)
            }
        }
        return TFObjectGraph(nodes: nodes)
    }

    // MARK: Encoding

    static func encodeHeader(_ h: TFBundleHeader) -> [UInt8] {
        var w = ProtoWriter()
        w.varint(1, UInt64(bitPattern: Int64(h.numShards)))
        w.int64(2, h.endianness)
        var v = ProtoWriter()
        v.varint(1, UInt64(bitPattern: Int64(h.producer)))
        v.varint(2, UInt64(bitPattern: Int64(h.minConsumer)))
        w.message(3, v)
        return w.bytes
    }

    static func encodeShape(_ dims: [Int64], unknownRank: Bool = false) -> ProtoWriter {
        var s = ProtoWriter()
        for d in dims {
            var dim = ProtoWriter()
            dim.int64(1, d)
            s.message(2, dim)
        }
        s.varint(3, unknownRank ? 1 : 0)
        return s
    }

    static func encodeEntry(_ e: TFBundleEntry) -> [UInt8] {
        var w = ProtoWriter()
        w.varint(1, UInt64(e.dtype.rawValue))
        w.message(2, encodeShape(e.shape, unknownRank: e.unknownRank))
        w.varint(3, UInt64(bitPattern: Int64(e.shardID)))
        w.int64(4, e.offset)
        w.int64(5, e.size)
        w.fixed32(6, e.crc32c)
        for slice in e.slices {
            var m = ProtoWriter()
            for x in slice.extents {
                var ext = ProtoWriter()
                ext.int64(1, x.start)
                if let length = x.length { ext.int64(2, length, always: true) }
                m.message(1, ext)
            }
            w.message(7, m)
        }
        return w.bytes
    }

    static func encodeObjectGraph(_ g: TFObjectGraph) -> [UInt8] {
        var w = ProtoWriter()
        for node in g.nodes {
            var n = ProtoWriter()
            for c in node.children {
                var m = ProtoWriter()
                m.varint(1, UInt64(c.nodeID))
                m.string(2, c.localName)
                n.message(1, m)
            }
            for a in node.attributes {
                var m = ProtoWriter()
                m.string(1, a.name)
                m.string(2, a.fullName)
                m.string(3, a.checkpointKey)
                n.message(2, m)
            }
            for s in node.slotVariables {
                var m = ProtoWriter()
                m.varint(1, UInt64(s.originalNodeID))
                m.string(2, s.slotName)
                m.varint(3, UInt64(s.slotNodeID))
                n.message(3, m)
            }
            if let v = node.hasCheckpointValues {
                var m = ProtoWriter()
                m.varint(1, v ? 1 : 0)
                n.message(5, m)
            }
            w.message(1, n)
        }
        return w.bytes
    }
}
