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
        // without them; Keras HDF5 files need libhdf5 (Debian: libhdf5-103-1 or newer).
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
        // libFuzzer targets for the readers (Tests/Fuzz/run.sh); built normally, a corpus replayer.
        .executableTarget(
            name: "ckpt-fuzz",
            dependencies: ["CheckpointKit", "CheckpointSystem"]
        ),
        .testTarget(
            name: "CheckpointKitTests",
            dependencies: ["CheckpointKit"]
        ),
        .testTarget(
            name: "CheckpointCommandsTests",
            dependencies: ["CheckpointCommands", "CheckpointKit"]
        ),
    ],
    swiftLanguageModes: [.v6]
)
