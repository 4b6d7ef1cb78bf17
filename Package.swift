// swift-tools-version:5.9
import PackageDescription

// Release builds (-O, whole-module by default): exclusivity checks are dropped because
// the engine works on raw pointers only; overflow traps stay as a safety net.
let speed: [SwiftSetting] = [
    .unsafeFlags(["-enforce-exclusivity=unchecked"], .when(configuration: .release)),
]

let package = Package(
    name: "swiftnn",
    products: [
        // libswiftnn.so: the C ABI declared in include/swiftnn.h.
        .library(name: "swiftnn", type: .dynamic, targets: ["SwiftNNABI"]),
        // The engine as a Swift library, for Swift callers.
        .library(name: "SwiftNN", targets: ["SwiftNN"]),
    ],
    targets: [
        .systemLibrary(
            name: "CBLAS",
            pkgConfig: "openblas",
            providers: [.apt(["libopenblas-dev"])]
        ),
        .target(name: "SwiftNN", dependencies: ["CBLAS"], swiftSettings: speed),
        .target(name: "SwiftNNABI", dependencies: ["SwiftNN"], swiftSettings: speed),
        // The public header as a Clang module, so a test can call the exports as C does.
        .systemLibrary(name: "CSwiftNN", path: "include"),
        .testTarget(name: "SwiftNNTests", dependencies: ["SwiftNN"]),
        .testTarget(name: "SwiftNNABITests", dependencies: ["CSwiftNN", "SwiftNNABI"]),
    ]
)
