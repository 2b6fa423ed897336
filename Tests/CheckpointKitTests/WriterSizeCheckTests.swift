import Foundation
import Testing
import CheckpointTestSupport
@testable import CheckpointKit

/// A source whose tensor gives more or fewer bytes than its dtype and shape need (a reader bug
/// or a lying file): every writer stops with a `.corrupt` error naming the tensor, and leaves no
/// output behind.
@Suite("Writers check each tensor's size while streaming it")
struct WriterSizeCheckTests {
    final class LyingSource: TensorSource {
        let path = "lying.npz"
        let format = CheckpointFormat.npz
        let index = CheckpointIndex(tensors: [TensorInfo(name: "dense/kernel", dtype: .float32, shape: [2, 2])])
        let actual: Int
        init(actual: Int) { self.actual = actual }
        func pieces(of i: Int) -> [Range<Int>] { [0..<16] }
        func readPiece(_ i: Int, _ p: Int, _ body: (UnsafeRawBufferPointer) throws -> Void) throws -> UInt32 {
            // Two chunks, so "too many" is caught at the chunk that crosses the size.
            let bytes = [UInt8](repeating: 0x3F, count: actual)
            try bytes.withUnsafeBytes { all in
                let half = all.count / 2
                try body(UnsafeRawBufferPointer(rebasing: all[0..<half]))
                try body(UnsafeRawBufferPointer(rebasing: all[half...]))
            }
            return 0
        }
    }

    enum Writer: String, CaseIterable, CustomTestStringConvertible {
        case ckpt, npz, safetensors
        var testDescription: String { rawValue }
        func write(_ source: LyingSource, to path: String) throws {
            switch self {
            case .ckpt: try CheckpointWriter.write(source.index, payloads: [.source(source, 0)], to: path)
            case .npz: try NPZWriter.write(source, to: path)
            case .safetensors: try SafetensorsWriter.write(source, to: path)
            }
        }
    }

    @Test("too many bytes and too few: .corrupt, the tensor named, no output", arguments: Writer.allCases, [12, 24])
    func sizeChecked(writer: Writer, actual: Int) throws {
        let dir = try TestEnv.temporaryDirectory()
        defer { TestEnv.cleanup(dir) }
        let out = dir + "/out." + writer.rawValue
        let error = try #require(throws: CheckpointError.self) { try writer.write(LyingSource(actual: actual), to: out) }
        #expect(error.code == .corrupt)
        #expect(error.member == "dense/kernel")
        let expected = actual > 16 ? "has more data than its shape holds" : "has 12 bytes of data where its shape needs 16"
        #expect(error.reason.contains(expected), "\(error.reason)")
        #expect(!FileManager.default.fileExists(atPath: out))
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir).isEmpty, "temporary files left behind")
    }
}
