// The state of one layer's `build()`: what a registry entry's build function reads and creates.

/// The state of one layer's `build()`: what it reads and what it creates.
struct LayerBuild {
    let engine: KerasModelEngine
    let layer: KerasLayer
    let cfg: KerasConfig
    let inputs: LayerInputs
    let node: KerasNode?
    let scope: KerasScope
    /// Effective trainability.
    let trainable: Bool
    let policy: KerasDTypePolicy
    var own: [BuiltVariable] = []
    var children: [(attribute: String, object: BuiltObject)] = []
    var outputs: [KerasShape]? = nil
    /// Keras 2 spells some variable names differently (`depthwise_kernel` for Keras 3's `kernel`).
    var keras2Renames: [String: String] = [:]

    init(engine: KerasModelEngine, layer: KerasLayer, cfg: KerasConfig, inputs: LayerInputs, node: KerasNode?,
         scope: KerasScope, trainable: Bool, policy: KerasDTypePolicy) {
        self.engine = engine
        self.layer = layer
        self.cfg = cfg
        self.inputs = inputs
        self.node = node
        self.scope = scope
        self.trainable = trainable
        self.policy = policy
    }

    var backend: KerasBackend { engine.options.backend }

    /// The main input shape (the first input).
    func input() throws -> KerasShape {
        guard let s = inputs.first else { throw cfg.error("the layer has no input") }
        return s
    }

    /// A dimension of a shape that must be known; Python indexing (negative from the end).
    func dim(_ shape: KerasShape, _ axis: Int, _ what: String) throws -> Int {
        guard let a = KerasShapes.axis(axis, rank: shape.count) else {
            throw cfg.error("axis \(axis) is out of range for the \(what) shape \(KerasShapes.describe(shape))")
        }
        guard let d = shape[a] else {
            throw cfg.error("dimension \(axis) of the \(what) shape \(KerasShapes.describe(shape)) is undefined, but the layer's variables depend on it")
        }
        return d
    }

    /// `add_weight`: a variable of this object.
    mutating func addWeight(_ name: String, _ shape: KerasShape, dtype: DType? = nil, trainable createdTrainable: Bool = true) throws {
        var concrete: [Int] = []
        for d in shape {
            guard let d else {
                throw cfg.error("variable \"\(name)\" would have the undefined shape \(KerasShapes.describe(shape)); an input dimension it depends on is unknown")
            }
            guard d >= 0 else { throw cfg.error("variable \"\(name)\" would have the negative shape \(KerasShapes.describe(shape))") }
            concrete.append(d)
        }
        guard TensorInfo.elementCount(concrete) != nil else {
            throw cfg.error("variable \"\(name)\" would have the shape \(KerasShapes.describe(shape)), whose size overflows")
        }
        let keras2Var = keras2Renames[name] ?? name
        own.append(BuiltVariable(name: name,
                                 path: (scope.canonical + [name]).joined(separator: "/"),
                                 scopedPath: (scope.scoped + [name]).joined(separator: "/"),
                                 keras2Name: (scope.keras2 + [keras2Var]).joined(separator: "/") + ":0",
                                 shape: concrete, dtype: dtype ?? policy.variableDType,
                                 createdTrainable: createdTrainable, trainable: createdTrainable && trainable))
    }

    /// A sub-object created in `build()` (an RNN cell, an attention projection): always named
    /// inside this layer's scope.
    mutating func addSubLayer(attribute: String, name: String, className: String,
                              _ body: (inout LayerBuild) throws -> Void) throws {
        let sub = KerasLayer(className: className, name: name, module: nil, registeredName: nil, config: .object([]),
                             trainable: true, dtypePolicy: policy, buildConfig: nil, inboundNodes: [], json: .null,
                             nestedBox: nil)
        var b = LayerBuild(engine: engine, layer: sub, cfg: KerasConfig(name: name, className: className, config: .object([])),
                           inputs: inputs, node: nil, scope: scope.joined(name, standalone: false),
                           trainable: trainable, policy: policy)
        b.keras2Renames = keras2Renames
        try body(&b)
        var object = BuiltObject(objectName: name, className: className)
        object.canonicalScope = b.scope.canonical
        object.scopedScope = b.scope.scoped
        object.own = b.own
        object.children = b.children
        children.append((attribute, object))
    }

    /// A weightless sub-object the saver still visits (MultiHeadAttention's `_softmax`).
    mutating func addEmptySubObject(attribute: String, name: String, className: String) {
        children.append((attribute, BuiltObject(objectName: name, className: className)))
    }

    /// A wrapped layer deserialized from this layer's config (Bidirectional, TimeDistributed).
    mutating func addWrapped(_ inner: KerasLayer, attribute: String, inputs: LayerInputs,
                             keras2Transparent: Bool = false) throws -> [KerasShape]? {
        let parent = KerasParent(scope: scope, trainable: trainable, keras2Transparent: keras2Transparent)
        let r = try engine.buildLayerReportingInput(inner, inputs: inputs, node: nil, parent: parent,
                                                    missingInputReason: { "the wrapper's input shape is unknown" })
        children.append((attribute, r.object))
        return r.outputs
    }

    /// Parses a layer config nested in this one (`config.layer`).
    func nestedLayer(_ key: String) throws -> KerasLayer? {
        guard let v = cfg[key] else { return nil }
        var parser = KerasArchitectureParser(dialect: engine.dialect)
        return try parser.parseLayer(v, inheritedPolicy: policy, context: "\"\(key)\" of \(cfg.place)")
    }
}
