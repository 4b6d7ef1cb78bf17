// Trains a small network through SwiftNN's public API and checks what a user would: the accuracy
// it reaches, a JSON round trip, and a refused bad input. Exits 1 when any falls short.
import Foundation
import SwiftNN

func fail(_ message: String) -> Never {
    print("consumer: FAILED: \(message)")
    exit(1)
}

// Three interleaved spiral arms (CS231n's toy problem): not linearly separable.
var features: [Float] = [], labels: [Int] = []
for arm in 0..<3 {
    for i in 0..<100 {
        let r = Double(i) / 99, t = Double(arm) * 4 + 4 * r + 0.2 * sin(Double(7 * i + arm))
        features += [Float(r * sin(t)), Float(r * cos(t))]
        labels.append(arm)
    }
}
do {
    let data = try Dataset(features: features, labels: labels, featureCount: 2)
    var network = try Network<Float>(spec: NetworkSpec(dims: [2, 64, 3], normalization: .batch), seed: 1)
    let trainer = NetworkTrainer<Float>(optimizer: .adam(learningRate: 1e-2), batchSize: 30, epochs: 60,
                                        schedule: .cosine, seed: 2)
    let history = try trainer.train(&network, on: data, validation: data) { report in
        if report.epoch % 20 == 0 {
            print("epoch \(report.epoch)/\(report.epochs)  loss \(report.meanLoss)  accuracy \(report.validationAccuracy)")
        }
    }
    let accuracy = try network.accuracy(on: data)
    print("spiral accuracy \(accuracy) after \(history.losses.count) steps")
    if accuracy < 0.9 { fail("accuracy \(accuracy) < 0.9") }

    let restored = try JSONDecoder().decode(Network<Float>.self, from: JSONEncoder().encode(network))
    if try restored.predictedClasses(for: features) != network.predictedClasses(for: features) {
        fail("the decoded network predicts differently")
    }
    do {
        _ = try network.scores(for: [1, 2, 3])
        fail("3 features for a 2-input network were accepted")
    } catch {
        print("bad input refused: \(error)")
    }
} catch {
    fail("\(error)")
}
print("consumer: OK")
