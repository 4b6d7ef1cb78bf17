/// How the learning rate changes over a run.
public enum LearningRateSchedule: Sendable, Equatable, Codable {
    /// The optimizer's rate throughout.
    case constant
    /// The rate times `factor` after every epoch (the course's `lr_decay`).
    case stepDecay(factor: Double)
    /// Cosine annealing from the optimizer's rate to 0 over the run (after any warm-up).
    case cosine
}

/// What one epoch did, as the trainer reports it.
public struct EpochReport: Sendable, Equatable {
    /// 1 for the first epoch.
    public var epoch: Int
    public var epochs: Int
    /// The mean minibatch loss of the epoch.
    public var meanLoss: Double
    /// Accuracy on a sample of the training rows (`NetworkTrainer.accuracySampleSize`).
    public var trainingAccuracy: Double
    public var validationAccuracy: Double
    /// Whether the validation accuracy is the best so far (the trainer keeps these parameters).
    public var improved: Bool
    /// The learning rate of the next step.
    public var nextLearningRate: Double

    public init(epoch: Int, epochs: Int, meanLoss: Double, trainingAccuracy: Double, validationAccuracy: Double,
                improved: Bool, nextLearningRate: Double) {
        (self.epoch, self.epochs, self.meanLoss, self.trainingAccuracy) = (epoch, epochs, meanLoss, trainingAccuracy)
        (self.validationAccuracy, self.improved, self.nextLearningRate) = (validationAccuracy, improved, nextLearningRate)
    }
}

/// What a run did.
public struct TrainingHistory: Sendable, Equatable, Codable {
    /// The loss of every step.
    public var losses: [Double] = []
    /// After every epoch.
    public var trainingAccuracies: [Double] = []
    public var validationAccuracies: [Double] = []
    public var bestValidationAccuracy = 0.0
    /// Whether early stopping ended the run before its last epoch.
    public var stoppedEarly = false

    public init() {}
}

/// Minibatch training of a `Network` in the engine's native `Trainer`: sampling, the
/// whole-network step, the update, the schedule, accuracy checks after each epoch and early
/// stopping all run in the engine; Swift sees each epoch's end. The network comes back with the
/// parameters of the best validation accuracy.
///
/// ```swift
/// let trainer = NetworkTrainer<Float>(optimizer: .adam(learningRate: 1e-3), batchSize: 128, epochs: 10,
///                                     schedule: .stepDecay(factor: 0.85))
/// let history = try trainer.train(&network, on: training, validation: validation) { report in
///     print("epoch \(report.epoch): validation accuracy \(report.validationAccuracy)")
/// }
/// ```
public struct NetworkTrainer<T: Scalar>: Sendable {
    /// The update rule and its hyperparameters; each run starts from a fresh optimizer state.
    public var optimizer: Optimizer<T>
    public var batchSize: Int
    public var epochs: Int
    /// L2 regularization strength: the loss gets 0.5 · regularization · ΣW².
    public var regularization: Double
    public var schedule: LearningRateSchedule
    /// Steps whose learning rate rises linearly to the optimizer's at the start.
    public var warmupSteps: Int
    /// Stop after this many epochs without a better validation accuracy; nil: never.
    public var patience: Int?
    /// Training rows sampled for each epoch's training accuracy.
    public var accuracySampleSize: Int
    /// Seeds the minibatch rows, the dropout masks and the accuracy samples.
    public var seed: UInt64

    public init(optimizer: Optimizer<T>, batchSize: Int = 100, epochs: Int = 10, regularization: Double = 0,
                schedule: LearningRateSchedule = .constant, warmupSteps: Int = 0, patience: Int? = nil,
                accuracySampleSize: Int = 1000, seed: UInt64 = 0) {
        self.optimizer = optimizer
        self.batchSize = batchSize
        self.epochs = epochs
        self.regularization = regularization
        self.schedule = schedule
        self.warmupSteps = warmupSteps
        self.patience = patience
        self.accuracySampleSize = accuracySampleSize
        self.seed = seed
    }

    /// Trains `network` on `training` for `epochs` epochs of `training.count / batchSize` steps,
    /// checking accuracy on `validation` after each; `progress` sees every epoch's report.
    @_specialize(exported: true, where T == Float)
    @_specialize(exported: true, where T == Double)
    public func train(_ network: inout Network<T>, on training: Dataset<T>, validation: Dataset<T>,
                      progress: (EpochReport) -> Void = { _ in }) throws(EngineError) -> TrainingHistory {
        let hyper = try optimizer.hyperparameters()
        func positive(_ value: Int, _ name: String) throws(EngineError) {
            if value < 1 { throw EngineError(.badValue, "\(name) = \(value), expected at least 1") }
        }
        try positive(batchSize, "batchSize")
        try positive(epochs, "epochs")
        try positive(accuracySampleSize, "accuracySampleSize")
        if let patience { try positive(patience, "patience") }
        if warmupSteps < 0 { throw EngineError(.badValue, "warmupSteps = \(warmupSteps), expected at least 0") }
        guard regularization.isFinite && regularization >= 0 else {
            throw EngineError(.badValue, "regularization = \(regularization), expected a number >= 0")
        }
        var decay = 1.0
        if case .stepDecay(let factor) = schedule {
            guard factor > 0 && factor <= 1 else {
                throw EngineError(.badValue, "stepDecay factor = \(factor), expected a number in (0, 1]")
            }
            decay = factor
        }
        try network.checkShapes()
        let d = network.spec.dims[0]
        for (data, name) in [(training, "training"), (validation, "validation")] {
            guard data.count > 0 else { throw EngineError(.badSize, "the \(name) set has no rows") }
            guard data.featureCount == d else {
                throw EngineError(.shapeMismatch, "the \(name) set has \(data.featureCount) features, the network takes \(d)")
            }
        }

        var history = TrainingHistory()
        var parameters = network.parameters
        var running = network.runningStatistics
        let spec = network.spec
        try parameters.withUnsafeMutableBufferPointer { (p) throws(EngineError) in
            try running.withUnsafeMutableBufferPointer { (r) throws(EngineError) in
                try training.features.withUnsafeBufferPointer { (xTrain) throws(EngineError) in
                    try validation.features.withUnsafeBufferPointer { (xVal) throws(EngineError) in
                        try withLabels(training.labels) { (yTrain) throws(EngineError) in
                            try withLabels(validation.labels) { (yVal) throws(EngineError) in
                                let engine = try Trainer<T>(spec: spec, params: p.baseAddress!, running: r.baseAddress)
                                engine.setOptimizer(optimizer.rule, hyper, reg: regularization)
                                try engine.setData(xTrain: xTrain.baseAddress!, yTrain: yTrain, nTrain: training.count,
                                                   xVal: xVal.baseAddress!, yVal: yVal, nVal: validation.count, d: d,
                                                   batch: batchSize, trainSamples: accuracySampleSize, seed: seed)
                                let steps = engine.iterationsPerEpoch
                                engine.setSchedule(schedule == .cosine ? .cosine : .step, decay: decay,
                                                   warmup: warmupSteps, totalIterations: epochs * steps,
                                                   patience: patience ?? 0)
                                var losses = [Double](repeating: 0, count: steps)
                                for epoch in 1...epochs {
                                    var done = 0
                                    while done < steps {
                                        let ran = try losses.withUnsafeMutableBufferPointer { (l) throws(EngineError) in
                                            try engine.run(maxSteps: steps - done, losses: l.baseAddress! + done)
                                        }
                                        done += ran.steps
                                        if ran.epochEnded || ran.steps == 0 { break }
                                    }
                                    history.losses += losses[..<done]
                                    let accuracy = try engine.evaluate()
                                    history.trainingAccuracies.append(accuracy.train)
                                    history.validationAccuracies.append(accuracy.validation)
                                    progress(EpochReport(epoch: epoch, epochs: epochs,
                                                         meanLoss: losses[..<done].reduce(0, +) / Double(Swift.max(done, 1)),
                                                         trainingAccuracy: accuracy.train,
                                                         validationAccuracy: accuracy.validation,
                                                         improved: accuracy.improved, nextLearningRate: engine.learningRate))
                                    if engine.stopped {
                                        history.stoppedEarly = epoch < epochs
                                        break
                                    }
                                }
                                history.bestValidationAccuracy = engine.bestValidationAccuracy
                                engine.restoreBest()
                            }
                        }
                    }
                }
            }
        }
        network.parameters = parameters
        network.runningStatistics = running
        return history
    }
}
