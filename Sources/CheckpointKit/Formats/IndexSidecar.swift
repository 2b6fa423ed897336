/// ckpt's record of what a format of named arrays cannot say by itself: the real dtype of tensors
/// stored as raw bits, which tensors are optimizer state that their names do not give away, which
/// weights are not trainable, the optimizer's class, configuration and step, the architecture,
/// the metadata, and — when a record is written anyway — the tensors' order where the file
/// changes it.
///
/// A `.npz` keeps it as its ZIP archive comment (numpy never reads the comment, so `np.load`
/// lists exactly the arrays); a `.safetensors` file in its `__metadata__` under the key
/// ``metadataKey`` (a string, as safetensors requires). It is written only when reading the file
/// back by names alone (``TensorRoles``) would lose something, so a plain set of weights gives a
/// plain file.
///
/// The record is compact JSON:
/// ```
/// {"schema": "ckpt.index/1", "writer": "ckpt 0.1.0",
///  "tensors": {"<name>": {"dtype": "bfloat16", "role": "optimizer", "slot": "m", "weight": "w",
///                         "trainable": false}},
///  "trainable_known": true, "optimizer": {"class_name": "Adam", "module": "keras.optimizers",
///  "config": {...}, "iterations": 16}, "metadata": {...}, "architecture": "<model.to_json()>",
///  "order": ["<name>", ...]}
/// ```
/// A tensor is listed in `tensors` only for what differs from its stored form read by name. A
/// record that does not fit the file (a name it does not hold, a dtype its stored bits cannot
/// be) is ignored as a whole, with a note: the file was changed by another tool.
public enum IndexSidecar {
    public static let schema = "ckpt.index/1"
    /// The `__metadata__` key of a safetensors file that holds the record.
    public static let metadataKey = "ckpt.index"

    /// The record of `index`, whose tensors the format stores as `stored` (same order, names and
    /// shapes; dtypes as written), listed by a reader in `fileOrder` (nil: the index's order).
    /// `parts` is what the record may carry besides tensors. nil when reading the file back by
    /// names gives `index` already.
    public static func encode(_ index: CheckpointIndex, stored: [TensorInfo], fileOrder: [String]? = nil,
                              parts: FormatParts, writer: String) -> JSONValue? {
        let inferred = TensorRoles.fromNames(stored)
        var tensors: [(String, JSONValue)] = []
        let trainability = parts.contains(.trainability) && index.trainabilityKnown
        for (i, t) in index.tensors.enumerated() where i < inferred.count {
            let s = inferred[i]
            var e: [(String, JSONValue)] = []
            if t.dtype != stored[i].dtype { e.append(("dtype", .string(t.dtype.rawValue))) }
            if t.role != s.role { e.append(("role", .string(t.role.rawValue))) }
            if t.slot != s.slot { e.append(("slot", t.slot.map { .string($0) } ?? .null)) }
            if t.weight != s.weight { e.append(("weight", t.weight.map { .string($0) } ?? .null)) }
            if trainability && t.role == .weight && !t.trainable { e.append(("trainable", .bool(false))) }
            if !e.isEmpty { tensors.append((t.name, .object(e))) }
        }
        var record: [(String, JSONValue)] = []
        if !tensors.isEmpty { record.append(("tensors", .object(tensors))) }
        if parts.contains(.optimizerConfig), let o = index.optimizer {
            record.append(("optimizer", .object([("class_name", .string(o.className)), ("module", .string(o.module)),
                                                 ("config", o.config), ("iterations", .number(o.iterations))])))
        }
        if parts.contains(.metadata), let m = index.metadata.objectValue, !m.isEmpty { record.append(("metadata", index.metadata)) }
        if parts.contains(.architecture), let a = index.architecture, let text = String(validating: a, as: UTF8.self) {
            record.append(("architecture", .string(text)))
        }
        // The order alone is no reason for a record: a file of plain weights stays plain, in the
        // format's own order.
        guard !record.isEmpty else { return nil }
        let names = index.tensors.map(\.name)
        if let fileOrder, !fileOrder.elementsEqual(names, by: { $0.sameBytes($1) }) { record.append(("order", .array(names.map { .string($0) }))) }
        return .object([("schema", .string(schema)), ("writer", .string(writer)), ("trainable_known", .bool(trainability))] + record)
    }

    /// `plain` (the file's tensors as stored, read by name) completed by `record`. Returns the
    /// index and, when the record was ignored, a note saying why. `order` receives the
    /// permutation applied to the tensors (`result.tensors[k] = plain.tensors[order[k]]`).
    public static func apply(_ recordBytes: [UInt8], to plain: CheckpointIndex, where place: String,
                             limits: Limits = .default) -> (index: CheckpointIndex, order: [Int], note: String?) {
        let identity = Array(plain.tensors.indices)
        do {
            let record = try JSONParser.parse(recordBytes, options: limits.jsonOptions)
            guard record["schema"]?.stringValue == schema else {
                return (plain, identity, "the \(place) is not a ckpt index (\(schema)); ignored")
            }
            let (index, order) = try apply(record, to: plain)
            return (index, order, nil)
        } catch let e as CheckpointError {
            return (plain, identity, "the ckpt index in the \(place) does not fit the file (\(e.reason)); ignored, the tensors are read by name")
        } catch {
            return (plain, identity, "the ckpt index in the \(place) could not be read; ignored, the tensors are read by name")
        }
    }

    static func apply(_ record: JSONValue, to plain: CheckpointIndex) throws -> (CheckpointIndex, [Int]) {
        func mismatch(_ why: String) -> CheckpointError { CheckpointError(.invalidJSON, why) }
        var tensors = plain.tensors
        // Names compared as bytes (ByteName), as the file stores them.
        var position: [ByteName: Int] = [:]
        for (i, t) in tensors.enumerated() { position[ByteName(t.name)] = i }
        for (name, e) in record["tensors"]?.objectValue ?? [] {
            guard let i = position[ByteName(name)] else { throw mismatch("it describes tensor \"\(escapeForDisplay(name))\", which the file does not hold") }
            var t = tensors[i]
            if let d = e["dtype"]?.stringValue {
                guard let dtype = DType(rawValue: d) else { throw mismatch("tensor \"\(escapeForDisplay(name))\" has the unknown dtype \"\(escapeForDisplay(d))\"") }
                guard dtype.itemSize == t.dtype.itemSize, t.dtype == rawBitsDType(ofWidth: dtype.itemSize) else {
                    throw mismatch("tensor \"\(escapeForDisplay(name))\" is stored as \(t.dtype.rawValue), which cannot hold \(dtype.rawValue) bits")
                }
                t.dtype = dtype
            }
            if let r = e["role"]?.stringValue {
                guard let role = TensorRole(rawValue: r) else { throw mismatch("tensor \"\(escapeForDisplay(name))\" has the unknown role \"\(escapeForDisplay(r))\"") }
                t.role = role
                if role == .optimizer { t.trainable = false }
            }
            if let s = e["slot"] { t.slot = s.stringValue }
            if let w = e["weight"] { t.weight = w.stringValue }
            if e["trainable"]?.boolValue == false, t.role == .weight { t.trainable = false }
            tensors[i] = t
        }
        var index = plain
        index.tensors = tensors
        index.trainabilityKnown = record["trainable_known"]?.boolValue ?? false
        if let o = record["optimizer"] {
            guard let cls = o["class_name"]?.stringValue, let steps = o["iterations"]?.int64Value else {
                throw mismatch("its optimizer has no class_name or iterations")
            }
            index.optimizer = OptimizerInfo(className: cls, module: o["module"]?.stringValue ?? "keras.optimizers",
                                            config: o["config"] ?? .object([]), iterations: steps)
        }
        if let m = record["metadata"], m.objectValue != nil { index.metadata = m }
        if let a = record["architecture"]?.stringValue { index.architecture = Array(a.utf8) }
        if let w = record["writer"]?.stringValue { index.producer = w }
        var order = Array(tensors.indices)
        if let names = record["order"]?.arrayValue {
            let wanted = names.compactMap(\.stringValue)
            guard wanted.count == tensors.count, Set(wanted.map(ByteName.init)).count == wanted.count else { throw mismatch("its tensor order does not list every tensor once") }
            order = try wanted.map { n in
                guard let i = position[ByteName(n)] else { throw mismatch("its tensor order names \"\(escapeForDisplay(n))\", which the file does not hold") }
                return i
            }
            index.tensors = order.map { tensors[$0] }
        }
        return (index, order)
    }

    /// The unsigned integer a dtype numpy lacks is stored as (its raw bits).
    public static func rawBitsDType(ofWidth width: Int) -> DType? {
        switch width {
        case 1: return .uint8
        case 2: return .uint16
        case 4: return .uint32
        case 8: return .uint64
        default: return nil
        }
    }
}
