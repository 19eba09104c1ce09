// swift-tools-version:6.1
// lmprobe — why language models help downstream tasks, measured on a CPU.
//
// Targets read as the pipeline stages (see README.md):
//   Support (what every stage borrows) → Linalg → Text → Model → Features → Probes → Analysis → Report → Experiments
//   (orchestration), and the thin `lmprobe` CLI on top. Each target lists only the modules its files import.
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
        .library(name: "LMProbe", targets: ["Support", "Linalg", "Text", "Model", "Features", "Probes", "Analysis", "Report", "Experiments",
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

        // What every stage borrows and none owns: IO errors, file reading, the atomic file/folder writer, JSON coding,
        // hashing, threads (CBLAS only for OpenBLAS's thread count), RNG, memory checks, timers, the folder lock.
        .target(name: "Support", dependencies: ["CBLAS"], swiftSettings: swift5),

        // Pipeline stages.
        .target(name: "Linalg", dependencies: ["CBLAS", "CLAPACKE", "Support"], swiftSettings: swift5),
        .target(name: "Text", dependencies: [
            "Support",
            // Only the module used (BPETrainer's merge heap): the umbrella `Collections` product would compile every
            // swift-collections module in the release build.
            .product(name: "HeapModule", package: "swift-collections"),
        ], swiftSettings: swift5),
        .target(name: "Model", dependencies: ["Support", "Linalg", "Text"], swiftSettings: swift5),
        .target(name: "Features", dependencies: ["Support", "Linalg", "Text", "Model"], swiftSettings: swift5),
        .target(name: "Probes", dependencies: ["Support", "Linalg"], swiftSettings: swift5),
        // Ranks and collectives for `mpirun -np N lmprobe pretrain` (MPI with the trait, one process without).
        .target(name: "Cluster", dependencies: [
            "Support", "Model", .target(name: "CMPI", condition: .when(traits: ["MPI"])),
        ], swiftSettings: swift5 + mpiDefine),
        .target(name: "Analysis", dependencies: ["Support", "Linalg", "Text", "Model", "Probes"],
                swiftSettings: swift5),
        // Report rendering: probe-result tables, paired-test tables, Markdown/JSON writers, SVG charts, and the
        // Markdown/SVG of the theory checks (Analysis computes them).
        .target(name: "Report", dependencies: ["Support", "Text", "Model", "Probes", "Analysis"], swiftSettings: swift5),
        // Orchestration: loading a model with its tokenizer, dataset splits, the feature cache, compare, transfer.
        .target(name: "Experiments", dependencies: ["Support", "Linalg", "Text", "Model", "Features", "Probes", "Analysis", "Report"],
                swiftSettings: swift5),

        // A hidden Markov language with known p*: the paper's theorem as a measurement (`lmprobe synth`).
        .target(name: "Synthetic", dependencies: ["Support", "Linalg", "Text", "Model", "Features", "Probes", "Analysis", "Report"],
                swiftSettings: swift5),

        // The CLI: parsing and printing only.
        .executableTarget(name: "lmprobe", dependencies: [
            "Support", "Linalg", "Text", "Model", "Features", "Probes", "Analysis", "Report", "Experiments", "Cluster", "Synthetic",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ], swiftSettings: swift5),

        // Fuzz targets for every file reader, and the driver: libFuzzer with `make fuzz`, a replayer otherwise.
        .target(name: "FuzzTargets", dependencies: ["Support", "Linalg", "Text", "Model", "Features", "Probes", "Synthetic"], swiftSettings: swift5),
        .executableTarget(name: "lmprobe-fuzz", dependencies: ["FuzzTargets"], swiftSettings: swift5),

        // Tests: one target per module, plus whole-command CLI tests.
        .testTarget(name: "SupportTests", dependencies: ["Support"], swiftSettings: swift5),
        .testTarget(name: "LinalgTests", dependencies: ["Support", "Linalg"], swiftSettings: swift5),
        .testTarget(name: "TextTests", dependencies: ["Support", "Text", "Report"], resources: [.copy("Fixtures")],
                    swiftSettings: swift5),
        .testTarget(name: "ModelTests", dependencies: ["Support", "Linalg", "Text", "Model"], exclude: ["Fixtures"],
                    swiftSettings: swift5),
        .testTarget(name: "FeaturesTests", dependencies: ["Support", "Linalg", "Model", "Features", "Probes"],
                    resources: [.copy("Fixtures")], swiftSettings: swift5),
        .testTarget(name: "ProbesTests", dependencies: ["Support", "Linalg", "Probes"], resources: [.copy("Fixtures")],
                    swiftSettings: swift5),
        .testTarget(name: "AnalysisTests", dependencies: ["Support", "Linalg", "Text", "Model", "Probes", "Analysis", "Report"],
                    swiftSettings: swift5),
        .testTarget(name: "ExperimentsTests", dependencies: ["Support", "Linalg", "Text", "Model", "Features", "Probes", "Experiments"],
                    swiftSettings: swift5),
        .testTarget(name: "SyntheticTests", dependencies: ["Support", "Linalg", "Text", "Model", "Features", "Probes", "Report", "Analysis", "Synthetic"],
                    swiftSettings: swift5),
        .testTarget(name: "FuzzTargetsTests", dependencies: ["Support", "FuzzTargets"], resources: [.copy("Cases")],
                    swiftSettings: swift5),
        .testTarget(name: "CLITests", dependencies: ["Support", "Linalg", "Text", "Model", "Probes", "Analysis"], swiftSettings: swift5 + mpiDefine),
    ]
)
