// Block dequantization of GGML quantized types to float32, bit for bit as gguf-py's
// `gguf.quants.dequantize` computes it (gguf 0.19.0, `gguf/quants.py`): the same float32
// operations in the same order (a product, then a sum or difference, each rounded: no fused
// multiply-add), f16 scales widened exactly, element order as numpy's reshapes give it.
// Q8_K, which gguf-py does not decode, follows ggml's `dequantize_row_q8_K` (`d * qs[j]`).

/// Decodes whole blocks of one quantized type into float32.
enum GGUFDequantizer {
    /// float32 of every float16 bit pattern, NaN payloads kept as numpy keeps them
    /// (`npy_halfbits_to_floatbits`: the signalling bit is not set).
    static let halfTable: [Float] = (0..<65536).map { Float(bitPattern: halfBitsToFloatBits(UInt16($0))) }

    static func halfBitsToFloatBits(_ h: UInt16) -> UInt32 {
        let sign = UInt32(h & 0x8000) << 16
        let exp = h & 0x7C00
        let sig = UInt32(h & 0x03FF)
        switch exp {
        case 0:
            guard sig != 0 else { return sign }
            var s = sig << 1, e: UInt32 = 0
            while s & 0x0400 == 0 { s <<= 1; e += 1 }
            return sign | ((127 - 15 - e) << 23) | ((s & 0x03FF) << 13)
        case 0x7C00:
            return sign | 0x7F80_0000 | (sig << 13)
        default:
            return sign | ((UInt32(h & 0x7FFF) + 0x1_C000) << 13)
        }
    }

    /// IQ4_NL / IQ4_XS code book.
    static let iq4Values: [Int8] = [-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113]
    /// MXFP4's e2m1 values, doubled.
    static let mxfp4Values: [Int8] = [0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12]

    /// Decodes `blocks` whole blocks of `type` from `src` into `dst` (blocks × blockSize floats).
    /// The type must be ``GGMLType/isDequantizable``.
    static func decode(_ type: GGMLType, _ src: UnsafeRawBufferPointer, blocks: Int, into dst: UnsafeMutableBufferPointer<Float>) {
        let (qk, size) = type.blockLayout
        let blocks = min(blocks, src.count / size, dst.count / qk)
        guard let base = src.baseAddress?.assumingMemoryBound(to: UInt8.self), let out = dst.baseAddress else { return }
        halfTable.withUnsafeBufferPointer { h in
            guard let half = h.baseAddress else { return }
            for b in 0..<blocks {
                let x = base + b * size
                let y = out + b * qk
                func f16(_ o: Int) -> Float { half[Int(UInt16(x[o]) | UInt16(x[o + 1]) << 8)] }
                switch type {
                case .q4_0: q4_0(x, y, d: f16(0))
                case .q4_1: q4_1(x, y, d: f16(0), m: f16(2))
                case .q5_0: q5_0(x, y, d: f16(0))
                case .q5_1: q5_1(x, y, d: f16(0), m: f16(2))
                case .q8_0:
                    let d = f16(0)
                    for j in 0..<32 { y[j] = Float(Int8(bitPattern: x[2 + j])) * d }
                case .q2_K: q2_K(x, y, d: f16(80), dmin: f16(82))
                case .q3_K: q3_K(x, y, d: f16(108))
                case .q4_K: q45_K(x, y, d: f16(0), dmin: f16(2), high: nil)
                case .q5_K: q45_K(x, y, d: f16(0), dmin: f16(2), high: x + 16)
                case .q6_K: q6_K(x, y, d: f16(208))
                case .q8_K:
                    let d = Float(bitPattern: UInt32(x[0]) | UInt32(x[1]) << 8 | UInt32(x[2]) << 16 | UInt32(x[3]) << 24)
                    for j in 0..<256 { y[j] = d * Float(Int8(bitPattern: x[4 + j])) }
                case .iq4_NL: iq4_NL(x, y, d: f16(0))
                case .iq4_XS: iq4_XS(x, y, d: f16(0))
                case .tq1_0: tq1_0(x, y, d: f16(52))
                case .tq2_0: tq2_0(x, y, d: f16(64))
                case .mxfp4: mxfp4(x, y)
                default: for j in 0..<qk { y[j] = .nan }
                }
            }
        }
    }

    typealias In = UnsafePointer<UInt8>
    typealias Out = UnsafeMutablePointer<Float>

    /// Element j of a 32-element block packed as 16 bytes: low nibbles first, then high nibbles.
    @inline(__always) static func nibble(_ qs: In, _ j: Int) -> UInt8 { j < 16 ? qs[j] & 0x0F : qs[j - 16] >> 4 }

    static func q4_0(_ x: In, _ y: Out, d: Float) {
        for j in 0..<32 { y[j] = d * Float(Int8(nibble(x + 2, j)) - 8) }
    }

    static func q4_1(_ x: In, _ y: Out, d: Float, m: Float) {
        for j in 0..<32 { y[j] = (d * Float(nibble(x + 4, j))) + m }
    }

    @inline(__always) static func u32(_ x: In) -> UInt32 { UInt32(x[0]) | UInt32(x[1]) << 8 | UInt32(x[2]) << 16 | UInt32(x[3]) << 24 }

    static func q5_0(_ x: In, _ y: Out, d: Float) {
        let qh = u32(x + 2)
        for j in 0..<32 {
            let q = nibble(x + 6, j) | UInt8((qh >> UInt32(j)) & 1) << 4
            y[j] = d * Float(Int8(q) - 16)
        }
    }

    static func q5_1(_ x: In, _ y: Out, d: Float, m: Float) {
        let qh = u32(x + 4)
        for j in 0..<32 {
            let q = nibble(x + 8, j) | UInt8((qh >> UInt32(j)) & 1) << 4
            y[j] = (d * Float(q)) + m
        }
    }

    /// Q2_K: scales[16] · qs[64] · d · dmin. Element e = g·128 + s·32 + l is bits 2s of qs[g·32 + l].
    static func q2_K(_ x: In, _ y: Out, d: Float, dmin: Float) {
        for k in 0..<16 {
            let sc = x[k]
            let dl = d * Float(sc & 0x0F), ml = dmin * Float(sc >> 4)
            for e in (k * 16)..<(k * 16 + 16) {
                let g = e >> 7, s = (e >> 5) & 3, l = e & 31
                y[e] = dl * Float((x[16 + g * 32 + l] >> UInt8(2 * s)) & 3) - ml
            }
        }
    }

    /// Q3_K: hmask[32] · qs[64] · scales[12] · d.
    static func q3_K(_ x: In, _ y: Out, d: Float) {
        let sc = x + 96
        for k in 0..<16 {
            let low = k < 8 ? sc[k] & 0x0F : sc[k - 8] >> 4
            let high = (sc[8 + (k & 3)] >> UInt8(2 * (k >> 2))) & 3
            let dl = d * Float(Int8(low | high << 4) - 32)
            for e in (k * 16)..<(k * 16 + 16) {
                let g = e >> 7, s = (e >> 5) & 3, l = e & 31
                let ql = Int8((x[32 + g * 32 + l] >> UInt8(2 * s)) & 3)
                let hbit = ((x[l] >> UInt8(e >> 5)) & 1) ^ 1
                y[e] = dl * Float(ql - Int8(hbit << 2))
            }
        }
    }

    /// The 6-bit scales and mins of Q4_K / Q5_K (gguf-py `Q4_K.get_scale_min`).
    @inline(__always) static func scaleMin(_ s: In, _ j: Int) -> (UInt8, UInt8) {
        if j < 4 { return (s[j] & 63, s[j + 4] & 63) }
        return ((s[j + 4] & 0x0F) | ((s[j - 4] >> 2) & 0x30), (s[j + 4] >> 4) | ((s[j] >> 2) & 0x30))
    }

    /// Q4_K: d · dmin · scales[12] · qs[128]; Q5_K adds qh[32] before qs (`high`).
    static func q45_K(_ x: In, _ y: Out, d: Float, dmin: Float, high: In?) {
        let qs = x + (high == nil ? 16 : 48)
        for j in 0..<8 {
            let (sc, m) = scaleMin(x + 4, j)
            let dd = d * Float(sc), dm = dmin * Float(m)
            let g = j >> 1, shift = UInt8(4 * (j & 1))
            for l in 0..<32 {
                var q = (qs[g * 32 + l] >> shift) & 0x0F
                if let qh = high { q |= ((qh[l] >> UInt8(j)) & 1) << 4 }
                y[j * 32 + l] = dd * Float(q) - dm
            }
        }
    }

    /// Q6_K: ql[128] · qh[64] · scales[16] (int8) · d.
    static func q6_K(_ x: In, _ y: Out, d: Float) {
        for k in 0..<16 {
            let dsc = d * Float(Int8(bitPattern: x[192 + k]))
            for e in (k * 16)..<(k * 16 + 16) {
                let g = e >> 7, r = e & 127
                let low = (x[g * 64 + (r & 63)] >> UInt8(4 * (r >> 6))) & 0x0F
                let high = (x[128 + g * 32 + (r & 31)] >> UInt8(2 * (r >> 5))) & 3
                y[e] = dsc * Float(Int8(low | high << 4) - 32)
            }
        }
    }

    static func iq4_NL(_ x: In, _ y: Out, d: Float) {
        for j in 0..<32 { y[j] = d * Float(iq4Values[Int(nibble(x + 2, j))]) }
    }

    /// IQ4_XS: d · scales_h (uint16) · scales_l[4] · qs[128].
    static func iq4_XS(_ x: In, _ y: Out, d: Float) {
        let scalesH = UInt16(x[2]) | UInt16(x[3]) << 8
        for k in 0..<8 {
            let low = (x[4 + k / 2] >> UInt8(4 * (k & 1))) & 0x0F
            let high = UInt8(truncatingIfNeeded: scalesH >> UInt16(2 * k)) & 3
            let dl = d * Float(Int8(low | high << 4) - 32)
            for j in 0..<32 {
                let q = (x[8 + k * 16 + (j & 15)] >> UInt8(4 * (j >> 4))) & 0x0F
                y[k * 32 + j] = dl * Float(iq4Values[Int(q)])
            }
        }
    }

    /// TQ1_0: qs[48] · qh[4] · d; base-3 digits recovered as gguf-py does (uint8 products wrap).
    static func tq1_0(_ x: In, _ y: Out, d: Float) {
        let pow3: [UInt8] = [1, 3, 9, 27, 81]
        func digit(_ v: UInt8) -> Float { Float(Int8((UInt16(v) * 3) >> 8) - 1) }
        for p in 0..<5 { for l in 0..<32 { y[p * 32 + l] = d * digit(x[l] &* pow3[p]) } }
        for p in 0..<5 { for l in 0..<16 { y[160 + p * 16 + l] = d * digit(x[32 + l] &* pow3[p]) } }
        for p in 0..<4 { for l in 0..<4 { y[240 + p * 4 + l] = d * digit(x[48 + l] &* pow3[p]) } }
    }

    /// TQ2_0: qs[64] · d; 2-bit values minus 1.
    static func tq2_0(_ x: In, _ y: Out, d: Float) {
        for e in 0..<256 {
            let g = e >> 7, s = (e >> 5) & 3, l = e & 31
            y[e] = d * Float(Int8((x[g * 32 + l] >> UInt8(2 * s)) & 3) - 1)
        }
    }

    /// MXFP4: an e8m0 exponent (halved, as ggml's `ggml_e8m0_to_fp32_half`) · qs[16].
    static func mxfp4(_ x: In, _ y: Out) {
        let e = UInt32(x[0])
        let d = Float(bitPattern: e < 2 ? 0x0020_0000 << e : (e - 1) << 23)
        for j in 0..<32 { y[j] = d * Float(mxfp4Values[Int(nibble(x + 1, j))]) }
    }
}
