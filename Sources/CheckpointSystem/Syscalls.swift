#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import CRuntimeLibs

// Every system call the toolkit makes goes through this module (the way swift-system keeps its
// syscalls in one file). Callers see Swift types and a thrown ``Errno``; `EINTR` is retried here.

/// A failed system call's `errno`.
public struct Errno: Error, Sendable, Equatable, CustomStringConvertible {
    public let rawValue: Int32
    public init(_ rawValue: Int32) { self.rawValue = rawValue }

    /// The calling thread's current `errno`.
    static var current: Errno { Errno(errno) }

    public static let noSuchFile = Errno(ENOENT)
    public static let exists = Errno(EEXIST)
    public static let noSpace = Errno(ENOSPC)
    public static let fileTooLarge = Errno(EFBIG)
    public static let quotaExceeded = Errno(EDQUOT)
    public static let interrupted = Errno(EINTR)
    public static let wouldBlock = Errno(EAGAIN)
    public static let notDirectory = Errno(ENOTDIR)
    public static let nameTooLong = Errno(ENAMETOOLONG)

    /// `strerror`'s text.
    public var description: String {
        guard let c = strerror(rawValue) else { return "errno \(rawValue)" }
        return String(cString: c)
    }
}

/// What `fstat` / `stat` say about a file.
public struct FileStatus: Sendable, Equatable {
    public enum Kind: Sendable, Equatable { case regular, directory, fifo, symlink, other }
    public var kind: Kind
    public var size: UInt64
    public var device: UInt64
    public var inode: UInt64

    init(_ st: stat) {
        switch st.st_mode & S_IFMT {
        case S_IFREG: kind = .regular
        case S_IFDIR: kind = .directory
        case S_IFIFO: kind = .fifo
        case S_IFLNK: kind = .symlink
        default: kind = .other
        }
        size = UInt64(max(0, st.st_size))
        device = UInt64(st.st_dev)
        inode = UInt64(st.st_ino)
    }
}

/// An open file descriptor (a plain value: whoever opened it closes it).
public struct FileDescriptor: Sendable, Hashable {
    public let rawValue: Int32
    public init(rawValue: Int32) { self.rawValue = rawValue }

    /// Opens an existing file read-only. Non-blocking, so a FIFO or a device never hangs the open;
    /// check ``status()`` before reading.
    public static func openForReading(_ path: String, followLinks: Bool = true) throws(Errno) -> FileDescriptor {
        var flags = O_RDONLY | O_CLOEXEC | O_NONBLOCK
        if !followLinks { flags |= O_NOFOLLOW }
        return try retrying { open(path, flags) }
    }

    /// Creates a new file (failing if anything is at `path`), write-only.
    public static func createExclusive(_ path: String, permissions: UInt32 = 0o644) throws(Errno) -> FileDescriptor {
        try retrying { open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode_t(permissions)) }
    }

    /// Opens a directory (for fsync).
    public static func openDirectory(_ path: String) throws(Errno) -> FileDescriptor {
        try retrying { open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC) }
    }

    /// A unique new file from a `mkstemps` template (`…XXXXXX<suffix>`); returns it and its path.
    public static func createTemporary(template: String, suffixLength: Int) throws(Errno) -> (FileDescriptor, String) {
        var bytes = Array(template.utf8CString)
        let fd = bytes.withUnsafeMutableBufferPointer { b -> Int32 in
            guard let base = b.baseAddress else { return -1 }
            return mkstemps(base, Int32(suffixLength))
        }
        guard fd >= 0 else { throw Errno.current }
        let path = bytes.withUnsafeBufferPointer { b in String(decoding: b.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self) }
        return (FileDescriptor(rawValue: fd), path)
    }

    private static func retrying(_ call: () -> Int32) throws(Errno) -> FileDescriptor {
        while true {
            let fd = call()
            if fd >= 0 { return FileDescriptor(rawValue: fd) }
            let e = Errno.current
            if e != .interrupted { throw e }
        }
    }

    /// Closes the descriptor; an error is reported (for outputs, a close error can mean lost data).
    @discardableResult
    public func close() -> Errno? {
        Glibc.close(rawValue) == 0 ? nil : Errno.current
    }

    public func status() throws(Errno) -> FileStatus {
        var st = stat()
        guard fstat(rawValue, &st) == 0 else { throw Errno.current }
        return FileStatus(st)
    }

    /// Makes the descriptor blocking again (after a non-blocking open of a regular file).
    public func setBlocking() {
        let flags = fcntl(rawValue, F_GETFL)
        if flags >= 0 { _ = fcntl(rawValue, F_SETFL, flags & ~O_NONBLOCK) }
    }

    /// Reads up to `buffer.count` bytes at `offset` (0 at the end of the file).
    public func read(into buffer: UnsafeMutableRawBufferPointer, at offset: UInt64) throws(Errno) -> Int {
        guard let base = buffer.baseAddress, buffer.count > 0 else { return 0 }
        while true {
            let n = pread(rawValue, base, buffer.count, off_t(truncatingIfNeeded: offset))
            if n >= 0 { return n }
            let e = Errno.current
            if e != .interrupted { throw e }
        }
    }

    /// Writes all of `bytes` at `offset`.
    public func writeAll(_ bytes: UnsafeRawBufferPointer, at offset: UInt64) throws(Errno) {
        guard let base = bytes.baseAddress else { return }
        var done = 0
        while done < bytes.count {
            let n = pwrite(rawValue, base + done, bytes.count - done, off_t(truncatingIfNeeded: offset + UInt64(done)))
            if n < 0 {
                let e = Errno.current
                if e == .interrupted { continue }
                throw e
            }
            done += n
        }
    }

    /// Writes all of `bytes` at the current position (pipes and terminals).
    public func writeAll(_ bytes: UnsafeRawBufferPointer) throws(Errno) {
        guard let base = bytes.baseAddress else { return }
        var done = 0
        while done < bytes.count {
            let n = write(rawValue, base + done, bytes.count - done)
            if n < 0 {
                let e = Errno.current
                if e == .interrupted { continue }
                throw e
            }
            done += n
        }
    }

    public func sync() throws(Errno) {
        guard fsync(rawValue) == 0 else { throw Errno.current }
    }

    /// Takes an exclusive advisory lock without waiting; false if another process holds one.
    public func tryLockExclusive() -> Bool { flock(rawValue, LOCK_EX | LOCK_NB) == 0 }
    public func unlock() { _ = flock(rawValue, LOCK_UN) }

    /// `copy_file_range` from this descriptor to `output`: bytes copied (0 at end of input).
    /// Throws `Errno` for EXDEV, ENOSYS and the like, which callers treat as "copy by hand".
    public func copy(to output: FileDescriptor, from inOffset: inout Int64, to outOffset: inout Int64, count: Int) throws(Errno) -> Int {
        while true {
            let n = ckpt_copy_file_range(rawValue, &inOffset, output.rawValue, &outOffset, count)
            if n >= 0 { return n }
            let e = Errno.current
            if e != .interrupted { throw e }
        }
    }

    /// Advises the kernel that the file will be read sequentially.
    public func adviseSequential() {
        #if os(Linux)
        _ = posix_fadvise(rawValue, 0, 0, Int32(POSIX_FADV_SEQUENTIAL))
        #endif
    }

    public var isTerminal: Bool { isatty(rawValue) == 1 }

    /// The width of the terminal this descriptor is, in columns; nil when it is not a terminal.
    public var terminalColumns: Int? {
        var size = winsize()
        guard ioctl(rawValue, UInt(TIOCGWINSZ), &size) == 0, size.ws_col > 0 else { return nil }
        return Int(size.ws_col)
    }

    public static let standardOutput = FileDescriptor(rawValue: 1)
    public static let standardError = FileDescriptor(rawValue: 2)
}

/// Path operations.
public enum Path {
    public static func status(_ path: String, followLinks: Bool = true) -> FileStatus? {
        var st = stat()
        let rc = followLinks ? stat(path, &st) : lstat(path, &st)
        return rc == 0 ? FileStatus(st) : nil
    }

    @discardableResult
    public static func unlink(_ path: String) -> Bool { Glibc.unlink(path) == 0 }

    /// rename(2), replacing `to`.
    public static func rename(_ from: String, to: String) throws(Errno) {
        guard Glibc.rename(from, to) == 0 else { throw Errno.current }
    }

    /// rename(2) that fails with EEXIST instead of replacing `to`.
    public static func renameWithoutReplacing(_ from: String, to: String) throws(Errno) {
        guard ckpt_rename_noreplace(from, to) == 0 else { throw Errno.current }
    }

    /// Creates or truncates `path` and writes `bytes` (tools and fuzz seeds; not atomic).
    public static func writeFile(_ path: String, _ bytes: [UInt8]) throws(Errno) {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode_t(0o644))
        guard fd >= 0 else { throw Errno.current }
        let d = FileDescriptor(rawValue: fd)
        defer { d.close() }
        let failure = bytes.withUnsafeBytes { b -> Errno? in
            do throws(Errno) { try d.writeAll(b, at: 0); return nil } catch { return error }
        }
        if let failure { throw failure }
    }

    /// fsyncs a directory (after a rename into it); best effort.
    public static func syncDirectory(_ path: String) {
        guard let fd = try? FileDescriptor.openDirectory(path) else { return }
        try? fd.sync()
        fd.close()
    }

    /// Names in a directory (without `.` and `..`) as raw bytes, in directory order; nil if it
    /// cannot be read.
    public static func directoryEntries(_ directory: String, limit: Int = 1_000_000) -> [[UInt8]]? {
        guard let dir = opendir(directory) else { return nil }
        defer { closedir(dir) }
        var names: [[UInt8]] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in Array(raw.prefix { $0 != 0 }) }
            if name == [0x2E] || name == [0x2E, 0x2E] { continue }
            names.append(name)
            if names.count >= limit { break }
        }
        return names
    }
}

/// A whole file mapped read-only into memory, unmapped when released.
public final class MemoryMapping: @unchecked Sendable {
    // @unchecked: the mapping is read-only and immutable for the object's lifetime.
    public let base: UnsafeRawPointer
    public let count: Int

    /// Maps `count` bytes of `fd` from offset 0 (private, read-only). `count` must be > 0.
    public init(_ fd: FileDescriptor, count: Int) throws(Errno) {
        guard count > 0 else { throw Errno(EINVAL) }
        let p = mmap(nil, count, PROT_READ, MAP_PRIVATE, fd.rawValue, 0)
        guard let p, p != MAP_FAILED else { throw Errno.current }
        base = UnsafeRawPointer(p)
        self.count = count
        // A file shortened while mapped must not kill the process (SIGBUS): see mapping.c.
        guard let handle = ckpt_mapping_register(base, count) else {
            munmap(p, count)
            throw Errno(ENOMEM)
        }
        registration = handle
    }

    /// Set by the SIGBUS handler: a page of the mapping was past the file's end when touched (the
    /// file shrank while mapped), and zeros were read instead. Whoever read through the mapping
    /// must check this afterwards and treat what it read as void.
    public var faulted: Bool { ckpt_mapping_faulted(registration) != 0 }

    private let registration: UnsafeMutableRawPointer

    /// Drops the whole pages inside `range` from this process (read again if touched).
    public func release(_ range: Range<Int>) {
        guard range.lowerBound < range.upperBound, range.lowerBound >= 0, range.upperBound <= count else { return }
        let page = SystemProcess.pageSize
        let start = (range.lowerBound + page - 1) / page * page
        let end = range.upperBound == count ? range.upperBound : range.upperBound / page * page
        guard start < end else { return }
        _ = madvise(UnsafeMutableRawPointer(mutating: base + start), end - start, Int32(MADV_DONTNEED))
    }

    deinit {
        ckpt_mapping_unregister(registration)
        munmap(UnsafeMutableRawPointer(mutating: base), count)
    }
}
