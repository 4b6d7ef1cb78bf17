// NetworkTrainer on problems a network must learn, and the run's bookkeeping.
import Foundation
import SwiftNN
import Testing

/// CS231n's spiral: `perClass` points on each of `classes` arms, with angular noise.
func spiral(perClass: Int, classes: Int, seed: UInt64) throws -> Dataset<Float> {
    var features: [Float] = [], labels: [Int] = []
    let noise = values(perClass * classes, seed: seed)
    for c in 0..<classes {
        for i in 0..<perClass {
            let r = Double(i) / Double(perClass - 1)
            let t = Double(c) * 4 + 4 * r + 0.2 * noise[c * perClass + i]
            features += [Float(r * sin(t)), Float(r * cos(t))]
            labels.append(c)
        }
    }
    return try Dataset(features: features, labels: labels, featureCount: 2)
}

@Suite struct TrainingTests {
    @Test func aSpiralIsLearnedToAtLeast95Percent() throws {
        let data = try spiral(perClass: 100, classes: 3, seed: 1)
        var network = try Network<Float>(spec: NetworkSpec(dims: [2, 100, 3]), seed: 2)
        #expect(try network.accuracy(on: data) < 0.6)
        let trainer = NetworkTrainer<Float>(optimizer: .adam(learningRate: 1e-2), batchSize: 30, epochs: 150,
                                            regularization: 1e-4, schedule: .cosine, seed: 3)
        var reports: [EpochReport] = []
        let history = try trainer.train(&network, on: data, validation: data) { reports.append($0) }
        let accuracy = try network.accuracy(on: data)
        #expect(accuracy >= 0.95, "spiral accuracy \(accuracy)")
        #expect(reports.count == 150 && history.losses.count == 150 * 10)
        #expect(history.validationAccuracies == reports.map(\.validationAccuracy))
        // The network comes back with the best epoch's parameters.
        #expect(abs(accuracy - history.bestValidationAccuracy) < 1e-9)
        #expect(history.bestValidationAccuracy == history.validationAccuracies.max())
        let firstEpoch: Double = history.losses.prefix(10).reduce(0, +)
        let lastEpoch: Double = history.losses.suffix(10).reduce(0, +)
        #expect(lastEpoch < firstEpoch / 4)
    }

    @Test func xorIsLearnedWithMomentumSGD() throws {
        let points = values(400 * 2, seed: 8).map(Float.init)
        let labels = (0..<400).map { (points[2 * $0] > 0) != (points[2 * $0 + 1] > 0) ? 1 : 0 }
        let data = try Dataset(features: points, labels: labels, featureCount: 2)
        var network = try Network<Float>(spec: NetworkSpec(dims: [2, 32, 32, 2]), seed: 5)
        let trainer = NetworkTrainer<Float>(optimizer: .momentum(learningRate: 0.05), batchSize: 40, epochs: 100,
                                            seed: 6)
        _ = try trainer.train(&network, on: data, validation: data)
        let accuracy = try network.accuracy(on: data)
        #expect(accuracy >= 0.95, "xor accuracy \(accuracy)")
    }

    @Test func theStepScheduleDecaysTheRateEachEpochAndTheSameSeedRepeatsARun() throws {
        let data = try spiral(perClass: 20, classes: 3, seed: 4)
        let start = try Network<Float>(spec: NetworkSpec(dims: [2, 16, 3], normalization: .batch, keep: 0.8), seed: 1)
        let trainer = NetworkTrainer<Float>(optimizer: .rmsProp(learningRate: 1e-2), batchSize: 10, epochs: 4,
                                            schedule: .stepDecay(factor: 0.5), seed: 9)
        var first = start, second = start
        var rates: [Double] = []
        let a = try trainer.train(&first, on: data, validation: data) { rates.append($0.nextLearningRate) }
        let b = try trainer.train(&second, on: data, validation: data)
        #expect(rates == [5e-3, 2.5e-3, 1.25e-3, 6.25e-4])
        #expect(a == b && first == second)
        #expect(first != start && first.runningStatistics != start.runningStatistics)
    }

    @Test func earlyStoppingEndsTheRunAfterPatienceEpochsWithoutImprovement() throws {
        let data = try spiral(perClass: 20, classes: 3, seed: 4)
        var network = try Network<Float>(spec: NetworkSpec(dims: [2, 8, 3]), seed: 1)
        // A rate so small that the validation accuracy cannot change between epochs.
        let trainer = NetworkTrainer<Float>(optimizer: .sgd(learningRate: 1e-9), batchSize: 10, epochs: 50,
                                            patience: 3)
        let history = try trainer.train(&network, on: data, validation: data)
        #expect(history.stoppedEarly)
        #expect(history.validationAccuracies.count == 4)
    }
}

@Suite struct FashionMNISTTests {
    @Test(.enabled(if: FileManager.default.fileExists(atPath: FashionMNIST.defaultDirectory + "/t10k-labels-idx1-ubyte.gz")))
    func debiansGzippedFilesReadAsTenBalancedClassesOfScaledPixels() throws {
        let (training, test) = try FashionMNIST.load()
        #expect(training.count == 60_000 && test.count == 10_000)
        #expect(training.featureCount == 784)
        for c in 0..<10 { #expect(test.labels.filter { $0 == c }.count == 1000) }
        #expect(test.features.min() == 0 && test.features.max() == 1)
        // The first test image is an ankle boot (label 9), as in every copy of the data set.
        #expect(test.labels[0] == 9 && FashionMNIST.classNames[9] == "Ankle boot")
    }

    func temporaryFile(_ bytes: [UInt8]) throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("swiftnn-idx-\(UUID().uuidString)").path
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        return path
    }

    @Test func aPlainIdxFileReadsAsItsShapeAndBytes() throws {
        let path = try temporaryFile([0, 0, 8, 2, 0, 0, 0, 2, 0, 0, 0, 3, 1, 2, 3, 4, 5, 6])
        defer { try? FileManager.default.removeItem(atPath: path) }
        let file = try IDXFile(contentsOf: path)
        #expect(file.shape == [2, 3] && file.bytes == [1, 2, 3, 4, 5, 6])
    }

    @Test func missingTruncatedAndForeignFilesThrowNamingTheFile() throws {
        let missing = #expect(throws: DataFileError.self) { try IDXFile(contentsOf: "/nonexistent/train-images-idx3-ubyte.gz") }
        #expect(missing?.path == "/nonexistent/train-images-idx3-ubyte.gz")
        let truncated = try temporaryFile([0, 0, 8, 1, 0, 0, 0, 5, 1, 2])
        defer { try? FileManager.default.removeItem(atPath: truncated) }
        let error = #expect(throws: DataFileError.self) { try IDXFile(contentsOf: truncated) }
        #expect(error?.reason.contains("ends after 2 of the 5 bytes") == true)
        let foreign = try temporaryFile(Array("hello, world".utf8))
        defer { try? FileManager.default.removeItem(atPath: foreign) }
        #expect(throws: DataFileError.self) { try IDXFile(contentsOf: foreign) }
        #expect(throws: DataFileError.self) { try FashionMNIST.load(from: "/nonexistent") }
    }
}
