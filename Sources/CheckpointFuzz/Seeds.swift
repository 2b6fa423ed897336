// Small seed inputs for every target, written by the library's own writers, so the fuzzers start
// from valid files a few KiB long (the Samples are hundreds of KiB: too slow to mutate).
// Tests/Fuzz/run.sh adds the small fixtures under Tests/Fixtures and Samples/; the fuzz regression
// tests check that every seed passes its target without a finding.

import CheckpointKit
import CheckpointSystem

public enum Seeds {
    /// A compiled Keras 3 Sequential model, trimmed (architecture.json of the full seed).
    static let architecture = """
    {"module": "keras", "class_name": "Sequential", "config": {"name": "s", "trainable": true, "dtype": "float32", "layers": [\
    {"module": "keras.layers", "class_name": "InputLayer", "config": {"batch_shape": [null, 3], "dtype": "float32", "name": "input_layer"}},\
    {"module": "keras.layers", "class_name": "Dense", "config": {"name": "dense", "trainable": true, "dtype": "float32", "units": 2, "use_bias": true}, \
    "build_config": {"input_shape": [null, 3]}}]}, "build_config": {"input_shape": [null, 3]}, \
    "compile_config": {"optimizer": {"module": "keras.optimizers", "class_name": "Adam", "config": {"name": "adam", "learning_rate": 0.001, \
    "beta_1": 0.9, "beta_2": 0.999, "epsilon": 1e-07, "amsgrad": false}}}}
    """

    static func le<T: FixedWidthInteger>(_ values: [T]) -> [UInt8] {
        var out: [UInt8] = []
        for v in values { withUnsafeBytes(of: v.littleEndian) { out += $0 } }
        return out
    }

    static func f32(_ values: [Float]) -> [UInt8] { le(values.map(\.bitPattern)) }
    static func f64(_ values: [Double]) -> [UInt8] { le(values.map(\.bitPattern)) }

    /// Numbers that lie: NaN, ±Inf, −0, subnormals, extremes, in every dtype.
    static func weightsIndex() -> (CheckpointIndex, [TensorPayload]) {
        let tensors: [(TensorInfo, [UInt8])] = [
            (TensorInfo(name: "dense/kernel", dtype: .float32, shape: [2, 3]), f32([1, -0.0, .nan, .infinity, -.infinity, .leastNonzeroMagnitude])),
            (TensorInfo(name: "dense/bias", dtype: .float16, shape: [3]), le([UInt16(0x3C00), 0x8000, 0x0001])),
            (TensorInfo(name: "emb/table", dtype: .bfloat16, shape: [2, 2]), le([UInt16(0x3F80), 0x7FC0, 0xFF80, 0x0001])),
            (TensorInfo(name: "bn/moving_mean", dtype: .float64, shape: [], trainable: false), f64([.greatestFiniteMagnitude])),
            (TensorInfo(name: "counts", dtype: .int64, shape: [2]), le([Int64.min, Int64.max])),
            (TensorInfo(name: "mask", dtype: .bool, shape: [3]), [0, 1, 2]),
            (TensorInfo(name: "empty", dtype: .int8, shape: [0, 4]), []),
            (TensorInfo(name: "u/a", dtype: .uint8, shape: [2]), [0, 255]),
            (TensorInfo(name: "u/b", dtype: .uint16, shape: [1]), le([UInt16.max])),
            (TensorInfo(name: "u/c", dtype: .uint32, shape: [1]), le([UInt32.max])),
            (TensorInfo(name: "u/d", dtype: .uint64, shape: [1]), le([UInt64.max])),
            (TensorInfo(name: "i/a", dtype: .int16, shape: [1]), le([Int16.min])),
            (TensorInfo(name: "i/b", dtype: .int32, shape: [1, 1, 1]), le([Int32.min])),
            (TensorInfo(name: "noise", dtype: .uint8, shape: [64]), (0..<64).map { UInt8(truncatingIfNeeded: $0 &* 151 &+ 17) }),
        ]
        return (CheckpointIndex(tensors: tensors.map(\.0), metadata: .object([("epoch", .number(3)), ("note", .string("seed"))])),
                tensors.map { .bytes($0.1) })
    }

    static func fullIndex() -> (CheckpointIndex, [TensorPayload]) {
        let w: [(TensorInfo, [UInt8])] = [
            (TensorInfo(name: "dense/kernel", dtype: .float32, shape: [3, 2]), f32([0.5, -0.25, Float.leastNormalMagnitude / 4, 3, 4, 5])),
            (TensorInfo(name: "dense/bias", dtype: .float32, shape: [2]), f32([0, 0])),
            (TensorInfo(name: "optimizer/iteration", dtype: .int64, shape: [], role: .optimizer), le([Int64(7)])),
            (TensorInfo(name: "optimizer/learning_rate", dtype: .float32, shape: [], role: .optimizer), f32([0.001])),
            (TensorInfo(name: "optimizer/momentum/dense/kernel", dtype: .float32, shape: [3, 2], role: .optimizer, slot: "momentum", weight: "dense/kernel"),
             f32([1, 1, 1, 1, 1, 1])),
            (TensorInfo(name: "optimizer/momentum/dense/bias", dtype: .float32, shape: [2], role: .optimizer, slot: "momentum", weight: "dense/bias"), f32([2, 2])),
        ]
        let opt = OptimizerInfo(className: "Adam", config: .object([("name", .string("adam")), ("learning_rate", .number(0.001))]), iterations: 7)
        return (CheckpointIndex(tensors: w.map(\.0), architecture: Array(architecture.utf8), optimizer: opt), w.map { .bytes($0.1) })
    }

    /// A tensor of two 1 MiB chunks (the chunked read path) that deflates to a few KiB.
    static func chunkedIndex() -> (CheckpointIndex, [TensorPayload]) {
        let big = TensorInfo(name: "big", dtype: .int32, shape: [300_000])
        let small = TensorInfo(name: "small", dtype: .float32, shape: [2])
        return (CheckpointIndex(tensors: [big, small]), [.fill(le([Int32(1)])), .bytes(f32([1, 2]))])
    }

    static func npyHeaders() -> [(String, [UInt8])] {
        var out: [(String, [UInt8])] = []
        for (k, d) in DType.allCases.enumerated() {
            out.append(("\(d.rawValue).npy", NPY.header(dtype: d, shape: [k, 2]) + [UInt8](repeating: 0, count: 2 * k * d.itemSize)))
        }
        func raw(_ dict: String, major: UInt8 = 1) -> [UInt8] {
            var text = Array(dict.utf8)
            let pad = (64 - (text.count + (major == 1 ? 11 : 13)) % 64) % 64
            text += [UInt8](repeating: 0x20, count: pad) + [0x0A]
            var h = NPY.magic + [major, 0]
            if major == 1 { h += le([UInt16(text.count)]) } else { h += le([UInt32(text.count)]) }
            return h + text
        }
        out.append(("fortran.npy", raw("{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3), }")))
        out.append(("v2.npy", raw("{'descr': '<i8', 'fortran_order': False, 'shape': (), }", major: 2)))
        out.append(("object.npy", raw("{'descr': '|O', 'fortran_order': False, 'shape': (3,), }")))
        out.append(("structured.npy", raw("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (1,), }")))
        out.append(("bigendian.npy", raw("{'descr': '>f8', 'fortran_order': False, 'shape': (10L, 1), }")))
        out.append(("negative.npy", raw("{'descr': '<f4', 'fortran_order': False, 'shape': (-1, 2), }")))
        return out
    }

    static func write(_ bytes: [UInt8], to path: String) throws {
        do { try Path.writeFile(path, bytes) } catch { throw CheckpointError(.io, "cannot write the seed file (\(error))", file: path) }
    }

    /// The directories `make(into:)` writes into (the targets' `steps` names), under its `dir`.
    public static var directories: [String] { Set(FuzzTargets.all.map(\.steps)).sorted() }

    /// Writes seeds into `dir/<target>/`; the directories (`directories`) must exist.
    public static func make(into dir: String) throws {
        let made: [(String, (CheckpointIndex, [TensorPayload]))] = [("weights", weightsIndex()), ("full", fullIndex()), ("chunked", chunkedIndex())]
        for (name, (index, payloads)) in made {
            let path = "\(dir)/container/\(name).ckpt"
            Path.unlink(path)
            try CheckpointWriter.write(index, payloads: payloads, to: path)
            let archive = try CheckpointArchive(path: path)
            if let m = archive.zip.entry(named: ContainerSpec.manifestMember) {
                try write(try archive.zip.readMember(m, maxBytes: 1 << 20), to: "\(dir)/json/\(name)-manifest.json")
            }
            if let opt = archive.zip.entry(named: ContainerSpec.optimizerMember) {
                try write(try archive.zip.readMember(opt, maxBytes: 1 << 20), to: "\(dir)/json/\(name)-optimizer.json")
            }
            if name != "chunked" {
                let weights = archive.index.tensors.indices.filter { archive.index.tensors[$0].role == .weight }
                Path.unlink("\(dir)/npz/\(name).npz")
                try NPZWriter.write(archive, tensors: weights, to: "\(dir)/npz/\(name).npz")
                Path.unlink("\(dir)/safetensors/\(name).safetensors")
                try SafetensorsWriter.write(archive, tensors: weights, to: "\(dir)/safetensors/\(name).safetensors")
            }
        }
        // A TensorFlow checkpoint of the full seed (object graph included), its index and object graph.
        let (full, payloads) = fullIndex()
        let tfDir = "\(dir)/tensorflow"
        for f in ["seed.index", "seed.data-00000-of-00001", "checkpoint"] { Path.unlink("\(tfDir)/\(f)") }
        try TFCheckpointWriter.write(ComposedSource(index: full, payloads: payloads, path: "seed", format: .ckpt), to: "\(tfDir)/seed")
        let seed = try TFCheckpointSource(path: "\(tfDir)/seed")
        if let graph = seed.objectGraph { try write(graph.encoded(), to: "\(tfDir)/seed-object-graph.pb") }
        for f in ["seed.data-00000-of-00001", "checkpoint"] { Path.unlink("\(tfDir)/\(f)") }
        try write(Array(architecture.utf8), to: "\(dir)/keras/seed-architecture.json")
        try write(Array(architecture.utf8), to: "\(dir)/json/seed-architecture.json")
        for (name, bytes) in npyHeaders() { try write(bytes, to: "\(dir)/npy/\(name)") }
        for (name, bytes) in deflateSeeds() { try write(bytes, to: "\(dir)/deflate/\(name)") }
        try write(GGUFSeeds.make(bigEndian: false), to: "\(dir)/gguf/every-type.gguf")
        try write(GGUFSeeds.make(bigEndian: true), to: "\(dir)/gguf/every-type-big-endian.gguf")
        if HDF5Library.isAvailable { try hdf5Seed(to: "\(dir)/hdf5/seed.h5") }
    }

    /// A small .weights.h5-like file: groups, string and numeric attributes, datasets of several dtypes.
    static func hdf5Seed(to path: String) throws {
        Path.unlink(path)
        let f = try HDF5File.create(path: path)
        let vars = try f.root().requireGroup("layers/dense/vars")
        try vars.setAttribute("name", string: "dense")
        let (index, payloads) = weightsIndex()
        for (k, t) in index.tensors.prefix(4).enumerated() {
            guard case .bytes(let bytes) = payloads[k] else { continue }
            let d = try vars.createDataset("\(k)", dtype: t.dtype, shape: t.shape)
            try bytes.withUnsafeBytes { try d.write($0) }
        }
        _ = try f.root().requireGroup("optimizer/vars")
        try f.close()
    }
}
