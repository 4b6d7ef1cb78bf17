// Inverted dropout: the mask, its generator, and the backward pass as a mask product.
import SwiftNNEngine
import XCTest

private func dropout(_ x: [Double], keep p: Double, seed: UInt64) -> (out: [Double], mask: [Double]) {
    var out = unwritten(x.count), mask = unwritten(x.count)
    dropoutForward(out: &out, mask: &mask, x: x, count: x.count, keep: p, seed: seed)
    return (out, mask)
}

private func masked(_ x: [Double], _ mask: [Double]) -> [Double] {
    var out = unwritten(x.count)
    applyMask(out: &out, x: x, mask: mask, count: x.count)
    return out
}

final class DropoutTests: XCTestCase {
    func testSplitMix64MatchesTheReferenceSequence() {
        // The first outputs of SplitMix64 started at state 0 (Vigna's splitmix64.c).
        XCTAssertEqual(splitMix64(seed: 0, index: 0), 0xE220_A839_7B1D_CDAF)
        XCTAssertEqual(splitMix64(seed: 0, index: 1), 0x6E78_9E6A_A1B9_65F4)
        XCTAssertEqual(splitMix64(seed: 0, index: 2), 0x06C4_5D18_8009_454F)
    }

    func testDropoutMaskValuesAreZeroOrInverseKeepProbability() {
        var rng = TestRNG(seed: 50)
        for p in [0.5, 0.3, 0.9, 1.0] {
            let (out, mask) = dropout(rng.normal(1000), keep: p, seed: 7)
            XCTAssertTrue(mask.allSatisfy { $0 == 0 || $0 == 1 / p }, "mask values for p = \(p)")
            XCTAssertTrue(out.allSatisfy { $0.isFinite })
        }
        XCTAssertEqual(dropout([1, 2, 3], keep: 1, seed: 99).mask, [1, 1, 1], "p = 1 keeps every unit")
    }

    func testDropoutKeepRateIsNearP() {
        let x = [Double](repeating: 1, count: 100_000)
        for p in [0.1, 0.5, 0.75] {
            let kept = dropout(x, keep: p, seed: 2024).mask.filter { $0 != 0 }.count
            // The standard deviation of the rate is ≤ 0.0016 here; 0.01 is over 6 of them.
            XCTAssertEqual(Double(kept) / Double(x.count), p, accuracy: 0.01, "keep rate for p = \(p)")
        }
    }

    func testDropoutPreservesTheMeanInExpectation() {
        var rng = TestRNG(seed: 51)
        let x = rng.uniform(100_000, in: 1...3)
        let out = dropout(x, keep: 0.4, seed: 3).out
        XCTAssertEqual(out.reduce(0, +) / Double(x.count), x.reduce(0, +) / Double(x.count), accuracy: 0.05)
    }

    func testDropoutWithTheSameSeedGivesTheSameMask() {
        var rng = TestRNG(seed: 52)
        let x = rng.normal(257)
        XCTAssertEqual(dropout(x, keep: 0.6, seed: 12345).mask, dropout(x, keep: 0.6, seed: 12345).mask)
        XCTAssertNotEqual(dropout(x, keep: 0.6, seed: 12345).mask, dropout(x, keep: 0.6, seed: 12346).mask)
    }

    func testDropoutMaskIsAPrefixOfALongerMask() {
        // Counter-based: element i does not depend on how many elements are drawn.
        var short = unwritten(10), long = unwritten(100)
        dropoutMask(mask: &short, count: 10, keep: 0.5, seed: 8)
        dropoutMask(mask: &long, count: 100, keep: 0.5, seed: 8)
        XCTAssertEqual(short, Array(long[0..<10]))
    }

    func testDropoutForwardOutputIsInputTimesMask() {
        var rng = TestRNG(seed: 53)
        let x = rng.normal(37)
        let (out, mask) = dropout(x, keep: 0.7, seed: 11)
        XCTAssertEqual(out, (0..<x.count).map { x[$0] * mask[$0] })
        XCTAssertEqual(masked(x, mask), out, "applyMask with the drawn mask reproduces the forward")
        var alone = unwritten(x.count)
        dropoutMask(mask: &alone, count: x.count, keep: 0.7, seed: 11)
        XCTAssertEqual(alone, mask, "dropoutMask draws the mask dropoutForward draws")
    }

    func testDropoutBackwardIsMaskProductAndMatchesNumericGradient() {
        var rng = TestRNG(seed: 54)
        for count in [1, 5, 23] {
            let x = rng.normal(count), dout = rng.normal(count)
            let mask = dropout(x, keep: 0.5, seed: UInt64(count)).mask
            let dx = masked(dout, mask)
            XCTAssertEqual(dx, (0..<count).map { dout[$0] * mask[$0] })
            assertGradient("dropout dx count=\(count)", analytic: dx, at: x, dout: dout) { dropout($0, keep: 0.5, seed: UInt64(count)).out }
        }
    }

    func testFloatDropoutMaskValuesAreZeroOrInverseKeepProbability() {
        let p: Float = 0.3
        var mask = [Float](repeating: .nan, count: 10_000)
        dropoutMask(mask: &mask, count: mask.count, keep: p, seed: 5)
        XCTAssertTrue(mask.allSatisfy { $0 == 0 || $0 == 1 / p })
        let rate = Double(mask.filter { $0 != 0 }.count) / Double(mask.count)
        XCTAssertEqual(rate, Double(p), accuracy: 0.03)
    }
}
