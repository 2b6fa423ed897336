import CheckpointSystem

/// Several outputs that must appear together or not at all: the shards and index of a sharded
/// safetensors set, the three files of a TensorFlow checkpoint (issue 16).
///
/// ``commit()`` first stages every file (flushed, fsynced, closed under its temporary name), then
/// renames them in the order given — the file that makes the set visible to readers (an index)
/// last — and syncs the directories. While the renames run, every destination that did not exist
/// before is registered for removal if SIGINT, SIGTERM, SIGHUP or SIGPIPE arrives, and a failed
/// rename removes the ones already done: an interrupted commit leaves no shards without their index.
/// (SIGKILL between two renames cannot be caught; readers refuse a set whose index and shards
/// disagree.)
public final class AtomicFileSet {
    private let files: [AtomicOutputFile]
    private var done = false

    /// `files` in rename order: the file that names the others last.
    public init(_ files: [AtomicOutputFile]) { self.files = files }

    public func commit() throws {
        guard !done else { return }
        do {
            for f in files { try f.stage() }
        } catch {
            abort()
            throw error
        }
        // Destinations that are new: removed again if the set cannot be completed.
        let fresh = files.filter { Path.status($0.destination, followLinks: false) == nil }.map(\.destination)
        let registrations = fresh.compactMap { SystemProcess.registerTemporary($0) }
        defer { for r in registrations { SystemProcess.unregisterTemporary(r) } }
        var moved: [String] = []
        do {
            for f in files {
                try f.moveIntoPlace()
                moved.append(f.destination)
            }
        } catch {
            for p in moved where fresh.contains(where: { $0.sameBytes(p) }) { Path.unlink(p) }
            abort()
            throw error
        }
        done = true
        var dirs: [String] = []
        for f in files {
            let d = FileSystem.split(f.destination).directory
            if !dirs.contains(where: { $0.sameBytes(d) }) { dirs.append(d) }
        }
        for d in dirs { Path.syncDirectory(d) }
    }

    /// Removes every temporary file not yet moved into place.
    public func abort() {
        for f in files { f.abort() }
    }

    deinit { if !done { abort() } }
}
