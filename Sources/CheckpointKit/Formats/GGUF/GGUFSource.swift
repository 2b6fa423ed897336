/// A GGUF file (llama.cpp / ggml models) read as a weights checkpoint.
///
/// Opening reads the header only: metadata and tensor infos (``GGUFHeader``). Tensors come in
/// header order with their C-order (numpy) shape, which is GGML's `ne` reversed, as gguf-py's
/// reader gives it: a GGML `[4096, 32000]` embedding is `(32000, 4096)` here.
///
/// - F32, F16, BF16, F64, I8, I16, I32, I64 tensors are served as stored, with that dtype.
/// - Block-quantized tensors (Q4_0 … Q6_K, Q8_K, IQ4_NL, IQ4_XS, TQ1_0, TQ2_0, MXFP4) have dtype
///   float32 and ``TensorInfo/quantization`` naming the GGML type; their data is decoded block by
///   block, bit for bit as `gguf.quants.dequantize` decodes it. Other quantized types (the IQ1,
///   IQ2, IQ3 grids, Q8_1, NVFP4, Q1_0) are listed, and reading them is refused by name.
/// - Big-endian files: numbers in the header and plain tensors are swapped; quantized tensors
///   are read only for Q4_0, Q8_0, Q4_K, Q6_K and MXFP4, the types whose big-endian block layout
///   gguf-py's endian converter defines.
///
/// ``CheckpointIndex/metadata`` is an object: `"gguf"`, a summary (format version, byte order,
/// alignment, architecture, context length, tokenizer size, file type, tensor types), then every
/// key/value pair in file order; arrays of more than 16 elements are shown as their type, count
/// and first 8 values (``header`` has them all).
public final class GGUFSource: TensorSource {
    public let path: String
    public var format: CheckpointFormat { .gguf }
    public let index: CheckpointIndex
    public let header: GGUFHeader
    public let file: ReadableFile
    /// Things worth telling the user that are not errors: strings that are not UTF-8, and the
    /// metadata arrays ``CheckpointIndex/metadata`` (and so a conversion) holds only in summary.
    public let notes: [String]
    public var inputFiles: [ReadableFile] { [file] }

    /// Arrays longer than this are summarised in ``CheckpointIndex/metadata``.
    public static let inlineArrayLimit = 16

    public convenience init(path: String, limits: Limits = .default) throws {
        try self.init(file: ReadableFile(path: path), limits: limits)
    }

    public init(file: ReadableFile, limits: Limits = .default) throws {
        self.file = file
        self.path = file.path
        let header = try GGUFHeader.read(file, limits: limits)
        self.header = header
        let tensors = header.tensors.map { t in
            TensorInfo(name: t.name, dtype: t.type.plainDType ?? .float32, shape: t.shape,
                       quantization: t.type.plainDType == nil ? t.type.name : nil)
        }
        self.index = CheckpointIndex(tensors: tensors, metadata: Self.metadataJSON(header))
        let long = header.metadata.filter { ($0.value.arrayValue?.count ?? 0) > Self.inlineArrayLimit }.map(\.key)
        var notes = header.notes
        if !long.isEmpty {
            let named = long.prefix(2).map { escapeForDisplay($0) }.joined(separator: ", ") + (long.count > 2 ? " and \(long.count - 2) more" : "")
            notes.append("metadata arrays longer than \(Self.inlineArrayLimit) values (\(named)) are kept as their type, count and first \(Self.inlineArrayLimit / 2) values in the checkpoint's metadata, and so in any conversion")
        }
        self.notes = notes
    }

    // MARK: TensorSource

    /// Plain tensors: pieces of ``ContainerSpec/chunkSize`` bytes. Quantized tensors: whole
    /// blocks, as many as decode to about ``ContainerSpec/chunkSize`` bytes of float32.
    public func pieces(of i: Int) -> [Range<Int>] {
        let (count, size) = pieceLayout(header.tensors[i])
        return Self.uniformPieces(count: count, size: size)
    }

    /// (bytes served, bytes per piece) of a tensor.
    private func pieceLayout(_ t: GGUFTensorInfo) -> (count: Int, size: Int) {
        if t.type.plainDType != nil { return (t.byteCount, ContainerSpec.chunkSize) }
        let perBlock = t.type.blockLayout.blockSize * 4
        return (t.elementCount * 4, max(1, ContainerSpec.chunkSize / perBlock) * perBlock)
    }

    /// Reads piece `p` of tensor `i` with `pread`, swapping or decoding it. GGUF keeps no
    /// checksums, so this returns 0.
    @discardableResult
    public func readPiece(_ i: Int, _ p: Int, _ body: (UnsafeRawBufferPointer) throws -> Void) throws -> UInt32 {
        let t = header.tensors[i]
        let layout = pieceLayout(t)
        let (lower, o) = p.multipliedReportingOverflow(by: layout.size)
        guard p >= 0, !o, lower < layout.count else {
            try body(UnsafeRawBufferPointer(start: nil, count: 0))
            return 0
        }
        let range = lower..<min(lower + layout.size, layout.count)
        let what = "data of tensor \"\(escapeForDisplay(t.name))\""
        if let dtype = t.type.plainDType {
            var buf = [UInt8](repeating: 0, count: range.count)
            try buf.withUnsafeMutableBytes { b in
                try file.read(at: t.absoluteOffset + UInt64(range.lowerBound), into: b, what: what, member: t.name)
                if header.bigEndian { GGUFCursor.swapBytes(b, size: dtype.itemSize) }
            }
            try buf.withUnsafeBytes(body)
            return 0
        }
        try checkDecodable(t)
        let (qk, size) = t.type.blockLayout
        let firstBlock = range.lowerBound / (qk * 4)
        let blocks = range.count / (qk * 4)
        var stored = [UInt8](repeating: 0, count: blocks * size)
        try stored.withUnsafeMutableBytes { b in
            try file.read(at: t.absoluteOffset + UInt64(firstBlock * size), into: b, what: what, member: t.name)
            if header.bigEndian, let fields = t.type.bigEndianSwappedFields, !fields.isEmpty {
                for k in 0..<blocks { for f in fields { b.swapAt(k * size + f, k * size + f + 1) } }
            }
        }
        var out = [Float](repeating: 0, count: blocks * qk)
        stored.withUnsafeBytes { src in
            out.withUnsafeMutableBufferPointer { GGUFDequantizer.decode(t.type, src, blocks: blocks, into: $0) }
        }
        try out.withUnsafeBytes(body)
        return 0
    }

    private func checkDecodable(_ t: GGUFTensorInfo) throws {
        guard t.type.isDequantizable else {
            throw CheckpointError(.unsupported, "tensor \"\(escapeForDisplay(t.name))\" is stored as \(t.type.name), which this tool cannot dequantize",
                                  file: path, member: t.name, offset: t.absoluteOffset,
                                  hint: "ckpt decodes Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q2_K…Q6_K, Q8_K, IQ4_NL, IQ4_XS, TQ1_0, TQ2_0 and MXFP4")
        }
        guard !header.bigEndian || t.type.bigEndianSwappedFields != nil else {
            throw CheckpointError(.unsupported, "tensor \"\(escapeForDisplay(t.name))\" is \(t.type.name) in a big-endian GGUF file, whose block layout is not defined",
                                  file: path, member: t.name, offset: t.absoluteOffset,
                                  hint: "big-endian quantized tensors are read for Q4_0, Q8_0, Q4_K, Q6_K and MXFP4 only")
        }
    }

    // MARK: Metadata

    static func metadataJSON(_ h: GGUFHeader) -> JSONValue {
        var summary: [(String, JSONValue)] = [
            ("version", .number(UInt64(h.version))), ("byte_order", .string(h.bigEndian ? "big" : "little")),
            ("alignment", .number(h.alignment)), ("data_offset", .number(h.dataOffset)),
            ("tensor_count", .number(h.tensors.count)), ("metadata_count", .number(h.metadata.count)),
        ]
        let arch = h.value("general.architecture")?.stringValue
        if let arch { summary.append(("architecture", .string(arch))) }
        if let name = h.value("general.name")?.stringValue { summary.append(("name", .string(name))) }
        for field in ["context_length", "embedding_length", "block_count"] {
            if let arch, let v = h.value(arch + "." + field)?.unsignedValue { summary.append((field, .number(v))) }
        }
        if let model = h.value("tokenizer.ggml.model")?.stringValue { summary.append(("tokenizer", .string(model))) }
        if let tokens = h.value("tokenizer.ggml.tokens")?.arrayValue { summary.append(("vocabulary_size", .number(tokens.count))) }
        if let merges = h.value("tokenizer.ggml.merges")?.arrayValue { summary.append(("merges", .number(merges.count))) }
        if let ft = h.value("general.file_type")?.unsignedValue {
            summary.append(("file_type", .string(fileTypeName(ft).map { "\($0) (\(ft))" } ?? String(ft))))
        }
        var counts: [GGMLType: Int] = [:]
        for t in h.tensors { counts[t.type, default: 0] += 1 }
        let types = counts.sorted { $0.key.rawValue < $1.key.rawValue }.map { ($0.key.name, JSONValue.number($0.value)) }
        summary.append(("tensor_types", .object(types)))
        let summaryKey = h.metadata.contains { $0.key == "gguf" } ? "gguf (ckpt summary)" : "gguf"
        var out: [(String, JSONValue)] = [(summaryKey, .object(summary))]
        out.reserveCapacity(h.metadata.count + 1)
        for e in h.metadata { out.append((e.key, e.value.json(arrayLimit: inlineArrayLimit))) }
        return .object(out)
    }

    /// llama.cpp's `llama_ftype` names (gguf-py `LlamaFileType`), without `MOSTLY_`.
    static func fileTypeName(_ v: UInt64) -> String? {
        let names: [UInt64: String] = [
            0: "ALL_F32", 1: "F16", 2: "Q4_0", 3: "Q4_1", 7: "Q8_0", 8: "Q5_0", 9: "Q5_1", 10: "Q2_K", 11: "Q3_K_S",
            12: "Q3_K_M", 13: "Q3_K_L", 14: "Q4_K_S", 15: "Q4_K_M", 16: "Q5_K_S", 17: "Q5_K_M", 18: "Q6_K",
            19: "IQ2_XXS", 20: "IQ2_XS", 21: "Q2_K_S", 22: "IQ3_XS", 23: "IQ3_XXS", 24: "IQ1_S", 25: "IQ4_NL",
            26: "IQ3_S", 27: "IQ3_M", 28: "IQ2_S", 29: "IQ2_M", 30: "IQ4_XS", 31: "IQ1_M", 32: "BF16",
            36: "TQ1_0", 37: "TQ2_0", 38: "MXFP4_MOE", 39: "NVFP4", 40: "Q1_0", 1024: "GUESSED",
        ]
        return names[v]
    }
}
