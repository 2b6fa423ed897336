import Foundation
import Testing
import CheckpointTestSupport
@testable import CheckpointCommands
@testable import CheckpointKit

/// Issue 14's conversion matrix: every readable format × every writable format, from files their
/// real producers wrote (Keras 3.15, tf.keras, numpy, safetensors, PyTorch, TensorFlow, llama.cpp's
/// gguf), full (with optimizer) and weights-only. A conversion exits 0 only when `inspect --json
/// --verify` of the output equals the source's on kind, names, dtypes, shapes, the SHA-256 of every
/// tensor, roles, trainability, metadata, optimizer class and step — except what the destination
/// cannot hold, each item of which the convert notes name — or it exits 2 with one sentence and
/// writes nothing. A destination without an architecture is inspected with the source's
/// (`--architecture`, as its note says). The reference readers then read every output equal
/// (``ConversionMatrixTests/referenceReaders()``).
///
/// The matrix (`=` kept whole; `=, noted: …` kept but for the parts named; `refused: …` exit 2):
///
/// | source (producer) | .ckpt | .npz | .safetensors | .keras | .weights.h5 | TF checkpoint |
/// | --- | --- | --- | --- | --- | --- | --- |
/// | mlp.keras (Keras 3, Adam) | = | = | = | = | =, noted: optimizer config, architecture, metadata | =, noted: optimizer config, architecture, metadata |
/// | strip of it, .keras (ckpt strip) | = | = | = | = | =, noted: architecture, metadata | =, noted: architecture, metadata |
/// | full .ckpt (ckpt convert of mlp.keras) | = | = | = | = | =, noted: optimizer config, architecture, metadata | =, noted: optimizer config, architecture, metadata |
/// | weights-only .ckpt (ckpt strip) | = | = | = | refused: no architecture | refused: no architecture | =, noted: metadata |
/// | mlp.weights.h5 (Keras 3, Adam) | = | = | = | refused: no architecture | refused: no architecture | =, noted: optimizer config, optimizer step |
/// | mlp_no_optimizer.weights.h5 (Keras 3) | = | = | = | refused: no architecture | refused: no architecture | = |
/// | mlp_legacy.h5 (tf.keras, Adam) | = | = | = | = (Keras 3 names), noted: metadata | =, noted: optimizer config, architecture, metadata | =, noted: optimizer config, architecture, metadata |
/// | mlp_legacy_weights.h5 (tf.keras) | = | = | = | refused: no architecture | refused: no architecture | =, noted: metadata |
/// | weights.npz (numpy) | = | = | = | refused: no architecture | refused: no architecture | = |
/// | fortran.npz, big_endian_compressed.npz (numpy) | = | = | = | refused: no architecture | refused: no architecture | = |
/// | weights.safetensors (safetensors) | = | = | = | refused: no architecture | refused: no architecture | = |
/// | bf16.safetensors (safetensors) | = | =, noted: numpy sees raw bits | = | refused: no architecture | refused: no architecture | =, noted: metadata |
/// | training_checkpoint.pt (PyTorch, Adam) | = | = | = | refused: no architecture | refused: no architecture | =, noted: optimizer config, optimizer step, metadata |
/// | mlp_state_dict.pt (PyTorch) | = | = | = | refused: no architecture | refused: no architecture | = |
/// | mlp_weights (tf.keras checkpoint, Adam) | = | = | = | refused: no architecture | refused: no architecture | =, noted: optimizer config |
/// | mlp_full (tf.keras SavedModel, Adam) | = | = | = | = (Keras 3 names), noted: metadata | =, noted: optimizer config, architecture, metadata | =, noted: optimizer config, architecture, metadata |
/// | tiny_llama.gguf (quantized) | refused: quantized | refused: quantized | refused: quantized | refused: quantized | refused: quantized | refused: quantized |
///
/// "refused: no architecture": a Keras file is laid out by the architecture (`--architecture`
/// gives it); "refused: quantized": `--dequantize` writes float32, with a note. "optimizer step":
/// a TF checkpoint keeps the step only as an `optimizer/iteration` tensor (PyTorch keeps it per
/// parameter; a .weights.h5 read without an architecture names it `optimizer/vars/0`), and the
/// note says so. "(Keras 3 names)": a tf.keras model written as a .keras is migrated to Keras 3,
/// whose variable names differ: its weights are compared by value. Safetensors has no tensor order
/// (its header is a JSON object), so names compare as a set; metadata compares as "every source
/// key kept" (PyTorch's conversion adds `format: pt`, as `save_pretrained` does).
@Suite("Conversion matrix (issue 14)", .requires(.hdf5), .serialized)
struct ConversionMatrixTests {
    struct Source: Sendable, CustomStringConvertible {
        let label: String
        let path: String
        var description: String { label }
    }

    /// Destinations: label, output name, extra convert arguments.
    static let destinations: [(String, String, [String])] = [
        ("ckpt", "out.ckpt", []), ("npz", "out.npz", []), ("safetensors", "out.safetensors", []),
        ("keras", "out.keras", []), ("weights.h5", "out.weights.h5", []), ("tf", "out-tf", ["--to", "tf-checkpoint"]),
    ]

    static func fixture(_ p: String) -> String { TestEnv.fixture(p) }

    static let realSources: [Source] = [
        Source(label: "mlp.keras", path: fixture("keras/mlp/mlp.keras")),
        Source(label: "mlp.weights.h5", path: fixture("keras/mlp/mlp.weights.h5")),
        Source(label: "mlp_no_optimizer.weights.h5", path: fixture("keras/mlp/mlp_no_optimizer.weights.h5")),
        Source(label: "mlp_legacy.h5", path: fixture("keras/mlp/mlp_legacy.h5")),
        Source(label: "mlp_legacy_weights.h5", path: fixture("keras/mlp/mlp_legacy_weights.h5")),
        Source(label: "weights.npz", path: fixture("keras/mlp/weights.npz")),
        Source(label: "fortran.npz", path: fixture("formats/npz/fortran.npz")),
        Source(label: "big_endian_compressed.npz", path: fixture("formats/npz/big_endian_compressed.npz")),
        Source(label: "weights.safetensors", path: fixture("keras/mlp/weights.safetensors")),
        Source(label: "bf16.safetensors", path: fixture("formats/safetensors/bf16.safetensors")),
        Source(label: "training_checkpoint.pt", path: fixture("pytorch/training_checkpoint.pt")),
        Source(label: "mlp_state_dict.pt", path: fixture("pytorch/mlp_state_dict.pt")),
        Source(label: "mlp_weights (tf)", path: fixture("tensorflow/mlp/mlp_weights.index")),
        Source(label: "mlp_full (saved model)", path: fixture("tensorflow/mlp/mlp_full")),
        Source(label: "tiny_llama.gguf", path: fixture("gguf/tiny_llama.gguf")),
    ]

    /// What `inspect --json --verify` says, reduced to what a conversion must keep.
    struct Seen: Equatable, CustomStringConvertible {
        struct Tensor: Equatable {
            var dtype: String, shape: [Int], sha256: String, role: String, trainable: Bool?
        }
        var kind: String
        var optimizer: String?
        var step: Int64?
        var architecture: Bool
        var metadata: JSONValue
        var names: [String]
        var tensors: [String: Tensor]
        var description: String { "\(kind) \(optimizer ?? "-")@\(step.map(String.init) ?? "-") \(names.count) tensors" }

        init(_ json: JSONValue) {
            kind = json["kind"]?.stringValue ?? "?"
            optimizer = json["optimizer"]?["class_name"]?.stringValue
            step = json["optimizer"]?["iterations"]?.int64Value
            architecture = json["architecture"].map { $0 != .null } ?? false
            metadata = json["metadata"] ?? .null
            var names: [String] = []
            var tensors: [String: Tensor] = [:]
            for t in json["tensors"]?.arrayValue ?? [] {
                let name = t["name"]?.stringValue ?? "?"
                names.append(name)
                tensors[name] = Tensor(dtype: t["dtype"]?.stringValue ?? "?", shape: (t["shape"]?.arrayValue ?? []).compactMap { $0.int64Value.map(Int.init) },
                                       sha256: t["sha256"]?.stringValue ?? "?", role: t["role"]?.stringValue ?? "?", trainable: t["trainable"]?.boolValue)
            }
            self.names = names
            self.tensors = tensors
        }
    }

    static func inspect(_ path: String, architecture: String? = nil) throws -> Seen {
        var args = ["inspect", "--json", "--verify", path]
        if let architecture { args += ["--architecture", architecture] }
        let r = CLI.run(args)
        guard r.status == 0 else { throw ProcessFailure("inspect \(path): \(r.err)") }
        return Seen(try JSONParser.parse(Array(r.out.utf8)))
    }

    /// The differences between `source` and `output` that are not errors only when noted, each
    /// with the word a note must use; anything else (a name, dtype, shape or byte changed) is
    /// returned in `wrong`. `parts` is what the destination holds; `migrated`: a Keras 2 source
    /// written as Keras 3, whose names change (compared by value instead).
    static func compare(_ a: Seen, _ b: Seen, parts: FormatParts, migrated: Bool) -> (losses: [String: String], wrong: [String]) {
        var losses: [String: String] = [:]
        var wrong: [String] = []
        let droppedOptimizer = parts.contains(.optimizerState) ? [] : a.names.filter { a.tensors[$0]?.role == "optimizer" }
        if !droppedOptimizer.isEmpty { losses["optimizer tensors"] = "optimizer tensor" }
        if a.optimizer != nil && (!parts.contains(.optimizerConfig) || b.optimizer == nil) && droppedOptimizer.isEmpty { losses["optimizer config"] = "optimizer" }
        if a.architecture && (!parts.contains(.architecture) || !b.architecture) { losses["architecture"] = "architecture" }
        let ma = a.metadata.objectValue ?? [], mb = b.metadata.objectValue ?? []
        if !ma.allSatisfy({ kv in mb.contains { $0.0 == kv.0 && $0.1 == kv.1 } }) { losses["metadata"] = "metadata" }
        let kept = a.names.filter { !droppedOptimizer.contains($0) }
        if migrated {
            func weights(_ s: Seen) -> [String] {
                s.names.compactMap { n in s.tensors[n].flatMap { $0.role == "weight" ? "\($0.dtype) \($0.shape) \($0.sha256)" : nil } }.sorted()
            }
            if weights(a) != weights(b) { wrong.append("the weights' values differ after migration") }
        } else {
            // Safetensors has no tensor order (its header is a JSON object): names compare as a set.
            if b.names.sorted() != kept.sorted() { wrong.append("names \(b.names.prefix(6)) where the source has \(kept.prefix(6))") }
            for n in kept {
                guard let x = a.tensors[n], let y = b.tensors[n] else { continue }
                if x.dtype != y.dtype || x.shape != y.shape || x.sha256 != y.sha256 || x.role != y.role {
                    wrong.append("\(n): \(y.dtype) \(y.shape) \(y.role) \(y.sha256.prefix(8)) where the source has \(x.dtype) \(x.shape) \(x.role) \(x.sha256.prefix(8))")
                }
                if let tx = x.trainable, let ty = y.trainable, tx != ty { losses["trainability"] = "trainable" }
            }
        }
        if a.optimizer != nil, droppedOptimizer.isEmpty, a.optimizer != b.optimizer || a.step != b.step {
            losses["optimizer step"] = "step"
        }
        if a.kind != b.kind && droppedOptimizer.isEmpty && losses["optimizer step"] == nil { wrong.append("kind \(b.kind) where the source is \(a.kind)") }
        return (losses, wrong)
    }

    /// One cell: convert, then check the output against the source. Returns the cell's text.
    static func cell(_ source: String, _ seen: Seen, architecture: String?, keras2: Bool, to dest: (String, String, [String]), in dir: String) throws -> String {
        let out = dir + "/" + dest.1
        let r = CLI.run(["convert", source, out, "--force"] + dest.2)
        let written = FileManager.default.fileExists(atPath: out) || FileManager.default.fileExists(atPath: out + ".index")
        guard r.status == 0 else {
            #expect(r.status == 2, "\(dest.0): \(r.err)")
            let errors = r.err.split(separator: "\n").filter { $0.hasPrefix("ckpt: error:") }
            #expect(errors.count == 1 && errors[0].hasSuffix("."), "\(dest.0): \(r.err)")
            #expect(!written, "\(dest.0): refused, yet an output was written")
            if r.err.contains("quantized") { return "refused: quantized" }
            if r.err.contains("architecture") { return "refused: no architecture" }
            return "refused: " + (errors.first.map(String.init) ?? r.err)
        }
        let notes = r.err.split(separator: "\n").filter { $0.hasPrefix("note:") }.joined(separator: "\n")
        let parts = FormatRegistry.all.first { $0.id.rawValue == (dest.0 == "tf" ? "tf-checkpoint" : dest.0) }?.parts ?? []
        let back = try inspect(out, architecture: parts.contains(.architecture) ? nil : architecture)
        let migrated = keras2 && dest.0 == "keras"
        let (losses, wrong) = compare(seen, back, parts: parts, migrated: migrated)
        #expect(wrong.isEmpty, "\(dest.0): \(wrong.joined(separator: "; "))")
        for (what, word) in losses.sorted(by: { $0.key < $1.key }) {
            #expect(notes.contains(word), "\(dest.0): \(what) lost without a note naming it; notes: \(notes)")
        }
        if dest.0 == "npz" && seen.tensors.values.contains(where: { ["bfloat16"].contains($0.dtype) || $0.dtype.hasPrefix("float8") }) {
            #expect(notes.contains("numpy has no dtype"))
            return "=, noted: numpy sees raw bits"
        }
        let named = losses.keys.filter { $0 != "optimizer tensors" }.sorted { Self.order($0) < Self.order($1) }
        let head = migrated ? "= (Keras 3 names)" : "="
        return named.isEmpty ? head : head + ", noted: " + named.joined(separator: ", ")
    }

    static func order(_ loss: String) -> Int { ["optimizer config", "optimizer step", "architecture", "metadata", "trainability"].firstIndex(of: loss) ?? 9 }

    /// The table above, as the test finds it.
    static let expected: [String: [String]] = {
        let all = ["=", "=", "=", "=", "=, noted: optimizer config, architecture, metadata", "=, noted: optimizer config, architecture, metadata"]
        let noArch = ["refused: no architecture", "refused: no architecture"]
        return [
            "mlp.keras": all,
            "strip of mlp.keras": ["=", "=", "=", "=", "=, noted: architecture, metadata", "=, noted: architecture, metadata"],
            "full.ckpt": all,
            "weights-only.ckpt": ["=", "=", "="] + noArch + ["=, noted: metadata"],
            "mlp.weights.h5": ["=", "=", "="] + noArch + ["=, noted: optimizer config, optimizer step"],
            "mlp_no_optimizer.weights.h5": ["=", "=", "="] + noArch + ["="],
            "mlp_legacy.h5": ["=", "=", "=", "= (Keras 3 names), noted: metadata", all[4], all[5]],
            "mlp_legacy_weights.h5": ["=", "=", "="] + noArch + ["=, noted: metadata"],
            "weights.npz": ["=", "=", "="] + noArch + ["="],
            "fortran.npz": ["=", "=", "="] + noArch + ["="],
            "big_endian_compressed.npz": ["=", "=", "="] + noArch + ["="],
            "weights.safetensors": ["=", "=", "="] + noArch + ["="],
            "bf16.safetensors": ["=", "=, noted: numpy sees raw bits", "="] + noArch + ["=, noted: metadata"],
            "training_checkpoint.pt": ["=", "=", "="] + noArch + ["=, noted: optimizer config, optimizer step, metadata"],
            "mlp_state_dict.pt": ["=", "=", "="] + noArch + ["="],
            "mlp_weights (tf)": ["=", "=", "="] + noArch + ["=, noted: optimizer config"],
            "mlp_full (saved model)": ["=", "=", "=", "= (Keras 3 names), noted: metadata", all[4], all[5]],
            "tiny_llama.gguf": [String](repeating: "refused: quantized", count: 6),
        ]
    }()

    /// The sources: the real producers' files, and what ckpt makes of mlp.keras (a full and a
    /// weights-only .ckpt, a weights-only .keras).
    static func sources(in dir: String) throws -> [Source] {
        let keras = fixture("keras/mlp/mlp.keras")
        for (args, _) in [(["convert", keras, dir + "/full.ckpt"], 0), (["strip", dir + "/full.ckpt", "-o", dir + "/weights-only.ckpt"], 0),
                          (["strip", keras, "-o", dir + "/stripped.keras"], 0)] {
            let r = CLI.run(args)
            guard r.status == 0 else { throw ProcessFailure("\(args): \(r.err)") }
        }
        return [Source(label: "strip of mlp.keras", path: dir + "/stripped.keras"), Source(label: "full.ckpt", path: dir + "/full.ckpt"),
                Source(label: "weights-only.ckpt", path: dir + "/weights-only.ckpt")] + realSources
    }

    @Test("Every readable format × every writable format, full and weights-only: kept, noted, or refused by name")
    func matrix() throws {
        let dir = try TestEnv.temporaryDirectory()
        defer { TestEnv.cleanup(dir) }
        var table: [String] = []
        for source in try Self.sources(in: dir) {
            let seen = try Self.inspect(source.path)
            var architecture: String?
            let opened = try Checkpoints.open(source.path)
            if seen.architecture, let bytes = opened.index.architecture {
                architecture = dir + "/architecture.json"
                try TestEnv.write(bytes, to: dir + "/architecture.json")
            }
            let keras2 = opened.index.architecture.flatMap { try? KerasArchitecture(bytes: $0) }?.dialect == .keras2
            var row: [String] = []
            for dest in Self.destinations {
                let cellDir = dir + "/cell"
                try? FileManager.default.removeItem(atPath: cellDir)
                try FileManager.default.createDirectory(atPath: cellDir, withIntermediateDirectories: true)
                row.append(try Self.cell(source.path, seen, architecture: architecture, keras2: keras2, to: dest, in: cellDir))
            }
            #expect(row == Self.expected[source.label], "\(source.label): \(row)")
            table.append("| \(source.label) | " + row.joined(separator: " | ") + " |")
        }
        #expect(table.count == Self.expected.count, "\(table.joined(separator: "\n"))")
    }
}

/// The reference readers on what `ckpt convert` writes: numpy.load (.npz), safetensors with
/// ml_dtypes (.safetensors), h5py (.weights.h5 and the .keras member), Keras 3 load_model (.keras:
/// weights and the optimizer's step). Each reads every tensor with the bytes `inspect --verify`
/// hashes (C order, little-endian); a dtype numpy lacks is seen as the unsigned integer of its width.
@Suite("Conversion outputs read by the reference readers (issue 14)", .requires(.hdf5, .numpy, .safetensors, .h5py, .keras))
struct ConversionReferenceReaderTests {
    static let script = #"""
import sys, json, hashlib, zipfile, io
import numpy as np, ml_dtypes  # ml_dtypes: safetensors' numpy reader needs it for BF16
def sha(a):
    a = np.ascontiguousarray(a)
    if a.dtype.byteorder == '>': a = a.astype(a.dtype.newbyteorder('<'))
    return hashlib.sha256(a.tobytes()).hexdigest()
out = {}
for kind, path in zip(sys.argv[1::2], sys.argv[2::2]):
    seen = {}
    if kind == 'npz':
        with np.load(path) as z:
            for k in z.files: seen[k] = [z[k].dtype.name, list(z[k].shape), sha(z[k])]
    elif kind == 'safetensors':
        from safetensors import safe_open
        with safe_open(path, framework='numpy') as f:
            for k in f.keys():
                a = f.get_tensor(k); seen[k] = [a.dtype.name, list(a.shape), sha(a)]
    elif kind in ('weights.h5', 'keras'):
        import h5py
        src = io.BytesIO(zipfile.ZipFile(path).read('model.weights.h5')) if kind == 'keras' else path
        with h5py.File(src, 'r') as h:
            def visit(name, obj):
                if isinstance(obj, h5py.Dataset): seen[name] = [obj.dtype.name, list(obj.shape), sha(obj[()])]
            h.visititems(visit)
        if kind == 'keras':
            import keras
            m = keras.saving.load_model(path)
            seen['@keras_weights'] = sorted(sha(np.asarray(v)) for v in m.weights)
            seen['@keras_step'] = int(m.optimizer.iterations.numpy()) if getattr(m, 'optimizer', None) is not None else None
    out[path] = seen
print(json.dumps(out))
"""#

    @Test("numpy, safetensors, h5py and Keras read every output equal to what ckpt reads")
    func referenceReaders() throws {
        let dir = try TestEnv.temporaryDirectory()
        defer { TestEnv.cleanup(dir) }
        let f = ConversionMatrixTests.fixture
        let sources = [f("keras/mlp/mlp.keras"), f("keras/mlp/weights.npz"), f("formats/safetensors/bf16.safetensors"),
                       f("formats/npz/fortran.npz"), f("formats/npz/big_endian_compressed.npz"), f("pytorch/training_checkpoint.pt")]
        var args: [String] = []
        var ours: [String: ConversionMatrixTests.Seen] = [:]
        for (k, source) in sources.enumerated() {
            for ext in ["npz", "safetensors", "weights.h5", "keras"] {
                let out = dir + "/\(k).\(ext)"
                let r = CLI.run(["convert", source, out])
                if r.status != 0 { continue } // refusals are the matrix's business
                args += [ext, out]
                ours[out] = try ConversionMatrixTests.inspect(out)
            }
        }
        #expect(args.count / 2 >= 14)
        let text = try TestEnv.python(Self.script, args)
        let theirs = try JSONParser.parse(Array(text.utf8))
        for (out, seen) in ours {
            let kind = out.hasSuffix(".keras") ? "keras" : out.hasSuffix(".weights.h5") ? "weights.h5" : out.hasSuffix(".npz") ? "npz" : "safetensors"
            guard let read = theirs[out]?.objectValue else {
                Issue.record("\(out): not read")
                continue
            }
            let datasets = read.filter { !$0.0.hasPrefix("@") }
            switch kind {
            case "npz", "safetensors":
                #expect(Set(datasets.map(\.0)) == Set(seen.names), "\(out)")
                for (name, v) in datasets {
                    guard let t = seen.tensors[name], let a = v.arrayValue, a.count == 3 else { continue }
                    let dtype = a[0].stringValue ?? "?"
                    let raw = DType(rawValue: t.dtype)?.numpyLacks == true && kind == "npz"
                    #expect(dtype == t.dtype || (raw && dtype == IndexSidecar.rawBitsDType(ofWidth: DType(rawValue: t.dtype)?.itemSize ?? 0)?.rawValue),
                            "\(out) \(name): the reader sees \(dtype), ckpt \(t.dtype)")
                    #expect(a[1].arrayValue?.compactMap { $0.int64Value.map(Int.init) } == t.shape, "\(out) \(name)")
                    #expect(a[2].stringValue == t.sha256, "\(out) \(name): bytes differ")
                }
            default:
                // h5py sees the datasets under Keras's layout names: the bytes match as a multiset.
                let hashes = datasets.compactMap { $0.1.arrayValue?[2].stringValue }.sorted()
                #expect(hashes == seen.tensors.values.map(\.sha256).sorted(), "\(out): h5py reads other bytes")
                if kind == "keras" {
                    let weights = seen.tensors.values.filter { $0.role == "weight" }.map(\.sha256).sorted()
                    #expect(read.first { $0.0 == "@keras_weights" }?.1.arrayValue?.compactMap(\.stringValue) == weights, "\(out): Keras loads other weights")
                    let step = read.first { $0.0 == "@keras_step" }?.1.int64Value
                    #expect(step == seen.step, "\(out): Keras's optimizer.iterations is \(step.map(String.init) ?? "none"), ckpt's step \(seen.step.map(String.init) ?? "none")")
                }
            }
        }
    }
}
