// The update rules run inside backward (NetworkPlan.loss's `fused`) against the plain path:
// gradients, then updateStep over every parameter; and the trainer's determinism.
import XCTest
@testable import SwiftNNEngine

/// Buffers of the given sizes with a pointer table over them, filled from `values`.
private final class Tables<T: Scalar> {
    let buffers: [UnsafeMutablePointer<T>]
    let table: UnsafeMutablePointer<UnsafeMutablePointer<T>?>
    let sizes: [Int]

    init(_ sizes: [Int], _ values: (Int) -> [Double]) {
        self.sizes = sizes
        buffers = sizes.enumerated().map { i, size in
            let p = UnsafeMutablePointer<T>.allocate(capacity: size)
            p.initialize(from: values(i).map { T($0) }, count: size)
            return p
        }
        table = .allocate(capacity: sizes.count)
        for (i, b) in buffers.enumerated() { table[i] = b }
    }

    deinit {
        buffers.forEach { $0.deallocate() }
        table.deallocate()
    }

    func pointers(_ name: String) throws -> PointerTable<T> {
        try PointerTable(UnsafePointer(table), count: sizes.count, name: name)
    }

    var values: [[T]] { zip(buffers, sizes).map { Array(UnsafeBufferPointer(start: $0, count: $1)) } }
}

final class FusedUpdateTests: XCTestCase {
    /// One training call of a batchnorm + dropout network whose first dW GEMM is split by columns
    /// and second by rows (on two threads or more), with the rule either fused or applied after.
    /// Returns the loss, the parameters, the rule's state and the running statistics.
    private func step<T: Scalar>(_: T.Type, rule: UpdateRule, reg: Double, fused: Bool) throws
        -> (loss: Double, params: [[T]], state: [[T]], running: [[T]]) {
        var rng = TestRNG(seed: 11)
        let spec = try NetworkSpec(dims: [64, 160, 96, 5], normalization: .batch, keep: 0.7)
        let plan = NetworkPlan<T>(spec)
        let n = 64
        let x = rng.normal(n * 64).map { T($0) }
        let y = rng.labels(n, classes: 5)
        let sizes = plan.parameterSizes
        let params = Tables<T>(sizes) { i in rng.normal(sizes[i], mean: i >= 2 * spec.layerCount ? 1 : 0, std: 0.2) }
        let grads = Tables<T>(sizes) { i in [Double](repeating: .nan, count: sizes[i]) }
        // Nonzero state, as after earlier steps; positive, as caches are.
        let s1 = Tables<T>(sizes) { i in rng.uniform(sizes[i], in: 0...1e-2) }
        let s2 = Tables<T>(sizes) { i in rng.uniform(sizes[i], in: 0...1e-3) }
        let running = Tables<T>([160, 160, 96, 96]) { i in rng.uniform([160, 160, 96, 96][i], in: 0.5...1.5) }
        var hyper = UpdateHyperparameters(learningRate: 0.01)
        hyper.t = 7
        let update = FusedUpdate(rule: rule, hyper: hyper, state1: rule.stateCount > 0 ? try s1.pointers("s1") : nil,
                                 state2: rule.stateCount > 1 ? try s2.pointers("s2") : nil)
        let loss = try x.withUnsafeBufferPointer { xb in
            try y.withUnsafeBufferPointer { yb in
                try plan.loss(x: xb.baseAddress!, y: yb.baseAddress!, n: n, params: params.pointers("params"),
                              grads: grads.pointers("grads"), running: running.pointers("running"), scoresOut: nil,
                              reg: reg, norm: NormSettings(), seed: 3, fused: fused ? update : nil)
            }
        }
        if !fused {
            for i in sizes.indices {
                updateStep(rule, w: params.buffers[i], dw: grads.buffers[i],
                           s1: rule.stateCount > 0 ? s1.buffers[i] : nil, s2: rule.stateCount > 1 ? s2.buffers[i] : nil,
                           count: sizes[i], hyper)
            }
        }
        return (loss, params.values, s1.values + s2.values, running.values)
    }

    private func check<T: Scalar>(_ type: T.Type, rules: [UpdateRule], tolerance: Double) throws {
        for rule in rules {
            for reg in [0.0, 1e-2] {
                let plain = try step(type, rule: rule, reg: reg, fused: false)
                let fused = try step(type, rule: rule, reg: reg, fused: true)
                let what = "\(T.self) \(rule) reg \(reg)"
                XCTAssertEqual(plain.loss, fused.loss, accuracy: tolerance * abs(plain.loss), what)
                // Bit for bit.
                for (name, a, b) in [("parameters", plain.params, fused.params), ("state", plain.state, fused.state),
                                     ("running statistics", plain.running, fused.running)] {
                    let differ = zip(a.joined(), b.joined()).filter { $0 != $1 }.count
                    XCTAssertEqual(differ, 0, "\(what): \(differ) of the \(name) differ")
                    XCTAssertFalse(a.joined().contains { !$0.isFinite }, "\(what): \(name) not finite")
                }
            }
        }
    }

    func testFusedUpdateEqualsGradientsThenTheRuleInFloat() throws {
        try check(Float.self, rules: [.adam, .rmsprop, .nesterov], tolerance: 1e-6)
    }

    func testFusedUpdateEqualsGradientsThenTheRuleInDouble() throws {
        try check(Double.self, rules: [.adam, .momentum, .adagrad], tolerance: 1e-13)
    }

    /// Two trainers with one seed give the same parameters bit for bit (the fused update's L2
    /// sums and GEMM blocks are fixed by the shapes and the thread count).
    func testTrainerWithAdamIsDeterministicForASeed() throws {
        var rng = TestRNG(seed: 5)
        let spec = try NetworkSpec(dims: [64, 160, 96, 5], normalization: .batch, keep: 0.6)
        let nTrain = 300
        let x = rng.normal(nTrain * 64).map { Float($0) }
        let y = rng.labels(nTrain, classes: 5)
        let count = spec.parameterSizes.reduce(0, +)
        let initial = rng.normal(count, std: 0.1).map { Float($0) }
        func train() throws -> ([Float], [Double]) {
            let params = UnsafeMutablePointer<Float>.allocate(capacity: count)
            params.initialize(from: initial, count: count)
            let running = UnsafeMutablePointer<Float>.allocate(capacity: 2 * (160 + 96))
            running.initialize(repeating: 1, count: 2 * (160 + 96))
            defer { params.deallocate(); running.deallocate() }
            let trainer = try Trainer<Float>(spec: spec, params: params, running: running)
            trainer.setOptimizer(.adam, UpdateHyperparameters(learningRate: 1e-3), reg: 1e-3)
            var losses = [Double](repeating: 0, count: 8)
            try x.withUnsafeBufferPointer { xb in
                try y.withUnsafeBufferPointer { yb in
                    try trainer.setData(xTrain: xb.baseAddress!, yTrain: yb.baseAddress!, nTrain: nTrain,
                                        xVal: xb.baseAddress!, yVal: yb.baseAddress!, nVal: 10, d: 64, batch: 64,
                                        trainSamples: 10, seed: 42)
                    _ = try losses.withUnsafeMutableBufferPointer { try trainer.run(maxSteps: 4, losses: $0.baseAddress) }
                    _ = try losses.withUnsafeMutableBufferPointer {
                        try trainer.run(maxSteps: 4, losses: $0.baseAddress! + 4)
                    }
                }
            }
            return (Array(UnsafeBufferPointer(start: params, count: count)), losses)
        }
        let (a, lossesA) = try train()
        let (b, lossesB) = try train()
        XCTAssertEqual(a, b)
        XCTAssertEqual(lossesA, lossesB)
        XCTAssertNotEqual(a, initial)
        XCTAssertTrue(lossesA.allSatisfy { $0.isFinite && $0 > 0 })
    }
}
