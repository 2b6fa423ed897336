// The libFuzzer harness for the fuzz targets of CheckpointFuzz (FuzzTargets.all), and a replayer.
//
// Built for fuzzing (Tests/Fuzz/run.sh does this):
//   swift build -c release --product ckpt-fuzz --sanitize=fuzzer --sanitize=address \
//       -Xswiftc -DFUZZING --scratch-path .build-fuzz
//   CKPT_FUZZ_TARGET=container .build-fuzz/release/ckpt-fuzz corpus/ -max_total_time=60
//
// Built normally (`swift build`), the same code is a replayer: `ckpt-fuzz [--target T] FILE...`
// runs each file through target T (or every target) and reports what the reader said; a finding
// aborts, as under libFuzzer (which then keeps the input).
//
// `CKPT_FUZZ_LIST=1`: prints one line per target (name, steps, max length, environment) and exits.
// `CKPT_FUZZ_MAKE_SEEDS=DIR`: writes seed inputs into DIR/<steps>/ and exits.

import CheckpointFuzz
import CheckpointKit
import CheckpointSystem

/// Writes a line to standard error (fd 2: the C `stderr` global is not concurrency-safe in Swift 6).
func say(_ line: String) {
    var text = line + "\n"
    text.withUTF8 { b in try? FileDescriptor.standardError.writeAll(UnsafeRawBufferPointer(b)) }
}

func environment(_ name: String) -> String? { SystemProcess.environment(name) }

/// Runs one input; a finding is printed and aborts (libFuzzer saves the input as a crash).
@discardableResult
func fuzzOne(_ target: FuzzTarget, _ bytes: [UInt8]) -> FuzzRun {
    let run = FuzzTargets.run(target, bytes)
    if !run.findings.isEmpty {
        for f in run.findings { say("ckpt-fuzz: FINDING: \(f)") }
        SystemProcess.abort()
    }
    return run
}

/// The target named by `CKPT_FUZZ_TARGET`, read once.
let selectedTarget: FuzzTarget = {
    let names = FuzzTargets.all.map(\.name).joined(separator: ", ")
    guard let name = environment("CKPT_FUZZ_TARGET") else {
        say("ckpt-fuzz: set CKPT_FUZZ_TARGET to one of \(names)")
        SystemProcess.exit(2)
    }
    guard let t = FuzzTargets.named(name) else {
        say("ckpt-fuzz: unknown CKPT_FUZZ_TARGET \"\(name)\" (one of \(names))")
        SystemProcess.exit(2)
    }
    return t
}()

/// `CKPT_FUZZ_LIST` and `CKPT_FUZZ_MAKE_SEEDS`: answer and exit.
func answerQuestions() {
    if environment("CKPT_FUZZ_LIST") == "1" {
        for t in FuzzTargets.all {
            let env = t.environment.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
            print("\(t.name)\t\(t.steps)\t\(t.maxLength)\t\(env)")
        }
        SystemProcess.exit(0)
    }
    guard let dir = environment("CKPT_FUZZ_MAKE_SEEDS") else { return }
    do {
        try Seeds.make(into: dir)
        SystemProcess.exit(0)
    } catch {
        say("ckpt-fuzz: cannot make the seeds: \(error)")
        SystemProcess.exit(2)
    }
}

@_cdecl("LLVMFuzzerInitialize")
public func LLVMFuzzerInitialize(_ argc: UnsafeMutablePointer<CInt>?, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>?) -> CInt {
    answerQuestions()
    _ = selectedTarget
    return 0
}

@_cdecl("LLVMFuzzerTestOneInput")
public func LLVMFuzzerTestOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = data.map { Array(UnsafeBufferPointer(start: $0, count: size)) } ?? []
    fuzzOne(selectedTarget, bytes)
    return 0
}

#if !FUZZING
/// `ckpt-fuzz [--target T] FILE...`: runs each file through T (default: `CKPT_FUZZ_TARGET`, else
/// every target), printing one line per file and target. Exits 0 unless a finding aborts it.
@main
struct Replayer {
    static func main() { replay() }
}

func replay() {
    answerQuestions()
    var args = Array(CommandLine.arguments.dropFirst())
    var targets = FuzzTargets.all.filter { $0.name == $0.steps }
    if let env = environment("CKPT_FUZZ_TARGET"), let t = FuzzTargets.named(env) { targets = [t] }
    if let k = args.firstIndex(of: "--target"), k + 1 < args.count {
        guard let t = FuzzTargets.named(args[k + 1]) else {
            say("ckpt-fuzz: unknown target \"\(args[k + 1])\"")
            SystemProcess.exit(2)
        }
        targets = [t]
        args.removeSubrange(k...(k + 1))
    }
    if args.isEmpty {
        say("usage: ckpt-fuzz [--target \(FuzzTargets.all.map(\.name).joined(separator: "|"))] FILE...")
        SystemProcess.exit(2)
    }
    for path in args {
        guard let file = try? ReadableFile(path: path), let bytes = try? file.read(at: 0, count: Int(file.size)) else {
            say("ckpt-fuzz: cannot read \(path)")
            SystemProcess.exit(2)
        }
        for t in targets {
            let outcome = fuzzOne(t, bytes).topLevel.map { $0.refusal.map { "refused (\($0.code)): \($0)" } ?? "accepted" }
            print("\(t.name)\t\(path)\t" + outcome.joined(separator: " | "))
        }
    }
}
#endif
