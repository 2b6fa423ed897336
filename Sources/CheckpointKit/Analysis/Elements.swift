/// Decoding of little-endian tensor bytes into Doubles, exactly (every supported dtype widens to
/// float64 without rounding, except int64/uint64 beyond 2^53, which round to nearest).
public enum Elements {
    /// bfloat16 bits -> Float (exact: bfloat16 is the top half of a float32).
    @inline(__always)
    public static func bfloat16ToFloat(_ bits: UInt16) -> Float { Float(bitPattern: UInt32(bits) << 16) }

    /// float16 bits -> Float, exact, without relying on a hardware Float16 type.
    @inline(__always)
    public static func halfToFloat(_ h: UInt16) -> Float {
        let sign = UInt32(h & 0x8000) << 16
        let exp = Int32((h >> 10) & 0x1F)
        let mant = UInt32(h & 0x3FF)
        if exp == 0 {
            if mant == 0 { return Float(bitPattern: sign) }
            // Subnormal: mant * 2^-24.
            let v = Float(mant) * Float(bitPattern: 0x3380_0000) // 2^-24
            return sign != 0 ? -v : v
        }
        if exp == 31 {
            return Float(bitPattern: sign | 0x7F80_0000 | (mant << 13))
        }
        return Float(bitPattern: sign | UInt32(exp - 15 + 127) << 23 | (mant << 13))
    }

    /// Calls `body` with each element of `bytes` (a whole number of elements) as a Double.
    @inline(__always)
    public static func forEach(_ dtype: DType, _ bytes: UnsafeRawBufferPointer, _ body: (Double) -> Void) {
        let n = bytes.count / dtype.itemSize
        switch dtype {
        case .float32:
            for i in 0..<n { body(Double(bytes.loadUnaligned(fromByteOffset: i &* 4, as: Float.self))) }
        case .float64:
            for i in 0..<n { body(bytes.loadUnaligned(fromByteOffset: i &* 8, as: Double.self)) }
        case .float16:
            for i in 0..<n { body(Double(halfToFloat(bytes.loadUnaligned(fromByteOffset: i &* 2, as: UInt16.self)))) }
        case .bfloat16:
            for i in 0..<n { body(Double(bfloat16ToFloat(bytes.loadUnaligned(fromByteOffset: i &* 2, as: UInt16.self)))) }
        case .int8:
            for i in 0..<n { body(Double(bytes.loadUnaligned(fromByteOffset: i, as: Int8.self))) }
        case .uint8:
            for i in 0..<n { body(Double(bytes[i])) }
        case .bool:
            for i in 0..<n { body(bytes[i] != 0 ? 1 : 0) }
        case .float8_e4m3fn, .float8_e5m2, .float8_e4m3fnuz, .float8_e5m2fnuz, .float8_e8m0fnu:
            let table = dtype.float8.map(Float8.table) ?? []
            for i in 0..<n { body(table[Int(bytes[i])]) }
        case .int16:
            for i in 0..<n { body(Double(bytes.loadUnaligned(fromByteOffset: i &* 2, as: Int16.self))) }
        case .uint16:
            for i in 0..<n { body(Double(bytes.loadUnaligned(fromByteOffset: i &* 2, as: UInt16.self))) }
        case .int32:
            for i in 0..<n { body(Double(bytes.loadUnaligned(fromByteOffset: i &* 4, as: Int32.self))) }
        case .uint32:
            for i in 0..<n { body(Double(bytes.loadUnaligned(fromByteOffset: i &* 4, as: UInt32.self))) }
        case .int64:
            for i in 0..<n { body(Double(bytes.loadUnaligned(fromByteOffset: i &* 8, as: Int64.self))) }
        case .uint64:
            for i in 0..<n { body(Double(bytes.loadUnaligned(fromByteOffset: i &* 8, as: UInt64.self))) }
        }
    }

    /// Element `i` as text the way numpy would print its value: the shortest decimal that reads
    /// back as the same value of the tensor's own type (float32 values as float32), `nan`, `inf`,
    /// `True`/`False` for bool, exact integers.
    public static func text(_ dtype: DType, _ bytes: UnsafeRawBufferPointer, at i: Int) -> String {
        switch dtype {
        case .float32: return floatText(bytes.loadUnaligned(fromByteOffset: i * 4, as: Float.self))
        case .float64: return floatText(bytes.loadUnaligned(fromByteOffset: i * 8, as: Double.self))
        case .float16:
            let bits = bytes.loadUnaligned(fromByteOffset: i * 2, as: UInt16.self)
            #if arch(x86_64) || arch(arm64)
            return floatText(Float16(bitPattern: bits))
            #else
            return floatText(halfToFloat(bits))
            #endif
        case .bfloat16: return floatText(bfloat16ToFloat(bytes.loadUnaligned(fromByteOffset: i * 2, as: UInt16.self)))
        case .float8_e4m3fn, .float8_e5m2, .float8_e4m3fnuz, .float8_e5m2fnuz, .float8_e8m0fnu:
            // Every float8 value is exact in a Float: print it at float32 precision.
            return floatText(Float(dtype.float8.map { Float8.decode(bytes[i], $0) } ?? .nan))
        case .bool: return bytes[i] != 0 ? "True" : "False"
        case .int8: return String(bytes.loadUnaligned(fromByteOffset: i, as: Int8.self))
        case .uint8: return String(bytes[i])
        case .int16: return String(bytes.loadUnaligned(fromByteOffset: i * 2, as: Int16.self))
        case .uint16: return String(bytes.loadUnaligned(fromByteOffset: i * 2, as: UInt16.self))
        case .int32: return String(bytes.loadUnaligned(fromByteOffset: i * 4, as: Int32.self))
        case .uint32: return String(bytes.loadUnaligned(fromByteOffset: i * 4, as: UInt32.self))
        case .int64: return String(bytes.loadUnaligned(fromByteOffset: i * 8, as: Int64.self))
        case .uint64: return String(bytes.loadUnaligned(fromByteOffset: i * 8, as: UInt64.self))
        }
    }

    /// Element `i` as a JSON value: exact integers, shortest round-trip floats, and the strings
    /// "nan", "inf", "-inf" for non-finite values (JSON has no literal for them).
    public static func json(_ dtype: DType, _ bytes: UnsafeRawBufferPointer, at i: Int) -> JSONValue {
        switch dtype {
        case .bool: return .bool(bytes[i] != 0)
        case .float16, .bfloat16, .float32, .float64, .float8_e4m3fn, .float8_e5m2, .float8_e4m3fnuz, .float8_e5m2fnuz, .float8_e8m0fnu:
            let t = text(dtype, bytes, at: i)
            if t == "nan" || t == "inf" || t == "-inf" { return .string(t) }
            return .number(t)
        default: return .number(text(dtype, bytes, at: i))
        }
    }

    static func floatText<F: BinaryFloatingPoint & CustomStringConvertible>(_ x: F) -> String {
        if x.isNaN { return "nan" }
        if x.isInfinite { return x < 0 ? "-inf" : "inf" }
        return x.description
    }
}
