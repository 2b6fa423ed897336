// Parsing safetensors headers and shard indexes: pure functions over bytes (fuzzing targets).
// The rules are those at the top of SafetensorsSource.swift.

// MARK: - Parsing (pure functions over bytes: fuzzing targets)

extension SafetensorsSource {
    /// Names of dtypes the reference defines that have no ``DType`` here (6- and 4-bit floats,
    /// complex): listed as unsupported entries (``SafetensorsHeader/unsupported``), not tensors.
    static let knownUnsupportedDtypes: Set<String> = ["F6_E2M3", "F6_E3M2", "F4", "C64"]

    /// Parses and validates a safetensors header.
    ///
    /// - Parameters:
    ///   - bytes: the file's first bytes: the 8-byte length and (when that length is acceptable)
    ///     the N header bytes after it; more bytes are ignored.
    ///   - fileSize: the size of the whole file, for the data-section checks.
    /// - Throws: `CheckpointError` naming the tensor and the file offset:
    ///   `.truncated` (too short, header or a tensor past the end), `.limitExceeded` (N above
    ///   ``maxHeaderSize``, shapes that overflow, above `limits`), `.invalidJSON`,
    ///   `.invalidSafetensors` (no leading `{`, wrong fields, holes, overlaps, trailing bytes,
    ///   sizes that disagree with shape × dtype, unknown dtypes, non-string metadata),
    ///   `.duplicateName`, `.unsafeName`, `.unsupported` (dtypes without a counterpart here).
    public static func parseHeader(_ bytes: [UInt8], fileSize: UInt64, limits: Limits = .default, file: String? = nil) throws -> SafetensorsHeader {
        // tensor.rs `read_metadata`: HeaderTooSmall, HeaderTooLarge, InvalidHeaderLength.
        guard bytes.count >= 8, fileSize >= 8 else {
            throw CheckpointError(.truncated, "the file is \(min(fileSize, UInt64(bytes.count))) bytes long, too short for the 8-byte header length a safetensors file starts with",
                                  file: file, offset: 0)
        }
        let n = bytes.withUnsafeBytes { UInt64(littleEndian: $0.loadUnaligned(as: UInt64.self)) }
        guard n <= maxHeaderSize else {
            throw CheckpointError(.limitExceeded, "the header length field says \(n) bytes, more than the \(maxHeaderSize)-byte limit of the safetensors format",
                                  file: file, offset: 0, hint: "the file is damaged or is not a safetensors file")
        }
        guard n <= fileSize - 8 else {
            throw CheckpointError(.truncated, "the header length field says \(n) bytes, but only \(fileSize - 8) bytes follow it",
                                  file: file, offset: 0, hint: "the file is truncated or is not a safetensors file")
        }
        guard UInt64(bytes.count) >= 8 + n else {
            throw CheckpointError(.truncated, "only \(bytes.count - 8) of the header's \(n) bytes were read", file: file, offset: 8)
        }
        // README: "The header data MUST begin with a { character (0x7B)."
        guard n > 0 else {
            throw CheckpointError(.invalidSafetensors, "the header is empty; it must be a JSON object", file: file, offset: 8)
        }
        guard bytes[8] == UInt8(ascii: "{") else {
            throw CheckpointError(.invalidSafetensors, "the header does not begin with '{' (it begins with byte 0x\(String(bytes[8], radix: 16)))",
                                  file: file, offset: 8, hint: "the file is damaged or is not a safetensors file")
        }

        var entries: [SafetensorsHeader.Tensor] = []
        var unsupported: [SafetensorsHeader.Unsupported] = []
        var metadata: [(key: String, value: String)]? = nil
        do {
            try bytes.withUnsafeBufferPointer { all in
                let text = UnsafeBufferPointer(rebasing: all[8..<(8 + Int(n))])
                // JSONParser.read skips trailing JSON whitespace: the padding (README: "MAY be
                // trailing padded with whitespace"; serde_json accepts any JSON whitespace).
                try JSONParser.read(text, options: limits.jsonOptions, baseOffset: 8) { p in
                    var names = Set<ByteName>()
                    var first = true
                    try p.beginObject()
                    while let (key, keyOffset) = try p.stNextKey(first: first) {
                        first = false
                        // README: "Duplicate keys are disallowed."
                        guard names.insert(ByteName(key)).inserted else {
                            if key == "__metadata__" {
                                throw CheckpointError(.invalidSafetensors, "the header has two \"__metadata__\" keys", file: file, offset: keyOffset)
                            }
                            throw CheckpointError(.duplicateName, "the header lists tensor \"\(escapeForDisplay(key))\" twice", file: file, member: key, offset: keyOffset)
                        }
                        if key == "__metadata__" {
                            metadata = try p.stMetadata(file: file, at: keyOffset)
                            continue
                        }
                        guard entries.count < limits.maxMembers else {
                            throw CheckpointError(.limitExceeded, "the header lists more than \(limits.maxMembers) tensors", file: file, offset: keyOffset)
                        }
                        switch try p.stTensorEntry(name: key, at: keyOffset, limits: limits, file: file) {
                        case .tensor(let t): entries.append(t)
                        case .unsupported(let u): unsupported.append(u)
                        }
                    }
                }
            }
        } catch var e as CheckpointError where e.code == .invalidJSON || e.file == nil {
            e.file = e.file ?? file
            if e.code == .invalidJSON { e.reason = "the safetensors header is " + e.reason }
            throw e
        }

        // tensor.rs `validate()`: sorted by offsets, each tensor starts where the previous one
        // ended (from 0: no holes, no overlaps), END - BEGIN == product(shape) × dtype size, and
        // the last END is the end of the file (MetadataIncompleteBuffer).
        let dataLength = fileSize - 8 - n
        for u in unsupported {
            guard u.begin <= u.end, u.end <= dataLength else {
                throw CheckpointError(.invalidSafetensors, "tensor \"\(escapeForDisplay(u.name))\" has data_offsets [\(u.begin), \(u.end)], outside the \(dataLength)-byte data section",
                                      file: file, member: u.name, offset: u.headerOffset)
            }
            try TensorNames.check(u.name, file: file)
        }
        for e in entries {
            guard e.begin <= e.end else {
                throw CheckpointError(.invalidSafetensors, "tensor \"\(escapeForDisplay(e.name))\" has data_offsets [\(e.begin), \(e.end)], which end before they begin",
                                      file: file, member: e.name, offset: e.headerOffset)
            }
            guard e.end <= dataLength else {
                throw CheckpointError(.truncated, "tensor \"\(escapeForDisplay(e.name))\" has data_offsets [\(e.begin), \(e.end)], past the end of the \(dataLength)-byte data section (the file ends at byte \(fileSize))",
                                      file: file, member: e.name, offset: e.headerOffset, hint: "the file is truncated or its header is wrong")
            }
            try TensorNames.check(e.name, file: file)
        }
        entries.sort { a, b in
            if a.begin != b.begin { return a.begin < b.begin }
            if a.end != b.end { return a.end < b.end }
            return a.headerOffset < b.headerOffset
        }
        // Unsupported entries take their part of the data section too.
        var spans = entries
        for u in unsupported {
            spans.append(SafetensorsHeader.Tensor(name: u.name, dtype: .uint8, shape: [], begin: u.begin, end: u.end, headerOffset: u.headerOffset))
        }
        spans.sort { a, b in
            if a.begin != b.begin { return a.begin < b.begin }
            if a.end != b.end { return a.end < b.end }
            return a.headerOffset < b.headerOffset
        }
        var expected: UInt64 = 0
        var previous: SafetensorsHeader.Tensor? = nil
        for e in spans {
            if e.begin > expected {
                throw CheckpointError(.invalidSafetensors, "bytes [\(expected), \(e.begin)) of the data section belong to no tensor (the next is \"\(escapeForDisplay(e.name))\"); the safetensors format allows no holes",
                                      file: file, member: e.name, offset: 8 + n + expected)
            }
            if e.begin < expected, let prev = previous {
                throw CheckpointError(.invalidSafetensors, "tensors \"\(escapeForDisplay(prev.name))\" [\(prev.begin), \(prev.end)) and \"\(escapeForDisplay(e.name))\" [\(e.begin), \(e.end)) overlap",
                                      file: file, member: e.name, offset: e.headerOffset)
            }
            expected = e.end
            previous = e
        }
        if expected < dataLength {
            throw CheckpointError(.invalidSafetensors, "\(dataLength - expected) bytes follow the last tensor's data; the tensors must cover the data section exactly",
                                  file: file, offset: 8 + n + expected, hint: "the file was appended to, or its header is wrong")
        }
        return SafetensorsHeader(headerLength: n, tensors: entries, metadata: metadata, unsupported: unsupported)
    }

    /// Parses a `*.safetensors.index.json`: `weight_map` (required: tensor name -> shard file name,
    /// a plain file name in the index's directory) and `metadata` (optional object). Other keys
    /// are ignored.
    public static func parseShardIndex(_ bytes: [UInt8], limits: Limits = .default, file: String? = nil) throws -> SafetensorsShardIndex {
        var weightMap: [(tensor: String, shard: String)] = []
        var metadata: JSONValue? = nil
        var sawWeightMap = false
        do {
            try bytes.withUnsafeBufferPointer { buf in
                try JSONParser.read(buf, options: limits.jsonOptions, baseOffset: 0) { p in
                    p.skipWhitespace()
                    guard p.i < p.buf.count, p.buf[p.i] == UInt8(ascii: "{") else {
                        throw CheckpointError(.invalidSafetensors, "the index is not a JSON object", file: file, offset: 0)
                    }
                    var first = true
                    var keys = Set<ByteName>()
                    try p.beginObject()
                    while let (key, keyOffset) = try p.stNextKey(first: first) {
                        first = false
                        guard keys.insert(ByteName(key)).inserted else {
                            throw CheckpointError(.invalidJSON, "the safetensors index has two \"\(escapeForDisplay(key))\" keys", file: file, offset: keyOffset)
                        }
                        switch key {
                        case "weight_map":
                            sawWeightMap = true
                            p.skipWhitespace()
                            guard p.i < p.buf.count, p.buf[p.i] == UInt8(ascii: "{") else {
                                throw CheckpointError(.invalidSafetensors, "the index's \"weight_map\" is \(try p.readValue().typeDescription), not an object", file: file, offset: keyOffset)
                            }
                            var names = Set<ByteName>()
                            var firstEntry = true
                            try p.beginObject()
                            while let (tensor, at) = try p.stNextKey(first: firstEntry) {
                                firstEntry = false
                                guard names.insert(ByteName(tensor)).inserted else {
                                    throw CheckpointError(.duplicateName, "the index's weight_map lists tensor \"\(escapeForDisplay(tensor))\" twice", file: file, member: tensor, offset: at)
                                }
                                guard weightMap.count < limits.maxMembers else {
                                    throw CheckpointError(.limitExceeded, "the index lists more than \(limits.maxMembers) tensors", file: file, offset: at)
                                }
                                p.skipWhitespace()
                                guard p.i < p.buf.count, p.buf[p.i] == UInt8(ascii: "\"") else {
                                    throw CheckpointError(.invalidSafetensors, "the index maps tensor \"\(escapeForDisplay(tensor))\" to \(try p.readValue().typeDescription), not a shard file name",
                                                          file: file, member: tensor, offset: at)
                                }
                                let shard = try p.string()
                                try checkShardName(shard, file: file, tensor: tensor, offset: at)
                                try TensorNames.check(tensor, file: file)
                                weightMap.append((tensor, shard))
                            }
                        case "metadata":
                            let v = try p.readValue()
                            guard v.objectValue != nil || v.isNull else {
                                throw CheckpointError(.invalidSafetensors, "the index's \"metadata\" is \(v.typeDescription), not an object", file: file, offset: keyOffset)
                            }
                            metadata = v.isNull ? nil : v
                        default:
                            _ = try p.readValue()
                        }
                    }
                }
            }
        } catch var e as CheckpointError where e.code == .invalidJSON || e.file == nil {
            e.file = e.file ?? file
            if e.code == .invalidJSON, !e.reason.hasPrefix("the safetensors index") { e.reason = "the safetensors index is " + e.reason }
            throw e
        }
        guard sawWeightMap else {
            throw CheckpointError(.invalidSafetensors, "the index has no \"weight_map\" object (is it a *.safetensors.index.json file?)", file: file, offset: 0)
        }
        return SafetensorsShardIndex(weightMap: weightMap, metadata: metadata)
    }

    /// A shard is a plain file name next to the index: no directories, no `..`, no controls.
    static func checkShardName(_ name: String, file: String?, tensor: String, offset: UInt64) throws {
        var problem: String? = nil
        if name.isEmpty { problem = "is empty" }
        else if name == "." || name == ".." { problem = "is not a file name" }
        else if name.utf8.contains(UInt8(ascii: "/")) || name.utf8.contains(UInt8(ascii: "\\")) { problem = "is a path, not a file name in the index's directory" }
        else if name.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F || ($0.value >= 0x80 && $0.value < 0xA0) }) { problem = "contains a control character" }
        if let problem {
            throw CheckpointError(.unsafeName, "the index puts tensor \"\(escapeForDisplay(tensor))\" in shard \"\(escapeForDisplay(name))\", whose name \(problem); refused",
                                  file: file, member: tensor, offset: offset)
        }
    }
}

// MARK: - JSON helpers for the header (same module: the parser's internals are shared)

extension JSONParser {
    /// The next key as a String with its file offset (positioned at its value), or nil after `}`.
    /// Unlike ``nextKey(first:)`` it keeps the key's text: the keys here are tensor names.
    fileprivate mutating func stNextKey(first: Bool) throws -> (String, UInt64)? {
        guard try atNextKey(first: first) else { return nil }
        let at = offset
        let key = try string()
        try expect(UInt8(ascii: ":"), "':' after an object key")
        skipWhitespace()
        return (key, at)
    }

    /// A JSON integer that fits `UInt64`, written as digits only (serde's `usize`: no sign,
    /// fraction or exponent).
    fileprivate mutating func stUInt(_ what: @autoclosure () -> String, file: String?, name: String) throws -> UInt64 {
        skipWhitespace()
        let start = i
        var v: UInt64 = 0
        var digits = 0
        while i < buf.count, buf[i] >= 0x30, buf[i] <= 0x39 {
            let (m, o1) = v.multipliedReportingOverflow(by: 10)
            let (a, o2) = m.addingReportingOverflow(UInt64(buf[i] - 0x30))
            if o1 || o2 {
                throw CheckpointError(.limitExceeded, "tensor \"\(escapeForDisplay(name))\" has \(what()) too large for 64 bits", file: file, member: name, offset: base + UInt64(start))
            }
            v = a
            i += 1
            digits += 1
        }
        let fractional = i < buf.count && (buf[i] == UInt8(ascii: ".") || buf[i] == UInt8(ascii: "e") || buf[i] == UInt8(ascii: "E"))
        if digits == 0 || fractional || (digits > 1 && buf[start] == UInt8(ascii: "0")) {
            i = start
            let found = try readValue()
            throw CheckpointError(.invalidSafetensors, "tensor \"\(escapeForDisplay(name))\" has \(what()) \(found.serialized()), not a non-negative integer",
                                  file: file, member: name, offset: base + UInt64(start))
        }
        return v
    }

    /// `[d0, d1, ...]` of non-negative integers.
    fileprivate mutating func stUIntArray(_ what: String, maxCount: Int, file: String?, name: String) throws -> [UInt64] {
        skipWhitespace()
        let start = offset
        guard i < buf.count, buf[i] == UInt8(ascii: "[") else {
            let found = try readValue()
            throw CheckpointError(.invalidSafetensors, "tensor \"\(escapeForDisplay(name))\" has \(what) \(found.typeDescription), not an array of integers", file: file, member: name, offset: start)
        }
        i += 1
        var out: [UInt64] = []
        while try nextElement(first: out.isEmpty) {
            guard out.count < maxCount else {
                // A rank above the limit is a limit; a third data offset is a broken header.
                if what == "shape" {
                    throw CheckpointError(.limitExceeded, "tensor \"\(escapeForDisplay(name))\" has more than \(maxCount) dimensions (the limit is \(maxCount))",
                                          file: file, member: name, offset: start)
                }
                throw CheckpointError(.invalidSafetensors, "tensor \"\(escapeForDisplay(name))\" has more than \(maxCount) \(what); it needs two, [BEGIN, END]",
                                      file: file, member: name, offset: start)
            }
            out.append(try stUInt("a \(what) value", file: file, name: name))
        }
        return out
    }

    /// One tensor's entry: `{"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}`.
    /// Unknown fields are skipped, as the reference (serde without deny_unknown_fields) does.
    fileprivate enum Entry {
        case tensor(SafetensorsHeader.Tensor)
        case unsupported(SafetensorsHeader.Unsupported)
    }

    fileprivate mutating func stTensorEntry(name: String, at keyOffset: UInt64, limits: Limits, file: String?) throws -> Entry {
        func bad(_ why: String) -> CheckpointError {
            CheckpointError(.invalidSafetensors, "tensor \"\(escapeForDisplay(name))\" " + why, file: file, member: name, offset: keyOffset)
        }
        skipWhitespace()
        guard i < buf.count, buf[i] == UInt8(ascii: "{") else {
            throw bad("is described by \(try readValue().typeDescription), not an object with dtype, shape and data_offsets")
        }
        i += 1
        var dtypeName: String?
        var shape: [UInt64]?
        var offsets: [UInt64]?
        var firstKey = true
        let kDtype = JSONKey("dtype"), kShape = JSONKey("shape"), kOffsets = JSONKey("data_offsets")
        while let k = try nextKey(first: firstKey) {
            firstKey = false
            switch k {
            case kDtype:
                guard dtypeName == nil else { throw bad("has two \"dtype\" fields") }
                skipWhitespace()
                guard i < buf.count, buf[i] == UInt8(ascii: "\"") else { throw bad("has a \"dtype\" that is \(try readValue().typeDescription), not a string") }
                dtypeName = try string()
            case kShape:
                guard shape == nil else { throw bad("has two \"shape\" fields") }
                shape = try stUIntArray("shape", maxCount: limits.maxRank, file: file, name: name)
            case kOffsets:
                guard offsets == nil else { throw bad("has two \"data_offsets\" fields") }
                offsets = try stUIntArray("data_offsets", maxCount: 2, file: file, name: name)
            default:
                _ = try readValue()
            }
        }
        guard let dtypeName else { throw bad("has no \"dtype\"") }
        guard let shape else { throw bad("has no \"shape\"") }
        guard let offsets else { throw bad("has no \"data_offsets\"") }
        guard offsets.count == 2 else { throw bad("has \(offsets.count) data_offsets; it needs two, [BEGIN, END]") }
        guard let dtype = DType(safetensorsName: dtypeName) else {
            if SafetensorsSource.knownUnsupportedDtypes.contains(dtypeName) {
                return .unsupported(SafetensorsHeader.Unsupported(name: name, dtype: dtypeName, shape: shape, begin: offsets[0], end: offsets[1], headerOffset: keyOffset))
            }
            throw bad("has an unknown dtype \"\(escapeForDisplay(dtypeName))\"")
        }
        var dims: [Int] = []
        dims.reserveCapacity(shape.count)
        for d in shape {
            guard d <= UInt64(Int.max) else {
                throw CheckpointError(.limitExceeded, "tensor \"\(escapeForDisplay(name))\" has a dimension of \(d)", file: file, member: name, offset: keyOffset)
            }
            dims.append(Int(d))
        }
        // tensor.rs `validate()`: ValidationOverflow, then TensorInvalidInfo.
        let info = TensorInfo(name: name, dtype: dtype, shape: dims)
        guard let nbytes = info.byteCount else {
            throw CheckpointError(.limitExceeded, "tensor \"\(escapeForDisplay(name))\" has shape \(info.shapeDescription), whose size overflows 63 bits",
                                  file: file, member: name, offset: keyOffset)
        }
        guard UInt64(nbytes) <= limits.maxTensorBytes else {
            throw CheckpointError(.limitExceeded, "tensor \"\(escapeForDisplay(name))\" is \(nbytes) bytes (the limit is \(limits.maxTensorBytes))",
                                  file: file, member: name, offset: keyOffset)
        }
        let (begin, end) = (offsets[0], offsets[1])
        if begin <= end && end - begin != UInt64(nbytes) {
            throw bad("is \(dtypeName) \(info.shapeDescription), \(nbytes) bytes, but its data_offsets [\(begin), \(end)] span \(end - begin) bytes")
        }
        return .tensor(SafetensorsHeader.Tensor(name: name, dtype: dtype, shape: dims, begin: begin, end: end, headerOffset: keyOffset))
    }

    /// `__metadata__`: `null` or an object whose values are all strings (README: "free form
    /// string-to-string map"; serde refuses anything else).
    fileprivate mutating func stMetadata(file: String?, at keyOffset: UInt64) throws -> [(key: String, value: String)]? {
        if try readNull() { return nil }
        skipWhitespace()
        guard i < buf.count, buf[i] == UInt8(ascii: "{") else {
            throw CheckpointError(.invalidSafetensors, "\"__metadata__\" is \(try readValue().typeDescription), not an object of strings", file: file, offset: keyOffset)
        }
        i += 1
        var out: [(key: String, value: String)] = []
        var keys = Set<ByteName>()
        var first = true
        while let (key, at) = try stNextKey(first: first) {
            first = false
            guard keys.insert(ByteName(key)).inserted else {
                throw CheckpointError(.invalidSafetensors, "\"__metadata__\" has two \"\(escapeForDisplay(key))\" keys", file: file, offset: at)
            }
            skipWhitespace()
            guard i < buf.count, buf[i] == UInt8(ascii: "\"") else {
                throw CheckpointError(.invalidSafetensors, "the \"__metadata__\" value of \"\(escapeForDisplay(key))\" is \(try readValue().typeDescription); safetensors metadata maps strings to strings",
                                      file: file, offset: at)
            }
            out.append((key, try string()))
        }
        return out
    }
}
