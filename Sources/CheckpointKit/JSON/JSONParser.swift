/// A strict, bounded JSON reader (RFC 8259 plus Python's `NaN`/`Infinity`, which `json.dumps`
/// emits and Keras configs may contain).
///
/// Hostile input is the normal case here: depth, string and number sizes are bounded before any
/// allocation grows, and so is what the text builds — the values (``Options/maxNodes``) and the
/// bytes of all strings (``Options/maxTotalStringBytes``), since a few bytes of `[],` make a
/// JSONValue of a hundred bytes. Invalid UTF-8, lone surrogates and duplicate keys are refused,
/// and every error names the byte offset. The defaults are ``Limits/default``'s.
public struct JSONParser {
    public struct Options: Sendable {
        public var maxDepth: Int = Limits.default.maxJSONDepth
        public var maxNumberLength: Int = 64
        /// Bytes of one string.
        public var maxStringBytes: Int = Limits.default.maxJSONStringLength
        /// Values one document may build (every object, array, string, number and literal).
        public var maxNodes: Int = Limits.default.maxJSONNodes
        /// Bytes of all strings one document builds: keys, string values and number texts.
        public var maxTotalStringBytes: Int = Limits.default.maxJSONStringBytes
        public var allowNonFinite: Bool = true
        public init() {}
    }

    /// Parses `bytes` as one JSON document. `baseOffset` is added to error offsets so they
    /// point into the enclosing file.
    public static func parse(_ bytes: [UInt8], options: Options = Options(), baseOffset: UInt64 = 0) throws -> JSONValue {
        try bytes.withUnsafeBufferPointer { buf in
            var p = JSONParser(buf: buf, options: options, base: baseOffset)
            p.skipWhitespace()
            let v = try p.value(depth: 0)
            p.skipWhitespace()
            guard p.i == buf.count else { throw p.fail("unexpected text after the JSON value") }
            return v
        }
    }

    public static func parse(_ text: String, options: Options = Options()) throws -> JSONValue {
        try parse(Array(text.utf8), options: options)
    }

    let buf: UnsafeBufferPointer<UInt8>
    let options: Options
    let base: UInt64
    var i = 0
    /// Values built so far (``value(depth:)``), against ``Options/maxNodes``.
    private(set) var nodes = 0
    /// String bytes built so far into values, against ``Options/maxTotalStringBytes``.
    private(set) var stringBytes = 0

    init(buf: UnsafeBufferPointer<UInt8>, options: Options, base: UInt64) {
        self.buf = buf
        self.options = options
        self.base = base
    }

    func fail(_ reason: String, at: Int? = nil) -> CheckpointError {
        CheckpointError(.invalidJSON, "invalid JSON: " + reason, offset: base + UInt64(at ?? i))
    }

    mutating func skipWhitespace() {
        while i < buf.count {
            let c = buf[i]
            if c == 0x20 || c == 0x0A || c == 0x0D || c == 0x09 { i += 1 } else { break }
        }
    }

    mutating func value(depth: Int) throws -> JSONValue {
        guard depth <= options.maxDepth else { throw fail("nesting deeper than \(options.maxDepth) levels (the JSON limit)") }
        guard i < buf.count else { throw fail("the text ends where a value was expected") }
        nodes += 1
        guard nodes <= options.maxNodes else {
            throw CheckpointError(.limitExceeded, "the JSON text holds more than \(options.maxNodes) values (the limit of what one document may build)",
                                  offset: base + UInt64(i))
        }
        switch buf[i] {
        case UInt8(ascii: "{"): return try object(depth: depth)
        case UInt8(ascii: "["): return try array(depth: depth)
        case UInt8(ascii: "\""):
            let at = i
            let s = try string()
            try count(stringBytes: s.utf8.count, at: at)
            return .string(s)
        case UInt8(ascii: "t"): try literal("true"); return .bool(true)
        case UInt8(ascii: "f"): try literal("false"); return .bool(false)
        case UInt8(ascii: "n"): try literal("null"); return .null
        case UInt8(ascii: "N") where options.allowNonFinite: try literal("NaN"); return .number("NaN")
        case UInt8(ascii: "I") where options.allowNonFinite: try literal("Infinity"); return .number("Infinity")
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return try number()
        default: throw fail("unexpected character \(describe(buf[i])) where a value was expected")
        }
    }

    /// Adds `n` bytes to the strings built so far; refuses past ``Options/maxTotalStringBytes``.
    mutating func count(stringBytes n: Int, at: Int) throws {
        stringBytes += n
        guard stringBytes <= options.maxTotalStringBytes else {
            throw CheckpointError(.limitExceeded, "the JSON text holds more than \(options.maxTotalStringBytes) bytes of strings (the limit of what one document may build)",
                                  offset: base + UInt64(at))
        }
    }

    private func describe(_ c: UInt8) -> String {
        c >= 0x20 && c < 0x7F ? "'\(Character(Unicode.Scalar(c)))'" : "byte 0x" + String(c, radix: 16)
    }

    mutating func literal(_ word: StaticString) throws {
        let n = word.utf8CodeUnitCount
        guard buf.count - i >= n else { throw fail("the text ends inside a literal") }
        let w = UnsafeBufferPointer(start: word.utf8Start, count: n)
        for k in 0..<n where buf[i + k] != w[k] { throw fail("unknown literal") }
        i += n
    }

    private mutating func object(depth: Int) throws -> JSONValue {
        i += 1
        var members: [(String, JSONValue)] = []
        var seen: Set<ByteName>? = nil
        skipWhitespace()
        if i < buf.count, buf[i] == UInt8(ascii: "}") { i += 1; return .object(members) }
        while true {
            skipWhitespace()
            guard i < buf.count, buf[i] == UInt8(ascii: "\"") else { throw fail("expected a quoted key in an object") }
            let keyAt = i
            let key = try string()
            try count(stringBytes: key.utf8.count, at: keyAt)
            // Small objects: compare linearly; large ones: hash.
            var duplicate = false
            // Keys compared as bytes (ByteName), as Python's json compares them.
            if members.count < 16 {
                for (k, _) in members where k.sameBytes(key) { duplicate = true; break }
            } else {
                var keys = seen.take() ?? Set(members.map { ByteName($0.0) }) // take: no copy on insert
                duplicate = !keys.insert(ByteName(key)).inserted
                seen = keys
            }
            guard !duplicate else { throw fail("duplicate key \"\(escapeForDisplay(key))\"", at: keyAt) }
            skipWhitespace()
            guard i < buf.count, buf[i] == UInt8(ascii: ":") else { throw fail("expected ':' after an object key") }
            i += 1
            skipWhitespace()
            let v = try value(depth: depth + 1)
            members.append((key, v))
            skipWhitespace()
            guard i < buf.count else { throw fail("the text ends inside an object") }
            if buf[i] == UInt8(ascii: ",") { i += 1; continue }
            if buf[i] == UInt8(ascii: "}") { i += 1; return .object(members) }
            throw fail("expected ',' or '}' in an object")
        }
    }

    private mutating func array(depth: Int) throws -> JSONValue {
        i += 1
        var items: [JSONValue] = []
        skipWhitespace()
        if i < buf.count, buf[i] == UInt8(ascii: "]") { i += 1; return .array(items) }
        while true {
            skipWhitespace()
            items.append(try value(depth: depth + 1))
            skipWhitespace()
            guard i < buf.count else { throw fail("the text ends inside an array") }
            if buf[i] == UInt8(ascii: ",") { i += 1; continue }
            if buf[i] == UInt8(ascii: "]") { i += 1; return .array(items) }
            throw fail("expected ',' or ']' in an array")
        }
    }

    mutating func number() throws -> JSONValue {
        let start = i
        if buf[i] == UInt8(ascii: "-") {
            i += 1
            if options.allowNonFinite, i < buf.count, buf[i] == UInt8(ascii: "I") {
                try literal("Infinity")
                return .number("-Infinity")
            }
        }
        func digits() -> Int {
            let s = i
            while i < buf.count, buf[i] >= 0x30, buf[i] <= 0x39 { i += 1 }
            return i - s
        }
        guard i < buf.count else { throw fail("the text ends inside a number") }
        if buf[i] == UInt8(ascii: "0") { i += 1 } else if digits() == 0 { throw fail("a number needs digits") }
        if i < buf.count, buf[i] == UInt8(ascii: ".") {
            i += 1
            guard digits() > 0 else { throw fail("a number needs digits after '.'") }
        }
        if i < buf.count, buf[i] == UInt8(ascii: "e") || buf[i] == UInt8(ascii: "E") {
            i += 1
            if i < buf.count, buf[i] == UInt8(ascii: "+") || buf[i] == UInt8(ascii: "-") { i += 1 }
            guard digits() > 0 else { throw fail("a number needs digits in its exponent") }
        }
        guard i - start <= options.maxNumberLength else {
            throw fail("a number \(i - start) characters long (the limit is \(options.maxNumberLength))", at: start)
        }
        try count(stringBytes: i - start, at: start)
        return .number(String(decoding: UnsafeBufferPointer(rebasing: buf[start..<i]), as: UTF8.self))
    }

    private mutating func hex4() throws -> UInt32 {
        guard buf.count - i >= 4 else { throw fail("the text ends inside a \\u escape") }
        var v: UInt32 = 0
        for _ in 0..<4 {
            let c = buf[i]
            let d: UInt32
            switch c {
            case 0x30...0x39: d = UInt32(c - 0x30)
            case 0x41...0x46: d = UInt32(c - 0x41 + 10)
            case 0x61...0x66: d = UInt32(c - 0x61 + 10)
            default: throw fail("bad hex digit in a \\u escape")
            }
            v = v << 4 | d
            i += 1
        }
        return v
    }

    mutating func string() throws -> String {
        let open = i
        i += 1
        // Fast path: no escapes before the closing quote.
        var j = i
        var ascii = true
        while j < buf.count {
            let c = buf[j]
            if c == UInt8(ascii: "\"") || c == UInt8(ascii: "\\") || c < 0x20 { break }
            if c >= 0x80 { ascii = false }
            j += 1
        }
        if j < buf.count, buf[j] == UInt8(ascii: "\""), j - open <= options.maxStringBytes {
            let slice = UnsafeBufferPointer(rebasing: buf[i..<j])
            let s: String
            if ascii {
                s = String(decoding: slice, as: UTF8.self)
            } else {
                guard let v = String(validating: slice, as: UTF8.self) else { throw fail("a string that is not valid UTF-8", at: open) }
                s = v
            }
            i = j + 1
            return s
        }
        // Fast path: no escapes, ASCII or valid UTF-8 checked by the decoder below.
        var bytes: [UInt8] = []
        var runStart = i
        while true {
            guard i < buf.count else { throw fail("the text ends inside a string that starts at byte \(base + UInt64(open))") }
            let c = buf[i]
            if c == UInt8(ascii: "\"") {
                bytes.append(contentsOf: UnsafeBufferPointer(rebasing: buf[runStart..<i]))
                i += 1
                break
            }
            if c < 0x20 { throw fail("a raw control character (0x\(String(c, radix: 16))) inside a string") }
            if c == UInt8(ascii: "\\") {
                bytes.append(contentsOf: UnsafeBufferPointer(rebasing: buf[runStart..<i]))
                i += 1
                guard i < buf.count else { throw fail("the text ends inside an escape") }
                let e = buf[i]
                i += 1
                switch e {
                case UInt8(ascii: "\""): bytes.append(0x22)
                case UInt8(ascii: "\\"): bytes.append(0x5C)
                case UInt8(ascii: "/"): bytes.append(0x2F)
                case UInt8(ascii: "b"): bytes.append(0x08)
                case UInt8(ascii: "f"): bytes.append(0x0C)
                case UInt8(ascii: "n"): bytes.append(0x0A)
                case UInt8(ascii: "r"): bytes.append(0x0D)
                case UInt8(ascii: "t"): bytes.append(0x09)
                case UInt8(ascii: "u"):
                    var scalar = try hex4()
                    if scalar >= 0xD800 && scalar < 0xDC00 {
                        guard buf.count - i >= 6, buf[i] == UInt8(ascii: "\\"), buf[i + 1] == UInt8(ascii: "u") else {
                            throw fail("a lone high surrogate in a \\u escape")
                        }
                        i += 2
                        let low = try hex4()
                        guard low >= 0xDC00 && low < 0xE000 else { throw fail("a high surrogate not followed by a low one") }
                        scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                    } else if scalar >= 0xDC00 && scalar < 0xE000 {
                        throw fail("a lone low surrogate in a \\u escape")
                    }
                    guard let u = Unicode.Scalar(scalar) else { throw fail("an invalid \\u escape") }
                    bytes.append(contentsOf: Array(String(Character(u)).utf8))
                default: throw fail("unknown escape '\\\(Character(Unicode.Scalar(e)))'")
                }
                runStart = i
                continue
            }
            i += 1
            if i - open > options.maxStringBytes { throw fail("a string longer than \(options.maxStringBytes) bytes (the JSON limit)", at: open) }
        }
        guard let s = String(validating: bytes, as: UTF8.self) else {
            throw fail("a string that is not valid UTF-8", at: open)
        }
        return s
    }
}
