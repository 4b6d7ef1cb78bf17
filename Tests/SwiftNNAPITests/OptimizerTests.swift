// Each update rule of Optimizer against its formula, written out here element by element.
import Foundation
import SwiftNN
import Testing

@Suite struct OptimizerTests {
    /// Three steps of `optimizer` on a small network, against `formula` applied to (w, dw, t)
    /// with its own state; gradients differ per step.
    func check(_ optimizer: Optimizer<Double>,
               _ formula: @escaping (inout [Double], [Double], Int) -> Void) throws {
        var optimizer = optimizer
        var network = try Network<Double>(spec: NetworkSpec(dims: [6, 5, 3]), seed: 4)
        var expected = network.parameters
        for step in 1...3 {
            let gradients = values(network.parameterCount, seed: UInt64(100 + step))
            try optimizer.update(&network, along: gradients)
            formula(&expected, gradients, step)
            #expect(optimizer.stepCount == step)
        }
        for (a, b) in zip(network.parameters, expected) {
            #expect(abs(a - b) <= 1e-14 * max(1, abs(b)), "\(optimizer.rule): \(a) vs \(b)")
        }
    }

    @Test func sgdStepsAgainstTheGradient() throws {
        try check(.sgd(learningRate: 0.1)) { w, dw, _ in
            for i in w.indices { w[i] -= 0.1 * dw[i] }
        }
    }

    @Test func momentumKeepsAVelocity() throws {
        var v: [Double] = []
        try check(.momentum(learningRate: 0.1, momentum: 0.8)) { w, dw, _ in
            if v.isEmpty { v = [Double](repeating: 0, count: w.count) }
            for i in w.indices {
                v[i] = 0.8 * v[i] - 0.1 * dw[i]
                w[i] += v[i]
            }
        }
    }

    @Test func nesterovLooksAhead() throws {
        var v: [Double] = []
        try check(.nesterov(learningRate: 0.1, momentum: 0.7)) { w, dw, _ in
            if v.isEmpty { v = [Double](repeating: 0, count: w.count) }
            for i in w.indices {
                let previous = v[i]
                v[i] = 0.7 * v[i] - 0.1 * dw[i]
                w[i] += -0.7 * previous + 1.7 * v[i]
            }
        }
    }

    @Test func rmsPropDividesByTheRootMeanSquare() throws {
        var cache: [Double] = []
        try check(.rmsProp(learningRate: 0.01, decayRate: 0.9, epsilon: 1e-6)) { w, dw, _ in
            if cache.isEmpty { cache = [Double](repeating: 0, count: w.count) }
            for i in w.indices {
                cache[i] = 0.9 * cache[i] + (1 - 0.9) * dw[i] * dw[i]
                w[i] -= 0.01 * dw[i] / (cache[i].squareRoot() + 1e-6)
            }
        }
    }

    @Test func adaGradDividesByTheRootOfTheSumOfSquares() throws {
        var cache: [Double] = []
        try check(.adaGrad(learningRate: 0.05, epsilon: 1e-7)) { w, dw, _ in
            if cache.isEmpty { cache = [Double](repeating: 0, count: w.count) }
            for i in w.indices {
                cache[i] += dw[i] * dw[i]
                w[i] -= 0.05 * dw[i] / (cache[i].squareRoot() + 1e-7)
            }
        }
    }

    @Test func adamCorrectsTheBiasOfItsMoments() throws {
        var m: [Double] = [], v: [Double] = []
        try check(.adam(learningRate: 0.01, beta1: 0.8, beta2: 0.95, epsilon: 1e-8)) { w, dw, t in
            if m.isEmpty { m = [Double](repeating: 0, count: w.count); v = m }
            for i in w.indices {
                m[i] = 0.8 * m[i] + (1 - 0.8) * dw[i]
                v[i] = 0.95 * v[i] + (1 - 0.95) * dw[i] * dw[i]
                let mHat = m[i] / (1 - pow(0.8, Double(t))), vHat = v[i] / (1 - pow(0.95, Double(t)))
                w[i] -= 0.01 * mHat / (vHat.squareRoot() + 1e-8)
            }
        }
    }

    @Test func resetStartsAFreshRun() throws {
        var network = try Network<Double>(spec: NetworkSpec(dims: [2, 2]))
        var adam = Optimizer<Double>.adam(learningRate: 0.1)
        try adam.update(&network, along: [1, 1, 1, 1, 1, 1])
        adam.reset()
        #expect(adam.stepCount == 0 && adam.state.isEmpty)
        var other = try Network<Double>(spec: NetworkSpec(dims: [3, 2]))
        let before = other.parameters
        try adam.update(&other, along: [Double](repeating: 1, count: 8))
        // A first Adam step moves every parameter by −lr · sign(dw) (to within ε).
        for (a, b) in zip(other.parameters, before) { #expect(abs(a - b + 0.1) < 1e-6) }
    }
}
