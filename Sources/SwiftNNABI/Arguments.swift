// Checks on what a C caller passes, each throwing a message that names the argument.
import Glibc
import SwiftNNEngine

/// A pointer the header does not allow to be NULL.
@inline(__always)
func required<P>(_ pointer: P?, _ name: StaticString) throws(EngineError) -> P {
    guard let pointer else { throw EngineError(.nullPointer, "\(name) is NULL") }
    return pointer
}

/// A size that must be at least 1. Sizes that reach a BLAS call must also fit its 32-bit ints.
@inline(__always)
func size(_ value: Int64, _ name: StaticString, blas: Bool = false) throws(EngineError) -> Int {
    guard value >= 1 else { throw EngineError(.badSize, "\(name) = \(value), expected a size >= 1") }
    if blas && value > Int64(Int32.max) {
        throw EngineError(.badSize, "\(name) = \(value) exceeds the BLAS limit \(Int32.max)")
    }
    return Int(value)
}

/// The element count of a buffer of `a × b` elements, refused when it cannot be addressed.
@inline(__always)
func elements(_ a: Int, _ b: Int, _ name: StaticString) throws(EngineError) -> Int {
    let (count, overflow) = a.multipliedReportingOverflow(by: b)
    guard !overflow, count <= Int.max / 8 else {
        throw EngineError(.badSize, "\(name) has \(a) x \(b) elements, more than can be addressed")
    }
    return count
}

/// A hyperparameter that must be finite and inside [low, high] (open at low when `openLow`).
@inline(__always)
func hyperparameter(_ value: Double, _ name: String, low: Double, high: Double,
                    openLow: Bool = false) throws(EngineError) -> Double {
    let inside = value.isFinite && (openLow ? value > low : value >= low) && value <= high
    guard inside else {
        let range = high == .greatestFiniteMagnitude
            ? "\(openLow ? ">" : ">=") \(low)" : "in \(openLow ? "(" : "[")\(low), \(high)]"
        throw EngineError(.badValue, "\(name) = \(value), expected a finite value \(range)")
    }
    return value
}

/// Runs `body` on `given` when the caller passed a buffer, else on `count` elements of
/// scratch memory that live for the call only.
@inline(__always)
func withScratch<T>(_ given: UnsafeMutablePointer<T>?, count: Int,
                    _ body: (UnsafeMutablePointer<T>) throws(EngineError) -> Void) throws(EngineError) {
    if let given { return try body(given) }
    let (bytes, overflow) = count.multipliedReportingOverflow(by: MemoryLayout<T>.stride)
    guard !overflow, let raw = malloc(bytes) else {
        throw EngineError(.outOfMemory, "could not allocate \(count) elements of scratch memory")
    }
    defer { free(raw) }
    try body(raw.bindMemory(to: T.self, capacity: count))
}
