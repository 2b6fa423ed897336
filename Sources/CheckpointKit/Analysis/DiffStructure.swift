/// Lining up the tensor names of two checkpoints (`--map OLD=NEW`, `--strip-prefix P`).
///
/// A tensor of A named `OLD` or `OLD/…` is renamed `NEW` / `NEW/…` (the longest matching `OLD`
/// wins; an empty `NEW` removes the prefix; an `OLD` ending in `/` matches as a plain prefix).
/// Then a prefix given to `--strip-prefix` is removed from the names of both sides (`P…` or, for a
/// `P` without a trailing `/`, `P/…`). An optimizer slot `optimizer/<slot>/<weight>` is renamed
/// through its weight's name.
public struct DiffNameMapping: Sendable, Equatable {
    public struct Rename: Sendable, Equatable {
        public var old: String
        public var new: String
        public init(old: String, new: String) {
            self.old = old
            self.new = new
        }
    }

    public var renames: [Rename]
    public var stripPrefixes: [String]

    public init(renames: [Rename] = [], stripPrefixes: [String] = []) {
        self.renames = renames
        self.stripPrefixes = stripPrefixes
    }

    public var isEmpty: Bool { renames.isEmpty && stripPrefixes.isEmpty }

    /// The name of A's (`isA`) or B's tensor as it is paired.
    public func aligned(_ info: TensorInfo, isA: Bool) -> String {
        if info.role == .optimizer, let slot = info.slot, let weight = info.weight,
           info.name.sameBytes(ContainerSpec.slotTensorName(slot: slot, weight: weight)) {
            return ContainerSpec.slotTensorName(slot: slot, weight: aligned(weight, isA: isA))
        }
        return aligned(info.name, isA: isA)
    }

    public func aligned(_ name: String, isA: Bool) -> String {
        var s = name
        if isA, let r = bestRename(for: s) { s = Self.apply(r, to: s) }
        for p in stripPrefixes where !p.isEmpty {
            if p.hasSuffix("/") {
                if s.hasPrefix(p) && s.count > p.count { s = String(s.dropFirst(p.count)); break }
            } else if s.hasPrefix(p + "/") {
                s = String(s.dropFirst(p.count + 1))
                break
            }
        }
        return s
    }

    /// Whether `rename` applies to `name`.
    public static func matches(_ r: Rename, _ name: String) -> Bool {
        if r.old.isEmpty { return false }
        if name == r.old { return true }
        return r.old.hasSuffix("/") ? name.hasPrefix(r.old) : name.hasPrefix(r.old + "/")
    }

    private func bestRename(for name: String) -> Rename? {
        var best: Rename?
        for r in renames where Self.matches(r, name) && r.old.count > (best?.old.count ?? -1) { best = r }
        return best
    }

    static func apply(_ r: Rename, to name: String) -> String {
        if name == r.old { return r.new }
        let rest = String(name.dropFirst(r.old.count))
        if r.old.hasSuffix("/") { return r.new + rest }
        // rest starts with "/"
        return r.new.isEmpty ? String(rest.dropFirst()) : r.new + rest
    }

    /// `--map` renames whose OLD matches none of `names` (for "did you mean" messages).
    public func unmatchedRenames(in names: [String]) -> [Rename] {
        renames.filter { r in !names.contains { Self.matches(r, $0) } }
    }
}

/// Where a key of a JSON document (architecture or optimizer config) differs.
public struct DiffKeyChange: Sendable, Equatable {
    /// `units`, `kernel_initializer.config.seed`, `layers[2]`; a layer's `config.` is left out.
    public var path: String
    /// The value in A and in B; nil where the key is absent.
    public var a: JSONValue?
    public var b: JSONValue?
}

/// Structural differences of two JSON values, key by key.
enum DiffJSONCompare {
    static let maxChanges = 200
    /// Keras's serializer bookkeeping, not model structure: `shared_object_id` is the Python
    /// `id()` of a shared object (a dtype policy...) and changes on every save (`.keras` files have
    /// it, `model.to_json()` does not).
    static let ignoredKeys: Set<String> = ["shared_object_id"]

    static func changes(_ a: JSONValue?, _ b: JSONValue?, path: String = "", skip: (String) -> Bool = { _ in false },
                        into out: inout [DiffKeyChange]) {
        guard out.count < maxChanges, !skip(path) else { return }
        switch (a, b) {
        case let (.object(x)?, .object(y)?):
            var seen = Set<ByteName>()
            for (k, va) in x where !ignoredKeys.contains(k) {
                seen.insert(ByteName(k))
                changes(va, y.first { $0.0.sameBytes(k) }?.1, path: join(path, k), skip: skip, into: &out)
            }
            for (k, vb) in y where !seen.contains(ByteName(k)) && !ignoredKeys.contains(k) {
                changes(nil, vb, path: join(path, k), skip: skip, into: &out)
            }
        case let (.array(x)?, .array(y)?) where x.count == y.count:
            for k in x.indices {
                changes(x[k], y[k], path: path + "[\(k)]", skip: skip, into: &out)
            }
        default:
            if a != b { out.append(DiffKeyChange(path: path, a: a, b: b)) }
        }
    }

    static func join(_ path: String, _ key: String) -> String { path.isEmpty ? key : path + "." + key }
}

/// What changed between two architecture JSONs (`model.to_json()`), layer by layer.
public struct ArchitectureDiff: Sendable {
    public enum Status: String, Sendable {
        case identical
        case different
        /// Only one checkpoint carries an architecture (not counted as a difference).
        case onlyInA = "only_in_a"
        case onlyInB = "only_in_b"
        /// One of them is not a model JSON this tool understands (compared as bytes only).
        case unparseable
    }

    public struct Layer: Sendable, Equatable {
        public var name: String
        public var className: String
    }

    public struct LayerChange: Sendable {
        public var name: String
        public var classA: String
        public var classB: String
        public var keys: [DiffKeyChange]
    }

    public var status: Status
    public var modelA: Layer?
    public var modelB: Layer?
    public var added: [Layer] = []
    public var removed: [Layer] = []
    public var changed: [LayerChange] = []
    /// Keys outside the layer list (model name, inputs/outputs, compile config, ...).
    public var modelChanges: [DiffKeyChange] = []
    /// Same layers, in another order.
    public var reordered = false

    public var isDifferent: Bool { status == .different || (status == .unparseable && bytesDiffer) }
    var bytesDiffer = false
    /// The side whose format cannot hold an architecture (`B (Keras 3 .weights.h5)`), when one
    /// cannot: its architecture was given, not read, so a difference is reported, not counted.
    public var notHeldBy: String?
    /// Whether the architectures make the checkpoints different (exit status 1).
    public var countsAsDifference: Bool { isDifferent && notHeldBy == nil }

    /// The layers a model JSON lists: (name, class, the layer's JSON). Either Keras dialect.
    static func outline(_ v: JSONValue) -> (model: Layer, layers: [(String, String, JSONValue)])? {
        guard let cfg = v["config"], cfg.objectValue != nil else { return nil }
        let cls = v["class_name"]?.stringValue ?? "Model"
        let name = cfg["name"]?.stringValue ?? ""
        var layers: [(String, String, JSONValue)] = []
        for l in cfg["layers"]?.arrayValue ?? [] {
            guard let lc = l["class_name"]?.stringValue,
                  let ln = l["config"]?["name"]?.stringValue ?? l["name"]?.stringValue else { continue }
            layers.append((ln, lc, l))
        }
        return (Layer(name: name, className: cls), layers)
    }

    static func parse(_ bytes: [UInt8]?) -> JSONValue? {
        guard let bytes else { return nil }
        var o = JSONParser.Options()
        o.maxDepth = 512
        return try? JSONParser.parse(bytes, options: o)
    }

    public static func compare(_ a: [UInt8]?, _ b: [UInt8]?) -> ArchitectureDiff? {
        compare(a, b, parsedA: parse(a), parsedB: parse(b))
    }

    static func compare(_ a: [UInt8]?, _ b: [UInt8]?, parsedA: JSONValue?, parsedB: JSONValue?) -> ArchitectureDiff? {
        switch (a, b) {
        case (nil, nil): return nil
        case (.some, nil): return ArchitectureDiff(status: .onlyInA)
        case (nil, .some): return ArchitectureDiff(status: .onlyInB)
        default: break
        }
        guard var ja = parsedA, var jb = parsedB else {
            var d = ArchitectureDiff(status: .unparseable)
            d.bytesDiffer = a != b
            return d
        }
        // A tf.keras (Keras 2) architecture against a Keras 3 one (a migrated model) is compared in
        // its Keras 3 form (KerasMigration).
        let dialectA = KerasArchitecture.detectDialect(ja), dialectB = KerasArchitecture.detectDialect(jb)
        if dialectA != dialectB {
            if dialectA == .keras2, let a3 = try? KerasMigration.keras3Config(ja.serializedBytes()) { ja = a3.config }
            if dialectB == .keras2, let b3 = try? KerasMigration.keras3Config(jb.serializedBytes()) { jb = b3.config }
        }
        guard let oa = outline(ja), let ob = outline(jb) else {
            var d = ArchitectureDiff(status: .unparseable)
            d.bytesDiffer = a != b
            return d
        }
        var d = ArchitectureDiff(status: .identical, modelA: oa.model, modelB: ob.model)
        if a == b { return d }
        let namesA = oa.layers.map(\.0), namesB = ob.layers.map(\.0)
        let setA = Set(namesA), setB = Set(namesB)
        d.removed = oa.layers.filter { !setB.contains($0.0) }.map { Layer(name: $0.0, className: $0.1) }
        d.added = ob.layers.filter { !setA.contains($0.0) }.map { Layer(name: $0.0, className: $0.1) }
        var byNameB: [ByteName: (String, JSONValue)] = [:]
        for (n, c, j) in ob.layers where byNameB[ByteName(n)] == nil { byNameB[ByteName(n)] = (c, j) }
        for (n, c, j) in oa.layers {
            guard let (cb, jb) = byNameB[ByteName(n)] else { continue }
            var keys: [DiffKeyChange] = []
            DiffJSONCompare.changes(j, jb, into: &keys)
            keys = keys.compactMap { k in
                var k = k
                if k.path.hasPrefix("config.") { k.path = String(k.path.dropFirst(7)) }
                return k.path == "name" ? nil : k
            }
            if c != cb || !keys.isEmpty {
                d.changed.append(LayerChange(name: n, classA: c, classB: cb, keys: keys))
            }
        }
        let commonA = namesA.filter { setB.contains($0) }, commonB = namesB.filter { setA.contains($0) }
        d.reordered = commonA != commonB
        DiffJSONCompare.changes(ja, jb, skip: { $0 == "config.layers" }, into: &d.modelChanges)
        d.status = d.added.isEmpty && d.removed.isEmpty && d.changed.isEmpty && d.modelChanges.isEmpty && !d.reordered ? .identical : .different
        return d
    }
}

/// What changed between the optimizers of two full checkpoints.
public struct OptimizerDiff: Sendable {
    public enum Status: String, Sendable {
        case identical
        case different
        case onlyInA = "only_in_a"
        case onlyInB = "only_in_b"
    }

    public var status: Status
    public var classA: String?
    public var classB: String?
    public var iterationsA: Int64?
    public var iterationsB: Int64?
    public var configChanges: [DiffKeyChange] = []
    /// Slot kinds (`momentum`, `velocity`, ...) in the order first seen.
    public var slotsA: [String] = []
    public var slotsB: [String] = []
    /// Slot tensors (aligned names) present on one side only.
    public var slotTensorsOnlyInA: [String] = []
    public var slotTensorsOnlyInB: [String] = []

    public var isDifferent: Bool { status == .different }
    /// The side whose format cannot hold an optimizer configuration, when one cannot: a
    /// difference of configuration alone is reported, not counted.
    public var configNotHeldBy: String?
    /// Whether the optimizers make the checkpoints different (exit status 1).
    public var countsAsDifference: Bool {
        guard isDifferent else { return false }
        guard configNotHeldBy != nil else { return true }
        return classA != classB || iterationsA != iterationsB || slotsA != slotsB || !slotTensorsOnlyInA.isEmpty || !slotTensorsOnlyInB.isEmpty
    }

    static func compare(_ a: CheckpointIndex, _ b: CheckpointIndex, mapping: DiffNameMapping) -> OptimizerDiff? {
        let hasA = a.optimizer != nil || !a.optimizerTensors.isEmpty
        let hasB = b.optimizer != nil || !b.optimizerTensors.isEmpty
        switch (hasA, hasB) {
        case (false, false): return nil
        case (true, false):
            return OptimizerDiff(status: .onlyInA, classA: a.optimizer?.className, iterationsA: a.optimizer?.iterations, slotsA: slotKinds(a))
        case (false, true):
            return OptimizerDiff(status: .onlyInB, classB: b.optimizer?.className, iterationsB: b.optimizer?.iterations, slotsB: slotKinds(b))
        default: break
        }
        var d = OptimizerDiff(status: .identical, classA: a.optimizer?.className, classB: b.optimizer?.className,
                              iterationsA: a.optimizer?.iterations, iterationsB: b.optimizer?.iterations)
        if let ca = a.optimizer?.config, let cb = b.optimizer?.config {
            DiffJSONCompare.changes(ca, cb, into: &d.configChanges)
        }
        d.slotsA = slotKinds(a)
        d.slotsB = slotKinds(b)
        let slotNamesA = a.optimizerTensors.filter { $0.slot != nil }.map { mapping.aligned($0, isA: true) }
        let slotNamesB = b.optimizerTensors.filter { $0.slot != nil }.map { mapping.aligned($0, isA: false) }
        let setA = Set(slotNamesA), setB = Set(slotNamesB)
        d.slotTensorsOnlyInA = slotNamesA.filter { !setB.contains($0) }
        d.slotTensorsOnlyInB = slotNamesB.filter { !setA.contains($0) }
        let different = d.classA != d.classB || d.iterationsA != d.iterationsB || !d.configChanges.isEmpty
            || d.slotsA != d.slotsB || !d.slotTensorsOnlyInA.isEmpty || !d.slotTensorsOnlyInB.isEmpty
        d.status = different ? .different : .identical
        return d
    }

    static func slotKinds(_ index: CheckpointIndex) -> [String] {
        var seen: [String] = []
        for t in index.optimizerTensors {
            if let s = t.slot, !seen.contains(s) { seen.append(s) }
        }
        return seen
    }
}

/// Which top-level layer a tensor belongs to, for grouping the report.
struct DiffLayerNamer {
    /// Layer names from the architectures (empty when neither file has one).
    let known: Set<String>
    /// Names of the models themselves (a leading `sequential/` is a model, not a layer).
    let models: Set<String>

    init(architectures: [JSONValue?]) {
        var known = Set<String>(), models = Set<String>()
        for a in architectures {
            guard let v = a, let o = ArchitectureDiff.outline(v) else { continue }
            if !o.model.name.isEmpty { models.insert(o.model.name) }
            for (n, _, _) in o.layers { known.insert(n) }
        }
        self.known = known
        self.models = models
    }

    func layer(of name: String, role: TensorRole, weight: String?) -> String {
        if role == .optimizer {
            guard let weight else { return "optimizer" }
            return layer(ofWeight: weight)
        }
        return layer(ofWeight: name)
    }

    func layer(ofWeight name: String) -> String {
        let parts = name.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        guard parts.count > 1 else { return name }
        if !known.isEmpty {
            for p in parts.dropLast() where known.contains(p) { return p }
        }
        if parts.count >= 3 && (models.contains(parts[0]) || Self.looksLikeModelName(parts[0])) {
            return parts[1]
        }
        return parts[0]
    }

    /// Keras's default model names: `sequential`, `functional_3`, `model_1`.
    static func looksLikeModelName(_ s: String) -> Bool {
        for base in ["sequential", "functional", "model"] where s.hasPrefix(base) {
            let rest = s.dropFirst(base.count)
            if rest.isEmpty { return true }
            if rest.first == "_", rest.count > 1, rest.dropFirst().allSatisfy({ $0.isASCII && $0.isNumber }) { return true }
        }
        return false
    }
}
