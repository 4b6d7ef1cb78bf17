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
        // The engine and its Swift API (Network, optimizers, Training, FashionMNIST).
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
        .target(name: "SwiftNN", dependencies: ["CBLAS", "CZlib"]),
        .target(name: "SwiftNNABI", dependencies: ["SwiftNN"]),
        // The public header as a Clang module, so a test can call the exports as C does.
        .systemLibrary(name: "CSwiftNN", path: "include"),
        .testTarget(name: "SwiftNNTests", dependencies: ["SwiftNN"]),
        // The Swift API as a dependent package sees it: swift-testing, no @testable.
        .testTarget(name: "SwiftNNAPITests", dependencies: ["SwiftNN"]),
        .testTarget(name: "SwiftNNABITests", dependencies: ["CSwiftNN", "SwiftNNABI"]),
    ],
    swiftLanguageModes: [.v6]
)
