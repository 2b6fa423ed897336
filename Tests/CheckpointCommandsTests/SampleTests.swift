import Foundation
import Testing
import CheckpointTestSupport
@testable import CheckpointCommands
@testable import CheckpointKit

/// Every sample opens in independent readers, and what they read is what `ckpt` reports.
@Suite("Samples")
struct SampleTests {
    static let samples = ["Samples/mlp.ckpt", "Samples/mlp-weights.ckpt"]

    @Test("unzip -t opens every sample", .requires(.unzip), arguments: samples)
    func unzipOpens(_ sample: String) throws {
        let (status, out) = try TestEnv.run("unzip", ["-t", CLI.path(sample)])
        #expect(status == 0 && out.contains("No errors detected"), "\(out)")
        #expect(out.contains("testing: manifest.json"), "\(out)")
    }

    @Test("Python zipfile and numpy.load open every sample; numpy's arrays equal ckpt's --json values", .requires(.numpy), arguments: samples)
    func numpyAgrees(_ sample: String) throws {
        let path = CLI.path(sample)
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
        let out = try TestEnv.python(script, [path])
        let numpy = try JSONParser.parse(out.trimmingCharacters(in: .whitespacesAndNewlines))
        #expect(numpy.objectValue?.count == archive.index.tensors.count)
        #expect(!archive.index.tensors.isEmpty)
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
