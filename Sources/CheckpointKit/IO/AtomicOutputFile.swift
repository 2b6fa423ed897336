import CheckpointSystem
import Synchronization

/// Where a writer puts its bytes: a temporary file in the destination's directory that becomes
/// the destination only on ``commit()`` (flushed with fsync, then renamed). Dropped or aborted, it
/// removes itself, so a failed or interrupted write leaves nothing half-written behind.
///
/// The temporary file is `.<name>.ckpt-tmp-<pid>-<n>`, locked (`flock`) while it is written
/// through this object (not once its path was handed to another writer: see ``temporaryPath``).
/// SIGINT, SIGTERM, SIGHUP and SIGPIPE remove it (see `fs.c`); SIGKILL or a crash cannot, so the
/// next write to the same directory removes temporary files whose process is gone and whose lock
/// nobody holds (``removeStaleTemporaries(in:)``). A full disk or `ulimit -f` is
/// `CheckpointError.Code.noSpace`.
public final class AtomicOutputFile {
    public let destination: String
    /// The temporary file, for a writer that opens it by name itself (libhdf5 writing a
    /// `.weights.h5`). Asking for it releases this object's lock on the file first: libhdf5 takes
    /// its own `flock` when it creates a file and would fail on ours. (Stale-file clean-up then
    /// relies on the writer's pid alone.)
    public var temporaryPath: String {
        if locked, let fd { fd.unlock() }
        locked = false
        return path
    }
    /// The temporary file's path (without releasing the lock).
    private let path: String
    /// Whether this object holds the temporary file's `flock` (a sign of life for other runs).
    private var locked = false
    private var fd: FileDescriptor?
    private var committed = false
    private var slot: Int32?
    private let overwrite: Bool

    /// Bytes written so far (the next append goes here).
    public private(set) var offset: UInt64 = 0
    private var buffer: [UInt8] = []
    private var bufferStart: UInt64 = 0
    private let bufferLimit = 1 << 20

    private static let counter = Atomic<Int>(0)

    /// - Parameters:
    ///   - overwrite: replace an existing destination (`--force`); otherwise an existing file is an error,
    ///     checked before writing and again, atomically, at the rename.
    ///   - inputs: files that must never be replaced, whatever `overwrite` says.
    public init(destination: String, overwrite: Bool, inputs: [ReadableFile] = []) throws {
        self.destination = destination
        self.overwrite = overwrite
        for input in inputs where input.isSameFile(asPath: destination) {
            throw CheckpointError(.outputExists, "the output is the input file; ckpt never replaces its input", file: destination,
                                  hint: "write to another path")
        }
        if let st = Path.status(destination) {
            if st.kind == .directory {
                throw CheckpointError(.outputExists, "the output path is a directory", file: destination)
            }
            if !overwrite {
                throw CheckpointError(.outputExists, "the output file already exists", file: destination, hint: "pass --force to replace it")
            }
        }
        let dir: String
        let base: String
        if let slash = destination.lastIndex(of: "/") {
            dir = destination[..<slash].isEmpty ? "/" : String(destination[..<slash])
            base = String(destination[destination.index(after: slash)...])
        } else {
            dir = "."
            base = destination
        }
        AtomicOutputFile.removeStaleTemporaries(in: dir)
        let n = AtomicOutputFile.counter.add(1, ordering: .relaxed).newValue
        path = (dir == "/" ? "" : dir) + "/." + base + ".ckpt-tmp-\(SystemProcess.id)-\(n)"
        let fd: FileDescriptor
        do { fd = try FileDescriptor.createExclusive(path) } catch {
            throw CheckpointError.io("cannot create a temporary file in \(dir)", file: destination, errno: error.rawValue)
        }
        self.fd = fd
        // Held until the descriptor closes (or the process dies, even by SIGKILL): it tells a later
        // run that this temporary file is still being written.
        locked = fd.tryLockExclusive()
        slot = SystemProcess.registerTemporary(path)
    }

    /// The pid in a temporary file name of ours, `.<name>.ckpt-tmp-<pid>-<n>`; nil for any other name.
    static func temporaryOwner(_ name: String) -> Int32? {
        let b = Array(name.utf8)
        let marker = Array(".ckpt-tmp-".utf8)
        guard b.count > marker.count + 4, b[0] == UInt8(ascii: ".") else { return nil }
        // The last occurrence of the marker, after a non-empty destination name.
        var at = -1
        var k = b.count - marker.count
        while k >= 2 {
            if b[k..<(k + marker.count)].elementsEqual(marker) { at = k; break }
            k -= 1
        }
        guard at >= 2 else { return nil }
        let tail = b[(at + marker.count)...]
        guard let dash = tail.firstIndex(of: UInt8(ascii: "-")) else { return nil }
        let pidDigits = tail[tail.startIndex..<dash], nDigits = tail[(dash + 1)...]
        func isNumber(_ s: ArraySlice<UInt8>) -> Bool { !s.isEmpty && s.count <= 18 && s.allSatisfy { $0 >= 0x30 && $0 <= 0x39 } }
        guard isNumber(pidDigits), isNumber(nDigits), let pid = Int32(String(decoding: pidDigits, as: UTF8.self)), pid > 0 else { return nil }
        return pid
    }

    /// Removes temporary files that interrupted writes left in `dir`: a SIGKILL (or a power cut)
    /// gives a process no chance to remove its own. A file is removed only if its name is one of
    /// ours, the process it names is not alive on this machine, and no process holds its lock
    /// (a writer locks its temporary file for as long as it writes, so a live writer elsewhere, on
    /// a shared file system or in another pid namespace, keeps its file). Best effort: failures
    /// are ignored.
    static func removeStaleTemporaries(in dir: String) {
        guard let entries = Path.directoryEntries(dir) else { return }
        let me = SystemProcess.id
        for raw in entries {
            guard let name = String(validating: raw, as: UTF8.self) else { continue }
            guard let pid = temporaryOwner(name), pid != me, !SystemProcess.exists(pid) else { continue }
            let path = (dir == "/" ? "" : dir) + "/" + name
            guard let fd = try? FileDescriptor.openForReading(path, followLinks: false) else { continue }
            if (try? fd.status())?.kind == .regular, fd.tryLockExclusive() {
                Path.unlink(path)
            }
            fd.close()
        }
    }

    deinit {
        if !committed { abort() }
    }

    /// Removes the temporary file; the destination is untouched.
    public func abort() {
        fd?.close()
        fd = nil
        if !committed { Path.unlink(path) }
        if let slot { SystemProcess.unregisterTemporary(slot) }
        slot = nil
    }

    public func append(_ bytes: UnsafeRawBufferPointer) throws {
        guard bytes.count > 0 else { return }
        if buffer.count + bytes.count > bufferLimit {
            try flushBuffer()
            if bytes.count >= bufferLimit {
                try writeFully(bytes, at: offset)
                offset += UInt64(bytes.count)
                bufferStart = offset
                return
            }
        }
        buffer.append(contentsOf: bytes)
        offset += UInt64(bytes.count)
    }

    public func append(_ bytes: [UInt8]) throws {
        try bytes.withUnsafeBytes { try append($0) }
    }

    /// Overwrites already-appended bytes (patching a header once sizes are known).
    public func patch(_ bytes: [UInt8], at position: UInt64) throws {
        precondition(position + UInt64(bytes.count) <= offset, "patch beyond the written data")
        if position >= bufferStart {
            let s = Int(position - bufferStart)
            buffer.replaceSubrange(s..<(s + bytes.count), with: bytes)
        } else if position + UInt64(bytes.count) <= bufferStart {
            try bytes.withUnsafeBytes { try writeFully($0, at: position) }
        } else {
            try flushBuffer()
            try bytes.withUnsafeBytes { try writeFully($0, at: position) }
        }
    }

    /// Copies `count` bytes from `source` at `sourceOffset` to the end of this file, in the kernel
    /// where possible (`copy_file_range`).
    public func appendCopy(from source: ReadableFile, at sourceOffset: UInt64, count: UInt64) throws {
        guard count > 0 else { return }
        try flushBuffer()
        var inOff = Int64(sourceOffset)
        var outOff = Int64(offset)
        var left = count
        if let input = source.descriptor, let fd = try? output() {
            while left > 0 {
                // Where the kernel cannot copy (another file system, no support), copy by hand below.
                guard let n = try? input.copy(to: fd, from: &inOff, to: &outOff, count: Int(min(left, 1 << 30))) else { break }
                if n == 0 {
                    throw CheckpointError(.truncated, "the input ended while copying its member data", file: source.path, offset: UInt64(inOff))
                }
                left -= UInt64(n)
            }
        }
        if left > 0 {
            var chunk = [UInt8](repeating: 0, count: Int(min(left, 4 << 20)))
            while left > 0 {
                let n = Int(min(left, UInt64(chunk.count)))
                try chunk.withUnsafeMutableBytes { b in
                    let part = UnsafeMutableRawBufferPointer(rebasing: b[0..<n])
                    try source.read(at: UInt64(inOff), into: part, what: "member data")
                    try writeFully(UnsafeRawBufferPointer(part), at: UInt64(outOff))
                }
                inOff += Int64(n)
                outOff += Int64(n)
                left -= UInt64(n)
            }
        } else {
            IOStatistics.shared.addRead(Int(count))
            source.statistics.addRead(Int(count))
        }
        offset += count
        bufferStart = offset
    }

    /// Flushes, fsyncs, and renames the temporary file to the destination (atomically replacing it
    /// only if `overwrite`), then fsyncs the directory.
    public func commit() throws {
        try flushBuffer()
        let fd = try output()
        do { try fd.sync() } catch { throw CheckpointError.io("cannot flush the output to disk", file: destination, errno: error.rawValue) }
        self.fd = nil
        if let e = fd.close() { throw CheckpointError.io("cannot close the output", file: destination, errno: e.rawValue) }
        do {
            if overwrite { try Path.rename(path, to: destination) } else { try Path.renameWithoutReplacing(path, to: destination) }
        } catch {
            if error == .exists {
                throw CheckpointError(.outputExists, "the output file appeared while it was being written", file: destination, hint: "pass --force to replace it")
            }
            throw CheckpointError.io("cannot move the finished file into place", file: destination, errno: error.rawValue)
        }
        committed = true
        if let slot { SystemProcess.unregisterTemporary(slot) }
        slot = nil
        Path.syncDirectory(FileSystem.split(destination).directory)
    }

    private func flushBuffer() throws {
        guard !buffer.isEmpty else { bufferStart = offset; return }
        try buffer.withUnsafeBytes { try writeFully($0, at: bufferStart) }
        buffer.removeAll(keepingCapacity: true)
        bufferStart = offset
    }

    private func writeFully(_ bytes: UnsafeRawBufferPointer, at position: UInt64) throws {
        do { try output().writeAll(bytes, at: position) } catch let e as Errno {
            throw CheckpointError.io("cannot write the output", file: destination, errno: e.rawValue)
        }
    }

    /// The open temporary file; an error once it was closed (committed or aborted).
    private func output() throws -> FileDescriptor {
        guard let fd else { throw CheckpointError(.io, "the output was already closed", file: destination) }
        return fd
    }
}
