// Per-row weights and the squared-error loss: gradient checks in Double through the whole
// plan, integer weights against repeated rows, the trainer's epoch orders, the thread count.
import XCTest
@testable import SwiftNNEngine

final class WeightedLossTests: XCTestCase {
    /// A plan with its parameters in one flat array (canonical order), so that a numeric
    /// gradient can probe every parameter.
    struct Net {
        let plan: NetworkPlan<Double>
        let sizes: [Int]
        var flat: [Double]

        init(_ spec: NetworkSpec, loss: LossKind, rng: inout TestRNG) {
            plan = NetworkPlan<Double>(spec)
            plan.setLoss(loss)
            sizes = plan.parameterSizes
            flat = rng.normal(sizes.reduce(0, +), std: 0.5)
            // gamma near 1 keeps layer norm well conditioned
            if spec.normalization != .none {
                var at = sizes[0..<(2 * spec.layerCount)].reduce(0, +)
                for l in 0..<spec.hiddenCount {
                    for j in 0..<sizes[2 * spec.layerCount + 2 * l] { flat[at + j] += 1 }
                    at += 2 * sizes[2 * spec.layerCount + 2 * l]
                }
            }
        }

        /// (loss, flat gradient) of the plan at parameters p.
        func loss(_ p: [Double], x: [Double], y: [Int64]?, targets: [Double]?, weights: [Double]?,
                  n: Int, reg: Double) throws -> (Double, [Double]) {
            var params = p
            var grads = [Double](repeating: .nan, count: p.count)
            return try params.withUnsafeMutableBufferPointer { pb in
                try grads.withUnsafeMutableBufferPointer { gb in
                    var offsets: [Int] = []
                    var at = 0
                    for s in sizes { offsets.append(at); at += s }
                    var pp: [UnsafeMutablePointer<Double>?] = offsets.map { pb.baseAddress! + $0 }
                    var gp: [UnsafeMutablePointer<Double>?] = offsets.map { gb.baseAddress! + $0 }
                    let value = try pp.withUnsafeMutableBufferPointer { ppb in
                        try gp.withUnsafeMutableBufferPointer { gpb in
                            try plan.loss(x: x, y: y, n: n,
                                          params: PointerTable(UnsafePointer(ppb.baseAddress), count: sizes.count, name: "params"),
                                          grads: PointerTable(UnsafePointer(gpb.baseAddress), count: sizes.count, name: "grads"),
                                          running: nil, scoresOut: nil, reg: reg, norm: NormSettings(), seed: 3,
                                          targets: targets, weights: weights)
                        }
                    }
                    return (value, Array(gb))
                }
            }
        }
    }

    func testWeightedSoftmaxAndSquaredErrorGradientsThroughTheWholePlan() throws {
        for loss in [LossKind.softmax, .squared] {
            for norm in [Normalization.none, .layer] {
                var rng = TestRNG(seed: 11)
                let spec = try NetworkSpec(dims: [5, 6, 4, 3], normalization: norm, activation: .leakyRelu, leak: 0.1)
                let net = Net(spec, loss: loss, rng: &rng)
                let n = 7
                let x = rng.normal(n * 5)
                let y = loss == .softmax ? rng.labels(n, classes: 3) : nil
                let targets = loss == .squared ? rng.normal(n * 3) : nil
                let weights = rng.uniform(n, in: 0...2)
                let (_, analytic) = try net.loss(net.flat, x: x, y: y, targets: targets, weights: weights, n: n, reg: 0.2)
                assertGradient("\(loss) \(norm) weighted", analytic: analytic, at: net.flat, tolerance: 1e-6) { p in
                    (try? net.loss(p, x: x, y: y, targets: targets, weights: weights, n: n, reg: 0.2).0) ?? .nan
                }
            }
        }
    }

    func testIntegerWeightsEqualRepeatedRows() throws {
        for loss in [LossKind.softmax, .squared] {
            var rng = TestRNG(seed: 5)
            let spec = try NetworkSpec(dims: [4, 8, 3])
            let net = Net(spec, loss: loss, rng: &rng)
            let n = 6, counts = [2, 0, 1, 3, 1, 2]
            let x = rng.normal(n * 4)
            let y = rng.labels(n, classes: 3)
            let t = rng.normal(n * 3)
            var rx: [Double] = [], ry: [Int64] = [], rt: [Double] = []
            for (i, c) in counts.enumerated() {
                for _ in 0..<c {
                    rx += x[(i * 4)..<(i * 4 + 4)]; ry.append(y[i]); rt += t[(i * 3)..<(i * 3 + 3)]
                }
            }
            let softmax = loss == .softmax
            let weighted = try net.loss(net.flat, x: x, y: softmax ? y : nil, targets: softmax ? nil : t,
                                        weights: counts.map(Double.init), n: n, reg: 0)
            let repeated = try net.loss(net.flat, x: rx, y: softmax ? ry : nil, targets: softmax ? nil : rt,
                                        weights: nil, n: ry.count, reg: 0)
            XCTAssertEqual(weighted.0, repeated.0, accuracy: 1e-12)
            XCTAssertLessThan(maxRelativeError(weighted.1, repeated.1), 1e-10)
        }
    }

    func testBadWeightsAndMismatchedTargetsAreRefused() throws {
        var rng = TestRNG(seed: 2)
        let net = Net(try NetworkSpec(dims: [2, 3, 2]), loss: .softmax, rng: &rng)
        let x = rng.normal(4)
        for bad in [[1.0, -1], [0, 0], [1, .nan]] {
            XCTAssertThrowsError(try net.loss(net.flat, x: x, y: [0, 1], targets: nil, weights: bad, n: 2, reg: 0))
        }
        XCTAssertThrowsError(try net.loss(net.flat, x: x, y: nil, targets: [0, 1, 0, 1], weights: nil, n: 2, reg: 0))
    }

    /// Full-batch training with integer weights (alpha per weight sum) walks the same path as
    /// training on the rows repeated: the trainer's weighted mean and its reg convention.
    func testFullBatchTrainingWithIntegerWeightsEqualsRepeatedRows() throws {
        var rng = TestRNG(seed: 9)
        let spec = try NetworkSpec(dims: [3, 5, 2])
        let count = spec.parameterSizes.reduce(0, +)
        let start = rng.normal(count, std: 0.5)
        let n = 5, counts = [1.0, 3, 0, 2, 1]
        let x = rng.normal(n * 3)
        let t = rng.normal(n * 2)
        var rx: [Double] = [], rt: [Double] = []
        for (i, c) in counts.enumerated() {
            for _ in 0..<Int(c) { rx += x[(i * 3)..<(i * 3 + 3)]; rt += t[(i * 2)..<(i * 2 + 2)] }
        }
        func train(_ x: [Double], _ t: [Double], _ w: [Double]?, rows: Int) throws -> [Double] {
            var params = start
            try params.withUnsafeMutableBufferPointer { p in
                let trainer = try Trainer<Double>(spec: spec, params: p.baseAddress!, running: nil)
                trainer.plan.setLoss(.squared)
                trainer.setSampling(.shuffled, regPerWeight: true)
                trainer.setOptimizer(.adam, UpdateHyperparameters(learningRate: 0.01), reg: 0.3)
                try trainer.setData(xTrain: x, yTrain: nil, nTrain: rows, xVal: x, yVal: nil, nVal: 0, d: 3,
                                    batch: rows, trainSamples: 1, seed: 4, tTrain: t, tVal: t, wTrain: w)
                var losses = [Double](repeating: 0, count: 1)
                for _ in 0..<20 { _ = try trainer.run(maxSteps: 1, losses: &losses) }
            }
            return params
        }
        let weighted = try train(x, t, counts, rows: n)
        let repeated = try train(rx, rt, nil, rows: rx.count / 3)
        XCTAssertLessThan(maxRelativeError(weighted, repeated), 1e-9)
    }

    func testEpochOrdersVisitEveryRowOnceWithAShorterLastBatch() throws {
        let spec = try NetworkSpec(dims: [1, 2, 3])
        var params = [Double](repeating: 0, count: spec.parameterSizes.reduce(0, +))
        try params.withUnsafeMutableBufferPointer { p in
            let trainer = try Trainer<Double>(spec: spec, params: p.baseAddress!, running: nil)
            let x = (0..<10).map(Double.init), y = [Int64](repeating: 0, count: 10)
            for sampling in [Sampling.shuffled, .ordered] {
                trainer.setSampling(sampling, regPerWeight: false)
                try trainer.setData(xTrain: x, yTrain: y, nTrain: 10, xVal: x, yVal: y, nVal: 0, d: 1, batch: 4,
                                    trainSamples: 1, seed: 8)
                XCTAssertEqual(trainer.iterationsPerEpoch, 3)
                XCTAssertEqual((0..<3).map { trainer.rowCount(ofStep: $0) }, [4, 4, 2])
                var orders: [[Int]] = []
                for e in 0..<2 {
                    trainer.prepareOrder(epoch: e)
                    orders.append(Array(UnsafeBufferPointer(start: trainer.order, count: 10)))
                    XCTAssertEqual(orders[e].sorted(), Array(0..<10))
                }
                if sampling == .ordered { XCTAssertEqual(orders[0], Array(0..<10)) }
                else { XCTAssertNotEqual(orders[0], orders[1]) }
            }
        }
    }

    func testThreadCountIsSettableWithinItsRange() throws {
        let before = threadCount
        defer { try? setThreadCount(before) }
        try setThreadCount(1)
        XCTAssertEqual(threadCount, 1)
        XCTAssertNil(activeTeam)
        try setThreadCount(maximumThreadCount)
        XCTAssertEqual(threadCount, maximumThreadCount)
        XCTAssertThrowsError(try setThreadCount(0))
        XCTAssertThrowsError(try setThreadCount(maximumThreadCount + 1))
    }
}
