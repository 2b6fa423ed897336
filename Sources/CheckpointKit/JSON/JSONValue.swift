/// A JSON value that keeps what Keras and the container need and Foundation drops:
/// object key order (so `model.to_json()` text can be diffed and re-emitted faithfully)
/// and the exact text of every number (so `0.0010000000474974513` survives a round trip).
public enum JSONValue: Sendable, Equatable {
    case null
    case bool(Bool)
    /// The number's literal text as it appeared (or as written by ``JSONValue/number(_:)-(Double)``).
    case number(String)
    case string(String)
    case array([JSONValue])
    /// Members in document order. Duplicate keys are refused by the parser.
    case object([(String, JSONValue)])

    public static func == (lhs: JSONValue, rhs: JSONValue) -> Bool {
        switch (lhs, rhs) {
        case (.null, .null): return true
        case let (.bool(a), .bool(b)): return a == b
        case let (.number(a), .number(b)):
            if a == b { return true }
            if let x = Double(a), let y = Double(b) { return x == y }
            return false
        case let (.string(a), .string(b)): return a.sameBytes(b)
        case let (.array(a), .array(b)): return a == b
        case let (.object(a), .object(b)):
            guard a.count == b.count else { return false }
            for (x, y) in zip(a, b) where !x.0.sameBytes(y.0) || x.1 != y.1 { return false }
            return true
        default: return false
        }
    }
}

extension JSONValue {
    public static func number(_ value: Int) -> JSONValue { .number(String(value)) }
    public static func number(_ value: Int64) -> JSONValue { .number(String(value)) }
    public static func number(_ value: UInt64) -> JSONValue { .number(String(value)) }
    public static func number(_ value: UInt32) -> JSONValue { .number(String(value)) }
    /// Shortest text that reads back as the same double; non-finite values use Python's spelling.
    public static func number(_ value: Double) -> JSONValue {
        if value.isNaN { return .number("NaN") }
        if value.isInfinite { return .number(value < 0 ? "-Infinity" : "Infinity") }
        if value == value.rounded(), abs(value) < 1e16 {
            // Python prints 1.0, not 1; keep the float-ness visible like json.dumps does.
            return .number(value == 0 && value.sign == .minus ? "-0.0" : String(Int64(value)) + ".0")
        }
        return .number(pythonStyle(value.description))
    }

    /// Swift prints 1e-07 as "1e-07" and Python as "1e-07"; both agree except Swift's "5e-324"-style
    /// forms, which Python also uses. Kept as a hook in case they diverge.
    private static func pythonStyle(_ s: String) -> String { s }

    public var objectValue: [(String, JSONValue)]? { if case .object(let o) = self { return o } else { return nil } }
    public var arrayValue: [JSONValue]? { if case .array(let a) = self { return a } else { return nil } }
    public var stringValue: String? { if case .string(let s) = self { return s } else { return nil } }
    public var boolValue: Bool? { if case .bool(let b) = self { return b } else { return nil } }
    public var isNull: Bool { if case .null = self { return true } else { return false } }
    public var doubleValue: Double? {
        guard case .number(let s) = self else { return nil }
        switch s {
        case "NaN": return .nan
        case "Infinity": return .infinity
        case "-Infinity": return -.infinity
        default: return Double(s)
        }
    }
    /// The number as an exact integer, if it is one (`3`, `3.0`, `1e3`); nil for fractions or overflow.
    public var intValue: Int? {
        guard case .number(let s) = self else { return nil }
        if let i = Int(s) { return i }
        guard let d = Double(s), d.isFinite, d == d.rounded(), abs(d) < 9.0e15 else { return nil }
        return Int(d)
    }
    public var int64Value: Int64? {
        guard case .number(let s) = self else { return nil }
        if let i = Int64(s) { return i }
        return intValue.map(Int64.init)
    }

    /// First member with this key (objects only; keys compared as bytes, see ``ByteName``).
    public subscript(key: String) -> JSONValue? {
        guard case .object(let members) = self else { return nil }
        for (k, v) in members where k.sameBytes(key) { return v }
        return nil
    }

    public subscript(index: Int) -> JSONValue? {
        guard case .array(let a) = self, a.indices.contains(index) else { return nil }
        return a[index]
    }

    /// Returns a copy with `key` set (replacing the first member of that name, or appending).
    public func setting(_ key: String, to value: JSONValue) -> JSONValue {
        guard case .object(var members) = self else { return self }
        if let i = members.firstIndex(where: { $0.0.sameBytes(key) }) { members[i].1 = value } else { members.append((key, value)) }
        return .object(members)
    }

    public func removing(_ key: String) -> JSONValue {
        guard case .object(let members) = self else { return self }
        return .object(members.filter { !$0.0.sameBytes(key) })
    }

    /// A short name of the value's type for error messages ("an object", "a string", ...).
    public var typeDescription: String {
        switch self {
        case .null: return "null"
        case .bool: return "a boolean"
        case .number: return "a number"
        case .string: return "a string"
        case .array: return "an array"
        case .object: return "an object"
        }
    }
}
