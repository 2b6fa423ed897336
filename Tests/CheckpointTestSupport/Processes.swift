#if canImport(Testing)  // test support only: a release build of the package (no Testing module) skips it
import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// What a finished child process left: its exit status (128 + the signal when a signal ended it)
/// and what it wrote.
public struct ProcessResult: Sendable {
    public var status: Int32
    /// stdout and stderr interleaved as written, or stdout alone with `separateStreams`.
    public var output: String
    /// stderr, with `separateStreams` (else empty).
    public var errorOutput: String
}

/// The one way the tests start programs. Output goes through files, never pipes: reading a pipe
/// to its end is interrupted (EINTR) by the SIGCHLD of processes other tests start in parallel, and
/// a full pipe blocks a child a test means to kill.
public final class ChildProcess: @unchecked Sendable {
    public let process = Process()
    private let outPath: String
    private let errPath: String?
    private let scratch: String

    /// Starts `executable` (a path, or a name looked up on PATH) with `arguments`. The environment
    /// is this process's, minus `removing`, plus `environment`; `cwd` is the child's working
    /// directory (the tests' own never changes). `stdout` / `stderr` replace the capture files
    /// (e.g. a pseudo-terminal).
    public init(_ executable: String, _ arguments: [String], environment: [String: String] = [:], removing: [String] = [],
                cwd: String? = nil, separateStreams: Bool = false, stdout: FileHandle? = nil, stderr: FileHandle? = nil) throws {
        guard let exe = TestEnv.which(executable) else { throw ProcessFailure("\(executable) is not installed (not on PATH)") }
        scratch = try TestEnv.temporaryDirectory("ckpt-proc")
        outPath = scratch + "/out"
        errPath = separateStreams ? scratch + "/err" : nil
        _ = FileManager.default.createFile(atPath: outPath, contents: nil)
        let out = try FileHandle(forWritingTo: URL(fileURLWithPath: outPath))
        var err = out
        if let errPath {
            _ = FileManager.default.createFile(atPath: errPath, contents: nil)
            err = try FileHandle(forWritingTo: URL(fileURLWithPath: errPath))
        }
        process.executableURL = URL(fileURLWithPath: exe)
        process.arguments = arguments
        var env = TestEnv.environment
        for k in removing { env[k] = nil }
        for (k, v) in environment { env[k] = v }
        process.environment = env
        if let cwd { process.currentDirectoryURL = URL(fileURLWithPath: cwd) }
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = stdout ?? out
        process.standardError = stderr ?? err
        defer {
            try? out.close()
            if errPath != nil { try? err.close() }
        }
        do {
            try process.run()
        } catch {
            TestEnv.cleanup(scratch)
            throw error
        }
    }

    deinit { TestEnv.cleanup(scratch) }

    public var pid: Int32 { process.processIdentifier }

    /// Sends `signal` (SIGKILL, SIGINT, ...).
    public func signal(_ signal: Int32) { _ = kill(process.processIdentifier, signal) }

    /// Waits for the end; returns the status and the output.
    public func wait() -> ProcessResult {
        process.waitUntilExit()
        let status = process.terminationReason == .uncaughtSignal ? 128 + process.terminationStatus : process.terminationStatus
        let out = (try? TestEnv.readText(outPath)) ?? ""
        let err = errPath.flatMap { try? TestEnv.readText($0) } ?? ""
        return ProcessResult(status: status, output: out, errorOutput: err)
    }
}

public struct ProcessFailure: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

extension TestEnv {
    /// Runs a program to its end; returns its status and output (stdout and stderr interleaved).
    @discardableResult
    public static func run(_ executable: String, _ arguments: [String], environment: [String: String] = [:],
                           cwd: String? = nil) throws -> (status: Int32, output: String) {
        let r = try ChildProcess(executable, arguments, environment: environment, cwd: cwd).wait()
        return (r.status, r.output)
    }

    /// Runs a Python script (`python3 -c script args...`, KERAS_BACKEND=jax unless set) and returns
    /// its output; a non-zero exit is a test failure (and throws). The test declares the modules it
    /// imports with `.requires(.python(...))`.
    @discardableResult
    public static func python(_ script: String, _ args: [String] = [], environment: [String: String] = [:],
                              sourceLocation: SourceLocation = #_sourceLocation) throws -> String {
        var env = environment
        if TestEnv.environment["KERAS_BACKEND"] == nil && env["KERAS_BACKEND"] == nil { env["KERAS_BACKEND"] = "jax" }
        let (status, out) = try run("python3", ["-c", script] + args, environment: env)
        guard status == 0 else {
            Issue.record("python3 exited with status \(status):\n\(out)", sourceLocation: sourceLocation)
            throw ProcessFailure("python3 exited with status \(status)")
        }
        return out
    }
}
#endif
