import CheckpointSystem
import Dispatch
import Synchronization


/// Thrown inside a read to stop it early (another tensor already decided the answer); never
/// leaves the diff engine.
struct DiffCancelled: Error {}

/// Turns the byte chunks a reader delivers (which may split an element) into runs of whole
/// elements, counting elements from `first`.
struct DiffElementAligner {
    let itemSize: Int
    private(set) var next: Int
    private var carry: [UInt8] = []

    init(itemSize: Int, first: Int = 0) {
        self.itemSize = itemSize
        next = first
    }

    /// Calls `emit(bytes, firstElement)` with whole elements only.
    mutating func feed(_ chunk: UnsafeRawBufferPointer, _ emit: (UnsafeRawBufferPointer, Int) throws -> Void) throws {
        var rest = chunk
        if !carry.isEmpty {
            let need = itemSize - carry.count
            let take = Swift.min(need, rest.count)
            carry.append(contentsOf: UnsafeRawBufferPointer(rebasing: rest[rest.startIndex..<(rest.startIndex + take)]))
            rest = UnsafeRawBufferPointer(rebasing: rest[(rest.startIndex + take)...])
            guard carry.count == itemSize else { return }
            try carry.withUnsafeBytes { try emit($0, next) }
            next += 1
            carry.removeAll(keepingCapacity: true)
        }
        let whole = rest.count - rest.count % itemSize
        if whole > 0 {
            try emit(UnsafeRawBufferPointer(rebasing: rest[rest.startIndex..<(rest.startIndex + whole)]), next)
            next += whole / itemSize
        }
        if whole < rest.count {
            carry.append(contentsOf: UnsafeRawBufferPointer(rebasing: rest[(rest.startIndex + whole)...]))
        }
    }

    /// Bytes left over that do not make a whole element (a reader bug or a damaged file).
    var leftover: Int { carry.count }
}

/// One side of a tensor pair read in element order on demand ("pull"), while the other side is
/// pushed through a reader's callback.
protocol DiffPullReader: AnyObject {
    /// Calls `body` with up to `max` whole elements (at least one unless the tensor is exhausted)
    /// and returns how many it gave (0 at the end).
    func next(max: Int, _ body: (UnsafeRawPointer, Int) throws -> Void) throws -> Int
    /// Checks that the tensor was consumed exactly and its checksum holds; stops any helper.
    func finish(consumedAll: Bool) throws
}

/// The whole tensor in memory (small tensors).
final class DiffBufferReader: DiffPullReader {
    private let bytes: [UInt8]
    private let itemSize: Int
    private var offset = 0

    init(source: any TensorSource, tensor i: Int, limits: Limits) throws {
        bytes = try source.readTensorBytes(i, limits: limits)
        itemSize = source.index.tensors[i].dtype.itemSize
    }

    func next(max: Int, _ body: (UnsafeRawPointer, Int) throws -> Void) throws -> Int {
        let n = Swift.min(max, (bytes.count - offset) / itemSize)
        guard n > 0 else { return 0 }
        try bytes.withUnsafeBytes { b in
            guard let base = b.baseAddress else { return }
            try body(base + offset, n)
        }
        offset += n * itemSize
        return n
    }

    func finish(consumedAll: Bool) throws {}
}

/// A tensor whose pieces start on element boundaries, read piece after piece; the piece CRCs are
/// checked against the file at the end.
final class DiffPieceReader: DiffPullReader {
    private let source: any TensorSource
    private let tensor: Int
    private let pieces: [Range<Int>]
    private let itemSize: Int
    private var piece = -1
    private var buffer: [UInt8] = []
    private var offset = 0
    private var crcs: [UInt32] = []

    init(source: any TensorSource, tensor i: Int) {
        self.source = source
        tensor = i
        pieces = source.pieces(of: i)
        itemSize = source.index.tensors[i].dtype.itemSize
    }

    func next(max: Int, _ body: (UnsafeRawPointer, Int) throws -> Void) throws -> Int {
        while offset >= buffer.count {
            piece += 1
            guard piece < pieces.count else { return 0 }
            let want = pieces[piece].count
            buffer.removeAll(keepingCapacity: true)
            buffer.reserveCapacity(want)
            let crc = try source.readPiece(tensor, piece) { buffer.append(contentsOf: $0) }
            crcs.append(crc)
            guard buffer.count == want else {
                throw CheckpointError(.corrupt, "piece \(piece) of the tensor gave \(buffer.count) bytes where \(want) were expected",
                                      file: source.path, member: source.index.tensors[tensor].name)
            }
            offset = 0
        }
        let n = Swift.min(max, (buffer.count - offset) / itemSize)
        guard n > 0 else {
            throw CheckpointError(.corrupt, "a piece of the tensor ends inside an element", file: source.path, member: source.index.tensors[tensor].name)
        }
        try buffer.withUnsafeBytes { b in
            guard let base = b.baseAddress else { return }
            try body(base + offset, n)
        }
        offset += n * itemSize
        return n
    }

    func finish(consumedAll: Bool) throws {
        if consumedAll && crcs.count == pieces.count && pieces.count > 1 {
            try source.verifyPieces(of: tensor, crcs: crcs)
        }
    }
}

/// Reads a tensor on its own thread (a reader that can only push, such as one deflate stream)
/// into a few fixed slots the consumer pulls from: the two sides of a pair inflate on two cores
/// and memory stays at `slots × slotBytes`.
final class DiffPumpReader: DiffPullReader, @unchecked Sendable {
    // @unchecked: `queue`, `error`, `ended` are guarded by `lock`; slots are handed over through
    // the semaphores (a slot is touched by the producer only between `empty.wait` and
    // `filled.signal`, by the consumer only after `filled.wait`).
    private let source: any TensorSource
    private let tensor: Int
    private let itemSize: Int
    private let slotBytes: Int
    private let filled = DispatchSemaphore(value: 0)
    private let empty: DispatchSemaphore
    private let lock = Mutex<Void>(())
    private let cancelFlag = Atomic<Bool>(false)
    private var queue: [(slot: Int, count: Int)] = []
    private var ended = false
    private var failure: (any Error)?
    private let slots: [UnsafeMutableRawPointer]
    private var current: (slot: Int, count: Int, offset: Int)?
    private var thread: SystemThread?
    private var joined = false

    init(source: any TensorSource, tensor i: Int, slots count: Int = 4, slotBytes: Int = 1 << 20) throws {
        self.source = source
        tensor = i
        let item = source.index.tensors[i].dtype.itemSize
        itemSize = item
        let size = Swift.max(item, slotBytes - slotBytes % item)
        self.slotBytes = size
        empty = DispatchSemaphore(value: count)
        slots = (0..<count).map { _ in UnsafeMutableRawPointer.allocate(byteCount: size, alignment: 16) }
        freeSlots = Array(0..<count)
        try start()
    }

    private var freeSlots: [Int]

    deinit {
        stopAndJoin()
        for s in slots { s.deallocate() }
    }

    private func start() throws {
        guard let t = SystemThread.start({ self.produce() }) else {
            throw CheckpointError(.io, "cannot start a reader thread", file: source.path)
        }
        thread = t
    }

    /// Producer: fills slots with whole elements (the last one may be short).
    private func produce() {
        var slot = -1
        var fill = 0
        func publish() {
            guard slot >= 0 else { return }
            lock.withLock { _ in queue.append((slot, fill)) }
            filled.signal()
            slot = -1
            fill = 0
        }
        func takeSlot() throws {
            empty.wait()
            if cancelFlag.load(ordering: .acquiring) { throw DiffCancelled() }
            slot = lock.withLock { _ in freeSlots.removeLast() }
            fill = 0
        }
        do {
            try source.readTensor(tensor) { chunk in
                var rest = chunk
                while !rest.isEmpty {
                    if slot < 0 { try takeSlot() }
                    let n = Swift.min(slotBytes - fill, rest.count)
                    guard let src = rest.baseAddress else { break }
                    (slots[slot] + fill).copyMemory(from: src, byteCount: n)
                    fill += n
                    rest = UnsafeRawBufferPointer(rebasing: rest[(rest.startIndex + n)...])
                    if fill == slotBytes { publish() }
                }
            }
            publish()
        } catch {
            if slot >= 0 { lock.withLock { _ in freeSlots.append(slot) } }
            lock.withLock { _ in failure = error is DiffCancelled ? nil : error }
        }
        lock.withLock { _ in ended = true }
        filled.signal()
    }

    func next(max: Int, _ body: (UnsafeRawPointer, Int) throws -> Void) throws -> Int {
        while true {
            if let c = current, c.offset < c.count {
                let n = Swift.min(max, (c.count - c.offset) / itemSize)
                guard n > 0 else {
                    throw CheckpointError(.corrupt, "the tensor's data ends inside an element", file: source.path, member: source.index.tensors[tensor].name)
                }
                try body(UnsafeRawPointer(slots[c.slot] + c.offset), n)
                current?.offset += n * itemSize
                return n
            }
            if let c = current {
                lock.withLock { _ in freeSlots.append(c.slot) }
                current = nil
                empty.signal()
            }
            filled.wait()
            let item: (Int, Int)? = try lock.withLock { _ in
                if !queue.isEmpty { return queue.removeFirst() }
                if let failure { throw failure }
                return nil
            }
            guard let (slot, count) = item else {
                // The end marker: leave the semaphore signalled for further calls.
                filled.signal()
                return 0
            }
            current = (slot, count, 0)
        }
    }

    func finish(consumedAll: Bool) throws {
        stopAndJoin()
        if let failure = lock.withLock({ _ in failure }) { throw failure }
    }

    private func stopAndJoin() {
        guard let t = thread, !joined else { return }
        joined = true
        cancelFlag.store(true, ordering: .releasing)
        // Wake a producer blocked on a full queue; it sees the flag and stops.
        empty.signal()
        t.join()
        // libdispatch refuses to free a semaphore below its initial value: give back every slot.
        for _ in slots { empty.signal() }
    }
}
