// What the engine (KerasEngine.swift) builds: objects, variables, scopes and layer inputs.

/// A variable as a layer's `build()` creates it, with its names resolved.
struct BuiltVariable: Sendable {
    var name: String
    var path: String
    var scopedPath: String
    var keras2Name: String
    var shape: [Int]
    var dtype: DType
    /// The `trainable=` argument of `add_weight` (decides the H5 order: trainable-created first).
    var createdTrainable: Bool
    /// Effective: created trainable and every enclosing layer/model trainable.
    var trainable: Bool
}

/// A Keras object (model, layer, RNN cell, attention projection) and what it owns.
struct BuiltObject: Sendable {
    var objectName: String
    var className: String
    var isModel: Bool = false
    var unknownReason: KerasUnknownLayer.Reason? = nil
    var canonicalScope: [String] = []
    var scopedScope: [String] = []
    /// Variables in creation order.
    var own: [BuiltVariable] = []
    /// Sub-objects in Keras's `_layers` tracking order (= `model.weights` order), each with the
    /// attribute path the saver reaches it through (`cell`, `forward_layer`, `layers/dense_1`).
    var children: [(attribute: String, object: BuiltObject)] = []
    /// Output shapes of the object's (first) call inside its model, when known (the layer table's
    /// Output Shape column).
    var outputShapes: [KerasShape]? = nil

    /// `_trainable_variables + _non_trainable_variables`: the order of `weights` and of `vars/<i>`.
    var ownInSaveOrder: [BuiltVariable] { own.filter(\.createdTrainable) + own.filter { !$0.createdTrainable } }
}

/// The three name scopes an object is built in.
struct KerasScope: Sendable {
    /// Scope of the canonical path (as `model_from_json` of this JSON gives it).
    var canonical: [String]
    /// Scope when everything is built inside its parent (code-built models, JSON without build_config).
    var scoped: [String]
    /// tf.keras name scope.
    var keras2: [String]

    static let root = KerasScope(canonical: [], scoped: [], keras2: [])

    func joined(_ name: String, standalone: Bool, keras2Transparent: Bool = false) -> KerasScope {
        KerasScope(canonical: standalone ? [name] : canonical + [name], scoped: scoped + [name],
                   keras2: keras2Transparent ? keras2 : keras2 + [name])
    }
}

/// What the enclosing object passes to a layer it builds.
struct KerasParent: Sendable {
    /// Scope of the enclosing object (the layer's own name is appended).
    var scope: KerasScope
    /// Effective trainability of the enclosing object.
    var trainable: Bool
    /// Whether tf.keras names this layer's variables without the layer's own scope (the layer
    /// wrapped by `TimeDistributed`).
    var keras2Transparent: Bool = false
}

/// The input tensors of one layer call.
struct LayerInputs: Sendable {
    var tensors: [(argument: KerasTensorReference.Argument, shape: KerasShape)]

    static let empty = LayerInputs(tensors: [])

    init(tensors: [(argument: KerasTensorReference.Argument, shape: KerasShape)]) {
        self.tensors = tensors
    }

    init(single shape: KerasShape) {
        self.tensors = [(.positional(0), shape)]
    }

    init(positional shapes: [KerasShape]) {
        self.tensors = shapes.enumerated().map { (.positional($0.offset), $0.element) }
    }

    /// Keyword tensors that are masks, states or flags, not layer inputs.
    static func isAuxiliaryKeyword(_ k: String) -> Bool {
        k == "mask" || k.hasSuffix("_mask") || k == "initial_state" || k == "constants" || k == "training"
            || k == "states"
    }

    /// Positional input shapes (the main inputs), in order.
    var positional: [KerasShape] {
        tensors.compactMap { if case .positional = $0.argument { return $0.shape } else { return nil } }
    }

    /// Input shapes that are not masks/states: positional ones, then named main inputs.
    var main: [KerasShape] {
        tensors.compactMap {
            switch $0.argument {
            case .positional: return $0.shape
            case .keyword(let k): return Self.isAuxiliaryKeyword(k) ? nil : $0.shape
            }
        }
    }

    /// The input passed as keyword `name`, or else positional `position`.
    func named(_ name: String, position: Int) -> KerasShape? {
        for t in tensors { if case .keyword(let k) = t.argument, k == name { return t.shape } }
        let p = positional
        return p.indices.contains(position) ? p[position] : nil
    }

    var first: KerasShape? { main.first }
}

/// Result of building one object.
struct BuildResult: Sendable {
    var object: BuiltObject
    /// Output shapes of the call; nil when they cannot be computed.
    var outputs: [KerasShape]?
}
