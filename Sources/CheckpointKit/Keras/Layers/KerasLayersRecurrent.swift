// Recurrent layers, cells and wrappers (Bidirectional, TimeDistributed): sub-objects, variables
// and output shapes (Keras 3.15).

extension KerasLayerCatalog {
    /// SimpleRNN / LSTM / GRU: the cell (`cell` attribute, `<kind>_cell` scope) holds kernel
    /// (in, g*units), recurrent_kernel (units, g*units), bias (g*units,) — GRU with reset_after
    /// (2, 3*units).
    static func rnn(_ b: inout LayerBuild) throws {
        let x = try b.input()
        guard x.count >= 3 else { throw b.cfg.error("expects inputs of shape (batch, timesteps, features), found \(KerasShapes.describe(x))") }
        let units = try b.cfg.positiveInt("units")
        let useBias = try b.cfg.bool("use_bias", default: true)
        let inDim = try b.dim(x, -1, "input")
        let cls = b.cfg.className
        let (cellName, cellClass, gates) = cls == "LSTM" ? ("lstm_cell", "LSTMCell", 4)
            : cls == "GRU" ? ("gru_cell", "GRUCell", 3) : ("simple_rnn_cell", "SimpleRNNCell", 1)
        let resetAfter = cls == "GRU" ? try b.cfg.bool("reset_after", default: true) : false
        _ = gates
        try b.addSubLayer(attribute: "cell", name: cellName, className: cellClass) { c in
            try cellWeights(&c, kind: cellClass, inDim: inDim, units: units, useBias: useBias, resetAfter: resetAfter)
        }
        let states = cls == "LSTM" ? 2 : 1
        b.outputs = try rnnOutputs(b, x, step: [x[0], units], stateShapes: Array(repeating: [x[0], units], count: states))
    }

    /// The variables of a SimpleRNN/LSTM/GRU cell for an input of `inDim` features.
    static func cellWeights(_ c: inout LayerBuild, kind: String, inDim: Int, units: Int, useBias: Bool, resetAfter: Bool) throws {
        let gates = kind == "LSTMCell" ? 4 : kind == "GRUCell" ? 3 : 1
        try c.addWeight("kernel", [inDim, units * gates])
        try c.addWeight("recurrent_kernel", [units, units * gates])
        if useBias { try c.addWeight("bias", resetAfter ? [2, units * gates] : [units * gates]) }
    }

    /// A cell used directly (inside `RNN`): built on the step input (batch, features); outputs
    /// (batch, units).
    static func rnnCell(_ b: inout LayerBuild) throws {
        let x = try b.input()
        let units = try b.cfg.positiveInt("units")
        let inDim = try b.dim(x, -1, "input")
        let kind = b.cfg.className
        try cellWeights(&b, kind: kind, inDim: inDim, units: units, useBias: try b.cfg.bool("use_bias", default: true),
                        resetAfter: kind == "GRUCell" ? try b.cfg.bool("reset_after", default: true) : false)
        let states = kind == "LSTMCell" ? 2 : 1
        b.outputs = [[x[0], units]] + Array(repeating: [x[0], units], count: states)
    }

    /// `StackedRNNCells`: each cell (`cells` list attribute) built on the previous one's output.
    static func stackedCells(_ b: inout LayerBuild) throws {
        let x = try b.input()
        guard let list = b.cfg["cells"]?.arrayValue, !list.isEmpty else { throw b.cfg.error("the config has no \"cells\" list") }
        var parser = KerasArchitectureParser(dialect: b.engine.dialect)
        var cells: [KerasLayer] = []
        for (i, item) in list.enumerated() {
            guard let cell = try parser.parseLayer(item, inheritedPolicy: b.policy, context: "cell \(i) of \(b.cfg.place)") else { continue }
            cells.append(cell)
        }
        let attributes = KerasModelEngine.layerAttributes(cells).map { "cells/" + $0.dropFirst("layers/".count) }
        var current = x
        var states: [KerasShape] = []
        for (cell, attribute) in zip(cells, attributes) {
            guard let out = try b.addWrapped(cell, attribute: attribute, inputs: LayerInputs(single: current)), let o = out.first else {
                b.outputs = nil
                return
            }
            current = o
            states += out.dropFirst()
        }
        b.outputs = [current] + states
    }

    /// `RNN(cell)`: the cell (`cell` attribute) is built on (batch, *input[2:]).
    static func genericRNN(_ b: inout LayerBuild) throws {
        let x = try b.input()
        guard x.count >= 3 else { throw b.cfg.error("expects inputs of shape (batch, timesteps, features), found \(KerasShapes.describe(x))") }
        guard let cell = try b.nestedLayer("cell") else {
            throw b.cfg.error("the config has no \"cell\" (a list of cells is written as a StackedRNNCells cell)")
        }
        let step: KerasShape = [x[0]] + x.dropFirst(2)
        guard let out = try b.addWrapped(cell, attribute: "cell", inputs: LayerInputs(single: step)), let o = out.first else {
            b.outputs = nil
            return
        }
        b.outputs = try rnnOutputs(b, x, step: o, stateShapes: Array(out.dropFirst()))
    }

    static func rnnOutputs(_ b: LayerBuild, _ x: KerasShape, step: KerasShape, stateShapes: [KerasShape]) throws -> [KerasShape] {
        let sequences = try b.cfg.bool("return_sequences", default: false)
        let state = try b.cfg.bool("return_state", default: false)
        guard let batch = step.first, x.count >= 2 else { throw b.cfg.error("the cell's output shape \(KerasShapes.describe(step)) has no batch dimension") }
        let out: KerasShape = sequences ? [batch, x[1]] + step.dropFirst() : step
        return state ? [out] + stateShapes : [out]
    }

    /// ConvLSTM1D/2D/3D: the cell (`conv_lstm_cell`) holds kernel kernel_size + (in, 4f),
    /// recurrent_kernel kernel_size + (f, 4f), bias (4f,).
    static func convLSTM(_ b: inout LayerBuild, rank: Int) throws {
        let x = try b.input()
        guard x.count == rank + 3 else { throw b.cfg.error("expects inputs of rank \(rank + 3), found \(KerasShapes.describe(x))") }
        let g = try convGeometry(b, rank: rank)
        let filters = try b.cfg.positiveInt("filters")
        let useBias = try b.cfg.bool("use_bias", default: true)
        let step: KerasShape = [x[0]] + x.dropFirst(2)
        let inCh = try inputChannels(b, step, channelsLast: g.channelsLast)
        try b.addSubLayer(attribute: "cell", name: "conv_lstm_cell", className: "ConvLSTMCell") { c in
            try c.addWeight("kernel", g.kernel.map { $0 } + [inCh, filters * 4])
            try c.addWeight("recurrent_kernel", g.kernel.map { $0 } + [filters, filters * 4])
            if useBias { try c.addWeight("bias", [filters * 4]) }
        }
        let state = convOutput(step, filters: filters, g: g)
        b.outputs = try rnnOutputs(b, x, step: state, stateShapes: [state, state])
    }

    /// `Bidirectional`: forward_layer (`forward_<name>`) and backward_layer (`backward_<name>`
    /// or the configured one), both built on the input; outputs merged per merge_mode.
    static func bidirectional(_ b: inout LayerBuild) throws {
        let x = try b.input()
        guard let inner = try b.nestedLayer("layer") else { throw b.cfg.error("the config has no wrapped \"layer\"") }
        // Keras: forward_<name without "forward_">, backward_<name without "backward_">.
        func removePrefix(_ s: String, _ p: String) -> String { s.hasPrefix(p) ? String(s.dropFirst(p.count)) : s }
        var forward = inner
        forward.name = "forward_" + removePrefix(inner.name, "forward_")
        var backward: KerasLayer
        if let configured = try b.nestedLayer("backward_layer") {
            backward = configured
        } else {
            backward = inner
            backward.name = "backward_" + removePrefix(inner.name, "backward_")
        }
        let fOut = try b.addWrapped(forward, attribute: "forward_layer", inputs: LayerInputs(single: x))
        _ = try b.addWrapped(backward, attribute: "backward_layer", inputs: LayerInputs(single: x))
        guard let fOut, var out = fOut.first else { b.outputs = nil; return }
        let states = Array(fOut.dropFirst())
        let modeValue = b.cfg.config["merge_mode"]
        let mode: String? = modeValue.flatMap { $0.isNull ? nil : $0.stringValue } ?? (modeValue == nil ? "concat" : nil)
        var outputs: [KerasShape]
        switch mode {
        case "concat"?:
            if let last = out.last { out[out.count - 1] = KerasShapes.mul(last, 2) }
            outputs = [out]
        case nil:
            outputs = [out, out]
        case "sum"?, "mul"?, "ave"?:
            outputs = [out]
        default:
            throw b.cfg.error("\"merge_mode\" should be concat, sum, mul, ave or null, found \(modeValue?.serialized() ?? "?")")
        }
        b.outputs = outputs + states + states
    }

    /// `TimeDistributed`: the wrapped layer (`layer` attribute) is built on (batch, *input[2:]).
    static func timeDistributed(_ b: inout LayerBuild) throws {
        let x = try b.input()
        guard x.count >= 3 else { throw b.cfg.error("expects inputs of rank 3 or more, found \(KerasShapes.describe(x))") }
        guard let inner = try b.nestedLayer("layer") else { throw b.cfg.error("the config has no wrapped \"layer\"") }
        let child: KerasShape = [x[0]] + x.dropFirst(2)
        let out = try b.addWrapped(inner, attribute: "layer", inputs: LayerInputs(single: child), keras2Transparent: true)
        if let out, let o = out.first, !o.isEmpty {
            b.outputs = [[o[0], x[1]] + o.dropFirst()]
        } else {
            b.outputs = nil
        }
    }
}
