// The engine that walks a model the way Keras 3 deserializes it: it orders layers like
// `keras/src/ops/function.py` `map_graph`, propagates shapes through the graph, builds every
// layer's variables with the right name scope, and records where Keras 3's saver
// (`keras/src/saving/saving_lib.py` `_save_state`) puts each variable.


struct KerasModelEngine {
    let dialect: KerasDialect
    let options: KerasInferenceOptions

    init(dialect: KerasDialect, options: KerasInferenceOptions) {
        self.dialect = dialect
        self.options = options
    }

    struct TopResult {
        var object: BuiltObject
        var unknown: [KerasUnknownLayer]
    }

    func buildTopModel(_ model: KerasModel) throws -> TopResult {
        let result = try buildModel(model, callInputs: nil, parent: KerasParent(scope: .root, trainable: true), top: true)
        var unknown: [KerasUnknownLayer] = []
        Self.collectUnknown(result.object, objectPath: "", into: &unknown)
        return TopResult(object: result.object, unknown: unknown)
    }

    // MARK: - Models

    /// Builds a Sequential or Functional model (top-level or nested).
    func buildModel(_ model: KerasModel, callInputs: [KerasShape]?, parent: KerasParent, top: Bool) throws -> BuildResult {
        // A model builds itself when it is deserialized, outside any enclosing scope. A Sequential
        // model builds its layers inside its own name scope; a Functional model calls them
        // outside any. tf.keras names a nested model's variables after the inner layers only.
        let trainable = parent.trainable && model.trainable
        let childScope: KerasScope
        switch model.kind {
        case .sequential: childScope = KerasScope(canonical: [model.name], scoped: [model.name], keras2: [])
        case .functional: childScope = .root
        }
        let childParent = KerasParent(scope: childScope, trainable: trainable)
        var object = BuiltObject(objectName: model.name, className: model.kind == .sequential ? "Sequential" : "Functional")
        object.isModel = true
        object.canonicalScope = [model.name]
        object.scopedScope = [model.name]
        let outputs: [KerasShape]?
        switch model.kind {
        case .sequential:
            let r = try buildSequential(model, callInputs: callInputs, parent: childParent)
            object.children = r.children
            outputs = r.outputs
        case .functional:
            let r = try buildFunctional(model, parent: childParent)
            object.children = r.children
            outputs = r.outputs
        }
        return BuildResult(object: object, outputs: outputs)
    }

    /// The H5 attribute of each layer of a model: `layers/<snake_case class>[_<n>]`.
    static func layerAttributes(_ layers: [KerasLayer]) -> [String] {
        var used: [String: Int] = [:]
        return layers.map { layer in
            let base = KerasNames.snakeCase(KerasLayerCatalog.pythonClassName(layer.className))
            if let n = used[base] {
                used[base] = n + 1
                return "layers/\(base)_\(n + 1)"
            }
            used[base] = 0
            return "layers/\(base)"
        }
    }

    static func inputLayerShape(_ layer: KerasLayer) throws -> KerasShape {
        let cfg = KerasConfig(layer)
        for key in ["batch_shape", "batch_input_shape"] {
            if let s = cfg[key] { return try KerasShapes.parseShape(s, what: "\(cfg.place): \"\(key)\"") }
        }
        if let s = cfg["shape"] {
            let inner = try KerasShapes.parseShape(s, what: "\(cfg.place): \"shape\"")
            let batch = try cfg.optionalInt("batch_size")
            return [batch] + inner
        }
        if let s = cfg["input_shape"] {
            return [nil] + (try KerasShapes.parseShape(s, what: "\(cfg.place): \"input_shape\""))
        }
        throw cfg.error("the InputLayer has no \"batch_shape\" (Keras 3) or \"batch_input_shape\" (Keras 2)")
    }

    func buildSequential(_ model: KerasModel, callInputs: [KerasShape]?, parent: KerasParent) throws
        -> (children: [(attribute: String, object: BuiltObject)], outputs: [KerasShape]?) {
        var layers = model.layers
        var current: KerasShape? = nil
        if let first = layers.first, first.className == "InputLayer" {
            current = try Self.inputLayerShape(first)
            layers.removeFirst()
        } else if let s = model.buildInputShape {
            current = s
        } else if let first = layers.first {
            let cfg = KerasConfig(first)
            for key in ["batch_input_shape", "batch_shape"] {
                if let s = cfg[key] { current = try KerasShapes.parseShape(s, what: "\(cfg.place): \"\(key)\""); break }
            }
            if current == nil, let s = cfg["input_shape"] {
                current = [nil] + (try KerasShapes.parseShape(s, what: "\(cfg.place): \"input_shape\""))
            }
        }
        if current == nil, let c = callInputs?.first { current = c }
        if let bad = layers.firstIndex(where: { $0.className == "InputLayer" }) {
            throw CheckpointError(.invalidArchitecture,
                                  "Sequential model \"\(CheckpointError.printable(model.name))\": layer \(bad + 1) is an InputLayer; only the first layer of a Sequential model may be one")
        }
        let attributes = Self.layerAttributes(layers)
        var children: [(attribute: String, object: BuiltObject)] = []
        var previous: String? = nil
        for (layer, attribute) in zip(layers, attributes) {
            let inputs = current.map { LayerInputs(single: $0) }
            let r = try buildLayerReportingInput(layer, inputs: inputs, node: nil, parent: parent,
                                                 missingInputReason: {
                                                     if let previous {
                                                         return "the output shape of the previous layer \"\(CheckpointError.printable(previous))\" cannot be computed"
                                                     }
                                                     return "Sequential model \"\(CheckpointError.printable(model.name))\" records no input shape (no InputLayer, build_input_shape or batch_input_shape)"
                                                 })
            var child = r.object
            child.outputShapes = r.outputs
            children.append((attribute, child))
            current = r.outputs?.first
            previous = layer.name
        }
        return (children, current.map { [$0] })
    }

    // MARK: - Layers

    /// Whether Keras builds this layer on its own when deserializing it (its config carries the
    /// shapes it was built with), so that its variables are named outside any enclosing scope.
    func isStandalone(_ layer: KerasLayer) -> Bool {
        if dialect == .keras2 { return true }
        guard let b = layer.buildConfig else { return false }
        if let s = b["input_shape"], !s.isNull { return true }
        if let s = b["shapes_dict"], !s.isNull { return true }
        return false
    }

    /// Shapes from `build_config`.
    static func recordedInputs(_ layer: KerasLayer) throws -> LayerInputs? {
        guard let b = layer.buildConfig else { return nil }
        let what = "layer \"\(CheckpointError.printable(layer.name))\": build_config"
        if let s = b["input_shape"], !s.isNull {
            return LayerInputs(positional: try KerasShapes.parseShapes(s, what: what))
        }
        if let d = b["shapes_dict"], let members = d.objectValue {
            var tensors: [(argument: KerasTensorReference.Argument, shape: KerasShape)] = []
            for (k, v) in members where !v.isNull {
                let name = k.hasSuffix("_shape") ? String(k.dropLast("_shape".count)) : k
                tensors.append((.keyword(name), try KerasShapes.parseShape(v, what: what)))
            }
            return LayerInputs(tensors: tensors)
        }
        return nil
    }

    /// Builds a layer whose input may be unknown; turns "unknown input" into an unresolved layer
    /// (with `allowUnknownLayers`) or an error.
    func buildLayerReportingInput(_ layer: KerasLayer, inputs: LayerInputs?, node: KerasNode?, parent: KerasParent,
                                  missingInputReason: () -> String) throws -> BuildResult {
        var effective = inputs
        if options.useRecordedShapes || effective == nil, let recorded = try Self.recordedInputs(layer) {
            effective = recorded
        }
        if layer.className == "InputLayer" {
            let s = try Self.inputLayerShape(layer)
            return BuildResult(object: BuiltObject(objectName: layer.name, className: "InputLayer"), outputs: [s])
        }
        guard let effective else {
            if layer.isModel, let m = layer.nestedModel {
                return try buildModel(m, callInputs: nil, parent: parent, top: false)
            }
            if !KerasLayerCatalog.isKnown(KerasLayerCatalog.modelledClassName(layer)) {
                return try unknownLayer(layer, parent: parent)
            }
            if KerasLayerCatalog.isWeightless(layer.className) {
                // No variables to infer; the output shape stays unknown.
                var object = BuiltObject(objectName: layer.name, className: layer.className)
                let scope = parent.scope.joined(layer.name, standalone: isStandalone(layer))
                object.canonicalScope = scope.canonical
                object.scopedScope = scope.scoped
                return BuildResult(object: object, outputs: nil)
            }
            if options.allowUnknownLayers {
                var object = BuiltObject(objectName: layer.name, className: layer.className)
                let scope = parent.scope.joined(layer.name, standalone: isStandalone(layer))
                object.canonicalScope = scope.canonical
                object.scopedScope = scope.scoped
                object.unknownReason = .inputShapeUnknown
                return BuildResult(object: object, outputs: nil)
            }
            throw CheckpointError(.invalidArchitecture,
                                  "cannot determine the input shape of layer \"\(CheckpointError.printable(layer.name))\" (\(CheckpointError.printable(layer.className))): \(missingInputReason())",
                                  hint: "allow unknown layers to take the variables of such layers from the weights file as they are")
        }
        var r = try buildLayer(layer, inputs: effective, node: node, parent: parent)
        if let inputs, options.useRecordedShapes, !layer.isModel, !Self.sameShapes(inputs, effective) {
            // Outputs follow the call's inputs when they differ from the build shapes.
            if let o = try? buildLayer(layer, inputs: inputs, node: node, parent: parent).outputs { r.outputs = o }
        }
        return r
    }

    static func sameShapes(_ a: LayerInputs, _ b: LayerInputs) -> Bool {
        a.main == b.main
    }

    func unknownLayer(_ layer: KerasLayer, parent: KerasParent) throws -> BuildResult {
        guard options.allowUnknownLayers else {
            let custom = layer.registeredName.map { " (registered as \"\(CheckpointError.printable($0))\")" } ?? ""
            throw CheckpointError(.unknownLayer,
                                  "layer \"\(CheckpointError.printable(layer.name))\" is of class \(CheckpointError.printable(layer.className))\(custom), whose variables are not known",
                                  hint: "allowing unknown layers (rebuild --allow-unknown-layers) takes that layer's variables from the weights file as they are, where the layer sits in the model")
        }
        var object = BuiltObject(objectName: layer.name, className: layer.className)
        let scope = parent.scope.joined(layer.name, standalone: isStandalone(layer))
        object.canonicalScope = scope.canonical
        object.scopedScope = scope.scoped
        object.unknownReason = .unknownClass
        return BuildResult(object: object, outputs: nil)
    }

    /// Builds one layer (any class) with known input shapes.
    func buildLayer(_ layer: KerasLayer, inputs: LayerInputs, node: KerasNode?, parent: KerasParent) throws -> BuildResult {
        if layer.isModel, let m = layer.nestedModel {
            return try buildModel(m, callInputs: inputs.main, parent: parent, top: false)
        }
        let className = KerasLayerCatalog.modelledClassName(layer)
        guard KerasLayerCatalog.isKnown(className) else {
            return try unknownLayer(layer, parent: parent)
        }
        let cfg = KerasConfig(name: layer.name, className: className, config: layer.config)
        for key in ["quantization_config", "quantization_mode"] {
            if cfg[key] != nil {
                throw CheckpointError(.unsupported, "\(cfg.place): quantized layers are not supported; their variables differ from the float layer's",
                                      hint: "save the model before quantizing it")
            }
        }
        if let r = cfg["lora_rank"], (r.intValue ?? 1) != 0 {
            throw CheckpointError(.unsupported, "\(cfg.place): LoRA-enabled layers (lora_rank) are not supported",
                                  hint: "merge the LoRA weights before saving")
        }
        let scope = parent.scope.joined(layer.name, standalone: isStandalone(layer), keras2Transparent: parent.keras2Transparent)
        var b = LayerBuild(engine: self, layer: layer, cfg: cfg, inputs: inputs, node: node, scope: scope,
                           trainable: parent.trainable && layer.trainable, policy: layer.dtypePolicy)
        try KerasLayerCatalog.build(className, &b)
        try KerasShapes.checkBounds(b.outputs, place: cfg.place)
        var object = BuiltObject(objectName: layer.name, className: className)
        object.canonicalScope = scope.canonical
        object.scopedScope = scope.scoped
        object.own = b.own
        object.children = b.children
        return BuildResult(object: object, outputs: b.outputs)
    }
}
