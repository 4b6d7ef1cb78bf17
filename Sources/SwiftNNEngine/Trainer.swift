// The native training loop: minibatch sampling, the whole-network plan, one update over the
// flat parameter buffer, learning-rate schedule, accuracy checks, best-parameter snapshot and
// early stopping, all in Swift. The caller crosses the ABI once per chunk of steps or epoch.
//
// Randomness (documented, so a test can reproduce it): with s = the trainer's seed,
//   minibatch row i of step k  = ⌊splitMix64(splitMix64(s, 0), k·batch + i) · nTrain / 2⁶⁴⌋
//   dropout seed of step k     = splitMix64(splitMix64(s, 1), k)      (then per layer as the plan)
//   train-accuracy row i of check e = ⌊splitMix64(splitMix64(s, 2), e·samples + i) · nTrain / 2⁶⁴⌋
#if canImport(Glibc)
import Glibc
#endif

public enum Schedule: Int32 {
    /// lr × decay at every epoch end (the course's lr_decay).
    case step = 0
    /// Cosine annealing from the base rate to 0 over the run, after any warm-up.
    case cosine = 1
}

/// Uniform index in [0, n) from 64 random bits (Lemire's multiply-shift).
@inlinable
public func randomIndex(_ bits: UInt64, below n: Int) -> Int {
    Int(bits.multipliedFullWidth(by: UInt64(n)).high)
}

/// Copies minibatch rows: row i is training row ⌊splitMix64(seed, first + i) · n / 2⁶⁴⌋.
struct MinibatchRows<T: Scalar>: PieceWork {
    let x: UnsafePointer<T>, y: UnsafePointer<Int64>, n: Int, d: Int
    let batchX: UnsafeMutablePointer<T>, batchY: UnsafeMutablePointer<Int64>
    let seed: UInt64, first: UInt64

    func callAsFunction(_ rows: Range<Int>) {
        for i in rows {
            let row = randomIndex(splitMix64(seed: seed, index: first + UInt64(i)), below: n)
            (batchX + i * d).update(from: x + row * d, count: d)
            batchY[i] = y[row]
        }
    }

    /// Row i, as a chunk of background work (Team.offer).
    static func runRow(_ job: UnsafeRawPointer, _ i: Int) {
        job.assumingMemoryBound(to: MinibatchRows.self).pointee(i..<(i + 1))
    }
}

public final class Trainer<T: Scalar> {
    public let plan: NetworkPlan<T>
    public let parameterCount: Int
    public let runningCount: Int
    let params: UnsafeMutablePointer<T>            // caller-owned, flat, canonical order
    let running: UnsafeMutablePointer<T>?          // caller-owned: mean1, var1, mean2, ...
    let owned: UnsafeMutablePointer<T>             // grads, [state1, state2,] best params, best running
    let grads: UnsafeMutablePointer<T>
    let state1: UnsafeMutablePointer<T>
    let state2: UnsafeMutablePointer<T>
    let best: UnsafeMutablePointer<T>
    let bestRunning: UnsafeMutablePointer<T>
    let tables: UnsafeMutablePointer<UnsafeMutablePointer<T>?>  // params | grads | running | state1 | state2 tables
    let tableCount: Int
    let nonWeights: [Range<Int>]                   // biases, gamma, beta in the flat buffers

    // optimizer
    public private(set) var rule: UpdateRule = .sgd
    var hyper = UpdateHyperparameters(learningRate: 1e-2)
    var reg = 0.0
    // schedule
    var schedule: Schedule = .step
    var decay = 1.0
    var warmup = 0
    var totalIterations = 0
    var patience = 0                               // 0 = no early stopping
    // data
    var xTrain: UnsafePointer<T>?, yTrain: UnsafePointer<Int64>?, nTrain = 0
    var xVal: UnsafePointer<T>?, yVal: UnsafePointer<Int64>?, nVal = 0
    var d = 0, batch = 0, trainSamples = 0
    var batchX: UnsafeMutablePointer<T>?, batchY: UnsafeMutablePointer<Int64>?   // two minibatches each
    /// The next step's rows, as offered to the helpers (it must outlive the offer).
    let prefetch = UnsafeMutablePointer<MinibatchRows<T>>.allocate(capacity: 1)
    var sampleX: UnsafeMutablePointer<T>?, sampleY: UnsafeMutablePointer<Int64>?
    var evalScores: UnsafeMutablePointer<T>?
    var seeds = (batch: UInt64(0), dropout: UInt64(0), sample: UInt64(0))
    // progress
    public private(set) var iteration = 0
    public private(set) var epoch = 0
    var decayFactor = 1.0
    var checks = 0
    public private(set) var bestValidationAccuracy = -1.0
    var checksWithoutImprovement = 0
    public private(set) var stopped = false

    static var evalChunk: Int { 1000 }

    /// params (parameter count) and running (running count) are the caller's buffers, and so is
    /// state (2 × parameter count: the rule's first state buffer, then its second) when given,
    /// so that a caller can save and restore the optimizer state.
    public init(spec: NetworkSpec, params: UnsafeMutablePointer<T>, running: UnsafeMutablePointer<T>?,
                state: UnsafeMutablePointer<T>? = nil) throws(EngineError) {
        plan = NetworkPlan<T>(spec)
        let sizes = plan.parameterSizes
        parameterCount = sizes.reduce(0, +)
        runningCount = spec.normalization == .batch ? 2 * spec.dims[1..<(spec.dims.count - 1)].reduce(0, +) : 0
        if runningCount > 0 && running == nil {
            throw EngineError(.nullPointer, "running is NULL but the network uses batchnorm")
        }
        self.params = params
        self.running = runningCount > 0 ? running : nil
        let ownState = state == nil
        let total = (ownState ? 4 : 2) * parameterCount + runningCount
        guard let raw = calloc(max(total, 1), MemoryLayout<T>.stride) else {
            throw EngineError(.outOfMemory, "could not allocate the trainer's \(total) elements")
        }
        owned = raw.bindMemory(to: T.self, capacity: total)
        grads = owned
        best = owned + parameterCount
        bestRunning = owned + 2 * parameterCount
        if let state {
            state1 = state
            state2 = state + parameterCount
        } else {
            state1 = owned + 2 * parameterCount + runningCount
            state2 = state1 + parameterCount
        }
        tableCount = 4 * sizes.count + 2 * spec.hiddenCount
        guard let t = calloc(max(tableCount, 1), MemoryLayout<UnsafeMutablePointer<T>?>.stride) else {
            free(raw)
            throw EngineError(.outOfMemory, "could not allocate the trainer's tables")
        }
        tables = t.bindMemory(to: UnsafeMutablePointer<T>?.self, capacity: tableCount)
        var offset = 0
        var nonWeights: [Range<Int>] = []
        for (i, size) in sizes.enumerated() {
            tables[i] = params + offset
            tables[sizes.count + i] = grads + offset
            tables[2 * sizes.count + 2 * spec.hiddenCount + i] = state1 + offset
            tables[3 * sizes.count + 2 * spec.hiddenCount + i] = state2 + offset
            if i >= 2 * spec.layerCount || i % 2 == 1 { nonWeights.append(offset..<(offset + size)) }
            offset += size
        }
        self.nonWeights = nonWeights
        if let running = self.running {
            var at = 0
            for l in 0..<spec.hiddenCount {
                let h = spec.dims[l + 1]
                tables[2 * sizes.count + 2 * l] = running + at
                tables[2 * sizes.count + 2 * l + 1] = running + at + h
                at += 2 * h
            }
        }
        snapshotBest()
        if profiling { phaseClock.reset() }
    }

    deinit {
        if profiling {
            // write(2) rather than fputs(stderr): Swift 6 refuses the C global `stderr`.
            let report = phaseClock.report(helpers: engineThreads - 1) + "\n"
            _ = report.withCString { write(2, $0, strlen($0)) }
        }
        free(owned); free(tables)
        free(batchX); free(batchY); free(sampleX); free(sampleY); free(evalScores)
        prefetch.deallocate()
    }

    public func setOptimizer(_ rule: UpdateRule, _ hyper: UpdateHyperparameters, reg: Double) {
        self.rule = rule
        self.hyper = hyper
        self.reg = reg
        state1.update(repeating: 0, count: parameterCount)
        state2.update(repeating: 0, count: parameterCount)
    }

    public func setSchedule(_ schedule: Schedule, decay: Double, warmup: Int, totalIterations: Int, patience: Int) {
        self.schedule = schedule
        self.decay = decay
        self.warmup = warmup
        self.totalIterations = totalIterations
        self.patience = patience
    }

    /// Binds the data (caller-owned, must outlive the training calls) and sizes the buffers.
    public func setData(xTrain: UnsafePointer<T>, yTrain: UnsafePointer<Int64>, nTrain: Int,
                        xVal: UnsafePointer<T>, yVal: UnsafePointer<Int64>, nVal: Int, d: Int,
                        batch: Int, trainSamples: Int, seed: UInt64) throws(EngineError) {
        let spec = plan.spec
        guard d == spec.dims[0] else {
            throw EngineError(.shapeMismatch, "d = \(d) but the network takes \(spec.dims[0]) input features")
        }
        try checkLabels(yTrain, n: nTrain, c: spec.classes, name: "y_train")
        try checkLabels(yVal, n: nVal, c: spec.classes, name: "y_val")
        let samples = min(trainSamples, nTrain)
        func alloc<U>(_ count: Int, _ what: String) throws(EngineError) -> UnsafeMutablePointer<U> {
            let (bytes, overflow) = count.multipliedReportingOverflow(by: MemoryLayout<U>.stride)
            guard !overflow, let raw = malloc(max(bytes, 1)) else {
                throw EngineError(.outOfMemory, "could not allocate \(what) (\(count) elements)")
            }
            return raw.bindMemory(to: U.self, capacity: count)
        }
        let bx: UnsafeMutablePointer<T> = try alloc(2 * batch * d, "the minibatches")
        let by: UnsafeMutablePointer<Int64> = try alloc(2 * batch, "the minibatch labels")
        let sx: UnsafeMutablePointer<T> = try alloc(samples * d, "the accuracy sample")
        let sy: UnsafeMutablePointer<Int64> = try alloc(samples, "the accuracy sample labels")
        let sc: UnsafeMutablePointer<T> = try alloc(Self.evalChunk * spec.classes, "the scores")
        free(batchX); free(batchY); free(sampleX); free(sampleY); free(evalScores)
        (batchX, batchY, sampleX, sampleY, evalScores) = (bx, by, sx, sy, sc)
        (self.xTrain, self.yTrain, self.nTrain) = (xTrain, yTrain, nTrain)
        (self.xVal, self.yVal, self.nVal) = (xVal, yVal, nVal)
        (self.d, self.batch, self.trainSamples) = (d, batch, samples)
        seeds = (splitMix64(seed: seed, index: 0), splitMix64(seed: seed, index: 1), splitMix64(seed: seed, index: 2))
        iteration = 0; epoch = 0; decayFactor = 1; checks = 0
        bestValidationAccuracy = -1; checksWithoutImprovement = 0; stopped = false
    }

    public var iterationsPerEpoch: Int { max(nTrain / max(batch, 1), 1) }

    /// Continues a run: the next step is `iteration`, `epoch` epochs are done and the best
    /// validation accuracy so far is `bestValidationAccuracy`. With the same data, seed and
    /// optimizer state the run then goes on exactly as an uninterrupted one would.
    public func setProgress(iteration: Int, epoch: Int, bestValidationAccuracy: Double) {
        self.iteration = iteration
        self.epoch = epoch
        // Multiplied up epoch by epoch as the uninterrupted run did: pow(decay, epoch) differs
        // from that product in the last bits.
        decayFactor = 1
        if schedule == .step { for _ in 0..<max(epoch, 0) { decayFactor *= decay } }
        checks = iteration > 0 ? epoch + 1 : 0
        self.bestValidationAccuracy = bestValidationAccuracy
        checksWithoutImprovement = 0
        stopped = false
        snapshotBest()
    }

    /// The learning rate of the next step.
    public var learningRate: Double {
        var factor = decayFactor
        if iteration < warmup {
            factor *= Double(iteration + 1) / Double(warmup)
        } else if schedule == .cosine {
            let span = totalIterations - warmup
            if span > 0 {
                let progress = min(max(Double(iteration - warmup) / Double(span), 0), 1)
                factor *= 0.5 * (1 + cos(Double.pi * progress))
            }
        }
        return hyper.learningRate * factor
    }

    /// Runs up to maxSteps steps, stopping early at the end of an epoch; losses (maxSteps)
    /// receives each step's loss. Returns (steps run, whether an epoch ended).
    @_specialize(exported: true, where T == Float)
    @_specialize(exported: true, where T == Double)
    public func run(maxSteps: Int, losses: UnsafeMutablePointer<Double>?) throws(EngineError) -> (steps: Int, epochEnded: Bool) {
        guard let xTrain, let yTrain, let batchX, let batchY else {
            throw EngineError(.badValue, "the trainer has no data: call snn_trainer_set_data first")
        }
        let sizes = plan.parameterSizes.count
        let paramTable = try PointerTable(UnsafePointer(tables), count: sizes, name: "params")
        let gradTable = try PointerTable(UnsafePointer(tables + sizes), count: sizes, name: "grads")
        let runningTable = running == nil ? nil
            : try PointerTable(UnsafePointer(tables + 2 * sizes), count: 2 * plan.spec.hiddenCount, name: "running")
        let states = tables + 2 * sizes + 2 * plan.spec.hiddenCount
        let stateTable1 = rule.stateCount > 0 ? try PointerTable(UnsafePointer(states), count: sizes, name: "state") : nil
        let stateTable2 = rule.stateCount > 1
            ? try PointerTable(UnsafePointer(states + sizes), count: sizes, name: "state") : nil
        func rows(ofStep step: Int, into slot: Int) -> MinibatchRows<T> {
            MinibatchRows(x: xTrain, y: yTrain, n: nTrain, d: d, batchX: batchX + slot * batch * d,
                          batchY: batchY + slot * batch, seed: seeds.batch, first: UInt64(step * batch))
        }
        var done = 0
        var slot = 0, ready = false   // the minibatch buffer of this step, and whether it is filled
        lap(.outside)
        while done < maxSteps && !stopped {
            if !ready {
                // Rows of a whole batch are megabytes from all over the data set: both cores copy.
                forEachPiece(of: batch, minimum: max(1, (1 << 16) / d), alignment: 1, rows(ofStep: iteration, into: slot))
            }
            lap(.sample)
            // The next step's rows are copied into the other buffer by the helpers between their
            // jobs in this step: the main thread's serial work leaves them idle for a while.
            var offered = false
            if let team, done + 1 < maxSteps, (iteration + 1) % iterationsPerEpoch != 0 {
                prefetch.initialize(to: rows(ofStep: iteration + 1, into: 1 - slot))
                offered = team.offer(UnsafeRawPointer(prefetch), count: batch, MinibatchRows<T>.runRow)
            }
            var h = hyper
            h.learningRate = learningRate
            h.t = iteration + 1
            // The update runs inside backward (see NetworkPlan.loss): plain SGD accumulated into
            // the weight matrices by their dW GEMMs, any other rule on each block of dW as it is made.
            let fused = rule == .sgd
            let loss: Double
            do {
                loss = try plan.loss(x: batchX + slot * batch * d, y: batchY + slot * batch, n: batch,
                                     params: paramTable, grads: gradTable,
                                     running: runningTable, scoresOut: nil, reg: reg, norm: NormSettings(),
                                     seed: splitMix64(seed: seeds.dropout, index: UInt64(iteration)),
                                     fusedSGD: fused ? h.learningRate : nil,
                                     fused: fused ? nil : FusedUpdate(rule: rule, hyper: h, state1: stateTable1,
                                                                      state2: stateTable2))
            } catch {
                if offered { team?.finishBackground() }
                throw EngineError(error.status, "iteration \(iteration + 1): \(error.message)")
            }
            losses?[done] = loss
            lap(.elementwise)
            if fused {
                for r in nonWeights {
                    updateStep(.sgd, w: params + r.lowerBound, dw: grads + r.lowerBound, s1: nil, s2: nil,
                               count: r.count, h)
                }
            }
            lap(.update)
            if offered {
                team?.finishBackground()
                slot = 1 - slot
            }
            lap(.prefetchWait)
            if profiling { phaseClock.steps += 1 }
            ready = offered
            iteration += 1
            done += 1
            if iteration % iterationsPerEpoch == 0 {
                epoch += 1
                if schedule == .step { decayFactor *= decay }
                return (done, true)
            }
        }
        return (done, false)
    }

    /// Accuracy on `trainSamples` sampled training rows and on every validation row; keeps a
    /// snapshot of the parameters when validation accuracy improves, and stops training after
    /// `patience` checks without improvement.
    @_specialize(exported: true, where T == Float)
    @_specialize(exported: true, where T == Double)
    public func evaluate() throws(EngineError) -> (train: Double, validation: Double, improved: Bool) {
        guard let xTrain, let yTrain, let xVal, let yVal, let sampleX, let sampleY else {
            throw EngineError(.badValue, "the trainer has no data: call snn_trainer_set_data first")
        }
        for i in 0..<trainSamples {
            let row = trainSamples == nTrain ? i
                : randomIndex(splitMix64(seed: seeds.sample, index: UInt64(checks * trainSamples + i)), below: nTrain)
            (sampleX + i * d).update(from: xTrain + row * d, count: d)
            sampleY[i] = yTrain[row]
        }
        checks += 1
        let trainAcc = try accuracy(x: UnsafePointer(sampleX), y: UnsafePointer(sampleY), n: trainSamples)
        let valAcc = try accuracy(x: xVal, y: yVal, n: nVal)
        let improved = valAcc > bestValidationAccuracy
        if improved {
            bestValidationAccuracy = valAcc
            checksWithoutImprovement = 0
            snapshotBest()
        } else {
            checksWithoutImprovement += 1
            if patience > 0 && checksWithoutImprovement >= patience { stopped = true }
        }
        return (trainAcc, valAcc, improved)
    }

    /// The fraction of rows of x (n, d) whose highest score is their label, in chunks.
    public func accuracy(x: UnsafePointer<T>, y: UnsafePointer<Int64>, n: Int) throws(EngineError) -> Double {
        guard let scores = evalScores else { return 0 }
        let sizes = plan.parameterSizes.count
        let paramTable = try PointerTable(UnsafePointer(tables), count: sizes, name: "params")
        let runningTable = running == nil ? nil
            : try PointerTable(UnsafePointer(tables + 2 * sizes), count: 2 * plan.spec.hiddenCount, name: "running")
        let c = plan.spec.classes
        var correct = 0
        var start = 0
        while start < n {
            let rows = min(Self.evalChunk, n - start)
            _ = try plan.loss(x: x + start * d, y: nil, n: rows, params: paramTable, grads: nil, running: runningTable,
                              scoresOut: scores, reg: 0, norm: NormSettings(), seed: 0)
            for i in 0..<rows {
                let row = scores + i * c
                var top = 0
                for j in 1..<c where row[j] > row[top] { top = j }
                if Int64(top) == y[start + i] { correct += 1 }
            }
            start += rows
        }
        return n > 0 ? Double(correct) / Double(n) : 0
    }

    func snapshotBest() {
        best.update(from: params, count: parameterCount)
        if let running { bestRunning.update(from: running, count: runningCount) }
    }

    /// Copies the best snapshot into the bound parameter (and running statistics) buffers.
    public func restoreBest() {
        params.update(from: best, count: parameterCount)
        if let running { running.update(from: bestRunning, count: runningCount) }
    }
}
