// The deflate target: the writer's side. The bytes after a 2-byte preamble (chunk size, float or
// not) are deflated in chunks by every encoder this machine has (ISA-L and zlib), and the oracles
// check what spec §2 rule 5 promises: every chunk but the last ends in a full flush (an empty
// stored block), every chunk inflates on its own, and the stream inflates back to the input with
// zlib and with libdeflate.

import CheckpointKit

func fuzzDeflate(_ run: FuzzRun, _ bytes: [UInt8]) {
    guard bytes.count >= 2 else { return }
    let chunkSize = 1 + Int(bytes[0]) * 256
    let floating = bytes[1] & 1 == 1
    let data = Array(bytes[2...])
    for encoder in DeflateEncoder.allCases where DeflateChunks.isAvailable(encoder) {
        run.step("deflate \(encoder.rawValue)") {
            let (stream, ends) = try DeflateChunks.deflate(data, chunkSize: chunkSize, floating: floating, encoder: encoder)
            for lib in [false, true] {
                guard let back = try DeflateChunks.inflate(stream, size: data.count, libdeflate: lib) else { continue }
                if back != data { run.finding("\(encoder.rawValue): the stream inflates (libdeflate: \(lib)) to other bytes") }
            }
            var start = 0
            for (k, end) in ends.enumerated() {
                let last = k == ends.count - 1
                let chunk = Array(stream[start..<end])
                if !last && !chunk.suffix(4).elementsEqual([0x00, 0x00, 0xFF, 0xFF]) {
                    run.finding("\(encoder.rawValue): chunk \(k) does not end in a full flush")
                }
                let from = k * chunkSize, to = min(data.count, from + chunkSize)
                // A chunk alone, made a complete stream by a final empty block, is its own bytes.
                if let alone = try DeflateChunks.inflate(last ? chunk : chunk + [0x03, 0x00], size: to - from, libdeflate: false),
                   !alone.elementsEqual(data[from..<to]) {
                    run.finding("\(encoder.rawValue): chunk \(k) alone inflates to other bytes")
                }
                start = end
            }
        }
    }
}

/// Seeds of the deflate target: float-like noise, zeros, text, a byte.
func deflateSeeds() -> [(String, [UInt8])] {
    var state: UInt64 = 0x9E37_79B9_7F4A_7C15
    func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    // float32 around 0.05: random mantissas, a narrow band of exponents (as trained weights).
    var floats: [UInt8] = []
    for _ in 0..<3000 {
        let bits = UInt32(truncatingIfNeeded: next() & 0x007F_FFFF) | (UInt32(120 + next() % 5) << 23) | (next() & 1 == 0 ? 0 : 0x8000_0000)
        withUnsafeBytes(of: bits.littleEndian) { floats.append(contentsOf: $0) }
    }
    let text = Array("{'descr': '<f4', 'fortran_order': False, 'shape': (784, 128), }".utf8)
    return [
        ("floats-chunked", [15, 1] + floats),
        ("floats-one-chunk", [255, 1] + floats),
        ("zeros", [3, 0] + [UInt8](repeating: 0, count: 4000)),
        ("text", [0, 0] + text + text),
        ("one-byte", [0, 1, 42]),
        ("empty", [0, 0]),
    ]
}
