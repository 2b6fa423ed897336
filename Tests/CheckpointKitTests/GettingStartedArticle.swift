// Generated from Sources/CheckpointKit/CheckpointKit.docc/GettingStarted.md by GettingStartedTests (CKPT_RECORD_GOLDEN=1 rewrites it).
// Do not edit: edit the article.

import Foundation
@testable import CheckpointKit

enum GettingStartedArticle {
    static let expectations = 11

    static func run(_ article: ArticleRun) throws {
        func here(_ name: String) -> String { article.here(name) }
        func print(_ items: Any..., expect: String? = nil, line: Int = #line) { article.printed(items, expect: expect, line: line) }

        // MARK: Read

        let source = try Checkpoints.open(here("Samples/mlp.ckpt"))
        let index = source.index
        print(index.kind, expect: #".full"#)
        print(index.optimizer?.className ?? "-", expect: #""Adam""#)
        for t in index.tensors where t.role == .weight {
            print(t.name, t.dtype, t.shape, t.trainable, expect: #"dense/kernel float32 [784, 128] true"#)
        }

        // One tensor's bytes (little-endian, C order), checked against the file's CRC-32.
        let k = source.tensorIndex(named: "dense/bias")!
        let bytes = try source.readTensorBytes(k)
        let values = bytes.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
        print(values.count, expect: #"128"#)

        // Or stream a large one piece by piece, with bounded memory.
        try source.readTensor(k) { chunk in /* chunk: UnsafeRawBufferPointer */ }
        let stats = try TensorStats.compute(source, tensor: k)
        print(stats.min ?? 0, stats.max ?? 0, stats.mean ?? 0, stats.std ?? 0, stats.nans)
        if let histogram = stats.histogram(bins: 20) {
            print(histogram.edges.count, histogram.counts.count, expect: #"21 20"#)
        }
        do {
            _ = try Checkpoints.open(here("truncated.ckpt"))
        } catch let error as CheckpointError {
            print(error.code, expect: #".corrupt, .truncated, .notRecognized, ..."#)
            print(error, expect: #"truncated.ckpt: at byte 1000: not a ZIP archive: ..."#)
        }

        // MARK: Write
        do {
            let kernel = TensorInfo(name: "dense/kernel", dtype: .float32, shape: [784, 128])
            let bias = TensorInfo(name: "dense/bias", dtype: .float32, shape: [128])
            let index = CheckpointIndex(tensors: [kernel, bias], metadata: .object([("epoch", .number(3))]))
            try CheckpointWriter.write(index, payloads: [.source(source, source.tensorIndex(named: "dense/kernel")!),
                                                         .fill(withUnsafeBytes(of: Float(0).bitPattern.littleEndian, Array.init))],
                                       to: here("out.ckpt"))
            print(try Checkpoints.open(here("out.ckpt")).index.tensors.map(\.name), expect: #"["dense/kernel", "dense/bias"]"#)
        }

        // MARK: Strip and rebuild
        do {
            // Full → weights-only: weight members are copied as they are (no inflate, no deflate).
            let summary = try Strip.run(try CheckpointArchive(path: here("full.ckpt")), to: here("weights.ckpt"))
            print(summary.removedTensors, summary.keptTensors, expect: #"10 4"#)

            // Weights + model.to_json() + a fresh optimizer → full, exactly as Keras builds it.
            let architecture = Array(try String(contentsOfFile: here("model.json"), encoding: .utf8).utf8)
            let report = try Rebuild.run(weights: try Checkpoints.open(here("weights.ckpt")), architecture: architecture,
                                         optimizer: .named("adam", overrides: [("learning_rate", "0.0003")]), to: here("resumed.ckpt"))
            print(report.optimizerVariables.count, expect: #"10"#)
        }

        // MARK: Diff
        do {
            var options = DiffOptions()
            options.names.stripPrefixes = ["sequential/"]
            let diff = try CheckpointDiff.compare(try Checkpoints.open(here("epoch3.weights.npz")), try Checkpoints.open(here("epoch7.weights.npz")),
                                                  options: options)
            for t in diff.tensors where t.values == .different {
                print(t.name, t.metrics?.maxAbs ?? 0, t.metrics?.meanAbs ?? 0)
            }
            print(diff.verdict, expect: #".different → `ckpt diff` exits 1"#)
        }
    }
}
