// Layer normalization: per-row statistics and gradient checks in Double.
import Foundation
import SwiftNNEngine
import XCTest

private let eps = 1e-5

private func layerNorm(_ x: [Double], _ gamma: [Double], _ beta: [Double], _ n: Int, _ d: Int)
    -> (out: [Double], mean: [Double], invStd: [Double]) {
    var out = unwritten(n * d), mean = unwritten(n), invStd = unwritten(n)
    layerNormForward(out: &out, mean: &mean, invStd: &invStd, x: x, gamma: gamma, beta: beta, n: n, d: d, eps: eps)
    return (out, mean, invStd)
}

final class LayerNormTests: XCTestCase {
    func testLayerNormForwardNormalizesEachRow() {
        var rng = TestRNG(seed: 40)
        let (n, d) = (4, 5)
        let x = rng.normal(n * d, mean: 3, std: 4), gamma = rng.uniform(d, in: 0.5...2), beta = rng.normal(d)
        let f = layerNorm(x, gamma, beta, n, d)
        var expected = [Double](repeating: 0, count: n * d)
        for i in 0..<n {
            let row = Array(x[(i * d)..<((i + 1) * d)])
            let mu = row.reduce(0, +) / Double(d)
            let variance = row.reduce(0) { $0 + ($1 - mu) * ($1 - mu) } / Double(d)
            XCTAssertEqual(f.mean[i], mu, accuracy: 1e-12, "mean of row \(i)")
            XCTAssertEqual(f.invStd[i], 1 / (variance + eps).squareRoot(), accuracy: 1e-12 * f.invStd[i],
                           "inv_std of row \(i)")
            for j in 0..<d { expected[i * d + j] = gamma[j] * (row[j] - mu) / (variance + eps).squareRoot() + beta[j] }
        }
        assertClose(f.out, expected, tolerance: 1e-10, "out")
    }

    func testLayerNormForwardWithUnitGammaGivesRowsOfMeanZeroStdOne() {
        var rng = TestRNG(seed: 41)
        let (n, d) = (3, 50)
        let out = layerNorm(rng.normal(n * d, mean: -7, std: 9), [Double](repeating: 1, count: d),
                            [Double](repeating: 0, count: d), n, d).out
        for i in 0..<n {
            let row = out[(i * d)..<((i + 1) * d)]
            let mu = row.reduce(0, +) / Double(d)
            XCTAssertEqual(mu, 0, accuracy: 1e-12, "mean of row \(i)")
            XCTAssertEqual(row.reduce(0) { $0 + ($1 - mu) * ($1 - mu) } / Double(d), 1, accuracy: 1e-5, "var of row \(i)")
        }
    }

    func testLayerNormBackwardMatchesNumericGradient() {
        var rng = TestRNG(seed: 42)
        for (n, d) in [(4, 5), (1, 5), (2, 8), (5, 3), (3, 1)] {
            let x = rng.normal(n * d, mean: 1, std: 3), gamma = rng.uniform(d, in: 0.5...2), beta = rng.normal(d)
            let dout = rng.normal(n * d)
            let f = layerNorm(x, gamma, beta, n, d)
            var dx = unwritten(n * d), dgamma = unwritten(d), dbeta = unwritten(d)
            layerNormBackward(dx: &dx, dgamma: &dgamma, dbeta: &dbeta, dout: dout, x: x, gamma: gamma,
                              mean: f.mean, invStd: f.invStd, n: n, d: d)
            let shape = "n=\(n) d=\(d)"
            assertGradient("layernorm dx \(shape)", analytic: dx, at: x, dout: dout) { layerNorm($0, gamma, beta, n, d).out }
            assertGradient("layernorm dgamma \(shape)", analytic: dgamma, at: gamma, dout: dout) { layerNorm(x, $0, beta, n, d).out }
            assertGradient("layernorm dbeta \(shape)", analytic: dbeta, at: beta, dout: dout) { layerNorm(x, gamma, $0, n, d).out }
        }
    }
}
