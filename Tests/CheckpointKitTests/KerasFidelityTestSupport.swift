import Foundation
import Testing
import CheckpointTestSupport
@testable import CheckpointKit

/// `Tests/Fixtures/keras-fidelity`: files written by real Keras 3.15.1 training runs (gen.py there).
enum FidelityFixtures {
    static let dir = TestEnv.packageRoot.appendingPathComponent("Tests/Fixtures/keras-fidelity")

    static func url(_ relative: String) -> URL { dir.appendingPathComponent(relative) }
    static func path(_ relative: String) -> String { url(relative).path }

    static func json(_ relative: String) throws -> JSONValue { try KerasFixtures.json(url(relative)) }

    static func architecture(_ folder: String) throws -> KerasArchitecture {
        try KerasArchitecture(json: json(folder + "/architecture.json"))
    }

    /// The optimizer a folder was trained with, from `keras.optimizers.serialize(optimizer)`.
    static func optimizer(_ folder: String) throws -> KerasOptimizerConfig {
        try KerasOptimizerConfig(serialized: json(folder + "/optimizer_serialized.json"))
    }

    static func backend(_ folder: String) -> KerasBackend { folder.hasPrefix("jax_") ? .jax : .tensorflow }

    /// Checks state variables against `fresh.json` `variables[]`: Keras path, shape, dtype and the
    /// value after `build()` (a constant, or a copy of a weight).
    static func expectFresh(_ state: [KerasOptimizerVariable], _ folder: String,
                            sourceLocation: SourceLocation = #_sourceLocation) throws {
        let fresh = try json(folder + "/fresh.json")
        let expected = try #require(fresh["variables"]?.arrayValue, sourceLocation: sourceLocation)
        #expect(state.count == expected.count, "\(folder): variable count", sourceLocation: sourceLocation)
        for (v, e) in zip(state, expected) {
            let what = "\(folder): variable \(v.index) \(v.kerasPath)"
            #expect(v.kerasPath == e["path"]?.stringValue, "\(what)", sourceLocation: sourceLocation)
            #expect(v.shape == KerasFixtures.shape(e["shape"]), "\(what)", sourceLocation: sourceLocation)
            #expect(v.dtype.rawValue == e["dtype"]?.stringValue, "\(what)", sourceLocation: sourceLocation)
            let initial = e["initial"]
            if let w = initial?["equals_weight"]?.stringValue {
                #expect(v.copiesWeight && v.weight == w, "\(what) starts as \(w)", sourceLocation: sourceLocation)
            } else if initial?["constant"]?.boolValue == true, let fill = initial?["fill"]?.doubleValue, !v.copiesWeight {
                #expect(v.initialValue == fill, "\(what) starts at \(fill)", sourceLocation: sourceLocation)
            } else if !v.copiesWeight {
                Issue.record("\(what): Keras starts it at \(initial?.serialized() ?? "?")", sourceLocation: sourceLocation)
            }
        }
    }
}
