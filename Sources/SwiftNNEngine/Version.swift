/// The library version; also what `snn_version()` returns and the Python package reports.
public let swiftnnVersion: StaticString = "0.1.0"
