// Trains the project's main network on Fashion-MNIST from Swift: 784-512-256-10 with batch
// normalization and dropout (keep 0.6), Adam (lr 1e-3, ×0.85 per epoch), minibatches of 128;
// 55,000 training and 5,000 validation images, then the accuracy on the 10,000 test images.
//
//     swift run -c release TrainFashionMNIST [--epochs N] [--data DIR] [--seed S]
import Foundation
import SwiftNN

struct Options {
    var epochs = 10
    var data = FashionMNIST.defaultDirectory
    var seed: UInt64 = 0

    init(_ arguments: [String]) throws {
        var rest = arguments[...]
        while let flag = rest.popFirst() {
            guard let value = rest.popFirst() else { throw UsageError("\(flag) needs a value") }
            switch flag {
            case "--epochs":
                guard let n = Int(value), n >= 1 else { throw UsageError("--epochs \(value): expected a positive integer") }
                epochs = n
            case "--data": data = value
            case "--seed":
                guard let s = UInt64(value) else { throw UsageError("--seed \(value): expected a non-negative integer") }
                seed = s
            default: throw UsageError("unknown option \(flag)")
            }
        }
    }
}

struct UsageError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// A line on standard output at once, also into a pipe (print's output would wait in a buffer).
func say(_ line: String) { FileHandle.standardOutput.write(Data((line + "\n").utf8)) }

func seconds(since start: Date) -> String { String(format: "%.1f s", Date().timeIntervalSince(start)) }

do {
    let options = try Options(Array(CommandLine.arguments.dropFirst()))
    let start = Date()
    let (all, test) = try FashionMNIST.load(from: options.data, as: Float.self)
    let trainingRows = try all.rows(0..<55_000)
    let means = trainingRows.featureMeans()
    let training = try trainingRows.subtracting(featureMeans: means)
    let validation = try all.rows(55_000..<all.count).subtracting(featureMeans: means)
    let testSet = try test.subtracting(featureMeans: means)
    say("Fashion-MNIST: \(training.count) training, \(validation.count) validation, \(testSet.count) test images (\(seconds(since: start)))")

    let spec = try NetworkSpec(dims: [784, 512, 256, 10], normalization: .batch, keep: 0.6)
    var network = try Network<Float>(spec: spec, initialization: .he, seed: options.seed)
    let trainer = NetworkTrainer<Float>(optimizer: .adam(learningRate: 1e-3), batchSize: 128, epochs: options.epochs,
                                        schedule: .stepDecay(factor: 0.85), accuracySampleSize: 5000,
                                        seed: options.seed)
    say("network \(spec.dims.map(String.init).joined(separator: "-")), batchnorm, dropout keep 0.6, Adam, batch 128: \(network.parameterCount) parameters")
    let trainingStart = Date()
    let history = try trainer.train(&network, on: training, validation: validation) { report in
        say(String(format: "epoch %2d/%d  loss %.4f  train %5.2f%%  val %5.2f%%%@  next lr %.2e  %@",
                     report.epoch, report.epochs, report.meanLoss, 100 * report.trainingAccuracy,
                     100 * report.validationAccuracy, report.improved ? " *" : "  ", report.nextLearningRate,
                     seconds(since: trainingStart)))
    }
    let accuracy = try network.accuracy(on: testSet)
    say(String(format: "best validation accuracy %.2f%%; test accuracy %.2f%% (%@ in all)",
                 100 * history.bestValidationAccuracy, 100 * accuracy, seconds(since: start)))
} catch {
    FileHandle.standardError.write(Data("TrainFashionMNIST: \(error)\n".utf8))
    exit(1)
}
