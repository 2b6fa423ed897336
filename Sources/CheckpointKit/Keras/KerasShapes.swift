// Shape arithmetic used to propagate shapes through a model graph, ported from Keras 3
// (`keras/src/ops/operation_utils.py`, `keras/src/backend/common/backend_utils.py` and the
// layers' `compute_output_shape`), plus a checked reader for layer configs.

/// Shape helpers shared by the Keras layer model.
public enum KerasShapes {
    /// Reads a shape as Keras writes it: a list of non-negative integers and `null`s.
    public static func parseShape(_ json: JSONValue, what: String) throws -> KerasShape {
        guard let items = json.arrayValue else {
            throw CheckpointError(.invalidArchitecture, "\(what) should be a list of dimensions, found \(json.typeDescription)")
        }
        guard items.count <= 64 else {
            throw CheckpointError(.invalidArchitecture, "\(what) has \(items.count) dimensions; at most 64 are supported")
        }
        var out: KerasShape = []
        for item in items {
            if item.isNull { out.append(nil); continue }
            guard let d = item.intValue, d >= 0 else {
                throw CheckpointError(.invalidArchitecture,
                                      "\(what) should hold non-negative integers or null, found \(item.serialized().prefix(40))")
            }
            guard d <= maxDimension else {
                throw CheckpointError(.invalidArchitecture, "\(what) has the dimension \(d), larger than the \(maxDimension) supported")
            }
            out.append(d)
        }
        return out
    }

    /// Reads `build_config.input_shape`: one shape (`[null, 8]`) or one shape per input
    /// (`[[null, 4], [null, 3]]`).
    static func parseShapes(_ json: JSONValue, what: String) throws -> [KerasShape] {
        if let items = json.arrayValue, let first = items.first, first.arrayValue != nil {
            return try items.map { try parseShape($0, what: what) }
        }
        if let members = json.objectValue {
            // A dict of inputs: values in key order (Keras's tree order).
            return try members.sorted(by: { $0.0 < $1.0 }).map { try parseShape($0.1, what: what) }
        }
        return [try parseShape(json, what: what)]
    }

    /// The largest dimension accepted anywhere (2^40): keeps every shape formula free of overflow.
    public static let maxDimension = 1 << 40

    /// The largest integer accepted in a layer config (2^31 - 1).
    static let maxConfigInteger = Int(Int32.max)

    /// Checks that computed shapes stay within ``maxDimension``.
    static func checkBounds(_ shapes: [KerasShape]?, place: String) throws {
        for s in shapes ?? [] {
            for d in s {
                if let d, d < 0 || d > maxDimension {
                    throw CheckpointError(.invalidArchitecture, "\(place): the computed output shape \(describe(s)) has a dimension out of range")
                }
            }
        }
    }

    /// Python-style `(a, b)` text of a shape, `None` for unknown dimensions.
    public static func describe(_ shape: KerasShape) -> String {
        "(" + shape.map { $0.map(String.init) ?? "None" }.joined(separator: ", ") + (shape.count == 1 ? ",)" : ")")
    }

    /// Normalizes a Python axis (negative counts from the end) for a rank; nil when out of range.
    static func axis(_ a: Int, rank: Int) -> Int? {
        let x = a < 0 ? a + rank : a
        return x >= 0 && x < rank ? x : nil
    }

    /// Checked `a * b` for dimensions.
    static func mul(_ a: Int?, _ b: Int?) -> Int? {
        guard let a, let b else { return nil }
        let (r, o) = a.multipliedReportingOverflow(by: b)
        return o ? nil : r
    }

    static func add(_ a: Int?, _ b: Int) -> Int? {
        guard let a else { return nil }
        let (r, o) = a.addingReportingOverflow(b)
        return o ? nil : r
    }

    /// `floor(a / b)` for integers (Python `//`), b > 0.
    static func floorDiv(_ a: Int, _ b: Int) -> Int {
        let q = a / b
        return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q
    }

    /// `compute_conv_output_shape` for one spatial dimension.
    static func convLength(_ n: Int?, kernel: Int, stride: Int, dilation: Int, padding: String) -> Int? {
        guard let n else { return nil }
        switch padding {
        case "valid":
            return floorDiv(n - dilation * (kernel - 1) - 1, stride) + 1
        default: // same, causal
            return floorDiv(n - 1, stride) + 1
        }
    }

    /// `compute_pooling_output_shape` for one spatial dimension.
    static func poolLength(_ n: Int?, pool: Int, stride: Int, padding: String) -> Int? {
        guard let n else { return nil }
        if padding == "valid" { return floorDiv(n - pool, stride) + 1 }
        return floorDiv(n - 1, stride) + 1
    }

    /// `_get_output_shape_given_tf_padding` (transposed convolutions) for one spatial dimension.
    static func deconvLength(_ n: Int?, kernel: Int, stride: Int, dilation: Int, padding: String, outputPadding: Int?) -> Int? {
        guard let n else { return nil }
        let k = (kernel - 1) * dilation + 1
        guard let grown = mul(n - 1, stride) else { return nil }
        if padding == "valid" {
            let op = outputPadding ?? (max(k, stride) - k)
            return add(add(grown, k), op)
        }
        if let op = outputPadding { return add(grown, k % 2 + op) }
        return mul(n, stride)
    }

    /// Broadcast of two shapes (Keras `Merge._compute_elemwise_op_output_shape`, batch excluded).
    static func broadcast(_ a: KerasShape, _ b: KerasShape) throws -> KerasShape {
        if a.count < b.count { return try broadcast(b, a) }
        if b.isEmpty { return a }
        var out = Array(a.prefix(a.count - b.count))
        for (i, j) in zip(a.suffix(b.count), b) {
            switch (i, j) {
            case (nil, _), (_, nil): out.append(nil)
            case (1?, let y): out.append(y)
            case (let x, 1?): out.append(x)
            case (let x?, let y?):
                guard x == y else {
                    throw CheckpointError(.invalidArchitecture, "inputs have incompatible shapes \(describe(a)) and \(describe(b))")
                }
                out.append(x)
            }
        }
        return out
    }

    /// `compute_reshape_output_shape`: resolves one `-1`.
    static func reshape(_ input: KerasShape, target: [Int]) throws -> KerasShape {
        let unknowns = target.filter { $0 == -1 }.count
        guard unknowns <= 1 else {
            throw CheckpointError(.invalidArchitecture, "target_shape \(target) has more than one -1")
        }
        guard unknowns == 1 else { return target.map { $0 } }
        guard let total = input.reduce(Optional(1), { mul($0, $1) }) else {
            return target.map { $0 == -1 ? nil : $0 }
        }
        guard let known = target.filter({ $0 != -1 }).reduce(Optional(1), { mul($0, $1) }), known > 0, total % known == 0 else {
            throw CheckpointError(.invalidArchitecture, "cannot reshape \(describe(input)) to \(target)")
        }
        return target.map { $0 == -1 ? total / known : $0 }
    }
}

/// Checked access to one layer's `config`: every wrong type becomes a sentence naming the layer.
struct KerasConfig {
    let layerName: String
    let className: String
    let config: JSONValue

    init(_ layer: KerasLayer) {
        self.layerName = layer.name
        self.className = layer.className
        self.config = layer.config
    }

    init(name: String, className: String, config: JSONValue) {
        self.layerName = name
        self.className = className
        self.config = config
    }

    var place: String { "layer \"\(CheckpointError.printable(layerName))\" (\(CheckpointError.printable(className)))" }

    func error(_ reason: String) -> CheckpointError {
        CheckpointError(.invalidArchitecture, "\(place): \(reason)")
    }

    subscript(key: String) -> JSONValue? {
        guard let v = config[key], !v.isNull else { return nil }
        return v
    }

    func has(_ key: String) -> Bool { self[key] != nil }

    func int(_ key: String, default d: Int? = nil) throws -> Int {
        guard let v = self[key] else {
            if let d { return d }
            throw error("the config has no \"\(key)\"")
        }
        guard let i = v.intValue else { throw error("\"\(key)\" should be an integer, found \(v.typeDescription) \(v.serialized().prefix(30))") }
        return try bounded(i, key)
    }

    func bounded(_ i: Int, _ key: String) throws -> Int {
        guard abs(i) <= KerasShapes.maxConfigInteger else {
            throw error("\"\(key)\" is \(i), out of the supported range")
        }
        return i
    }

    func positiveInt(_ key: String, default d: Int? = nil) throws -> Int {
        let i = try int(key, default: d)
        guard i > 0 else { throw error("\"\(key)\" should be a positive integer, found \(i)") }
        return i
    }

    func optionalInt(_ key: String) throws -> Int? {
        guard self[key] != nil else { return nil }
        return try int(key)
    }

    func bool(_ key: String, default d: Bool) throws -> Bool {
        guard let v = self[key] else { return d }
        guard let b = v.boolValue else { throw error("\"\(key)\" should be true or false, found \(v.typeDescription)") }
        return b
    }

    func string(_ key: String, default d: String) throws -> String {
        guard let v = self[key] else { return d }
        guard let s = v.stringValue else { throw error("\"\(key)\" should be a string, found \(v.typeDescription)") }
        return s
    }

    func double(_ key: String, default d: Double) throws -> Double {
        guard let v = self[key] else { return d }
        guard let x = v.doubleValue else { throw error("\"\(key)\" should be a number, found \(v.typeDescription)") }
        return x
    }

    /// An integer or a list of `count` integers (`kernel_size: 3` or `[3, 3]`).
    func intTuple(_ key: String, count: Int, default d: [Int]? = nil, positive: Bool = true) throws -> [Int] {
        guard let v = self[key] else {
            if let d { return d }
            throw error("the config has no \"\(key)\"")
        }
        var out: [Int]
        if let i = v.intValue {
            out = Array(repeating: try bounded(i, key), count: count)
        } else if let items = v.arrayValue {
            out = []
            for item in items {
                guard let i = item.intValue else { throw error("\"\(key)\" should hold integers, found \(item.typeDescription)") }
                out.append(try bounded(i, key))
            }
            if out.count == 1 && count > 1 { out = Array(repeating: out[0], count: count) }
        } else {
            throw error("\"\(key)\" should be an integer or a list of \(count) integers, found \(v.typeDescription)")
        }
        guard out.count == count else {
            throw error("\"\(key)\" should have \(count) values, found \(out.count)")
        }
        if positive, let bad = out.first(where: { $0 <= 0 }) {
            throw error("\"\(key)\" should hold positive integers, found \(bad)")
        }
        return out
    }

    /// A list of integers, or one integer (as a one-element list). nil when absent.
    func intList(_ key: String) throws -> [Int]? {
        guard let v = self[key] else { return nil }
        if let i = v.intValue { return [try bounded(i, key)] }
        guard let items = v.arrayValue else { throw error("\"\(key)\" should be an integer or a list of integers, found \(v.typeDescription)") }
        guard items.count <= 64 else { throw error("\"\(key)\" has \(items.count) entries; at most 64 are supported") }
        return try items.map { item in
            guard let i = item.intValue else { throw error("\"\(key)\" should hold integers, found \(item.typeDescription)") }
            return try bounded(i, key)
        }
    }

    /// `(before, after)` pairs for `count` dimensions: `1`, `[1, 2]` (symmetric per dim, for
    /// count > 1), `[[1, 0], [2, 1]]`, or for count == 1 `[2, 1]` (before, after).
    func pairs(_ key: String, count: Int, default d: [(Int, Int)]) throws -> [(Int, Int)] {
        guard let v = self[key] else { return d }
        if let i = v.intValue {
            guard i >= 0, i <= KerasShapes.maxConfigInteger else { throw error("\"\(key)\" should be a non-negative integer, found \(i)") }
            return Array(repeating: (i, i), count: count)
        }
        func ok(_ x: Int) -> Bool { x >= 0 && x <= KerasShapes.maxConfigInteger }
        guard let items = v.arrayValue else { throw error("\"\(key)\" should be an integer or a list, found \(v.typeDescription)") }
        if count == 1 {
            if items.count == 2, let a = items[0].intValue, let b = items[1].intValue, ok(a), ok(b) { return [(a, b)] }
            if items.count == 1, let a = items[0].intValue, ok(a) { return [(a, a)] }
            throw error("\"\(key)\" should be an integer or [before, after]")
        }
        guard items.count == count else { throw error("\"\(key)\" should have \(count) entries, found \(items.count)") }
        return try items.map { item in
            if let i = item.intValue, ok(i) { return (i, i) }
            if let p = item.arrayValue, p.count == 2, let a = p[0].intValue, let b = p[1].intValue, ok(a), ok(b) { return (a, b) }
            throw error("\"\(key)\" entries should be integers or [before, after] pairs, found \(item.serialized().prefix(30))")
        }
    }

    /// `data_format`: true for channels_last (the default).
    func channelsLast() throws -> Bool {
        let f = try string("data_format", default: "channels_last")
        switch f {
        case "channels_last": return true
        case "channels_first": return false
        default: throw error("\"data_format\" should be \"channels_last\" or \"channels_first\", found \"\(CheckpointError.printable(f))\"")
        }
    }

    func padding(allowed: Set<String> = ["valid", "same"]) throws -> String {
        let p = try string("padding", default: "valid").lowercased()
        guard allowed.contains(p) else {
            throw error("\"padding\" should be one of \(allowed.sorted().joined(separator: ", ")), found \"\(CheckpointError.printable(p))\"")
        }
        return p
    }
}

extension String {
    /// Every occurrence of `target` replaced (no Foundation in this module).
    func keras_replacing(_ target: String, with replacement: String) -> String {
        guard !target.isEmpty else { return self }
        var out = ""
        var rest = self[...]
        while let r = rest.keras_range(of: target) {
            out += rest[..<r.lowerBound]
            out += replacement
            rest = rest[r.upperBound...]
        }
        out += rest
        return out
    }

    /// Leading and trailing spaces and tabs removed.
    var keras_trimmed: String {
        var s = self[...]
        while let f = s.first, f == " " || f == "\t" { s = s.dropFirst() }
        while let l = s.last, l == " " || l == "\t" { s = s.dropLast() }
        return String(s)
    }
}

extension Substring {
    /// First range of `target` (no Foundation in this module).
    func keras_range(of target: String) -> Range<Index>? {
        let t = Array(target.utf8)
        guard !t.isEmpty else { return nil }
        var i = startIndex
        while i < endIndex {
            if self[i...].utf8.starts(with: t) {
                let end = self.utf8.index(i, offsetBy: t.count)
                return i..<end
            }
            i = index(after: i)
        }
        return nil
    }
}
