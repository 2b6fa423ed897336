#if canImport(Testing)  // test support only: a release build of the package (no Testing module) skips it
import Foundation
import Testing
import CheckpointKit

/// Something a test needs that a machine with only Swift and zlib lacks: libhdf5, python3 and its
/// modules, Keras, TensorFlow, PyTorch, Chromium, a command-line tool, the built `ckpt`.
///
/// `.requires(...)` on a test or suite turns a missing one into a reported skip naming the
/// package to install — never a silent pass — or, when its `CKPT_REQUIRE_*` variable is 1 (CI),
/// into a failure. `CKPT_PRETEND_MISSING=hdf5,python,keras,...` (the `id`s) makes a machine look
/// bare without uninstalling anything; CheckpointKit's libhdf5 and libdeflate loaders honour it
/// too (`hdf5`, `libdeflate`, `isal`).
public struct Requirement: Sendable, CustomStringConvertible {
    /// The name in CKPT_PRETEND_MISSING, and the key of the cached probe.
    public let id: String
    /// What is needed, as a skip message says it ("python3 with numpy").
    public let what: String
    /// How to get it ("pip install numpy==2.4.6").
    public let install: String
    /// The variable that turns the skip into a failure.
    public let requireVariable: String
    /// Other requirements this one implies (a Python module needs python3).
    public let implies: [String]
    let probe: @Sendable () -> Bool

    public init(id: String, what: String, install: String, requireVariable: String, implies: [String] = [],
                probe: @escaping @Sendable () -> Bool) {
        self.id = id
        self.what = what
        self.install = install
        self.requireVariable = requireVariable
        self.implies = implies
        self.probe = probe
    }

    public var description: String { what }

    /// Whether it is there (and not pretended missing). Probed once per process.
    public var isAvailable: Bool {
        if Pretend.missing(id) || implies.contains(where: Pretend.missing) { return false }
        return ProbeCache.shared.value(id, probe)
    }

    /// Whether `requireVariable` is 1: then a missing one is a failure.
    public var isRequired: Bool { TestEnv.environment[requireVariable] == "1" }

    /// "needs X: install it with `Y` (Z=1 makes this a failure)".
    public var skipMessage: String { "needs \(missingText) (\(requireVariable)=1 makes this a failure)" }

    /// "X (pretended missing): install it with `Y`".
    var missingText: String {
        let pretended = Pretend.missing(id) || implies.contains(where: Pretend.missing)
        return "\(what)\(pretended ? " (CKPT_PRETEND_MISSING)" : ""): install it with `\(install)`"
    }
}

// MARK: The requirements

extension Requirement {
    /// libhdf5, loaded at run time by CheckpointKit (Keras .keras / .h5 files).
    public static let hdf5 = Requirement(id: "hdf5", what: "libhdf5", install: "sudo apt-get install \(HDF5Library.debianPackage)",
                                         requireVariable: "CKPT_REQUIRE_HDF5") { HDF5Library.isAvailable }

    /// ISA-L (libisal), loaded at run time by CheckpointKit when its headers were there at build
    /// time: the fast deflate encoder and CRC-32.
    public static let isal = Requirement(id: "isal", what: "ISA-L (libisal, and libisal-dev when building)",
                                         install: "sudo apt-get install libisal2 libisal-dev",
                                         requireVariable: "CKPT_REQUIRE_ISAL") { DeflateChunks.isAvailable(.isal) }

    public static let python3 = Requirement(id: "python", what: "python3", install: "sudo apt-get install python3 python3-pip",
                                            requireVariable: "CKPT_REQUIRE_PYTHON") { TestEnv.which("python3") != nil }

    public static let numpy = python("numpy")
    public static let h5py = python("h5py")
    public static let safetensors = python("safetensors")

    /// Keras 3 on JAX (with h5py), as CI runs it.
    public static let keras = Requirement(id: "keras", what: "python3 with keras, jax and h5py (KERAS_BACKEND=jax)",
                                          install: "pip install " + PythonPins.pins(["keras", "jax", "jaxlib", "h5py"]),
                                          requireVariable: "CKPT_REQUIRE_KERAS", implies: ["python"]) {
        importable("keras, jax, h5py")
    }

    public static let tensorflow = python("tensorflow", requireVariable: "CKPT_REQUIRE_TENSORFLOW", package: "tensorflow-cpu")
    /// gguf-py (llama.cpp's reader and writer).
    public static let gguf = python("gguf", requireVariable: "CKPT_REQUIRE_GGUF")
    public static let torch = python("torch", requireVariable: "CKPT_REQUIRE_TORCH",
                                     install: "pip install \(PythonPins.pin("torch")) --index-url https://download.pytorch.org/whl/cpu")

    public static let chromium = Requirement(id: "chromium", what: "chromium (headless)", install: "sudo apt-get install chromium",
                                             requireVariable: "CKPT_REQUIRE_CHROMIUM") { Chromium.path != nil }

    public static let unzip = tool("unzip")
    public static let bash = tool("bash")

    /// A Python module (its pip package pinned as in `.ci/requirements.txt`).
    public static func python(_ module: String, requireVariable: String = "CKPT_REQUIRE_PYTHON", package: String? = nil,
                              install: String? = nil) -> Requirement {
        Requirement(id: module, what: "python3 with \(module)", install: install ?? "pip install " + PythonPins.pin(package ?? module),
                    requireVariable: requireVariable, implies: ["python"]) { importable(module) }
    }

    /// A command-line program from a Debian package of the same name unless `package` says otherwise.
    public static func tool(_ name: String, package: String? = nil) -> Requirement {
        Requirement(id: name, what: "the `\(name)` command", install: "sudo apt-get install \(package ?? name)",
                    requireVariable: "CKPT_REQUIRE_TOOLS") { TestEnv.which(name) != nil }
    }

    /// Whether python3 imports `modules` (a comma-separated import list), with KERAS_BACKEND=jax.
    public static func importable(_ modules: String) -> Bool {
        guard TestEnv.which("python3") != nil else { return false }
        return (try? TestEnv.run("python3", ["-c", "import " + modules], environment: ["KERAS_BACKEND": "jax"]).status) == 0
    }
}

/// `CKPT_PRETEND_MISSING`: comma-separated requirement ids to treat as not installed.
public enum Pretend {
    public static let ids: Set<String> = Set((TestEnv.environment["CKPT_PRETEND_MISSING"] ?? "").split(separator: ",")
        .map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty })

    public static func missing(_ id: String) -> Bool { ids.contains(id) }
}

/// The pinned Python packages of `.ci/requirements.txt` and `.ci/requirements-frameworks.txt`
/// (what CI installs and the tests were run with), so a skip message names the same version.
public enum PythonPins {
    static let lines: [String] = [".ci/requirements.txt", ".ci/requirements-frameworks.txt"].flatMap { file in
        let text = (try? TestEnv.readText(TestEnv.path(file))) ?? ""
        return text.split(separator: "\n").map { String($0.prefix { $0 != "#" }).trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    }

    /// `package==version` as pinned, or `package` when it is not.
    public static func pin(_ package: String) -> String {
        lines.first { $0.lowercased().hasPrefix(package.lowercased() + "==") } ?? package
    }

    public static func pins(_ packages: [String]) -> String { packages.map(pin).joined(separator: " ") }
}

final class ProbeCache: @unchecked Sendable {
    static let shared = ProbeCache()
    private let lock = NSLock()
    private var values: [String: Bool] = [:]

    func value(_ id: String, _ probe: () -> Bool) -> Bool {
        lock.lock()
        if let v = values[id] { lock.unlock(); return v }
        lock.unlock()
        let v = probe()   // outside the lock: probes run processes
        lock.lock()
        values[id] = v
        lock.unlock()
        return v
    }
}

// MARK: The trait

/// Skips a test (with the reason and the package to install) when a requirement is missing, or
/// fails it when the requirement's CKPT_REQUIRE_* variable is 1. On a suite, each test is skipped
/// on its own, so the count of skipped tests is the count of tests that did not run.
public struct RequirementTrait: TestTrait, SuiteTrait {
    public let requirements: [Requirement]

    public var isRecursive: Bool { true }

    public var comments: [Comment] { [Comment(rawValue: "needs " + requirements.map(\.what).joined(separator: "; "))] }

    public func prepare(for test: Test) async throws {
        guard !test.isSuite else { return }
        let missing = requirements.filter { !$0.isAvailable }
        guard !missing.isEmpty else { return }
        let required = missing.filter(\.isRequired)
        if !required.isEmpty {
            throw RequirementMissing(description: required.map { "\($0.requireVariable)=1, and this test needs \($0.missingText)" }.joined(separator: "; "))
        }
        try await ConditionTrait.enabled(if: false, Comment(rawValue: missing.map(\.skipMessage).joined(separator: "; "))).prepare(for: test)
    }
}

public struct RequirementMissing: Error, CustomStringConvertible {
    public let description: String
}

extension Trait where Self == RequirementTrait {
    /// The test runs only where all of `requirements` are installed (see ``Requirement``).
    public static func requires(_ requirements: Requirement...) -> RequirementTrait { RequirementTrait(requirements: requirements) }
}
#endif
