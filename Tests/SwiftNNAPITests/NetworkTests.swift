// The public Swift API as a package that depends on SwiftNN sees it (no @testable).
import Foundation
import SwiftNN
import Testing

/// Deterministic inputs in [-1, 1).
func values(_ count: Int, seed: UInt64) -> [Double] {
    (0..<count).map { Double(splitMix64(seed: seed, index: UInt64($0)) >> 11) * 0x1p-52 - 1 }
}

@Suite struct NetworkTests {
    @Test(arguments: [Normalization.none, .batch, .layer])
    func gradientsMatchCentralDifferencesOfTheLoss(normalization: Normalization) throws {
        let spec = try NetworkSpec(dims: [5, 7, 6, 4], normalization: normalization, keep: 0.75,
                                   activation: .leakyRelu, leak: 0.1)
        var network = try Network<Double>(spec: spec, initialization: .scaled(0.5), seed: 3)
        // Gains and shifts away from 1 and 0, so that their gradients are not special.
        for name in network.parameterNames where name.hasPrefix("gamma") || name.hasPrefix("beta") {
            for (k, i) in try network.range(ofParameter: name).enumerated() { network.parameters[i] += 0.1 * Double(k % 3) - 0.1 }
        }
        let n = 8
        let x = values(n * 5, seed: 11).map { 2 * $0 }
        let y = (0..<n).map { $0 % 4 }
        let reg = 0.05
        var probe = network
        let (_, gradients) = try probe.lossAndGradients(for: x, labels: y, regularization: reg, dropoutSeed: 7)
        let h = 1e-6
        var worst = 0.0
        for i in network.parameters.indices {
            var plus = network, minus = network
            plus.parameters[i] += h
            minus.parameters[i] -= h
            let up = try plus.lossAndGradients(for: x, labels: y, regularization: reg, dropoutSeed: 7).loss
            let down = try minus.lossAndGradients(for: x, labels: y, regularization: reg, dropoutSeed: 7).loss
            let numeric = (up - down) / (2 * h)
            let error = abs(numeric - gradients[i]) / max(1e-8, abs(numeric) + abs(gradients[i]))
            worst = max(worst, error)
        }
        #expect(worst < 1e-5, "largest relative error \(worst)")
    }

    @Test func trainModeUpdatesTheRunningStatisticsAndTestModeUsesThem() throws {
        let spec = try NetworkSpec(dims: [3, 4, 2], normalization: .batch)
        var network = try Network<Double>(spec: spec, seed: 1)
        #expect(network.runningStatistics == [Double](repeating: 0, count: 8))
        let x = values(6 * 3, seed: 2)
        let before = try network.scores(for: x)
        _ = try network.lossAndGradients(for: x, labels: [0, 1, 0, 1, 1, 0])
        #expect(network.runningStatistics != [Double](repeating: 0, count: 8))
        #expect(try network.scores(for: x) != before)
    }

    @Test func aNetworkSurvivesJSONWithItsPredictions() throws {
        let spec = try NetworkSpec(dims: [4, 6, 3], normalization: .batch, keep: 0.5)
        var network = try Network<Float>(spec: spec, seed: 5)
        let x = values(10 * 4, seed: 3).map(Float.init)
        _ = try network.lossAndGradients(for: x, labels: (0..<10).map { $0 % 3 })
        let data = try JSONEncoder().encode(network)
        let decoded = try JSONDecoder().decode(Network<Float>.self, from: data)
        #expect(decoded == network)
        #expect(try decoded.predictedClasses(for: x) == network.predictedClasses(for: x))
    }

    @Test func theSameSeedDrawsTheSameWeightsWithTheInitializationsScale() throws {
        let spec = try NetworkSpec(dims: [400, 300, 10])
        let a = try Network<Double>(spec: spec, initialization: .he, seed: 9)
        let b = try Network<Double>(spec: spec, initialization: .he, seed: 9)
        #expect(a == b)
        let w1 = Array(a.parameters[try a.range(ofParameter: "W1")])
        let variance = w1.map { $0 * $0 }.reduce(0, +) / Double(w1.count)
        #expect(abs(variance - 2.0 / 400) < 0.05 * 2.0 / 400)
        #expect(a.parameters[try a.range(ofParameter: "b1")].allSatisfy { $0 == 0 })
    }
}

@Suite struct BadInputTests {
    let spec = try! NetworkSpec(dims: [3, 4, 2], normalization: .batch)

    @Test func badSpecsAreRefusedByName() {
        #expect(throws: EngineError.self) { try NetworkSpec(dims: [3]) }
        #expect(throws: EngineError.self) { try NetworkSpec(dims: [3, 0, 2]) }
        #expect(throws: EngineError.self) { try NetworkSpec(dims: [3, 2], keep: 0) }
        #expect(throws: EngineError.self) { try Network<Float>(spec: spec, initialization: .scaled(-1)) }
    }

    @Test func featuresLabelsAndParametersOfTheWrongSizeThrow() throws {
        var network = try Network<Double>(spec: spec)
        let error = #expect(throws: EngineError.self) { try network.scores(for: [1, 2]) }
        #expect(error?.status == .shapeMismatch)
        #expect(error?.message.contains("multiple of the network's 3 input features") == true)
        #expect(throws: EngineError.self) { try network.scores(for: []) }
        #expect(throws: EngineError.self) { try network.lossAndGradients(for: [1, 2, 3], labels: [0, 1]) }
        let label = #expect(throws: EngineError.self) { try network.lossAndGradients(for: [1, 2, 3], labels: [2]) }
        #expect(label?.status == .badValue)
        #expect(throws: EngineError.self) { try network.lossAndGradients(for: [1, 2, 3], labels: [0], regularization: -1) }
        network.parameters.removeLast()
        #expect(throws: EngineError.self) { try network.scores(for: [1, 2, 3]) }
        #expect(throws: EngineError.self) { try Network<Double>(spec: spec, parameters: [1, 2, 3]) }
        var nan = try Network<Double>(spec: spec)
        nan.parameters[0] = .nan
        #expect((#expect(throws: EngineError.self) { try nan.scores(for: [1, 2, 3]) })?.status == .nonFinite)
    }

    @Test func aDecodedNetworkIsCheckedAgainstItsSpec() throws {
        let json = #"{"spec":{"dims":[3,2],"normalization":0,"keep":1,"activation":0,"leak":0.01},"parameters":[1,2],"runningStatistics":[]}"#
        #expect(throws: DecodingError.self) { try JSONDecoder().decode(Network<Double>.self, from: Data(json.utf8)) }
        let badSpec = #"{"dims":[3,2],"normalization":0,"keep":2,"activation":0,"leak":0.01}"#
        #expect(throws: DecodingError.self) { try JSONDecoder().decode(NetworkSpec.self, from: Data(badSpec.utf8)) }
    }

    @Test func datasetsOfInconsistentShapeThrow() {
        #expect(throws: EngineError.self) { try Dataset<Float>(features: [1, 2, 3], labels: [0, 1], featureCount: 2) }
        #expect(throws: EngineError.self) { try Dataset<Float>(features: [1, 2], labels: [-1], featureCount: 2) }
        #expect(throws: EngineError.self) { try Dataset<Float>(features: [], labels: [], featureCount: 0) }
        #expect(throws: EngineError.self) { try Dataset<Float>(features: [1, 2], labels: [0], featureCount: 2).rows(0..<2) }
    }

    @Test func optimizerHyperparametersAndGradientsAreChecked() throws {
        var network = try Network<Double>(spec: spec)
        let gradients = [Double](repeating: 0.1, count: network.parameterCount)
        var bad = Optimizer<Double>.sgd(learningRate: 0)
        #expect(throws: EngineError.self) { try bad.update(&network, along: gradients) }
        bad = .adam(learningRate: 1e-3, beta1: 1)
        #expect(throws: EngineError.self) { try bad.update(&network, along: gradients) }
        bad = .momentum(learningRate: 1e-3, momentum: .nan)
        #expect(throws: EngineError.self) { try bad.update(&network, along: gradients) }
        var adam = Optimizer<Double>.adam(learningRate: 1e-3)
        #expect(throws: EngineError.self) { try adam.update(&network, along: [0.1]) }
        var infinite = gradients
        infinite[3] = .infinity
        #expect(throws: EngineError.self) { try adam.update(&network, along: infinite) }
        try adam.update(&network, along: gradients)
        var other = try Network<Double>(spec: NetworkSpec(dims: [5, 2]))
        let error = #expect(throws: EngineError.self) {
            try adam.update(&other, along: [Double](repeating: 0, count: other.parameterCount))
        }
        #expect(error?.message.contains("reset()") == true)
    }

    @Test func trainerSettingsAndDataAreChecked() throws {
        var network = try Network<Float>(spec: spec)
        let data = try Dataset<Float>(features: [1, 2, 3, 4, 5, 6], labels: [0, 1], featureCount: 3)
        let wide = try Dataset<Float>(features: [1, 2, 3, 4], labels: [0, 1], featureCount: 2)
        for trainer in [NetworkTrainer<Float>(optimizer: .adam(learningRate: 1e-3), batchSize: 0),
                        NetworkTrainer(optimizer: .adam(learningRate: 1e-3), epochs: 0),
                        NetworkTrainer(optimizer: .adam(learningRate: -1)),
                        NetworkTrainer(optimizer: .adam(learningRate: 1e-3), schedule: .stepDecay(factor: 1.5)),
                        NetworkTrainer(optimizer: .adam(learningRate: 1e-3), patience: 0),
                        NetworkTrainer(optimizer: .adam(learningRate: 1e-3), regularization: .infinity)] {
            #expect(throws: EngineError.self) { try trainer.train(&network, on: data, validation: data) }
        }
        let trainer = NetworkTrainer<Float>(optimizer: .adam(learningRate: 1e-3), batchSize: 2, epochs: 1)
        #expect(throws: EngineError.self) { try trainer.train(&network, on: wide, validation: data) }
        let tooManyClasses = try Dataset<Float>(features: [1, 2, 3], labels: [2], featureCount: 3)
        #expect(throws: EngineError.self) { try trainer.train(&network, on: tooManyClasses, validation: data) }
        #expect(try Network<Float>(spec: spec) == network, "a refused run leaves the network as it was")
    }
}
