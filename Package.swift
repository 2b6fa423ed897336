// swift-tools-version:6.1
import PackageDescription

let package = Package(
    name: "ckpt",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "ckpt", targets: ["ckpt"]),
        .library(name: "CheckpointKit", targets: ["CheckpointKit"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        // `swift package generate-documentation --target CheckpointKit` (DocC catalog in Sources/CheckpointKit).
        .package(url: "https://github.com/swiftlang/swift-docc-plugin", from: "1.5.0"),
    ],
    targets: [
        // zlib from the system (Debian: zlib1g-dev).
        .systemLibrary(
            name: "CZlib",
            pkgConfig: "zlib",
            providers: [.apt(["zlib1g-dev"])]
        ),
        // libhdf5 and libdeflate, loaded at run time with dlopen: the package builds and runs
        // without them; Keras HDF5 files need libhdf5 (Debian/Ubuntu: libhdf5-dev, HDF5Library.debianPackage).
        .target(
            name: "CRuntimeLibs",
            linkerSettings: [.linkedLibrary("dl")]
        ),
        // Every system call (files, mapping, temporary files and renames, threads, signals, the
        // terminal) goes through this module; nothing else imports Glibc.
        .target(
            name: "CheckpointSystem",
            dependencies: ["CRuntimeLibs"]
        ),
        .target(
            name: "CheckpointKit",
            dependencies: ["CZlib", "CRuntimeLibs", "CheckpointSystem"]
        ),
        .target(
            name: "CheckpointCommands",
            dependencies: [
                "CheckpointKit",
                "CheckpointSystem",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .executableTarget(
            name: "ckpt",
            dependencies: ["CheckpointCommands", "CheckpointSystem"]
        ),
        // The fuzz targets' steps and oracles (one entry per target in FuzzTargets.all), called by
        // the libFuzzer executable below and by the fuzz regression tests.
        .target(
            name: "CheckpointFuzz",
            dependencies: ["CheckpointKit", "CheckpointSystem"]
        ),
        // libFuzzer targets for the readers (Tests/Fuzz/run.sh); built normally, a corpus replayer.
        .executableTarget(
            name: "ckpt-fuzz",
            dependencies: ["CheckpointFuzz", "CheckpointKit", "CheckpointSystem"]
        ),
        // What both test targets share: paths and fixtures, one process runner, SHA-256, a seeded
        // RNG that reports its seed on failure, and `.requires(...)`: a test that needs a tool that
        // is missing is a reported skip naming the package to install (CKPT_REQUIRE_* fail instead).
        .target(
            name: "CheckpointTestSupport",
            dependencies: ["CheckpointKit"],
            path: "Tests/CheckpointTestSupport"
        ),
        .testTarget(
            name: "CheckpointKitTests",
            dependencies: ["CheckpointKit", "CheckpointFuzz", "CheckpointTestSupport"]
        ),
        .testTarget(
            name: "CheckpointCommandsTests",
            dependencies: ["CheckpointCommands", "CheckpointKit", "CheckpointTestSupport"]
        ),
    ],
    swiftLanguageModes: [.v6]
)
