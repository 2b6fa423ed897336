import Testing
import CheckpointTestSupport
@testable import CheckpointKit

@Suite struct JSONTests {
    @Test func keepsOrderAndNumberText() throws {
        let text = #"{"b": 0.0010000000474974513, "a": [1, 2, {"c": null}], "s": "x\u00e9\n"}"#
        let v = try JSONParser.parse(text)
        #expect(v.objectValue?.map(\.0) == ["b", "a", "s"])
        #expect(v["b"] == .number("0.0010000000474974513"))
        #expect(v.serialized(.python) == text)
    }

    @Test("every control character, DEL and the quote and backslash are escaped; the text parses back")
    func escapes() throws {
        let scalars: [Unicode.Scalar] = (0..<0x20).compactMap { Unicode.Scalar(UInt32($0)) } + ["\u{7F}", "\"", "\\", "é"]
        let text = String(String.UnicodeScalarView(scalars))
        let written = JSONValue.string(text).serialized()
        #expect(!written.unicodeScalars.dropFirst().dropLast().contains { $0.value < 0x20 || $0.value == 0x7F }, "\(written.debugDescription)")
        #expect(written.contains("\\u001f") && written.contains("\\u007f") && written.contains("\\\"") && written.contains("\\\\"))
        #expect(try JSONParser.parse(written) == .string(text))
    }
}
