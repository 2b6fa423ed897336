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
}
