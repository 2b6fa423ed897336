import CheckpointSystem

/// A whole file mapped read-only into memory (`mmap`), unmapped when released.
///
/// Used to hand a stored ZIP member (the `model.weights.h5` of a `.keras` file) to libhdf5 as an
/// in-memory image without copying it. The mapping is private and read-only; whoever holds a
/// pointer into it must keep this object alive. A file shortened by another process while it is
/// mapped would make reads past its new end fault (`SIGBUS`); here such pages read as zeros
/// instead and ``checkIntact(member:)`` — called after every read through the mapping — turns
/// that into a `.truncated` error.
final class MappedFile: @unchecked Sendable {
    // @unchecked Sendable: the mapping is read-only and immutable for the object's lifetime.

    /// The file as named in errors.
    let path: String
    /// The mapping (nil for an empty file, which cannot be mapped).
    private let mapping: MemoryMapping?
    /// Start of the mapping (nil for an empty file).
    var base: UnsafeRawPointer? { mapping?.base }
    /// Bytes mapped (the file's size when it was mapped).
    let count: Int

    init(_ file: ReadableFile) throws {
        path = file.path
        guard file.size > 0 else {
            mapping = nil
            count = 0
            return
        }
        guard file.size <= UInt64(Int.max) else {
            throw CheckpointError(.limitExceeded, "the file is too large to map into memory", file: file.path)
        }
        guard let fd = file.descriptor else {
            throw CheckpointError(.io, "an in-memory file cannot be mapped", file: file.path)
        }
        let n = Int(file.size)
        do { mapping = try MemoryMapping(fd, count: n) } catch {
            throw CheckpointError.io("cannot map the file into memory", file: file.path, errno: error.rawValue)
        }
        count = n
    }

    convenience init(path: String) throws {
        try self.init(ReadableFile(path: path))
    }

    /// Throws `.truncated` if the file shrank while mapped and a read through the mapping met the
    /// missing bytes (they read as zeros, so whatever was computed from them is void).
    func checkIntact(member: String? = nil) throws {
        guard let mapping, mapping.faulted else { return }
        let now = (try? ReadableFile(path: path).size).map { " (now \($0) bytes)" } ?? ""
        throw CheckpointError(.truncated, "the file was shortened from \(count) bytes\(now) while ckpt was reading it (a copy still in progress?)",
                              file: path, member: member, offset: UInt64(count),
                              hint: "wait until the file is complete, then run ckpt again")
    }

    /// `count` bytes from `offset`, checked against the mapping.
    func bytes(at offset: UInt64, count n: UInt64, what: String, member: String? = nil) throws -> UnsafeRawBufferPointer {
        let (end, overflow) = offset.addingReportingOverflow(n)
        guard !overflow, end <= UInt64(count), let base else {
            throw CheckpointError(.truncated, "the file ends at byte \(count), before the end of the \(what) (\(n) bytes from byte \(offset))",
                                  file: path, member: member, offset: offset)
        }
        return UnsafeRawBufferPointer(start: base + Int(offset), count: Int(n))
    }

    /// Tells the kernel the whole pages inside bytes `range` of the file are not needed any more
    /// (they are dropped from this process and read again from the file if touched), so streaming
    /// through a large mapping does not keep it resident.
    func release(_ range: Range<UInt64>) {
        guard range.lowerBound < range.upperBound, range.upperBound <= UInt64(count) else { return }
        mapping?.release(Int(range.lowerBound)..<Int(range.upperBound))
    }
}
