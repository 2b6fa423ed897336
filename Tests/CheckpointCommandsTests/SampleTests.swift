import Foundation
import Testing
@testable import CheckpointCommands
@testable import CheckpointKit

/// Every sample opens in independent readers, and what they read is what `ckpt` reports.
@Suite("Samples")
struct SampleTests {
    static let samples = ["Samples/mlp.ckpt", "Samples/mlp-weights.ckpt"]

    @Test("unzip -t, Python zipfile and numpy.load open every sample; numpy's arrays equal ckpt's --json values", arguments: samples)
    func independentReaders(_ sample: String) throws {
        let path = CLI.path(sample)
        if let (status, out) = try CLI.runProcess("unzip", ["-t", path]) {
            #expect(status == 0 && out.contains("No errors detected"), "\(out)")
        }
        // ckpt's values of every tensor, as JSON.
        let archive = try CheckpointArchive(path: path)
        var ours: [String: [JSONValue]] = [:]
        for t in archive.index.tensors {
            let r = CLI.run(["inspect", path, "--tensor", t.name, "--values", "1000000", "--json"])
            #expect(r.status == 0, "\(r.err)")
            ours[t.name] = try JSONParser.parse(r.out)["tensors"]?[0]?["values"]?.arrayValue
            #expect(ours[t.name]?.count == t.elementCount)
        }
        let script = """
        import sys, zipfile, json, numpy as np
        z = zipfile.ZipFile(sys.argv[1]); assert z.testzip() is None
        a = np.load(sys.argv[1])
        out = {}
        for name in a.files:
            if name.endswith('.json'): continue
            x = a[name]
            out[name] = [repr(float(v)) if x.dtype.kind == 'f' else int(v) for v in x.reshape(-1)]
        print(json.dumps(out))
        """
        guard let (status, out) = try CLI.runProcess("python3", ["-c", script, path]), status == 0 else {
            #expect(!CLI.requirePython, "python3 with numpy is required (CKPT_REQUIRE_PYTHON=1)")
            return
        }
        let numpy = try JSONParser.parse(out.trimmingCharacters(in: .whitespacesAndNewlines))
        #expect(numpy.objectValue?.count == archive.index.tensors.count)
        for t in archive.index.tensors {
            let theirs = try #require(numpy[t.name]?.arrayValue, "numpy lacks \(t.name)")
            let mine = try #require(ours[t.name])
            #expect(theirs.count == mine.count)
            for (x, y) in zip(mine, theirs) {
                if t.dtype.isFloatingPoint {
                    // numpy gives the float64 widening of the value; ckpt its shortest float32 text.
                    let py = Double(y.stringValue ?? "") ?? .nan
                    #expect(Float(x.doubleValue ?? .nan) == Float(py), "\(t.name): ckpt \(x), numpy \(py)")
                } else {
                    #expect(x.int64Value == y.int64Value, "\(t.name)")
                }
            }
        }
    }
}
