/// The `.npy` format (numpy `numpy/lib/_format_impl.py`): magic, version, header length, a Python
/// dict literal `{'descr': '<f4', 'fortran_order': False, 'shape': (784, 128), }`, then data.
public enum NPY {
    public static let magic: [UInt8] = [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59] // \x93NUMPY

    public struct Header: Sendable, Equatable {
        public var dtype: DType
        public var bigEndian: Bool
        public var fortranOrder: Bool
        public var shape: [Int]
        /// Bytes before the data: magic + version + length field + header text.
        public var headerLength: Int
        /// The `descr` text as written (`<u2` for bfloat16 stored by us).
        public var descr: String
    }

    /// The header `numpy.save` writes for a C-order little-endian array: version 1.0, padded with
    /// spaces to a multiple of 64 bytes, ending in a newline (spec §2 rule 4).
    public static func header(dtype: DType, shape: [Int]) -> [UInt8] {
        var shapeText = "("
        shapeText += shape.map(String.init).joined(separator: ", ")
        if shape.count == 1 { shapeText += "," }
        shapeText += ")"
        var dict = "{'descr': '\(dtype.npyDescr)', 'fortran_order': False, 'shape': \(shapeText), }"
        // numpy: total = 6 magic + 2 version + 2 length + len(dict) + padding + 1 newline, % 64 == 0.
        let base = 10 + dict.utf8.count + 1
        let pad = (64 - base % 64) % 64
        dict += String(repeating: " ", count: pad) + "\n"
        var out = magic
        out += [1, 0]
        out.appendLE(UInt16(dict.utf8.count))
        out += Array(dict.utf8)
        return out
    }

    /// Bytes needed to see the whole header: the first 10 (or 12) give its length.
    public static let preambleLength = 12

    /// A parsed header: an array this toolkit reads, or a well-formed member it does not.
    public enum Parsed: Sendable {
        case array(Header)
        /// `what`: the numpy dtype and shape as numpy would name them (`complex64 (2, 5)`);
        /// `reason`: why it is not read, one clause.
        case unsupported(what: String, reason: String)
    }

    /// Parses a header from the start of a member. `prefix` must hold at least the whole header
    /// (call ``headerLength(prefix:limits:file:member:offset:)`` first to know how much to read).
    /// A well-formed header of a dtype this toolkit does not read is `.unsupported`.
    public static func parseHeader(_ prefix: [UInt8], limits: Limits = .default, file: String? = nil, member: String? = nil, offset: UInt64? = nil) throws -> Header {
        switch try inspectHeader(prefix, limits: limits, file: file, member: member, offset: offset) {
        case .array(let h): return h
        case .unsupported(let what, let reason):
            throw CheckpointError(.unsupported, "\(what): \(reason)", file: file, member: member, offset: offset,
                                  hint: "save numeric arrays only (bool, int, uint, float)")
        }
    }

    /// Parses a header like ``parseHeader(_:limits:file:member:offset:)``, returning members of
    /// dtypes this toolkit does not read (complex, strings, objects, structured, datetimes) as
    /// ``Parsed/unsupported(what:reason:)`` instead of throwing. Malformed headers still throw.
    public static func inspectHeader(_ prefix: [UInt8], limits: Limits = .default, file: String? = nil, member: String? = nil, offset: UInt64? = nil) throws -> Parsed {
        func bad(_ why: String) -> CheckpointError {
            CheckpointError(.invalidNPY, "invalid .npy header: " + why, file: file, member: member, offset: offset)
        }
        let total = try headerLength(prefix: prefix, limits: limits, file: file, member: member, offset: offset)
        guard prefix.count >= total else { throw bad("it is \(total) bytes but only \(prefix.count) are present") }
        let textStart = prefix[6] == 1 ? 10 : 12
        guard let text = String(validating: prefix[textStart..<total], as: UTF8.self) else { throw bad("the header is not text") }
        var p = DictParser(text: Array(text.utf8))
        let dict: [String: DictParser.Value]
        do { dict = try p.parse() } catch let why as DictParser.Failure { throw bad(why.reason) }
        guard case .string(let descr)? = dict["descr"] else {
            if case .list? = dict["descr"] { return .unsupported(what: "a structured array (a descr list)", reason: "structured dtypes are not tensors") }
            throw bad("no 'descr' string")
        }
        guard case .bool(let fortran)? = dict["fortran_order"] else { throw bad("no 'fortran_order' boolean") }
        guard case .tuple(let dims)? = dict["shape"] else { throw bad("no 'shape' tuple") }
        guard dict.count == 3 else { throw bad("unexpected keys \(dict.keys.sorted().filter { !["descr", "fortran_order", "shape"].contains($0) })") }
        guard dims.count <= limits.maxRank else {
            throw CheckpointError(.limitExceeded, "the .npy shape has \(dims.count) dimensions (the limit is \(limits.maxRank))", file: file, member: member, offset: offset)
        }
        var shape: [Int] = []
        for d in dims {
            guard let v = Int(d), v >= 0 else { throw bad("the shape has a negative or non-integer dimension '\(d)'") }
            shape.append(v)
        }
        guard let count = TensorInfo.elementCount(shape) else {
            throw CheckpointError(.limitExceeded, "the shape \(shape) has more elements than fit in 63 bits", file: file, member: member, offset: offset)
        }
        guard let (dtype, big) = DType.fromNPY(descr: descr) else {
            let shapeText = "(" + shape.map(String.init).joined(separator: ", ") + (shape.count == 1 ? ",)" : ")")
            return .unsupported(what: "\(numpyName(descr: descr)) \(shapeText)", reason: unsupportedReason(descr: descr))
        }
        let (_, overflow) = count.multipliedReportingOverflow(by: dtype.itemSize)
        guard !overflow else {
            throw CheckpointError(.limitExceeded, "the shape \(shape) of \(dtype.rawValue) is more bytes than fit in 63 bits", file: file, member: member, offset: offset)
        }
        return .array(Header(dtype: dtype, bigEndian: big, fortranOrder: fortran, shape: shape, headerLength: total, descr: descr))
    }

    /// numpy's name for a `descr` this toolkit does not read (`<c8` → `complex64`), with the
    /// `descr` itself when numpy's name does not say the byte order or width.
    static func numpyName(descr: String) -> String {
        var body = Substring(descr)
        if let f = body.first, "<>|=".contains(f) { body = body.dropFirst() }
        let kind = body.first
        let digits = Int(body.dropFirst().prefix { $0.isNumber }) ?? 0
        let shown = "'" + escapeForDisplay(descr) + "'"
        switch kind {
        case "c": return digits > 0 ? "complex\(digits * 8) \(shown)" : shown
        case "U": return "str \(shown)"
        case "S", "a": return "bytes \(shown)"
        case "O": return "object \(shown)"
        case "V": return "void \(shown)"
        case "M": return "datetime64 \(shown)"
        case "m": return "timedelta64 \(shown)"
        case "f" where digits == 16 || digits == 12: return "longdouble \(shown)"
        default: return shown
        }
    }

    static func unsupportedReason(descr: String) -> String {
        var body = Substring(descr)
        if let f = body.first, "<>|=".contains(f) { body = body.dropFirst() }
        switch body.first {
        case "c": return "complex numbers are not a checkpoint dtype this toolkit reads"
        case "U", "S", "a": return "strings are not tensors"
        case "O": return "object arrays need pickle to load; never read"
        case "V": return "raw void records are not tensors"
        case "M", "m": return "dates and durations are not tensors"
        default: return "only bool, int, uint and float dtypes are read"
        }
    }

    /// The header's total length from its first 12 bytes, checked against the limit.
    public static func headerLength(prefix: [UInt8], limits: Limits = .default, file: String? = nil, member: String? = nil, offset: UInt64? = nil) throws -> Int {
        func bad(_ why: String) -> CheckpointError {
            CheckpointError(.invalidNPY, "invalid .npy header: " + why, file: file, member: member, offset: offset)
        }
        guard prefix.count >= 10 else { throw bad("the member is only \(prefix.count) bytes long") }
        guard Array(prefix[0..<6]) == magic else { throw bad("no \\x93NUMPY magic") }
        let major = prefix[6]
        let length: Int
        switch major {
        case 1:
            length = 10 + (Int(prefix[8]) | Int(prefix[9]) << 8)
        case 2, 3:
            guard prefix.count >= 12 else { throw bad("the member is only \(prefix.count) bytes long") }
            let n = Int(prefix[8]) | Int(prefix[9]) << 8 | Int(prefix[10]) << 16 | Int(prefix[11]) << 24
            length = 12 + n
        default:
            throw CheckpointError(.unsupported, ".npy format version \(major).\(prefix[7]) is not supported", file: file, member: member, offset: offset)
        }
        guard length - (major == 1 ? 10 : 12) <= limits.maxNPYHeaderBytes else {
            throw CheckpointError(.limitExceeded, "the .npy header is \(length) bytes (the limit is \(limits.maxNPYHeaderBytes))", file: file, member: member, offset: offset)
        }
        return length
    }

    /// A parser for the Python literal subset numpy writes: a dict of str keys whose values are
    /// str, bool, int tuples (and lists, recognised only to refuse structured dtypes).
    struct DictParser {
        enum Value { case string(String), bool(Bool), tuple([String]), list }
        struct Failure: Error { let reason: String }
        let text: [UInt8]
        var i = 0

        init(text: [UInt8]) { self.text = text }

        mutating func ws() { while i < text.count, text[i] == 0x20 || text[i] == 0x0A || text[i] == 0x09 || text[i] == 0x0D { i += 1 } }

        mutating func expect(_ c: UInt8) throws {
            ws()
            guard i < text.count, text[i] == c else { throw Failure(reason: "expected '\(Character(Unicode.Scalar(c)))' at header byte \(i)") }
            i += 1
        }

        mutating func str() throws -> String {
            ws()
            guard i < text.count, text[i] == 0x27 || text[i] == 0x22 else { throw Failure(reason: "expected a quoted string at header byte \(i)") }
            let q = text[i]
            i += 1
            let s = i
            while i < text.count, text[i] != q {
                if text[i] == 0x5C { throw Failure(reason: "escapes in header strings are not supported") }
                i += 1
            }
            guard i < text.count else { throw Failure(reason: "unterminated string") }
            defer { i += 1 }
            return String(decoding: text[s..<i], as: UTF8.self)
        }

        mutating func value() throws -> Value {
            ws()
            guard i < text.count else { throw Failure(reason: "the header ends where a value was expected") }
            switch text[i] {
            case 0x27, 0x22: return .string(try str())
            case UInt8(ascii: "T"):
                guard text[i...].starts(with: Array("True".utf8)) else { throw Failure(reason: "bad literal") }
                i += 4
                return .bool(true)
            case UInt8(ascii: "F"):
                guard text[i...].starts(with: Array("False".utf8)) else { throw Failure(reason: "bad literal") }
                i += 5
                return .bool(false)
            case UInt8(ascii: "("):
                i += 1
                var items: [String] = []
                while true {
                    ws()
                    guard i < text.count else { throw Failure(reason: "unterminated shape tuple") }
                    if text[i] == UInt8(ascii: ")") { i += 1; break }
                    let s = i
                    if text[i] == UInt8(ascii: "-") { i += 1 }
                    while i < text.count, text[i] >= 0x30, text[i] <= 0x39 { i += 1 }
                    // numpy 1.x may write long ints as 10L.
                    let digits = String(decoding: text[s..<i], as: UTF8.self)
                    if i < text.count, text[i] == UInt8(ascii: "L") { i += 1 }
                    guard !digits.isEmpty, digits != "-", digits.count <= 20 else { throw Failure(reason: "a shape dimension is not an integer") }
                    items.append(digits)
                    ws()
                    if i < text.count, text[i] == UInt8(ascii: ",") { i += 1 }
                }
                return .tuple(items)
            case UInt8(ascii: "["):
                return .list
            default:
                throw Failure(reason: "unexpected character at header byte \(i)")
            }
        }

        mutating func parse() throws -> [String: Value] {
            try expect(UInt8(ascii: "{"))
            var out: [String: Value] = [:]
            while true {
                ws()
                guard i < text.count else { throw Failure(reason: "unterminated dict") }
                if text[i] == UInt8(ascii: "}") { i += 1; break }
                let key = try str()
                try expect(UInt8(ascii: ":"))
                let v = try value()
                if case .list = v { return ["descr": .list] }
                guard out[key] == nil else { throw Failure(reason: "duplicate key '\(key)'") }
                out[key] = v
                ws()
                if i < text.count, text[i] == UInt8(ascii: ",") { i += 1 }
            }
            ws()
            guard i == text.count else { throw Failure(reason: "text after the dict") }
            return out
        }
    }
}
