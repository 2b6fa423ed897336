import CRuntimeLibs

/// Owns one libhdf5 identifier and closes it exactly once (explicitly or in `deinit`).
final class HDF5Handle: @unchecked Sendable {
    // @unchecked Sendable: `isOpen` is only read and written with the HDF5 lock held.
    enum Kind {
        case file, object, datatype, dataspace, attribute, propertyList
    }

    let id: hid_t
    let kind: Kind
    let library: HDF5Library
    /// Read and written with the HDF5 lock held.
    private(set) var isOpen = true

    init(_ id: hid_t, _ kind: Kind, _ library: HDF5Library) {
        self.id = id
        self.kind = kind
        self.library = library
    }

    /// Closes the identifier; returns false if libhdf5 reported an error. Lock must be held.
    @discardableResult
    func close() -> Bool {
        guard isOpen else { return true }
        isOpen = false
        let api = library.api
        let status: herr_t
        switch kind {
        case .file: status = api.H5Fclose(id)
        case .object: status = api.H5Oclose(id)
        case .datatype: status = api.H5Tclose(id)
        case .dataspace: status = api.H5Sclose(id)
        case .attribute: status = api.H5Aclose(id)
        case .propertyList: status = api.H5Pclose(id)
        }
        return status >= 0
    }

    deinit {
        ckpt_hdf5_lock()
        close()
        ckpt_hdf5_unlock()
    }
}

/// Where errors point: the file as the user named it, and a prefix for HDF5 paths (the ZIP member
/// holding the HDF5 image, e.g. `model.weights.h5`).
struct HDF5Location: Sendable {
    let library: HDF5Library
    let fileName: String
    let memberPrefix: String?

    func member(_ path: String) -> String {
        guard let memberPrefix else { return path }
        return memberPrefix + (path.hasPrefix("/") ? path : "/" + path)
    }

    /// An `.invalidHDF5` error carrying libhdf5's own message. Lock held; call right after the failure.
    func failure(_ what: String, path: String?) -> CheckpointError {
        let detail = library.errorText()
        let reason = detail.map { "\(what) (libhdf5: \($0))" } ?? what
        return CheckpointError(.invalidHDF5, reason, file: fileName, member: path.map(member))
    }

    func error(_ code: CheckpointError.Code, _ reason: String, path: String?) -> CheckpointError {
        CheckpointError(code, reason, file: fileName, member: path.map(member))
    }

    /// Wraps a new identifier, or throws with libhdf5's message if it is negative. Lock held.
    func handle(_ id: hid_t, _ kind: HDF5Handle.Kind, _ what: @autoclosure () -> String,
                path: String?) throws(CheckpointError) -> HDF5Handle {
        guard id >= 0 else { throw failure(what(), path: path) }
        return HDF5Handle(id, kind, library)
    }

    /// Throws with libhdf5's message if `status` is negative. Lock held.
    func check(_ status: Int32, _ what: @autoclosure () -> String, path: String?) throws(CheckpointError) {
        if status < 0 { throw failure(what(), path: path) }
    }
}
