// A partitioned variable whose slices are boxes along any dimensions (TensorFlow's
// `MaxShardSizePolicy` cuts a variable that does not fit a shard along its columns too). The
// slices must tile the variable exactly: each inside it, none overlapping, their volumes adding up
// to the whole. The variable is put together in memory, up to ``Limits/maxInMemoryTensorBytes``.

struct TFSliceAssembly: Sendable {
    struct Part: Sendable {
        var entry: TFBundleEntry
        var key: String
        var start: [Int]
        var length: [Int]
    }

    var shape: [Int]
    var itemSize: Int
    var byteCount: Int
    var parts: [Part]

    init(_ key: TFKey, bundle: TFBundle, limits: Limits) throws {
        guard let dtype = key.entry.dtype.dtype else { throw CheckpointError(.unsupported, "its dtype \(key.entry.dtype.name) has no ckpt dtype") }
        let shape = key.entry.shape.map { Int(clamping: $0) }
        guard let count = TensorInfo.elementCount(shape) else { throw CheckpointError(.corrupt, "its shape \(shape) has too many elements") }
        let (bytes, overflow) = count.multipliedReportingOverflow(by: dtype.itemSize)
        guard !overflow, bytes <= limits.maxInMemoryTensorBytes else {
            throw CheckpointError(.limitExceeded, "it is sliced along several dimensions and is \(overflow ? "too many" : String(bytes)) bytes, more than the in-memory limit \(limits.maxInMemoryTensorBytes)")
        }
        var parts: [Part] = []
        var volume = 0
        for s in key.entry.slices {
            var start: [Int] = []
            var length: [Int] = []
            for (d, ext) in s.extents.enumerated() {
                let a = ext.start, n = ext.length ?? Int64(shape[d])
                guard a >= 0, n >= 0, a <= Int64(shape[d]) - n else {
                    throw CheckpointError(.corrupt, "a slice (dimension \(d): from \(a), \(n) long) lies outside its shape \(shape)")
                }
                start.append(Int(a))
                length.append(Int(n))
            }
            guard let e = bundle.sliceEntries[TFBundle.sliceKey(key.key, s)] else {
                throw CheckpointError(.corrupt, "a slice it lists (starting at \(start)) has no entry in the index")
            }
            guard e.proto.dtype == key.entry.dtype, e.proto.shape == length.map(Int64.init) else {
                throw CheckpointError(.corrupt, "a slice's entry is \(e.proto.dtype.name) \(e.proto.shape), its extent says \(key.entry.dtype.name) \(length)")
            }
            let (v, o) = (TensorInfo.elementCount(length) ?? Int.max).addingReportingOverflow(volume)
            guard !o, v <= count else { throw CheckpointError(.corrupt, "its slices hold more elements than its \(count)") }
            volume = v
            parts.append(Part(entry: e.proto, key: e.key, start: start, length: length))
        }
        guard volume == count else { throw CheckpointError(.corrupt, "its slices cover \(volume) of its \(count) elements") }
        for i in parts.indices {
            for j in parts.indices where j > i {
                let a = parts[i], b = parts[j]
                let disjoint = a.start.indices.contains { d in a.start[d] + a.length[d] <= b.start[d] || b.start[d] + b.length[d] <= a.start[d] }
                guard disjoint || a.length.contains(0) || b.length.contains(0) else {
                    throw CheckpointError(.corrupt, "two of its slices overlap (starting at \(a.start) and \(b.start))")
                }
            }
        }
        self.shape = shape
        self.itemSize = dtype.itemSize
        self.byteCount = bytes
        self.parts = parts
    }

    /// Copies a slice's bytes (C order over its box) to their places in the whole tensor.
    func scatter(_ bytes: [UInt8], _ part: Part, into out: inout [UInt8]) {
        let rank = shape.count
        guard rank > 0, !part.length.contains(0) else {
            if rank == 0 { out.replaceSubrange(0..<min(out.count, bytes.count), with: bytes.prefix(out.count)) }
            return
        }
        // Element strides of the whole tensor.
        var strides = [Int](repeating: 1, count: rank)
        for d in stride(from: rank - 2, through: 0, by: -1) { strides[d] = strides[d + 1] * shape[d + 1] }
        let run = part.length[rank - 1] * itemSize
        var index = [Int](repeating: 0, count: rank - 1)
        var from = 0
        while from + run <= bytes.count {
            var element = part.start[rank - 1]
            for d in 0..<(rank - 1) { element += (part.start[d] + index[d]) * strides[d] }
            let to = element * itemSize
            out.withUnsafeMutableBytes { o in
                bytes.withUnsafeBytes { b in
                    guard let dst = o.baseAddress, let src = b.baseAddress else { return }
                    (dst + to).copyMemory(from: src + from, byteCount: run)
                }
            }
            from += run
            // Next row of the box, last outer dimension fastest.
            var d = rank - 2
            while d >= 0 {
                index[d] += 1
                if index[d] < part.length[d] { break }
                index[d] = 0
                d -= 1
            }
            if d < 0 { break }
        }
    }
}
