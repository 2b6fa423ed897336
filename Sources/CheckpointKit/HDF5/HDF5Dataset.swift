import CRuntimeLibs

/// An HDF5 dataset: metadata, and data read or written as little-endian bytes of its ``DType``,
/// whole or in flat (C-order) element ranges so large tensors stream through bounded buffers.
public final class HDF5Dataset: HDF5Object, @unchecked Sendable {
    // @unchecked Sendable: see HDF5Object.

    /// For datasets this process created: what they were created as.
    let created: (dtype: DType, shape: [Int])?

    init(file: HDF5File, path: String, handle: HDF5Handle, created: (DType, [Int])? = nil) {
        self.created = created
        super.init(file: file, path: path, handle: handle)
    }

    // MARK: Metadata

    /// Shape, dtype, layout, filters and sizes. Throws `.unsupported` for data that is not a tensor
    /// of a supported dtype, for external storage and virtual datasets; `.limitExceeded` if the
    /// declared size overflows or exceeds ``HDF5Limits/maxTensorBytes``.
    public func info() throws -> HDF5DatasetInfo {
        try withHDF5Lock { try inspect().info }
    }

    /// The datatype as stored (also for datasets ``info()`` refuses).
    public func storedType() throws -> HDF5TypeInfo {
        try withHDF5Lock {
            let t = try location.handle(api.H5Dget_type(handle.id), .datatype,
                                        "libhdf5 could not read the dataset's type", path: path)
            return try location.describeType(t.id, path: path)
        }
    }

    /// The shape (also for datasets ``info()`` refuses); nil for a null dataspace.
    public func shape() throws -> [Int]? {
        try withHDF5Lock {
            let space = try location.handle(api.H5Dget_space(handle.id), .dataspace,
                                            "libhdf5 could not read the dataset's dataspace", path: path)
            return try location.extent(space, path: path)
        }
    }

    /// Lock held.
    private func inspect() throws -> (info: HDF5DatasetInfo, type: HDF5Handle) {
        let api = self.api
        let limits = file.limits
        let space = try location.handle(api.H5Dget_space(handle.id), .dataspace,
                                        "libhdf5 could not read the dataset's dataspace", path: path)
        guard let shape = try location.extent(space, path: path) else {
            throw location.error(.unsupported, "the HDF5 dataset has a null dataspace (h5py Empty), not a tensor",
                                 path: path)
        }
        let t = try location.handle(api.H5Dget_type(handle.id), .datatype,
                                    "libhdf5 could not read the dataset's type", path: path)
        let type = try location.describeType(t.id, path: path)
        let dcpl = try location.handle(api.H5Dget_create_plist(handle.id), .propertyList,
                                       "libhdf5 could not read the dataset's creation properties", path: path)
        let layout: HDF5Layout
        switch api.H5Pget_layout(dcpl.id) {
        case HDF5Constants.layoutCompact: layout = .compact
        case HDF5Constants.layoutContiguous: layout = .contiguous
        case HDF5Constants.layoutChunked: layout = .chunked
        case HDF5Constants.layoutVirtual:
            throw location.error(.unsupported, "HDF5 virtual dataset refused: its data lives in other datasets or files",
                                 path: path)
        default:
            throw location.failure("libhdf5 could not read the dataset's layout", path: path)
        }
        let external = api.H5Pget_external_count(dcpl.id)
        if external < 0 { throw location.failure("libhdf5 could not read the dataset's storage", path: path) }
        if external > 0 {
            throw location.error(.unsupported, "HDF5 dataset with external storage refused: its data lives in other files",
                                 path: path)
        }
        var chunkShape: [Int]?
        if layout == .chunked {
            var dims = [hsize_t](repeating: 0, count: HDF5Constants.maxRank)
            let rank = api.H5Pget_chunk(dcpl.id, Int32(HDF5Constants.maxRank), &dims)
            guard rank >= 0, Int(rank) <= HDF5Constants.maxRank else {
                throw location.failure("libhdf5 could not read the dataset's chunk shape", path: path)
            }
            chunkShape = dims.prefix(Int(rank)).map { Int(clamping: $0) }
        }
        var filters: [HDF5Filter] = []
        let filterCount = api.H5Pget_nfilters(dcpl.id)
        if filterCount < 0 { throw location.failure("libhdf5 could not read the dataset's filters", path: path) }
        for i in 0..<UInt32(filterCount) {
            var flags: UInt32 = 0
            var count = 16
            var values = [UInt32](repeating: 0, count: 16)
            var name = [CChar](repeating: 0, count: 257)
            var config: UInt32 = 0
            let id = api.H5Pget_filter2(dcpl.id, i, &flags, &count, &values, 256, &name, &config)
            if id < 0 { throw location.failure("libhdf5 could not read the dataset's filters", path: path) }
            filters.append(HDF5Filter(id: Int(id), name: Self.filterName(Int(id), recorded: decodeCString(name)),
                                      clientData: Array(values.prefix(min(count, 16))),
                                      isAvailable: api.H5Zfilter_avail(id) > 0))
        }
        let storage = api.H5Dget_storage_size(handle.id)
        var offset: UInt64?
        if layout == .contiguous {
            let address = api.H5Dget_offset(handle.id)
            if address != HDF5Constants.undefinedAddress { offset = address }
        }
        var bfloat16Marked = false
        if type.typeClass == .opaque && type.size == 2, let a = try readAttribute("dtype"),
           a.stringValues == ["bfloat16"] {
            bfloat16Marked = true
        }
        let dtype = try location.dtype(for: type, typeID: t.id, bfloat16Marked: bfloat16Marked, path: path,
                                       what: "the HDF5 dataset")
        guard let count = TensorInfo.elementCount(shape) else {
            throw location.error(.limitExceeded, "the HDF5 dataset's shape \(shape) overflows", path: path)
        }
        let (bytes, overflow) = count.multipliedReportingOverflow(by: dtype.itemSize)
        guard !overflow, bytes <= limits.maxTensorBytes else {
            throw location.error(.limitExceeded,
                                 "the HDF5 dataset's shape \(shape) of \(dtype) exceeds the \(limits.maxTensorBytes)-byte tensor limit",
                                 path: path)
        }
        let info = HDF5DatasetInfo(path: path, shape: shape, dtype: dtype, storedType: type, layout: layout,
                                   chunkShape: chunkShape, filters: filters, storageSize: storage, offset: offset,
                                   elementCount: count, byteCount: bytes)
        return (info, t)
    }

    static func filterName(_ id: Int, recorded: String) -> String {
        switch id {
        case 1: return "gzip"
        case 2: return "shuffle"
        case 3: return "fletcher32"
        case 4: return "szip"
        case 5: return "nbit"
        case 6: return "scaleoffset"
        case 32000: return "lzf"
        default: return recorded.isEmpty ? "filter \(id)" : recorded
        }
    }

    // MARK: Reading

    private struct ReadPlan {
        var info: HDF5DatasetInfo
        var memoryType: hid_t
        var owned: HDF5Handle?
    }

    /// Lock held.
    private func makePlan() throws -> ReadPlan {
        let (info, type) = try inspect()
        if let f = info.filters.first(where: { !$0.isAvailable }) {
            throw location.error(.unsupported,
                                 "the HDF5 dataset is encoded with \(f.name == "filter \(f.id)" ? f.name : "filter \"\(escapeForDisplay(f.name))\" (id \(f.id))"), which this libhdf5 cannot decode",
                                 path: path)
        }
        try checkBacked(info)
        let (mem, owned) = try location.memoryType(for: info.dtype, stored: info.storedType, typeID: type.id,
                                                   path: path)
        return ReadPlan(info: info, memoryType: mem, owned: owned)
    }

    /// Before any data is read: chunks no larger than ``HDF5Limits/maxChunkBytes`` (libhdf5
    /// inflates a whole chunk to read any byte of it), and data the file really stores — a dataset
    /// whose storage was never (or only partly) written is made up by libhdf5 from its fill value,
    /// so a few kilobytes could declare gigabytes; refused unless ``HDF5Limits/allowSparse``.
    /// Lock held.
    private func checkBacked(_ info: HDF5DatasetInfo) throws {
        let limits = file.limits
        guard info.elementCount > 0 else { return }
        if let chunk = info.chunkShape {
            var bytes = info.storedType.size
            for d in chunk {
                let (p, o) = bytes.multipliedReportingOverflow(by: max(d, 1))
                bytes = o ? Int.max : p
            }
            guard bytes <= limits.maxChunkBytes else {
                throw location.error(.limitExceeded,
                                     "the HDF5 dataset is stored in chunks of \(bytes) bytes (chunk shape \(chunk)), more than the \(limits.maxChunkBytes)-byte limit (libhdf5 inflates a whole chunk to read any part of it)",
                                     path: path)
            }
        }
        guard !limits.allowSparse else { return }
        let stored: String?
        switch info.layout {
        case .compact: stored = nil // in the object header: always there
        case .contiguous:
            let full = UInt64(info.elementCount) * UInt64(info.storedType.size)
            stored = info.storageSize < full ? "\(info.storageSize) of them" : nil
        case .chunked:
            var total: UInt64 = 1
            for (d, c) in zip(info.shape, info.chunkShape ?? []) where c > 0 {
                total = total.multipliedReportingOverflow(by: UInt64((d + c - 1) / c)).partialValue
            }
            if let count = api.H5Dget_num_chunks {
                var n: hsize_t = 0
                let space = try location.handle(api.H5Dget_space(handle.id), .dataspace,
                                                "libhdf5 could not read the dataset's shape", path: path)
                guard count(handle.id, space.id, &n) >= 0 else {
                    throw location.failure("libhdf5 could not count the dataset's chunks", path: path)
                }
                stored = n < total ? "\(n) of its \(total) chunks" : nil
            } else {
                stored = info.storageSize == 0 ? "none of its \(total) chunks" : nil
            }
        }
        if let stored {
            throw location.error(.corrupt,
                                 "the HDF5 dataset declares \(info.byteCount) bytes but the file stores only \(stored); libhdf5 would make the rest up from the fill value (pass --allow-sparse to accept that)",
                                 path: path)
        }
    }

    /// Drops the chunks libhdf5 keeps cached for this dataset (up to ``HDF5Limits/maxChunkCacheBytes``
    /// while it stays open): call it when done reading, so that the cache of many open datasets
    /// does not add up. Harmless for unchunked datasets and where libhdf5 lacks `H5Drefresh`.
    public func releaseChunkCache() {
        withHDF5Lock {
            guard let refresh = api.H5Drefresh else { return }
            if refresh(handle.id) < 0 { _ = api.H5Eclear2(HDF5Constants.defaultPlist) }
        }
    }

    /// The whole dataset as little-endian bytes of its dtype, C order.
    public func read() throws -> [UInt8] {
        try withHDF5Lock {
            let plan = try makePlan()
            let n = plan.info.byteCount
            return try [UInt8](unsafeUninitializedCapacity: n) { buffer, initialized in
                if let base = buffer.baseAddress, n > 0 {
                    try readRange(plan, 0..<plan.info.elementCount, into: UnsafeMutableRawPointer(base))
                }
                initialized = n
            }
        }
    }

    /// The whole dataset into `buffer`, which must be exactly ``HDF5DatasetInfo/byteCount`` bytes.
    public func read(into buffer: UnsafeMutableRawBufferPointer) throws {
        try withHDF5Lock {
            let plan = try makePlan()
            guard buffer.count == plan.info.byteCount else {
                throw location.error(.invalidArgument,
                                     "a \(buffer.count)-byte buffer cannot hold the dataset's \(plan.info.byteCount) bytes",
                                     path: path)
            }
            if let base = buffer.baseAddress, plan.info.elementCount > 0 {
                try readRange(plan, 0..<plan.info.elementCount, into: base)
            }
        }
    }

    /// Elements `range` of the flattened (C-order) dataset into `buffer` (exactly range.count × item size).
    public func read(elements range: Range<Int>, into buffer: UnsafeMutableRawBufferPointer) throws {
        try withHDF5Lock {
            let plan = try makePlan()
            try checkRange(range, bytes: buffer.count, info: plan.info)
            if let base = buffer.baseAddress, !range.isEmpty {
                try readRange(plan, range, into: base)
            }
        }
    }

    /// Streams the whole dataset in C order through one buffer of about `chunkBytes` bytes (at least
    /// one element): `body` sees consecutive pieces, each valid only during the call. libhdf5 is not
    /// locked while `body` runs, so it may read or write other HDF5 files.
    public func read(chunkBytes: Int = 16 << 20, _ body: (UnsafeRawBufferPointer) throws -> Void) throws {
        let plan = try withHDF5Lock { try makePlan() }
        let item = plan.info.dtype.itemSize
        let total = plan.info.elementCount
        guard total > 0 else { return }
        let perPiece = min(total, max(1, chunkBytes / item))
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: perPiece * item, alignment: 16)
        defer { buffer.deallocate() }
        guard let base = buffer.baseAddress else { return }
        var start = 0
        while start < total {
            let end = total - start > perPiece ? start + perPiece : total
            try withHDF5Lock { try readRange(plan, start..<end, into: base) }
            try body(UnsafeRawBufferPointer(start: base, count: (end - start) * item))
            start = end
        }
    }

    private func checkRange(_ range: Range<Int>, bytes: Int, info: HDF5DatasetInfo) throws {
        guard range.lowerBound >= 0, range.upperBound <= info.elementCount else {
            throw location.error(.invalidArgument,
                                 "elements \(range) are outside the dataset's \(info.elementCount) elements", path: path)
        }
        guard range.count * info.dtype.itemSize == bytes else {
            throw location.error(.invalidArgument,
                                 "\(bytes) bytes do not match \(range.count) elements of \(info.dtype)", path: path)
        }
    }

    /// Lock held.
    private func readRange(_ plan: ReadPlan, _ range: Range<Int>, into buffer: UnsafeMutableRawPointer) throws {
        let api = self.api
        let what = "libhdf5 could not read the dataset's data"
        if range == 0..<plan.info.elementCount {
            try location.check(api.H5Dread(handle.id, plan.memoryType, HDF5Constants.defaultPlist,
                                            HDF5Constants.defaultPlist, HDF5Constants.defaultPlist, buffer),
                               what, path: path)
            return
        }
        let (memSpace, fileSpace) = try selection(range, shape: plan.info.shape)
        try location.check(api.H5Dread(handle.id, plan.memoryType, memSpace.id, fileSpace.id,
                                        HDF5Constants.defaultPlist, buffer), what, path: path)
    }

    /// A 1-D memory space of range.count elements and the file space selecting `range`. Lock held.
    private func selection(_ range: Range<Int>, shape: [Int]) throws -> (HDF5Handle, HDF5Handle) {
        let api = self.api
        let fileSpace = try location.handle(api.H5Dget_space(handle.id), .dataspace,
                                            "libhdf5 could not read the dataset's dataspace", path: path)
        for (i, box) in hyperslabBoxes(range, shape: shape).enumerated() {
            let op = i == 0 ? HDF5Constants.selectSet : HDF5Constants.selectOr
            try location.check(api.H5Sselect_hyperslab(fileSpace.id, op, box.start, nil, box.count, nil),
                               "libhdf5 could not select elements \(range)", path: path)
        }
        let memSpace = try location.makeSpace([range.count], path: path)
        return (memSpace, fileSpace)
    }

    // MARK: Writing

    /// Writes the whole dataset from little-endian bytes of its dtype in C order.
    public func write(_ bytes: UnsafeRawBufferPointer) throws {
        let (_, shape) = try writeTarget()
        try write(elements: 0..<(TensorInfo.elementCount(shape) ?? 0), from: bytes)
    }

    /// Writes elements `range` of the flattened (C-order) dataset from little-endian bytes.
    public func write(elements range: Range<Int>, from bytes: UnsafeRawBufferPointer) throws {
        let (dtype, shape) = try writeTarget()
        let count = TensorInfo.elementCount(shape) ?? 0
        guard range.lowerBound >= 0, range.upperBound <= count else {
            throw location.error(.invalidArgument, "elements \(range) are outside the dataset's \(count) elements",
                                 path: path)
        }
        guard range.count * dtype.itemSize == bytes.count else {
            throw location.error(.invalidArgument,
                                 "\(bytes.count) bytes do not match \(range.count) elements of \(dtype)", path: path)
        }
        guard !range.isEmpty, let base = bytes.baseAddress else { return }
        try withHDF5Lock {
            let api = self.api
            let type = location.fileType(for: dtype)
            let what = "libhdf5 could not write the dataset's data"
            if range == 0..<count {
                try location.check(api.H5Dwrite(handle.id, type, HDF5Constants.defaultPlist,
                                                 HDF5Constants.defaultPlist, HDF5Constants.defaultPlist, base),
                                   what, path: path)
                return
            }
            let (memSpace, fileSpace) = try selection(range, shape: shape)
            try location.check(api.H5Dwrite(handle.id, type, memSpace.id, fileSpace.id, HDF5Constants.defaultPlist,
                                             base), what, path: path)
        }
    }

    private func writeTarget() throws -> (DType, [Int]) {
        guard file.isWritable else {
            throw location.error(.invalidArgument, "the HDF5 file was opened read-only", path: path)
        }
        if let created { return created }
        let info = try info()
        return (info.dtype, info.shape)
    }
}
