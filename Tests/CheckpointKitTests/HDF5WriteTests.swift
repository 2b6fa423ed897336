import Foundation
import Testing
import CheckpointTestSupport
@testable import CheckpointKit

// Writing with the libhdf5 binding, read back by the binding and by h5py (`.requires(.h5py)`).

@Suite("HDF5 writing", .requires(.hdf5), .reportsSeeds)
struct HDF5WriteTests {
    @Test("write, then read back with this binding")
    func writeRoundTrip() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("out.h5").path
        let sample = try writeSample(path)

        let file = try HDF5File.open(path: path)
        #expect(try file.walk().map(\.path) == ["/", "layers", "layers/dense", "layers/dense/vars"]
            + sample.tensors.keys.sorted().map { "layers/dense/vars/" + $0 } + ["vars"])
        let vars = try file.group("layers/dense/vars")
        #expect(try vars.attribute("name")?.stringValue == "dense")
        #expect(try vars.attribute("name")?.type.isVariableLengthString == true)
        #expect(try vars.attribute("name")?.type.charset == .utf8)
        for (name, (dtype, shape, bytes)) in sample.tensors {
            let d = try vars.dataset(name)
            let info = try d.info()
            #expect(info.dtype == dtype && info.shape == shape && info.layout == .contiguous, "\(name)")
            #expect(info.storedType.order == (dtype.itemSize > 1 && dtype != .bfloat16 ? .little : info.storedType.order))
            #expect(try d.read() == bytes, "\(name)")
        }
        #expect(try vars.dataset("bfloat16").stringAttribute("dtype") == "bfloat16")
        let root = try file.root()
        #expect(try root.stringArrayAttribute("layer_names") == ["dense", "dense_1", ""])
        #expect(try root.attribute("layer_names")?.type.isVariableLengthString == false)
        #expect(try root.attribute("layer_names")?.type.stringPadding == .nullPadded)
        #expect(try root.stringArrayAttribute("weight_names") == ["dense/kernel:0", "dense/bias:0"])
        #expect(try root.attribute("weight_names")?.type.isVariableLengthString == true)
        #expect(try root.attribute("model_config")?.stringValue == "{\"a\": 1}")
        #expect(try root.attribute("model_config")?.type.charset == .ascii)
        #expect(try root.attribute("empty_weights")?.value == .numbers(.float64, []))
        #expect(try root.attribute("empty_weights")?.shape == [0])
        #expect(try root.attribute("scale")?.doubleValues == [0.5, 2])
        #expect(try file.group("vars").attribute("name")?.stringValue == "sequential \u{e9}")
        // Read-only files refuse writes.
        try expectCode(.invalidArgument) { _ = try root.createGroup("more") }
        try expectCode(.invalidArgument) {
            try [UInt8](repeating: 0, count: 4).withUnsafeBytes { try vars.dataset("scalar").write($0) }
        }
    }

    @Test("what this binding writes, h5py reads back equal (and types match h5py's own)", .requires(.h5py))
    func h5pyCrossCheck() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("out.h5").path
        let sample = try writeSample(path)
        let script = #"""
import hashlib, json, sys
import h5py, numpy as np
out = {"datasets": {}, "attrs": {}, "type_checks": {}}
def le(a):
    a = np.ascontiguousarray(a)
    if a.dtype.kind == "b":
        a = a.astype(np.uint8)
    if a.dtype.kind == "V":
        a = a.view(np.uint16)
    return a.astype(a.dtype.newbyteorder("<")).tobytes()
with h5py.File(sys.argv[1], "r") as f:
    def visit(name, obj):
        if isinstance(obj, h5py.Dataset):
            v = obj[()]
            out["datasets"][name] = {"dtype": str(obj.dtype), "shape": list(obj.shape),
                                     "sha256": hashlib.sha256(le(np.asarray(v))).hexdigest()}
    f.visititems(visit)
    def attr(v):
        if isinstance(v, bytes): return v.decode()
        if isinstance(v, np.ndarray): return [attr(x) for x in v.tolist()]
        if isinstance(v, (np.generic,)): return v.item()
        return v
    for key in ["layer_names", "weight_names", "model_config", "empty_weights", "scale"]:
        out["attrs"][key] = attr(f.attrs[key])
    out["attrs"]["vars.name"] = attr(f["layers/dense/vars"].attrs["name"])
    out["attrs"]["root.name"] = attr(f["vars"].attrs["name"])
    # The attribute types must be exactly those h5py itself writes for the same values.
    with h5py.File(sys.argv[2], "w") as g:
        g.attrs["name"] = "dense"
        g.attrs["layer_names"] = np.array([b"dense", b"dense_1", b""])
        g.attrs["weight_names"] = ["dense/kernel:0", "dense/bias:0"]
        g.attrs["empty_weights"] = np.zeros(0)
        g.create_dataset("b", data=np.array([True]))
        g.create_dataset("h", data=np.array([1], dtype=np.float16))
    with h5py.File(sys.argv[2], "r") as g:
        def same(a, b):
            ta, tb = a.get_type(), b.get_type()
            return (ta == tb, a.shape == b.shape)
        out["type_checks"]["name"] = same(f["layers/dense/vars"].attrs.get_id("name"), g.attrs.get_id("name"))
        for k in ["layer_names", "weight_names", "empty_weights"]:
            out["type_checks"][k] = same(f.attrs.get_id(k), g.attrs.get_id(k))
        out["type_checks"]["bool"] = (f["layers/dense/vars/bool"].id.get_type() == g["b"].id.get_type(), True)
        out["type_checks"]["float16"] = (f["layers/dense/vars/float16"].id.get_type() == g["h"].id.get_type(), True)
print(json.dumps(out))
"""#
        let output = try TestEnv.python(script, [path, dir.appendingPathComponent("h5py.h5").path])
        let result = try JSONParser.parse(output)
        let datasets = try #require(result["datasets"]?.objectValue)
        #expect(Set(datasets.map(\.0)) == Set(sample.tensors.keys.map { "layers/dense/vars/" + $0 }))
        for (name, (dtype, shape, bytes)) in sample.tensors {
            let e = try #require(result["datasets"]?["layers/dense/vars/" + name])
            #expect(e["shape"]?.arrayValue?.compactMap(\.intValue) == shape, "\(name)")
            #expect(e["sha256"]?.stringValue == SHA256.hex(bytes), "\(name)")
            let numpy: [DType: String] = [.bool: "bool", .float16: "float16", .bfloat16: "|V2"]
            #expect(e["dtype"]?.stringValue == numpy[dtype] ?? dtype.rawValue, "\(name)")
        }
        #expect(result["attrs"]?["layer_names"] == .array([.string("dense"), .string("dense_1"), .string("")]))
        #expect(result["attrs"]?["weight_names"] == .array([.string("dense/kernel:0"), .string("dense/bias:0")]))
        #expect(result["attrs"]?["model_config"]?.stringValue == "{\"a\": 1}")
        #expect(result["attrs"]?["empty_weights"] == .array([]))
        #expect(result["attrs"]?["scale"]?.arrayValue?.compactMap(\.doubleValue) == [0.5, 2])
        #expect(result["attrs"]?["vars.name"]?.stringValue == "dense")
        #expect(result["attrs"]?["root.name"]?.stringValue == "sequential \u{e9}")
        for (check, value) in try #require(result["type_checks"]?.objectValue) {
            #expect(value == .array([.bool(true), .bool(true)]), "type of \(check) differs from h5py's")
        }
    }

    @Test("Keras fixtures copied through this binding are identical for h5py (values, shapes, dtypes, attribute types)", .requires(.h5py))
    func h5pyCopyCheck() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        var pairs: [String] = []
        for c in KerasCase.all() where c.member == nil {
            let copy = dir.appendingPathComponent(c.url.lastPathComponent).path
            try copyHDF5(try HDF5File.open(path: c.url.path), to: copy)
            pairs += [c.url.path, copy]
        }
        #expect(pairs.count >= 8)
        let script = #"""
import hashlib, json, sys
import h5py, numpy as np
def dump(path):
    out = {}
    with h5py.File(path, "r") as f:
        def one(name, obj):
            attrs = {}
            for k in obj.attrs:
                aid = obj.attrs.get_id(k)
                t = aid.get_type()
                desc = [t.get_class(), aid.shape]
                if isinstance(t, h5py.h5t.TypeStringID):
                    desc += [t.is_variable_str(), t.get_cset(), t.get_strpad(), None if t.is_variable_str() else t.get_size()]
                else:
                    desc += [t.get_size(), t.get_order()]
                v = obj.attrs[k]
                attrs[k] = [desc, repr(v.tolist() if isinstance(v, np.ndarray) else v)]
            entry = {"kind": type(obj).__name__, "attrs": attrs}
            if isinstance(obj, h5py.Dataset):
                a = np.ascontiguousarray(obj[()])
                entry.update(dtype=str(obj.dtype), shape=list(obj.shape), sha=hashlib.sha256(a.tobytes()).hexdigest(),
                             type=[obj.id.get_type().get_class(), obj.id.get_type().get_size()])
            out[name] = entry
        one("/", f)
        f.visititems(one)
    return out
args = sys.argv[1:]
diffs = []
for a, b in zip(args[::2], args[1::2]):
    da, db = dump(a), dump(b)
    if da != db:
        for k in sorted(set(da) | set(db)):
            if da.get(k) != db.get(k):
                diffs.append([a, k, da.get(k), db.get(k)])
print(json.dumps({"compared": len(args) // 2, "diffs": diffs[:20]}, default=str))
"""#
        let output = try TestEnv.python(script, pairs)
        let result = try JSONParser.parse(output)
        #expect(result["compared"]?.intValue == pairs.count / 2)
        #expect(result["diffs"] == .array([]), "\(output)")
    }

    @Test("streamed writes in ranges equal one whole write")
    func rangedWrites() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let shape = [7, 3, 5]
        let count = shape.reduce(1, *)
        var rng = SeededRNG(seed: 3)
        let bytes = (0..<(count * 4)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
        let a = dir.appendingPathComponent("a.h5").path
        let b = dir.appendingPathComponent("b.h5").path
        do {
            let f = try HDF5File.create(path: a)
            let d = try f.root().createDataset("t", dtype: .float32, shape: shape)
            try bytes.withUnsafeBytes { try d.write($0) }
            try f.close()
        }
        do {
            let f = try HDF5File.create(path: b)
            let d = try f.root().createDataset("t", dtype: .float32, shape: shape)
            var start = 0
            while start < count {
                let end = min(count, start + 1 + Int(rng.next() % 17))
                try bytes[(start * 4)..<(end * 4)].withUnsafeBytes { try d.write(elements: start..<end, from: $0) }
                start = end
            }
            try f.close()
            try f.close() // harmless
        }
        #expect(try HDF5File.open(path: a).dataset("t").read() == bytes)
        #expect(try HDF5File.open(path: b).dataset("t").read() == bytes)
        // Deterministic output: no timestamps.
        #expect(try Data(contentsOf: URL(fileURLWithPath: a)) == Data(contentsOf: URL(fileURLWithPath: b)))
    }

    @Test("bad write arguments are refused")
    func badWrites() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let f = try HDF5File.create(path: dir.appendingPathComponent("x.h5").path)
        let root = try f.root()
        for name in ["", ".", "a/b", "nul\u{0}"] {
            try expectCode(.invalidArgument, name) { _ = try root.createGroup(name) }
        }
        try expectCode(.invalidArgument) { _ = try root.createDataset("d", dtype: .int8, shape: [-1]) }
        let d = try root.createDataset("d", dtype: .int16, shape: [4])
        try expectCode(.invalidArgument) { try [UInt8](repeating: 0, count: 7).withUnsafeBytes { try d.write($0) } }
        try expectCode(.invalidArgument) {
            try [UInt8](repeating: 0, count: 4).withUnsafeBytes { try d.write(elements: 3..<5, from: $0) }
        }
        try expectCode(.invalidHDF5) { _ = try root.createGroup("d") } // exists
        try expectCode(.invalidArgument) { try root.setAttribute("s", string: "a\u{0}b") }
        try expectCode(.invalidArgument) { try root.setAttribute("n", dtype: .int32, shape: [2], littleEndianBytes: [1]) }
        try root.setAttribute("twice", string: "one")
        try root.setAttribute("twice", string: "two")
        #expect(try root.stringAttribute("twice") == "two")
        try f.close()
        try expectCode(.io) { _ = try HDF5File.create(path: "/nonexistent/dir/x.h5") }
    }
}

struct HDF5Sample {
    var tensors: [String: (DType, [Int], [UInt8])]
}

/// Writes a Keras-like file with every dtype, streamed in ranges, and the attribute kinds Keras uses.
func writeSample(_ path: String) throws -> HDF5Sample {
    var rng = SeededRNG(seed: 11)
    var tensors: [String: (DType, [Int], [UInt8])] = [:]
    let shapes: [DType: [Int]] = [.float32: [4, 6], .float64: [3], .float16: [2, 5], .bfloat16: [9], .bool: [3, 3],
                                  .int8: [5], .int16: [2, 2], .int32: [7], .int64: [1, 2, 3], .uint8: [4],
                                  .uint16: [3], .uint32: [2], .uint64: [2]]
    for (dtype, shape) in shapes {
        let n = shape.reduce(1, *) * dtype.itemSize
        var bytes = (0..<n).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
        if dtype == .bool { bytes = bytes.map { $0 & 1 } }
        if dtype == .float16 || dtype == .bfloat16 {
            for i in stride(from: 1, to: n, by: 2) { bytes[i] &= 0x3F } // finite values
        }
        tensors[dtype.rawValue] = (dtype, shape, bytes)
    }
    tensors["scalar"] = (.int64, [], [42, 0, 0, 0, 0, 0, 0, 0])
    tensors["empty"] = (.float32, [0, 3], [])

    let file = try HDF5File.create(path: path)
    let root = try file.root()
    let vars = try root.requireGroup("layers/dense/vars")
    try vars.setAttribute("name", string: "dense")
    for (name, (dtype, shape, bytes)) in tensors.sorted(by: { $0.key < $1.key }) {
        let d = try vars.createDataset(name, dtype: dtype, shape: shape)
        let count = shape.reduce(1, *)
        var start = 0
        while start < count {
            let end = min(count, start + 4)
            try bytes[(start * dtype.itemSize)..<(end * dtype.itemSize)].withUnsafeBytes {
                try d.write(elements: start..<end, from: $0)
            }
            start = end
        }
    }
    try root.createGroup("vars").setAttribute("name", string: "sequential \u{e9}")
    try root.setAttribute("layer_names", strings: ["dense", "dense_1", ""], storage: .fixedLength)
    try root.setAttribute("weight_names", strings: ["dense/kernel:0", "dense/bias:0"], storage: .variableLength(.utf8))
    try root.setAttribute("model_config", string: "{\"a\": 1}", charset: .ascii)
    try root.setAttribute("empty_weights", dtype: .float64, shape: [0], littleEndianBytes: [])
    try root.setAttribute("scale", dtype: .float32, shape: [2], littleEndianBytes: [0, 0, 0, 0x3F, 0, 0, 0, 0x40])
    try file.close()
    return HDF5Sample(tensors: tensors)
}

/// Rewrites `source` at `path` through the write API: groups, datasets (streamed in 64 KiB pieces)
/// and attributes, keeping each attribute's storage (variable/fixed length, charset, shape).
func copyHDF5(_ source: HDF5File, to path: String) throws {
    let out = try HDF5File.create(path: path)
    let root = try out.root()
    for node in try source.walk() {
        let object = try #require(try source.object(node.path))
        let target: HDF5Object
        switch node.kind {
        case .group:
            target = node.path == "/" ? root : try root.requireGroup(node.path)
        case .dataset:
            let d = try #require(object as? HDF5Dataset)
            let info = try d.info()
            let parts = node.path.split(separator: "/").map(String.init)
            let parent = try root.requireGroup(parts.dropLast().joined(separator: "/"))
            let created = try parent.createDataset(parts[parts.count - 1], dtype: info.dtype, shape: info.shape)
            var start = 0
            try d.read(chunkBytes: 1 << 16) { piece in
                let n = piece.count / info.dtype.itemSize
                try created.write(elements: start..<(start + n), from: piece)
                start += n
            }
            target = created
        default:
            continue
        }
        for name in try object.attributeNames() {
            let a = try #require(try object.attribute(name))
            switch a.value {
            case .strings(let s):
                if a.shape == [] {
                    try target.setAttribute(a.name, string: s[0], charset: a.type.charset ?? .ascii)
                } else {
                    try target.setAttribute(a.name, strings: s, storage: a.type.isVariableLengthString
                        ? .variableLength(a.type.charset ?? .ascii) : .fixedLength)
                }
            case .numbers(let dtype, let bytes):
                try target.setAttribute(a.name, dtype: dtype, shape: a.shape ?? [], littleEndianBytes: bytes)
            case .empty:
                continue
            }
        }
    }
    try out.close()
}
