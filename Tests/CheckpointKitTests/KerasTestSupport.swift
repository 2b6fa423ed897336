import Foundation
import Testing
import CheckpointTestSupport
@testable import CheckpointKit

/// Locates and reads the Keras fixtures (`Tests/Fixtures/keras`, written by real Keras 3.15 /
/// tf-keras 2.21 on TensorFlow, and `Tests/Fixtures/keras-extra`, written by real Keras 3.15 on
/// JAX by `Tests/Fixtures/keras-extra/make.py`).
enum KerasFixtures {
    static var packageRoot: URL { TestEnv.packageRoot }

    static let kerasDir = packageRoot.appendingPathComponent("Tests/Fixtures/keras")
    static let extraDir = packageRoot.appendingPathComponent("Tests/Fixtures/keras-extra")

    /// The dev-set models with an expected.json.
    static let models = ["mlp", "cnn", "lstm"]

    /// The extra models (one directory each).
    static let extraModels: [String] = {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: extraDir.path)) ?? []
        return names.filter { FileManager.default.fileExists(atPath: extraDir.appendingPathComponent($0).appendingPathComponent("expected.json").path) }
            .sorted()
    }()

    /// Optional: more model directories in the keras-extra format outside the repository
    /// (e.g. `keras.applications` models, too big to commit), from `CKPT_KERAS_EXTERNAL_FIXTURES`.
    static let externalModels: [String] = {
        guard let root = ProcessInfo.processInfo.environment["CKPT_KERAS_EXTERNAL_FIXTURES"] else { return [] }
        let names = (try? FileManager.default.contentsOfDirectory(atPath: root)) ?? []
        return names.map { root + "/" + $0 }.filter { FileManager.default.fileExists(atPath: $0 + "/expected.json") }.sorted()
    }()

    /// Extra models that also have a Keras 2 dialect rewrite.
    static let extraKeras2Models: [String] = extraModels.filter {
        FileManager.default.fileExists(atPath: extraDir.appendingPathComponent($0).appendingPathComponent("architecture_keras2.json").path)
    }

    static func bytes(_ url: URL) throws -> [UInt8] {
        [UInt8](try Data(contentsOf: url))
    }

    static func json(_ url: URL) throws -> JSONValue {
        try JSONParser.parse(bytes(url), options: {
            var o = JSONParser.Options()
            o.maxDepth = 512
            return o
        }())
    }

    static func architecture(_ url: URL) throws -> KerasArchitecture {
        try KerasArchitecture(json: json(url))
    }

    static func expected(_ model: String) throws -> JSONValue {
        try json(kerasDir.appendingPathComponent(model).appendingPathComponent("expected.json"))
    }

    static func extraExpected(_ model: String) throws -> JSONValue {
        try json(extraDir.appendingPathComponent(model).appendingPathComponent("expected.json"))
    }

    static func shape(_ v: JSONValue?) -> [Int]? {
        v?.arrayValue?.compactMap(\.intValue)
    }

    /// The backend an expected.json was written with.
    static func backend(_ expected: JSONValue) -> KerasBackend {
        KerasBackend(rawValue: expected["backend"]?.stringValue ?? "tensorflow") ?? .tensorflow
    }

    /// Parses `keras.optimizers.SGD(momentum=0.9)` into a class name and text overrides.
    static func constructor(_ text: String) -> (String, [(String, String)])? {
        guard let open = text.firstIndex(of: "("), text.hasSuffix(")") else { return nil }
        let head = text[..<open]
        let cls = head.split(separator: ".").last.map(String.init) ?? String(head)
        let inside = text[text.index(after: open)..<text.index(before: text.endIndex)]
        var overrides: [(String, String)] = []
        for part in inside.split(separator: ",") {
            let kv = part.split(separator: "=", maxSplits: 1)
            guard kv.count == 2 else { continue }
            overrides.append((kv[0].trimmingCharacters(in: .whitespaces), kv[1].trimmingCharacters(in: .whitespaces)))
        }
        return (cls, overrides)
    }
}

/// Compares inferred variables with an `expected.json` `weights` list (fields `path`/`path_from_json`,
/// `shape`, `dtype`, `trainable`, `h5_path`).
func expectWeights(_ got: KerasModelVariables, _ expected: [JSONValue], pathKey: String,
                   sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(got.variables.count == expected.count, "variable count", sourceLocation: sourceLocation)
    for (i, (v, e)) in zip(got.variables, expected).enumerated() {
        let path = e[pathKey]?.stringValue ?? e["path"]?.stringValue
        #expect(v.index == i, sourceLocation: sourceLocation)
        #expect(v.path == path, "variable \(i) path", sourceLocation: sourceLocation)
        #expect(v.shape == KerasFixtures.shape(e["shape"]), "shape of \(v.path)", sourceLocation: sourceLocation)
        #expect(v.dtype.rawValue == e["dtype"]?.stringValue, "dtype of \(v.path)", sourceLocation: sourceLocation)
        #expect(v.trainable == e["trainable"]?.boolValue, "trainable of \(v.path)", sourceLocation: sourceLocation)
        #expect(v.h5Path == e["h5_path"]?.stringValue, "h5 path of \(v.path)", sourceLocation: sourceLocation)
    }
}

/// Compares optimizer state with an `expected.json` optimizer entry.
func expectOptimizerVariables(_ got: [KerasOptimizerVariable], _ expected: [JSONValue], pathKey: String,
                              trainable: [KerasVariable], sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(got.count == expected.count, "optimizer variable count", sourceLocation: sourceLocation)
    for (g, e) in zip(got, expected) {
        let what = "optimizer variable \(g.index) (\(g.name))"
        #expect(g.index == e["index"]?.intValue, "\(what)", sourceLocation: sourceLocation)
        #expect(g.h5Path == (e["h5_path"]?.stringValue ?? "optimizer/vars/\(g.index)"), "\(what)", sourceLocation: sourceLocation)
        #expect(g.kerasPath == (e[pathKey]?.stringValue ?? e["path"]?.stringValue), "\(what)", sourceLocation: sourceLocation)
        #expect(g.shape == KerasFixtures.shape(e["shape"]), "\(what)", sourceLocation: sourceLocation)
        #expect(g.dtype.rawValue == e["dtype"]?.stringValue, "\(what)", sourceLocation: sourceLocation)
        if let role = e["role"]?.stringValue {
            #expect(g.role.rawValue == role, "\(what)", sourceLocation: sourceLocation)
        }
        let ref = e["reference_index"]?.intValue
        #expect(g.referenceIndex == ref, "\(what)", sourceLocation: sourceLocation)
        if let ref, trainable.indices.contains(ref) {
            #expect(g.weight == trainable[ref].path, "\(what)", sourceLocation: sourceLocation)
        }
        if let attr = e["slot_list_attr"]?.stringValue {
            #expect(g.slotListAttribute == attr, "\(what)", sourceLocation: sourceLocation)
            // Our slot: the expected one, or for Adafactor's factored r/c the list name.
            let expectedSlot = e["slot"]?.stringValue ?? String(attr.drop(while: { $0 == "_" }))
            #expect(g.slot == expectedSlot, "\(what)", sourceLocation: sourceLocation)
            #expect(g.name == "optimizer/\(expectedSlot)/\(g.weight ?? "?")", "\(what)", sourceLocation: sourceLocation)
        }
        // The initial fill: `initial.fill` (dev fixtures) or `initial` (extra fixtures).
        let fill = e["initial"]?["fill"]?.doubleValue ?? e["initial"]?.doubleValue
        if let fill {
            #expect(g.initialValue == fill, "\(what) initial value", sourceLocation: sourceLocation)
        }
    }
}
