// The fuzz targets: what each one does with untrusted bytes, and the oracles that make an outcome
// a finding. The libFuzzer harness (Sources/ckpt-fuzz) and the fuzz regression tests
// (Tests/CheckpointKitTests/ReliabilityFuzzRegressionTests.swift) both call `FuzzTargets.run`.
//
// A reader may refuse an input only with a `CheckpointError` rendered as one sentence; any other
// outcome (another error type, a broken round trip, an accepted input that breaks an invariant) is
// a finding. A trap is a crash in both callers.
//
// Adding a target: write `func fuzzX(_ run: FuzzRun, _ bytes: [UInt8])` (Readers.swift shows the
// steps of the others), add one `FuzzTarget` line to `FuzzTargets.all`, and optionally seeds
// (Seeds.swift) and a libFuzzer dictionary `Tests/Fuzz/<name>.dict`. Tests/Fuzz/run.sh asks the
// harness for the list (`CKPT_FUZZ_LIST=1`), so nothing else changes.

import CheckpointKit

/// One fuzz target.
public struct FuzzTarget: Sendable {
    /// The `CKPT_FUZZ_TARGET` value, the corpus directory and the prefix of regression inputs.
    public let name: String
    /// The target whose steps this one runs (itself, or e.g. "container" for a variant), which
    /// names its seed directory and dictionary.
    public let steps: String
    /// libFuzzer's -max_len.
    public let maxLength: Int
    /// Environment for the fuzzing process (a variant: "container-zlib" turns libdeflate and ISA-L off).
    public let environment: [String: String]
    let body: @Sendable (FuzzRun, [UInt8]) -> Void

    public init(_ name: String, maxLength: Int, steps: String? = nil, environment: [String: String] = [:],
                _ body: @escaping @Sendable (FuzzRun, [UInt8]) -> Void) {
        self.name = name
        self.steps = steps ?? name
        self.maxLength = maxLength
        self.environment = environment
        self.body = body
    }
}

public enum FuzzTargets {
    /// Every target, in the order Tests/Fuzz/run.sh runs them. One line per target.
    public static let all: [FuzzTarget] = [
        FuzzTarget("container", maxLength: 65536, fuzzContainer),
        FuzzTarget("container-zlib", maxLength: 65536, steps: "container", environment: ["CKPT_NO_LIBDEFLATE": "1", "CKPT_NO_ISAL": "1"], fuzzContainer),
        FuzzTarget("deflate", maxLength: 65536, fuzzDeflate),
        FuzzTarget("npz", maxLength: 65536, fuzzNPZ),
        FuzzTarget("npy", maxLength: 4096, fuzzNPY),
        FuzzTarget("json", maxLength: 16384, fuzzJSON),
        FuzzTarget("keras", maxLength: 16384, fuzzKeras),
        FuzzTarget("safetensors", maxLength: 65536, fuzzSafetensors),
        FuzzTarget("gguf", maxLength: 65536, fuzzGGUF),
        FuzzTarget("pytorch", maxLength: 65536, fuzzPyTorch),
        FuzzTarget("tensorflow", maxLength: 65536, fuzzTensorFlow),
        // libhdf5 asks malloc for what a damaged header says (SIZE_MAX, in its metadata cache) and
        // takes the NULL it gets as an error, as glibc gives it: not a finding. A crash whose
        // first frame is inside libhdf5 itself (Debian's 1.10 has such bugs on damaged files) is
        // reported as libhdf5's, kept with its input, and does not fail the run: only a finding
        // in our code does (CKPT_FUZZ_FOREIGN, read by Tests/Fuzz/run.sh).
        FuzzTarget("hdf5", maxLength: 65536, environment: ["ASAN_OPTIONS": "allocator_may_return_null=1", "CKPT_FUZZ_FOREIGN": "libhdf5"], fuzzHDF5),
    ]

    public static func named(_ name: String) -> FuzzTarget? { all.first { $0.name == name } }

    /// Low limits: a fuzzer's input is a few KiB, and nothing it says may make a reader allocate much.
    public static let limits: Limits = {
        var l = Limits()
        l.maxCentralDirectoryBytes = 1 << 20
        l.maxMembers = 512
        l.maxMemberNameBytes = 1024
        l.maxManifestBytes = 1 << 20
        l.maxJSONBytes = 1 << 20
        l.maxJSONDepth = 64
        l.maxNPYHeaderBytes = 8192
        l.maxRank = 32
        l.maxHeaderBytes = 1 << 20
        l.maxInMemoryTensorBytes = 64 << 20
        l.maxTensorBytes = 64 << 20
        return l
    }()

    /// Runs `bytes` through `target`; returns every step's outcome and the findings.
    public static func run(_ target: FuzzTarget, _ bytes: [UInt8]) -> FuzzRun {
        let run = FuzzRun(target.steps)
        target.body(run, bytes)
        return run
    }
}

/// What one input did: each step's outcome (nil: accepted) and the findings.
public final class FuzzRun: @unchecked Sendable {
    // @unchecked Sendable: used by one thread at a time (the steps run serially).
    public let target: String
    public private(set) var steps: [(name: String, depth: Int, refusal: CheckpointError?)] = []
    public private(set) var findings: [String] = []
    private var depth = 0

    init(_ target: String) { self.target = target }

    /// The outcomes of the outermost steps.
    public var topLevel: [(name: String, refusal: CheckpointError?)] {
        steps.filter { $0.depth == 0 }.map { ($0.name, $0.refusal) }
    }

    /// Records a finding (the harness aborts on it; the tests fail on it).
    public func finding(_ what: String) { findings.append("\(target): \(what)") }

    /// Runs one step: a `CheckpointError` (one sentence) is an acceptable refusal, anything else a
    /// finding. Returns the refusal.
    @discardableResult
    public func step(_ name: String, _ body: () throws -> Void) -> CheckpointError? {
        let k = steps.count
        steps.append((name, depth, nil))
        depth += 1
        defer { depth -= 1 }
        do {
            try body()
            return nil
        } catch let e as CheckpointError {
            let text = e.description
            if text.isEmpty || !(text.hasSuffix(".") || text.hasSuffix("?") || text.hasSuffix("!")) {
                finding("\(name): an error without a sentence: \(e.code)")
            }
            steps[k].refusal = e
            return e
        } catch {
            finding("\(name): a non-CheckpointError was thrown: \(error)")
            return nil
        }
    }
}
