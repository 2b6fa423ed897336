// GGUF seed files, built byte by byte (the library reads GGUF but does not write it): metadata of
// every value type including nested arrays and general.alignment, and one small tensor of every
// GGML type, in both byte orders.

import CheckpointKit

enum GGUFSeeds {
    struct Builder {
        let big: Bool
        var kvs: [UInt8] = []
        var infos: [UInt8] = []
        var data: [UInt8] = []
        var kvCount: UInt64 = 0
        var tensorCount: UInt64 = 0

        func int<T: FixedWidthInteger>(_ v: T) -> [UInt8] { withUnsafeBytes(of: big ? v.bigEndian : v.littleEndian) { Array($0) } }
        func str(_ s: String) -> [UInt8] { int(UInt64(s.utf8.count)) + Array(s.utf8) }

        mutating func kv(_ key: String, _ type: UInt32, _ value: [UInt8]) {
            kvs += str(key) + int(type) + value
            kvCount += 1
        }

        mutating func tensor(_ name: String, type: GGMLType, ne: [Int], seed: UInt32) {
            while data.count % 32 != 0 { data.append(0) }
            infos += str(name) + int(UInt32(ne.count))
            for d in ne { infos += int(UInt64(d)) }
            infos += int(type.rawValue) + int(UInt64(data.count))
            let (block, size) = type.blockLayout
            let count = ne.reduce(1, *) / block * size
            var x = seed | 1
            for _ in 0..<count {
                x ^= x << 13; x ^= x >> 17; x ^= x << 5
                data.append(UInt8(truncatingIfNeeded: x))
            }
            tensorCount += 1
        }

        func bytes() -> [UInt8] {
            var out = Array("GGUF".utf8) + int(UInt32(3)) + int(tensorCount) + int(kvCount) + kvs + infos
            while out.count % 32 != 0 { out.append(0) }
            return out + data
        }
    }

    static func make(bigEndian big: Bool) -> [UInt8] {
        var b = Builder(big: big)
        b.kv("general.architecture", 8, b.str("seed"))
        b.kv("general.alignment", 4, b.int(UInt32(32)))
        b.kv("u8", 0, [255]); b.kv("i8", 1, [0x80]); b.kv("u16", 2, b.int(UInt16.max)); b.kv("i16", 3, b.int(Int16.min))
        b.kv("i32", 5, b.int(Int32.min)); b.kv("f32", 6, b.int(Float.nan.bitPattern)); b.kv("bool", 7, [1])
        b.kv("u64", 10, b.int(UInt64.max)); b.kv("i64", 11, b.int(Int64.min)); b.kv("f64", 12, b.int((0.1).bitPattern))
        b.kv("tokens", 9, b.int(UInt32(8)) + b.int(UInt64(3)) + b.str("a") + b.str("") + b.str("🙂"))
        let inner = b.int(UInt32(5)) + b.int(UInt64(2)) + b.int(Int32(1)) + b.int(Int32(2))
        b.kv("nested", 9, b.int(UInt32(9)) + b.int(UInt64(2)) + inner + inner)
        for (k, t) in GGMLType.allCases.enumerated() {
            b.tensor("t." + t.name, type: t, ne: [t.blockLayout.blockSize * 2, 2], seed: UInt32(k + 1))
        }
        b.tensor("scalar", type: .f32, ne: [], seed: 99)
        return b.bytes()
    }
}
