import CheckpointSystem
import CRuntimeLibs


/// An HDF5 file opened with libhdf5: read-only from a path or from memory, or created for writing.
///
/// Hostile input is expected: links to other files (external links), user-defined links and
/// datasets whose data lives outside the file (external storage, virtual datasets) are refused with
/// `.unsupported`; every other failure, including truncated files, is `.invalidHDF5` carrying
/// libhdf5's message. Groups and datasets keep their file alive.
public final class HDF5File: @unchecked Sendable {
    // @unchecked Sendable: immutable after init; libhdf5 state is only touched with the HDF5 lock held.

    public let library: HDF5Library
    /// The file as named in errors.
    public let fileName: String
    /// For in-memory images: the member name errors put before HDF5 paths (`model.weights.h5`).
    public let memberPrefix: String?
    public let limits: HDF5Limits
    public let isWritable: Bool

    let location: HDF5Location
    let handle: HDF5Handle

    private init(library: HDF5Library, location: HDF5Location, handle: HDF5Handle, limits: HDF5Limits,
                 writable: Bool) {
        self.library = library
        self.location = location
        self.fileName = location.fileName
        self.memberPrefix = location.memberPrefix
        self.handle = handle
        self.limits = limits
        self.isWritable = writable
    }

    // MARK: Opening

    /// Opens the HDF5 file at `path` read-only.
    public static func open(path: String, displayName: String? = nil,
                            limits: HDF5Limits = HDF5Limits()) throws -> HDF5File {
        let library = try HDF5Library.load()
        let name = displayName ?? path
        guard !path.utf8.contains(0) else {
            throw CheckpointError(.invalidArgument, "the path contains a NUL character", file: name)
        }
        // Let the OS explain missing files and permissions; libhdf5's message for those is cryptic.
        _ = try ReadableFile(path: path)
        let location = HDF5Location(library: library, fileName: name, memberPrefix: nil)
        return try withHDF5Lock {
            let fapl = try fileAccessList(location)
            // See ckpt_hdf5_open_image: a chunk cache that holds the chunks one read crosses.
            _ = library.api.H5Pset_cache(fapl.id, 0, 12421, limits.maxChunkCacheBytes, 1.0)
            let id = library.api.H5Fopen(path, HDF5Constants.accReadOnly, fapl.id)
            let h = try location.handle(id, .file, "libhdf5 could not open the file as HDF5", path: nil)
            return HDF5File(library: library, location: location, handle: h, limits: limits, writable: false)
        }
    }

    /// Opens `count` bytes at `pointer` (for example the stored `model.weights.h5` member inside an
    /// mmap'd `.keras` ZIP) as a read-only HDF5 file, without copying them.
    ///
    /// The caller owns the memory and must keep it mapped and unchanged until this file and every
    /// group and dataset opened from it have been released.
    public static func openImage(pointer: UnsafeRawPointer, count: Int, fileName: String,
                                 member: String? = nil, limits: HDF5Limits = HDF5Limits()) throws -> HDF5File {
        let library = try HDF5Library.load()
        let location = HDF5Location(library: library, fileName: fileName, memberPrefix: member)
        guard count > 0 else {
            throw location.error(.invalidHDF5, "the HDF5 image is empty", path: "/")
        }
        return try withHDF5Lock {
            let id = ckpt_hdf5_open_image(pointer, count, limits.maxChunkCacheBytes)
            let h = try location.handle(id, .file, "libhdf5 could not open the data as HDF5", path: "/")
            return HDF5File(library: library, location: location, handle: h, limits: limits, writable: false)
        }
    }

    /// Creates (truncating) an HDF5 file at `path` for writing, with the file format h5py writes by
    /// default (earliest format that can hold the data, no timestamps). Pass a temporary path and
    /// rename it after ``close()`` succeeded.
    public static func create(path: String, displayName: String? = nil,
                              limits: HDF5Limits = HDF5Limits()) throws -> HDF5File {
        let library = try HDF5Library.load()
        let name = displayName ?? path
        guard !path.utf8.contains(0) else {
            throw CheckpointError(.invalidArgument, "the path contains a NUL character", file: name)
        }
        let location = HDF5Location(library: library, fileName: name, memberPrefix: nil)
        return try withHDF5Lock {
            let api = library.api
            let fapl = try fileAccessList(location)
            // h5py: libver bounds (earliest, latest). H5F_LIBVER_LATEST differs between versions, and
            // out-of-range values are refused, so the first accepted value from the top is "latest".
            for high in stride(from: 8, through: 2, by: -1) {
                if api.H5Pset_libver_bounds(fapl.id, 0, Int32(high)) >= 0 { break }
            }
            let fcpl = try location.handle(api.H5Pcreate(api.P_CLS_FILE_CREATE), .propertyList,
                                           "libhdf5 could not create a property list", path: nil)
            _ = api.H5Pset_obj_track_times(fcpl.id, false)
            let id = api.H5Fcreate(path, HDF5Constants.accTruncate, fcpl.id, fapl.id)
            guard id >= 0 else {
                let detail = library.errorText().map { " (libhdf5: \($0))" } ?? ""
                throw CheckpointError(.io, "libhdf5 could not create the file" + detail, file: name)
            }
            return HDF5File(library: library, location: location, handle: HDF5Handle(id, .file, library),
                            limits: limits, writable: true)
        }
    }

    private static func fileAccessList(_ location: HDF5Location) throws -> HDF5Handle {
        let api = location.library.api
        let fapl = try location.handle(api.H5Pcreate(api.P_CLS_FILE_ACCESS), .propertyList,
                                       "libhdf5 could not create a property list", path: nil)
        // Use file locks where the file system has them; do not fail where it does not (NFS...).
        if let setLocking = api.H5Pset_file_locking { _ = setLocking(fapl.id, true, true) }
        return fapl
    }

    /// Flushes everything written and closes the file, reporting write errors (a full disk...).
    /// Groups and datasets still alive keep libhdf5's file open until they are released; their data
    /// was flushed here. Closing twice is harmless.
    public func close() throws {
        try withHDF5Lock {
            guard handle.isOpen else { return }
            if isWritable {
                let status = library.api.H5Fflush(handle.id, HDF5Constants.scopeGlobal)
                if status < 0 {
                    let detail = library.errorText().map { " (libhdf5: \($0))" } ?? ""
                    handle.close()
                    throw CheckpointError(.io, "libhdf5 could not write the file" + detail, file: fileName)
                }
            }
            if !handle.close() {
                let detail = library.errorText().map { " (libhdf5: \($0))" } ?? ""
                throw CheckpointError(isWritable ? .io : .invalidHDF5, "libhdf5 could not close the file" + detail,
                                      file: fileName)
            }
        }
    }

    // MARK: Objects

    /// The root group.
    public func root() throws -> HDF5Group {
        try withHDF5Lock {
            HDF5Group(file: self, path: "/", handle: try rootHandle())
        }
    }

    /// The group at `path` (from the root; a leading `/` is optional). Throws `.invalidHDF5` if absent.
    public func group(_ path: String) throws -> HDF5Group {
        try root().group(path)
    }

    /// The dataset at `path` (from the root). Throws `.invalidHDF5` if absent.
    public func dataset(_ path: String) throws -> HDF5Dataset {
        try root().dataset(path)
    }

    /// The group or dataset at `path`, or nil if nothing is there.
    public func object(_ path: String) throws -> HDF5Object? {
        try root().object(path)
    }

    /// Whether a group or dataset exists at `path` (links are followed, within the file only).
    public func contains(_ path: String) throws -> Bool {
        try object(path) != nil
    }

    func rootHandle() throws -> HDF5Handle {
        try location.handle(library.api.H5Oopen(handle.id, "/", library.safeLinkAccess), .object,
                            "libhdf5 could not open the root group", path: "/")
    }

    // MARK: Walking

    /// Every object reachable from the root through hard links, depth first, each group's links in
    /// name order (h5py `visititems` order), the root first as `/`. An object reachable through
    /// several hard links is listed once, under the first path met (this also ends cycles). Soft
    /// links are listed with their target, not followed; a soft link whose target would leave the file
    /// is refused. External and user-defined links are refused (`.unsupported`).
    public func walk() throws -> [HDF5Node] {
        try withHDF5Lock {
            let root = try rootHandle()
            var nodes = [HDF5Node(path: "/", kind: .group)]
            var visited = Set<HDF5ObjectToken>()
            visited.insert(try token(of: root, path: "/"))
            try walk(group: root, path: "", depth: 1, nodes: &nodes, visited: &visited)
            return nodes
        }
    }

    private func walk(group: HDF5Handle, path: String, depth: Int, nodes: inout [HDF5Node],
                      visited: inout Set<HDF5ObjectToken>) throws {
        guard depth <= limits.maxDepth else {
            throw location.error(.limitExceeded, "HDF5 groups nest deeper than \(limits.maxDepth) levels",
                                 path: "/" + path)
        }
        let groupPath = "/" + path
        for link in try rawLinks(of: group, path: groupPath, order: .name) {
            let childPath = path.isEmpty ? link.name : path + "/" + link.name
            guard nodes.count < limits.maxNodes else {
                throw location.error(.limitExceeded, "the HDF5 file holds more than \(limits.maxNodes) objects",
                                     path: "/" + childPath)
            }
            switch link.kind {
            case .hard(let token):
                guard visited.insert(token).inserted else { continue }
                let (child, type) = try openHard(link.name, in: group, path: "/" + childPath)
                switch type {
                case HDF5Constants.idGroup:
                    nodes.append(HDF5Node(path: childPath, kind: .group))
                    try walk(group: child, path: childPath, depth: depth + 1, nodes: &nodes, visited: &visited)
                case HDF5Constants.idDataset:
                    nodes.append(HDF5Node(path: childPath, kind: .dataset))
                case HDF5Constants.idDatatype:
                    nodes.append(HDF5Node(path: childPath, kind: .namedDatatype))
                default:
                    throw location.error(.invalidHDF5, "the HDF5 object has an unknown type (\(type))",
                                         path: "/" + childPath)
                }
            case .soft(let target):
                // Resolving checks that the target does not go through a link to another file
                // (.unsupported). Dangling and cyclic soft links are listed all the same.
                do {
                    _ = try resolve(target, from: group, fromPath: groupPath)
                } catch let error as CheckpointError where error.code == .invalidHDF5 {
                }
                nodes.append(HDF5Node(path: childPath, kind: .softLink(target: target)))
            }
        }
    }

    // MARK: Links (lock held)

    func token(of object: HDF5Handle, path: String) throws -> HDF5ObjectToken {
        var bytes: (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8,
                    UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8) = (0, 0, 0, 0, 0, 0, 0, 0,
                                                                                 0, 0, 0, 0, 0, 0, 0, 0)
        let status: Int32 = withUnsafeMutableBytes(of: &bytes) { raw in
            guard let base = raw.baseAddress else { return -1 }
            return ckpt_hdf5_object_token(object.id, base.assumingMemoryBound(to: UInt8.self))
        }
        if status != 0 { throw location.failure("libhdf5 could not read the object's identity", path: path) }
        return HDF5ObjectToken(bytes)
    }

    struct RawLink {
        enum Kind {
            case hard(HDF5ObjectToken)
            case soft(String)
        }
        var name: String
        var kind: Kind
        var creationOrder: Int64?
    }

    /// Whether the group indexes link creation order (h5py `track_order=True`). Lock held.
    func tracksCreationOrder(_ group: HDF5Handle, path: String) throws -> Bool {
        let api = library.api
        let gcpl = try location.handle(api.H5Gget_create_plist(group.id), .propertyList,
                                       "libhdf5 could not read the group's creation properties", path: path)
        var flags: UInt32 = 0
        try location.check(api.H5Pget_link_creation_order(gcpl.id, &flags),
                           "libhdf5 could not read the group's creation properties", path: path)
        return flags & HDF5Constants.creationOrderTracked != 0 && flags & HDF5Constants.creationOrderIndexed != 0
    }

    /// The group's links; external and user-defined links are refused. Lock held.
    func rawLinks(of group: HDF5Handle, path: String, order: HDF5LinkOrder) throws -> [RawLink] {
        var index = HDF5Constants.indexName
        if order == .creationIfTracked, try tracksCreationOrder(group, path: path) {
            index = HDF5Constants.indexCreationOrder
        }
        var items: UnsafeMutablePointer<ckpt_hdf5_link>?
        var count = 0
        let status = ckpt_hdf5_list_links(group.id, index, limits.maxLinksPerGroup, &items, &count)
        switch status {
        case 0: break
        case -2:
            throw location.error(.limitExceeded, "the HDF5 group holds more than \(limits.maxLinksPerGroup) links",
                                 path: path)
        case -3:
            throw location.error(.limitExceeded, "out of memory listing the HDF5 group's links", path: path)
        default:
            throw location.failure("libhdf5 could not list the group's links", path: path)
        }
        defer { ckpt_hdf5_free_links(items, count) }
        guard let items else { return [] }
        var out: [RawLink] = []
        out.reserveCapacity(count)
        for i in 0..<count {
            let entry = items[i]
            guard let cname = entry.name, let name = decodeUTF8(cString: cname) else {
                throw location.error(.invalidHDF5, "a link name in the HDF5 group is not valid UTF-8", path: path)
            }
            let childPath = join(path, name)
            let order = entry.corder_valid != 0 ? entry.corder : nil
            switch entry.type {
            case HDF5Constants.linkHard:
                out.append(RawLink(name: name, kind: .hard(HDF5ObjectToken(entry.token)), creationOrder: order))
            case HDF5Constants.linkSoft:
                let target = try softLinkTarget(name, in: group, size: entry.val_size, path: childPath)
                out.append(RawLink(name: name, kind: .soft(target), creationOrder: order))
            default:
                throw refusedLink(type: entry.type, path: childPath)
            }
        }
        return out
    }

    func refusedLink(type: Int32, path: String) -> CheckpointError {
        if type == HDF5Constants.linkExternal {
            return location.error(.unsupported, "HDF5 external link refused: it points into another file", path: path)
        }
        return location.error(.unsupported, "HDF5 user-defined link (type \(type)) refused", path: path)
    }

    func softLinkTarget(_ name: String, in group: HDF5Handle, size: UInt64, path: String) throws -> String {
        guard size > 0, size <= 1 << 16 else {
            throw location.error(.invalidHDF5, "the HDF5 soft link's target has an invalid length (\(size) bytes)",
                                 path: path)
        }
        var buffer = [UInt8](repeating: 0, count: Int(size) + 1)
        let status = buffer.withUnsafeMutableBytes {
            library.api.H5Lget_val(group.id, name, $0.baseAddress, Int(size), library.safeLinkAccess)
        }
        try location.check(status, "libhdf5 could not read the soft link", path: path)
        let bytes = buffer.prefix { $0 != 0 }
        guard let target = bytes.withUnsafeBytes({ decodeUTF8($0) }), !target.isEmpty else {
            throw location.error(.invalidHDF5, "the HDF5 soft link's target is empty or not valid UTF-8", path: path)
        }
        return target
    }

    /// Opens the object a hard link named `name` points to. Lock held.
    func openHard(_ name: String, in group: HDF5Handle, path: String) throws -> (HDF5Handle, Int32) {
        let api = library.api
        let child = try location.handle(api.H5Oopen(group.id, name, library.safeLinkAccess), .object,
                                        "libhdf5 could not open the object", path: path)
        return (child, api.H5Iget_type(child.id))
    }

    /// Follows `path` from `start` one link at a time: hard links are opened, soft links followed
    /// (at most 16), external and user-defined links refused. Returns nil if nothing is there
    /// (including a dangling soft link). Lock held.
    func resolve(_ path: String, from start: HDF5Handle, fromPath: String) throws -> (HDF5Handle, Int32)? {
        guard !path.utf8.contains(0) else {
            throw location.error(.invalidArgument, "the HDF5 path contains a NUL character", path: fromPath)
        }
        let api = library.api
        var current = start
        var currentType = api.H5Iget_type(start.id)
        var currentPath = fromPath
        if path.hasPrefix("/") {
            current = try rootHandle()
            currentType = HDF5Constants.idGroup
            currentPath = "/"
        }
        var pending = ArraySlice(Self.components(path))
        var hops = 0
        while let name = pending.popFirst() {
            guard currentType == HDF5Constants.idGroup else { return nil }
            let childPath = join(currentPath, name)
            let exists = api.H5Lexists(current.id, name, library.safeLinkAccess)
            if exists < 0 { throw location.failure("libhdf5 could not look the link up", path: childPath) }
            if exists == 0 { return nil }
            var link = ckpt_hdf5_link()
            if ckpt_hdf5_get_link(current.id, name, library.safeLinkAccess, &link) != 0 {
                throw location.failure("libhdf5 could not read the link", path: childPath)
            }
            switch link.type {
            case HDF5Constants.linkHard:
                (current, currentType) = try openHard(name, in: current, path: childPath)
                currentPath = childPath
            case HDF5Constants.linkSoft:
                hops += 1
                guard hops <= 16 else {
                    throw location.error(.invalidHDF5, "more than 16 soft links to follow (a cycle?)", path: childPath)
                }
                let target = try softLinkTarget(name, in: current, size: link.val_size, path: childPath)
                if target.hasPrefix("/") {
                    current = try rootHandle()
                    currentType = HDF5Constants.idGroup
                    currentPath = "/"
                }
                pending = ArraySlice(Self.components(target) + Array(pending))
            default:
                throw refusedLink(type: link.type, path: childPath)
            }
        }
        return (current, currentType)
    }

    static func components(_ path: String) -> [String] {
        path.split(separator: "/", omittingEmptySubsequences: true).map(String.init).filter { $0 != "." }
    }
}

/// Identity of an HDF5 object: its address (1.10) or token (1.12+).
struct HDF5ObjectToken: Hashable {
    var low: UInt64
    var high: UInt64
    init(_ t: (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8,
               UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8)) {
        var bytes = t
        (low, high) = withUnsafeBytes(of: &bytes) {
            ($0.loadUnaligned(fromByteOffset: 0, as: UInt64.self), $0.loadUnaligned(fromByteOffset: 8, as: UInt64.self))
        }
    }
}

/// `/a` + `b` = `/a/b`; `/` + `b` = `/b`.
func join(_ path: String, _ name: String) -> String {
    path.hasSuffix("/") ? path + name : path + "/" + name
}
