import Foundation
import Testing
import CheckpointTestSupport
@testable import CheckpointCommands
@testable import CheckpointKit

@Suite("HTML reports and terminal histograms")
struct ReportTests {
    static let weights = CLI.path("Samples/mlp-weights.ckpt")
    static let e1 = CLI.path("Tests/Fixtures/keras-epochs/epoch1.weights.npz")
    static let e2 = CLI.path("Tests/Fixtures/keras-epochs/epoch2.weights.npz")

    /// Nothing in the page can reach the network or run code.
    static func expectSelfContained(_ html: String, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(html.hasPrefix("<!DOCTYPE html>"), sourceLocation: sourceLocation)
        for bad in ["<script", "http://", "https://", "src=", "href=", "url(", "@import", "<link", "<iframe", "<img"] {
            #expect(!html.lowercased().contains(bad), "the page contains \(bad)", sourceLocation: sourceLocation)
        }
        #expect(html.contains("Content-Security-Policy") && html.contains("default-src 'none'"), sourceLocation: sourceLocation)
        #expect(!html.contains("\u{1B}"), sourceLocation: sourceLocation)
    }

    @Test("inspect --stats --report -: golden page, self-contained, with charts")
    func inspectGolden() throws {
        let r = CLI.run(["inspect", Self.weights, "--stats", "--report", "-"])
        #expect(r.status == 0, "\(r.err)")
        try CLI.golden("inspect-mlp-weights.html", r.out)
        Self.expectSelfContained(r.out)
        #expect(r.out.contains("<svg id=\"layer-chart\""))
        #expect(r.out.components(separatedBy: "class=\"histogram\"").count - 1 == 4)
        #expect(r.out.contains("<div class=\"n\" id=\"total-params\">101,770</div>"))
        // Deterministic.
        #expect(CLI.run(["inspect", Self.weights, "--stats", "--report", "-"]).out == r.out)
    }

    @Test("diff --report -: golden page with the verdict, per-layer bars and the table")
    func diffGolden() throws {
        let r = CLI.run(["diff", Self.e1, Self.e2, "--report", "-"])
        #expect(r.status == 1, "\(r.err)")
        try CLI.golden("diff-epochs.html", r.out)
        Self.expectSelfContained(r.out)
        #expect(r.out.contains("<b>different</b>: 8 of 13 tensors differ beyond tolerance, 5 identical"))
        #expect(r.out.contains("<svg id=\"layer-change\""))
        #expect(r.out.contains("<tr class=\"s-different\"><td>*</td><td>sequential/dense/kernel</td>"))
        #expect(!r.out.contains("Change by layer  ‖"), "the terminal text is not mixed in")
    }

    @Test("--report FILE: the page in the file, the usual output on stdout; never replaces a non-HTML file")
    func reportFile() throws {
        let dir = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let page = dir + "/r.html"
        let r = CLI.run(["diff", Self.e1, Self.e2, "--report", page])
        #expect(r.status == 1)
        #expect(r.out.contains("Change by layer") && r.err.contains("wrote \(page)"))
        let html = try String(contentsOfFile: page, encoding: .utf8)
        #expect(html == CLI.run(["diff", Self.e1, Self.e2, "--report", "-"]).out.replacingOccurrences(of: "Tests/Fixtures", with: CLI.packageRoot.path + "/Tests/Fixtures"))
        // A second run replaces the earlier report only with --force (issue 16).
        let kept = CLI.run(["inspect", Self.weights, "--report", page])
        CLI.expectSentence(kept, mentioning: ["already exists"])
        #expect(!(try String(contentsOfFile: page, encoding: .utf8).contains("ckpt inspect")))
        #expect(CLI.run(["inspect", Self.weights, "--report", page, "--force"]).status == 0)
        #expect(try String(contentsOfFile: page, encoding: .utf8).contains("ckpt inspect"))
        // Not a checkpoint, or anything else that is not a page.
        let copy = dir + "/copy.ckpt"
        try FileManager.default.copyItem(atPath: Self.weights, toPath: copy)
        let refused = CLI.run(["diff", copy, copy, "--report", copy, "--force"])
        #expect(refused.status == 2 && refused.err.contains("not an HTML page"))
        #expect(try Data(contentsOf: URL(fileURLWithPath: copy)) == Data(contentsOf: URL(fileURLWithPath: Self.weights)))
        // Contradictions are refused up front.
        #expect(CLI.run(["diff", Self.e1, Self.e2, "-q", "--report", page]).status == 2)
        #expect(CLI.run(["inspect", Self.weights, "--json", "--report", "-"]).status == 2)
    }

    @Test("names from files are escaped in the page")
    func escaping() throws {
        #expect(HTML.escape("<b>&\"'x\u{1B}") == "&lt;b&gt;&amp;&quot;&#39;x\\u{1b}")
        let dir = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let name = "<img onerror=x>&\"'/kernel"
        let index = CheckpointIndex(tensors: [TensorInfo(name: name, dtype: .float32, shape: [2])], metadata: .object([("note", .string("<script>"))]))
        try CheckpointWriter.write(index, payloads: [.bytes(DiffBytesCLI.f32([1, 2]))], to: dir + "/evil.ckpt")
        let r = CLI.run(["inspect", dir + "/evil.ckpt", "--stats", "--report", "-"])
        #expect(r.status == 0, "\(r.err)")
        #expect(!r.out.contains("<img") && !r.out.contains("<script>"))
        #expect(r.out.contains("&lt;img onerror=x&gt;&amp;&quot;&#39;/kernel"))
        let d = CLI.run(["diff", dir + "/evil.ckpt", dir + "/evil.ckpt", "--report", "-"])
        #expect(!d.out.contains("<img") && d.out.contains("&lt;img onerror=x&gt;"))
    }

    @Test("the pages draw in headless Chromium: non-blank, the charts' colours, the numbers in the DOM",
          .requires(.chromium))
    func chromium() throws {
        let dir = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        // A full checkpoint: optimizer state, architecture, histograms.
        let full = dir + "/full.ckpt"
        let rebuilt = CLI.run(["rebuild", Self.weights, "--architecture", CLI.path("Tests/Fixtures/keras/mlp/architecture.json"), "-o", full])
        #expect(rebuilt.status == 0, "\(rebuilt.err)")
        #expect(CLI.run(["inspect", full, "--stats", "--report", dir + "/inspect.html"]).status == 0)
        #expect(CLI.run(["diff", Self.e1, Self.e2, "--report", dir + "/diff.html"]).status == 1)

        let inspectShot = try PNGImage(Chromium.screenshot(dir + "/inspect.html", dir: dir))
        #expect(inspectShot.width == 1200 && inspectShot.height == 1600)
        #expect(inspectShot.distinctColors > 50, "the page is blank")
        #expect(inspectShot.count(near: (0x3B, 0x5B, 0xDB)) > 1000, "the parameters-by-layer bars are drawn")
        #expect(inspectShot.count(near: (0x0B, 0x7A, 0x75)) > 2000, "the histograms are drawn")
        let inspectDOM = try Chromium.dom(dir + "/inspect.html", dir: dir)
        for s in ["id=\"total-params\">101,770<", "id=\"optimizer-params\">203,542<", "Adam, step 0, learning rate 0.001", "dense_1 (Dense)", "optimizer/velocity/dense/kernel"] {
            #expect(inspectDOM.contains(s), "\(s)")
        }

        let diffShot = try PNGImage(Chromium.screenshot(dir + "/diff.html", dir: dir))
        #expect(diffShot.distinctColors > 50)
        #expect(diffShot.count(near: (0xC9, 0x2A, 0x2A)) > 3000, "the red per-layer bars are drawn")
        let diffDOM = try Chromium.dom(dir + "/diff.html", dir: dir)
        for s in ["<b>different</b>", "8 of 13 tensors differ beyond tolerance", "id=\"count-different\">8<", "sequential/head/kernel", "0.131"] {
            #expect(diffDOM.contains(s), "\(s)")
        }
    }

    @Test("inspect --stats: a histogram per tensor in the table, a large one for --tensor, counts and edges in --json")
    func terminalHistograms() throws {
        let r = CLI.run(["inspect", Self.weights, "--stats"])
        #expect(r.status == 0)
        let header = try #require(r.out.split(separator: "\n").first { $0.hasPrefix("Tensor ") })
        #expect(header.hasSuffix("histogram"))
        let kernel = try #require(r.out.split(separator: "\n").first { $0.hasPrefix("dense/kernel ") })
        #expect(kernel.hasSuffix("▃█████████████████▃▁") || kernel.unicodeScalars.filter { "▁▂▃▄▅▆▇█".unicodeScalars.contains($0) }.count >= 18)

        let one = CLI.run(["inspect", Self.weights, "--stats", "--tensor", "dense/kernel"])
        #expect(one.out.contains("dense/kernel  histogram of 100,352 finite values, 20 bins of width"))
        let bins = one.out.split(separator: "\n").filter { $0.hasPrefix("  [") }
        #expect(bins.count == 20)

        let j = CLI.run(["inspect", Self.weights, "--stats", "--json"])
        let v = try JSONParser.parse(j.out)
        for t in v["tensors"]?.arrayValue ?? [] {
            let h = try #require(t["stats"]?["histogram"])
            let counts = h["counts"]?.arrayValue?.compactMap(\.intValue) ?? []
            let edges = h["edges"]?.arrayValue?.compactMap(\.doubleValue) ?? []
            #expect(counts.count == 20 && edges.count == 21)
            #expect(counts.reduce(0, +) == t["stats"]?["finite"]?.intValue)
            #expect(edges.first! <= t["stats"]!["min"]!.doubleValue! && edges.last! > t["stats"]!["max"]!.doubleValue!)
        }
        // The text bins agree with the JSON counts.
        let kernelJSON = v["tensors"]?.arrayValue?.first { $0["name"]?.stringValue == "dense/kernel" }
        let jsonCounts = kernelJSON?["stats"]?["histogram"]?["counts"]?.arrayValue?.compactMap(\.intValue) ?? []
        let textCounts = bins.compactMap { Int($0.split(separator: " ").last?.replacingOccurrences(of: ",", with: "") ?? "") }
        #expect(textCounts == jsonCounts)
    }
}
