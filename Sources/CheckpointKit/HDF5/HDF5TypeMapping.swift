import CRuntimeLibs

/// Datatype inspection and the mapping between HDF5 types and ``DType``. Every function here is
/// called with the HDF5 lock held.
extension HDF5Location {
    func describeType(_ tid: hid_t, path: String) throws -> HDF5TypeInfo {
        let api = library.api
        let cls = api.H5Tget_class(tid)
        guard cls >= 0 else { throw failure("libhdf5 could not read the datatype", path: path) }
        let size = api.H5Tget_size(tid)
        let typeClass: HDF5TypeInfo.TypeClass
        switch cls {
        case HDF5Constants.classInteger: typeClass = .integer
        case HDF5Constants.classFloat: typeClass = .float
        case HDF5Constants.classTime: typeClass = .time
        case HDF5Constants.classString: typeClass = .string
        case HDF5Constants.classBitfield: typeClass = .bitfield
        case HDF5Constants.classOpaque: typeClass = .opaque
        case HDF5Constants.classCompound: typeClass = .compound
        case HDF5Constants.classReference: typeClass = .reference
        case HDF5Constants.classEnum: typeClass = .enumeration
        case HDF5Constants.classVlen: typeClass = .variableLength
        case HDF5Constants.classArray: typeClass = .array
        default: typeClass = .unknown
        }
        var info = HDF5TypeInfo(typeClass: typeClass, size: size, order: .none, isSigned: false,
                                isVariableLengthString: false, charset: nil, stringPadding: nil,
                                floatFields: nil, opaqueTag: nil)
        switch typeClass {
        case .integer, .float, .bitfield, .enumeration, .time:
            switch api.H5Tget_order(tid) {
            case HDF5Constants.orderLE: info.order = .little
            case HDF5Constants.orderBE: info.order = .big
            case HDF5Constants.orderVAX: info.order = .vax
            case HDF5Constants.orderMixed: info.order = .mixed
            default: info.order = .none
            }
        default: break
        }
        switch typeClass {
        case .integer:
            info.isSigned = api.H5Tget_sign(tid) > HDF5Constants.signNone
        case .enumeration:
            let base = try handle(api.H5Tget_super(tid), .datatype, "libhdf5 could not read the enum's base type",
                                  path: path)
            info.isSigned = api.H5Tget_sign(base.id) > HDF5Constants.signNone
        case .string:
            let variable = api.H5Tis_variable_str(tid)
            guard variable >= 0 else { throw failure("libhdf5 could not read the string type", path: path) }
            info.isVariableLengthString = variable > 0
            info.charset = api.H5Tget_cset(tid) == HDF5Constants.csetUTF8 ? .utf8 : .ascii
            switch api.H5Tget_strpad(tid) {
            case HDF5Constants.strNullPad: info.stringPadding = .nullPadded
            case HDF5Constants.strSpacePad: info.stringPadding = .spacePadded
            default: info.stringPadding = .nullTerminated
            }
        case .float:
            var spos = 0, epos = 0, esize = 0, mpos = 0, msize = 0
            try check(api.H5Tget_fields(tid, &spos, &epos, &esize, &mpos, &msize),
                      "libhdf5 could not read the float type", path: path)
            info.floatFields = HDF5TypeInfo.FloatFields(
                signPosition: spos, exponentPosition: epos, exponentSize: esize,
                mantissaPosition: mpos, mantissaSize: msize, exponentBias: api.H5Tget_ebias(tid))
        case .opaque:
            var buffer = [CChar](repeating: 0, count: 300)
            let n = ckpt_hdf5_take_string(api.H5Tget_tag(tid), &buffer, buffer.count)
            info.opaqueTag = n < 0 ? "" : decodeCString(buffer)
        default:
            break
        }
        return info
    }

    /// The tensor dtype a dataset or attribute of this type holds; `.unsupported` for anything else.
    /// `bfloat16Marked`: the dataset carries Keras 3's attribute `dtype = "bfloat16"`.
    func dtype(for info: HDF5TypeInfo, typeID tid: hid_t, bfloat16Marked: Bool, path: String,
               what: String) throws -> DType {
        func refuse(_ detail: String) -> CheckpointError {
            error(.unsupported, "\(what) has \(detail), which is not a supported tensor type", path: path)
        }
        switch info.typeClass {
        case .integer:
            switch (info.size, info.isSigned) {
            case (1, true): return .int8
            case (2, true): return .int16
            case (4, true): return .int32
            case (8, true): return .int64
            case (1, false): return .uint8
            case (2, false): return .uint16
            case (4, false): return .uint32
            case (8, false): return .uint64
            default: throw refuse("HDF5 type \(info)")
            }
        case .float:
            switch info.size {
            case 4: return .float32
            case 8: return .float64
            case 2:
                guard let f = info.floatFields else { throw refuse("HDF5 type \(info)") }
                if f.signPosition == 15, f.exponentPosition == 10, f.exponentSize == 5, f.mantissaPosition == 0,
                   f.mantissaSize == 10 {
                    return .float16
                }
                if f.signPosition == 15, f.exponentPosition == 7, f.exponentSize == 8, f.mantissaPosition == 0,
                   f.mantissaSize == 7 {
                    return .bfloat16
                }
                throw refuse("a 2-byte float type that is neither IEEE half nor bfloat16")
            default:
                throw refuse("HDF5 type \(info)")
            }
        case .enumeration:
            if try isH5pyBool(tid, info: info, path: path) { return .bool }
            throw refuse("an HDF5 enum type other than h5py's bool (int8 FALSE=0, TRUE=1)")
        case .opaque:
            if info.size == 2 && bfloat16Marked { return .bfloat16 }
            throw refuse("a \(info.size)-byte HDF5 opaque type" + (info.size == 2 ? " without Keras' dtype=\"bfloat16\" attribute" : ""))
        case .string:
            throw refuse("HDF5 type \(info)")
        default:
            throw refuse("an HDF5 \(info.typeClass.rawValue) type")
        }
    }

    private func isH5pyBool(_ tid: hid_t, info: HDF5TypeInfo, path: String) throws -> Bool {
        let api = library.api
        guard info.size == 1, api.H5Tget_nmembers(tid) == 2 else { return false }
        var seen: [String: Int8] = [:]
        for i in 0..<UInt32(2) {
            var buffer = [CChar](repeating: 0, count: 16)
            let n = ckpt_hdf5_take_string(api.H5Tget_member_name(tid, i), &buffer, buffer.count)
            guard n > 0, n < 16 else { return false }
            var value: Int8 = 0
            try check(api.H5Tget_member_value(tid, i, &value), "libhdf5 could not read the enum type", path: path)
            seen[decodeCString(buffer)] = value
        }
        return seen == ["FALSE": 0, "TRUE": 1]
    }

    /// The type data of `dtype` is stored as when writing (what h5py writes for the numpy dtype;
    /// bfloat16 as Keras 3 stores it). Library-owned: never close it.
    func fileType(for dtype: DType) -> hid_t {
        let api = library.api
        switch dtype {
        case .bool: return library.boolEnum
        case .int8: return api.T_STD_I8LE
        case .int16: return api.T_STD_I16LE
        case .int32: return api.T_STD_I32LE
        case .int64: return api.T_STD_I64LE
        // float8 never reaches a Keras file: the writer refuses it (Keras's HDF5 store cannot hold it).
        case .uint8, .float8_e4m3fn, .float8_e5m2, .float8_e4m3fnuz, .float8_e5m2fnuz, .float8_e8m0fnu: return api.T_STD_U8LE
        case .uint16: return api.T_STD_U16LE
        case .uint32: return api.T_STD_U32LE
        case .uint64: return api.T_STD_U64LE
        case .float16: return library.float16LE
        case .bfloat16: return library.bfloat16Opaque
        case .float32: return api.T_IEEE_F32LE
        case .float64: return api.T_IEEE_F64LE
        }
    }

    /// The memory type to read data of `dtype` stored as `stored` into little-endian values: libhdf5
    /// converts byte order (and exotic float/integer layouts). Bool and opaque bfloat16 are read as
    /// stored (one byte / raw bits, no conversion). Returns an owned handle when a type was made.
    func memoryType(for dtype: DType, stored: HDF5TypeInfo, typeID: hid_t,
                    path: String) throws -> (hid_t, HDF5Handle?) {
        let api = library.api
        switch dtype {
        case .bool:
            let copy = try handle(api.H5Tcopy(typeID), .datatype, "libhdf5 could not copy the datatype", path: path)
            return (copy.id, copy)
        case .bfloat16:
            if stored.typeClass == .float { return (library.bfloat16FloatLE, nil) }
            let copy = try handle(api.H5Tcopy(typeID), .datatype, "libhdf5 could not copy the datatype", path: path)
            return (copy.id, copy)
        default:
            return (fileType(for: dtype), nil)
        }
    }

    /// The shape of a dataspace; nil for a null dataspace (h5py `Empty`).
    func extent(_ space: HDF5Handle, path: String) throws -> [Int]? {
        let api = library.api
        let cls = api.H5Sget_simple_extent_type(space.id)
        switch cls {
        case HDF5Constants.spaceNull: return nil
        case HDF5Constants.spaceScalar: return []
        case HDF5Constants.spaceSimple: break
        default: throw failure("libhdf5 could not read the dataspace", path: path)
        }
        let rank = api.H5Sget_simple_extent_ndims(space.id)
        guard rank >= 0 else { throw failure("libhdf5 could not read the dataspace", path: path) }
        guard rank <= HDF5Constants.maxRank else {
            throw error(.invalidHDF5, "the dataspace has rank \(rank), more than \(HDF5Constants.maxRank)", path: path)
        }
        var dims = [hsize_t](repeating: 0, count: max(Int(rank), 1))
        try check(api.H5Sget_simple_extent_dims(space.id, &dims, nil), "libhdf5 could not read the dataspace",
                  path: path)
        var shape: [Int] = []
        for d in dims.prefix(Int(rank)) {
            guard d <= UInt64(Int.max) else {
                throw error(.limitExceeded, "a dimension of \(d) does not fit in memory", path: path)
            }
            shape.append(Int(d))
        }
        return shape
    }

    /// Creates a dataspace of `shape` (`[]` = scalar).
    func makeSpace(_ shape: [Int], path: String) throws -> HDF5Handle {
        let api = library.api
        if shape.isEmpty {
            return try handle(api.H5Screate(HDF5Constants.spaceScalar), .dataspace,
                              "libhdf5 could not create a dataspace", path: path)
        }
        let dims = shape.map { hsize_t($0) }
        return try handle(api.H5Screate_simple(Int32(dims.count), dims, nil), .dataspace,
                          "libhdf5 could not create a dataspace", path: path)
    }
}

/// Splits the flat (C-order) element range `range` of an array of `shape` into at most 2 × rank
/// boxes (start, count) whose union, in C order, is exactly that range.
func hyperslabBoxes(_ range: Range<Int>, shape: [Int]) -> [(start: [UInt64], count: [UInt64])] {
    var out: [(start: [UInt64], count: [UInt64])] = []
    func split(_ lo: Int, _ hi: Int, _ dims: ArraySlice<Int>, _ prefix: [UInt64]) {
        guard lo < hi, !dims.isEmpty else { return }
        let rest = dims.dropFirst()
        let rowSize = rest.reduce(1, *)
        var r0 = lo / rowSize
        let o0 = lo % rowSize
        let r1 = hi / rowSize
        let o1 = hi % rowSize
        if r0 == r1 {
            split(o0, o1, rest, prefix + [UInt64(r0)])
            return
        }
        if o0 != 0 {
            split(o0, rowSize, rest, prefix + [UInt64(r0)])
            r0 += 1
        }
        if r1 > r0 {
            let ones = [UInt64](repeating: 1, count: prefix.count)
            out.append((start: prefix + [UInt64(r0)] + rest.map { _ in 0 },
                        count: ones + [UInt64(r1 - r0)] + rest.map { UInt64($0) }))
        }
        if o1 != 0 {
            split(0, o1, rest, prefix + [UInt64(r1)])
        }
    }
    split(range.lowerBound, range.upperBound, shape[...], [])
    return out
}
