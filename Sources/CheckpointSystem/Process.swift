#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import CRuntimeLibs

/// The running process and its machine.
public enum SystemProcess {
    public static var id: Int32 { getpid() }

    /// Whether a process with this id exists on this machine (`kill(pid, 0)` is not ESRCH).
    public static func exists(_ pid: Int32) -> Bool { kill(pid, 0) == 0 || errno != ESRCH }

    public static var processorCount: Int { max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))) }
    public static var pageSize: Int { max(4096, Int(sysconf(Int32(_SC_PAGESIZE)))) }

    public static func environment(_ key: String) -> String? { getenv(key).map { String(cString: $0) } }

    /// The directory for scratch files: `$TMPDIR`, else `/tmp`.
    public static var temporaryDirectory: String {
        environment("TMPDIR").flatMap { $0.isEmpty ? nil : $0 } ?? "/tmp"
    }

    /// Signal handlers that unlink registered temporary files on SIGINT, SIGTERM, SIGHUP, SIGPIPE,
    /// and allocator settings for streaming work.
    public static func installCleanupHandlers() {
        ckpt_install_cleanup_handlers()
        ckpt_tune_malloc()
    }

    /// Registers a file for removal if the process is interrupted (SIGINT, SIGTERM, SIGHUP,
    /// SIGPIPE); nil only if memory ran out. There is no limit on how many are registered.
    public static func registerTemporary(_ path: String) -> TemporaryRegistration? {
        ckpt_register_temp(path).map(TemporaryRegistration.init)
    }

    public static func unregisterTemporary(_ registration: TemporaryRegistration) { ckpt_unregister_temp(registration.handle) }

    /// How many files are registered for removal now.
    public static var registeredTemporaryCount: Int { Int(ckpt_registered_temp_count()) }

    /// Ends the process abnormally (SIGABRT): for fuzz findings.
    public static func abort() -> Never { Glibc.abort() }

    /// Ends the process with `status` (the executable's last call).
    public static func exit(_ status: Int32) -> Never { Glibc.exit(status) }
}

/// A path registered with ``SystemProcess/registerTemporary(_:)``.
public struct TemporaryRegistration: @unchecked Sendable {
    // @unchecked: an opaque handle into the C registry, which is safe to use from any thread.
    let handle: UnsafeMutableRawPointer
}

/// Time.
public enum Clock {
    /// Seconds on a monotonic clock.
    public static func monotonic() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }

    /// Local time now as `YYYY-MM-DD@HH:MM:SS` (what Keras writes in `metadata.json`); nil if the
    /// clock or the time zone cannot be read.
    public static func localTimestamp() -> String? {
        var now = time(nil)
        var parts = tm()
        guard localtime_r(&now, &parts) != nil else { return nil }
        func two(_ v: Int32) -> String { v < 10 ? "0\(v)" : "\(v)" }
        return "\(parts.tm_year + 1900)-\(two(parts.tm_mon + 1))-\(two(parts.tm_mday))@\(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec))"
    }
}

/// Comparing memory.
public enum Memory {
    /// Whether `count` bytes at `a` and `b` are equal.
    public static func equal(_ a: UnsafeRawPointer, _ b: UnsafeRawPointer, count: Int) -> Bool { memcmp(a, b, count) == 0 }

    /// Whether two buffers hold the same bytes.
    public static func equal(_ a: UnsafeRawBufferPointer, _ b: UnsafeRawBufferPointer) -> Bool {
        guard a.count == b.count else { return false }
        guard let pa = a.baseAddress, let pb = b.baseAddress else { return true }
        return memcmp(pa, pb, a.count) == 0
    }
}

/// libm functions the standard library lacks.
public enum Libm {
    public static func log10(_ x: Double) -> Double { Glibc.log10(x) }
    public static func pow(_ x: Double, _ y: Double) -> Double { Glibc.pow(x, y) }
}

/// printf-style formatting through the C library (no Foundation: it would double start-up time).
public func cFormat(_ format: String, _ args: CVarArg...) -> String {
    withVaList(args) { va in
        var buf = [CChar](repeating: 0, count: 128)
        let n = buf.withUnsafeMutableBufferPointer { vsnprintf($0.baseAddress, 128, format, va) }
        if n >= 128 {
            buf = [CChar](repeating: 0, count: Int(n) + 1)
            _ = withVaList(args) { va2 in buf.withUnsafeMutableBufferPointer { vsnprintf($0.baseAddress, Int(n) + 1, format, va2) } }
        }
        return buf.withUnsafeBufferPointer { b in String(decoding: b.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self) }
    }
}
