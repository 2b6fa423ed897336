/// An HDF5 datatype as stored in the file.
public struct HDF5TypeInfo: Sendable, Hashable, CustomStringConvertible {
    public enum TypeClass: String, Sendable, Hashable {
        case integer, float, time, string, bitfield, opaque, compound, reference
        case enumeration = "enum"
        case variableLength = "vlen"
        case array, unknown
    }

    public enum ByteOrder: String, Sendable, Hashable {
        case little, big, vax, mixed, none
    }

    public enum Charset: String, Sendable, Hashable {
        case ascii
        case utf8 = "utf-8"
    }

    public enum StringPadding: String, Sendable, Hashable {
        case nullTerminated, nullPadded, spacePadded
    }

    public var typeClass: TypeClass
    /// Bytes per element in the file (variable-length strings: the size of libhdf5's in-memory handle).
    public var size: Int
    public var order: ByteOrder
    /// Integers and enumerations: whether the (base) integer is signed.
    public var isSigned: Bool
    /// Strings: variable-length (h5py `str` / object arrays) rather than fixed-length (numpy `S`).
    public var isVariableLengthString: Bool
    public var charset: Charset?
    public var stringPadding: StringPadding?
    /// Floats: bit positions (sign, exponent position and size, mantissa position and size) and bias.
    public var floatFields: FloatFields?
    /// Opaque types: the tag (empty when none was set, as with h5py/ml_dtypes bfloat16).
    public var opaqueTag: String?

    public struct FloatFields: Sendable, Hashable {
        public var signPosition: Int
        public var exponentPosition: Int
        public var exponentSize: Int
        public var mantissaPosition: Int
        public var mantissaSize: Int
        public var exponentBias: Int
    }

    public var description: String {
        switch typeClass {
        case .string:
            let length = isVariableLengthString ? "variable-length" : "\(size)-byte"
            return "\(length) \(charset?.rawValue ?? "ascii") string"
        case .integer:
            return "\(size)-byte \(isSigned ? "signed" : "unsigned") \(order.rawValue)-endian integer"
        case .float:
            return "\(size)-byte \(order.rawValue)-endian float"
        default:
            return "\(size)-byte \(typeClass.rawValue)"
        }
    }
}

public enum HDF5Layout: String, Sendable, Hashable {
    case compact, contiguous, chunked
}

/// One filter of a chunked dataset's pipeline. libhdf5 applies built-in filters (deflate/gzip,
/// shuffle, fletcher32, nbit, scaleoffset, szip when built in) itself; plugin loading is disabled.
public struct HDF5Filter: Sendable, Hashable {
    public var id: Int
    /// `gzip` for deflate (h5py's name), `shuffle`, `fletcher32`, ...; else the name the file records.
    public var name: String
    public var clientData: [UInt32]
    /// Whether this libhdf5 can decode it.
    public var isAvailable: Bool
}

/// What a dataset holds, read from its metadata only.
public struct HDF5DatasetInfo: Sendable, Hashable {
    /// Absolute HDF5 path (`/layers/dense/vars/0`).
    public var path: String
    /// Dimensions, outermost first; `[]` for a scalar.
    public var shape: [Int]
    public var dtype: DType
    /// The type as stored; data is always returned little-endian in ``dtype``.
    public var storedType: HDF5TypeInfo
    public var layout: HDF5Layout
    public var chunkShape: [Int]?
    public var filters: [HDF5Filter]
    /// Bytes allocated in the file (0 when never written).
    public var storageSize: UInt64
    /// Contiguous datasets: address of the data in the file (relative to the HDF5 base address), if allocated.
    public var offset: UInt64?
    public var elementCount: Int
    /// elementCount × dtype.itemSize (checked against ``HDF5Limits/maxTensorBytes``).
    public var byteCount: Int
}

/// What a link in a group points to.
public enum HDF5LinkKind: Sendable, Hashable {
    case group
    case dataset
    case namedDatatype
    /// A soft link (a path inside the same file), not followed by listings or walks.
    case softLink(target: String)
}

public struct HDF5Link: Sendable, Hashable {
    public var name: String
    public var kind: HDF5LinkKind
    /// Creation order index, when the group tracks it.
    public var creationOrder: Int64?
}

public enum HDF5LinkOrder: Sendable, Hashable {
    /// Byte-wise lexicographic order of names (h5py's order: `vars/10` before `vars/2`).
    case name
    /// Creation order when the group indexes it (h5py `track_order=True`), otherwise name order.
    case creationIfTracked
}

/// One object met by ``HDF5File/walk()``.
public struct HDF5Node: Sendable, Hashable {
    /// `/` for the root, else the path relative to the root without a leading slash (`layers/dense/vars/0`),
    /// as h5py's `visititems` names it.
    public var path: String
    public var kind: HDF5LinkKind
}

/// An attribute's value.
public struct HDF5Attribute: Sendable, Hashable {
    public enum Value: Sendable, Hashable {
        /// String attributes (scalar or arrays, fixed- or variable-length), in C order.
        case strings([String])
        /// Numeric (and bool) attributes, little-endian bytes in C order.
        case numbers(DType, [UInt8])
        /// A null dataspace (h5py `Empty`).
        case empty
    }

    public var name: String
    public var type: HDF5TypeInfo
    /// `[]` for scalars, `nil` for a null dataspace.
    public var shape: [Int]?
    public var value: Value

    /// The string of a scalar string attribute.
    public var stringValue: String? {
        if case .strings(let s) = value, shape == [], s.count == 1 { return s[0] }
        return nil
    }

    /// The strings of a string attribute of any shape (a scalar gives one).
    public var stringValues: [String]? {
        if case .strings(let s) = value { return s }
        return nil
    }

    /// Numeric values as doubles (bool as 0/1); nil for strings. int64 beyond 2^53 lose precision.
    public var doubleValues: [Double]? {
        switch value {
        case .strings: return nil
        case .empty: return []
        case .numbers(let dtype, let bytes): return littleEndianDoubles(dtype, bytes)
        }
    }
}

/// How ``HDF5Object/setAttribute(_:strings:storage:)`` stores strings.
public enum HDF5StringStorage: Sendable, Hashable {
    /// Variable-length strings (h5py `str`, object arrays).
    case variableLength(HDF5TypeInfo.Charset)
    /// Fixed-length, NUL-padded, ASCII-tagged byte strings sized to the longest (numpy `S` arrays,
    /// as Keras 2 wrote `layer_names` / `weight_names`).
    case fixedLength
}

/// Decodes little-endian values of `dtype` to doubles (``Elements``: the one decoder).
func littleEndianDoubles(_ dtype: DType, _ bytes: [UInt8]) -> [Double] {
    var out: [Double] = []
    out.reserveCapacity(bytes.count / dtype.itemSize)
    bytes.withUnsafeBytes { b in Elements.forEach(dtype, b) { out.append($0) } }
    return out
}
