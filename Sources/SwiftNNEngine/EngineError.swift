/// What went wrong, as a status code (the `SNN_E_*` values of include/swiftnn.h) and a
/// message that names the argument and the expected vs. actual value.
public struct EngineError: Error, Equatable, CustomStringConvertible {
    public enum Status: Int32, Sendable {
        case nullPointer = -1      // SNN_E_NULL
        case badSize = -2          // SNN_E_SIZE: zero, negative or overflowing size
        case shapeMismatch = -3    // SNN_E_SHAPE
        case badValue = -4         // SNN_E_VALUE: label, probability, mode, eps, ...
        case nonFinite = -5        // SNN_E_NONFINITE: NaN or Inf where a finite value is needed
        case outOfMemory = -6      // SNN_E_ALLOC
        case badHandle = -7        // SNN_E_HANDLE
    }

    public var status: Status
    public var message: String

    public init(_ status: Status, _ message: String) {
        self.status = status
        self.message = message
    }

    public var description: String { message }
}
