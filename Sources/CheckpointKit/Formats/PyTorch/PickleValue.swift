// The values the restricted unpickler (Unpickler.swift) builds. Nothing here can run code: a
// global is a name from a fixed allow-list (``PickleGlobal``), never a function to call, and
// "calling" one builds plain data (a tensor description, a container, a placeholder).
//
// Every compound value is a class instance registered in a ``PickleArena``. The arena empties
// them all when the parse is over, which breaks the reference cycles a pickle can make (a list
// that contains itself) and keeps releasing a deeply nested value from recursing.

/// A value on the unpickler's stack or in its memo.
enum PickleValue {
    case none
    case bool(Bool)
    case int(Int64)
    /// An integer beyond 64 bits, as decimal text (LONG1 / LONG4 / proto-0 LONG).
    case bigInt(String)
    case float(Double)
    case complex(Double, Double)
    case string(String)
    case bytes([UInt8])
    case tuple(PickleTuple)
    case list(PickleList)
    case dict(PickleDict)
    case set(PickleSet)
    /// A name from the allow-list (a class, a function, a dtype).
    case global(PickleGlobal)
    /// A storage from a persistent id.
    case storage(TorchStorageRef)
    case tensor(TorchTensorRef)
    /// A tensor torch can rebuild but this reader cannot hold (sparse, quantized, meta, ...).
    case opaqueTensor(String)
    /// `--lenient`: something outside the allow-list, kept as a description and never run.
    case object(PickleObject)

    /// A short description for messages ("a list", "the string 'x'").
    var kind: String {
        switch self {
        case .none: return "None"
        case .bool: return "a bool"
        case .int, .bigInt: return "an int"
        case .float: return "a float"
        case .complex: return "a complex number"
        case .string: return "a string"
        case .bytes: return "bytes"
        case .tuple: return "a tuple"
        case .list: return "a list"
        case .dict(let d): return d.kind == .dict ? "a dict" : "a collections.\(d.kind.rawValue)"
        case .set: return "a set"
        case .global(let g): return "the global \(g.qualifiedName)"
        case .storage: return "a storage"
        case .tensor: return "a tensor"
        case .opaqueTensor(let what): return "a \(what)"
        case .object(let o): return "a placeholder for \(o.what)"
        }
    }

    var intValue: Int64? {
        switch self {
        case .int(let v): return v
        case .bool(let b): return b ? 1 : 0
        default: return nil
        }
    }

    var stringValue: String? { if case .string(let s) = self { return s } else { return nil } }

    /// Tuple or list items (torch.Size is a tuple).
    var sequence: [PickleValue]? {
        switch self {
        case .tuple(let t): return t.items
        case .list(let l): return l.items
        default: return nil
        }
    }

    var dictValue: PickleDict? { if case .dict(let d) = self { return d } else { return nil } }
}

/// Owns every compound value of one parse; ``teardown()`` empties them.
final class PickleArena {
    private var objects: [PickleContainer] = []

    func register<T: PickleContainer>(_ object: T) -> T {
        objects.append(object)
        return object
    }

    /// Empties every container (their children are still held by `objects`, so each release is
    /// shallow), then drops them.
    func teardown() {
        for o in objects { o.empty() }
        objects.removeAll()
    }

    var count: Int { objects.count }
}

protocol PickleContainer: AnyObject {
    func empty()
}

final class PickleTuple: PickleContainer {
    private(set) var items: [PickleValue]
    init(_ items: [PickleValue]) { self.items = items }
    func empty() { items = [] }
}

final class PickleList: PickleContainer {
    var items: [PickleValue]
    init(_ items: [PickleValue] = []) { self.items = items }
    func empty() { items = [] }
}

/// A dict keeping insertion order (Python dicts do), with hashable keys only.
final class PickleDict: PickleContainer {
    enum Kind: String { case dict, OrderedDict, Counter }
    let kind: Kind
    private(set) var keys: [PickleValue] = []
    private(set) var values: [PickleValue] = []
    private var positions: [PickleKey: Int] = [:]
    /// Instance attributes set by BUILD (an OrderedDict's `_metadata`).
    var attributes: [(String, PickleValue)] = []

    init(kind: Kind) { self.kind = kind }

    var count: Int { keys.count }

    /// `d[key] = value`; a key Python could not hash (a list, a dict) is refused.
    func set(_ key: PickleValue, _ value: PickleValue) throws(PickleKey.Unhashable) {
        let k = try PickleKey(key)
        if let at = positions[k] {
            values[at] = value
        } else {
            positions[k] = keys.count
            keys.append(key)
            values.append(value)
        }
    }

    subscript(name: String) -> PickleValue? {
        positions[.string(name)].map { values[$0] }
    }

    func value(for key: PickleValue) -> PickleValue? {
        guard let k = try? PickleKey(key) else { return nil }
        return positions[k].map { values[$0] }
    }

    func empty() {
        keys = []
        values = []
        positions = [:]
        attributes = []
    }
}

final class PickleSet: PickleContainer {
    let frozen: Bool
    private(set) var items: [PickleValue] = []
    private var members: Set<PickleKey> = []
    init(frozen: Bool) { self.frozen = frozen }

    func insert(_ v: PickleValue) throws(PickleKey.Unhashable) {
        if members.insert(try PickleKey(v)).inserted { items.append(v) }
    }

    func empty() {
        items = []
        members = []
    }
}

/// `--lenient`: what an unknown global, or calling or building one, would have made.
final class PickleObject: PickleContainer {
    /// `module.name`, or `module.name(...)` once called.
    let what: String
    var arguments: PickleValue?
    var state: PickleValue?
    init(what: String, arguments: PickleValue? = nil) {
        self.what = what
        self.arguments = arguments
    }
    func empty() {
        arguments = nil
        state = nil
    }
}

/// A dict or set key, hashed the way Python compares them (1 == 1.0 == True).
enum PickleKey: Hashable {
    struct Unhashable: Error { let kind: String }

    case none
    case int(Int64)
    case bigInt(String)
    case float(UInt64)
    case string(String)
    case bytes([UInt8])
    case tuple([PickleKey])
    case global(String)

    init(_ v: PickleValue, depth: Int = 0) throws(Unhashable) {
        guard depth < 32 else { throw Unhashable(kind: "a tuple nested more than 32 deep") }
        switch v {
        case .none: self = .none
        case .bool(let b): self = .int(b ? 1 : 0)
        case .int(let i): self = .int(i)
        case .bigInt(let s): self = .bigInt(s)
        case .float(let d):
            if d == d.rounded(), abs(d) < 9.2e18 { self = .int(Int64(d)) } else { self = .float(d.bitPattern) }
        case .string(let s): self = .string(s)
        case .bytes(let b): self = .bytes(b)
        case .tuple(let t):
            var keys: [PickleKey] = []
            keys.reserveCapacity(t.items.count)
            for item in t.items { keys.append(try PickleKey(item, depth: depth + 1)) }
            self = .tuple(keys)
        case .global(let g): self = .global(g.qualifiedName)
        default: throw Unhashable(kind: v.kind)
        }
    }

    /// The key as a flat-name component: strings as they are, ints in decimal.
    var component: String {
        switch self {
        case .none: return "None"
        case .int(let i): return String(i)
        case .bigInt(let s): return s
        case .float(let bits): return String(Double(bitPattern: bits))
        case .string(let s): return s
        case .bytes(let b): return String(decoding: b, as: UTF8.self)
        case .tuple(let t): return "(" + t.map(\.component).joined(separator: ", ") + ")"
        case .global(let g): return g
        }
    }
}
