// swift-tools-version:6.0
// Example programs that use swiftnn as a dependency. They depend on this checkout by path; your
// own package names the repository by URL and version instead:
//     .package(url: "<the swiftnn repository's URL>", from: "0.1.0")
// Run from this folder: swift run -c release TrainFashionMNIST [--epochs N]
import PackageDescription

let package = Package(
    name: "SwiftNNExamples",
    dependencies: [
        .package(name: "swiftnn", path: ".."),
    ],
    targets: [
        .executableTarget(name: "TrainFashionMNIST", dependencies: [.product(name: "SwiftNN", package: "swiftnn")]),
    ],
    swiftLanguageModes: [.v6]
)
