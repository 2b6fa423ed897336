/// An architecture given for a format of named arrays (`.npz`, `.safetensors`): it says which
/// weights Keras trains (BatchNormalization's moving statistics, frozen layers are not) and which
/// layer each belongs to, as `model.summary()` counts them.
///
/// Tensors are matched to the architecture's variables by name, the ways a weights file may name
/// them (``KerasVariable/alternateNames``: the Keras 3 path, the scoped path with the model's
/// name, the Keras 2 name). Names and order are kept as the file has them. A weight the
/// architecture does not account for keeps an unknown trainability, and a note says so.
public enum ArchitectureNaming {
    /// `source` with `architecture` attached (nil: `source` unchanged). Throws when the
    /// architecture cannot be interpreted at all.
    public static func attach(_ architecture: [UInt8]?, to source: any TensorSource) throws -> any TensorSource {
        guard let architecture else { return source }
        let model: KerasModelVariables
        do {
            model = try KerasArchitecture(bytes: architecture).variables(options: KerasInferenceOptions(allowUnknownLayers: true))
        } catch let e as CheckpointError {
            var e = e
            e.reason = "the architecture given with --architecture cannot be used: " + e.reason
            throw e.located(file: source.path)
        }
        var byName: [ByteName: KerasVariable] = [:]
        for v in model.variables {
            for n in v.alternateNames where byName[ByteName(n)] == nil { byName[ByteName(n)] = v }
        }
        var index = source.index
        var unmatched: [String] = []
        for (i, t) in index.tensors.enumerated() where t.role == .weight {
            let match = KerasNames.candidates(t.name, modelName: model.modelName).lazy.compactMap { byName[ByteName($0)] }.first
            guard let v = match else {
                unmatched.append(t.name)
                continue
            }
            index.tensors[i].trainable = v.trainable
        }
        index.architecture = architecture
        index.trainabilityKnown = unmatched.isEmpty
        var notes: [String] = []
        if !unmatched.isEmpty {
            let shown = unmatched.prefix(3).map { "\"\(escapeForDisplay($0))\"" }.joined(separator: ", ")
            notes.append("\(unmatched.count) weight\(unmatched.count == 1 ? " is" : "s are") not a variable of the architecture (\(shown)\(unmatched.count > 3 ? ", …" : "")): which weights are trainable is unknown")
        }
        return try ComposedSource(renaming: source, as: index, notes: notes)
    }
}
