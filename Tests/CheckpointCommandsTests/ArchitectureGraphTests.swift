import Foundation
import Testing
import CheckpointTestSupport
@testable import CheckpointCommands
@testable import CheckpointKit

/// The architecture graph in the HTML reports, drawn by headless Chromium.
@Suite("HTML reports: the architecture graph")
struct ArchitectureGraphTests {
    /// Nothing on the page is fetched: no URL but the SVG namespace, and a policy that forbids loads.
    static func selfContained(_ html: String) {
        let urls = html.components(separatedBy: "http:").count + html.components(separatedBy: "https:").count - 2
        let namespaces = html.components(separatedBy: "http://www.w3.org/2000/svg").count - 1
        #expect(urls == namespaces, "the page refers to a URL")
        #expect(html.contains("content=\"default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'\""))
    }

    @Test("ResNet50: a node per layer with class, output shape and parameters; every layer in the DOM; non-blank",
          .requires(.keras), .requires(.hdf5), .requires(.chromium), .timeLimit(.minutes(10)))
    func resnet50() throws {
        let dir = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let model = dir + "/resnet50.keras"
        let names = try TestEnv.python("""
        import sys, json, keras
        m = keras.applications.ResNet50(weights=None)
        m.save(sys.argv[1])
        print(json.dumps([l.name for l in m.layers]))
        """, [model])
        let layers = try #require(try JSONParser.parse(String(names.split(separator: "\n").last ?? "")).arrayValue).compactMap(\.stringValue)
        #expect(layers.count == 177)
        let page = dir + "/resnet50.html"
        let r = CLI.run(["inspect", model, "--report", page])
        #expect(r.status == 0, "\(r.err)")
        let html = try String(contentsOfFile: page, encoding: .utf8)
        Self.selfContained(html)
        #expect(html.contains("<svg id=\"architecture\""))
        #expect(html.contains(">(None, 7, 7, 2048)<") && html.contains(">2,359,808 params<"), "conv5_block3_2_conv's shape and count")

        let shot = try PNGImage(Chromium.screenshot(page, dir: dir))
        #expect(shot.distinctColors > 50, "the page is blank")
        #expect(shot.count(near: (0xEE, 0xF3, 0xFB)) > 20_000, "the layer nodes are drawn")
        let dom = try Chromium.dom(page, dir: dir)
        for name in layers { #expect(dom.contains("data-layer=\"\(name)\""), "\(name) is not in the graph") }
    }

    @Test("a diff report colours each layer by how much its weights changed", .requires(.hdf5), .requires(.chromium))
    func diffColours() throws {
        let dir = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let e = CLI.path("Tests/Fixtures/keras-epochs")
        let page = dir + "/diff.html"
        let r = CLI.run(["diff", e + "/epoch1.weights.h5", e + "/epoch2.weights.h5", "--architecture", e + "/architecture.json", "--report", page])
        #expect(r.status == 1, "\(r.err)")
        let html = try String(contentsOfFile: page, encoding: .utf8)
        Self.selfContained(html)
        let shot = try PNGImage(Chromium.screenshot(page, dir: dir))
        #expect(shot.distinctColors > 50, "the page is blank")
        let dom = try Chromium.dom(page, dir: dir)
        for name in ["norm", "frozen", "bn", "dense", "head"] { #expect(dom.contains("data-layer=\"\(name)\""), "\(name)") }
        // Changed layers are coloured, unchanged ones grey.
        for name in ["bn", "dense", "head"] {
            let node = dom.components(separatedBy: "data-layer=\"\(name)\"").dropFirst().first ?? ""
            #expect(node.prefix(400).contains("fill:hsl("), "\(name) is not coloured")
        }
        let frozen = dom.components(separatedBy: "data-layer=\"frozen\"").dropFirst().first ?? ""
        #expect(!frozen.prefix(400).contains("fill:hsl("), "an unchanged layer is not coloured")
    }
}
