// Dense, EinsumDense and Embedding: what `build()` creates and the output shape (Keras 3.15).

extension KerasLayerCatalog {
    /// `Dense.build`: kernel (in, units), bias (units,).
    static func dense(_ b: inout LayerBuild) throws {
        let x = try b.input()
        let units = try b.cfg.positiveInt("units")
        let inDim = try b.dim(x, -1, "input")
        try b.addWeight("kernel", [inDim, units])
        if try b.cfg.bool("use_bias", default: true) { try b.addWeight("bias", [units]) }
        b.outputs = [Array(x.dropLast()) + [units]]
    }

    /// `EinsumDense.build` via `_analyze_einsum_string`.
    static func einsumDense(_ b: inout LayerBuild) throws {
        let x = try b.input()
        let equation = try b.cfg.string("equation", default: "")
        var partial: KerasShape
        guard let os = b.cfg["output_shape"] else { throw b.cfg.error("the config has no \"output_shape\"") }
        if let i = os.intValue { partial = [i] } else { partial = try KerasShapes.parseShape(os, what: "\(b.cfg.place): \"output_shape\"") }
        let biasAxes = b.cfg["bias_axes"]?.stringValue
        guard !x.isEmpty else { throw b.cfg.error("expects a non-scalar input") }
        let r = try analyzeEinsum(equation: equation, biasAxes: biasAxes, input: x, partialOutput: partial, cfg: b.cfg)
        try b.addWeight("kernel", r.kernel)
        if let bias = r.bias { try b.addWeight("bias", bias) }
        b.outputs = [r.output]
    }

    struct EinsumAnalysis {
        var kernel: KerasShape
        var bias: KerasShape?
        var output: KerasShape
    }

    static func analyzeEinsum(equation: String, biasAxes: String?, input: KerasShape, partialOutput: KerasShape,
                              cfg: KerasConfig) throws -> EinsumAnalysis {
        let eq = equation.keras_replacing("...", with: "0")
        func letters(_ s: Substring) -> Bool { !s.isEmpty && s.allSatisfy { $0.isASCII && $0.isLetter } }
        let sides = eq.split(separator: "-", maxSplits: 1, omittingEmptySubsequences: false)
        guard sides.count == 2, sides[1].hasPrefix(">") else {
            throw cfg.error("invalid einsum equation \"\(CheckpointError.printable(equation))\"; expected [X],[Y]->[Z], ...[X],[Y]->...[Z] or [X]...,[Y]->[Z]...")
        }
        let lhs = sides[0].split(separator: ",", omittingEmptySubsequences: false)
        let out = sides[1].dropFirst()
        guard lhs.count == 2 else { throw cfg.error("invalid einsum equation \"\(CheckpointError.printable(equation))\"") }
        var inSpec = lhs[0], weightSpec = lhs[1], outSpec = out
        var leftElided = false
        if letters(inSpec) && letters(weightSpec) && letters(outSpec) {
            // plain
        } else if inSpec.hasPrefix("0"), outSpec.hasPrefix("0"), letters(inSpec.dropFirst()), letters(weightSpec), letters(outSpec.dropFirst()) {
            inSpec = inSpec.dropFirst()
            outSpec = outSpec.dropFirst()
            leftElided = true
        } else if inSpec.hasSuffix("0"), outSpec.hasSuffix("0"), inSpec.dropLast().count >= 2, letters(inSpec.dropLast()),
                  letters(weightSpec), letters(outSpec.dropLast()) {
            inSpec = inSpec.dropLast()
            outSpec = outSpec.dropLast()
        } else {
            throw cfg.error("invalid einsum equation \"\(CheckpointError.printable(equation))\"; expected [X],[Y]->[Z], ...[X],[Y]->...[Z] or [X]...,[Y]->[Z]...")
        }
        let inChars = Array(inSpec), wChars = Array(weightSpec), outChars = Array(outSpec)
        let elided = input.count - inChars.count
        guard elided >= 0 else {
            throw cfg.error("the einsum equation \"\(CheckpointError.printable(equation))\" has more input dimensions than the input shape \(KerasShapes.describe(input))")
        }
        guard let batch = input.first else { throw cfg.error("the einsum input shape is empty") }
        var output = partialOutput
        output.insert(batch, at: 0)
        if elided > 0 && leftElided {
            if elided > 1 { for i in 1..<elided { output.insert(input[i], at: 1) } }
        } else if elided > 0 {
            for i in (input.count - elided)..<input.count { output.append(input[i]) }
        }
        var inputDim: [Character: Int] = [:]
        var outputDim: [Character: Int] = [:]
        for (i, c) in inChars.enumerated() { inputDim[c] = leftElided ? i + elided : i }
        for (i, c) in outChars.enumerated() { outputDim[c] = leftElided ? i + elided : i }
        func at(_ s: KerasShape, _ i: Int) throws -> Int? {
            guard s.indices.contains(i) else {
                throw cfg.error("the einsum equation \"\(CheckpointError.printable(equation))\" does not match the input shape \(KerasShapes.describe(input)) and output_shape \(KerasShapes.describe(partialOutput))")
            }
            return s[i]
        }
        for c in inChars {
            guard let ii = inputDim[c] else { continue }
            let inD = try at(input, ii)
            if let oi = outputDim[c], let outD = try at(output, oi), let inD, outD != inD {
                throw cfg.error("input shape and output shape do not match at shared dimension '\(c)': \(inD) and \(outD)")
            }
        }
        for c in outChars where inputDim[c] == nil && !wChars.contains(c) {
            throw cfg.error("dimension '\(c)' of the einsum output has no corresponding dimension in the input or the weight")
        }
        var kernel: KerasShape = []
        for c in wChars {
            if let oi = outputDim[c] {
                kernel.append(try at(output, oi))
            } else if let ii = inputDim[c] {
                kernel.append(try at(input, ii))
            } else {
                throw cfg.error("weight dimension '\(c)' of \"\(CheckpointError.printable(equation))\" matches neither the input nor the output")
            }
        }
        var bias: KerasShape? = nil
        if let biasAxes {
            let numLeft = leftElided ? elided : 0
            var idx: [Character: Int?] = [:]
            for (i, c) in outChars.enumerated() { idx[c] = try at(output, i + numLeft) }
            for c in biasAxes where !outChars.contains(c) {
                throw cfg.error("bias dimension '\(c)' is not part of the einsum output \"\(String(outSpec))\"")
            }
            guard let first = biasAxes.compactMap({ c in outChars.firstIndex(of: c) }).min() else {
                throw cfg.error("\"bias_axes\" is empty")
            }
            var shape: KerasShape = outChars[first...].map { c in biasAxes.contains(c) ? (idx[c] ?? nil) : 1 }
            if !leftElided { for _ in 0..<elided { shape.append(1) } }
            bias = shape
        }
        return EinsumAnalysis(kernel: kernel, bias: bias, output: output)
    }

    /// `Embedding.build`: embeddings (input_dim, output_dim); `ReversibleEmbedding` adds
    /// reverse_embeddings (output_dim, input_dim) unless `tie_weights`.
    static func embedding(_ b: inout LayerBuild) throws {
        let x = try b.input()
        let inputDim = try b.cfg.positiveInt("input_dim")
        let outputDim = try b.cfg.positiveInt("output_dim")
        try b.addWeight("embeddings", [inputDim, outputDim])
        if b.cfg.className == "ReversibleEmbedding", !(try b.cfg.bool("tie_weights", default: true)) {
            try b.addWeight("reverse_embeddings", [outputDim, inputDim])
        }
        b.outputs = [x + [outputDim]]
    }
}
