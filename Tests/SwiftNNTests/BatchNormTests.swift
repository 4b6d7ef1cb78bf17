// Batch normalization: statistics, running averages, test mode, and both backward passes
// checked against numeric gradients in Double.
import Foundation
import SwiftNNEngine
import XCTest

private let eps = 1e-5

/// What the train-mode forward leaves behind.
private struct TrainForward {
    var out: [Double], mean: [Double], variance: [Double], invStd: [Double]
    var runningMean: [Double], runningVariance: [Double]
}

private func batchNormTrain(_ x: [Double], _ gamma: [Double], _ beta: [Double], _ n: Int, _ d: Int,
                            runningMean: [Double]? = nil, runningVariance: [Double]? = nil,
                            momentum: Double = 0.9) -> TrainForward {
    var out = unwritten(n * d), mean = unwritten(d), variance = unwritten(d), invStd = unwritten(d)
    var runningMean = runningMean ?? [Double](repeating: 0, count: d)
    var runningVariance = runningVariance ?? [Double](repeating: 1, count: d)
    do {
        try batchNormForwardTrain(out: &out, mean: &mean, variance: &variance, invStd: &invStd,
                                  runningMean: &runningMean, runningVariance: &runningVariance,
                                  x: x, gamma: gamma, beta: beta, n: n, d: d, eps: eps, momentum: momentum)
    } catch {
        XCTFail("unexpected \(error.status): \(error.message)")
    }
    return TrainForward(out: out, mean: mean, variance: variance, invStd: invStd,
                        runningMean: runningMean, runningVariance: runningVariance)
}

/// (dx, dgamma, dbeta) from the staged backward.
private func backwardStaged(_ dout: [Double], _ x: [Double], _ gamma: [Double], _ f: TrainForward,
                            _ n: Int, _ d: Int) -> (dx: [Double], dgamma: [Double], dbeta: [Double]) {
    var dx = unwritten(n * d), dgamma = unwritten(d), dbeta = unwritten(d), work = unwritten(2 * d)
    batchNormBackward(dx: &dx, dgamma: &dgamma, dbeta: &dbeta, work: &work, dout: dout, x: x, gamma: gamma,
                      mean: f.mean, invStd: f.invStd, n: n, d: d)
    return (dx, dgamma, dbeta)
}

/// (dx, dgamma, dbeta) from the closed-form backward.
private func backwardAlt(_ dout: [Double], _ x: [Double], _ gamma: [Double], _ f: TrainForward,
                         _ n: Int, _ d: Int) -> (dx: [Double], dgamma: [Double], dbeta: [Double]) {
    var dx = unwritten(n * d), dgamma = unwritten(d), dbeta = unwritten(d)
    batchNormBackwardAlt(dx: &dx, dgamma: &dgamma, dbeta: &dbeta, dout: dout, x: x, gamma: gamma,
                         mean: f.mean, invStd: f.invStd, n: n, d: d)
    return (dx, dgamma, dbeta)
}

/// Column means and biased variances, computed directly.
private func moments(_ x: [Double], _ n: Int, _ d: Int) -> (mean: [Double], variance: [Double]) {
    var mean = [Double](repeating: 0, count: d), variance = [Double](repeating: 0, count: d)
    for j in 0..<d {
        for i in 0..<n { mean[j] += x[i * d + j] }
        mean[j] /= Double(n)
        for i in 0..<n { variance[j] += (x[i * d + j] - mean[j]) * (x[i * d + j] - mean[j]) }
        variance[j] /= Double(n)
    }
    return (mean, variance)
}

private let batchNormShapes: [(n: Int, d: Int)] = [(4, 5), (5, 3), (7, 1), (3, 4)]

final class BatchNormTests: XCTestCase {
    func testBatchNormForwardTrainWritesBatchStatistics() {
        var rng = TestRNG(seed: 30)
        let (n, d) = (6, 5)
        let x = rng.normal(n * d, mean: 12, std: 5), gamma = rng.uniform(d, in: 0.5...2), beta = rng.normal(d)
        let f = batchNormTrain(x, gamma, beta, n, d)
        let (mean, variance) = moments(x, n, d)
        assertClose(f.mean, mean, "mean")
        assertClose(f.variance, variance, "biased variance")
        assertClose(f.invStd, variance.map { 1 / ($0 + eps).squareRoot() }, "inv_std")
        var expected = [Double](repeating: 0, count: n * d)
        for i in 0..<n {
            for j in 0..<d {
                expected[i * d + j] = gamma[j] * (x[i * d + j] - mean[j]) / (variance[j] + eps).squareRoot() + beta[j]
            }
        }
        assertClose(f.out, expected, tolerance: 1e-10, "out")
    }

    func testBatchNormForwardTrainGivesColumnsWithMeanBetaAndStdGamma() {
        // CS231n's check: after batchnorm each feature has mean beta and std gamma.
        var rng = TestRNG(seed: 31)
        let (n, d) = (200, 3)
        let x = rng.normal(n * d, mean: 12, std: 5)
        let gamma: [Double] = [1, 2, 3], beta: [Double] = [0, -1, 4]
        let (mean, variance) = moments(batchNormTrain(x, gamma, beta, n, d).out, n, d)
        for j in 0..<d {
            XCTAssertEqual(mean[j], beta[j], accuracy: 1e-9, "mean of feature \(j)")
            XCTAssertEqual(variance[j].squareRoot(), gamma[j], accuracy: 1e-5, "std of feature \(j)")
        }
    }

    func testBatchNormForwardTrainUpdatesRunningAverages() {
        var rng = TestRNG(seed: 32)
        let (n, d) = (4, 5)
        let x = rng.normal(n * d, mean: 3, std: 2), gamma = rng.normal(d), beta = rng.normal(d)
        let runningMean = rng.normal(d), runningVariance = rng.uniform(d, in: 0.5...3)
        let (mean, variance) = moments(x, n, d)
        for momentum in [0.9, 0.0, 1.0, 0.37] {
            let f = batchNormTrain(x, gamma, beta, n, d, runningMean: runningMean,
                                   runningVariance: runningVariance, momentum: momentum)
            let expectedMean = (0..<d).map { momentum * runningMean[$0] + (1 - momentum) * mean[$0] }
            let expectedVariance = (0..<d).map { momentum * runningVariance[$0] + (1 - momentum) * variance[$0] }
            assertClose(f.runningMean, expectedMean, "running mean, momentum \(momentum)")
            assertClose(f.runningVariance, expectedVariance, "running var (biased batch var), momentum \(momentum)")
        }
    }

    func testBatchNormForwardTrainRejectsNonFiniteInputAndKeepsRunningAverages() {
        let (n, d) = (3, 2)
        for bad in [Double.nan, .infinity, -.infinity] {
            var x: [Double] = [1, 2, 3, 4, 5, 6]
            x[3] = bad
            var out = unwritten(n * d), mean = unwritten(d), variance = unwritten(d), invStd = unwritten(d)
            var runningMean: [Double] = [0.5, -0.5], runningVariance: [Double] = [2, 3]
            do {
                try batchNormForwardTrain(out: &out, mean: &mean, variance: &variance, invStd: &invStd,
                                          runningMean: &runningMean, runningVariance: &runningVariance,
                                          x: x, gamma: [1, 1], beta: [0, 0], n: n, d: d, eps: eps, momentum: 0.9)
                XCTFail("\(bad) in x: expected a nonFinite error")
            } catch {
                XCTAssertEqual(error.status, .nonFinite, error.message)
                XCTAssertTrue(error.message.contains("feature 1"), error.message)
            }
            XCTAssertEqual(runningMean, [0.5, -0.5], "\(bad) in x leaves the running mean as it was")
            XCTAssertEqual(runningVariance, [2, 3], "\(bad) in x leaves the running variance as it was")
        }
    }

    func testBatchNormForwardTestUsesRunningStatistics() {
        var rng = TestRNG(seed: 33)
        let (n, d) = (3, 4)
        let x = rng.normal(n * d), gamma = rng.normal(d), beta = rng.normal(d)
        let runningMean = rng.normal(d), runningVariance = rng.uniform(d, in: 0.1...4)
        var out = unwritten(n * d), invStd = unwritten(d)
        batchNormForwardTest(out: &out, invStd: &invStd, x: x, gamma: gamma, beta: beta,
                             runningMean: runningMean, runningVariance: runningVariance, n: n, d: d, eps: eps)
        var expected = [Double](repeating: 0, count: n * d)
        for i in 0..<n {
            for j in 0..<d {
                expected[i * d + j] = gamma[j] * (x[i * d + j] - runningMean[j])
                    / (runningVariance[j] + eps).squareRoot() + beta[j]
            }
        }
        assertClose(out, expected, tolerance: 1e-10, "test-mode out")
        assertClose(invStd, runningVariance.map { 1 / ($0 + eps).squareRoot() }, "test-mode inv_std")
    }

    func testBatchNormTestModeAfterTrainingNormalizesLikeTheData() {
        // CS231n's check: after many training passes, test mode gives mean ≈ beta, std ≈ gamma.
        var rng = TestRNG(seed: 34)
        let (n, d) = (50, 3)
        let gamma: [Double] = [1, 2, 0.5], beta: [Double] = [0, 1, -2]
        var runningMean = [Double](repeating: 0, count: d), runningVariance = [Double](repeating: 1, count: d)
        for _ in 0..<100 {
            let f = batchNormTrain(rng.normal(n * d, mean: 12, std: 5), gamma, beta, n, d,
                                   runningMean: runningMean, runningVariance: runningVariance)
            runningMean = f.runningMean
            runningVariance = f.runningVariance
        }
        let big = 2000
        var out = unwritten(big * d), invStd = unwritten(d)
        batchNormForwardTest(out: &out, invStd: &invStd, x: rng.normal(big * d, mean: 12, std: 5), gamma: gamma,
                             beta: beta, runningMean: runningMean, runningVariance: runningVariance,
                             n: big, d: d, eps: eps)
        let (mean, variance) = moments(out, big, d)
        for j in 0..<d {
            XCTAssertEqual(mean[j], beta[j], accuracy: 0.15 * gamma[j], "test-mode mean of feature \(j)")
            XCTAssertEqual(variance[j].squareRoot(), gamma[j], accuracy: 0.1 * gamma[j], "test-mode std of feature \(j)")
        }
    }

    func testBatchNormBackwardMatchesNumericGradient() {
        var rng = TestRNG(seed: 35)
        for (n, d) in batchNormShapes {
            let x = rng.normal(n * d, mean: 2, std: 3), gamma = rng.uniform(d, in: 0.5...2), beta = rng.normal(d)
            let dout = rng.normal(n * d)
            let g = backwardStaged(dout, x, gamma, batchNormTrain(x, gamma, beta, n, d), n, d)
            let shape = "n=\(n) d=\(d)"
            assertGradient("batchnorm dx \(shape)", analytic: g.dx, at: x, dout: dout) { batchNormTrain($0, gamma, beta, n, d).out }
            assertGradient("batchnorm dgamma \(shape)", analytic: g.dgamma, at: gamma, dout: dout) { batchNormTrain(x, $0, beta, n, d).out }
            assertGradient("batchnorm dbeta \(shape)", analytic: g.dbeta, at: beta, dout: dout) { batchNormTrain(x, gamma, $0, n, d).out }
        }
    }

    func testBatchNormBackwardAltMatchesNumericGradient() {
        var rng = TestRNG(seed: 36)
        for (n, d) in batchNormShapes {
            let x = rng.normal(n * d, mean: -1, std: 2), gamma = rng.uniform(d, in: 0.5...2), beta = rng.normal(d)
            let dout = rng.normal(n * d)
            let g = backwardAlt(dout, x, gamma, batchNormTrain(x, gamma, beta, n, d), n, d)
            let shape = "n=\(n) d=\(d)"
            assertGradient("batchnorm_alt dx \(shape)", analytic: g.dx, at: x, dout: dout) { batchNormTrain($0, gamma, beta, n, d).out }
            assertGradient("batchnorm_alt dgamma \(shape)", analytic: g.dgamma, at: gamma, dout: dout) { batchNormTrain(x, $0, beta, n, d).out }
            assertGradient("batchnorm_alt dbeta \(shape)", analytic: g.dbeta, at: beta, dout: dout) { batchNormTrain(x, gamma, $0, n, d).out }
        }
    }

    func testBatchNormBackwardAndBackwardAltAgree() {
        var rng = TestRNG(seed: 37)
        for (n, d) in batchNormShapes + [(1, 3), (64, 10)] {
            let x = rng.normal(n * d, mean: 5, std: 4), gamma = rng.normal(d), beta = rng.normal(d)
            let dout = rng.normal(n * d)
            let f = batchNormTrain(x, gamma, beta, n, d)
            let a = backwardStaged(dout, x, gamma, f, n, d), b = backwardAlt(dout, x, gamma, f, n, d)
            assertClose(a.dx, b.dx, tolerance: 1e-12, "dx n=\(n) d=\(d)")
            assertClose(a.dgamma, b.dgamma, tolerance: 1e-12, "dgamma n=\(n) d=\(d)")
            assertClose(a.dbeta, b.dbeta, tolerance: 1e-12, "dbeta n=\(n) d=\(d)")
        }
    }

    func testBatchNormBackwardOfASingleRowIsZeroForX() {
        // With n = 1 the output is beta whatever x is, so dx must be exactly 0 in both forms.
        let x: [Double] = [3, -2, 7], gamma: [Double] = [1.5, 2, -1], beta: [Double] = [0, 1, 2]
        let dout: [Double] = [0.3, -0.7, 1.1]
        let f = batchNormTrain(x, gamma, beta, 1, 3)
        XCTAssertEqual(f.out, beta)
        XCTAssertEqual(backwardStaged(dout, x, gamma, f, 1, 3).dx, [0, 0, 0])
        XCTAssertEqual(backwardAlt(dout, x, gamma, f, 1, 3).dx, [0, 0, 0])
    }
}
