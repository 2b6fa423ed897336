/// What a tensor is, read from names alone: for formats that store only named arrays (`.npz`,
/// `.safetensors`), the names `ckpt` and Keras give optimizer state say what it is.
///
/// Rules (the container's, spec §2 rules 6–7):
/// - a name under `optimizer/` is optimizer state;
/// - `optimizer/<slot>/<weight>`, where `<weight>` is the name of a weight of the same file, is
///   the slot `<slot>` of that weight (the longest such weight name wins: `optimizer/m/dense/kernel`
///   is slot `m` of `dense/kernel` even when a weight is named `kernel`);
/// - any other `optimizer/...` name (`optimizer/iteration`, `optimizer/vars/3`) is optimizer state
///   of no weight;
/// - everything else is a weight.
public enum TensorRoles {
    /// `tensors` with role, slot and owning weight set from their names (dtype, shape and
    /// trainability as given; optimizer state is never trainable).
    public static func fromNames(_ tensors: [TensorInfo]) -> [TensorInfo] {
        let prefix = ContainerSpec.optimizerPrefix
        guard tensors.contains(where: { $0.name.hasBytePrefix(prefix) }) else {
            return tensors.map { t in
                var t = t
                t.role = .weight
                t.slot = nil
                t.weight = nil
                return t
            }
        }
        let weights = Set(tensors.filter { !$0.name.hasBytePrefix(prefix) }.map { ByteName($0.name) })
        return tensors.map { t in
            var out = TensorInfo(name: t.name, dtype: t.dtype, shape: t.shape, role: .weight, trainable: t.trainable, quantization: t.quantization)
            guard t.name.hasBytePrefix(prefix) else { return out }
            out.role = .optimizer
            out.trainable = false
            if let (slot, weight) = slotAndWeight(t.name, weights: weights) {
                out.slot = slot
                out.weight = weight
            }
            return out
        }
    }

    /// The slot and weight an `optimizer/<slot>/<weight>` name stands for, or nil.
    static func slotAndWeight(_ name: String, weights: Set<ByteName>) -> (String, String)? {
        let rest = name.dropFirst(ContainerSpec.optimizerPrefix.count)
        var cut = rest.startIndex
        while let slash = rest[cut...].firstIndex(of: "/") {
            let slot = String(rest[..<slash])
            let weight = String(rest[rest.index(after: slash)...])
            if !slot.isEmpty, weights.contains(ByteName(weight)) { return (slot, weight) }
            cut = rest.index(after: slash)
        }
        return nil
    }
}
