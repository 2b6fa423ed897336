import Foundation
import Testing
import CheckpointTestSupport
@testable import CheckpointCommands
@testable import CheckpointKit
#if canImport(Glibc)
import Glibc
#endif

/// Issue 16, faults and hostile file systems: FIFOs, inputs that shrink while read, a full disk
/// under libhdf5, HDF5 chunk and sparse bombs, outputs that are inputs, interrupted sharded
/// writes, scratch-file naming.
@Suite("Hostile input, round two: faults (issue 16)", .reportsSeeds)
struct HostileRoundTwoFaultTests {
    static let mlp = CLI.path("Tests/Fixtures/keras/mlp")

    @Test("A FIFO as input, as a shard or as --architecture is refused at once, never opened blocking", .requires(.ckptBinary))
    func fifos() throws {
        let dir = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        #expect(mkfifo(dir + "/in.ckpt", 0o600) == 0 && mkfifo(dir + "/arch.json", 0o600) == 0 && mkfifo(dir + "/s.safetensors", 0o600) == 0)
        try Data(#"{"weight_map":{"w":"s.safetensors"}}"#.utf8).write(to: URL(fileURLWithPath: dir + "/m.safetensors.index.json"))
        let cases: [([String], String)] = [
            (["inspect", dir + "/in.ckpt"], "in.ckpt"),
            (["inspect", dir + "/m.safetensors.index.json"], "s.safetensors"),
            (["inspect", Self.mlp + "/mlp.weights.h5", "--architecture", dir + "/arch.json"], "arch.json"),
        ]
        for (args, name) in cases {
            let child = try ChildProcess.ckpt(args)
            let start = Date()
            while child.process.isRunning && Date().timeIntervalSince(start) < 20 { usleep(20_000) }
            let hung = child.process.isRunning
            if hung { child.signal(SIGKILL) }
            let r = child.wait()
            #expect(!hung, "ckpt \(args) blocked on a FIFO")
            #expect(r.status == 2 && r.output.contains(name) && (r.output.contains("FIFO") || r.output.contains("not a regular file")), "\(r.output)")
        }
    }

    @Test("An index naming itself or a directory as a shard: a sentence about the shard, not about JSON")
    func indexNamingItself() throws {
        let dir = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try FileManager.default.createDirectory(atPath: dir + "/d.safetensors", withIntermediateDirectories: false)
        for shard in ["m.safetensors.index.json", "d.safetensors"] {
            try Data(#"{"weight_map":{"w":"\#(shard)"}}"#.utf8).write(to: URL(fileURLWithPath: dir + "/m.safetensors.index.json"))
            let r = CLI.run(["inspect", dir + "/m.safetensors.index.json"])
            CLI.expectSentence(r, mentioning: [shard])
            #expect(!r.err.contains("this is a JSON text"))
        }
    }

    @Test("No output may be a file of an input set: a shard of the index being converted is refused even with --force")
    func outputIsAShard() throws {
        let dir = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let src = CLI.path("Tests/Fixtures/keras/mlp/weights.safetensors")
        #expect(CLI.run(["convert", src, dir + "/model.safetensors.index.json", "--max-shard-size", "100KB"]).status == 0)
        let shards = try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.hasSuffix(".safetensors") }.sorted()
        #expect(shards.count >= 2)
        let shard = dir + "/" + (shards.first ?? "")
        let before = try FileSnapshot(shard)
        let r = CLI.run(["convert", dir + "/model.safetensors.index.json", shard, "--force"])
        CLI.expectSentence(r, mentioning: ["never replaces its input"])
        #expect(try FileSnapshot(shard) == before)
        #expect(CLI.temporaries(in: dir).isEmpty)
    }

    @Test("A .keras shortened while it is read: a .truncated error, never SIGBUS", .requires(.hdf5))
    func shrinkingInput() throws {
        let dir = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let copy = dir + "/m.keras"
        try FileManager.default.copyItem(atPath: Self.mlp + "/mlp.keras", toPath: copy)
        let source = try Checkpoints.open(copy)
        #expect(truncate(copy, 4096) == 0)
        var failure: CheckpointError?
        do {
            for i in source.index.tensors.indices { for p in source.pieces(of: i).indices { try source.readPiece(i, p) { _ in } } }
        } catch let e as CheckpointError { failure = e }
        #expect(failure?.code == .truncated, "\(String(describing: failure))")
        #expect(failure?.description.contains("m.keras") == true)
    }

    @Test("A full disk while libhdf5 writes (.weights.h5, .keras): exit 2, one sentence, nothing left, no crash",
          .requires(.bash, .ckptBinary, .hdf5))
    func fullDiskUnderLibHDF5() throws {
        let dir = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        for limit in [1, 300, 1100] {
            for out in ["o.weights.h5", "o.keras"] {
                let r = try HostileRoundTwoTests.limited("ulimit -f \(limit)", ["convert", Self.mlp + "/mlp.keras", dir + "/" + out], seconds: 60)
                #expect(r.status == 2, "ulimit -f \(limit) → \(out): exit \(r.status) \(r.output.prefix(300))")
                #expect(r.output.hasPrefix("ckpt: error: ") && !r.output.contains("crashed"))
                let left = try FileManager.default.contentsOfDirectory(atPath: dir)
                #expect(left.isEmpty, "left behind: \(left)")
            }
        }
    }

    @Test("HDF5 chunk bombs and sparse datasets: refused by name in bounded time (sparse read with --allow-sparse)",
          .requires(.h5py, .hdf5))
    func hdf5Bombs() throws {
        let dir = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try TestEnv.python("""
        import h5py, numpy as np, sys
        d = sys.argv[1]
        def make(name, **kw):
            with h5py.File(d + '/' + name, 'w') as f:
                g = f.create_group('layers/dense/vars')
                x = g.create_dataset('0', **kw)
                f.create_group('optimizer/vars')
                return x
        with h5py.File(d + '/sparse.weights.h5', 'w') as f:
            f.create_group('layers/dense/vars').create_dataset('0', shape=(1 << 17, 1 << 17), dtype='f4', chunks=(256, 1024))
            f.create_group('optimizer/vars')
        with h5py.File(d + '/part.weights.h5', 'w') as f:
            x = f.create_group('layers/dense/vars').create_dataset('0', shape=(512, 512), dtype='f4', chunks=(128, 128))
            x[0:128, 0:128] = 1
            f.create_group('optimizer/vars')
        with h5py.File(d + '/chunk.weights.h5', 'w') as f:
            x = f.create_group('layers/dense/vars').create_dataset('0', shape=(4096, 4096), dtype='f4', chunks=(4096, 4096), compression='gzip')
            x[...] = 0
            f.create_group('optimizer/vars')
        with h5py.File(d + '/gz.weights.h5', 'w') as f:
            f.create_group('layers/dense/vars').create_dataset('0', data=np.arange(300 * 70, dtype='f4').reshape(300, 70), chunks=(64, 32), compression='gzip')
            f.create_group('optimizer/vars')
        """, [dir])
        for (file, words) in [("sparse.weights.h5", ["0 of its 65536 chunks", "--allow-sparse"]), ("part.weights.h5", ["1 of its 16 chunks"]),
                              ("chunk.weights.h5", ["chunks of 67108864 bytes"])] {
            let start = Date()
            let r = CLI.run(["inspect", dir + "/" + file, "--stats"])
            CLI.expectSentence(r, lastLineOnly: true, mentioning: [file, "/layers/dense/vars/0"] + words)
            #expect(Date().timeIntervalSince(start) < 10)
            let c = CLI.run(["convert", dir + "/" + file, dir + "/out.npz"])
            #expect(c.status == 2 && !FileManager.default.fileExists(atPath: dir + "/out.npz"))
        }
        #expect(CLI.run(["inspect", dir + "/part.weights.h5", "--stats", "--allow-sparse"]).status == 0)
        // A fully written gzip-chunked dataset is read, and equal to what was written.
        let r = CLI.run(["inspect", dir + "/gz.weights.h5", "--tensor", "dense/vars/0", "--values", "3"])
        #expect(r.status == 0 && r.out.contains("[0.0, 1.0, 2.0, ...]"), "\(r.err)")
    }

    @Test("SIGINT while writing more than 64 shards: the set appears whole or not at all, no temporary files", .requires(.ckptBinary))
    func interruptedShardedWrite() throws {
        let dir = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let src = CLI.path("Tests/Fixtures/keras/mlp/weights.safetensors")
        var rng = SeededRNG(seed: 1616)
        for attempt in 0..<4 {
            let out = dir + "/run\(attempt)"
            try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: false)
            let child = try ChildProcess.ckpt(["convert", src, out + "/m.safetensors.index.json", "--max-shard-size", "1KB"])
            usleep(UInt32(20_000 + rng.next() % 200_000))
            child.signal(SIGINT)
            let r = child.wait()
            let files = try FileManager.default.contentsOfDirectory(atPath: out)
            #expect(CLI.temporaries(in: out).isEmpty, "temporary files left: \(files.count)")
            let shards = files.filter { $0.hasSuffix(".safetensors") }
            if files.contains("m.safetensors.index.json") {
                #expect(r.status == 0 || shards.count > 64)
                #expect(CLI.run(["inspect", out + "/m.safetensors.index.json", "--verify"]).status == 0)
            } else {
                #expect(shards.isEmpty, "shards without their index: \(shards.count)")
            }
        }
        // More than 64 temporary files at once are all registered for removal.
        let temps = try (0..<80).map { _ in try TemporaryFile(directory: dir, displayName: "x") }
        #expect(TemporaryFiles.registeredCount >= 80)
        for t in temps { t.remove() }
    }

    @Test("A dangling symbolic link as the output: refused without --force, with a sentence that says so")
    func danglingSymlinkOutput() throws {
        let dir = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        #expect(symlink(dir + "/nowhere.npz", dir + "/link.npz") == 0)
        let r = CLI.run(["convert", CLI.path("Samples/mlp-weights.ckpt"), dir + "/link.npz"])
        CLI.expectSentence(r, mentioning: ["link.npz", "symbolic link"])
        #expect(!FileManager.default.fileExists(atPath: dir + "/nowhere.npz") && CLI.temporaries(in: dir).isEmpty)
    }

    @Test("Every scratch file follows the one temporary naming scheme, so the stale-file sweep knows it")
    func scratchNaming() throws {
        let dir = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let scratch = try ScratchFile(directory: dir, displayName: "o.keras", forLibHDF5: true)
        let name = String(scratch.path.split(separator: "/").last ?? "")
        #expect(TemporaryFiles.owner(name) == getpid())
        #expect(name.utf8.count < 40, "temporary names stay short: \(name)")
        scratch.remove()
        // A 240-byte output name still has a valid temporary name.
        let long = dir + "/" + String(repeating: "n", count: 236) + ".npz"
        let r = CLI.run(["convert", CLI.path("Samples/mlp-weights.ckpt"), long])
        #expect(r.status == 0, "\(r.err)")
    }
}
