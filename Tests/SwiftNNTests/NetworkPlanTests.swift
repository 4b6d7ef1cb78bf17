// The whole-network plan's fused SGD against the plain path: gradients, then one SGD step.
import XCTest
@testable import SwiftNNEngine

final class NetworkPlanTests: XCTestCase {
    /// Runs one training call of a 6-5-4-3 batchnorm network on fixed data and returns the loss,
    /// the parameters after an SGD step (taken inside backward when `fused`), and the gradients.
    private func sgdStep(fused: Bool, reg: Double, lr: Double) throws -> (loss: Double, params: [[Double]]) {
        var rng = TestRNG(seed: 7)
        let spec = try NetworkSpec(dims: [6, 5, 4, 3], normalization: .batch)
        let plan = NetworkPlan<Double>(spec)
        let n = 8
        let x = rng.normal(n * 6)
        let y = rng.labels(n, classes: 3)
        let sizes = plan.parameterSizes
        let params = sizes.map { size -> UnsafeMutablePointer<Double> in
            let p = UnsafeMutablePointer<Double>.allocate(capacity: size)
            p.initialize(from: rng.normal(size, std: 0.5), count: size)
            return p
        }
        let grads = sizes.map { size -> UnsafeMutablePointer<Double> in
            let p = UnsafeMutablePointer<Double>.allocate(capacity: size)
            p.initialize(repeating: .nan, count: size)   // fused weight slots must stay untouched
            return p
        }
        let running = [5, 5, 4, 4].map { size -> UnsafeMutablePointer<Double> in
            let p = UnsafeMutablePointer<Double>.allocate(capacity: size)
            p.initialize(repeating: 1, count: size)
            return p
        }
        defer { (params + grads + running).forEach { $0.deallocate() } }
        let paramPointers: [UnsafeMutablePointer<Double>?] = params
        let gradPointers: [UnsafeMutablePointer<Double>?] = grads
        let runningPointers: [UnsafeMutablePointer<Double>?] = running
        let loss = try paramPointers.withUnsafeBufferPointer { p throws(EngineError) -> Double in
            try gradPointers.withUnsafeBufferPointer { g throws(EngineError) -> Double in
                try runningPointers.withUnsafeBufferPointer { r throws(EngineError) -> Double in
                    try x.withUnsafeBufferPointer { xb throws(EngineError) -> Double in
                        try y.withUnsafeBufferPointer { yb throws(EngineError) -> Double in
                            try plan.loss(x: xb.baseAddress!, y: yb.baseAddress!, n: n,
                                          params: PointerTable(p.baseAddress, count: sizes.count, name: "params"),
                                          grads: PointerTable(g.baseAddress, count: sizes.count, name: "grads"),
                                          running: PointerTable(r.baseAddress, count: 4, name: "running"),
                                          scoresOut: nil, reg: reg, norm: NormSettings(), seed: 1,
                                          fusedSGD: fused ? lr : nil)
                        }
                    }
                }
            }
        }
        _ = (paramPointers, gradPointers, runningPointers)
        for (i, size) in sizes.enumerated() {
            let isWeight = i < 2 * spec.layerCount && i % 2 == 0
            if fused && isWeight {
                XCTAssertTrue((0..<size).allSatisfy { grads[i][$0].isNaN }, "grads[\(i)] was written")
            } else {
                for j in 0..<size { params[i][j] -= lr * grads[i][j] }
            }
        }
        return (loss, zip(params, sizes).map { Array(UnsafeBufferPointer(start: $0, count: $1)) })
    }

    func testFusedSGDEqualsGradientsThenAnSGDStep() throws {
        for reg in [0.0, 0.3] {
            let plain = try sgdStep(fused: false, reg: reg, lr: 0.05)
            let fused = try sgdStep(fused: true, reg: reg, lr: 0.05)
            XCTAssertEqual(plain.loss, fused.loss, accuracy: 1e-14 * abs(plain.loss))
            for (a, b) in zip(plain.params, fused.params) {
                for (u, v) in zip(a, b) { XCTAssertEqual(u, v, accuracy: 1e-13 * max(1, abs(u))) }
            }
        }
    }

    func testLaneSquareRootMatchesTheScalarOne() {
        let v = Lanes<Float>(0, 1, 2, 0.25, 1e-30, 3.4e38, 7, 1e6)
        let r = Float.squareRoot(v)
        for i in 0..<8 { XCTAssertEqual(r[i], v[i].squareRoot()) }
        XCTAssertTrue(Float.squareRoot(Lanes<Float>(repeating: -1))[0].isNaN)
        let d = Lanes<Double>(0, 1, 2, 0.25, 1e-300, 1e300, 7, 1e6)
        for i in 0..<8 { XCTAssertEqual(Double.squareRoot(d)[i], d[i].squareRoot()) }
    }
}
