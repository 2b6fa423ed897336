#if canImport(Testing)  // test support only: a release build of the package (no Testing module) skips it
import Foundation
import Testing

/// SplitMix64: the one source of randomness in the tests. Always seeded; a failing test in a
/// suite or test marked `.reportsSeeds` names the seeds it used in every issue it records, so the
/// failure can be replayed (the seed is the constant in the test, or `CKPT_TEST_SEED` + it).
///
/// `CKPT_TEST_SEED=N` shifts every seed by N, to explore other random cases without editing the
/// tests; the issue then names both.
public struct SeededRNG: RandomNumberGenerator, Sendable {
    /// The seed the test asked for.
    public let seed: UInt64
    public private(set) var state: UInt64

    public init(seed: UInt64, sourceLocation: SourceLocation = #_sourceLocation) {
        self.seed = seed
        state = (seed &+ SeedLog.offset) &+ 0x9E37_79B9_7F4A_7C15
        SeedLog.note(seed, sourceLocation)
    }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// `count` random bytes.
    public mutating func bytes(_ count: Int) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: count)
        out.withUnsafeMutableBytes { b in
            var i = 0
            while i < count {
                let v = next()
                for j in 0..<min(8, count - i) { b[i + j] = UInt8(truncatingIfNeeded: v >> (8 * UInt64(j))) }
                i += 8
            }
        }
        return out
    }
}

/// The seeds a test used, reported with its issues.
public enum SeedLog {
    /// `CKPT_TEST_SEED`: added to every seed (0 when unset).
    public static let offset: UInt64 = TestEnv.environment["CKPT_TEST_SEED"].flatMap { UInt64($0) } ?? 0

    final class Box: @unchecked Sendable {
        private let lock = NSLock()
        private var seeds: [String] = []
        func add(_ s: String) { lock.lock(); if !seeds.contains(s) { seeds.append(s) }; lock.unlock() }
        var all: [String] { lock.lock(); defer { lock.unlock() }; return seeds }
    }

    @TaskLocal static var current: Box?

    static func note(_ seed: UInt64, _ location: SourceLocation) {
        let text = "seed \(seed)" + (offset != 0 ? " + CKPT_TEST_SEED=\(offset)" : "") + " (\(location.fileName):\(location.line))"
        if let box = current {
            box.add(text)
        } else if Test.current != nil {
            Issue.record("SeededRNG(\(text)) in a test without the .reportsSeeds trait: add it to the suite or test, so a failure names the seed",
                         sourceLocation: location)
        }
    }
}

/// Names the seeds of every `SeededRNG` a test created in each issue the test records.
public struct SeedReportingTrait: TestTrait, SuiteTrait, TestScoping {
    public var isRecursive: Bool { true }

    public func scopeProvider(for test: Test, testCase: Test.Case?) -> SeedReportingTrait? {
        testCase == nil ? nil : self
    }

    public func provideScope(for test: Test, testCase: Test.Case?, performing function: @Sendable () async throws -> Void) async throws {
        let box = SeedLog.Box()
        try await SeedLog.$current.withValue(box) {
            let report = IssueHandlingTrait.compactMapIssues { issue in
                let seeds = box.all
                guard !seeds.isEmpty else { return issue }
                var issue = issue
                issue.comments.append(Comment(rawValue: "random: " + seeds.joined(separator: ", ")))
                return issue
            }
            try await report.provideScope(for: test, testCase: testCase, performing: function)
        }
    }
}

extension Trait where Self == SeedReportingTrait {
    /// Issues of the test name the seeds its `SeededRNG`s used.
    public static var reportsSeeds: SeedReportingTrait { SeedReportingTrait() }
}
#endif
