import CheckpointKit

/// `inspect --config` and `inspect --layer NAME`: the configuration a checkpoint carries.
enum InspectConfig {
    /// `{"architecture": model.to_json() (with compile_config when Keras saved one), "optimizer":
    /// {class_name, iterations, config}}`; either may be null, not both.
    static func document(_ source: any TensorSource, file: String) throws -> JSONValue {
        let index = source.index
        var architecture = JSONValue.null
        if let bytes = index.architecture {
            architecture = try JSONParser.parse(bytes)
        }
        var optimizer = JSONValue.null
        if let o = index.optimizer {
            optimizer = .object([("class_name", .string(o.className)), ("iterations", .number(o.iterations)), ("config", o.config)])
        }
        if architecture == .null && optimizer == .null {
            throw CheckpointError(.missingPart, "the checkpoint carries no configuration (no architecture, no optimizer)", file: file,
                                  hint: "`ckpt inspect \(file)` lists its tensors")
        }
        return .object([("schema", .string("ckpt.config/1")), ("file", .string(file)), ("format", .string(source.format.rawValue)),
                        ("architecture", architecture), ("optimizer", optimizer)])
    }

    /// The layer named `name` (top-level or inside a nested model): its architecture entry and
    /// its tensors (weights and their optimizer slots).
    static func layer(_ name: String, in source: any TensorSource, file: String) throws -> (config: JSONValue, tensors: [Int]) {
        let index = source.index
        guard let bytes = index.architecture else {
            throw CheckpointError(.missingPart, "--layer needs the model's architecture, and the checkpoint carries none", file: file,
                                  hint: "--filter 'NAME/*' selects a layer's tensors by name")
        }
        let arch = try KerasArchitecture(bytes: bytes)
        var names: [String] = []
        func find(_ layers: [KerasLayer]) -> KerasLayer? {
            for l in layers {
                names.append(l.name)
                if l.name == name { return l }
                if let m = l.nestedModel, let hit = find(m.layers) { return hit }
            }
            return nil
        }
        guard let found = find(arch.model.layers) else {
            throw CheckpointError(.invalidArgument, "the model has no layer named \"\(escapeForDisplay(name))\"", file: file,
                                  hint: Suggest.closest(name, among: names).map { "did you mean \"\(escapeForDisplay($0))\"?" }
                                      ?? "`ckpt inspect \(file)` lists the layers")
        }
        let graph = ModelGraph.read(architecture: bytes)
        var weights = Set<String>()
        var chosen: [Int] = []
        for (i, t) in index.tensors.enumerated() where t.role == .weight {
            let top = graph?.variables.variable(named: t.name)?.layer
            if t.layer == name || top == name {
                chosen.append(i)
                weights.insert(t.name)
            }
        }
        for (i, t) in index.tensors.enumerated() where t.role == .optimizer {
            if let w = t.weight, weights.contains(w) { chosen.append(i) }
        }
        return (found.json, chosen.sorted())
    }
}
