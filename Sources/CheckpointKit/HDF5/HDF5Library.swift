import CRuntimeLibs

/// libhdf5, loaded at run time with `dlopen` (see `Sources/CRuntimeLibs/include/ckpt_hdf5.h`).
///
/// The package builds and its other commands run without libhdf5; only Keras HDF5 files need it.
/// ``load()`` loads it once per process and returns the same instance (or the same error) after.
///
/// libhdf5's serial build is not thread-safe. Every call into it, from every ``HDF5File``,
/// ``HDF5Group``, ``HDF5Dataset`` and handle `deinit`, is made with one process-wide recursive lock
/// held; no lock is held while a caller's closure runs.
public final class HDF5Library: @unchecked Sendable {
    // @unchecked Sendable: all stored properties are immutable after init (the C table of entry
    // points is read-only once loaded, the hid_t values name library-owned types and property lists
    // that are never modified), and every libhdf5 call goes through `withHDF5Lock`.

    public struct Version: Sendable, Hashable, Comparable, CustomStringConvertible {
        public var major: Int
        public var minor: Int
        public var release: Int
        public static func < (a: Version, b: Version) -> Bool {
            (a.major, a.minor, a.release) < (b.major, b.minor, b.release)
        }
        public var description: String { "\(major).\(minor).\(release)" }
    }

    /// The libhdf5 version that was loaded (1.10 or newer).
    public let version: Version
    /// The name or path `dlopen` accepted.
    public let libraryName: String

    let api: ckpt_hdf5_api
    /// Link access property list that refuses external-link traversal (defense in depth: paths are
    /// also resolved one link at a time, checking each link's type).
    let safeLinkAccess: hid_t
    /// Link creation property list with UTF-8 names (what h5py uses for `str` names).
    let utf8LinkCreation: hid_t
    /// IEEE half, little-endian (as h5py builds it), and bfloat16 as an HDF5 float type.
    let float16LE: hid_t
    let bfloat16FloatLE: hid_t
    /// How Keras 3 (h5py + ml_dtypes) stores bfloat16: 2-byte opaque, with attribute dtype="bfloat16".
    let bfloat16Opaque: hid_t
    /// How h5py stores numpy bool: enum of int8 {FALSE = 0, TRUE = 1}.
    let boolEnum: hid_t

    private init(api: ckpt_hdf5_api, name: String) throws(CheckpointError) {
        self.api = api
        self.libraryName = name
        self.version = Version(major: Int(api.version_major), minor: Int(api.version_minor),
                               release: Int(api.version_release))
        self.safeLinkAccess = ckpt_hdf5_safe_lapl()
        func made(_ id: hid_t, _ what: String) throws(CheckpointError) -> hid_t {
            if id < 0 {
                throw CheckpointError(.hdf5Unavailable, "libhdf5 \(name) could not create \(what)")
            }
            return id
        }
        // Called with the HDF5 lock held (from `shared`).
        let lcpl = try made(api.H5Pcreate(api.P_CLS_LINK_CREATE), "a link creation property list")
        _ = api.H5Pset_char_encoding(lcpl, HDF5Constants.csetUTF8)
        utf8LinkCreation = lcpl
        func float(_ spos: Int, _ epos: Int, _ esize: Int, _ mpos: Int, _ msize: Int, _ ebias: Int,
                   _ what: String) throws(CheckpointError) -> hid_t {
            let t = try made(api.H5Tcopy(api.T_IEEE_F32LE), what)
            if api.H5Tset_fields(t, spos, epos, esize, mpos, msize) < 0 || api.H5Tset_size(t, 2) < 0
                || api.H5Tset_ebias(t, ebias) < 0 {
                throw CheckpointError(.hdf5Unavailable, "libhdf5 \(name) could not create \(what)")
            }
            return t
        }
        float16LE = try float(15, 10, 5, 0, 10, 15, "a float16 type")
        bfloat16FloatLE = try float(15, 7, 8, 0, 7, 127, "a bfloat16 type")
        bfloat16Opaque = try made(api.H5Tcreate(HDF5Constants.classOpaque, 2), "an opaque type")
        let e = try made(api.H5Tenum_create(api.T_STD_I8LE), "an enum type")
        var no: Int8 = 0
        var yes: Int8 = 1
        if api.H5Tenum_insert(e, "FALSE", &no) < 0 || api.H5Tenum_insert(e, "TRUE", &yes) < 0 {
            throw CheckpointError(.hdf5Unavailable, "libhdf5 \(name) could not create an enum type")
        }
        boolEnum = e
    }

    private static let shared: Result<HDF5Library, CheckpointError> = {
        withHDF5Lock {
            var buffer = [CChar](repeating: 0, count: 2048)
            let status = ckpt_hdf5_load(&buffer, buffer.count)
            guard status == 0, let table = ckpt_hdf5_get_api() else {
                let tried = decodeCString(buffer)
                return .failure(CheckpointError(
                    .hdf5Unavailable, "libhdf5 could not be loaded (tried \(tried))",
                    hint: "install it: sudo apt-get install \(debianPackage) (Debian, Ubuntu) or set CKPT_LIBHDF5 to its path"))
            }
            let name = ckpt_hdf5_library_name().map { String(cString: $0) } ?? "libhdf5"
            do {
                return .success(try HDF5Library(api: table.pointee, name: name))
            } catch let error as CheckpointError {
                return .failure(error.hinting("set CKPT_LIBHDF5 to the path of a working libhdf5 (1.10 or newer)"))
            } catch {
                return .failure(CheckpointError(.hdf5Unavailable, "libhdf5 \(name) could not be set up"))
            }
        }
    }()

    /// The Debian/Ubuntu package that brings libhdf5, named by the error, the README and the tests'
    /// skip messages. The runtime package's own name changes with each release (libhdf5-103-1,
    /// libhdf5-103-1t64, libhdf5-310); the development package pulls in the right one everywhere.
    public static let debianPackage = "libhdf5-dev"

    /// Loads libhdf5 (once per process). Throws `.hdf5Unavailable` naming what was tried.
    public static func load() throws(CheckpointError) -> HDF5Library {
        try shared.get()
    }

    /// Whether libhdf5 can be used in this process.
    public static var isAvailable: Bool {
        if case .success = shared { return true }
        return false
    }

    /// libhdf5's error stack as one clause, or nil. Call right after the failing call, lock held.
    func errorText() -> String? {
        var buffer = [CChar](repeating: 0, count: 1024)
        let n = ckpt_hdf5_error_text(&buffer, buffer.count)
        guard n > 0 else { return nil }
        let text = decodeCString(buffer)
        return text.isEmpty ? nil : text
    }
}

/// Runs `body` with the process-wide libhdf5 lock held (the lock is recursive).
@inline(__always)
func withHDF5Lock<T, E: Error>(_ body: () throws(E) -> T) throws(E) -> T {
    ckpt_hdf5_lock()
    defer { ckpt_hdf5_unlock() }
    return try body()
}

/// Values of libhdf5 enums and macros (identical in 1.10 through 2.0).
enum HDF5Constants {
    static let defaultPlist: hid_t = 0 // H5P_DEFAULT, H5S_ALL, H5E_DEFAULT
    static let accReadOnly: UInt32 = 0x0000
    static let accTruncate: UInt32 = 0x0002
    static let scopeGlobal: Int32 = 1

    static let classInteger: Int32 = 0
    static let classFloat: Int32 = 1
    static let classTime: Int32 = 2
    static let classString: Int32 = 3
    static let classBitfield: Int32 = 4
    static let classOpaque: Int32 = 5
    static let classCompound: Int32 = 6
    static let classReference: Int32 = 7
    static let classEnum: Int32 = 8
    static let classVlen: Int32 = 9
    static let classArray: Int32 = 10

    static let orderLE: Int32 = 0
    static let orderBE: Int32 = 1
    static let orderVAX: Int32 = 2
    static let orderMixed: Int32 = 3
    static let orderNone: Int32 = 4

    static let signNone: Int32 = 0

    static let csetASCII: Int32 = 0
    static let csetUTF8: Int32 = 1
    static let strNullTerm: Int32 = 0
    static let strNullPad: Int32 = 1
    static let strSpacePad: Int32 = 2
    static let variableSize = Int(bitPattern: UInt(bitPattern: -1)) // H5T_VARIABLE = (size_t)-1

    static let spaceScalar: Int32 = 0
    static let spaceSimple: Int32 = 1
    static let spaceNull: Int32 = 2
    static let selectSet: Int32 = 0
    static let selectOr: Int32 = 1

    static let layoutCompact: Int32 = 0
    static let layoutContiguous: Int32 = 1
    static let layoutChunked: Int32 = 2
    static let layoutVirtual: Int32 = 3

    static let idGroup: Int32 = 2
    static let idDatatype: Int32 = 3
    static let idDataset: Int32 = 5

    static let linkHard: Int32 = 0
    static let linkSoft: Int32 = 1
    static let linkExternal: Int32 = 64

    static let indexName: Int32 = 0
    static let indexCreationOrder: Int32 = 1
    static let creationOrderTracked: UInt32 = 0x0001
    static let creationOrderIndexed: UInt32 = 0x0002

    static let maxRank = 32
    static let undefinedAddress = UInt64.max
}

/// A NUL-terminated C buffer as a String (invalid UTF-8 repaired: this is for messages only).
func decodeCString(_ buffer: [CChar]) -> String {
    let bytes = buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }
    return String(decoding: bytes, as: UTF8.self)
}

/// Strict UTF-8 decoding for names and string values read from a file.
func decodeUTF8(_ bytes: UnsafeRawBufferPointer) -> String? {
    String(validating: bytes, as: UTF8.self)
}

func decodeUTF8(cString: UnsafePointer<CChar>) -> String? {
    let n = strlenBounded(cString)
    return decodeUTF8(UnsafeRawBufferPointer(start: UnsafeRawPointer(cString), count: n))
}

private func strlenBounded(_ p: UnsafePointer<CChar>) -> Int {
    var n = 0
    while p[n] != 0 { n += 1 }
    return n
}
