// swift-tools-version:5.9
import PackageDescription
import Foundation

// The library is built on the machine that runs it (`pip install` builds it), so release builds
// target that machine's vector unit when it has AVX2 and FMA (Intel Haswell and later, every
// AMD Zen): eight float lanes per instruction instead of SSE2's four, which the elementwise
// loops and the update rules measure at 1.6x. SWIFTNN_PORTABLE=1 builds for any x86-64.
let hostHasAVX2FMA: Bool = {
    guard ProcessInfo.processInfo.environment["SWIFTNN_PORTABLE"] == nil,
          let cpuinfo = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8),
          let flags = cpuinfo.split(separator: "\n").first(where: { $0.hasPrefix("flags") })
    else { return false }
    let set = Set(flags.split(separator: " ").map(String.init))
    return set.contains("avx2") && set.contains("fma")
}()

// Release builds (-O, whole-module by default): exclusivity checks are dropped because
// the engine works on raw pointers only; overflow traps stay as a safety net.
let speed: [SwiftSetting] = [
    .unsafeFlags(["-enforce-exclusivity=unchecked"] + (hostHasAVX2FMA ? ["-target-cpu", "haswell"] : []),
                 .when(configuration: .release)),
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
