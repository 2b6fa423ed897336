import Foundation
import Testing
import CheckpointTestSupport
@testable import CheckpointCommands
@testable import CheckpointKit

@Suite("ckpt diff")
struct DiffCommandTests {
    static let e1 = CLI.path("Tests/Fixtures/keras-epochs/epoch1.weights.npz")
    static let e2 = CLI.path("Tests/Fixtures/keras-epochs/epoch2.weights.npz")

    /// The epoch pair as .ckpt files without the `sequential/` prefix (as `ckpt convert --strip-prefix` writes them).
    static func containers(_ dir: String) throws -> (String, String) {
        for (src, dst) in [(e1, "e1.ckpt"), (e2, "e2.ckpt")] {
            let r = CLI.run(["convert", src, dir + "/" + dst, "--strip-prefix", "sequential/"])
            #expect(r.status == 0, "\(r.err)")
        }
        return (dir + "/e1.ckpt", dir + "/e2.ckpt")
    }

    @Test("two epochs: a table by layer, bars, a verdict, exit 1")
    func epochs() throws {
        let r = CLI.run(["diff", Self.e1, Self.e2])
        #expect(r.status == 1, "\(r.err)")
        #expect(r.err.isEmpty)
        let lines = r.out.split(separator: "\n").map(String.init)
        #expect(lines.contains { $0.hasPrefix("=") && $0.contains("sequential/frozen/kernel") && $0.contains("identical") })
        #expect(lines.contains { $0.hasPrefix("=") && $0.contains("norm/count") })
        #expect(lines.contains { $0.hasPrefix("*") && $0.contains("sequential/dense/kernel") && $0.contains("100.0%") })
        #expect(r.out.contains("Change by layer"))
        #expect(lines.contains { $0.contains("frozen") && $0.contains("identical") && !$0.contains("/") })
        #expect(lines.contains { $0.hasPrefix("  dense ") && $0.contains("█") })
        #expect(lines.last == "different: 8 of 13 tensors differ beyond tolerance, 5 identical")
        #expect(r.out.contains("float32 atol 1e-08 rtol 1e-06 (defaults)"))
        #expect(!r.out.contains("\u{1B}["), "no colour when stdout is not a terminal")
        // The layer order follows the model.
        let layerRows = lines.filter { $0.hasPrefix("   ") && !$0.hasPrefix("    ") && !$0.contains("Tensor") }.map { $0.trimmingSpaces() }
        #expect(layerRows.prefix(5) == ["norm", "frozen", "bn", "dense", "head"])
    }

    @Test("a file against itself: exit 0; a .ckpt against itself reads nothing and says it proved identity by checksum; --full compares bytes")
    func identical() throws {
        let r = CLI.run(["diff", Self.e1, Self.e1])
        #expect(r.status == 0)
        #expect(r.out.hasSuffix("identical: 13 tensors compared, every one bit-identical (bytes compared)\n"))
        let dir = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let (c1, _) = try Self.containers(dir)
        let s = CLI.run(["diff", c1, c1])
        #expect(s.status == 0)
        #expect(s.out.hasSuffix("identical: 13 tensors compared, every one identical by checksum (equal CRC-32 and size in both indexes; --full compares bytes)\n"))
        #expect(s.out.contains("identical by checksum") && !s.out.contains("bit-identical"))
        let full = CLI.run(["diff", c1, c1, "--full", "--json"])
        #expect(full.status == 0)
        let json = try JSONParser.parse(full.out)
        #expect(json["summary"]?["proven_from_index"]?.intValue == 0 && json["options"]?["full"] == .bool(true))
        #expect(CLI.run(["diff", c1, c1, "--full"]).out.hasSuffix("every one bit-identical (bytes compared)\n"))
    }

    @Test("-q prints nothing; exit status 0, 1")
    func quiet() throws {
        let d = CLI.run(["diff", "-q", Self.e1, Self.e2])
        #expect(d.status == 1 && d.out.isEmpty && d.err.isEmpty)
        let s = CLI.run(["diff", "--quiet", Self.e1, Self.e1])
        #expect(s.status == 0 && s.out.isEmpty && s.err.isEmpty)
    }

    @Test("exit status 2: unreadable files, bad arguments, typos with suggestions")
    func trouble() throws {
        let missing = CLI.run(["diff", Self.e1, "/nonexistent/x.ckpt"])
        #expect(missing.status == 2 && missing.out.isEmpty)
        #expect(missing.err.hasPrefix("ckpt: error: /nonexistent/x.ckpt: cannot open the file for reading"))
        let dir = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let junk = dir + "/junk.ckpt"
        try Data("not a checkpoint".utf8).write(to: URL(fileURLWithPath: junk))
        #expect(CLI.run(["diff", junk, Self.e1]).status == 2)
        #expect(CLI.run(["diff", "-q", junk, Self.e1]).status == 2)
        #expect(CLI.run(["diff", Self.e1]).status == 2)
        #expect(CLI.run(["diff", Self.e1, Self.e2, "--atol", "-1"]).status == 2)
        #expect(CLI.run(["diff", Self.e1, Self.e2, "--rtol", "nan"]).status == 2)
        #expect(CLI.run(["diff", Self.e1, Self.e2, "--exact", "--atol", "1"]).status == 2)
        #expect(CLI.run(["diff", Self.e1, Self.e2, "--nan", "maybe"]).status == 2)
        #expect(CLI.run(["diff", Self.e1, Self.e2, "--map", "dense"]).status == 2)
        #expect(CLI.run(["diff", Self.e1, Self.e2, "--weights-only", "--include-optimizer"]).status == 2)
        let typo = CLI.run(["diff", Self.e1, Self.e2, "--tensor", "sequential/dense/kernal"])
        #expect(typo.status == 2)
        #expect(typo.err.contains("did you mean \"sequential/dense/kernel\"?"))
        let mapTypo = CLI.run(["diff", Self.e1, Self.e2, "--map", "sequentail/dense=dense"])
        #expect(mapTypo.status == 2)
        #expect(mapTypo.err.contains("did you mean \"sequential/dense\"?"))
        let filterTypo = CLI.run(["diff", Self.e1, Self.e2, "--filter", "*/dense/kernal"])
        #expect(filterTypo.status == 2 && filterTypo.err.contains("matches no tensor"))
    }

    @Test("--strip-prefix and --map line up renamed tensors; a hint says so")
    func renames() throws {
        let dir = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let (c1, c2) = try Self.containers(dir)
        let plain = CLI.run(["diff", Self.e1, c2])
        #expect(plain.status == 1)
        #expect(plain.out.contains("hint: names line up with --strip-prefix sequential/"))
        #expect(plain.out.contains("10 only in A, 10 only in B"))
        let stripped = CLI.run(["diff", Self.e1, c2, "--strip-prefix", "sequential/", "--json"])
        #expect(stripped.status == 1)
        let v = try JSONParser.parse(stripped.out)
        #expect(v["summary"]?["only_in_a"]?.intValue == 0 && v["summary"]?["compared"]?.intValue == 13)
        let badTarget = CLI.run(["diff", Self.e1, c2, "--map", "sequential/dense=dence"])
        #expect(badTarget.out.contains("hint: --map sequential/dense=dence: B has no tensor \"dence\" or \"dence/…\"; did you mean \"dense\"?"))
        let mapped = CLI.run(["diff", Self.e1, c2, "--map", "sequential=", "--json"])
        #expect(try JSONParser.parse(mapped.out)["summary"]?["compared"]?.intValue == 13)
        // The same epoch through two formats is identical.
        let same = CLI.run(["diff", Self.e1, c1, "--strip-prefix", "sequential/"])
        #expect(same.status == 0, "\(same.out)")
    }

    @Test("--json: schema ckpt.diff/1, numbers equal numpy's")
    func json() throws {
        let r = CLI.run(["diff", Self.e1, Self.e2, "--json"])
        #expect(r.status == 1)
        let v = try JSONParser.parse(r.out)
        #expect(v["schema"]?.stringValue == "ckpt.diff/1")
        #expect(v["verdict"]?.stringValue == "different")
        let expected = try JSONParser.parse([UInt8](try Data(contentsOf: URL(fileURLWithPath: CLI.path("Tests/Fixtures/keras-epochs/expected_diff.json")))))
        for e in expected["tensors"]?.arrayValue ?? [] {
            let name = e["name"]?.stringValue ?? ""
            let t = v["tensors"]?.arrayValue?.first { $0["name"]?.stringValue == name }
            #expect(t?["metrics"]?["max_abs"]?.doubleValue == e["max_abs"]?.doubleValue, "\(name)")
            #expect(t?["metrics"]?["identical"]?.boolValue == e["identical"]?.boolValue, "\(name)")
        }
    }

    @Test("--only-changed, --tensor, --filter, --no-bars")
    func selection() throws {
        let r = CLI.run(["diff", Self.e1, Self.e2, "--only-changed"])
        #expect(r.status == 1)
        #expect(!r.out.contains("norm/mean") && !r.out.contains("frozen/kernel"))
        #expect(r.out.contains("sequential/bn/moving_mean"))
        let one = CLI.run(["diff", Self.e1, Self.e2, "--tensor", "sequential/frozen/kernel", "--no-bars"])
        #expect(one.status == 0)
        #expect(!one.out.contains("Change by layer"))
        #expect(one.out.hasSuffix("identical: 1 tensor compared, every one bit-identical (bytes compared)\n"))
        let f = CLI.run(["diff", Self.e1, Self.e2, "--filter", "*/bn/*", "--json"])
        #expect(try JSONParser.parse(f.out)["summary"]?["tensors"]?.intValue == 4)
        // A tolerance wide enough makes the epochs equal within tolerance.
        let loose = CLI.run(["diff", Self.e1, Self.e2, "--atol", "0.1"])
        #expect(loose.status == 0)
        #expect(loose.out.contains("equal within tolerance: 13 tensors compared: 5 identical, 8 within tolerance"))
    }

    @Test("colour on a terminal, never with NO_COLOR or --color never")
    func colour() throws {
        let tty = CLI.run(["diff", Self.e1, Self.e2], tty: true)
        #expect(tty.out.contains("\u{1B}[31m"))
        let noColor = CLI.run(["diff", Self.e1, Self.e2], tty: true, environment: ["NO_COLOR": "1"])
        #expect(!noColor.out.contains("\u{1B}["))
        let never = CLI.run(["diff", Self.e1, Self.e2, "--color", "never"], tty: true)
        #expect(!never.out.contains("\u{1B}["))
        let always = CLI.run(["diff", Self.e1, Self.e1, "--color", "always"])
        #expect(always.out.contains("\u{1B}[1m\u{1B}[32midentical"))
    }

    static let archA = #"{"module": "keras", "class_name": "Sequential", "config": {"name": "seq", "layers": [{"module": "keras.layers", "class_name": "Dense", "config": {"name": "dense", "units": 2, "activation": "relu"}}]}}"#

    /// Two full checkpoints (architecture, Adam state) a few steps apart.
    static func fullPair(_ dir: String, changeArchitecture: Bool) throws -> (String, String) {
        let k = TensorInfo(name: "dense/kernel", dtype: .float32, shape: [2, 2])
        let frozen = TensorInfo(name: "dense/frozen_scale", dtype: .float32, shape: [2], trainable: false)
        let it = TensorInfo(name: "optimizer/iteration", dtype: .int64, shape: [], role: .optimizer)
        let m = TensorInfo(name: "optimizer/momentum/dense/kernel", dtype: .float32, shape: [2, 2], role: .optimizer, slot: "momentum", weight: "dense/kernel")
        func write(_ path: String, step: Int64, kernel: [Float], scale: [Float], lr: String, arch: String) throws {
            let index = CheckpointIndex(tensors: [k, frozen, it, m], architecture: Array(arch.utf8),
                                        optimizer: OptimizerInfo(className: "SGD", config: .object([("learning_rate", .number(lr))]), iterations: step))
            try CheckpointWriter.write(index, payloads: [.bytes(DiffBytesCLI.f32(kernel)), .bytes(DiffBytesCLI.f32(scale)),
                                                         .bytes(withUnsafeBytes(of: step.littleEndian) { Array($0) }), .bytes(DiffBytesCLI.f32(kernel.map { $0 / 10 }))],
                                       to: path)
        }
        let archB = changeArchitecture ? archA.replacingOccurrences(of: "\"relu\"", with: "\"tanh\"") : archA
        try write(dir + "/s10.ckpt", step: 10, kernel: [1, 2, 3, 4], scale: [1, 1], lr: "0.01", arch: archA)
        try write(dir + "/s20.ckpt", step: 20, kernel: [1, 2.5, 3, 4], scale: [1, 0.5], lr: "0.005", arch: archB)
        return (dir + "/s10.ckpt", dir + "/s20.ckpt")
    }

    @Test("full checkpoints: architecture and optimizer differences, --include-optimizer, --weights-only")
    func fullCheckpoints() throws {
        let dir = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let (a, b) = try Self.fullPair(dir, changeArchitecture: true)
        let r = CLI.run(["diff", a, b])
        #expect(r.status == 1)
        #expect(r.out.contains("Architecture  differs: 1 changed"))
        #expect(r.out.contains("! dense (Dense): activation \"relu\" → \"tanh\""))
        #expect(r.out.contains("Optimizer     differs: SGD; iterations 10 → 20; config: learning_rate 0.01 → 0.005"))
        #expect(r.out.contains("2 of 2 tensors differ beyond tolerance, 1 of them non-trainable"))
        #expect(!r.out.contains("optimizer/momentum"))
        let o = CLI.run(["diff", a, b, "--include-optimizer", "--json"])
        let v = try JSONParser.parse(o.out)
        let names = v["tensors"]?.arrayValue?.compactMap { $0["name"]?.stringValue } ?? []
        #expect(names == ["dense/kernel", "dense/frozen_scale", "optimizer/momentum/dense/kernel", "optimizer/iteration"])
        #expect(v["optimizer"]?["iterations_b"]?.intValue == 20 && v["architecture"]?["layers_changed"]?[0]?["keys"]?[0]?["path"]?.stringValue == "activation")
        let w = CLI.run(["diff", a, b, "--weights-only", "--json"])
        let wv = try JSONParser.parse(w.out)
        #expect(wv["architecture"] == .null && wv["optimizer"] == .null)
        // Same weights, same architecture: only the optimizer differs, and --weights-only ignores it.
        let same = CLI.run(["diff", a, a, "--weights-only"])
        #expect(same.status == 0)
    }

    @Test("--help documents the default tolerances")
    func help() throws {
        let h = CLI.run(["diff", "--help"])
        #expect(h.status == 0)
        for s in ["float32   atol 1e-8   rtol 1e-6", "bfloat16  atol 1e-5   rtol 1e-2", "integers and bool: always exact", "--nan", "--strip-prefix", "--include-optimizer"] {
            #expect(h.out.contains(s), "\(s)")
        }
    }

    @Test("bars are on a log scale")
    func bars() {
        #expect(DiffReport.bar(0) == "")
        #expect(DiffReport.bar(1) == String(repeating: "█", count: 24))
        #expect(DiffReport.bar(1e-4) == String(repeating: "█", count: 12))
        #expect(DiffReport.bar(1e-12) == "▏")
        #expect(DiffReport.bar(.infinity) == String(repeating: "█", count: 24))
        #expect(DiffReport.percent(1, of: 100_000) == "<0.1%" && DiffReport.percent(0, of: 10) == "0" && DiffReport.percent(99_999, of: 100_000) == ">99.9%")
    }
}

enum DiffBytesCLI {
    static func f32(_ v: [Float]) -> [UInt8] { v.withUnsafeBytes { Array($0) } }
}
