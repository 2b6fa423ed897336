import CRuntimeLibs

/// An HDF5 group: its links, its children, and (in a writable file) new children.
public final class HDF5Group: HDF5Object, @unchecked Sendable {
    // @unchecked Sendable: see HDF5Object.

    /// The group's links. External links, user-defined links and soft links whose target cannot be
    /// named are refused; soft links are reported with their target, not followed.
    public func links(order: HDF5LinkOrder = .name) throws -> [HDF5Link] {
        try withHDF5Lock {
            var out: [HDF5Link] = []
            for link in try file.rawLinks(of: handle, path: path, order: order) {
                let childPath = join(path, link.name)
                switch link.kind {
                case .hard:
                    let (_, type) = try file.openHard(link.name, in: handle, path: childPath)
                    let kind: HDF5LinkKind
                    switch type {
                    case HDF5Constants.idGroup: kind = .group
                    case HDF5Constants.idDataset: kind = .dataset
                    case HDF5Constants.idDatatype: kind = .namedDatatype
                    default:
                        throw location.error(.invalidHDF5, "the HDF5 object has an unknown type (\(type))",
                                             path: childPath)
                    }
                    out.append(HDF5Link(name: link.name, kind: kind, creationOrder: link.creationOrder))
                case .soft(let target):
                    out.append(HDF5Link(name: link.name, kind: .softLink(target: target),
                                        creationOrder: link.creationOrder))
                }
            }
            return out
        }
    }

    /// Whether the group tracks and indexes the creation order of its links (h5py `track_order=True`).
    public func tracksCreationOrder() throws -> Bool {
        try withHDF5Lock { try file.tracksCreationOrder(handle, path: path) }
    }

    /// The group or dataset at `path` relative to this group (absolute if it starts with `/`), or nil.
    public func object(_ path: String) throws -> HDF5Object? {
        try withHDF5Lock {
            let full = fullPath(path)
            guard let found = try file.resolve(path, from: handle, fromPath: self.path) else { return nil }
            let (h, type) = found
            switch type {
            case HDF5Constants.idGroup: return HDF5Group(file: file, path: full, handle: h)
            case HDF5Constants.idDataset: return HDF5Dataset(file: file, path: full, handle: h)
            default: return nil
            }
        }
    }

    /// The group at `path` (relative, or absolute with a leading `/`); `.invalidHDF5` if absent.
    public func group(_ path: String) throws -> HDF5Group {
        let full = fullPath(path)
        guard let object = try object(path) else {
            throw location.error(.invalidHDF5, "the HDF5 file has no group here", path: full)
        }
        guard let group = object as? HDF5Group else {
            throw location.error(.invalidHDF5, "expected an HDF5 group here, found a dataset", path: full)
        }
        return group
    }

    /// The dataset at `path` (relative, or absolute with a leading `/`); `.invalidHDF5` if absent.
    public func dataset(_ path: String) throws -> HDF5Dataset {
        let full = fullPath(path)
        guard let object = try object(path) else {
            throw location.error(.invalidHDF5, "the HDF5 file has no dataset here", path: full)
        }
        guard let dataset = object as? HDF5Dataset else {
            throw location.error(.invalidHDF5, "expected an HDF5 dataset here, found a group", path: full)
        }
        return dataset
    }

    public func contains(_ path: String) throws -> Bool {
        try object(path) != nil
    }

    func fullPath(_ relative: String) -> String {
        let parts = HDF5File.components(relative)
        let base = relative.hasPrefix("/") ? "/" : path
        return parts.reduce(base) { join($0, $1) }
    }

    // MARK: Writing

    /// Creates the group `name` (one path component) in this group.
    public func createGroup(_ name: String) throws -> HDF5Group {
        let childPath = try checkedChildPath(name)
        return try withHDF5Lock {
            let api = self.api
            let gcpl = try location.handle(api.H5Pcreate(api.P_CLS_GROUP_CREATE), .propertyList,
                                           "libhdf5 could not create a property list", path: childPath)
            _ = api.H5Pset_obj_track_times(gcpl.id, false) // as h5py
            let id = api.H5Gcreate2(handle.id, name, file.library.utf8LinkCreation, gcpl.id,
                                     HDF5Constants.defaultPlist)
            let h = try location.handle(id, .object, "libhdf5 could not create the group", path: childPath)
            return HDF5Group(file: file, path: childPath, handle: h)
        }
    }

    /// The group at `path` below this one, creating missing groups on the way (h5py `require_group`).
    public func requireGroup(_ path: String) throws -> HDF5Group {
        var current: HDF5Group = self
        for part in HDF5File.components(path) {
            if let existing = try current.object(part) {
                guard let g = existing as? HDF5Group else {
                    throw location.error(.invalidHDF5, "expected an HDF5 group here, found a dataset",
                                         path: join(current.path, part))
                }
                current = g
            } else {
                current = try current.createGroup(part)
            }
        }
        return current
    }

    /// Creates a contiguous dataset `name` of `dtype` and `shape` (`[]` = scalar), stored as h5py
    /// stores the numpy dtype (little-endian; bool as h5py's enum; bfloat16 as Keras 3 stores it:
    /// 2-byte opaque plus attribute `dtype = "bfloat16"`). Write its data with ``HDF5Dataset/write(_:)``
    /// or in ranges with ``HDF5Dataset/write(elements:from:)``.
    public func createDataset(_ name: String, dtype: DType, shape: [Int]) throws -> HDF5Dataset {
        let childPath = try checkedChildPath(name)
        guard shape.count <= HDF5Constants.maxRank, let count = TensorInfo.elementCount(shape),
              !count.multipliedReportingOverflow(by: dtype.itemSize).overflow else {
            throw location.error(.invalidArgument, "cannot create a dataset of shape \(shape)", path: childPath)
        }
        let dataset: HDF5Dataset = try withHDF5Lock {
            let api = self.api
            let space = try location.makeSpace(shape, path: childPath)
            let dcpl = try location.handle(api.H5Pcreate(api.P_CLS_DATASET_CREATE), .propertyList,
                                           "libhdf5 could not create a property list", path: childPath)
            _ = api.H5Pset_obj_track_times(dcpl.id, false) // as h5py
            let id = api.H5Dcreate2(handle.id, name, location.fileType(for: dtype), space.id,
                                     file.library.utf8LinkCreation, dcpl.id, HDF5Constants.defaultPlist)
            let h = try location.handle(id, .object, "libhdf5 could not create the dataset", path: childPath)
            return HDF5Dataset(file: file, path: childPath, handle: h, created: (dtype, shape))
        }
        if dtype == .bfloat16 {
            try dataset.setAttribute("dtype", string: "bfloat16")
        }
        return dataset
    }

    private func checkedChildPath(_ name: String) throws -> String {
        guard !name.isEmpty, name != ".", !name.contains("/"), !name.utf8.contains(0) else {
            throw location.error(.invalidArgument, "\"\(name)\" is not a valid HDF5 link name", path: path)
        }
        guard file.isWritable else {
            throw location.error(.invalidArgument, "the HDF5 file was opened read-only", path: path)
        }
        return join(path, name)
    }
}
