// The one shared helper of the gradient checks: seeded test data, centered-difference
// numeric gradients, and the CS231n relative error with an assertion built on it.
import Foundation
import XCTest

/// Deterministic test data, independent of the engine's own generator: SplitMix64 as a
/// stateful `RandomNumberGenerator`, so every run sees the same numbers.
struct TestRNG: RandomNumberGenerator {
    private var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// `count` samples, uniform in `range`.
    mutating func uniform(_ count: Int, in range: ClosedRange<Double> = -1...1) -> [Double] {
        (0..<count).map { _ in Double.random(in: range, using: &self) }
    }

    /// `count` samples of N(mean, std²) by Box–Muller.
    mutating func normal(_ count: Int, mean: Double = 0, std: Double = 1) -> [Double] {
        (0..<count).map { _ in
            let u1 = Double.random(in: Double.leastNormalMagnitude..<1, using: &self)
            let u2 = Double.random(in: 0..<1, using: &self)
            return mean + std * (-2 * Foundation.log(u1)).squareRoot() * Foundation.cos(2 * .pi * u2)
        }
    }

    /// `count` samples uniform in ±[margin, 1]: never within `margin` of zero (away from ReLU's kink).
    mutating func awayFromZero(_ count: Int, margin: Double = 0.05) -> [Double] {
        (0..<count).map { _ in
            let magnitude = Double.random(in: margin...1, using: &self)
            return Bool.random(using: &self) ? magnitude : -magnitude
        }
    }

    /// `count` class labels in [0, classes).
    mutating func labels(_ count: Int, classes: Int) -> [Int64] {
        (0..<count).map { _ in Int64.random(in: 0..<Int64(classes), using: &self) }
    }
}

/// The gradient of the scalar `f` at `x` by centered differences: (f(x + h e_i) − f(x − h e_i)) / 2h
/// (CS231n's eval_numerical_gradient).
func numericGradient(at x: [Double], h: Double = 1e-5, _ f: ([Double]) -> Double) -> [Double] {
    var probe = x
    var grad = [Double](repeating: 0, count: x.count)
    for i in x.indices {
        probe[i] = x[i] + h
        let plus = f(probe)
        probe[i] = x[i] - h
        let minus = f(probe)
        probe[i] = x[i]
        grad[i] = (plus - minus) / (2 * h)
    }
    return grad
}

/// The gradient of `sum(f(x) * dout)` at `x` by centered differences, with the two outputs
/// subtracted before the sum, Σ_k (f(x + h e_i) − f(x − h e_i))_k · dout_k / 2h, so that outputs
/// a probe leaves unchanged cancel exactly (CS231n's eval_numerical_gradient_array).
func numericGradient(at x: [Double], dout: [Double], h: Double = 1e-5, _ f: ([Double]) -> [Double]) -> [Double] {
    var probe = x
    var grad = [Double](repeating: 0, count: x.count)
    for i in x.indices {
        probe[i] = x[i] + h
        let plus = f(probe)
        probe[i] = x[i] - h
        let minus = f(probe)
        probe[i] = x[i]
        precondition(plus.count == dout.count, "f gives \(plus.count) outputs for \(dout.count) upstream gradients")
        var s = 0.0
        for k in dout.indices { s += (plus[k] - minus[k]) * dout[k] }
        grad[i] = s / (2 * h)
    }
    return grad
}

/// CS231n's rel_error: max_i |a_i − b_i| / max(1e-8, |a_i| + |b_i|).
/// With h = 1e-5 the numeric gradient carries an absolute rounding error of ~1e-11, so an element
/// that happens to be ~1e-4 alone can push this toward 1e-7; the test data are chosen (fixed seeds,
/// sign patterns in the affine check) so that every check passes with a margin of 20x or more.
func maxRelativeError(_ a: [Double], _ b: [Double]) -> Double {
    precondition(a.count == b.count, "comparing \(a.count) with \(b.count) elements")
    var worst = 0.0
    for i in a.indices {
        let e = abs(a[i] - b[i]) / max(1e-8, abs(a[i]) + abs(b[i]))
        if !(e <= worst) { worst = e }   // NaN counts as the worst
    }
    return worst
}

/// Asserts the analytic gradient agrees with the numeric gradient of the scalar `f` at `x`.
func assertGradient(_ name: String, analytic: [Double], at x: [Double], h: Double = 1e-5,
                    tolerance: Double = 1e-7, file: StaticString = #filePath, line: UInt = #line,
                    _ f: ([Double]) -> Double) {
    assertAgreement(name, analytic: analytic, numeric: numericGradient(at: x, h: h, f), tolerance: tolerance,
                    file: file, line: line)
}

/// Asserts the analytic gradient agrees with the numeric gradient of `sum(f(x) * dout)` at `x`.
func assertGradient(_ name: String, analytic: [Double], at x: [Double], dout: [Double], h: Double = 1e-5,
                    tolerance: Double = 1e-7, file: StaticString = #filePath, line: UInt = #line,
                    _ f: ([Double]) -> [Double]) {
    assertAgreement(name, analytic: analytic, numeric: numericGradient(at: x, dout: dout, h: h, f),
                    tolerance: tolerance, file: file, line: line)
}

private func assertAgreement(_ name: String, analytic: [Double], numeric: [Double], tolerance: Double,
                             file: StaticString, line: UInt) {
    XCTAssertEqual(analytic.count, numeric.count, "\(name): gradient has the wrong size", file: file, line: line)
    let error = maxRelativeError(analytic, numeric)
    XCTAssertLessThan(error, tolerance,
                      "\(name): max relative error \(error) between analytic \(analytic) and numeric \(numeric)",
                      file: file, line: line)
}

/// Asserts two arrays agree to `tolerance` in CS231n relative error.
func assertClose(_ actual: [Double], _ expected: [Double], tolerance: Double = 1e-12, _ name: String,
                 file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertEqual(actual.count, expected.count, "\(name): wrong size", file: file, line: line)
    guard actual.count == expected.count else { return }
    let error = maxRelativeError(actual, expected)
    XCTAssertLessThan(error, tolerance, "\(name): max relative error \(error): \(actual) vs \(expected)",
                      file: file, line: line)
}

/// The small odd shapes the checks run over, with degenerate 1-sized cases.
let affineShapes: [(n: Int, d: Int, m: Int)] = [(4, 5, 3), (1, 5, 3), (4, 1, 3), (3, 4, 1), (1, 1, 1)]

/// A fresh output buffer full of NaN, so that an element the engine forgets to write shows.
func unwritten(_ count: Int) -> [Double] { [Double](repeating: .nan, count: count) }
