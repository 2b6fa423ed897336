// Reading optimizer state from Keras files: helpers shared by the readers and the writer.

/// Helpers shared by the readers and the writer for optimizer state.
enum KerasOptimizerState {
    /// A serialized optimizer whose class name may carry a registration prefix (`Custom>Adam`,
    /// `keras.optimizers>Adam`) or a module path.
    static func config(serialized: JSONValue) throws -> KerasOptimizerConfig {
        try KerasOptimizerConfig(serialized: serialized)
    }

    /// `adam`, `adam_1`, `rm_sprop`, `Adam` → the class; nil for names Keras did not generate.
    static func kind(fromName name: String) -> KerasOptimizerKind? { KerasOptimizerKind(instanceName: name) }

    /// Configurations to try for a class known only by name: Keras's defaults, and the variants
    /// that change which variables exist.
    static func guesses(kind: KerasOptimizerKind, name: String, learningRate: Float?) -> [KerasOptimizerConfig] {
        let variants: [[(String, String)]] = [[]] + kind.entry.layoutVariants
        var common: [(String, String)] = [("name", name)]
        if let lr = learningRate, lr.isFinite { common.append(("learning_rate", "\(Double(lr))")) }
        return variants.compactMap { try? KerasOptimizerConfig(className: kind.className, overrides: common + $0) }
    }

    /// The value of an integer scalar dataset (the step counter).
    static func integerScalar(_ d: HDF5Dataset, _ info: HDF5DatasetInfo) throws -> Int64? {
        guard info.shape.isEmpty, [.int32, .int64, .uint32, .uint64, .int16, .uint16, .int8, .uint8].contains(info.dtype) else { return nil }
        let bytes = try d.read()
        var v: UInt64 = 0
        for (k, b) in bytes.enumerated() { v |= UInt64(b) << (8 * UInt64(k)) }
        switch info.dtype {
        case .int32: return Int64(Int32(truncatingIfNeeded: v))
        case .int16: return Int64(Int16(truncatingIfNeeded: v))
        case .int8: return Int64(Int8(truncatingIfNeeded: v))
        case .int64: return Int64(bitPattern: v)
        default: return v > UInt64(Int64.max) ? nil : Int64(v)
        }
    }

    static func floatScalar(_ d: HDF5Dataset, _ info: HDF5DatasetInfo) throws -> Float? {
        guard info.shape.isEmpty, info.dtype == .float32 else { return nil }
        let bytes = try d.read()
        guard bytes.count == 4 else { return nil }
        return Float(bitPattern: UInt32(bytes[0]) | UInt32(bytes[1]) << 8 | UInt32(bytes[2]) << 16 | UInt32(bytes[3]) << 24)
    }
}
