import CheckpointSystem
import Synchronization

/// Counters the structural tests read: what a command really touched. `shared` counts the whole
/// process; every ``ReadableFile`` also has its own (tests run in parallel, so they check a
/// file's counters, not the process's).
public final class IOStatistics: Sendable {
    public static let shared = IOStatistics()
    public init() {}
    private let _bytesRead = Atomic<UInt64>(0)
    private let _bytesInflated = Atomic<UInt64>(0)
    private let _bytesDeflated = Atomic<UInt64>(0)

    public var bytesRead: UInt64 { _bytesRead.load(ordering: .relaxed) }
    /// Uncompressed bytes produced by inflating (zlib or libdeflate).
    public var bytesInflated: UInt64 { _bytesInflated.load(ordering: .relaxed) }
    /// Uncompressed bytes consumed by deflating.
    public var bytesDeflated: UInt64 { _bytesDeflated.load(ordering: .relaxed) }

    func addRead(_ n: Int) { _bytesRead.add(UInt64(n), ordering: .relaxed) }
    func addInflated(_ n: Int) { _bytesInflated.add(UInt64(n), ordering: .relaxed) }
    func addDeflated(_ n: Int) { _bytesDeflated.add(UInt64(n), ordering: .relaxed) }

    public func reset() {
        _bytesRead.store(0, ordering: .relaxed)
        _bytesInflated.store(0, ordering: .relaxed)
        _bytesDeflated.store(0, ordering: .relaxed)
    }
}

/// A file opened read-only, read with `pread` so any number of threads can share it; or bytes
/// already in memory presented as a file (``init(bytes:name:)``: fuzzers and tests).
public final class ReadableFile: @unchecked Sendable {
    // @unchecked: the descriptor is only used with pread(2), which is thread-safe, and closed in
    // deinit; the in-memory bytes are immutable.
    public let path: String
    public let size: UInt64
    /// nil for an in-memory file.
    let descriptor: FileDescriptor?
    /// The bytes of an in-memory file; nil for a real one.
    let memory: [UInt8]?
    /// What was read from this file and inflated from its members.
    public let statistics = IOStatistics()

    public init(path: String) throws {
        self.path = path
        // Non-blocking: a FIFO or a device is refused below instead of hanging the open.
        let fd: FileDescriptor
        do { fd = try FileDescriptor.openForReading(path) } catch { throw CheckpointError.io("cannot open the file for reading", file: path, errno: error.rawValue) }
        let st: FileStatus
        do { st = try fd.status() } catch {
            fd.close()
            throw CheckpointError.io("cannot stat the file", file: path, errno: error.rawValue)
        }
        guard st.kind == .regular else {
            fd.close()
            let what = st.kind == .directory ? "a directory" : st.kind == .fifo ? "a FIFO (named pipe)" : "not a regular file"
            throw CheckpointError(.notRecognized, st.kind == .other ? "not a regular file" : "\(what), not a regular file", file: path)
        }
        fd.setBlocking()
        InputRegistry.current?.add(device: st.device, inode: st.inode, path: path)
        self.descriptor = fd
        self.memory = nil
        self.size = st.size
        self.device = st.device
        self.inode = st.inode
    }

    /// Bytes in memory read as if they were a file named `name` (which appears in messages only:
    /// nothing is opened). It is the same file as no path.
    public init(bytes: [UInt8], name: String) {
        self.path = name
        self.descriptor = nil
        self.memory = bytes
        self.size = UInt64(bytes.count)
        self.device = UInt64.max
        self.inode = UInt64.max
    }

    /// Whether this file is in memory (``init(bytes:name:)``) rather than a descriptor.
    public var isInMemory: Bool { memory != nil }

    let device: UInt64
    let inode: UInt64

    deinit { descriptor?.close() }

    /// Reads exactly `buffer.count` bytes at `offset`, or throws `.truncated` naming what was being read.
    public func read(at offset: UInt64, into buffer: UnsafeMutableRawBufferPointer, what: @autoclosure () -> String = "data", member: String? = nil) throws {
        guard buffer.count > 0 else { return }
        let (end, overflow) = offset.addingReportingOverflow(UInt64(buffer.count))
        guard !overflow, end <= size else {
            throw CheckpointError(.truncated, "the file ends at byte \(size), before the end of the \(what()) (\(buffer.count) bytes from byte \(offset))",
                                  file: path, member: member, offset: offset)
        }
        if let memory {
            memory.withUnsafeBytes { m in
                buffer.copyMemory(from: UnsafeRawBufferPointer(rebasing: m[Int(offset)..<Int(end)]))
            }
            IOStatistics.shared.addRead(buffer.count)
            statistics.addRead(buffer.count)
            return
        }
        guard let descriptor else { return }
        var done = 0
        while done < buffer.count {
            let n: Int
            do { n = try descriptor.read(into: UnsafeMutableRawBufferPointer(rebasing: buffer[done...]), at: offset + UInt64(done)) } catch {
                throw CheckpointError.io("cannot read \(what())", file: path, errno: error.rawValue).located(member: member, offset: offset + UInt64(done))
            }
            if n == 0 {
                throw CheckpointError(.truncated, "the file ended while reading the \(what())", file: path, member: member, offset: offset + UInt64(done))
            }
            done += n
        }
        IOStatistics.shared.addRead(done)
        statistics.addRead(done)
    }

    public func read(at offset: UInt64, count: Int, what: @autoclosure () -> String = "data", member: String? = nil) throws -> [UInt8] {
        guard count > 0 else { return [] }
        var out = [UInt8](repeating: 0, count: count)
        try out.withUnsafeMutableBytes { try read(at: offset, into: $0, what: what(), member: member) }
        return out
    }

    /// Whether two open files are the same inode (so an output never replaces an input).
    public func isSameFile(asPath other: String) -> Bool {
        guard memory == nil, let st = Path.status(other) else { return false }
        return st.device == device && st.inode == inode
    }

    /// Advises the kernel that the whole file will be read sequentially (large copies).
    public func adviseSequential() {
        descriptor?.adviseSequential()
    }
}
