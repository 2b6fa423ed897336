/// Deterministic JSON text: members in the order they are held, numbers as their literal text.
public enum JSONStyle: Sendable {
    /// `{"a":1,"b":[1,2]}`
    case compact
    /// Python's `json.dumps` default: `{"a": 1, "b": [1, 2]}`, non-ASCII escaped as `\uXXXX`.
    case python
    /// Indented by two spaces, one member per line; arrays of scalars stay on one line.
    case pretty
}

extension JSONValue {
    public func serialized(_ style: JSONStyle = .compact) -> String {
        var out = ""
        write(into: &out, style: style, indent: 0)
        if style == .pretty { out += "\n" }
        return out
    }

    public func serializedBytes(_ style: JSONStyle = .compact) -> [UInt8] {
        Array(serialized(style).utf8)
    }

    private var isScalar: Bool {
        switch self {
        case .array, .object: return false
        default: return true
        }
    }

    private func write(into out: inout String, style: JSONStyle, indent: Int) {
        switch self {
        case .null: out += "null"
        case .bool(let b): out += b ? "true" : "false"
        case .number(let s): out += s
        case .string(let s): JSONValue.writeString(s, into: &out, asciiOnly: style == .python)
        case .array(let items):
            if items.isEmpty { out += "[]"; return }
            if style == .pretty && !items.allSatisfy(\.isScalar) {
                out += "[\n"
                for (k, item) in items.enumerated() {
                    out += String(repeating: " ", count: indent + 2)
                    item.write(into: &out, style: style, indent: indent + 2)
                    out += k == items.count - 1 ? "\n" : ",\n"
                }
                out += String(repeating: " ", count: indent) + "]"
            } else {
                out += "["
                for (k, item) in items.enumerated() {
                    if k > 0 { out += style == .compact ? "," : ", " }
                    item.write(into: &out, style: style, indent: indent)
                }
                out += "]"
            }
        case .object(let members):
            if members.isEmpty { out += "{}"; return }
            if style == .pretty {
                out += "{\n"
                for (k, (key, value)) in members.enumerated() {
                    out += String(repeating: " ", count: indent + 2)
                    JSONValue.writeString(key, into: &out, asciiOnly: false)
                    out += ": "
                    value.write(into: &out, style: style, indent: indent + 2)
                    out += k == members.count - 1 ? "\n" : ",\n"
                }
                out += String(repeating: " ", count: indent) + "}"
            } else {
                out += "{"
                for (k, (key, value)) in members.enumerated() {
                    if k > 0 { out += style == .compact ? "," : ", " }
                    JSONValue.writeString(key, into: &out, asciiOnly: style == .python)
                    out += style == .compact ? ":" : ": "
                    value.write(into: &out, style: style, indent: indent)
                }
                out += "}"
            }
        }
    }

    static func writeString(_ s: String, into out: inout String, asciiOnly: Bool) {
        out += "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case "\u{08}": out += "\\b"
            case "\u{0C}": out += "\\f"
            default:
                if u.value < 0x20 || u.value == 0x7F || (asciiOnly && u.value > 0x7E) {
                    if u.value > 0xFFFF {
                        let v = u.value - 0x10000
                        out += hex4(0xD800 + (v >> 10)) + hex4(0xDC00 + (v & 0x3FF))
                    } else {
                        out += hex4(u.value)
                    }
                } else {
                    out.unicodeScalars.append(u)
                }
            }
        }
        out += "\""
    }

    private static func hex4(_ v: UInt32) -> String {
        let h = String(v, radix: 16)
        return "\\u" + String(repeating: "0", count: 4 - h.count) + h
    }
}
