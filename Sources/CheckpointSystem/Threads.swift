#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A thread of our own (for work that must not wait on Dispatch's pool, such as a producer that
/// feeds a consumer on the pool), joined by ``join()``.
public final class SystemThread: @unchecked Sendable {
    // @unchecked: `handle` is written once before start returns and read only by join.
    private var handle = pthread_t()
    private var joined = false

    private final class Box {
        let body: () -> Void
        init(_ body: @escaping () -> Void) { self.body = body }
    }

    /// Starts `body` on a new thread; nil if the system refuses one (the caller runs it inline).
    public static func start(stackSize: Int = 8 << 20, _ body: @escaping @Sendable () -> Void) -> SystemThread? {
        let thread = SystemThread()
        var attr = pthread_attr_t()
        pthread_attr_init(&attr)
        defer { pthread_attr_destroy(&attr) }
        pthread_attr_setstacksize(&attr, stackSize)
        let box = Unmanaged.passRetained(Box(body)).toOpaque()
        let rc = pthread_create(&thread.handle, &attr, { arg in
            guard let arg else { return nil }
            let box = Unmanaged<Box>.fromOpaque(arg).takeRetainedValue()
            box.body()
            return nil
        }, box)
        guard rc == 0 else {
            Unmanaged<Box>.fromOpaque(box).release()
            return nil
        }
        return thread
    }

    /// Waits for the thread to end (once).
    public func join() {
        guard !joined else { return }
        joined = true
        pthread_join(handle, nil)
    }
}
