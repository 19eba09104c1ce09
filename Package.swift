// swift-tools-version:6.1
// lmprobe — why language models help downstream tasks, measured on a CPU.
//
// Targets read as the pipeline stages (see README.md):
//   Linalg → Text → Model → Features → Probes → Analysis → Experiments (orchestration), and the thin `lmprobe` CLI on top.
// Release-only flags (-target-cpu; -O keeps checks on) are set in one place: the Makefile.
// Package trait MPI (off by default): data-parallel pretraining over OpenMPI (`swift build --traits MPI`,
// `make build MPI=1`); without it the Cluster target is a single-process stand-in and nothing needs MPI.
import PackageDescription

let swift5: [SwiftSetting] = [.swiftLanguageMode(.v5)]
/// `#if MPI` in the targets that behave differently with the trait (Cluster, and the CLI tests that run mpirun).
let mpiDefine: [SwiftSetting] = [.define("MPI", .when(traits: ["MPI"]))]

let package = Package(
    name: "lmprobe",
    products: [
        .executable(name: "lmprobe", targets: ["lmprobe"]),
        .library(name: "LMProbe", targets: ["Linalg", "Text", "Model", "Features", "Probes", "Analysis", "Experiments",
                                            "Synthetic"]),
    ],
    traits: [
        .trait(name: "MPI", description: "Data-parallel pretraining over MPI (needs libopenmpi-dev: pkg-config ompi-c)."),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-collections", from: "1.1.0"),
    ],
    targets: [
        // System libraries: module maps + shim headers only.
        .systemLibrary(name: "CBLAS", path: "Modulemaps/CBLAS", pkgConfig: "openblas",
                       providers: [.apt(["libopenblas-dev"])]),
        .systemLibrary(name: "CLAPACKE", path: "Modulemaps/CLAPACKE", pkgConfig: "lapacke",
                       providers: [.apt(["liblapacke-dev"])]),
        .systemLibrary(name: "CMPI", path: "Modulemaps/CMPI", pkgConfig: "ompi-c",
                       providers: [.apt(["libopenmpi-dev"])]),

        // Pipeline stages.
        .target(name: "Linalg", dependencies: ["CBLAS", "CLAPACKE"], swiftSettings: swift5),
        .target(name: "Text", dependencies: [
            "Linalg",
            // Only the module used (BPETrainer's merge heap): the umbrella `Collections` product would compile every
            // swift-collections module in the release build.
            .product(name: "HeapModule", package: "swift-collections"),
        ], swiftSettings: swift5),
        .target(name: "Model", dependencies: ["Linalg", "Text"], swiftSettings: swift5),
        .target(name: "Features", dependencies: ["Linalg", "Text", "Model"], swiftSettings: swift5),
        .target(name: "Probes", dependencies: ["Linalg"], swiftSettings: swift5),
        // Ranks and collectives for `mpirun -np N lmprobe pretrain` (MPI with the trait, one process without).
        .target(name: "Cluster", dependencies: [
            "Model", .target(name: "CMPI", condition: .when(traits: ["MPI"])),
        ], swiftSettings: swift5 + mpiDefine),
        .target(name: "Analysis", dependencies: ["Linalg", "Text", "Model", "Features", "Probes"],
                swiftSettings: swift5),
        // Orchestration: loading a model with its tokenizer, dataset splits, the feature cache, compare, transfer.
        .target(name: "Experiments", dependencies: ["Linalg", "Text", "Model", "Features", "Probes", "Analysis"],
                swiftSettings: swift5),

        // A hidden Markov language with known p*: the paper's theorem as a measurement (`lmprobe synth`).
        .target(name: "Synthetic", dependencies: ["Linalg", "Text", "Model", "Features", "Probes", "Analysis", "Experiments"],
                swiftSettings: swift5),

        // The CLI: parsing and printing only.
        .executableTarget(name: "lmprobe", dependencies: [
            "Linalg", "Text", "Model", "Features", "Probes", "Analysis", "Experiments", "Cluster", "Synthetic",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ], swiftSettings: swift5),

        // Fuzz targets for every file reader, and the driver: libFuzzer with `make fuzz`, a replayer otherwise.
        .target(name: "FuzzTargets", dependencies: ["Linalg", "Text", "Model", "Features"], swiftSettings: swift5),
        .executableTarget(name: "lmprobe-fuzz", dependencies: ["FuzzTargets"], swiftSettings: swift5),

        // Tests: one target per module, plus whole-command CLI tests.
        .testTarget(name: "LinalgTests", dependencies: ["Linalg"], swiftSettings: swift5),
        .testTarget(name: "TextTests", dependencies: ["Text"], resources: [.copy("Fixtures")],
                    swiftSettings: swift5),
        .testTarget(name: "ModelTests", dependencies: ["Model", "Text", "Linalg"], exclude: ["Fixtures"],
                    swiftSettings: swift5),
        .testTarget(name: "FeaturesTests", dependencies: ["Features", "Model", "Text", "Linalg", "Probes"],
                    resources: [.copy("Fixtures")], swiftSettings: swift5),
        .testTarget(name: "ProbesTests", dependencies: ["Probes", "Linalg"], resources: [.copy("Fixtures")],
                    swiftSettings: swift5),
        .testTarget(name: "AnalysisTests", dependencies: ["Analysis", "Features", "Model", "Text", "Linalg"],
                    swiftSettings: swift5),
        .testTarget(name: "ExperimentsTests", dependencies: ["Experiments", "Analysis", "Features", "Model", "Probes", "Text", "Linalg"],
                    swiftSettings: swift5),
        .testTarget(name: "SyntheticTests", dependencies: ["Synthetic", "Features", "Model", "Probes", "Text", "Linalg"],
                    swiftSettings: swift5),
        .testTarget(name: "FuzzTargetsTests", dependencies: ["FuzzTargets"], resources: [.copy("Cases")],
                    swiftSettings: swift5),
        .testTarget(name: "CLITests", dependencies: ["Linalg", "Text", "Model", "Probes", "Analysis"], swiftSettings: swift5 + mpiDefine),
    ]
)
