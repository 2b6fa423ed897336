// The opcodes of pickle protocols 0–5 (CPython Lib/pickle.py, Lib/pickletools.py), each doing
// what pickle.py does to data, and none of what it does to code: no import, no call.

extension Unpickler {
    func step(_ op: UInt8) throws {
        switch op {
        // Protocol and framing.
        case 0x80: // PROTO
            let p = Int(try u8())
            guard p <= 5 else { throw error(.unsupported, "the pickle says protocol \(p); protocols 0 to 5 exist") }
            proto = p
        case 0x95: // FRAME: a hint for buffering; the length is not needed here.
            _ = try uintLE(8)

        // Constants and numbers.
        case 0x4E: try push(.none) // N NONE
        case 0x88: try push(.bool(true)) // NEWTRUE
        case 0x89: try push(.bool(false)) // NEWFALSE
        case 0x4A: try push(.int(Int64(Int32(truncatingIfNeeded: UInt32(try uintLE(4)))))) // J BININT
        case 0x4B: try push(.int(Int64(try u8()))) // K BININT1
        case 0x4D: try push(.int(Int64(try uintLE(2)))) // M BININT2
        case 0x8A: // LONG1
            let n = Int(try u8())
            try push(try long(Array(try take(n))))
        case 0x8B: // LONG4
            let raw = Int32(truncatingIfNeeded: UInt32(try uintLE(4)))
            guard raw >= 0 else { throw corrupt("LONG4 has a negative length") }
            guard Int(raw) <= limits.maxIntegerBytes else {
                throw error(.limitExceeded, "an integer of \(raw) bytes (the limit is \(limits.maxIntegerBytes))")
            }
            try push(try long(Array(try take(Int(raw)))))
        case 0x47: // G BINFLOAT (big-endian)
            let b = try take(8)
            var v: UInt64 = 0
            for x in b { v = v << 8 | UInt64(x) }
            try push(.float(Double(bitPattern: v)))
        case 0x49: // I INT (text; I00/I01 are False/True)
            let text = try utf8(try line(), "an INT")
            if text == "00" { try push(.bool(false)) } else if text == "01" { try push(.bool(true)) } else { try push(try decimal(text)) }
        case 0x4C: // L LONG (text, trailing L)
            var text = try utf8(try line(), "a LONG")
            if text.hasSuffix("L") { text.removeLast() }
            try push(try decimal(text))
        case 0x46: // F FLOAT (text)
            let text = try utf8(try line(), "a FLOAT").trimmedSpaces
            guard let d = Double(text) else { throw corrupt("FLOAT \"\(escapeForDisplay(text))\" is not a number") }
            try push(.float(d))

        // Strings and bytes.
        case 0x58: // X BINUNICODE
            try push(try string(try utf8(try take(try length(try uintLE(4), "a string")), "a string")))
        case 0x8C: // SHORT_BINUNICODE
            try push(try string(try utf8(try take(Int(try u8())), "a string")))
        case 0x8D: // BINUNICODE8
            try push(try string(try utf8(try take(try length(try uintLE(8), "a string")), "a string")))
        case 0x56: // V UNICODE (raw-unicode-escape text)
            try push(try string(try rawUnicodeEscape(try line(max: limits.maxStringBytes))))
        case 0x55: // U SHORT_BINSTRING (a Python 2 str: torch decodes it as UTF-8)
            try push(try string(try utf8(try take(Int(try u8())), "a string")))
        case 0x54: // T BINSTRING
            let raw = Int32(truncatingIfNeeded: UInt32(try uintLE(4)))
            guard raw >= 0 else { throw corrupt("BINSTRING has a negative length") }
            try push(try string(try utf8(try take(try length(UInt64(raw), "a string")), "a string")))
        case 0x53: // S STRING (a quoted repr)
            try push(try string(try utf8(ArraySlice(try quotedString(try line(max: limits.maxStringBytes))), "a string")))
        case 0x42: // B BINBYTES
            try push(try bytesValue(try take(try length(try uintLE(4), "bytes"))))
        case 0x43: // C SHORT_BINBYTES
            try push(try bytesValue(try take(Int(try u8()))))
        case 0x8E, 0x96: // BINBYTES8, BYTEARRAY8
            try push(try bytesValue(try take(try length(try uintLE(8), "bytes"))))
        case 0x97: // NEXT_BUFFER
            throw error(.unsupported, "the pickle uses an out-of-band buffer (NEXT_BUFFER), which a checkpoint file cannot carry")
        case 0x98: // READONLY_BUFFER
            _ = try top()

        // Tuples, lists, dicts, sets.
        case 0x29: try push(try tuple([])) // ) EMPTY_TUPLE
        case 0x74: let items = try popMark(); try push(try tuple(items)) // t TUPLE
        case 0x85: let a = try pop(); try push(try tuple([a])) // TUPLE1
        case 0x86: let b = try pop(), a = try pop(); try push(try tuple([a, b])) // TUPLE2
        case 0x87: let c = try pop(), b = try pop(), a = try pop(); try push(try tuple([a, b, c])) // TUPLE3
        case 0x5D: try charge(32); try push(.list(arena.register(PickleList()))) // ] EMPTY_LIST
        case 0x6C: // l LIST
            let items = try popMark()
            try charge(32 + 16 * items.count)
            try push(.list(arena.register(PickleList(items))))
        case 0x61: // a APPEND
            let v = try pop()
            try append([v], to: try top())
        case 0x65: // e APPENDS
            let items = try popMark()
            try append(items, to: try top())
        case 0x7D: try charge(48); try push(.dict(arena.register(PickleDict(kind: .dict)))) // } EMPTY_DICT
        case 0x64: // d DICT
            let items = try popMark()
            try charge(48)
            let d = arena.register(PickleDict(kind: .dict))
            try setItems(items, in: .dict(d))
            try push(.dict(d))
        case 0x73: // s SETITEM
            let v = try pop(), k = try pop()
            try setItems([k, v], in: try top())
        case 0x75: // u SETITEMS
            let items = try popMark()
            try setItems(items, in: try top())
        case 0x8F: try charge(48); try push(.set(arena.register(PickleSet(frozen: false)))) // EMPTY_SET
        case 0x90: // ADDITEMS
            let items = try popMark()
            guard case .set(let s) = try top(), !s.frozen else { throw corrupt("ADDITEMS on \(try top().kind), not a set") }
            try addItems(items, to: s)
        case 0x91: // FROZENSET
            let items = try popMark()
            try charge(48)
            let s = arena.register(PickleSet(frozen: true))
            try addItems(items, to: s)
            try push(.set(s))

        // Stack and memo.
        case 0x28: // ( MARK
            guard marks.count < limits.maxMarks else {
                throw error(.limitExceeded, "the pickle nests MARKs more than \(limits.maxMarks) deep")
            }
            marks.append(stack.count)
        case 0x30: // 0 POP (pops a MARK when the stack above it is empty, as pickle.py does)
            if stack.count > (marks.last ?? 0) { stack.removeLast() } else { _ = try popMark() }
        case 0x31: _ = try popMark() // 1 POP_MARK
        case 0x32: try push(try top()) // 2 DUP
        case 0x68: try push(try memoGet(Int(try u8()))) // h BINGET
        case 0x6A: try push(try memoGet(Int(try uintLE(4)))) // j LONG_BINGET
        case 0x67: try push(try memoGet(try textIndex())) // g GET
        case 0x71: try memoPut(Int(try u8()), try top()) // q BINPUT
        case 0x72: try memoPut(Int(try uintLE(4)), try top()) // r LONG_BINPUT
        case 0x70: try memoPut(try textIndex(), try top()) // p PUT
        case 0x94: try memoPut(memo.count, try top()) // MEMOIZE

        // Names and calls (PickleCalls.swift).
        case 0x63: // c GLOBAL
            let module = try utf8(try line(), "a GLOBAL module name")
            let name = try utf8(try line(), "a GLOBAL name")
            try push(try global(module: module, name: name))
        case 0x93: // STACK_GLOBAL
            let name = try pop(), module = try pop()
            guard let m = module.stringValue, let n = name.stringValue else { throw corrupt("STACK_GLOBAL needs two strings") }
            try push(try global(module: m, name: n))
        case 0x52: // R REDUCE
            let args = try pop()
            try replaceTop(try call(try top(), args))
        case 0x81: // NEWOBJ
            let args = try pop()
            try replaceTop(try call(try top(), args, how: "NEWOBJ"))
        case 0x92: // NEWOBJ_EX
            let kwargs = try pop(), args = try pop()
            if let d = kwargs.dictValue, d.count > 0 { throw error(.unsupported, "NEWOBJ_EX with keyword arguments builds nothing torch saves") }
            try replaceTop(try call(try top(), args, how: "NEWOBJ_EX"))
        case 0x62: // b BUILD
            let state = try pop()
            try build(try top(), state)
        case 0x69: // i INST: imports and calls in one opcode
            let module = try utf8(try line(), "an INST module name")
            let name = try utf8(try line(), "an INST name")
            let args = try popMark()
            let callee = try global(module: module, name: name)
            try push(try call(callee, try tuple(args), how: "INST"))
        case 0x6F: // o OBJ
            let items = try popMark()
            guard let callee = items.first else { throw corrupt("OBJ without a class") }
            try push(try call(callee, try tuple(Array(items.dropFirst())), how: "OBJ"))
        case 0x51: // Q BINPERSID
            let pid = try pop()
            try push(try persistentLoad(pid))
        case 0x50: // P PERSID
            _ = try line()
            throw error(.unsupported, "the pickle has a text persistent id (PERSID); torch files use BINPERSID tuples")
        case 0x82, 0x83, 0x84: // EXT1, EXT2, EXT4
            throw error(.unsupported, "the pickle names an object through the copyreg extension registry (EXT\(op == 0x82 ? 1 : op == 0x83 ? 2 : 4)), which nothing torch saves uses")
        default:
            throw corrupt("unknown opcode 0x\(String(op, radix: 16))")
        }
    }

    // MARK: Containers

    func append(_ items: [PickleValue], to target: PickleValue) throws {
        switch target {
        case .list(let l):
            try charge(16 * items.count)
            l.items.append(contentsOf: items)
        case .object where lenient:
            break
        default:
            throw error(.unsupported, "the pickle appends to \(target.kind); only lists can be appended to without running code")
        }
    }

    func setItems(_ items: [PickleValue], in target: PickleValue) throws {
        guard items.count % 2 == 0 else { throw corrupt("SETITEMS has an odd number of items") }
        switch target {
        case .dict(let d):
            try charge(32 * (items.count / 2))
            for k in stride(from: 0, to: items.count, by: 2) {
                do { try d.set(items[k], items[k + 1]) } catch { throw corrupt("a dict key is \(error.kind), which Python cannot hash") }
            }
        case .object where lenient:
            break
        default:
            throw error(.unsupported, "the pickle sets items on \(target.kind); only dicts can take items without running code")
        }
    }

    func addItems(_ items: [PickleValue], to s: PickleSet) throws {
        try charge(32 * items.count)
        for v in items {
            do { try s.insert(v) } catch { throw corrupt("a set member is \(error.kind), which Python cannot hash") }
        }
    }

    // MARK: Literals

    func bytesValue(_ b: ArraySlice<UInt8>) throws -> PickleValue {
        try charge(16 + b.count)
        return .bytes(Array(b))
    }

    /// A little-endian two's-complement integer (LONG1 / LONG4).
    func long(_ b: [UInt8]) throws -> PickleValue {
        guard !b.isEmpty else { return .int(0) }
        if b.count <= 8 {
            var v: UInt64 = 0
            for (k, x) in b.enumerated() { v |= UInt64(x) << (8 * UInt64(k)) }
            if b.count < 8, b[b.count - 1] & 0x80 != 0 { v |= ~UInt64(0) << (8 * UInt64(b.count)) }
            return .int(Int64(bitPattern: v))
        }
        try charge(16 + 3 * b.count)
        return .bigInt(BigDecimal.text(littleEndianTwosComplement: b))
    }

    /// A decimal integer from a text opcode: an Int64 when it fits.
    func decimal(_ raw: String) throws -> PickleValue {
        let text = raw.trimmedSpaces
        if let v = Int64(text) { return .int(v) }
        var digits = Substring(text)
        if digits.first == "-" || digits.first == "+" { digits = digits.dropFirst() }
        guard !digits.isEmpty, digits.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else {
            throw corrupt("\"\(escapeForDisplay(String(text.prefix(40))))\" is not an integer")
        }
        guard digits.utf8.count <= limits.maxIntegerBytes * 3 else {
            throw error(.limitExceeded, "an integer of \(digits.utf8.count) digits")
        }
        try charge(16 + text.utf8.count)
        return .bigInt(text.hasPrefix("+") ? String(text.dropFirst()) : text)
    }

    func textIndex() throws -> Int {
        let text = try utf8(try line(), "a memo index")
        guard let v = Int(text.trimmedSpaces), v >= 0 else { throw corrupt("memo index \"\(escapeForDisplay(String(text.prefix(40))))\" is not a number") }
        return v
    }

    /// The bytes of a proto-0 STRING argument: a quoted Python repr with backslash escapes.
    func quotedString(_ raw: ArraySlice<UInt8>) throws -> [UInt8] {
        var s = Array(raw)
        while let last = s.last, last == 0x0D || last == 0x20 { s.removeLast() }
        guard s.count >= 2, let q = s.first, q == 0x27 || q == 0x22, s.last == q else { throw corrupt("STRING is not quoted") }
        let body = s[1..<(s.count - 1)]
        var out: [UInt8] = []
        out.reserveCapacity(body.count)
        var k = body.startIndex
        func hex(_ c: UInt8) -> UInt8? {
            switch c {
            case 0x30...0x39: return c - 0x30
            case 0x61...0x66: return c - 0x61 + 10
            case 0x41...0x46: return c - 0x41 + 10
            default: return nil
            }
        }
        while k < body.endIndex {
            let c = body[k]
            k += 1
            guard c == 0x5C, k < body.endIndex else { out.append(c); continue }
            let e = body[k]
            k += 1
            switch e {
            case 0x5C, 0x27, 0x22: out.append(e)
            case 0x6E: out.append(0x0A)
            case 0x74: out.append(0x09)
            case 0x72: out.append(0x0D)
            case 0x61: out.append(0x07)
            case 0x62: out.append(0x08)
            case 0x66: out.append(0x0C)
            case 0x76: out.append(0x0B)
            case 0x0A: break
            case 0x78: // \xhh
                guard k + 1 < body.endIndex, let h = hex(body[k]), let l = hex(body[k + 1]) else { throw corrupt("a bad \\x escape in STRING") }
                out.append(h << 4 | l)
                k += 2
            case 0x30...0x37: // \ooo
                var v = Int(e - 0x30)
                var n = 1
                while n < 3, k < body.endIndex, body[k] >= 0x30, body[k] <= 0x37 { v = v * 8 + Int(body[k] - 0x30); k += 1; n += 1 }
                out.append(UInt8(truncatingIfNeeded: v))
            default: out.append(0x5C); out.append(e)
            }
        }
        return out
    }

    /// Decodes raw-unicode-escape text (UNICODE): Latin-1 bytes with `\uXXXX` / `\UXXXXXXXX`.
    func rawUnicodeEscape(_ b: ArraySlice<UInt8>) throws -> String {
        var out = String.UnicodeScalarView()
        var k = b.startIndex
        while k < b.endIndex {
            let c = b[k]
            if c == 0x5C, k + 1 < b.endIndex, b[k + 1] == 0x75 || b[k + 1] == 0x55 {
                let n = b[k + 1] == 0x75 ? 4 : 8
                guard k + 2 + n <= b.endIndex, let v = UInt32(String(decoding: b[(k + 2)..<(k + 2 + n)], as: UTF8.self), radix: 16),
                      let scalar = Unicode.Scalar(v) else { throw corrupt("a bad \\u escape in UNICODE") }
                out.append(scalar)
                k += 2 + n
            } else {
                out.append(Unicode.Scalar(c))
                k += 1
            }
        }
        return String(out)
    }
}

/// Decimal text of big integers, for LONG1/LONG4 values beyond 64 bits.
enum BigDecimal {
    static func text(littleEndianTwosComplement b: [UInt8]) -> String {
        let negative = (b.last ?? 0) & 0x80 != 0
        // Magnitude, little-endian bytes.
        var mag = b
        if negative {
            var carry = 1
            for k in mag.indices {
                let v = Int(~mag[k] & 0xFF) + carry
                mag[k] = UInt8(v & 0xFF)
                carry = v >> 8
            }
        }
        // Repeated division by 10^9 on big-endian 32-bit limbs.
        var limbs: [UInt32] = []
        for start in stride(from: 0, to: mag.count, by: 4) {
            var v: UInt32 = 0
            for j in start..<min(start + 4, mag.count) { v |= UInt32(mag[j]) << (8 * UInt32(j - start)) }
            limbs.append(v)
        }
        limbs.reverse()
        var parts: [UInt32] = []
        while limbs.contains(where: { $0 != 0 }) {
            var rem: UInt64 = 0
            for i in limbs.indices {
                let cur = rem << 32 | UInt64(limbs[i])
                limbs[i] = UInt32(cur / 1_000_000_000)
                rem = cur % 1_000_000_000
            }
            parts.append(UInt32(rem))
            while let f = limbs.first, f == 0 { limbs.removeFirst() }
        }
        guard let last = parts.popLast() else { return "0" }
        var s = negative ? "-" : ""
        s += String(last)
        for p in parts.reversed() {
            let d = String(p)
            s += String(repeating: "0", count: 9 - d.count) + d
        }
        return s
    }
}

fileprivate extension String {
    /// Without leading and trailing spaces, tabs and carriage returns.
    var trimmedSpaces: String {
        var s = Substring(self)
        while let f = s.first, f == " " || f == "\t" || f == "\r" { s = s.dropFirst() }
        while let l = s.last, l == " " || l == "\t" || l == "\r" { s = s.dropLast() }
        return String(s)
    }
}
