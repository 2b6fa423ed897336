/// Turning the bytes numpy stores into the little-endian, C-order bytes every ``TensorSource``
/// serves: byte-swapping big-endian elements and transposing Fortran-order arrays, as
/// `numpy.load` followed by `np.ascontiguousarray(a.astype(a.dtype.newbyteorder('<')))` would.
enum NPYLayout {
    /// Reverses the bytes of every `itemSize`-byte element of `buffer` in place (a trailing
    /// partial element is left alone; callers pass whole elements).
    static func swapBytes(_ buffer: UnsafeMutableRawBufferPointer, itemSize: Int) {
        guard itemSize > 1, let base = buffer.baseAddress else { return }
        let n = buffer.count / itemSize
        for k in 0..<n {
            let p = base + k * itemSize
            var lo = 0, hi = itemSize - 1
            while lo < hi {
                let a = p.load(fromByteOffset: lo, as: UInt8.self)
                p.storeBytes(of: p.load(fromByteOffset: hi, as: UInt8.self), toByteOffset: lo, as: UInt8.self)
                p.storeBytes(of: a, toByteOffset: hi, as: UInt8.self)
                lo += 1
                hi -= 1
            }
        }
    }

    /// Whether a Fortran-order array of `shape` is laid out differently from C order: it is not
    /// when at most one axis is longer than 1, or when it holds no elements.
    static func fortranDiffers(_ shape: [Int]) -> Bool {
        shape.filter { $0 > 1 }.count > 1 && TensorInfo.elementCount(shape) != 0
    }

    /// The C-order copy of the Fortran-order elements `fortran` (first index fastest) of `shape`.
    static func fortranToC(_ fortran: [UInt8], shape: [Int], itemSize: Int) -> [UInt8] {
        guard fortranDiffers(shape), fortran.count == (TensorInfo.elementCount(shape) ?? -1) * itemSize else { return fortran }
        let rank = shape.count
        // Fortran strides in elements: axis 0 moves by 1, axis k by the product of the axes before it.
        var fstride = [Int](repeating: 1, count: rank)
        for k in 1..<rank { fstride[k] = fstride[k - 1] * shape[k - 1] }
        var out = [UInt8](repeating: 0, count: fortran.count)
        var index = [Int](repeating: 0, count: rank)
        var from = 0
        fortran.withUnsafeBytes { src in
            out.withUnsafeMutableBytes { dst in
                guard let s = src.baseAddress, let d = dst.baseAddress else { return }
                let count = fortran.count / itemSize
                for to in 0..<count {
                    (d + to * itemSize).copyMemory(from: s + from * itemSize, byteCount: itemSize)
                    // Advance the C-order odometer: the last axis fastest.
                    var k = rank - 1
                    while k >= 0 {
                        index[k] += 1
                        from += fstride[k]
                        if index[k] < shape[k] { break }
                        from -= fstride[k] * shape[k]
                        index[k] = 0
                        k -= 1
                    }
                }
            }
        }
        return out
    }
}
