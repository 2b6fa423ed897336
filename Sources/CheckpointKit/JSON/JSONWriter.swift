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
        String(decoding: serializedBytes(style), as: UTF8.self)
    }

    /// The text as UTF-8 bytes, built in one buffer (a manifest of thousands of tensors, or
    /// `inspect --json`, writes many short strings).
    public func serializedBytes(_ style: JSONStyle = .compact) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(4096)
        write(into: &out, style: style, indent: 0)
        if style == .pretty { out.append(0x0A) }
        return out
    }

    private var isScalar: Bool {
        switch self {
        case .array, .object: return false
        default: return true
        }
    }

    private static func append(_ text: StaticString, to out: inout [UInt8]) {
        text.withUTF8Buffer { out.append(contentsOf: $0) }
    }

    private static func spaces(_ n: Int, to out: inout [UInt8]) {
        out.append(contentsOf: repeatElement(0x20, count: n))
    }

    private func write(into out: inout [UInt8], style: JSONStyle, indent: Int) {
        switch self {
        case .null: Self.append("null", to: &out)
        case .bool(let b): if b { Self.append("true", to: &out) } else { Self.append("false", to: &out) }
        case .number(let s): out.append(contentsOf: s.utf8)
        case .string(let s): JSONValue.writeString(s, into: &out, asciiOnly: style == .python)
        case .array(let items):
            if items.isEmpty { Self.append("[]", to: &out); return }
            if style == .pretty && !items.allSatisfy(\.isScalar) {
                Self.append("[\n", to: &out)
                for (k, item) in items.enumerated() {
                    Self.spaces(indent + 2, to: &out)
                    item.write(into: &out, style: style, indent: indent + 2)
                    if k == items.count - 1 { out.append(0x0A) } else { Self.append(",\n", to: &out) }
                }
                Self.spaces(indent, to: &out)
                out.append(UInt8(ascii: "]"))
            } else {
                out.append(UInt8(ascii: "["))
                for (k, item) in items.enumerated() {
                    if k > 0 { if style == .compact { out.append(UInt8(ascii: ",")) } else { Self.append(", ", to: &out) } }
                    item.write(into: &out, style: style, indent: indent)
                }
                out.append(UInt8(ascii: "]"))
            }
        case .object(let members):
            if members.isEmpty { Self.append("{}", to: &out); return }
            if style == .pretty {
                Self.append("{\n", to: &out)
                for (k, (key, value)) in members.enumerated() {
                    Self.spaces(indent + 2, to: &out)
                    JSONValue.writeString(key, into: &out, asciiOnly: false)
                    Self.append(": ", to: &out)
                    value.write(into: &out, style: style, indent: indent + 2)
                    if k == members.count - 1 { out.append(0x0A) } else { Self.append(",\n", to: &out) }
                }
                Self.spaces(indent, to: &out)
                out.append(UInt8(ascii: "}"))
            } else {
                out.append(UInt8(ascii: "{"))
                for (k, (key, value)) in members.enumerated() {
                    if k > 0 { if style == .compact { out.append(UInt8(ascii: ",")) } else { Self.append(", ", to: &out) } }
                    JSONValue.writeString(key, into: &out, asciiOnly: style == .python)
                    if style == .compact { out.append(UInt8(ascii: ":")) } else { Self.append(": ", to: &out) }
                    value.write(into: &out, style: style, indent: indent)
                }
                out.append(UInt8(ascii: "}"))
            }
        }
    }

    static func writeString(_ s: String, into out: inout [UInt8], asciiOnly: Bool) {
        out.append(UInt8(ascii: "\""))
        // Most names need no escape: copy their UTF-8 as it is.
        let plain = s.utf8.allSatisfy { b in b >= 0x20 && b != 0x22 && b != 0x5C && b != 0x7F && (!asciiOnly || b < 0x80) }
        if plain {
            out.append(contentsOf: s.utf8)
            out.append(UInt8(ascii: "\""))
            return
        }
        for u in s.unicodeScalars {
            switch u {
            case "\"": append("\\\"", to: &out)
            case "\\": append("\\\\", to: &out)
            case "\n": append("\\n", to: &out)
            case "\r": append("\\r", to: &out)
            case "\t": append("\\t", to: &out)
            case "\u{08}": append("\\b", to: &out)
            case "\u{0C}": append("\\f", to: &out)
            default:
                if u.value < 0x20 || u.value == 0x7F || (asciiOnly && u.value > 0x7E) {
                    if u.value > 0xFFFF {
                        let v = u.value - 0x10000
                        hex4(0xD800 + (v >> 10), to: &out)
                        hex4(0xDC00 + (v & 0x3FF), to: &out)
                    } else {
                        hex4(u.value, to: &out)
                    }
                } else {
                    out.append(contentsOf: String(u).utf8)
                }
            }
        }
        out.append(UInt8(ascii: "\""))
    }

    private static func hex4(_ v: UInt32, to out: inout [UInt8]) {
        out.append(UInt8(ascii: "\\"))
        out.append(UInt8(ascii: "u"))
        for shift in stride(from: 12, through: 0, by: -4) {
            let d = UInt8((v >> UInt32(shift)) & 0xF)
            out.append(d < 10 ? 0x30 + d : 0x61 + d - 10)
        }
    }
}
