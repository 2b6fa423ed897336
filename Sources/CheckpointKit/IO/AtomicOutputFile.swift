import CheckpointSystem

/// Where a writer puts its bytes: a temporary file in the destination's directory that becomes
/// the destination only on ``commit()`` (flushed with fsync, then renamed). Dropped or aborted, it
/// removes itself, so a failed or interrupted write leaves nothing half-written behind.
///
/// The temporary file follows ``TemporaryFiles``' one naming scheme (`.ckpt-tmp-<pid>-<n>`) and is
/// locked while it is written through this object. A full disk or `ulimit -f` is
/// `CheckpointError.Code.noSpace`. The destination is never a file the command reads
/// (``InputRegistry``, and `inputs`). Several outputs that must appear together use
/// ``AtomicFileSet``.
public final class AtomicOutputFile {
    public let destination: String
    /// The temporary file, for a writer that opens it by name itself (libhdf5 writing a
    /// `.weights.h5`). Asking for it releases this object's lock on the file first: libhdf5 takes
    /// its own `flock` when it creates a file and would fail on ours.
    public var temporaryPath: String {
        temp.releaseLock()
        return temp.path
    }
    private let temp: TemporaryFile
    private var committed = false
    private var staged = false
    private let overwrite: Bool

    /// Bytes written so far (the next append goes here).
    public private(set) var offset: UInt64 = 0
    private var buffer: [UInt8] = []
    private var bufferStart: UInt64 = 0
    private let bufferLimit = 1 << 20

    /// - Parameters:
    ///   - overwrite: replace an existing destination (`--force`); otherwise an existing file (or a
    ///     symbolic link, even a dangling one) is an error, checked before writing and again,
    ///     atomically, at the rename.
    ///   - inputs: files that must never be replaced, whatever `overwrite` says (besides every file
    ///     in ``InputRegistry/current``).
    public init(destination: String, overwrite: Bool, inputs: [ReadableFile] = []) throws {
        self.destination = destination
        self.overwrite = overwrite
        try Self.checkDestination(destination, overwrite: overwrite, inputs: inputs)
        temp = try TemporaryFile(directory: FileSystem.split(destination).directory, displayName: destination)
    }

    /// Refuses a destination that is an input, a directory, or (without `overwrite`) anything that exists.
    static func checkDestination(_ destination: String, overwrite: Bool, inputs: [ReadableFile]) throws {
        if let st = Path.status(destination) {
            let input = inputs.first { $0.isSameFile(asPath: destination) }?.path ?? InputRegistry.current?.input(sameAs: st)
            if let input {
                throw CheckpointError(.outputExists, input.sameBytes(destination) ? "the output is the input file; ckpt never replaces its input"
                                        : "the output is \(escapeForDisplay(input)), which this command reads; ckpt never replaces its input",
                                      file: destination, hint: "write to another path")
            }
            if st.kind == .directory {
                throw CheckpointError(.outputExists, "the output path is a directory", file: destination)
            }
            if !overwrite {
                throw CheckpointError(.outputExists, "the output file already exists", file: destination, hint: "pass --force to replace it")
            }
        } else if Path.status(destination, followLinks: false)?.kind == .symlink, !overwrite {
            throw CheckpointError(.outputExists, "the output path is a symbolic link to a file that does not exist", file: destination,
                                  hint: "pass --force to replace the link, or write elsewhere")
        }
    }

    /// The pid in a temporary file name of ours (see ``TemporaryFiles/owner(_:)``).
    static func temporaryOwner(_ name: String) -> Int32? { TemporaryFiles.owner(name) }

    /// Removes temporary files that interrupted writes left in `dir` (see ``TemporaryFiles/removeStale(in:)``).
    static func removeStaleTemporaries(in dir: String) { TemporaryFiles.removeStale(in: dir) }

    deinit {
        if !committed { abort() }
    }

    /// Removes the temporary file; the destination is untouched.
    public func abort() {
        if !committed { temp.remove() }
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
        if let input = source.descriptor, let fd = temp.fd {
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
        try stage()
        try moveIntoPlace()
        Path.syncDirectory(FileSystem.split(destination).directory)
    }

    /// Flushes, fsyncs and closes the temporary file: everything but the rename (``AtomicFileSet``
    /// stages every file of a set before renaming any).
    func stage() throws {
        guard !staged else { return }
        try flushBuffer()
        let fd = try output()
        do { try fd.sync() } catch { throw CheckpointError.io("cannot flush the output to disk", file: destination, errno: error.rawValue) }
        if let e = temp.close() { throw CheckpointError.io("cannot close the output", file: destination, errno: e.rawValue) }
        staged = true
    }

    /// Renames the staged file to the destination (refusing to replace anything unless `overwrite`).
    func moveIntoPlace() throws {
        do {
            if overwrite { try Path.rename(temp.path, to: destination) } else { try Path.renameWithoutReplacing(temp.path, to: destination) }
        } catch {
            if error == .exists {
                let link = Path.status(destination, followLinks: false)?.kind == .symlink
                throw CheckpointError(.outputExists, link ? "the output path became a symbolic link while the output was being written"
                                        : "the output file appeared while it was being written", file: destination, hint: "pass --force to replace it")
            }
            throw CheckpointError.io("cannot move the finished file into place", file: destination, errno: error.rawValue)
        }
        committed = true
        temp.moved()
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
        guard let fd = temp.fd else { throw CheckpointError(.io, "the output was already closed", file: destination) }
        return fd
    }
}
