// A restricted unpickler: it reads every opcode of pickle protocols 0–5 and executes nothing.
// GLOBAL / STACK_GLOBAL / INST / OBJ resolve names against ``PickleGlobal``'s allow-list only;
// REDUCE, NEWOBJ and BUILD on those build plain data (PickleCalls.swift). Anything else is a
// `CheckpointError` naming the global and its byte offset — or, when lenient, a placeholder.
//
// Bounds (``PickleLimits``) are checked before anything grows: opcodes run, stack items, MARK
// depth, memo entries, bytes held by strings, integers and containers, string lengths.

final class Unpickler {
    /// What persistent ids mean in this pickle.
    enum PersistentIDs {
        /// None are allowed (the small pickles of a legacy file's preamble).
        case refused
        /// `('storage', type, key, location, numel)`: zip files.
        case zip
        /// `('storage', type, key, location, numel, view_metadata)`: legacy files.
        case legacy
    }

    /// Thrown when the bytes end before STOP but the input has more (legacy files are read in
    /// growing windows).
    struct NeedMoreInput: Error {}

    let bytes: [UInt8]
    /// File offset of `bytes[0]` (nil when the pickle was inflated: offsets are then in the pickle).
    let base: UInt64?
    /// Whether `bytes` ends where the input ends (else running out throws ``NeedMoreInput``).
    let complete: Bool
    let file: String?
    let member: String?
    let limits: PickleLimits
    let lenient: Bool
    let persistentIDs: PersistentIDs

    var pos = 0
    /// Offset of the opcode being run.
    var opStart = 0
    var stack: [PickleValue] = []
    /// Stack heights at each MARK.
    var marks: [Int] = []
    var memo: [Int: PickleValue] = [:]
    let arena = PickleArena()
    var allocated = 0
    var opcodes = 0
    var proto = 0
    /// Storages in first-use order, by key.
    var storageOrder: [String] = []
    var storages: [ByteName: TorchStorageRef] = [:]
    /// Lenient: what was replaced by a placeholder, in order (`posix.system at byte 120`).
    var placeholders: [String] = []

    init(bytes: [UInt8], base: UInt64?, complete: Bool = true, file: String?, member: String?,
         limits: PickleLimits, lenient: Bool, persistentIDs: PersistentIDs) {
        self.bytes = bytes
        self.base = base
        self.complete = complete
        self.file = file
        self.member = member
        self.limits = limits
        self.lenient = lenient
        self.persistentIDs = persistentIDs
    }

    deinit { arena.teardown() }

    // MARK: Errors and bounds

    /// Where `position` is, for messages: the file offset, or "byte N of the pickle".
    func fileOffset(_ position: Int) -> UInt64? { base.map { $0 + UInt64(position) } }

    func error(_ code: CheckpointError.Code, _ reason: String, at position: Int? = nil, hint: String? = nil) -> CheckpointError {
        let p = position ?? opStart
        let r = base == nil ? reason + " (byte \(p) of the pickle)" : reason
        return CheckpointError(code, r, file: file, member: member, offset: fileOffset(p), hint: hint)
    }

    func corrupt(_ reason: String) -> CheckpointError { error(.corrupt, "the pickle is malformed: " + reason) }

    func charge(_ n: Int) throws {
        let (total, o) = allocated.addingReportingOverflow(max(0, n))
        guard !o, total <= limits.maxAllocatedBytes else {
            throw error(.limitExceeded, "the pickle builds more than \(limits.maxAllocatedBytes) bytes of objects")
        }
        allocated = total
    }

    // MARK: Input

    func need(_ n: Int) throws {
        guard n >= 0, n <= bytes.count - pos else {
            if !complete { throw NeedMoreInput() }
            throw error(.truncated, "the pickle ends inside an opcode (it needs \(n) more bytes, \(bytes.count - pos) are left)")
        }
    }

    func u8() throws -> UInt8 {
        try need(1)
        defer { pos += 1 }
        return bytes[pos]
    }

    func uintLE(_ n: Int) throws -> UInt64 {
        try need(n)
        var v: UInt64 = 0
        for k in 0..<n { v |= UInt64(bytes[pos + k]) << (8 * UInt64(k)) }
        pos += n
        return v
    }

    func take(_ n: Int) throws -> ArraySlice<UInt8> {
        try need(n)
        defer { pos += n }
        return bytes[pos..<(pos + n)]
    }

    /// A length read from the pickle, checked against the string limit and the bytes left.
    func length(_ raw: UInt64, _ what: String) throws -> Int {
        guard raw <= UInt64(limits.maxStringBytes) else {
            throw error(.limitExceeded, "the pickle declares \(what) of \(raw) bytes (the limit is \(limits.maxStringBytes))")
        }
        return Int(raw)
    }

    /// Bytes up to the next newline (proto-0 text opcodes), without it.
    func line(max: Int = 1 << 16) throws -> ArraySlice<UInt8> {
        let limit = min(bytes.count, pos + max)
        var k = pos
        while k < limit, bytes[k] != 0x0A { k += 1 }
        guard k < limit else {
            if k == bytes.count && !complete { throw NeedMoreInput() }
            if k == bytes.count { throw error(.truncated, "the pickle ends inside a text opcode") }
            throw error(.limitExceeded, "a text opcode's line is longer than \(max) bytes")
        }
        defer { pos = k + 1 }
        return bytes[pos..<k]
    }

    func utf8(_ b: ArraySlice<UInt8>, _ what: String) throws -> String {
        guard let s = String(validating: b, as: UTF8.self) else { throw corrupt("\(what) is not valid UTF-8") }
        return s
    }

    // MARK: Stack

    func push(_ v: PickleValue) throws {
        guard stack.count < limits.maxStack else {
            throw error(.limitExceeded, "the pickle's stack grows past \(limits.maxStack) items")
        }
        stack.append(v)
    }

    func pop() throws -> PickleValue {
        guard stack.count > (marks.last ?? 0) else { throw corrupt("an opcode pops from an empty stack") }
        return stack.removeLast()
    }

    func top() throws -> PickleValue {
        guard stack.count > (marks.last ?? 0), let v = stack.last else { throw corrupt("an opcode reads an empty stack") }
        return v
    }

    func replaceTop(_ v: PickleValue) throws {
        guard stack.count > (marks.last ?? 0) else { throw corrupt("an opcode reads an empty stack") }
        stack[stack.count - 1] = v
    }

    func popMark() throws -> [PickleValue] {
        guard let m = marks.popLast() else { throw corrupt("an opcode needs a MARK and there is none") }
        let items = Array(stack[m...])
        stack.removeSubrange(m...)
        return items
    }

    func memoPut(_ index: Int, _ v: PickleValue) throws {
        guard index >= 0 else { throw corrupt("a negative memo index") }
        if memo[index] == nil {
            guard memo.count < limits.maxMemo else {
                throw error(.limitExceeded, "the pickle's memo grows past \(limits.maxMemo) entries")
            }
            try charge(32)
        }
        memo[index] = v
    }

    func memoGet(_ index: Int) throws -> PickleValue {
        guard let v = memo[index] else { throw corrupt("memo entry \(index) is read before it is written") }
        return v
    }

    func tuple(_ items: [PickleValue]) throws -> PickleValue {
        try charge(16 + 16 * items.count)
        return .tuple(arena.register(PickleTuple(items)))
    }

    func string(_ s: String) throws -> PickleValue {
        try charge(16 + s.utf8.count)
        return .string(s)
    }

    // MARK: Running

    /// Runs the pickle to its STOP; returns the value and the offset just past STOP.
    func load() throws -> (PickleValue, end: Int) {
        while true {
            opcodes += 1
            guard opcodes <= limits.maxOpcodes else {
                throw error(.limitExceeded, "the pickle runs more than \(limits.maxOpcodes) opcodes")
            }
            opStart = pos
            let op = try u8()
            if op == 0x2E /* . STOP */ {
                // Like pickle.py, items left below the result are ignored.
                return (try pop(), pos)
            }
            try step(op)
        }
    }
}
