import CRuntimeLibs

/// A group or dataset of an ``HDF5File``: attributes are read and written here.
public class HDF5Object: @unchecked Sendable {
    // @unchecked Sendable: immutable after init; libhdf5 state is only touched with the HDF5 lock held.

    /// The file (kept alive by its objects).
    public let file: HDF5File
    /// Absolute HDF5 path as it was asked for (`/layers/dense/vars/0`); `/` for the root.
    public let path: String
    let handle: HDF5Handle

    init(file: HDF5File, path: String, handle: HDF5Handle) {
        self.file = file
        self.path = path
        self.handle = handle
    }

    var location: HDF5Location { file.location }
    var api: ckpt_hdf5_api { file.library.api }

    // MARK: Reading attributes

    /// Attribute names in name order.
    public func attributeNames() throws -> [String] {
        try withHDF5Lock {
            var names: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?
            var count = 0
            let status = ckpt_hdf5_list_attributes(handle.id, file.limits.maxAttributesPerObject, &names, &count)
            switch status {
            case 0: break
            case -2:
                throw location.error(.limitExceeded,
                                     "the HDF5 object has more than \(file.limits.maxAttributesPerObject) attributes",
                                     path: path)
            case -3: throw location.error(.limitExceeded, "out of memory listing attributes", path: path)
            default: throw location.failure("libhdf5 could not list the attributes", path: path)
            }
            defer { ckpt_hdf5_free_names(names, count) }
            guard let names else { return [] }
            var out: [String] = []
            for i in 0..<count {
                guard let c = names[i], let name = decodeUTF8(cString: c) else {
                    throw location.error(.invalidHDF5, "an attribute name is not valid UTF-8", path: path)
                }
                out.append(name)
            }
            return out
        }
    }

    public func hasAttribute(_ name: String) throws -> Bool {
        try withHDF5Lock { try attributeExists(name) }
    }

    /// The attribute `name`, or nil if there is none. Throws `.unsupported` for types that are
    /// neither strings nor numbers (compound, references...).
    public func attribute(_ name: String) throws -> HDF5Attribute? {
        try withHDF5Lock { try readAttribute(name) }
    }

    /// Every attribute, in name order.
    public func attributes() throws -> [HDF5Attribute] {
        try attributeNames().compactMap { try attribute($0) }
    }

    /// A scalar (or one-element) string attribute; nil if absent; `.invalidHDF5` if not a string.
    public func stringAttribute(_ name: String) throws -> String? {
        guard let a = try attribute(name) else { return nil }
        guard case .strings(let s) = a.value, s.count == 1 else {
            throw location.error(.invalidHDF5, "attribute \"\(name)\" is not a single string (it is \(describe(a)))",
                                 path: path)
        }
        return s[0]
    }

    /// A string attribute of any shape, flattened (a scalar gives one string); nil if absent.
    public func stringArrayAttribute(_ name: String) throws -> [String]? {
        guard let a = try attribute(name) else { return nil }
        switch a.value {
        case .strings(let s): return s
        case .empty: return []
        case .numbers(_, let bytes) where bytes.isEmpty: return [] // Keras 2 writes [] as float64[0]
        default:
            throw location.error(.invalidHDF5, "attribute \"\(name)\" is not a string array (it is \(describe(a)))",
                                 path: path)
        }
    }

    private func describe(_ a: HDF5Attribute) -> String {
        let shape = a.shape.map { "shape \($0)" } ?? "empty"
        return "\(a.type), \(shape)"
    }

    /// Lock held.
    func attributeExists(_ name: String) throws -> Bool {
        guard !name.utf8.contains(0) else {
            throw location.error(.invalidArgument, "the attribute name contains a NUL character", path: path)
        }
        let r = api.H5Aexists(handle.id, name)
        if r < 0 { throw location.failure("libhdf5 could not look attribute \"\(name)\" up", path: path) }
        return r > 0
    }

    /// Lock held.
    func readAttribute(_ name: String) throws -> HDF5Attribute? {
        guard try attributeExists(name) else { return nil }
        let what = "attribute \"\(name)\""
        let api = self.api
        let a = try location.handle(api.H5Aopen(handle.id, name, HDF5Constants.defaultPlist), .attribute,
                                    "libhdf5 could not open \(what)", path: path)
        let t = try location.handle(api.H5Aget_type(a.id), .datatype, "libhdf5 could not read \(what)'s type",
                                    path: path)
        let s = try location.handle(api.H5Aget_space(a.id), .dataspace,
                                    "libhdf5 could not read \(what)'s dataspace", path: path)
        let type = try location.describeType(t.id, path: path)
        guard let shape = try location.extent(s, path: path) else {
            return HDF5Attribute(name: name, type: type, shape: nil, value: .empty)
        }
        guard let count = TensorInfo.elementCount(shape) else {
            throw location.error(.limitExceeded, "\(what) declares too many elements", path: path)
        }
        let limit = file.limits.maxAttributeBytes
        switch type.typeClass {
        case .string:
            if type.isVariableLengthString {
                return HDF5Attribute(name: name, type: type, shape: shape,
                                     value: .strings(try readVariableStrings(a, space: s, type: type, count: count,
                                                                             what: what)))
            }
            let (total, overflow) = count.multipliedReportingOverflow(by: max(type.size, 1))
            guard !overflow, total <= limit else {
                throw location.error(.limitExceeded, "\(what) is larger than \(limit) bytes", path: path)
            }
            let mem = try location.handle(api.H5Tcopy(t.id), .datatype, "libhdf5 could not copy \(what)'s type",
                                          path: path)
            var bytes = [UInt8](repeating: 0, count: total)
            if total > 0 {
                let status = bytes.withUnsafeMutableBytes { api.H5Aread(a.id, mem.id, $0.baseAddress) }
                try location.check(status, "libhdf5 could not read \(what)", path: path)
            }
            var strings: [String] = []
            strings.reserveCapacity(count)
            for i in 0..<count {
                var element = bytes[(i * type.size)..<((i + 1) * type.size)]
                if let nul = element.firstIndex(of: 0) { element = element[..<nul] }
                if type.stringPadding == .spacePadded {
                    while element.last == 0x20 { element = element.dropLast() }
                }
                guard let s = element.withUnsafeBytes({ decodeUTF8($0) }) else {
                    throw location.error(.invalidHDF5, "\(what) is not valid UTF-8", path: path)
                }
                strings.append(s)
            }
            return HDF5Attribute(name: name, type: type, shape: shape, value: .strings(strings))
        case .integer, .float, .enumeration:
            let dtype = try location.dtype(for: type, typeID: t.id, bfloat16Marked: false, path: path, what: what)
            let (total, overflow) = count.multipliedReportingOverflow(by: dtype.itemSize)
            guard !overflow, total <= limit else {
                throw location.error(.limitExceeded, "\(what) is larger than \(limit) bytes", path: path)
            }
            let (mem, owned) = try location.memoryType(for: dtype, stored: type, typeID: t.id, path: path)
            var bytes = [UInt8](repeating: 0, count: total)
            if total > 0 {
                let status = bytes.withUnsafeMutableBytes { api.H5Aread(a.id, mem, $0.baseAddress) }
                try location.check(status, "libhdf5 could not read \(what)", path: path)
            }
            withExtendedLifetime(owned) {}
            return HDF5Attribute(name: name, type: type, shape: shape, value: .numbers(dtype, bytes))
        default:
            throw location.error(.unsupported, "\(what) has HDF5 type \(type), which is not supported", path: path)
        }
    }

    private func readVariableStrings(_ a: HDF5Handle, space: HDF5Handle, type: HDF5TypeInfo, count: Int,
                                     what: String) throws -> [String] {
        let api = self.api
        let limit = file.limits.maxAttributeBytes
        guard count <= limit / MemoryLayout<UnsafeRawPointer>.size else {
            throw location.error(.limitExceeded, "\(what) holds more than \(limit) bytes", path: path)
        }
        guard count > 0 else { return [] }
        let mem = try location.handle(api.H5Tcopy(api.T_C_S1), .datatype, "libhdf5 could not create a string type",
                                      path: path)
        try location.check(api.H5Tset_size(mem.id, HDF5Constants.variableSize),
                           "libhdf5 could not create a string type", path: path)
        try location.check(api.H5Tset_cset(mem.id, type.charset == .utf8 ? HDF5Constants.csetUTF8 : HDF5Constants.csetASCII),
                           "libhdf5 could not create a string type", path: path)
        var pointers = [UnsafeMutablePointer<CChar>?](repeating: nil, count: count)
        let status = pointers.withUnsafeMutableBytes { api.H5Aread(a.id, mem.id, $0.baseAddress) }
        try location.check(status, "libhdf5 could not read \(what)", path: path)
        defer { _ = pointers.withUnsafeMutableBytes { ckpt_hdf5_reclaim(mem.id, space.id, $0.baseAddress) } }
        var strings: [String] = []
        strings.reserveCapacity(count)
        var total = 0
        for p in pointers {
            guard let p else {
                strings.append("")
                continue
            }
            guard let s = decodeUTF8(cString: p) else {
                throw location.error(.invalidHDF5, "\(what) is not valid UTF-8", path: path)
            }
            total += s.utf8.count
            guard total <= limit else {
                throw location.error(.limitExceeded, "\(what) holds more than \(limit) bytes", path: path)
            }
            strings.append(s)
        }
        return strings
    }

    // MARK: Writing attributes

    /// A scalar variable-length string attribute, exactly as h5py writes `obj.attrs[name] = "text"`
    /// (UTF-8; pass `.ascii` for what h5py writes for `bytes`). Replaces an existing attribute.
    public func setAttribute(_ name: String, string: String, charset: HDF5TypeInfo.Charset = .utf8) throws {
        try writeStrings(name, [string], shape: [], storage: .variableLength(charset))
    }

    /// A 1-D string attribute: variable-length (h5py `str` lists) or fixed-length NUL-padded
    /// (numpy `S` arrays, as Keras 2 wrote `layer_names`). Replaces an existing attribute.
    public func setAttribute(_ name: String, strings: [String], storage: HDF5StringStorage) throws {
        try writeStrings(name, strings, shape: [strings.count], storage: storage)
    }

    /// A numeric attribute from little-endian bytes of `dtype` in C order (`shape` `[]` = scalar).
    public func setAttribute(_ name: String, dtype: DType, shape: [Int], littleEndianBytes bytes: [UInt8]) throws {
        guard let count = TensorInfo.elementCount(shape), count.multipliedReportingOverflow(by: dtype.itemSize)
            == (bytes.count, false) else {
            throw location.error(.invalidArgument,
                                 "attribute \"\(name)\": \(bytes.count) bytes do not hold \(dtype) of shape \(shape)",
                                 path: path)
        }
        try withHDF5Lock {
            let type = location.fileType(for: dtype)
            try bytes.withUnsafeBytes { try writeAttribute(name, type: type, shape: shape, data: $0.baseAddress) }
        }
    }

    private func writeStrings(_ name: String, _ strings: [String], shape: [Int], storage: HDF5StringStorage) throws {
        for s in strings where s.utf8.contains(0) {
            throw location.error(.invalidArgument, "attribute \"\(name)\": a string contains a NUL character",
                                 path: path)
        }
        try withHDF5Lock {
            let api = self.api
            let type = try location.handle(api.H5Tcopy(api.T_C_S1), .datatype,
                                           "libhdf5 could not create a string type", path: path)
            switch storage {
            case .variableLength(let charset):
                try location.check(api.H5Tset_size(type.id, HDF5Constants.variableSize),
                                   "libhdf5 could not create a string type", path: path)
                try location.check(api.H5Tset_cset(type.id, charset == .utf8 ? HDF5Constants.csetUTF8
                                                        : HDF5Constants.csetASCII),
                                   "libhdf5 could not create a string type", path: path)
                // One buffer holding every string NUL-terminated, and pointers into it.
                var buffer: [CChar] = []
                var offsets: [Int] = []
                for s in strings {
                    offsets.append(buffer.count)
                    buffer.append(contentsOf: s.utf8.map { CChar(bitPattern: $0) })
                    buffer.append(0)
                }
                try buffer.withUnsafeBufferPointer { chars in
                    let base = chars.baseAddress
                    let pointers: [UnsafePointer<CChar>?] = offsets.map { offset in base.map { $0 + offset } }
                    try pointers.withUnsafeBytes {
                        try writeAttribute(name, type: type.id, shape: shape, data: $0.baseAddress)
                    }
                }
            case .fixedLength:
                let width = max(1, strings.map { $0.utf8.count }.max() ?? 1)
                try location.check(api.H5Tset_size(type.id, width), "libhdf5 could not create a string type",
                                   path: path)
                try location.check(api.H5Tset_strpad(type.id, HDF5Constants.strNullPad),
                                   "libhdf5 could not create a string type", path: path)
                var bytes = [UInt8](repeating: 0, count: width * strings.count)
                for (i, s) in strings.enumerated() {
                    for (k, b) in s.utf8.enumerated() { bytes[i * width + k] = b }
                }
                try bytes.withUnsafeBytes { try writeAttribute(name, type: type.id, shape: shape, data: $0.baseAddress) }
            }
        }
    }

    /// Lock held.
    private func writeAttribute(_ name: String, type: hid_t, shape: [Int], data: UnsafeRawPointer?) throws {
        guard !name.isEmpty else {
            throw location.error(.invalidArgument, "an attribute name is empty", path: path)
        }
        let what = "attribute \"\(name)\""
        if try attributeExists(name) {
            try location.check(api.H5Adelete(handle.id, name), "libhdf5 could not replace \(what)", path: path)
        }
        let space = try location.makeSpace(shape, path: path)
        let a = try location.handle(api.H5Acreate2(handle.id, name, type, space.id, HDF5Constants.defaultPlist,
                                                    HDF5Constants.defaultPlist),
                                    .attribute, "libhdf5 could not create \(what)", path: path)
        if (TensorInfo.elementCount(shape) ?? 0) > 0 {
            try location.check(api.H5Awrite(a.id, type, data), "libhdf5 could not write \(what)", path: path)
        }
        if !a.close() { throw location.failure("libhdf5 could not write \(what)", path: path) }
    }
}
