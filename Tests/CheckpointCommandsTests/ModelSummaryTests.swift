import Foundation
import Testing
import CheckpointTestSupport
@testable import CheckpointCommands
@testable import CheckpointKit

/// The layer table against what Keras 3.15's `model.summary()` printed for the same files
/// (Tests/Fixtures/keras/summaries.json, recorded by record_summaries.py beside it).
@Suite("inspect's layer table equals Keras's model.summary()", .requires(.hdf5))
struct ModelSummaryTests {
    static func recorded() throws -> [(String, JSONValue)] {
        let text = try String(contentsOfFile: TestEnv.path("Tests/Fixtures/keras/summaries.json"), encoding: .utf8)
        return try #require(try JSONParser.parse(text)["models"]?.objectValue)
    }

    @Test("every recorded model: names, classes, output shapes, parameter counts, connections, totals")
    func everyModel() throws {
        let models = try Self.recorded()
        // Every model of the shared Keras fixtures is among them.
        for name in ["keras/cnn/cnn.keras", "keras/lstm/lstm.keras", "keras/mlp/mlp.keras"] {
            #expect(models.contains { $0.0 == name }, "\(name) has no recorded summary")
        }
        #expect(models.contains { $0.1["columns"]?.arrayValue?.count == 4 }, "no Functional model with a Connected to column")
        #expect(models.contains { m in m.1["rows"]?.arrayValue?.contains { $0["class_name"]?.stringValue == "Sequential" } == true },
                "no nested model")
        for (file, keras) in models {
            let r = CLI.run(["inspect", TestEnv.path("Tests/Fixtures/" + file), "--json"])
            #expect(r.status == 0, "\(file): \(r.err)")
            let ours = try JSONParser.parse(r.out)
            let top = (ours["layers"]?.arrayValue ?? []).filter { $0["parent"] == .null }
            let rows = keras["rows"]?.arrayValue ?? []
            #expect(top.count == rows.count, "\(file): \(top.count) layers, Keras \(rows.count)")
            let connected = keras["columns"]?.arrayValue?.count == 4
            for (a, k) in zip(top, rows) {
                let name = k["name"]?.stringValue ?? "?"
                #expect(a["name"]?.stringValue == name, "\(file)")
                #expect(a["class_name"]?.stringValue == k["class_name"]?.stringValue, "\(file) \(name)")
                #expect(a["output_shape"]?.stringValue == k["output_shape"]?.stringValue, "\(file) \(name)")
                #expect(a["params"]?.intValue == k["params"]?.intValue, "\(file) \(name)")
                if connected {
                    let text = (a["connected_to"]?.arrayValue ?? []).compactMap(\.stringValue).joined(separator: ", ")
                    #expect((text.isEmpty ? "-" : text) == k["connected_to"]?.stringValue, "\(file) \(name)")
                } else {
                    #expect(a["connected_to"] == .null, "\(file) \(name): Keras prints no Connected to column")
                }
            }
            let t = ours["totals"]
            #expect(t?["total_params"]?.intValue == keras["totals"]?["total"]?.intValue, "\(file)")
            #expect(t?["trainable_params"]?.intValue == keras["totals"]?["trainable"]?.intValue, "\(file)")
            #expect(t?["non_trainable_params"]?.intValue == keras["totals"]?["non_trainable"]?.intValue, "\(file)")
            #expect(t?["optimizer_params"]?.intValue == keras["totals"]?["optimizer"]?.intValue, "\(file)")

            // The text table says the same.
            let text = CLI.run(["inspect", TestEnv.path("Tests/Fixtures/" + file), "--wide"]).out
            for k in rows {
                let label = "\(k["name"]?.stringValue ?? "") (\(k["class_name"]?.stringValue ?? ""))"
                let line = text.split(separator: "\n").first { $0.hasPrefix(label + " ") }
                #expect(line?.contains(k["output_shape"]?.stringValue ?? "?") == true, "\(file): \(label)")
            }
            let total = Fmt.count(keras["totals"]?["total"]?.intValue ?? -1)
            #expect(text.contains(" Total params: \(total) ("), "\(file)")
        }
    }
}
