// What REDUCE / NEWOBJ / INST / OBJ / BUILD / BINPERSID mean for the allow-listed globals. Each
// builds data that describes what torch would have built; none of them runs anything.

extension Unpickler {
    /// The opcode being run, by name, for messages.
    var opName: String {
        guard opStart < bytes.count else { return "opcode" }
        switch bytes[opStart] {
        case 0x63: return "GLOBAL"
        case 0x93: return "STACK_GLOBAL"
        case 0x69: return "INST"
        case 0x6F: return "OBJ"
        case 0x52: return "REDUCE"
        case 0x81: return "NEWOBJ"
        case 0x92: return "NEWOBJ_EX"
        case 0x62: return "BUILD"
        default: return "opcode 0x" + String(bytes[opStart], radix: 16)
        }
    }

    /// Resolves `module.name` against the allow-list.
    func global(module: String, name: String) throws -> PickleValue {
        if let g = PickleGlobal.lookup(module: module, name: name) { return .global(g) }
        let full = escapeForDisplay(PickleGlobal.canonicalModule(module) + "." + name)
        if lenient {
            let where_ = fileOffset(opStart).map { "byte \($0)" } ?? "byte \(opStart) of the pickle"
            placeholders.append("\(full) (\(opName) at \(where_))")
            try charge(64 + full.utf8.count)
            return .object(arena.register(PickleObject(what: full)))
        }
        throw error(.unsupported, "the pickle's \(opName) names \(full), which is not one of the tensor-rebuilding globals torch.load(weights_only=True) allows; nothing was run",
                    hint: "if you trust the file, pass --lenient to list it with a placeholder in place of that object")
    }

    func args(_ v: PickleValue, _ function: String, _ range: ClosedRange<Int>) throws -> [PickleValue] {
        guard let items = v.sequence else { throw corrupt("\(function) gets \(v.kind) as its arguments, not a tuple") }
        guard range.contains(items.count) else {
            throw corrupt("\(function) gets \(items.count) arguments; it takes \(range.lowerBound == range.upperBound ? String(range.lowerBound) : "\(range.lowerBound) to \(range.upperBound)")")
        }
        return items
    }

    func nonNegative(_ v: PickleValue, _ what: String) throws -> Int {
        guard let i = v.intValue, i >= 0, i <= Int64(Int.max) else { throw corrupt("\(what) is \(describe(v)), not a non-negative integer") }
        return Int(i)
    }

    func describe(_ v: PickleValue) -> String {
        switch v {
        case .int(let i): return String(i)
        case .bigInt(let s): return s.count > 30 ? String(s.prefix(30)) + "…" : s
        default: return v.kind
        }
    }

    func ints(_ v: PickleValue, _ what: String) throws -> [Int] {
        guard let items = v.sequence else { throw corrupt("\(what) is \(v.kind), not a tuple of integers") }
        guard items.count <= 64 else { throw error(.limitExceeded, "\(what) has \(items.count) dimensions (the limit is 64)") }
        return try items.map { try nonNegative($0, "an entry of \(what)") }
    }

    /// "Calls" an allow-listed global with `argsValue` (REDUCE, or NEWOBJ / INST / OBJ).
    func call(_ callee: PickleValue, _ argsValue: PickleValue, how: String = "REDUCE") throws -> PickleValue {
        switch callee {
        case .object(let o):
            try charge(64)
            return .object(arena.register(PickleObject(what: o.what + "(…)", arguments: argsValue)))
        case .global(let g):
            return try call(g, argsValue, how: how)
        default:
            throw error(.unsupported, "\(how) calls \(callee.kind), which is not callable")
        }
    }

    private func call(_ g: PickleGlobal, _ argsValue: PickleValue, how: String) throws -> PickleValue {
        let f = g.qualifiedName
        switch g {
        case .orderedDict, .counter:
            let a = try args(argsValue, f, 0...1)
            try charge(48)
            let d = arena.register(PickleDict(kind: g == .orderedDict ? .OrderedDict : .Counter))
            if let initial = a.first {
                switch initial {
                case .dict(let src):
                    for (k, v) in zip(src.keys, src.values) { try setItems([k, v], in: .dict(d)) }
                default:
                    guard let pairs = initial.sequence else { throw corrupt("\(f) gets \(initial.kind), not pairs") }
                    for p in pairs {
                        guard let kv = p.sequence, kv.count == 2 else { throw corrupt("\(f) gets an item that is not a (key, value) pair") }
                        try setItems(kv, in: .dict(d))
                    }
                }
            }
            return .dict(d)
        case .rebuildTensor:
            let a = try args(argsValue, f, 4...4)
            return try tensor(a[0], a[1], a[2], a[3], requiresGrad: .bool(false), dtype: nil, function: f)
        case .rebuildTensorV2:
            let a = try args(argsValue, f, 6...7)
            return try tensor(a[0], a[1], a[2], a[3], requiresGrad: a[4], dtype: nil, function: f)
        case .rebuildTensorV3:
            let a = try args(argsValue, f, 7...8)
            guard case .global(.dtype(let t)) = a[6] else { throw corrupt("\(f) gets \(a[6].kind) as its dtype") }
            return try tensor(a[0], a[1], a[2], a[3], requiresGrad: a[4], dtype: t, function: f)
        case .rebuildParameter, .rebuildParameterWithState, .parameter:
            let a = try args(argsValue, f, g == .parameter ? 0...2 : (g == .rebuildParameter ? 3...3 : 4...4))
            guard let data = a.first else { return .opaqueTensor("empty parameter") }
            switch data {
            case .tensor(var t):
                t.isParameter = true
                if a.count > 1, case .bool(let rg) = a[1] { t.requiresGrad = rg }
                return .tensor(t)
            case .opaqueTensor, .object:
                return data
            default:
                throw corrupt("\(f) wraps \(data.kind), not a tensor")
            }
        case .rebuildFromTypeV2:
            let a = try args(argsValue, f, 4...4)
            switch a[1] {
            case .global(.tensorClass), .global(.parameter): break
            case .object where lenient: break
            default: throw error(.unsupported, "\(f) makes a tensor of type \(a[1].kind); only torch.Tensor and torch.nn.Parameter are read")
            }
            return try call(a[0], a[2], how: how)
        case .rebuildOpaque(let name):
            return .opaqueTensor(PickleGlobal.opaqueRebuilds[name] ?? name)
        case .tensorClass:
            // `torch.Tensor` by NEWOBJ (legacy files): an empty tensor that BUILD fills.
            return .opaqueTensor("tensor without data")
        case .size:
            let a = try args(argsValue, f, 0...1)
            if let first = a.first { return first }
            return try tuple([])
        case .device:
            let a = try args(argsValue, f, 1...2)
            guard let kind = a[0].stringValue else { throw corrupt("torch.device gets \(a[0].kind)") }
            if a.count == 2, let i = a[1].intValue { return try string("\(kind):\(i)") }
            return a[0]
        case .getLayout:
            let a = try args(argsValue, f, 1...1)
            return a[0]
        case .codecsEncode:
            let a = try args(argsValue, f, 1...2)
            guard let s = a[0].stringValue else { throw corrupt("_codecs.encode gets \(a[0].kind), not a string") }
            let encoding = a.count > 1 ? (a[1].stringValue ?? "").lowercased() : "utf-8"
            switch encoding {
            case "latin1", "latin-1", "iso-8859-1":
                var out: [UInt8] = []
                out.reserveCapacity(s.unicodeScalars.count)
                for u in s.unicodeScalars {
                    guard u.value <= 0xFF else { throw corrupt("_codecs.encode(…, 'latin1') of a character above U+00FF") }
                    out.append(UInt8(u.value))
                }
                return try bytesValue(out[...])
            case "utf-8", "utf8":
                return try bytesValue(Array(s.utf8)[...])
            default:
                throw error(.unsupported, "_codecs.encode with the encoding \"\(escapeForDisplay(encoding))\"")
            }
        case .bytearray, .bytes:
            let a = try args(argsValue, f, 0...2)
            guard let first = a.first else { return .bytes([]) }
            if case .bytes = first { return first }
            if case .list(let l) = first {
                return try bytesValue(try l.items.map { v -> UInt8 in
                    guard let i = v.intValue, (0...255).contains(i) else { throw corrupt("bytearray of a value outside 0...255") }
                    return UInt8(i)
                }[...])
            }
            guard let s = first.stringValue else { throw corrupt("bytearray gets \(first.kind)") }
            return try bytesValue(s.unicodeScalars.map { UInt8(truncatingIfNeeded: $0.value) }[...])
        case .set, .frozenset:
            let a = try args(argsValue, f, 0...1)
            try charge(48)
            let s = arena.register(PickleSet(frozen: g == .frozenset))
            if let first = a.first {
                guard let items = first.sequence else { throw corrupt("\(f) gets \(first.kind), not a list") }
                try addItems(items, to: s)
            }
            return .set(s)
        case .complex:
            let a = try args(argsValue, f, 0...2)
            func real(_ v: PickleValue) throws -> Double {
                switch v {
                case .float(let d): return d
                case .int(let i): return Double(i)
                case .bool(let b): return b ? 1 : 0
                default: throw corrupt("complex gets \(v.kind)")
                }
            }
            return .complex(a.count > 0 ? try real(a[0]) : 0, a.count > 1 ? try real(a[1]) : 0)
        case .slice:
            return try tuple(try args(argsValue, f, 1...3))
        case .storageClass, .untypedStorage, .typedStorage, .dtype, .qscheme:
            throw error(.unsupported, "\(how) calls \(f), which builds nothing a checkpoint's data needs")
        }
    }

    /// A strided view of a storage, checked for overflow (its fit in the storage is checked
    /// later, where the tensor has a name).
    private func tensor(_ storage: PickleValue, _ offset: PickleValue, _ size: PickleValue, _ stride: PickleValue,
                        requiresGrad: PickleValue, dtype: TorchScalarType?, function: String) throws -> PickleValue {
        guard case .storage(let s) = storage else { throw corrupt("\(function) gets \(storage.kind) where a storage belongs") }
        let o = try nonNegative(offset, "the storage offset")
        let shape = try ints(size, "the size")
        let strides = try ints(stride, "the stride")
        guard shape.count == strides.count else {
            throw corrupt("the tensor has \(shape.count) dimensions but \(strides.count) strides")
        }
        guard case .bool(let rg) = requiresGrad else { throw corrupt("requires_grad is \(requiresGrad.kind)") }
        try charge(128 + 16 * shape.count)
        return .tensor(TorchTensorRef(storage: s, scalar: dtype ?? s.element, storageOffset: o, shape: shape, stride: strides,
                                      requiresGrad: rg, isParameter: false, pickleOffset: fileOffset(opStart) ?? UInt64(opStart)))
    }

    /// BUILD: sets state on what allows it without code (an OrderedDict's attributes, a placeholder).
    func build(_ target: PickleValue, _ state: PickleValue) throws {
        switch target {
        case .dict(let d) where d.kind != .dict:
            guard case .dict(let s) = state else { throw error(.unsupported, "BUILD sets \(state.kind) on a \(d.kind.rawValue); only a dict of attributes is read") }
            for (k, v) in zip(s.keys, s.values) {
                guard let name = k.stringValue else { throw corrupt("BUILD sets an attribute whose name is \(k.kind)") }
                d.attributes.append((name, v))
            }
        case .tensor, .opaqueTensor:
            // Parameter / tensor attributes (`_backward_hooks`, legacy set_ state): nothing of the data.
            break
        case .object(let o):
            o.state = state
        default:
            throw error(.unsupported, "BUILD on \(target.kind) would run its __setstate__; refused")
        }
    }

    /// BINPERSID: torch's storage ids.
    func persistentLoad(_ pid: PickleValue) throws -> PickleValue {
        guard persistentIDs != .refused else { throw error(.unsupported, "a persistent id where none belongs") }
        guard case .tuple(let t) = pid else { throw error(.unsupported, "a persistent id that is \(pid.kind), not a storage tuple") }
        let a = t.items
        guard let tag = a.first?.stringValue, tag == "storage" else {
            throw error(.unsupported, "a persistent id of kind \(a.first.map { $0.stringValue.map { "\"\(escapeForDisplay($0))\"" } ?? $0.kind } ?? "nothing"); only storages are read")
        }
        let expected = persistentIDs == .zip ? 5 : 6
        guard a.count == expected else { throw corrupt("a storage persistent id has \(a.count) items, not \(expected)") }
        let element: TorchScalarType
        switch a[1] {
        case .global(.storageClass(let t)): element = t
        case .global(.untypedStorage): element = .byte
        default: throw corrupt("a storage persistent id names \(a[1].kind) as its type")
        }
        let key: String
        switch a[2] {
        case .string(let s): key = s
        case .int(let i): key = String(i)
        default: throw corrupt("a storage key is \(a[2].kind)")
        }
        guard let location = a[3].stringValue else { throw corrupt("a storage location is \(a[3].kind)") }
        let numel = try nonNegative(a[4], "a storage's element count")
        guard !numel.multipliedReportingOverflow(by: element.itemSize).overflow else {
            throw error(.limitExceeded, "storage \"\(escapeForDisplay(key))\" declares \(numel) elements, too many to count in bytes")
        }
        var view: TorchStorageRef.LegacyView? = nil
        if persistentIDs == .legacy, case .tuple(let v) = a[5] {
            guard v.items.count == 3, let viewKey = v.items[0].stringValue ?? v.items[0].intValue.map({ String($0) }) else {
                throw corrupt("a storage view is not (key, offset, size)")
            }
            let offset = try nonNegative(v.items[1], "a storage view's offset")
            let size = try nonNegative(v.items[2], "a storage view's size")
            let (ob, o1) = offset.multipliedReportingOverflow(by: element.itemSize)
            let (sb, o2) = size.multipliedReportingOverflow(by: element.itemSize)
            guard !o1, !o2 else { throw error(.limitExceeded, "a storage view too large to count in bytes") }
            view = .init(key: viewKey, byteOffset: ob, byteCount: sb)
        }
        let ref = TorchStorageRef(key: key, element: element, numel: numel, location: location, view: view)
        if let known = storages[ByteName(key)] {
            guard known.nbytes == ref.nbytes else {
                throw corrupt("storage \"\(escapeForDisplay(key))\" is declared as \(known.nbytes) bytes and again as \(ref.nbytes)")
            }
            // torch keeps the first declaration of a key; a legacy view keeps its own window.
            return .storage(view == nil ? known : TorchStorageRef(key: key, element: known.element, numel: known.numel, location: known.location, view: view))
        }
        guard storages.count < limits.maxMemo else { throw error(.limitExceeded, "the pickle declares more than \(limits.maxMemo) storages") }
        try charge(128 + key.utf8.count)
        storages[ByteName(key)] = ref
        storageOrder.append(key)
        return .storage(ref)
    }
}
