import CheckpointSystem
import Dispatch
import Synchronization

/// Runs independent work items on every core, biggest first, and reports the failure of the
/// lowest-numbered item so errors are deterministic.
public enum ParallelWork {
    /// Number of worker threads (the machine's online cores).
    public static var cores: Int {
        SystemProcess.processorCount
    }

    public static func forEach(count: Int, parallel: Bool = true, weight: ((Int) -> Int)? = nil,
                               _ body: @Sendable (Int) throws -> Void) throws {
        guard count > 0 else { return }
        if !parallel || count == 1 || cores == 1 {
            for i in 0..<count { try body(i) }
            return
        }
        var order = Array(0..<count)
        if let weight {
            let w = order.map(weight)
            order.sort { w[$0] != w[$1] ? w[$0] > w[$1] : $0 < $1 }
        }
        let schedule = order
        let next = Atomic<Int>(0)
        let failure = Mutex<(Int, any Error)?>(nil)
        DispatchQueue.concurrentPerform(iterations: min(cores, count)) { _ in
            while true {
                let k = next.add(1, ordering: .relaxed).oldValue
                guard k < schedule.count else { return }
                let i = schedule[k]
                if failure.withLock({ f in f.map { $0.0 < i } ?? false }) { continue }
                do {
                    try body(i)
                } catch {
                    failure.withLock { f in
                        if i < (f?.0 ?? Int.max) { f = (i, error) }
                    }
                }
            }
        }
        if let (_, error) = failure.withLock({ $0 }) { throw error }
    }

    /// Maps items in parallel, returning results in input order.
    public static func map<T: Sendable>(count: Int, parallel: Bool = true, weight: ((Int) -> Int)? = nil,
                                        _ body: @Sendable (Int) throws -> T) throws -> [T] {
        let results = Mutex<[T?]>(Array(repeating: nil, count: count))
        try forEach(count: count, parallel: parallel, weight: weight) { i in
            let r = try body(i)
            results.withLock { $0[i] = r }
        }
        // forEach either threw or ran every item.
        return results.withLock { $0.compactMap { $0 } }
    }
}

/// `body` run on a thread of its own, started at once; ``wait()`` joins it and gives its result
/// (or rethrows its error). Work that can overlap the caller's, such as checking the members a
/// writer copies while it copies them.
final class BackgroundResult<T: Sendable>: @unchecked Sendable {
    private let result = Mutex<Result<T, any Error>?>(nil)
    private var thread: SystemThread?
    private var joined = false

    init(_ body: @escaping @Sendable () throws -> T) {
        let work: @Sendable () -> Void = { [self] in
            let r: Result<T, any Error>
            do { r = .success(try body()) } catch { r = .failure(error) }
            self.result.withLock { $0 = r }
        }
        thread = SystemThread.start(work)
        if thread == nil { work() }
    }

    /// Waits for the thread (once) and returns its result.
    func wait() throws -> T {
        if !joined { thread?.join(); joined = true }
        guard let r = result.withLock({ $0 }) else {
            throw CheckpointError(.io, "internal error: background work gave no result")
        }
        return try r.get()
    }
}
