extension TFCheckpointSource {
    /// The optimizer of a checkpoint. A SavedModel's `training_config` gives its class and
    /// configuration; a TF checkpoint stores only variables, so the class comes from their names
    /// (`Adam/m/dense/kernel`, `Adam/iter`) or, failing that, from the slots present, and the
    /// configuration is Keras's defaults with what the variables show (the learning rate, an older
    /// optimizer's `beta_1`/`beta_2`/`rho`... variables, options the slots imply), said in a note.
    static func optimizerInfo(naming: TFNamingResult, training: KerasOptimizerConfig?, trainingClass: String?, hyperparameters: [String: Double],
                              iterations: Int64, hasGraph: Bool, notes: inout [String]) -> OptimizerInfo {
        if let training { return training.optimizerInfo(iterations: iterations) }
        let lr = hyperparameters["learning_rate"]
        guard hasGraph, let kind = naming.optimizerKind else {
            var config: [(String, JSONValue)] = []
            if let n = naming.optimizerName { config.append(("name", .string(n))) }
            if let lr { config.append(("learning_rate", .number(lr))) }
            if hasGraph {
                notes.append("the optimizer's class could not be told from its variables; its state keeps the checkpoint's names")
            }
            return OptimizerInfo(className: naming.optimizerName ?? trainingClass ?? "unknown", module: hasGraph ? "keras.optimizers" : "tf.compat.v1.train",
                                 config: .object(config), iterations: iterations)
        }
        var overrides: [(String, String)] = []
        var assumed: [String] = []
        // tf.keras names an optimizer after its class (`Adam`), as its variables show.
        if let n = naming.optimizerName, !n.isEmpty { overrides.append(("name", n)) }
        let parameters = Set(kind.parameters.map(\.key))
        for (k, v) in hyperparameters.sorted(by: { $0.key < $1.key }) where parameters.contains(k) && v.isFinite {
            // Stored as float32: the shortest decimal that is that float (0.9, not 0.8999999761581421).
            overrides.append((k, Double(Float(v)) == v ? "\(Float(v))" : "\(v)"))
        }
        let slots = Set(naming.keys.compactMap { $0.role.kind == .slot ? $0.role.keras3Slot : nil })
        switch kind {
        case .sgd, .rmsprop:
            if slots.contains("momentum") && hyperparameters["momentum"] == nil {
                overrides.append(("momentum", "0.9"))
                assumed.append("momentum 0.9 (the checkpoint has momentum slots but does not store the value)")
            }
            if slots.contains("average_gradient") { overrides.append(("centered", "true")) }
            // tf.keras's RMSprop (>= 2.11) defaults ema_overwrite_frequency to 100, Keras 3's to None.
            if kind == .rmsprop && !naming.isLegacyOptimizer { overrides.append(("ema_overwrite_frequency", "100")) }
        case .adam, .adamW:
            if slots.contains("velocity_hat") { overrides.append(("amsgrad", "true")) }
        default:
            break
        }
        let config: KerasOptimizerConfig
        do {
            config = try KerasOptimizerConfig(className: kind.className, overrides: overrides)
        } catch {
            notes.append("the optimizer's hyperparameters in the checkpoint are not valid for \(kind.className); its defaults are used")
            return (try? KerasOptimizerConfig(className: kind.className))?.optimizerInfo(iterations: iterations)
                ?? OptimizerInfo(className: kind.className, config: .object([]), iterations: iterations)
        }
        let kept = overrides.map(\.0).filter { hyperparameters[$0] != nil }
        var note = "a TensorFlow checkpoint does not store the optimizer's configuration: \(kind.className) with tf.keras's defaults is assumed"
        if !kept.isEmpty { note += ", except \(kept.joined(separator: ", ")) taken from the checkpoint" }
        if !assumed.isEmpty { note += ", and " + assumed.joined(separator: ", ") }
        notes.append(note)
        return config.optimizerInfo(iterations: iterations)
    }
}
