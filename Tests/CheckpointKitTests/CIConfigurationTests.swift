import Foundation
import Testing
import CheckpointTestSupport

/// `.ci/run` keeps its promises: every `.requires(...)` variable the tests know is set to 1 there
/// (a cross-check CI can run is never a skip), it installs both pinned requirement lists in one
/// resolver run, every Python package is pinned exactly, Keras runs on JAX, and the fuzzing step
/// runs every target.
@Suite("CI configuration")
struct CIConfigurationTests {
    static let run = (try? TestEnv.readText(TestEnv.path(".ci/run"))) ?? ""

    /// The `CKPT_REQUIRE_*` variables the test sources name in a `requireVariable:`.
    static func requireVariables() throws -> Set<String> {
        var names: Set<String> = []
        for dir in ["Tests/CheckpointTestSupport", "Tests/CheckpointKitTests", "Tests/CheckpointCommandsTests"].map(TestEnv.path) {
            for file in TestEnv.listing(dir) where file.hasSuffix(".swift") {
                let text = try TestEnv.readText(dir + "/" + file)
                for part in text.components(separatedBy: "requireVariable: \"").dropFirst() {
                    let name = String(part.prefix { $0 != "\"" })
                    if name.hasPrefix("CKPT_REQUIRE_") { names.insert(name) }
                }
            }
        }
        return names
    }

    /// The variables `.ci/run` exports as 1.
    static func exported() -> Set<String> {
        var names: Set<String> = []
        for line in run.split(separator: "\n") where line.trimmingCharacters(in: .whitespaces).hasPrefix("export ") {
            for word in line.split(separator: " ") where word.hasSuffix("=1") && word.hasPrefix("CKPT_REQUIRE_") {
                names.insert(String(word.dropLast(2)))
            }
        }
        return names
    }

    @Test("CI sets every CKPT_REQUIRE_* variable the requirements use")
    func everyRequirementIsRequiredInCI() throws {
        let used = try Self.requireVariables()
        #expect(used.isSuperset(of: ["CKPT_REQUIRE_HDF5", "CKPT_REQUIRE_PYTHON", "CKPT_REQUIRE_KERAS", "CKPT_REQUIRE_TENSORFLOW",
                                     "CKPT_REQUIRE_TORCH", "CKPT_REQUIRE_GGUF", "CKPT_REQUIRE_CHROMIUM", "CKPT_REQUIRE_TOOLS",
                                     "CKPT_REQUIRE_BINARY"]), "\(used.sorted())")
        let missing = used.subtracting(Self.exported())
        #expect(missing.isEmpty, "a requirement CI does not make a failure: \(missing.sorted())")
    }

    @Test("CI installs both pinned lists in one pip run, checks them, and keeps Keras on JAX")
    func pinnedInstall() throws {
        let install = try #require(Self.run.split(separator: "\n").first { $0.contains("pip install") })
        #expect(install.contains("-r .ci/requirements.txt") && install.contains("-r .ci/requirements-frameworks.txt"), "\(install)")
        #expect(Self.run.contains("python3 -m pip check"))
        #expect(Self.run.contains("export KERAS_BACKEND=jax"))
        for file in [".ci/requirements.txt", ".ci/requirements-frameworks.txt"] {
            let lines = try TestEnv.readText(TestEnv.path(file)).split(separator: "\n")
                .map { $0.prefix { $0 != "#" }.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
            #expect(!lines.isEmpty, "\(file)")
            for line in lines { #expect(line.contains("=="), "\(file): \(line) is not pinned to one version") }
        }
        // The big frameworks, with torch's CPU build (never the CUDA one from PyPI).
        for package in ["tensorflow-cpu", "tf_keras", "gguf"] { #expect(PythonPins.pin(package).hasPrefix(package + "==")) }
        #expect(PythonPins.pin("torch").hasPrefix("torch==") && PythonPins.pin("torch").hasSuffix("+cpu"))
        #expect(PythonPins.pin("keras") == "keras==3.15.1")
    }

    @Test("CI fuzzes every target: run.sh without --target, and run.sh takes the targets from the harness's list")
    func fuzzesEveryTarget() throws {
        let line = try #require(Self.run.split(separator: "\n").first { $0.contains("Tests/Fuzz/run.sh --") })
        #expect(!line.contains("--target"), "\(line)")
        let script = try TestEnv.readText(TestEnv.path("Tests/Fuzz/run.sh"))
        #expect(script.contains(#"[ ${#targets[@]} -eq 0 ] && targets=("${all[@]}")"#))
        #expect(FileManager.default.isExecutableFile(atPath: TestEnv.path("Tests/Fuzz/run.sh")))
    }
}
