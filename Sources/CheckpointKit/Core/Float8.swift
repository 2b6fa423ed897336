/// The 8-bit float formats of ml_dtypes / PyTorch / safetensors, decoded exactly.
///
/// | format | sign | exponent bits, bias | mantissa bits | inf | NaN | −0 |
/// |---|---|---|---|---|---|---|
/// | e4m3fn | yes | 4, 7 | 3 | none | S.1111.111 | yes |
/// | e5m2 | yes | 5, 15 | 2 | S.11111.00 | S.11111.xx (xx ≠ 0) | yes |
/// | e4m3fnuz | yes | 4, 8 | 3 | none | 0x80 only | no (0x80 is NaN) |
/// | e5m2fnuz | yes | 5, 16 | 2 | none | 0x80 only | no (0x80 is NaN) |
/// | e8m0fnu | no | 8, 127 | 0 | none | 0xFF | no; there is no zero: 0x00 is 2^−127 |
///
/// Exponent field 0 is subnormal (no implicit 1) in every format with a mantissa. Every value is
/// exact in a Double.
public enum Float8 {
    public enum Format: Sendable, CaseIterable {
        case e4m3fn, e5m2, e4m3fnuz, e5m2fnuz, e8m0fnu
    }

    /// The value of `bits` in `format`.
    public static func decode(_ bits: UInt8, _ format: Format) -> Double {
        table(format)[Int(bits)]
    }

    /// The 256 values of a format, indexed by bit pattern.
    public static func table(_ format: Format) -> [Double] {
        switch format {
        case .e4m3fn: return e4m3fnTable
        case .e5m2: return e5m2Table
        case .e4m3fnuz: return e4m3fnuzTable
        case .e5m2fnuz: return e5m2fnuzTable
        case .e8m0fnu: return e8m0fnuTable
        }
    }

    private static let e4m3fnTable = build(exponentBits: 4, bias: 7) { bits in bits & 0x7F == 0x7F ? .nan : nil }
    private static let e5m2Table = build(exponentBits: 5, bias: 15) { bits in
        guard bits & 0x7C == 0x7C else { return nil }
        return bits & 0x03 == 0 ? (bits & 0x80 != 0 ? -.infinity : .infinity) : .nan
    }
    private static let e4m3fnuzTable = build(exponentBits: 4, bias: 8) { bits in bits == 0x80 ? .nan : nil }
    private static let e5m2fnuzTable = build(exponentBits: 5, bias: 16) { bits in bits == 0x80 ? .nan : nil }
    private static let e8m0fnuTable: [Double] = (0..<256).map { b in
        b == 0xFF ? .nan : Double(sign: .plus, exponent: b - 127, significand: 1)
    }

    private static func build(exponentBits e: Int, bias: Int, special: (UInt8) -> Double?) -> [Double] {
        let m = 7 - e
        return (0..<256).map { i in
            let bits = UInt8(i)
            if let s = special(bits) { return s }
            let negative = bits & 0x80 != 0
            let exponent = Int(bits >> m) & ((1 << e) - 1)
            let mantissa = Double(Int(bits) & ((1 << m) - 1))
            let scale = Double(1 << m)
            let magnitude = exponent == 0
                ? mantissa / scale * Double(sign: .plus, exponent: 1 - bias, significand: 1)
                : (1 + mantissa / scale) * Double(sign: .plus, exponent: exponent - bias, significand: 1)
            return negative ? -magnitude : magnitude
        }
    }

    /// The bit pattern of `format` nearest to `value` (ties to the even pattern; NaN to the
    /// format's NaN; beyond the largest finite value, the largest finite value). For fill values,
    /// not bulk conversion.
    public static func encode(_ value: Double, _ format: Format) -> UInt8 {
        let values = table(format)
        if value.isNaN { return UInt8(values.firstIndex { $0.isNaN } ?? 0) }
        var best = -1
        var bestDistance = Double.infinity
        for (i, v) in values.enumerated() where !v.isNaN {
            if v == value && v.sign == value.sign { return UInt8(i) }
            let d = abs(v - value)
            if d < bestDistance || (d == bestDistance && best >= 0 && i & 1 == 0 && best & 1 == 1) {
                best = i
                bestDistance = d
            }
        }
        return UInt8(max(0, best))
    }
}
