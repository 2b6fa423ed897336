import CheckpointSystem

// MARK: - Writing

/// Writes safetensors files laid out as `safetensors.numpy.save_file` lays them out, and sharded
/// sets named and indexed as `transformers` / `huggingface_hub` name them.
///
/// Layout (tensor.rs `prepare`): tensors sorted by descending dtype alignment (the reference's
/// `Dtype` order: U64, I64, F64, F32, U32, I32, BF16, F16, U16, I16, I8, U8, BOOL), then by name
/// (byte order); the header is compact JSON (`__metadata__` first, then the tensors in data
/// order, as serde_json writes it) padded with spaces to a multiple of 8 bytes. A file written
/// here from tensors Python wrote is byte-identical to Python's.
///
/// Destinations:
/// - `x.safetensors` (any name not ending in `.index.json`) without `maxShardSize`: one file.
/// - `dir/NAME.safetensors.index.json` (any name ending in `.index.json`): a sharded set — the
///   index there and shards `dir/NAME-00001-of-0000N.safetensors`; tensors fill shards greedily in
///   the order given, a shard closing before a tensor that would push its data past
///   `maxShardSize` (default ``defaultMaxShardSize``), a bigger tensor alone in its shard. The
///   index is `{"metadata": {"total_size": N}, "weight_map": {...}}`, keys sorted, indented by
///   two spaces, as `transformers` writes it. Every shard carries the `__metadata__`.
/// - `maxShardSize` with a destination that is not an index file is refused (the file named would
///   not be written); the error names the index path to use.
///
/// Metadata: ``CheckpointIndex/metadata`` becomes `__metadata__`; string values as they are,
/// other values as their compact JSON text (safetensors metadata holds strings only). No
/// `__metadata__` is written when it is empty.
///
/// Every output goes through ``AtomicOutputFile``; a sharded set's files are all written to
/// temporary files first and renamed into place at the end, shards first and the index last.
public enum SafetensorsWriter {
    /// huggingface_hub's default `max_shard_size` ("5GB").
    public static let defaultMaxShardSize: UInt64 = 5_000_000_000

    /// Writes tensors `tensors` (indices into `source.index.tensors`; default: all of them).
    /// Returns the paths written (the file; or the index, then the shards).
    @discardableResult
    public static func write(_ source: any TensorSource, tensors: [Int]? = nil, to path: String,
                             options: WriteOptions = WriteOptions(), maxShardSize: UInt64? = nil) throws -> [String] {
        let list = tensors ?? Array(source.index.tensors.indices)
        let infos = source.index.tensors
        var seen = Set<ByteName>()
        seen.reserveCapacity(list.count)
        for k in list {
            let t = infos[k]
            guard t.name != "__metadata__" else {
                throw CheckpointError(.invalidArgument, "a tensor named \"__metadata__\" cannot be written: safetensors reserves that key", file: path)
            }
            guard seen.insert(ByteName(t.name)).inserted else {
                throw CheckpointError(.duplicateName, "two tensors are named \"\(escapeForDisplay(t.name))\"", file: path, member: t.name)
            }
            guard t.byteCount != nil else {
                throw CheckpointError(.limitExceeded, "tensor \"\(escapeForDisplay(t.name))\" has a shape whose size overflows", file: path, member: t.name)
            }
        }
        var metadata = metadataPairs(source.index.metadata)
        let total = list.reduce(UInt64(0)) { $0 + UInt64(infos[$1].byteCount ?? 0) }
        var progress = Progress(total: total, report: options.progress)

        let isIndex = path.lowercased().hasSuffix(".index.json")
        if !isIndex {
            if maxShardSize != nil {
                throw CheckpointError(.invalidArgument, "a sharded set is written through its index file, and \"\(escapeForDisplay(path))\" is not one",
                                      file: path, hint: "name the output \(escapeForDisplay(indexPath(for: path))) to write shards next to it")
            }
            metadata += sidecar(source.index, list, groups: [list], writer: options.producer)
            let out = try AtomicOutputFile(destination: path, overwrite: options.overwrite, inputs: options.inputs)
            try writeFile(source, list, metadata: metadata, to: out, progress: &progress)
            try out.commit()
            return [path]
        }

        let limit = maxShardSize ?? defaultMaxShardSize
        guard limit > 0 else { throw CheckpointError(.invalidArgument, "the maximum shard size must be at least 1 byte", file: path) }
        var groups: [[Int]] = []
        var current: [Int] = []
        var currentSize: UInt64 = 0
        for k in list {
            let n = UInt64(infos[k].byteCount ?? 0)
            if !current.isEmpty && (currentSize > limit || n > limit - currentSize) {
                groups.append(current)
                current = []
                currentSize = 0
            }
            current.append(k)
            currentSize += n
        }
        if !current.isEmpty { groups.append(current) }
        metadata += sidecar(source.index, list, groups: groups, writer: options.producer)

        let names = try shardNames(forIndex: path, count: groups.count)
        let dir: String? = path.lastIndex(of: "/").map { String(path[...$0]) }
        let shardPaths = names.map { (dir ?? "") + $0 }
        // Create every output first: an existing destination is refused before any data is written.
        var outputs: [AtomicOutputFile] = []
        for p in shardPaths { outputs.append(try AtomicOutputFile(destination: p, overwrite: options.overwrite, inputs: options.inputs)) }
        let indexOut = try AtomicOutputFile(destination: path, overwrite: options.overwrite, inputs: options.inputs)

        var weightMap: [(String, JSONValue)] = []
        weightMap.reserveCapacity(list.count)
        for (g, group) in groups.enumerated() {
            try writeFile(source, group, metadata: metadata, to: outputs[g], progress: &progress)
            for k in group { weightMap.append((infos[k].name, .string(names[g]))) }
        }
        weightMap.sort { $0.0.utf8.lexicographicallyPrecedes($1.0.utf8) }
        let indexJSON = JSONValue.object([
            ("metadata", .object([("total_size", .number(total))])),
            ("weight_map", .object(weightMap)),
        ])
        try indexOut.append(indexJSON.serializedBytes(.pretty))
        // The shards, then the index: the set appears whole or not at all.
        try AtomicFileSet(outputs + [indexOut]).commit()
        return [path] + shardPaths
    }

    /// The index path `transformers` would use for the weights file `path`
    /// (`dir/model.safetensors` -> `dir/model.safetensors.index.json`).
    public static func indexPath(for path: String) -> String {
        path.lowercased().hasSuffix(".index.json") ? path : stem(of: path) + ".safetensors.index.json"
    }

    /// Shard file names for the index `path`: `NAME-00001-of-00003.safetensors` where the index is
    /// `NAME.safetensors.index.json` (transformers: `weights_name.replace(".safetensors",
    /// f"-{i:05d}-of-{n:05d}.safetensors")`).
    public static func shardNames(forIndex path: String, count: Int) throws -> [String] {
        let base = stem(of: path).split(separator: "/", omittingEmptySubsequences: false).last.map(String.init) ?? ""
        guard !base.isEmpty else {
            throw CheckpointError(.invalidArgument, "the index name \"\(escapeForDisplay(path))\" leaves no name for its shards", file: path,
                                  hint: "use a name like model.safetensors.index.json")
        }
        func pad(_ k: Int) -> String {
            let s = String(k)
            return s.count >= 5 ? s : String(repeating: "0", count: 5 - s.count) + s
        }
        return (0..<count).map { $0 + 1 }.map { "\(base)-\(pad($0))-of-\(pad(count)).safetensors" }
    }

    /// `path` without `.index.json` and then `.safetensors` (case-insensitive).
    static func stem(of path: String) -> String {
        var s = Substring(path)
        if s.lowercased().hasSuffix(".index.json") { s = s.dropLast(11) }
        if s.lowercased().hasSuffix(".safetensors") { s = s.dropLast(12) }
        return String(s)
    }

    /// Parses a size for `--max-shard-size`: plain bytes (`1000000`), or a number with a unit:
    /// decimal `B`, `KB`/`K`, `MB`/`M`, `GB`/`G`, `TB`/`T` (as huggingface_hub counts them:
    /// `5GB` = 5·10⁹) or binary `KiB`, `MiB`, `GiB`, `TiB`; case-insensitive; a fraction is
    /// allowed (`1.5GB`). Zero, negative, malformed or overflowing values are refused.
    public static func parseSize(_ text: String) throws -> UInt64 {
        func bad(_ why: String) -> CheckpointError {
            CheckpointError(.invalidArgument, "the size \"\(escapeForDisplay(text))\" \(why)", hint: "write a size like 500MB, 2GB, 1GiB or a number of bytes")
        }
        let s = Array(text.trimmingASCIIWhitespace().utf8)
        var k = 0
        var whole: UInt64 = 0
        var wholeDigits = 0
        while k < s.count, s[k] >= 0x30, s[k] <= 0x39 {
            let (m, o1) = whole.multipliedReportingOverflow(by: 10)
            let (a, o2) = m.addingReportingOverflow(UInt64(s[k] - 0x30))
            if o1 || o2 { throw bad("is too large") }
            whole = a
            wholeDigits += 1
            k += 1
        }
        var fraction: [UInt8] = []
        if k < s.count, s[k] == UInt8(ascii: ".") {
            k += 1
            while k < s.count, s[k] >= 0x30, s[k] <= 0x39 { fraction.append(s[k] - 0x30); k += 1 }
            guard !fraction.isEmpty else { throw bad("has no digits after its decimal point") }
        }
        guard wholeDigits > 0 || !fraction.isEmpty else { throw bad("does not start with a number") }
        while k < s.count, s[k] == 0x20 { k += 1 }
        let unit = String(decoding: s[k...], as: UTF8.self).lowercased()
        let multiplier: UInt64
        switch unit {
        case "", "b": multiplier = 1
        case "k", "kb": multiplier = 1_000
        case "m", "mb": multiplier = 1_000_000
        case "g", "gb": multiplier = 1_000_000_000
        case "t", "tb": multiplier = 1_000_000_000_000
        case "kib": multiplier = 1 << 10
        case "mib": multiplier = 1 << 20
        case "gib": multiplier = 1 << 30
        case "tib": multiplier = 1 << 40
        default: throw bad("has an unknown unit \"\(escapeForDisplay(unit))\"")
        }
        let (w, o) = whole.multipliedReportingOverflow(by: multiplier)
        if o { throw bad("is too large") }
        // The fraction, in whole bytes (rounded down).
        var frac: UInt64 = 0
        if !fraction.isEmpty {
            // multiplier × 0.d1d2… = (multiplier × d1d2…) / 10^count.
            guard fraction.count <= 12 else { throw bad("has too many decimals") }
            var digits: UInt64 = 0
            var pow10: UInt64 = 1
            for d in fraction { digits = digits * 10 + UInt64(d); pow10 *= 10 }
            let (p, o2) = digits.multipliedReportingOverflow(by: multiplier)
            if o2 { throw bad("is too large") }
            frac = p / pow10
        }
        let (value, o3) = w.addingReportingOverflow(frac)
        if o3 { throw bad("is too large") }
        guard value > 0 else { throw bad("is zero; a shard must hold at least one byte") }
        return value
    }

    /// The `__metadata__` pair holding the ckpt index (``IndexSidecar``) of tensors `list` written
    /// as `groups` (one per file, in file order), when names alone would not say what they are:
    /// optimizer roles, trainability, the optimizer, the architecture, metadata that is not all
    /// strings, the order of the tensors. Empty otherwise.
    static func sidecar(_ index: CheckpointIndex, _ list: [Int], groups: [[Int]], writer: String) -> [(String, String)] {
        var sub = index
        sub.tensors = list.map { index.tensors[$0] }
        let fileOrder = groups.flatMap { dataOrder($0, index.tensors) }.map { index.tensors[$0].name }
        var parts = FormatParts.all
        if (index.metadata.objectValue ?? []).allSatisfy({ $0.1.stringValue != nil }) { parts.remove(.metadata) }
        guard let record = IndexSidecar.encode(sub, stored: sub.tensors, fileOrder: fileOrder, parts: parts, writer: writer) else { return [] }
        return [(IndexSidecar.metadataKey, record.serialized(.compact))]
    }

    /// `metadata` as safetensors `__metadata__` pairs: strings as they are, anything else as its
    /// compact JSON text. Empty unless `metadata` is a non-empty object.
    public static func metadataPairs(_ metadata: JSONValue) -> [(String, String)] {
        guard let members = metadata.objectValue else { return [] }
        return members.map { k, v in (k, v.stringValue ?? v.serialized(.compact)) }
    }

    /// The data order `safetensors` uses: descending dtype alignment, then name (tensor.rs
    /// `prepare`: `right.dtype().cmp(&left.dtype()).then(lname.cmp(rname))`).
    static func dataOrder(_ list: [Int], _ infos: [TensorInfo]) -> [Int] {
        list.sorted { a, b in
            let ra = alignmentRank(infos[a].dtype), rb = alignmentRank(infos[b].dtype)
            if ra != rb { return ra > rb }
            return infos[a].name.utf8.lexicographicallyPrecedes(infos[b].name.utf8)
        }
    }

    /// Position in the reference's `Dtype` enum ("They MUST be in increasing alignment order").
    static func alignmentRank(_ d: DType) -> Int {
        switch d {
        case .bool: return 0
        case .uint8: return 1
        case .int8: return 2
        case .float8_e5m2: return 3
        case .float8_e4m3fn: return 4
        case .float8_e8m0fnu: return 5
        case .float8_e4m3fnuz: return 6
        case .float8_e5m2fnuz: return 7
        case .int16: return 8
        case .uint16: return 9
        case .float16: return 10
        case .bfloat16: return 11
        case .int32: return 12
        case .uint32: return 13
        case .float32: return 14
        case .float64: return 15
        case .int64: return 16
        case .uint64: return 17
        }
    }

    /// The 8-byte length and the padded JSON header for `tensors` laid out in that order.
    public static func encodeHeader(_ tensors: [TensorInfo], metadata: [(String, String)]) -> [UInt8] {
        var json: [UInt8] = []
        json.reserveCapacity(64 + tensors.count * 96)
        json.append(UInt8(ascii: "{"))
        var first = true
        if !metadata.isEmpty {
            appendString("__metadata__", to: &json)
            json += Array(":{".utf8)
            for (k, (key, value)) in metadata.enumerated() {
                if k > 0 { json.append(UInt8(ascii: ",")) }
                appendString(key, to: &json)
                json.append(UInt8(ascii: ":"))
                appendString(value, to: &json)
            }
            json.append(UInt8(ascii: "}"))
            first = false
        }
        var offset: UInt64 = 0
        for t in tensors {
            if !first { json.append(UInt8(ascii: ",")) }
            first = false
            let n = UInt64(t.byteCount ?? 0)
            appendString(t.name, to: &json)
            json += Array(":{\"dtype\":\"\(t.dtype.safetensorsName)\",\"shape\":[".utf8)
            json += Array(t.shape.map(String.init).joined(separator: ",").utf8)
            json += Array("],\"data_offsets\":[\(offset),\(offset + n)]}".utf8)
            offset += n
        }
        json.append(UInt8(ascii: "}"))
        // tensor.rs `prepare`: "Force alignment to 8 bytes" with spaces.
        json += [UInt8](repeating: 0x20, count: (8 - json.count % 8) % 8)
        var out: [UInt8] = []
        out.reserveCapacity(8 + json.count)
        out.appendLE(UInt64(json.count))
        out += json
        return out
    }

    /// A JSON string as serde_json writes it: `"` and `\` escaped, the short escapes for
    /// \b \f \n \r \t, `\u00XX` (lower-case hex) for other controls; everything else as UTF-8.
    static func appendString(_ s: String, to out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        let hex = Array("0123456789abcdef".utf8)
        for b in s.utf8 {
            switch b {
            case UInt8(ascii: "\""): out += [0x5C, 0x22]
            case UInt8(ascii: "\\"): out += [0x5C, 0x5C]
            case 0x08: out += [0x5C, UInt8(ascii: "b")]
            case 0x0C: out += [0x5C, UInt8(ascii: "f")]
            case 0x0A: out += [0x5C, UInt8(ascii: "n")]
            case 0x0D: out += [0x5C, UInt8(ascii: "r")]
            case 0x09: out += [0x5C, UInt8(ascii: "t")]
            case 0..<0x20: out += Array("\\u00".utf8) + [hex[Int(b >> 4)], hex[Int(b & 0xF)]]
            default: out.append(b)
            }
        }
        out.append(UInt8(ascii: "\""))
    }

    struct Progress {
        let total: UInt64
        let report: (@Sendable (UInt64, UInt64) -> Void)?
        var done: UInt64 = 0
        mutating func add(_ n: UInt64) {
            done += n
            report?(done, total)
        }
    }

    /// Writes one safetensors file: header, then each tensor's bytes streamed from the source
    /// (copied in the kernel when the source is a safetensors file).
    static func writeFile(_ source: any TensorSource, _ list: [Int], metadata: [(String, String)], to out: AtomicOutputFile,
                          progress: inout Progress) throws {
        let infos = source.index.tensors
        let order = dataOrder(list, infos)
        try out.append(encodeHeader(order.map { infos[$0] }, metadata: metadata))
        let direct = source as? SafetensorsSource
        for k in order {
            let t = infos[k]
            let n = UInt64(t.byteCount ?? 0)
            if n > 0 {
                if let direct {
                    let loc = direct.location(of: k)
                    guard UInt64(loc.count) == n else {
                        throw CheckpointError(.corrupt, "tensor \"\(escapeForDisplay(t.name))\" has \(loc.count) bytes of data where its shape needs \(n)", file: source.path, member: t.name)
                    }
                    try out.appendCopy(from: loc.file, at: loc.offset, count: n)
                } else {
                    try source.readTensorChecked(k) { try out.append($0) }
                }
            }
            progress.add(n)
        }
    }
}

extension String {
    fileprivate func trimmingASCIIWhitespace() -> String {
        var s = Substring(self)
        while let f = s.first, f == " " || f == "\t" || f == "\n" || f == "\r" { s = s.dropFirst() }
        while let l = s.last, l == " " || l == "\t" || l == "\n" || l == "\r" { s = s.dropLast() }
        return String(s)
    }
}
