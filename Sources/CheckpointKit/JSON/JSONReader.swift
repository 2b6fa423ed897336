/// Pull-style reading on top of ``JSONParser``, for hot formats (the manifest, safetensors
/// headers) that are decoded straight into structs without building a ``JSONValue`` tree.
extension JSONParser {
    /// Runs `body` with a reader positioned at the start of `bytes`; checks nothing follows.
    static func read<T>(_ bytes: UnsafeBufferPointer<UInt8>, options: Options = Options(), baseOffset: UInt64 = 0,
                        _ body: (inout JSONParser) throws -> T) throws -> T {
        var p = JSONParser(buf: bytes, options: options, base: baseOffset)
        p.skipWhitespace()
        let v = try body(&p)
        p.skipWhitespace()
        guard p.i == bytes.count else { throw p.fail("unexpected text after the JSON value") }
        return v
    }

    var offset: UInt64 { base + UInt64(i) }

    mutating func expect(_ c: UInt8, _ what: String) throws {
        skipWhitespace()
        guard i < buf.count, buf[i] == c else {
            throw fail(i < buf.count ? "expected \(what)" : "the text ends where \(what) was expected")
        }
        i += 1
    }

    // MARK: Iterator style (no closures: the manifest decoder's inner loop)

    /// Consumes `{`. Follow with ``nextKey(first:)`` until it returns nil.
    mutating func beginObject() throws { try expect(UInt8(ascii: "{"), "an object") }

    /// The next key (positioned at its value), or nil after the closing `}`.
    /// Pass `first: true` for the first call after ``beginObject()``.
    mutating func nextKey(first: Bool) throws -> JSONKey? {
        guard try atNextKey(first: first) else { return nil }
        var j = i + 1
        while j < buf.count, buf[j] != UInt8(ascii: "\""), buf[j] != UInt8(ascii: "\\"), buf[j] >= 0x20, buf[j] < 0x80 { j += 1 }
        let key: JSONKey
        if j < buf.count, buf[j] == UInt8(ascii: "\""), j - i - 1 <= 24 {
            key = JSONKey(UnsafeBufferPointer(rebasing: buf[(i + 1)..<j]))
            i = j + 1
        } else {
            key = JSONKey(long: try string())
        }
        try expect(UInt8(ascii: ":"), "':' after an object key")
        skipWhitespace()
        return key
    }

    /// Positions at the next key's opening quote (consuming the `,` before it unless `first`), or
    /// consumes the closing `}` and returns false.
    mutating func atNextKey(first: Bool) throws -> Bool {
        skipWhitespace()
        guard i < buf.count else { throw fail("the text ends inside an object") }
        if buf[i] == UInt8(ascii: "}") { i += 1; return false }
        if !first {
            guard buf[i] == UInt8(ascii: ",") else { throw fail("expected ',' or '}' in an object") }
            i += 1
            skipWhitespace()
        }
        guard i < buf.count, buf[i] == UInt8(ascii: "\"") else { throw fail("expected a quoted key in an object") }
        return true
    }

    /// Consumes `[`. Follow with ``nextElement(first:)`` until it returns false.
    mutating func beginArray() throws { try expect(UInt8(ascii: "["), "an array") }

    /// Whether another element follows (positioned at it), consuming the `,` or the closing `]`.
    mutating func nextElement(first: Bool) throws -> Bool {
        skipWhitespace()
        guard i < buf.count else { throw fail("the text ends inside an array") }
        if buf[i] == UInt8(ascii: "]") { i += 1; return false }
        if !first {
            guard buf[i] == UInt8(ascii: ",") else { throw fail("expected ',' or ']' in an array") }
            i += 1
            skipWhitespace()
        }
        return true
    }

    /// Iterates an object's members: `body(&self, key)` must consume the value. Keys must be unique.
    mutating func readObject(_ body: (inout JSONParser, String) throws -> Void) throws {
        try expect(UInt8(ascii: "{"), "an object")
        skipWhitespace()
        if i < buf.count, buf[i] == UInt8(ascii: "}") { i += 1; return }
        // Few keys: a linear scan; many (a hostile file): a set, so the check stays linear overall.
        var keys: [String] = []
        var keySet: Set<ByteName>? = nil
        while true {
            skipWhitespace()
            guard i < buf.count, buf[i] == UInt8(ascii: "\"") else { throw fail("expected a quoted key in an object") }
            let keyAt = i
            let key = try string()
            let duplicate: Bool
            if var set = keySet {
                keySet = nil
                duplicate = !set.insert(ByteName(key)).inserted
                keySet = set
            } else {
                duplicate = keys.contains { $0.sameBytes(key) }
                keys.append(key)
                if keys.count > 16 { keySet = Set(keys.map(ByteName.init)); keys = [] }
            }
            if duplicate { throw fail("duplicate key \"\(escapeForDisplay(key))\"", at: keyAt) }
            try expect(UInt8(ascii: ":"), "':' after an object key")
            skipWhitespace()
            try body(&self, key)
            skipWhitespace()
            guard i < buf.count else { throw fail("the text ends inside an object") }
            if buf[i] == UInt8(ascii: ",") { i += 1; continue }
            if buf[i] == UInt8(ascii: "}") { i += 1; return }
            throw fail("expected ',' or '}' in an object")
        }
    }

    /// Iterates an array: `body(&self, index)` must consume each element.
    mutating func readArray(_ body: (inout JSONParser, Int) throws -> Void) throws {
        try expect(UInt8(ascii: "["), "an array")
        skipWhitespace()
        if i < buf.count, buf[i] == UInt8(ascii: "]") { i += 1; return }
        var k = 0
        while true {
            skipWhitespace()
            try body(&self, k)
            k += 1
            skipWhitespace()
            guard i < buf.count else { throw fail("the text ends inside an array") }
            if buf[i] == UInt8(ascii: ",") { i += 1; continue }
            if buf[i] == UInt8(ascii: "]") { i += 1; return }
            throw fail("expected ',' or ']' in an array")
        }
    }

    mutating func readString() throws -> String {
        skipWhitespace()
        guard i < buf.count, buf[i] == UInt8(ascii: "\"") else { throw fail("expected a string") }
        return try string()
    }

    /// `null` (consumed, returns true) or anything else (left in place, returns false).
    mutating func readNull() throws -> Bool {
        skipWhitespace()
        if i < buf.count, buf[i] == UInt8(ascii: "n") { try literal("null"); return true }
        return false
    }

    mutating func readBool() throws -> Bool {
        skipWhitespace()
        guard i < buf.count else { throw fail("expected true or false") }
        if buf[i] == UInt8(ascii: "t") { try literal("true"); return true }
        if buf[i] == UInt8(ascii: "f") { try literal("false"); return false }
        throw fail("expected true or false")
    }

    /// An integer in Int64 range written without fraction or exponent.
    mutating func readInt64() throws -> Int64 {
        skipWhitespace()
        let start = i
        var neg = false
        if i < buf.count, buf[i] == UInt8(ascii: "-") { neg = true; i += 1 }
        var v: Int64 = 0
        var digits = 0
        while i < buf.count, buf[i] >= 0x30, buf[i] <= 0x39 {
            let (m, o1) = v.multipliedReportingOverflow(by: 10)
            let (a, o2) = m.addingReportingOverflow(Int64(buf[i] - 0x30))
            if o1 || o2 { throw fail("an integer too large for 64 bits", at: start) }
            v = a
            i += 1
            digits += 1
        }
        if digits == 0 || (i < buf.count && (buf[i] == UInt8(ascii: ".") || buf[i] == UInt8(ascii: "e") || buf[i] == UInt8(ascii: "E"))) {
            i = start
            let value = try self.value(depth: 0)
            if let n = value.int64Value { return n }
            throw fail("expected an integer, found \(value.typeDescription) \(value.serialized())", at: start)
        }
        return neg ? -v : v
    }

    mutating func readValue() throws -> JSONValue { try value(depth: 1) }

    /// Consumes one value without building it (strings are still checked as UTF-8 lazily: only
    /// their quotes and escapes are scanned). Depth is bounded as in ``value(depth:)``.
    mutating func skipValue(depth: Int = 1) throws {
        guard depth <= options.maxDepth else { throw fail("nesting deeper than \(options.maxDepth) levels (the JSON limit)") }
        skipWhitespace()
        guard i < buf.count else { throw fail("the text ends where a value was expected") }
        switch buf[i] {
        case UInt8(ascii: "{"):
            try beginObject()
            var first = true
            while try nextKey(first: first) != nil {
                first = false
                try skipValue(depth: depth + 1)
            }
        case UInt8(ascii: "["):
            try beginArray()
            var first = true
            while try nextElement(first: first) {
                first = false
                try skipValue(depth: depth + 1)
            }
        case UInt8(ascii: "\""):
            let open = i
            i += 1
            while i < buf.count, buf[i] != UInt8(ascii: "\"") {
                if buf[i] == UInt8(ascii: "\\") { i += 1 } else if buf[i] < 0x20 { throw fail("a raw control character inside a string") }
                i += 1
            }
            guard i < buf.count else { throw fail("the text ends inside a string", at: open) }
            i += 1
        default:
            _ = try value(depth: depth)
        }
    }
}

/// An object key packed into integers for cheap comparison (ASCII keys of up to 24 bytes);
/// longer keys compare by their text.
struct JSONKey: Equatable {
    private var a: UInt64 = 0, b: UInt64 = 0, c: UInt64 = 0
    private var count: Int = 0
    private var long: String?

    init(_ bytes: UnsafeBufferPointer<UInt8>) {
        count = bytes.count
        for (k, byte) in bytes.enumerated() {
            let shift = UInt64(8 * (k % 8))
            switch k / 8 {
            case 0: a |= UInt64(byte) << shift
            case 1: b |= UInt64(byte) << shift
            default: c |= UInt64(byte) << shift
            }
        }
    }

    init(long: String) {
        var s = long
        if s.utf8.count <= 24 && s.utf8.allSatisfy({ $0 < 0x80 && $0 >= 0x20 }) {
            self = s.withUTF8 { JSONKey($0) }
        } else {
            self.long = long
            self.count = -1
        }
    }

    init(_ literal: StaticString) {
        self = JSONKey(UnsafeBufferPointer(start: literal.utf8Start, count: literal.utf8CodeUnitCount))
    }
}
