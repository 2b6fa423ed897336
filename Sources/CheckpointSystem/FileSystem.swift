#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// File-system queries that do not open a file.
public enum FileSystem {
    /// What is at a path, following symbolic links (`nil`: nothing, or it cannot be examined).
    public enum Kind: Sendable, Equatable { case regular, directory, fifo, other }

    public static func kind(_ path: String) -> Kind? {
        var st = stat()
        guard stat(path, &st) == 0 else { return nil }
        switch st.st_mode & S_IFMT {
        case S_IFREG: return .regular
        case S_IFDIR: return .directory
        case S_IFIFO: return .fifo
        default: return .other
        }
    }

    public static func isDirectory(_ path: String) -> Bool { kind(path) == .directory }
    public static func exists(_ path: String) -> Bool { kind(path) != nil }

    /// Whether anything, even a dangling symbolic link, is at `path`.
    public static func entryExists(_ path: String) -> Bool {
        var st = stat()
        return lstat(path, &st) == 0
    }

    /// The names in a directory (without `.` and `..`), sorted bytewise; nil if it cannot be read.
    public static func list(_ directory: String, limit: Int = 100_000) -> [String]? {
        guard let dir = opendir(directory) else { return nil }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw -> String in
                let bytes = raw.prefix { $0 != 0 }
                return String(decoding: bytes, as: UTF8.self)
            }
            if name == "." || name == ".." { continue }
            names.append(name)
            if names.count >= limit { break }
        }
        return names.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
    }

    /// `path`'s directory and file name (`.` when there is no slash).
    public static func split(_ path: String) -> (directory: String, name: String) {
        guard let slash = path.lastIndex(of: "/") else { return (".", path) }
        let dir = path[..<slash].isEmpty ? "/" : String(path[..<slash])
        return (dir, String(path[path.index(after: slash)...]))
    }
}
