// The Keras optimizer classes whose state is modelled, one entry each: hyperparameters and their
// defaults in `get_config()` order, Keras's argument checks, the slots `build()` creates (in order,
// with their start values), Keras 2 slot names, and the settings that change the layout
// (keras/src/optimizers/*.py, Keras 3.15).
//
// Adding an optimizer: a case here and its entry in `entry` (the switch has no default, so the
// compiler asks for it); the completion list, `rebuild --help` and error hints follow.

/// The optimizer classes whose state is modelled.
public enum KerasOptimizerKind: String, Sendable, Hashable, CaseIterable {
    case sgd = "SGD"
    case adam = "Adam"
    case adamW = "AdamW"
    case rmsprop = "RMSprop"
    case adagrad = "Adagrad"
    case adadelta = "Adadelta"
    case adamax = "Adamax"
    case nadam = "Nadam"
    case ftrl = "Ftrl"
    case lion = "Lion"
    case adafactor = "Adafactor"
    case lamb = "Lamb"
    case scheduleFreeAdamW = "ScheduleFreeAdamW"
    case muon = "Muon"
    case lossScaleOptimizer = "LossScaleOptimizer"

    /// The registry entry: everything known about the class.
    var entry: KerasOptimizerEntry {
        switch self {
        case .sgd:
            return KerasOptimizerEntry(
                defaultLearningRate: 0.01,
                parameters: [.float("momentum", "0.0"), .bool("nesterov", false)],
                check: { v in
                    if let m = v.number("momentum"), m < 0 || m > 1 { return "momentum must be a float between [0, 1]" }
                    return nil
                },
                keras2Slots: ["m": "momentum"],
                layoutVariants: [[("momentum", "0.9")]],
                build: { b in if b.number("momentum") != 0 { b.slots([("momentum", "momentums")]) } })
        case .adam, .adamW:
            return KerasOptimizerEntry(
                parameters: [.float("beta_1", "0.9"), .float("beta_2", "0.999"), .float("epsilon", "1e-07"), .bool("amsgrad", false)],
                commonDefaults: self == .adamW ? ["weight_decay": "0.004"] : [:],
                check: { v in
                    if self == .adamW, v["weight_decay"]?.isNull ?? true { return "weight_decay must be a float, found None" }
                    return nil
                },
                keras2Slots: ["m": "momentum", "v": "velocity", "vhat": "velocity_hat"],
                layoutVariants: [[("amsgrad", "true")]],
                build: { b in
                    b.slots([("momentum", "_momentums"), ("velocity", "_velocities")])
                    if b.flag("amsgrad") { b.slots([("velocity_hat", "_velocity_hats")]) }
                })
        case .rmsprop:
            return KerasOptimizerEntry(
                parameters: [.float("rho", "0.9"), .float("momentum", "0.0"), .float("epsilon", "1e-07"), .bool("centered", false)],
                keras2Slots: ["rms": "velocity", "mg": "average_gradient"],
                layoutVariants: [[("momentum", "0.9")], [("centered", "true")], [("momentum", "0.9"), ("centered", "true")]],
                build: { b in
                    b.slots([("velocity", "_velocities")])
                    if b.number("momentum") > 0 { b.slots([("momentum", "_momentums")]) }
                    if b.flag("centered") { b.slots([("average_gradient", "_average_gradients")]) }
                })
        case .adagrad:
            return KerasOptimizerEntry(
                parameters: [.float("initial_accumulator_value", "0.1"), .float("epsilon", "1e-07")],
                build: { b in b.slots([("accumulator", "_accumulators")], fill: [b.number("initial_accumulator_value")]) })
        case .adadelta:
            return KerasOptimizerEntry(
                parameters: [.float("rho", "0.95"), .float("epsilon", "1e-07")],
                keras2Slots: ["accum_grad": "accumulated_grad", "accum_var": "accumulated_delta_var"],
                build: { b in b.slots([("accumulated_grad", "_accumulated_grads"), ("accumulated_delta_var", "_accumulated_delta_vars")]) })
        case .adamax:
            return KerasOptimizerEntry(
                parameters: [.float("beta_1", "0.9"), .float("beta_2", "0.999"), .float("epsilon", "1e-07")],
                keras2Slots: ["m": "momentum", "v": "norm", "u": "norm"],
                build: { b in b.slots([("momentum", "_m"), ("norm", "_u")]) })
        case .nadam:
            return KerasOptimizerEntry(
                parameters: [.float("beta_1", "0.9"), .float("beta_2", "0.999"), .float("epsilon", "1e-07")],
                keras2Slots: ["m": "momentum", "v": "velocity"],
                build: { b in
                    b.slots([("momentum", "_momentums"), ("velocity", "_velocities")])
                    // self._u_product = backend.Variable(1.0, dtype=var_list[0].dtype): no name scope,
                    // Keras names it `variable`.
                    let dtype = b.trainable.first?.dtype ?? .float32
                    b.attributeVariable(KerasOptimizerVariable(index: 0, name: "optimizer/u_product", kerasPath: "variable", role: .other,
                                                               slot: nil, slotListAttribute: "_u_product", weight: nil, referenceIndex: nil,
                                                               shape: [], dtype: dtype, initialValue: 1))
                })
        case .ftrl:
            return KerasOptimizerEntry(
                parameters: [.float("learning_rate_power", "-0.5"), .float("initial_accumulator_value", "0.1"),
                             .float("l1_regularization_strength", "0.0"), .float("l2_regularization_strength", "0.0"),
                             .float("l2_shrinkage_regularization_strength", "0.0"), .float("beta", "0.0")],
                check: { v in
                    if let x = v.number("initial_accumulator_value"), x < 0 { return "initial_accumulator_value needs to be positive or zero" }
                    if let x = v.number("learning_rate_power"), x > 0 { return "learning_rate_power needs to be negative or zero" }
                    for k in ["l1_regularization_strength", "l2_regularization_strength", "l2_shrinkage_regularization_strength"] {
                        if let x = v.number(k), x < 0 { return "\(k) needs to be positive or zero" }
                    }
                    return nil
                },
                build: { b in
                    b.slots([("accumulator", "_accumulators"), ("linear", "_linears")], fill: [b.number("initial_accumulator_value"), 0])
                })
        case .lion:
            return KerasOptimizerEntry(
                parameters: [.float("beta_1", "0.9"), .float("beta_2", "0.99")],
                check: { v in
                    if let x = v.number("beta_1"), x <= 0 || x > 1 { return "beta_1 must be in the (0, 1] range" }
                    return nil
                },
                keras2Slots: ["m": "momentum"],
                build: { b in b.slots([("momentum", "_momentums")]) })
        case .adafactor:
            return KerasOptimizerEntry(
                parameters: [.float("beta_2_decay", "-0.8"), .float("epsilon_1", "1e-30"), .float("epsilon_2", "0.001"),
                             .float("clip_threshold", "1.0"), .bool("relative_step", true)],
                build: { b in
                    for (i, ref) in b.trainable.enumerated() {
                        for (slot, attr) in [("r", "_r"), ("c", "_c")] {
                            var v = b.slotVariable(slot, attr, i)
                            if ref.shape.count < 2 {
                                // self._r.append(backend.Variable(0, name=var.name)): an int32 scalar
                                // placeholder, no scope, tracked through the list attribute.
                                v.shape = []
                                v.dtype = .int32
                                v.kerasPath = ref.variableName
                                b.attributeVariable(v)
                            } else {
                                let n = ref.shape.count
                                v.shape = slot == "r" ? Array(ref.shape.dropLast()) : Array(ref.shape.dropLast(2)) + [ref.shape[n - 1]]
                                v.kerasPath = b.prefix + "/" + ref.variableName
                                b.append(v)
                            }
                        }
                        b.append(b.slotVariable("velocity", "_v", i))
                    }
                })
        case .lamb:
            return KerasOptimizerEntry(
                parameters: [.float("beta_1", "0.9"), .float("beta_2", "0.999"), .float("epsilon", "1e-07")],
                keras2Slots: ["m": "momentum", "v": "velocity"],
                build: { b in b.slots([("momentum", "_momentums"), ("velocity", "_velocities")]) })
        case .scheduleFreeAdamW:
            return KerasOptimizerEntry(
                defaultLearningRate: 0.0025,
                parameters: [.float("beta_1", "0.9"), .float("beta_2", "0.999"), .float("epsilon", "1e-08"), .int("warmup_steps", 0)],
                build: { b in
                    // `assign(momentum, ops.copy(var))`: each momentum starts as its weight.
                    b.slots([("momentum", "_momentums"), ("velocity", "_velocities")], copies: ["momentum"])
                })
        case .muon:
            return KerasOptimizerEntry(
                parameters: [.float("adam_beta_1", "0.9"), .float("adam_beta_2", "0.999"), .float("epsilon", "1e-07"),
                             .init("exclude_layers", .stringList, "[]"), .float("muon_a", "3.4445"), .float("muon_b", "-4.775"),
                             .float("muon_c", "2.0315"), .float("adam_lr_ratio", "1"), .float("momentum", "0.95"), .int("ns_steps", 5),
                             .bool("nesterov", true), .bool("exclude_embeddings", true), .optionalFloat("adam_weight_decay", "0.004"),
                             .optionalFloat("rms_rate", "0.2")],
                commonDefaults: ["weight_decay": "0.004"],
                build: { b in
                    // Every variable gets a momentum; those `_should_use_adamw` picks (not 2-D, an
                    // embedding when exclude_embeddings, a path re.search-matching exclude_layers)
                    // also a velocity, right after it.
                    let patterns = try (b.values["exclude_layers"]?.arrayValue ?? []).compactMap(\.stringValue).map { p in
                        do { return try Regex(p) } catch {
                            throw CheckpointError(.invalidOptimizer, "Muon exclude_layers: \"\(CheckpointError.printable(p))\" is not a regular expression the toolkit can read")
                        }
                    }
                    for (i, ref) in b.trainable.enumerated() {
                        b.append(b.slotVariable("momentum", "momentums", i))
                        let adam = ref.shape.count != 2 || (b.flag("exclude_embeddings") && ref.path.lowercased().contains("embedding"))
                            || patterns.contains { ref.path.contains($0) }
                        if adam { b.append(b.slotVariable("velocity", "adam_velocities", i)) }
                    }
                })
        case .lossScaleOptimizer:
            // Mixed precision: `compile` wraps the optimizer in one under the mixed_float16 policy.
            return KerasOptimizerEntry(
                structure: .lossScaleWrapper,
                parameters: [.init("inner_optimizer", .optimizer, ""), .float("initial_scale", "32768.0"),
                             .int("dynamic_growth_steps", 2000)],
                build: { b in
                    b.scalar("step_counter", role: .other, dtype: b.backend.integerDType, initial: 0)
                    b.scalar("dynamic_scale", role: .other, dtype: .float32, initial: b.number("initial_scale"))
                    try b.appendInner()
                })
        }
    }
}
