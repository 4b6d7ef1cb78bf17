// Softmax and multiclass SVM losses: values, gradient checks in Double, and bad input.
import Foundation
import SwiftNNEngine
import XCTest

private func softmax(_ x: [Double], _ y: [Int64], _ n: Int, _ c: Int) throws(EngineError) -> Double {
    try softmaxLoss(dx: nil, x: x, y: y, n: n, c: c)
}

private func svm(_ x: [Double], _ y: [Int64], _ n: Int, _ c: Int) throws(EngineError) -> Double {
    try svmLoss(dx: nil, x: x, y: y, n: n, c: c)
}

/// The loss as a plain function for the numeric gradient; a throw fails the test.
private func lossOrNaN(_ body: () throws(EngineError) -> Double) -> Double {
    do { return try body() } catch {
        XCTFail("unexpected \(error.status): \(error.message)")
        return .nan
    }
}

/// Asserts that `body` throws an EngineError with `status` and a message containing `fragment`.
private func assertThrows(_ status: EngineError.Status, containing fragment: String, _ what: String,
                          file: StaticString = #filePath, line: UInt = #line,
                          _ body: () throws(EngineError) -> Double) {
    do {
        let value = try body()
        XCTFail("\(what): expected \(status), got the value \(value)", file: file, line: line)
    } catch {
        XCTAssertEqual(error.status, status, "\(what): \(error.message)", file: file, line: line)
        XCTAssertTrue(error.message.contains(fragment),
                      "\(what): message \"\(error.message)\" does not mention \"\(fragment)\"", file: file, line: line)
    }
}

/// Scores for which every SVM margin x_j − x_y + 1 is at least `margin` away from the hinge.
private func svmScoresAwayFromHinge(_ rng: inout TestRNG, _ y: [Int64], _ n: Int, _ c: Int,
                                    margin: Double = 1e-3) -> [Double] {
    while true {
        let x = rng.normal(n * c)
        let clear = (0..<n).allSatisfy { i in
            (0..<c).allSatisfy { j in
                j == Int(y[i]) || abs(x[i * c + j] - x[i * c + Int(y[i])] + 1) > margin
            }
        }
        if clear { return x }
    }
}

final class SoftmaxLossTests: XCTestCase {
    func testSoftmaxLossMatchesDirectFormula() throws {
        var rng = TestRNG(seed: 10)
        let (n, c) = (4, 5)
        let x = rng.normal(n * c, std: 3), y = rng.labels(n, classes: c)
        var expected = 0.0
        for i in 0..<n {
            let row = x[(i * c)..<((i + 1) * c)]
            let z = row.reduce(0) { $0 + exp($1) }
            expected += log(z) - x[i * c + Int(y[i])]
        }
        expected /= Double(n)
        XCTAssertEqual(try softmax(x, y, n, c), expected, accuracy: 1e-12)
    }

    func testSoftmaxLossBackwardMatchesNumericGradient() throws {
        var rng = TestRNG(seed: 11)
        for (n, c) in [(4, 5), (1, 3), (7, 2), (3, 1)] {
            let x = rng.normal(n * c), y = rng.labels(n, classes: c)
            var dx = unwritten(n * c)
            let loss = try softmaxLoss(dx: &dx, x: x, y: y, n: n, c: c)
            XCTAssertEqual(loss, try softmax(x, y, n, c), "the loss does not depend on whether dx is asked for")
            assertGradient("softmax dx n=\(n) c=\(c)", analytic: dx, at: x) { x in lossOrNaN { () throws(EngineError) in try softmax(x, y, n, c) } }
        }
    }

    func testSoftmaxLossOfNearZeroWeightsIsNearLogC() throws {
        // CS231n's sanity check: with tiny weights every class is equally likely, loss ≈ ln C.
        var rng = TestRNG(seed: 12)
        let (n, d, c) = (50, 7, 10)
        let x = rng.normal(n * d), w = rng.normal(d * c, std: 1e-4), b = [Double](repeating: 0, count: c)
        var scores = unwritten(n * c)
        affineForward(out: &scores, x: x, w: w, b: b, n: n, d: d, m: c)
        XCTAssertEqual(try softmax(scores, rng.labels(n, classes: c), n, c), log(Double(c)), accuracy: 1e-2)
    }

    func testSoftmaxLossIsFiniteForLargeScores() throws {
        // Shifting each row by its maximum keeps exp from overflowing.
        let x: [Double] = [1000, 999, 998, -1000, 0, 1000]
        let loss = try softmax(x, [0, 1], 2, 3)
        XCTAssertTrue(loss.isFinite)
        let first = log(1 + exp(-1.0) + exp(-2.0)), second = log(exp(-2000.0) + exp(-1000.0) + 1) + 1000
        XCTAssertEqual(loss, (first + second) / 2, accuracy: 1e-9)
    }

    func testSoftmaxLossRejectsLabelsOutOfRange() {
        let x = [Double](repeating: 0, count: 6)
        assertThrows(.badValue, containing: "y[1] = 3", "label c") { () throws(EngineError) in try softmax(x, [0, 3], 2, 3) }
        assertThrows(.badValue, containing: "y[0] = -1", "label -1") { () throws(EngineError) in try softmax(x, [-1, 0], 2, 3) }
        var dx = unwritten(6)
        assertThrows(.badValue, containing: "y[1]", "label with dx") { () throws(EngineError) in
            try softmaxLoss(dx: &dx, x: x, y: [2, 17], n: 2, c: 3)
        }
    }

    func testSoftmaxLossRejectsNaNScores() {
        for position in 0..<6 {
            var x: [Double] = [0.5, -1, 2, 0, 0.25, 3]
            x[position] = .nan
            assertThrows(.nonFinite, containing: "NaN or Inf", "softmax with NaN at x[\(position)]") {
                () throws(EngineError) in try softmax(x, [1, 0], 2, 3)
            }
        }
    }

    func testSoftmaxLossRejectsInfiniteScoresThatMakeTheLossInfinite() {
        // +Inf in any score of a row, or -Inf in the correct class's score: loss = +Inf or NaN.
        // (-Inf in a wrong class's score gives a finite, correct loss and is not tested here.)
        let y: [Int64] = [1, 0]
        let cases: [(position: Int, value: Double)] = [(0, .infinity), (1, .infinity), (2, .infinity),
                                                        (1, -.infinity), (3, -.infinity)]
        for (position, value) in cases {
            var x: [Double] = [0.5, -1, 2, 0, 0.25, 3]
            x[position] = value
            assertThrows(.nonFinite, containing: "NaN or Inf", "softmax with \(value) at x[\(position)]") {
                () throws(EngineError) in try softmax(x, y, 2, 3)
            }
        }
    }
}

final class SVMLossTests: XCTestCase {
    func testSVMLossMatchesDirectFormula() throws {
        var rng = TestRNG(seed: 20)
        let (n, c) = (4, 5)
        let y = rng.labels(n, classes: c)
        let x = svmScoresAwayFromHinge(&rng, y, n, c)
        var expected = 0.0
        for i in 0..<n {
            for j in 0..<c where j != Int(y[i]) { expected += max(0, x[i * c + j] - x[i * c + Int(y[i])] + 1) }
        }
        expected /= Double(n)
        XCTAssertGreaterThan(expected, 0)
        XCTAssertEqual(try svm(x, y, n, c), expected, accuracy: 1e-12)
    }

    func testSVMLossBackwardMatchesNumericGradient() throws {
        var rng = TestRNG(seed: 21)
        for (n, c) in [(4, 5), (1, 3), (7, 2), (5, 4)] {
            let y = rng.labels(n, classes: c)
            let x = svmScoresAwayFromHinge(&rng, y, n, c)
            var dx = unwritten(n * c)
            let loss = try svmLoss(dx: &dx, x: x, y: y, n: n, c: c)
            XCTAssertEqual(loss, try svm(x, y, n, c), "the loss does not depend on whether dx is asked for")
            assertGradient("svm dx n=\(n) c=\(c)", analytic: dx, at: x) { x in lossOrNaN { () throws(EngineError) in try svm(x, y, n, c) } }
        }
    }

    func testSVMLossIsZeroWhenEveryMarginIsMet() throws {
        var dx = unwritten(6)
        XCTAssertEqual(try svmLoss(dx: &dx, x: [5, 0, 1, -3, 2, 0.5], y: [0, 1], n: 2, c: 3), 0)
        XCTAssertEqual(dx, [0, 0, 0, 0, 0, 0])
    }

    func testSVMLossRejectsLabelsOutOfRange() {
        let x = [Double](repeating: 0, count: 6)
        assertThrows(.badValue, containing: "y[1] = 3", "label c") { () throws(EngineError) in try svm(x, [0, 3], 2, 3) }
        assertThrows(.badValue, containing: "y[0] = -1", "label -1") { () throws(EngineError) in try svm(x, [-1, 0], 2, 3) }
    }

    func testSVMLossRejectsNaNScores() {
        // A NaN in any score, the correct class's or another's, must not give a finite loss.
        for position in 0..<6 {
            var x: [Double] = [0.5, -1, 2, 0, 0.25, 3]
            x[position] = .nan
            assertThrows(.nonFinite, containing: "NaN or Inf", "svm with NaN at x[\(position)], y = [1, 0]") {
                () throws(EngineError) in try svm(x, [1, 0], 2, 3)
            }
        }
    }

    func testSVMLossRejectsInfiniteScoresThatMakeTheLossInfinite() {
        // +Inf in a wrong class's score or -Inf in the correct class's: an infinite margin.
        let cases: [(position: Int, value: Double)] = [(0, .infinity), (2, .infinity), (1, -.infinity),
                                                        (4, .infinity), (3, -.infinity)]
        for (position, value) in cases {
            var x: [Double] = [0.5, -1, 2, 0, 0.25, 3]
            x[position] = value
            assertThrows(.nonFinite, containing: "NaN or Inf", "svm with \(value) at x[\(position)], y = [1, 0]") {
                () throws(EngineError) in try svm(x, [1, 0], 2, 3)
            }
        }
    }
}
