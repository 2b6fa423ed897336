// The GGUF header (ggml `docs/gguf.md`; gguf-py `gguf/gguf_reader.py`; ggml `src/gguf.cpp`):
//
//   magic "GGUF" · uint32 version (2 or 3) · uint64 tensor_count · uint64 metadata_kv_count
//   metadata_kv_count × { string key · uint32 value_type · value }
//   tensor_count × { string name · uint32 n_dims · n_dims × uint64 ne · uint32 ggml_type · uint64 offset }
//   padding to `general.alignment` (default 32) · tensor data
//
// A string is a uint64 byte length and UTF-8 bytes; an array is a uint32 element type, a uint64
// count and the elements (arrays of arrays are allowed; gguf-py reads them, ggml does not).
// `ne[0]` is the fastest-varying dimension: the C-order (numpy) shape is `ne` reversed, as
// gguf-py presents it. Offsets are relative to the start of the data and multiples of the
// alignment. Files are little-endian; a big-endian file is recognised, as gguf-py and ggml do,
// by a version whose low 16 bits read as zero, and then every number is big-endian.

/// One tensor's entry in the header.
public struct GGUFTensorInfo: Sendable, Equatable {
    public var name: String
    public var type: GGMLType
    /// Dimensions as stored, ggml order: `ne[0]` varies fastest.
    public var ne: [Int]
    public var elementCount: Int
    /// Bytes of stored data: elementCount / blockSize × typeSize.
    public var byteCount: Int
    /// The offset field, relative to the start of the tensor data.
    public var relativeOffset: UInt64
    /// File offset of the first data byte.
    public var absoluteOffset: UInt64
    /// File offset of this tensor's entry in the header (for messages).
    public var infoOffset: UInt64

    /// The C-order (numpy) shape: `ne` reversed.
    public var shape: [Int] { ne.reversed() }
}

/// A parsed and checked GGUF header: metadata, tensor infos, alignment and where the data starts.
public struct GGUFHeader: Sendable {
    public var version: UInt32
    public var bigEndian: Bool
    public var metadata: [GGUFMetadataEntry]
    public var tensors: [GGUFTensorInfo]
    /// `general.alignment` if present, else 32.
    public var alignment: Int
    /// File offset just past the last tensor info.
    public var endOfTensorInfos: UInt64
    /// File offset of the tensor data: `endOfTensorInfos` rounded up to `alignment`.
    public var dataOffset: UInt64
    /// Things a reader should know that are not errors (strings that are not UTF-8, ...).
    public var notes: [String]

    /// The value of metadata key `key`, if present.
    public func value(_ key: String) -> GGUFValue? { metadata.first { $0.key == key }?.value }

    public static let magic: [UInt8] = Array("GGUF".utf8)
    public static let defaultAlignment = 32

    /// Reads and checks the header of `file`, reading nothing past the tensor infos.
    ///
    /// - Throws: `CheckpointError` naming the file, the key or tensor, and the byte offset:
    ///   `.notRecognized` (no magic), `.unsupported` (version 1 or above 3, an unknown GGML type,
    ///   an unknown value type), `.truncated`, `.limitExceeded` (counts, name lengths, array
    ///   nesting or header size above `limits`), `.duplicateName`, `.unsafeName`, `.corrupt`
    ///   (bad alignment, rows not a whole number of blocks, misaligned, overlapping or
    ///   out-of-file tensor data).
    public static func read(_ file: ReadableFile, limits: Limits = .default) throws -> GGUFHeader {
        let path = file.path
        var c = GGUFCursor(file: file, limit: max(limits.maxHeaderBytes, 8))
        try c.need(Int(min(file.size, 8)))
        guard c.buffer.count >= 4, c.buffer[0..<4].elementsEqual(magic) else {
            throw CheckpointError(.notRecognized, "the file does not start with the GGUF magic \"GGUF\"", file: path, offset: 0)
        }
        _ = try c.bytes(4)
        var version = try c.u32()
        if version & 0xFFFF == 0 && version != 0 {
            c.bigEndian = true
            version = version.byteSwapped
        }
        guard version == 2 || version == 3 else {
            let why = version == 1 ? "GGUF version 1 (32-bit counts) is not read, as by gguf-py and llama.cpp" : "GGUF version \(version) is not one this tool reads (2 and 3)"
            throw CheckpointError(.unsupported, why, file: path, offset: 4)
        }
        let tensorCount = try c.count(minSize: 24, of: "tensor count")
        let kvCount = try c.count(minSize: 13, of: "metadata key/value count")
        for (n, what) in [(tensorCount, "tensors"), (kvCount, "metadata keys")] where n > limits.maxMembers {
            throw CheckpointError(.limitExceeded, "the header declares \(n) \(what), more than the limit of \(limits.maxMembers)", file: path, offset: what == "tensors" ? 8 : 16)
        }

        var parser = ValueParser(limits: limits)
        var metadata: [GGUFMetadataEntry] = []
        metadata.reserveCapacity(kvCount)
        var keys = Set<ByteName>()
        for k in 0..<kvCount {
            let at = c.offset
            c.member = nil
            c.what = "key of metadata entry \(k)"
            let key = try c.name(of: "key of metadata entry \(k)", maxBytes: limits.maxMemberNameBytes)
            c.member = key
            guard keys.insert(ByteName(key)).inserted else {
                throw CheckpointError(.duplicateName, "the metadata has key \"\(escapeForDisplay(key))\" twice", file: path, member: key, offset: at)
            }
            c.what = "value of metadata key \"\(escapeForDisplay(key))\""
            let value = try parser.value(&c, type: try parser.valueType(&c), depth: 0)
            metadata.append(GGUFMetadataEntry(key: key, value: value, offset: at, length: c.offset - at))
        }

        var alignment = defaultAlignment
        if let entry = metadata.first(where: { $0.key == "general.alignment" }) {
            guard case .uint32(let a) = entry.value else {
                throw CheckpointError(.corrupt, "\"general.alignment\" is \(entry.value.type.name); GGUF requires UINT32", file: path, member: entry.key, offset: entry.offset)
            }
            guard a != 0, a & (a - 1) == 0 else {
                throw CheckpointError(.corrupt, "\"general.alignment\" is \(a), not a power of two", file: path, member: entry.key, offset: entry.offset)
            }
            alignment = Int(a)
        }

        var tensors: [GGUFTensorInfo] = []
        tensors.reserveCapacity(tensorCount)
        var names = Set<ByteName>()
        for k in 0..<tensorCount {
            c.member = nil
            c.what = "info of tensor \(k)"
            let info = try tensorInfo(&c, index: k, alignment: alignment, limits: limits)
            guard names.insert(ByteName(info.name)).inserted else {
                throw CheckpointError(.duplicateName, "the header lists tensor \"\(escapeForDisplay(info.name))\" twice", file: path, member: info.name, offset: info.infoOffset)
            }
            tensors.append(info)
        }
        let end = c.offset
        let (padded, o) = end.addingReportingOverflow(UInt64(alignment - 1))
        guard !o else { throw CheckpointError(.corrupt, "the data offset overflows", file: path, offset: end) }
        let dataOffset = padded / UInt64(alignment) * UInt64(alignment)
        try checkPlacement(&tensors, dataOffset: dataOffset, fileSize: file.size, file: path)
        var notes: [String] = []
        if parser.invalidUTF8 > 0 {
            notes.append("\(parser.invalidUTF8) metadata string\(parser.invalidUTF8 == 1 ? " is" : "s are") not valid UTF-8 (shown with U+FFFD)")
        }
        return GGUFHeader(version: version, bigEndian: c.bigEndian, metadata: metadata, tensors: tensors, alignment: alignment,
                          endOfTensorInfos: end, dataOffset: dataOffset, notes: notes)
    }

    private static func tensorInfo(_ c: inout GGUFCursor, index k: Int, alignment: Int, limits: Limits) throws -> GGUFTensorInfo {
        let path = c.file.path
        let at = c.offset
        let name = try c.name(of: "name of tensor \(k)", maxBytes: limits.maxMemberNameBytes)
        c.member = name
        c.what = "info of tensor \"\(escapeForDisplay(name))\""
        do { try TensorNames.check(name, file: path) } catch let e as CheckpointError { throw e.located(member: name, offset: at) }
        let nDims = try c.u32()
        guard nDims <= limits.maxRank else {
            throw CheckpointError(.limitExceeded, "tensor \"\(escapeForDisplay(name))\" has \(nDims) dimensions, more than the limit of \(limits.maxRank)",
                                  file: path, member: name, offset: c.offset - 4)
        }
        var ne: [Int] = []
        ne.reserveCapacity(Int(nDims))
        var elements = 1
        for d in 0..<Int(nDims) {
            let v = try c.u64()
            let (product, o) = elements.multipliedReportingOverflow(by: Int(truncatingIfNeeded: v))
            guard v <= UInt64(Int64.max), !o else {
                throw CheckpointError(.limitExceeded, "tensor \"\(escapeForDisplay(name))\" has dimension \(d) = \(v), which makes its element count overflow",
                                      file: path, member: name, offset: c.offset - 8)
            }
            elements = product
            ne.append(Int(v))
        }
        let typeAt = c.offset
        let rawType = try c.u32()
        guard let type = GGMLType(rawValue: rawType) else {
            throw CheckpointError(.unsupported, "tensor \"\(escapeForDisplay(name))\" has GGML type \(rawType), which this tool does not know",
                                  file: path, member: name, offset: typeAt)
        }
        let (block, size) = type.blockLayout
        guard (ne.first ?? 1) % block == 0 else {
            throw CheckpointError(.corrupt, "tensor \"\(escapeForDisplay(name))\" has rows of \(ne.first ?? 1) elements, not a multiple of the \(type.name) block size \(block)",
                                  file: path, member: name, offset: typeAt)
        }
        let (bytes, o) = (elements / block).multipliedReportingOverflow(by: size)
        guard !o, UInt64(bytes) <= limits.maxTensorBytes else {
            throw CheckpointError(.limitExceeded, "tensor \"\(escapeForDisplay(name))\" would hold \(o ? "too many" : String(bytes)) bytes, more than the limit of \(limits.maxTensorBytes)",
                                  file: path, member: name, offset: at)
        }
        let offsetAt = c.offset
        let relative = try c.u64()
        guard relative % UInt64(alignment) == 0 else {
            throw CheckpointError(.corrupt, "tensor \"\(escapeForDisplay(name))\" has data offset \(relative), not a multiple of the alignment \(alignment)",
                                  file: path, member: name, offset: offsetAt)
        }
        return GGUFTensorInfo(name: name, type: type, ne: ne, elementCount: elements, byteCount: bytes, relativeOffset: relative,
                              absoluteOffset: 0, infoOffset: at)
    }

    /// Sets every tensor's absolute offset and checks that its data lies inside the file and
    /// overlaps no other tensor's (gaps are padding; their bytes are not read).
    private static func checkPlacement(_ tensors: inout [GGUFTensorInfo], dataOffset: UInt64, fileSize: UInt64, file: String) throws {
        for k in tensors.indices {
            let t = tensors[k]
            guard let start = checkedAdd(dataOffset, t.relativeOffset), let end = checkedAdd(start, UInt64(t.byteCount)), end <= fileSize else {
                throw CheckpointError(.truncated, "tensor \"\(escapeForDisplay(t.name))\" has \(t.byteCount) bytes of data at offset \(t.relativeOffset) past the data start \(dataOffset), beyond the end of the file at byte \(fileSize)",
                                      file: file, member: t.name, offset: t.infoOffset, hint: "the file is truncated or its header is wrong")
            }
            tensors[k].absoluteOffset = start
        }
        let order = tensors.indices.filter { tensors[$0].byteCount > 0 }.sorted { tensors[$0].absoluteOffset < tensors[$1].absoluteOffset }
        for (a, b) in zip(order, order.dropFirst()) {
            let x = tensors[a], y = tensors[b]
            if x.absoluteOffset + UInt64(x.byteCount) > y.absoluteOffset {
                throw CheckpointError(.corrupt, "the data of tensors \"\(escapeForDisplay(x.name))\" [\(x.relativeOffset), \(x.relativeOffset + UInt64(x.byteCount))) and \"\(escapeForDisplay(y.name))\" [\(y.relativeOffset), \(y.relativeOffset + UInt64(y.byteCount))) overlap",
                                      file: file, member: y.name, offset: y.infoOffset)
            }
        }
    }
}

/// Reads metadata values, bounding array nesting and the number of arrays.
private struct ValueParser {
    let limits: Limits
    var arrays = 0
    var invalidUTF8 = 0

    init(limits: Limits) { self.limits = limits }

    func valueType(_ c: inout GGUFCursor) throws -> GGUFValueType {
        let at = c.offset
        let raw = try c.u32()
        guard let t = GGUFValueType(rawValue: raw) else {
            throw CheckpointError(.unsupported, "the \(c.what) has value type \(raw), which GGUF does not define", file: c.file.path, member: c.member, offset: at)
        }
        return t
    }

    mutating func string(_ c: inout GGUFCursor) throws -> String {
        let what = c.what
        let b = try c.stringBytes(of: "string in the \(what)")
        if let s = String(validating: b, as: UTF8.self) { return s }
        invalidUTF8 += 1
        return String(decoding: b, as: UTF8.self)
    }

    mutating func value(_ c: inout GGUFCursor, type: GGUFValueType, depth: Int) throws -> GGUFValue {
        switch type {
        case .uint8: return .uint8(try c.u8())
        case .int8: return .int8(Int8(bitPattern: try c.u8()))
        case .bool: return .bool(try c.u8() != 0)
        case .uint16: return .uint16(try c.u16())
        case .int16: return .int16(Int16(bitPattern: try c.u16()))
        case .uint32: return .uint32(try c.u32())
        case .int32: return .int32(Int32(bitPattern: try c.u32()))
        case .float32: return .float32(Float(bitPattern: try c.u32()))
        case .uint64: return .uint64(try c.u64())
        case .int64: return .int64(Int64(bitPattern: try c.u64()))
        case .float64: return .float64(Double(bitPattern: try c.u64()))
        case .string: return .string(try string(&c))
        case .array: return .array(try array(&c, depth: depth + 1))
        }
    }

    mutating func array(_ c: inout GGUFCursor, depth: Int) throws -> GGUFArray {
        let at = c.offset
        guard depth <= limits.maxJSONDepth else {
            throw CheckpointError(.limitExceeded, "the \(c.what) nests arrays more than \(limits.maxJSONDepth) deep", file: c.file.path, member: c.member, offset: at)
        }
        arrays += 1
        guard arrays <= limits.maxMembers else {
            throw CheckpointError(.limitExceeded, "the metadata holds more than \(limits.maxMembers) arrays", file: c.file.path, member: c.member, offset: at)
        }
        let type = try valueType(&c)
        let what = c.what
        let n = try c.count(minSize: type.minimumEncodedSize, of: "element count of the \(type.name) array in the \(what)")
        if let size = type.fixedSize {
            return GGUFArray(elementType: type, count: n, storage: .scalars(try c.littleEndianRun(count: n, size: size)))
        }
        if type == .string {
            var bytes: [UInt8] = []
            var ends: [Int] = []
            ends.reserveCapacity(n)
            for _ in 0..<n {
                if try !c.appendString(to: &bytes, of: "string in the \(what)") { invalidUTF8 += 1 }
                ends.append(bytes.count)
            }
            return GGUFArray(elementType: type, count: n, storage: .strings(bytes: bytes, ends: ends))
        }
        var items: [GGUFArray] = []
        items.reserveCapacity(n)
        for _ in 0..<n { items.append(try array(&c, depth: depth + 1)) }
        return GGUFArray(elementType: type, count: n, storage: .arrays(items))
    }
}
