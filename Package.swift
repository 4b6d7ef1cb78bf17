// swift-tools-version:6.0
import PackageDescription

// No unsafe flags: SwiftPM refuses a package that has them when another package depends on it by
// version. The speed flags of the library that `make build` and `pip install` build for the
// machine that runs it (-enforce-exclusivity=unchecked, and -target-cpu when the host has AVX2
// and FMA) are passed on that command line by scripts/swift-build-flags.sh. The engine is
// @inlinable, so a Swift package that depends on SwiftNN compiles its loops with its own flags:
// build it with `-c release` (and `-Xswiftc -target-cpu -Xswiftc native` for the host's vector unit).
let package = Package(
    name: "swiftnn",
    products: [
        // libswiftnn.so: the C ABI declared in include/swiftnn.h.
        .library(name: "swiftnn", type: .dynamic, targets: ["SwiftNNABI"]),
        // The Swift API (Network, Optimizer, NetworkTrainer, FashionMNIST), which re-exports the
        // engine (NetworkSpec, EngineError, the raw-pointer layers).
        .library(name: "SwiftNN", targets: ["SwiftNN"]),
    ],
    targets: [
        .systemLibrary(
            name: "CBLAS",
            pkgConfig: "openblas",
            providers: [.apt(["libopenblas-dev"])]
        ),
        // zlib reads the gzipped idx files of the Fashion-MNIST reader.
        .systemLibrary(
            name: "CZlib",
            pkgConfig: "zlib",
            providers: [.apt(["zlib1g-dev"])]
        ),
        // The engine: generic loops over raw pointers, the whole-network plan, the native trainer.
        .target(name: "SwiftNNEngine", dependencies: ["CBLAS"]),
        // The Swift API over Swift arrays, a module of its own: its Float and Double
        // specializations call the engine's exported ones across the module boundary, as the C
        // ABI does (inside the engine's module such calls leave those symbols undefined).
        .target(name: "SwiftNN", dependencies: ["SwiftNNEngine", "CZlib"]),
        .target(name: "SwiftNNABI", dependencies: ["SwiftNNEngine"]),
        // The public header as a Clang module, so a test can call the exports as C does.
        .systemLibrary(name: "CSwiftNN", path: "include"),
        .testTarget(name: "SwiftNNTests", dependencies: ["SwiftNNEngine"]),
        // The Swift API as a dependent package sees it: swift-testing, no @testable.
        .testTarget(name: "SwiftNNAPITests", dependencies: ["SwiftNN"]),
        .testTarget(name: "SwiftNNABITests", dependencies: ["CSwiftNN", "SwiftNNABI"]),
    ],
    swiftLanguageModes: [.v6]
)
