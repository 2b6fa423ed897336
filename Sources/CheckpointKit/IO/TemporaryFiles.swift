import CheckpointSystem
import Synchronization

/// The one naming scheme of every file ckpt writes before it is complete — outputs, the files of a
/// set, the HDF5 scratch of a `.keras`, a member inflated for libhdf5: `.ckpt-tmp-<pid>-<n>`, in
/// the directory where it will end up (or `$TMPDIR` for scratch). Short, so that a 255-byte output
/// name still has a valid temporary name, and one pattern, so that ``removeStale(in:)`` finds
/// every kind (issue 16).
///
/// A temporary file is locked (`flock`) while it is written; SIGINT, SIGTERM, SIGHUP and SIGPIPE
/// remove it (`fs.c`); SIGKILL or a crash cannot, so the next write to the directory removes
/// temporary files whose process is gone and whose lock nobody holds.
public enum TemporaryFiles {
    static let marker = ".ckpt-tmp-"
    private static let counter = Atomic<Int>(0)

    /// How many files are registered for removal on interruption now (tests).
    public static var registeredCount: Int { SystemProcess.registeredTemporaryCount }

    /// A fresh name for this process.
    static func nextName() -> String {
        let n = counter.add(1, ordering: .relaxed).newValue
        return marker + "\(SystemProcess.id)-\(n)"
    }

    /// The pid in a temporary file name of ours: `.ckpt-tmp-<pid>-<n>`, or the older
    /// `.<destination name>.ckpt-tmp-<pid>-<n>`; nil for any other name.
    public static func owner(_ name: String) -> Int32? {
        let b = Array(name.utf8)
        let m = Array(marker.utf8)
        guard b.count > m.count + 2, b[0] == UInt8(ascii: ".") else { return nil }
        // The last occurrence of the marker: at the start, or after a non-empty destination name.
        var at = -1
        var k = b.count - m.count
        while k >= 0 {
            if b[k..<(k + m.count)].elementsEqual(m) { at = k; break }
            k -= 1
        }
        guard at == 0 || at >= 2 else { return nil }
        let tail = b[(at + m.count)...]
        guard let dash = tail.firstIndex(of: UInt8(ascii: "-")) else { return nil }
        let pidDigits = tail[tail.startIndex..<dash], nDigits = tail[(dash + 1)...]
        func isNumber(_ s: ArraySlice<UInt8>) -> Bool { !s.isEmpty && s.count <= 18 && s.allSatisfy { $0 >= 0x30 && $0 <= 0x39 } }
        guard isNumber(pidDigits), isNumber(nDigits), let pid = Int32(String(decoding: pidDigits, as: UTF8.self)), pid > 0 else { return nil }
        return pid
    }

    /// Removes temporary files that interrupted runs left in `dir`: a file is removed only if its
    /// name is one of ours, the process it names is not alive on this machine, and no process holds
    /// its lock (a live writer elsewhere, on a shared file system or in another pid namespace,
    /// keeps its file). Best effort: failures are ignored.
    public static func removeStale(in dir: String) {
        guard let entries = Path.directoryEntries(dir) else { return }
        let me = SystemProcess.id
        for raw in entries {
            guard let name = String(validating: raw, as: UTF8.self) else { continue }
            guard let pid = owner(name), pid != me, !SystemProcess.exists(pid) else { continue }
            let path = (dir == "/" ? "" : dir) + "/" + name
            guard let fd = try? FileDescriptor.openForReading(path, followLinks: false) else { continue }
            if (try? fd.status())?.kind == .regular, fd.tryLockExclusive() {
                Path.unlink(path)
            }
            fd.close()
        }
    }
}

/// A temporary file (``TemporaryFiles``' name) created in `directory`: exclusive, locked,
/// registered for removal on interruption, and removed when released unless ``moved(to:)`` says it
/// was renamed into place.
final class TemporaryFile {
    let path: String
    let directory: String
    /// The file as errors name it (the output it will become).
    let displayName: String
    private(set) var fd: FileDescriptor?
    private var registration: TemporaryRegistration?
    private var locked = false
    private var gone = false

    init(directory: String, displayName: String) throws {
        self.directory = directory
        self.displayName = displayName
        TemporaryFiles.removeStale(in: directory)
        path = (directory == "/" ? "" : directory) + "/" + TemporaryFiles.nextName()
        let fd: FileDescriptor
        do { fd = try FileDescriptor.createExclusive(path) } catch {
            throw CheckpointError.io("cannot create a temporary file in \(directory)", file: displayName, errno: error.rawValue)
        }
        self.fd = fd
        // Held until the descriptor closes (or the process dies, even by SIGKILL): it tells a later
        // run that this file is still being written.
        locked = fd.tryLockExclusive()
        registration = SystemProcess.registerTemporary(path)
    }

    /// Gives up this object's lock (a writer that opens the path itself, libhdf5, takes its own).
    func releaseLock() {
        if locked, let fd { fd.unlock() }
        locked = false
    }

    /// Closes the descriptor (the file stays); returns the error close reported.
    func close() -> Errno? {
        defer { fd = nil }
        return fd?.close()
    }

    /// The file was renamed to `destination`: nothing to remove any more.
    func moved() {
        gone = true
        unregister()
    }

    /// Removes the file (unless it was moved).
    func remove() {
        fd?.close()
        fd = nil
        if !gone { Path.unlink(path) }
        gone = true
        unregister()
    }

    private func unregister() {
        if let registration { SystemProcess.unregisterTemporary(registration) }
        registration = nil
    }

    deinit { remove() }
}

/// Files opened for reading by the command being run, so that no output ever replaces one (issue
/// 16: "no output may be any file of any input set"): every ``ReadableFile`` opened while a
/// registry is current adds itself — an input, each shard of a set, an `--architecture` JSON — and
/// ``AtomicOutputFile`` refuses a destination that is one of them (same device and inode, however
/// the path is spelled: symbolic or hard links included).
public final class InputRegistry: Sendable {
    /// The registry of the command running on this thread or task (`ckpt` sets one per run).
    @TaskLocal public static var current: InputRegistry?

    private struct ID: Hashable { let device: UInt64, inode: UInt64 }
    private let files = Mutex<[ID: String]>([:])

    public init() {}

    func add(device: UInt64, inode: UInt64, path: String) {
        files.withLock { if $0[ID(device: device, inode: inode)] == nil { $0[ID(device: device, inode: inode)] = path } }
    }

    /// The input path that is the same file as `status`, if any.
    func input(sameAs status: FileStatus) -> String? {
        files.withLock { $0[ID(device: status.device, inode: status.inode)] }
    }

    /// Every input path registered.
    public var paths: [String] { files.withLock { Array($0.values) }.sorted() }
}
