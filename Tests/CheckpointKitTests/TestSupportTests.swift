import Foundation
import Testing
import CheckpointTestSupport
@testable import CheckpointKit

/// The shared test support: what the other tests lean on must itself be right.
@Suite("Test support", .reportsSeeds)
struct TestSupportTests {
    @Test("SHA-256: the FIPS 180-4 vectors")
    func sha256() {
        #expect(SHA256.hex([]) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(SHA256.hex(Array("abc".utf8)) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(SHA256.hex(Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8))
                == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
    }

    @Test("SeededRNG is SplitMix64 from the seed, the same every run")
    func seededRNG() {
        var a = SeededRNG(seed: 0), b = SeededRNG(seed: 0), c = SeededRNG(seed: 1)
        // SplitMix64's reference outputs from state 0 are e220a8397b1dcdaf, 6e789e6aa1b965f4, ...;
        // SeededRNG(seed: s) starts one step in (state s + the golden gamma).
        #expect(SeedLog.offset != 0 || a.next() == 0x6E78_9E6A_A1B9_65F4)
        #expect(b.next() != c.next())
        #expect(a.seed == 0 && a.bytes(13).count == 13)
    }

    @Test("a child process: status, a signal's status, output through a file, working directory, environment")
    func childProcess() throws {
        let dir = try TestEnv.temporaryDirectory()
        defer { TestEnv.cleanup(dir) }
        let r = try ChildProcess("/bin/sh", ["-c", "pwd; echo \"$CKPT_TEST_X/$HOME\" >&2; exit 3"], environment: ["CKPT_TEST_X": "x"],
                                 removing: ["HOME"], cwd: dir, separateStreams: true).wait()
        #expect(r.status == 3)
        #expect(r.output.trimmingCharacters(in: .whitespacesAndNewlines).hasSuffix((dir as NSString).lastPathComponent))
        #expect(r.errorOutput == "x/\n")
        let sleeper = try ChildProcess("/bin/sh", ["-c", "sleep 30"])
        sleeper.signal(SIGKILL)
        #expect(sleeper.wait().status == 128 + SIGKILL)
        #expect(try TestEnv.run("/bin/sh", ["-c", "echo out; echo err >&2"]).output == "out\nerr\n")
        #expect(throws: ProcessFailure.self) { _ = try ChildProcess("no-such-program-ckpt", []) }
    }

    @Test("requirements name the package to install, pinned as CI installs it, and honour CKPT_PRETEND_MISSING")
    func requirements() {
        #expect(Requirement.hdf5.skipMessage.contains("sudo apt-get install \(HDF5Library.debianPackage)"))
        #expect(Requirement.hdf5.skipMessage.contains("CKPT_REQUIRE_HDF5=1"))
        #expect(Requirement.numpy.install == "pip install " + PythonPins.pin("numpy") && PythonPins.pin("numpy").hasPrefix("numpy=="))
        #expect(Requirement.keras.install.contains("keras==3.15.1") && Requirement.keras.requireVariable == "CKPT_REQUIRE_KERAS")
        #expect(PythonPins.pin("no-such-package") == "no-such-package")
        #expect(Requirement.tool("zsh").install == "sudo apt-get install zsh")
        // A pretended-missing tool is missing, whatever is installed; python hides every module.
        for id in Pretend.ids { #expect(!Requirement.python(id).isAvailable || id == "hdf5") }
        if Pretend.missing("python") { #expect(!Requirement.numpy.isAvailable && !Requirement.keras.isAvailable) }
        if Pretend.missing("hdf5") { #expect(!Requirement.hdf5.isAvailable && !HDF5Library.isAvailable) }
        #expect(Requirement.hdf5.isAvailable == HDF5Library.isAvailable)
    }
}

/// `.reportsSeeds` itself: an outer issue handler sees the issue after the seeds were added to it.
@Suite("Test support: seed reports")
struct SeedReportTests {
    final class Seen: @unchecked Sendable {
        private let lock = NSLock()
        private var comments: [String] = []
        func add(_ c: [String]) { lock.lock(); comments += c; lock.unlock() }
        var all: [String] { lock.lock(); defer { lock.unlock() }; return comments }
    }
    static let seen = Seen()

    @Test("an issue of a test marked .reportsSeeds names the seeds its RNGs used",
          .compactMapIssues { issue in
              guard issue.comments.contains(where: { $0.rawValue == "a deliberate failure" }) else { return issue }
              SeedReportTests.seen.add(issue.comments.map(\.rawValue))
              return nil
          },
          .reportsSeeds)
    func seedsAreReported() {
        var rng = SeededRNG(seed: 4242)
        _ = rng.next()
        Issue.record("a deliberate failure")
        #expect(Self.seen.all.contains { $0.contains("seed 4242") && $0.contains("TestSupportTests.swift") }, "\(Self.seen.all)")
    }
}
