import Foundation
import Testing
import CheckpointTestSupport
@testable import CheckpointCommands
@testable import CheckpointKit
#if canImport(Glibc)
import Glibc
#endif

/// Writes that lose nothing: inputs are never modified, an interrupted or failed write leaves the
/// destination absent or complete, a full disk is a clear error, two writers give one valid file.
///
/// Slow sweeps (more SIGKILL moments) with `CKPT_SLOW_TESTS=1`. Tests that need a real process
/// use the built binary (`.requires(.ckptBinary)`).
@Suite("Reliability: writes", .reportsSeeds)
struct ReliabilityWriteTests {
    static var slow: Bool { TestEnv.flag("SLOW_TESTS") }
    static let architecture = CLI.path("Tests/Fixtures/keras/mlp/architecture.json")
    static let sample = CLI.path("Samples/mlp-weights.ckpt")

    /// A Keras 3 Sequential model of two Dense layers `width` wide (for a weights file of ~8 MB).
    static func wideArchitecture(_ width: Int) -> String {
        """
        {"module": "keras", "class_name": "Sequential", "config": {"name": "wide", "trainable": true, "dtype": "float32", "layers": [\
        {"module": "keras.layers", "class_name": "InputLayer", "config": {"batch_shape": [null, \(width)], "dtype": "float32", "name": "input_layer"}},\
        {"module": "keras.layers", "class_name": "Dense", "config": {"name": "d1", "trainable": true, "dtype": "float32", "units": \(width), "use_bias": true}},\
        {"module": "keras.layers", "class_name": "Dense", "config": {"name": "d2", "trainable": true, "dtype": "float32", "units": \(width), "use_bias": true}}]}}
        """
    }

    /// Writes `dir/weights.ckpt` (two width×width float32 kernels of noise, biases), `dir/arch.json`,
    /// and `dir/full.ckpt` (the same plus Adam state, made by `rebuild`). Returns their paths.
    static func largeInputs(_ dir: String, width: Int = 1024) throws -> (weights: String, architecture: String, full: String) {
        let tensors = [
            TensorInfo(name: "d1/kernel", dtype: .float32, shape: [width, width]),
            TensorInfo(name: "d1/bias", dtype: .float32, shape: [width]),
            TensorInfo(name: "d2/kernel", dtype: .float32, shape: [width, width]),
            TensorInfo(name: "d2/bias", dtype: .float32, shape: [width]),
        ]
        let payloads: [TensorPayload] = tensors.enumerated().map { k, t in .bytes(NoiseBytes.make(t.byteCount ?? 0, seed: UInt64(k + 1))) }
        let weights = dir + "/weights.ckpt", arch = dir + "/arch.json", full = dir + "/full.ckpt"
        try CheckpointWriter.write(CheckpointIndex(tensors: tensors), payloads: payloads, to: weights)
        try Data(wideArchitecture(width).utf8).write(to: URL(fileURLWithPath: arch))
        let r = CLI.run(["rebuild", weights, "--architecture", arch, "--optimizer", "adam", "-o", full])
        #expect(r.status == 0, "\(r.err)")
        return (weights, arch, full)
    }

    // MARK: Inputs are never modified

    @Test("No subcommand modifies its input: bytes, size, mtime and inode are the same after every one")
    func inputsNeverModified() throws {
        let dir = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let weights = dir + "/w.ckpt", full = dir + "/full.ckpt", npz = dir + "/w.npz", st = dir + "/w.safetensors", arch = dir + "/arch.json"
        try FileManager.default.copyItem(atPath: Self.sample, toPath: weights)
        try FileManager.default.copyItem(atPath: Self.architecture, toPath: arch)
        try FileManager.default.copyItem(atPath: CLI.path("Tests/Fixtures/keras/mlp/weights.npz"), toPath: npz)
        try FileManager.default.copyItem(atPath: CLI.path("Tests/Fixtures/keras/mlp/weights.safetensors"), toPath: st)
        #expect(CLI.run(["rebuild", weights, "--architecture", arch, "--optimizer", "sgd", "--set", "momentum=0.9", "-o", full]).status == 0)
        let inputs = [weights, full, npz, st, arch]
        let before = try inputs.map(FileSnapshot.init)
        let out = dir + "/out"
        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
        var n = 0
        func o(_ ext: String) -> String { n += 1; return "\(out)/o\(n).\(ext)" }
        let commands: [[String]] = [
            ["inspect", weights], ["inspect", full, "--json"], ["inspect", full, "--stats"], ["inspect", full, "--verify"],
            ["inspect", npz, "--stats"], ["inspect", st, "--verify"], ["inspect", full, "--tensor", "dense/kernel", "--values", "5"],
            ["diff", weights, npz], ["diff", full, weights, "--json"], ["diff", st, npz, "-q"],
            ["strip", full, "-o", o("ckpt")], ["strip", full, "-o", o("ckpt"), "--verify", "--keep-architecture"], ["strip", full, "-o", o("npz")],
            ["strip", full, "-o", o("safetensors")],
            ["rebuild", weights, "--architecture", arch, "--optimizer", "adam", "-o", o("ckpt")],
            ["rebuild", npz, "--architecture", arch, "-o", o("ckpt")],
            ["convert", weights, o("npz")], ["convert", npz, o("ckpt")], ["convert", st, o("ckpt")], ["convert", full, o("safetensors")],
            ["convert", full, o("ckpt"), "--meta", "epoch=3"], ["convert", npz, o("safetensors.index.json"), "--max-shard-size", "100KB"],
            // Refused: the output is the input, even with --force.
            ["strip", full, "-o", full, "--force"], ["convert", weights, weights, "--force"], ["convert", npz, npz, "--force"],
            ["rebuild", weights, "--architecture", arch, "-o", weights, "--force"],
        ]
        for args in commands {
            let r = CLI.run(args)
            // Refused (the output is the input): 2; the Keras-trained weights against the sample: 1; else 0.
            let refused = args.contains("--force"), differs = args == ["diff", weights, npz]
            #expect(r.status == (refused ? 2 : differs ? 1 : 0), "\(args): \(r.err)")
            let after = try inputs.map(FileSnapshot.init)
            for (k, path) in inputs.enumerated() where after[k] != before[k] {
                Issue.record("`ckpt \(args.joined(separator: " "))` modified its input \(path)")
            }
            #expect(CLI.temporaries(in: dir).isEmpty && CLI.temporaries(in: out).isEmpty, "\(args) left a temporary file")
        }
        // The refusals said why.
        #expect(CLI.run(["convert", weights, weights, "--force"]).err.contains("never replaces its input"))
    }

    // MARK: A failed write leaves nothing

    @Test("A write that fails half way (a damaged member) leaves neither the output nor a temporary file")
    func failedWriteLeavesNothing() throws {
        let dir = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        // Damage the last byte of the largest member's data: found only while converting.
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: Self.sample)))
        let zip = try ZipArchive(path: Self.sample)
        let big = try #require(zip.entries.max { $0.compressedSize < $1.compressedSize })
        bytes[Int(try zip.dataOffset(of: big) + big.compressedSize) - 1] ^= 0x55
        let damaged = dir + "/damaged.ckpt"
        try Data(bytes).write(to: URL(fileURLWithPath: damaged))
        for ext in ["ckpt", "npz", "safetensors"] {
            let out = dir + "/out.\(ext)"
            let r = CLI.run(["convert", damaged, out])
            CLI.expectSentence(r, mentioning: ["damaged.ckpt"])
            #expect(!FileManager.default.fileExists(atPath: out), "a partial \(ext) was left")
        }
        // An existing destination is untouched by a failed --force write.
        let keep = dir + "/keep.npz"
        try Data("precious".utf8).write(to: URL(fileURLWithPath: keep))
        #expect(CLI.run(["convert", damaged, keep, "--force"]).status == 2)
        #expect(try String(contentsOfFile: keep, encoding: .utf8) == "precious")
        #expect(CLI.temporaries(in: dir).isEmpty)
        // A destination directory that does not exist.
        CLI.expectSentence(CLI.run(["convert", Self.sample, dir + "/no/such/dir/out.ckpt"]), mentioning: ["cannot create a temporary file"])
    }

    // MARK: Stale temporary files

    @Test("Temporary files of dead writers are removed by the next write to the directory; live or locked ones are kept")
    func staleTemporariesRemoved() throws {
        let dir = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        // A pid that is not running: past the kernel's pid_max, or an exited child.
        let exited = try ChildProcess("/bin/true", [])
        _ = exited.wait()
        let deadPid = exited.pid
        let dead = dir + "/.old.ckpt.ckpt-tmp-\(deadPid)-1"
        let deadOther = dir + "/.x.npz.ckpt-tmp-\(deadPid)-7"
        let live = dir + "/.live.ckpt.ckpt-tmp-\(getppid())-1"     // our parent is alive
        let mine = dir + "/.mine.ckpt.ckpt-tmp-\(getpid())-999"     // this process's own
        let locked = dir + "/.locked.ckpt.ckpt-tmp-\(deadPid)-2"   // dead pid, but someone holds the lock
        // The one scheme of every temporary and scratch file (issue 16): `.ckpt-tmp-<pid>-<n>`.
        let deadShort = dir + "/.ckpt-tmp-\(deadPid)-3"
        let notOurs = [dir + "/.a.ckpt-tmp-x-1", dir + "/b.ckpt-tmp-\(deadPid)-1", dir + "/.c.ckpt-tmp-\(deadPid)-", dir + "/.ckpt-tmp-\(deadPid)"]
        for p in [dead, deadOther, deadShort, live, mine, locked] + notOurs { try Data("partial".utf8).write(to: URL(fileURLWithPath: p)) }
        let lockFD = open(locked, O_RDONLY)
        defer { close(lockFD) }
        #expect(flock(lockFD, LOCK_EX) == 0)
        #expect(AtomicOutputFile.temporaryOwner(".old.ckpt.ckpt-tmp-\(deadPid)-1") == deadPid)
        #expect(AtomicOutputFile.temporaryOwner(".a.ckpt-tmp-x-1") == nil && AtomicOutputFile.temporaryOwner(".ckpt-tmp-5-1") == 5)

        let r = CLI.run(["convert", Self.sample, dir + "/new.npz"])
        #expect(r.status == 0, "\(r.err)")
        let fm = FileManager.default
        #expect(!fm.fileExists(atPath: dead) && !fm.fileExists(atPath: deadOther) && !fm.fileExists(atPath: deadShort), "stale temporary files were kept")
        for p in [live, mine, locked] + notOurs { #expect(fm.fileExists(atPath: p), "\(p) was removed") }
    }

    // MARK: SIGKILL at random moments

    @Test("SIGKILL at random moments during strip, rebuild and convert: the destination is absent or complete, the input untouched",
          .requires(.ckptBinary))
    func killedAtRandomMoments() throws {
        let dir = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let (weights, arch, full) = try Self.largeInputs(dir)
        let jobs: [(String, (String) -> [String])] = [
            ("strip", { ["strip", full, "-o", $0] }),
            ("rebuild", { ["rebuild", weights, "--architecture", arch, "--optimizer", "adam", "-o", $0] }),
            ("convert-npz", { ["convert", full, $0, "--to", "npz"] }),
            ("convert-ckpt", { ["convert", full, $0, "--to", "ckpt"] }),
            ("convert-safetensors", { ["convert", weights, $0, "--to", "safetensors"] }),
        ]
        var rng = SeededRNG(seed: 17)
        let kills = Self.slow ? 25 : 4
        var midWrite = 0
        for (name, args) in jobs {
            let work = dir + "/" + name
            try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
            let inputs = [weights, full, arch]
            let before = try inputs.map(FileSnapshot.init)
            // A complete run: the reference bytes, and how long a run takes.
            let reference = work + "/reference.out"
            let start = DispatchTime.now().uptimeNanoseconds
            let ok = try ChildProcess.runCkpt(args(reference))
            #expect(ok.status == 0, "\(name): \(ok.output)")
            let duration = max(DispatchTime.now().uptimeNanoseconds - start, 1_000_000)
            let expected = try Data(contentsOf: URL(fileURLWithPath: reference))
            for k in 0..<kills {
                let dest = work + "/killed-\(k).out"
                let child = try ChildProcess.ckpt(args(dest))
                // Each kill in its own slice of the run, from the first instant to just past the end.
                let slice = duration * 11 / 10 / UInt64(kills)
                usleep(UInt32((UInt64(k) * slice + UInt64.random(in: 0...slice, using: &rng)) / 1000))
                child.signal(SIGKILL)
                _ = child.wait()
                // Killed while writing: the temporary file it was filling is still there.
                if CLI.temporaries(in: work).contains(where: { $0.contains(".ckpt-tmp-\(child.pid)-") }) { midWrite += 1 }
                if FileManager.default.fileExists(atPath: dest) {
                    #expect(try Data(contentsOf: URL(fileURLWithPath: dest)) == expected, "\(name): a killed run left a destination that differs from a complete one")
                }
                #expect(try inputs.map(FileSnapshot.init) == before, "\(name): an input changed")
            }
            // The next write to the directory removes what the killed runs left behind.
            let again = try ChildProcess.runCkpt(args(work + "/again.out"))
            #expect(again.status == 0, "\(name): \(again.output)")
            #expect(CLI.temporaries(in: work).isEmpty, "\(name): temporary files of killed runs remain: \(CLI.temporaries(in: work))")
            #expect(try Data(contentsOf: URL(fileURLWithPath: work + "/again.out")) == expected)
        }
        // Otherwise every kill landed before or after the write and nothing was tested.
        #expect(midWrite > 0, "no SIGKILL of \(jobs.count * kills) landed while a temporary file was being written")
    }

    @Test("SIGINT, SIGTERM and SIGHUP during a write remove the temporary file; the destination is absent or complete",
          .requires(.ckptBinary))
    func interruptedCleanly() throws {
        let dir = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let (_, _, full) = try Self.largeInputs(dir, width: 768)
        let reference = dir + "/reference.npz"
        #expect(try ChildProcess.runCkpt(["convert", full, reference]).status == 0)
        let expected = try Data(contentsOf: URL(fileURLWithPath: reference))
        for (k, sig) in [SIGINT, SIGTERM, SIGHUP, SIGINT, SIGTERM].enumerated() {
            let dest = dir + "/int-\(k).npz"
            let child = try ChildProcess.ckpt(["convert", full, dest])
            usleep(UInt32(20_000 + 40_000 * k))
            child.signal(sig)
            let status = child.wait().status
            #expect(status != 0 || FileManager.default.fileExists(atPath: dest))
            if FileManager.default.fileExists(atPath: dest) { #expect(try Data(contentsOf: URL(fileURLWithPath: dest)) == expected) }
            #expect(CLI.temporaries(in: dir).isEmpty, "signal \(sig) left \(CLI.temporaries(in: dir))")
        }
    }

    // MARK: Full disk

    @Test("A full disk (ulimit -f) is a clear error, exit 2, and leaves no partial output",
          .requires(.ckptBinary, .bash))
    func fullDisk() throws {
        let dir = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let (weights, arch, full) = try Self.largeInputs(dir, width: 512)
        // 1 MiB of file (bash counts ulimit -f in 1024-byte blocks): every output here is larger.
        let cases: [[String]] = [
            ["strip", full, "-o", dir + "/out.ckpt"],
            ["rebuild", weights, "--architecture", arch, "--optimizer", "sgd", "-o", dir + "/out.ckpt"],
            ["convert", full, dir + "/out.npz"],
            ["convert", full, dir + "/out.safetensors"],
            ["convert", weights, dir + "/out.ckpt"],
        ]
        for args in cases {
            let quoted = ([try #require(CkptExecutable.path)] + args).map { "'" + $0 + "'" }.joined(separator: " ")
            let (status, output) = try TestEnv.run("bash", ["-c", "ulimit -f 1024; exec " + quoted], environment: ["NO_COLOR": "1"])
            #expect(status == 2, "\(args): exit \(status): \(output)")
            #expect(output.contains("ckpt: error: ") && output.contains("File too large") && output.contains("free some space"), "\(args): \(output)")
            #expect(!FileManager.default.fileExists(atPath: dir + "/out.ckpt") && !FileManager.default.fileExists(atPath: dir + "/out.npz")
                    && !FileManager.default.fileExists(atPath: dir + "/out.safetensors"), "\(args) left a partial output")
            #expect(CLI.temporaries(in: dir).isEmpty, "\(args) left \(CLI.temporaries(in: dir))")
        }
    }

    // MARK: Two writers

    @Test("Two ckpt processes writing one destination at once give one complete, valid file",
          .requires(.ckptBinary))
    func concurrentWriters() throws {
        let dir = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let (_, _, full) = try Self.largeInputs(dir, width: 512)
        let reference = dir + "/reference.ckpt"
        #expect(try ChildProcess.runCkpt(["strip", full, "-o", reference]).status == 0)
        let expected = try Data(contentsOf: URL(fileURLWithPath: reference))
        for round in 0..<(Self.slow ? 10 : 3) {
            for force in [false, true] {
                let dest = dir + "/both-\(round)-\(force).ckpt"
                let args = ["strip", full, "-o", dest] + (force ? ["--force"] : [])
                let a = try ChildProcess.ckpt(args), b = try ChildProcess.ckpt(args)
                let ra = a.wait(), rb = b.wait()
                if force {
                    #expect(ra.status == 0 && rb.status == 0, "\(ra.output) \(rb.output)")
                } else {
                    // Exactly one wins; the other says the output exists (before writing or at the rename).
                    #expect([ra.status, rb.status].sorted() == [0, 2], "\(ra.output) \(rb.output)")
                    let loser = ra.status == 2 ? ra.output : rb.output
                    #expect(loser.contains("already exists") || loser.contains("appeared while it was being written"), "\(loser)")
                }
                #expect(try Data(contentsOf: URL(fileURLWithPath: dest)) == expected)
                let archive = try CheckpointArchive(path: dest)
                try archive.verify()
                #expect(CLI.temporaries(in: dir).isEmpty)
            }
        }
    }
}
