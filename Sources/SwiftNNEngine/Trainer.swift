// The native training loop: minibatch sampling, the whole-network plan, one update over the
// flat parameter buffer, learning-rate schedule, accuracy checks, best-parameter snapshot and
// early stopping, all in Swift. The caller crosses the ABI once per chunk of steps or epoch.
//
// Randomness (documented, so a test can reproduce it): with s = the trainer's seed,
//   minibatch row i of step k  = ⌊splitMix64(splitMix64(s, 0), k·batch + i) · nTrain / 2⁶⁴⌋
//   dropout seed of step k     = splitMix64(splitMix64(s, 1), k)      (then per layer as the plan)
//   train-accuracy row i of check e = ⌊splitMix64(splitMix64(s, 2), e·samples + i) · nTrain / 2⁶⁴⌋
// With the epoch orders (Sampling.shuffled / .ordered) an epoch instead visits every training row
// once, in ⌈nTrain / batch⌉ steps (the last one shorter): in the order of the permutation of epoch
// e, made by Fisher-Yates with swap k (k = 0, 1, ...) of position i = nTrain−1−k with position
//   ⌊splitMix64(splitMix64(s, 0), e·nTrain + k) · (i + 1) / 2⁶⁴⌋, or in the rows' own order.
#if canImport(Glibc)
import Glibc
#endif

public enum Schedule: Int32 {
    /// lr × decay at every epoch end (the course's lr_decay).
    case step = 0
    /// Cosine annealing from the base rate to 0 over the run, after any warm-up.
    case cosine = 1
}

/// Which rows make a minibatch.
public enum Sampling: Int32 {
    /// Every step draws `batch` rows with replacement (the course Solver's sampling).
    case replacement = 0
    /// Every epoch visits every row once, in a new random order (scikit-learn's shuffle=True).
    case shuffled = 1
    /// Every epoch visits every row once, in their order (scikit-learn's shuffle=False).
    case ordered = 2
}

/// Uniform index in [0, n) from 64 random bits (Lemire's multiply-shift).
@inlinable
public func randomIndex(_ bits: UInt64, below n: Int) -> Int {
    Int(bits.multipliedFullWidth(by: UInt64(n)).high)
}

/// Copies minibatch rows: row i is training row order[first + i] when an order is given, else
/// ⌊splitMix64(seed, first + i) · n / 2⁶⁴⌋. With them its label, or its c targets, and its weight.
struct MinibatchRows<T: Scalar>: PieceWork {
    let x: UnsafePointer<T>, y: UnsafePointer<Int64>?, n: Int, d: Int
    let batchX: UnsafeMutablePointer<T>, batchY: UnsafeMutablePointer<Int64>
    let seed: UInt64, first: UInt64
    var order: UnsafePointer<Int>? = nil
    var targets: UnsafePointer<T>? = nil, batchTargets: UnsafeMutablePointer<T>? = nil, c = 0
    var weights: UnsafePointer<T>? = nil, batchWeights: UnsafeMutablePointer<T>? = nil

    func callAsFunction(_ rows: Range<Int>) {
        for i in rows {
            let row = order.map { $0[Int(first) + i] }
                ?? randomIndex(splitMix64(seed: seed, index: first + UInt64(i)), below: n)
            (batchX + i * d).update(from: x + row * d, count: d)
            if let y { batchY[i] = y[row] }
            if let targets, let batchTargets { (batchTargets + i * c).update(from: targets + row * c, count: c) }
            if let weights, let batchWeights { batchWeights[i] = weights[row] }
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
    // Squared-error targets (n, outputs) in place of labels, and per-row weights; caller-owned.
    var tTrain: UnsafePointer<T>?, tVal: UnsafePointer<T>?
    var wTrain: UnsafePointer<T>?, wVal: UnsafePointer<T>?
    var batchT: UnsafeMutablePointer<T>?, batchW: UnsafeMutablePointer<T>?   // two minibatches each
    var sampleT: UnsafeMutablePointer<T>?, sampleW: UnsafeMutablePointer<T>?
    public private(set) var sampling: Sampling = .replacement
    /// Divide reg by the minibatch's weight sum (its row count without weights) at every step:
    /// scikit-learn's alpha convention, 0.5·alpha·ΣW² / Σw added to the weighted mean loss.
    var regPerWeight = false
    var order: UnsafeMutablePointer<Int>?          // the row order of epoch orderEpoch
    var orderEpoch = -1
    /// Updates made before the current data were bound (partial fits): Adam's t continues.
    public var updatesBefore = 0
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
        free(batchT); free(batchW); free(sampleT); free(sampleW); free(order)
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
    /// A softmax network takes labels (yTrain, yVal), a squared-error one targets (tTrain, tVal:
    /// n × outputs); wTrain and wVal are optional per-row weights (finite, >= 0).
    public func setData(xTrain: UnsafePointer<T>, yTrain: UnsafePointer<Int64>?, nTrain: Int,
                        xVal: UnsafePointer<T>, yVal: UnsafePointer<Int64>?, nVal: Int, d: Int,
                        batch: Int, trainSamples: Int, seed: UInt64,
                        tTrain: UnsafePointer<T>? = nil, tVal: UnsafePointer<T>? = nil,
                        wTrain: UnsafePointer<T>? = nil, wVal: UnsafePointer<T>? = nil) throws(EngineError) {
        let spec = plan.spec
        guard d == spec.dims[0] else {
            throw EngineError(.shapeMismatch, "d = \(d) but the network takes \(spec.dims[0]) input features")
        }
        guard nTrain >= 1 else { throw EngineError(.badSize, "n_train = 0: there is nothing to train on") }
        switch spec.loss {
        case .softmax:
            guard let yTrain else { throw EngineError(.nullPointer, "y_train is NULL: a softmax network takes labels") }
            guard let yVal else { throw EngineError(.nullPointer, "y_val is NULL: a softmax network takes labels") }
            try checkLabels(yTrain, n: nTrain, c: spec.classes, name: "y_train")
            try checkLabels(yVal, n: nVal, c: spec.classes, name: "y_val")
        case .squared:
            guard tTrain != nil else { throw EngineError(.nullPointer, "t_train is NULL: a squared-error network takes targets") }
            guard tVal != nil else { throw EngineError(.nullPointer, "t_val is NULL: a squared-error network takes targets") }
        }
        if let wTrain { _ = try inverseWeightSum(wTrain, n: nTrain, name: "w_train") }
        if let wVal, nVal > 0 { _ = try inverseWeightSum(wVal, n: nVal, name: "w_val") }
        let samples = min(trainSamples, nTrain)
        let c = spec.classes
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
        let bt: UnsafeMutablePointer<T>? = tTrain == nil ? nil : try alloc(2 * batch * c, "the minibatch targets")
        let bw: UnsafeMutablePointer<T>? = wTrain == nil ? nil : try alloc(2 * batch, "the minibatch weights")
        let st: UnsafeMutablePointer<T>? = tTrain == nil ? nil : try alloc(samples * c, "the accuracy sample targets")
        let sw: UnsafeMutablePointer<T>? = wTrain == nil ? nil : try alloc(samples, "the accuracy sample weights")
        let ord: UnsafeMutablePointer<Int> = try alloc(nTrain, "the row order")
        free(batchX); free(batchY); free(sampleX); free(sampleY); free(evalScores)
        free(batchT); free(batchW); free(sampleT); free(sampleW); free(order)
        (batchX, batchY, sampleX, sampleY, evalScores) = (bx, by, sx, sy, sc)
        (batchT, batchW, sampleT, sampleW, order, orderEpoch) = (bt, bw, st, sw, ord, -1)
        (self.xTrain, self.yTrain, self.nTrain) = (xTrain, yTrain, nTrain)
        (self.xVal, self.yVal, self.nVal) = (xVal, yVal, nVal)
        (self.tTrain, self.tVal, self.wTrain, self.wVal) = (tTrain, tVal, wTrain, wVal)
        (self.d, self.batch, self.trainSamples) = (d, batch, samples)
        seeds = (splitMix64(seed: seed, index: 0), splitMix64(seed: seed, index: 1), splitMix64(seed: seed, index: 2))
        iteration = 0; epoch = 0; decayFactor = 1; checks = 0
        bestValidationAccuracy = -1; checksWithoutImprovement = 0; stopped = false
    }

    public var iterationsPerEpoch: Int {
        sampling == .replacement ? max(nTrain / max(batch, 1), 1) : max((nTrain + batch - 1) / max(batch, 1), 1)
    }

    /// How minibatches are drawn, and whether reg is divided by each minibatch's weight sum.
    public func setSampling(_ sampling: Sampling, regPerWeight: Bool) {
        self.sampling = sampling
        self.regPerWeight = regPerWeight
        orderEpoch = -1
    }

    /// Makes `order` the row order of epoch e (see the top of this file).
    func prepareOrder(epoch e: Int) {
        guard let order, orderEpoch != e else { return }
        for i in 0..<nTrain { order[i] = i }
        if sampling == .shuffled && nTrain > 1 {
            for k in 0..<(nTrain - 1) {
                let i = nTrain - 1 - k
                let j = randomIndex(splitMix64(seed: seeds.batch, index: UInt64(e * nTrain + k)), below: i + 1)
                (order[i], order[j]) = (order[j], order[i])
            }
        }
        orderEpoch = e
    }

    /// The training rows step `step` takes: `batch`, or fewer at an epoch's end.
    func rowCount(ofStep step: Int) -> Int {
        sampling == .replacement ? batch : min(batch, nTrain - (step % iterationsPerEpoch) * batch)
    }

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
        guard let xTrain, let batchX, let batchY else {
            throw EngineError(.badValue, "the trainer has no data: call snn_trainer_set_data first")
        }
        let sizes = plan.parameterSizes.count
        let paramTable = try PointerTable(UnsafePointer(tables), count: sizes, name: "params")
        let gradTable = try PointerTable(UnsafePointer(tables + sizes), count: sizes, name: "grads")
        let runningTable = running == nil ? nil
            : try PointerTable(UnsafePointer(tables + 2 * sizes), count: 2 * plan.spec.hiddenCount, name: "running")
        let c = plan.spec.classes
        let states = tables + 2 * sizes + 2 * plan.spec.hiddenCount
        let stateTable1 = rule.stateCount > 0 ? try PointerTable(UnsafePointer(states), count: sizes, name: "state") : nil
        let stateTable2 = rule.stateCount > 1
            ? try PointerTable(UnsafePointer(states + sizes), count: sizes, name: "state") : nil
        func rows(ofStep step: Int, into slot: Int) -> MinibatchRows<T> {
            let epochOrder = sampling != .replacement
            return MinibatchRows(x: xTrain, y: yTrain, n: nTrain, d: d, batchX: batchX + slot * batch * d,
                                 batchY: batchY + slot * batch, seed: seeds.batch,
                                 first: UInt64(epochOrder ? (step % iterationsPerEpoch) * batch : step * batch),
                                 order: epochOrder ? UnsafePointer(order) : nil,
                                 targets: tTrain, batchTargets: batchT.map { $0 + slot * batch * c }, c: c,
                                 weights: wTrain, batchWeights: batchW.map { $0 + slot * batch })
        }
        var done = 0
        var slot = 0, ready = false   // the minibatch buffer of this step, and whether it is filled
        lap(.outside)
        while done < maxSteps && !stopped {
            if sampling != .replacement { prepareOrder(epoch: iteration / iterationsPerEpoch) }
            let n = rowCount(ofStep: iteration)
            if !ready {
                // Rows of a whole batch are megabytes from all over the data set: both cores copy.
                forEachPiece(of: n, minimum: max(1, (1 << 16) / d), alignment: 1, rows(ofStep: iteration, into: slot))
            }
            lap(.sample)
            // The next step's rows are copied into the other buffer by the helpers between their
            // jobs in this step: the main thread's serial work leaves them idle for a while.
            var offered = false
            if let team = activeTeam, done + 1 < maxSteps, (iteration + 1) % iterationsPerEpoch != 0 {
                prefetch.initialize(to: rows(ofStep: iteration + 1, into: 1 - slot))
                offered = team.offer(UnsafeRawPointer(prefetch), count: rowCount(ofStep: iteration + 1),
                                     MinibatchRows<T>.runRow)
            }
            var h = hyper
            h.learningRate = learningRate
            h.t = updatesBefore + iteration + 1
            let stepWeights = batchW.map { UnsafePointer($0 + slot * batch) }
            var stepReg = reg
            if regPerWeight && reg != 0 {
                var sum = 0.0
                if let stepWeights { for i in 0..<n { sum += Double(stepWeights[i]) } } else { sum = Double(n) }
                // A minibatch of zero weights has no loss to regularize: the plan refuses it below.
                stepReg = sum > 0 ? reg / sum : reg
            }
            // The update runs inside backward (see NetworkPlan.loss): plain SGD accumulated into
            // the weight matrices by their dW GEMMs, any other rule on each block of dW as it is made.
            let fused = rule == .sgd
            let loss: Double
            do {
                loss = try plan.loss(x: batchX + slot * batch * d, y: yTrain == nil ? nil : batchY + slot * batch, n: n,
                                     params: paramTable, grads: gradTable,
                                     running: runningTable, scoresOut: nil, reg: stepReg, norm: NormSettings(),
                                     seed: splitMix64(seed: seeds.dropout, index: UInt64(iteration)),
                                     fusedSGD: fused ? h.learningRate : nil,
                                     fused: fused ? nil : FusedUpdate(rule: rule, hyper: h, state1: stateTable1,
                                                                      state2: stateTable2),
                                     targets: batchT.map { UnsafePointer($0 + slot * batch * c) }, weights: stepWeights)
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
        guard let xTrain, let xVal, let sampleX, let sampleY else {
            throw EngineError(.badValue, "the trainer has no data: call snn_trainer_set_data first")
        }
        let c = plan.spec.classes
        for i in 0..<trainSamples {
            let row = trainSamples == nTrain ? i
                : randomIndex(splitMix64(seed: seeds.sample, index: UInt64(checks * trainSamples + i)), below: nTrain)
            (sampleX + i * d).update(from: xTrain + row * d, count: d)
            if let yTrain { sampleY[i] = yTrain[row] }
            if let tTrain, let sampleT { (sampleT + i * c).update(from: tTrain + row * c, count: c) }
            if let wTrain, let sampleW { sampleW[i] = wTrain[row] }
        }
        checks += 1
        let trainAcc = try score(x: UnsafePointer(sampleX), y: yTrain == nil ? nil : UnsafePointer(sampleY),
                                 targets: sampleT.map { UnsafePointer($0) }, weights: sampleW.map { UnsafePointer($0) },
                                 n: trainSamples)
        let valAcc = try score(x: xVal, y: yVal, targets: tVal, weights: wVal, n: nVal)
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

    /// The score of x (n, d): accuracy against labels y, or R² against targets (n, outputs), the
    /// uniform average over outputs, as scikit-learn's score methods; weighted by `weights` when
    /// given. An output whose targets are all equal scores 1 when predicted exactly, else 0.
    public func score(x: UnsafePointer<T>, y: UnsafePointer<Int64>?, targets: UnsafePointer<T>?,
                      weights: UnsafePointer<T>?, n: Int) throws(EngineError) -> Double {
        if let y { return try accuracy(x: x, y: y, n: n, weights: weights) }
        guard let targets, let scores = evalScores, n > 0 else { return 0 }
        let c = plan.spec.classes
        func w(_ i: Int) -> Double { weights.map { Double($0[i]) } ?? 1 }
        var mean = [Double](repeating: 0, count: c), weightSum = 0.0
        for i in 0..<n {
            weightSum += w(i)
            for j in 0..<c { mean[j] += w(i) * Double(targets[i * c + j]) }
        }
        guard weightSum > 0 else { return 0 }
        for j in 0..<c { mean[j] /= weightSum }
        var residual = [Double](repeating: 0, count: c), total = [Double](repeating: 0, count: c)
        try forEachScoreChunk(x: x, n: n, into: scores) { start, rows in
            for i in 0..<rows {
                for j in 0..<c {
                    let t = Double(targets[(start + i) * c + j])
                    let e = t - Double(scores[i * c + j]), m = t - mean[j]
                    residual[j] += w(start + i) * e * e
                    total[j] += w(start + i) * m * m
                }
            }
        }
        var r2 = 0.0
        for j in 0..<c { r2 += total[j] > 0 ? 1 - residual[j] / total[j] : (residual[j] == 0 ? 1 : 0) }
        return r2 / Double(c)
    }

    /// Runs the network in test mode on x (n, d) in chunks, calling body(first row, rows) with
    /// each chunk's scores in `scores`.
    func forEachScoreChunk(x: UnsafePointer<T>, n: Int, into scores: UnsafeMutablePointer<T>,
                           _ body: (Int, Int) -> Void) throws(EngineError) {
        let sizes = plan.parameterSizes.count
        let paramTable = try PointerTable(UnsafePointer(tables), count: sizes, name: "params")
        let runningTable = running == nil ? nil
            : try PointerTable(UnsafePointer(tables + 2 * sizes), count: 2 * plan.spec.hiddenCount, name: "running")
        var start = 0
        while start < n {
            let rows = min(Self.evalChunk, n - start)
            _ = try plan.loss(x: x + start * d, y: nil, n: rows, params: paramTable, grads: nil, running: runningTable,
                              scoresOut: scores, reg: 0, norm: NormSettings(), seed: 0)
            body(start, rows)
            start += rows
        }
    }

    /// The fraction of rows of x (n, d) whose highest score is their label (the weighted
    /// fraction with weights), in chunks.
    public func accuracy(x: UnsafePointer<T>, y: UnsafePointer<Int64>, n: Int,
                         weights: UnsafePointer<T>? = nil) throws(EngineError) -> Double {
        guard let scores = evalScores else { return 0 }
        if let weights {
            let c = plan.spec.classes
            var right = 0.0, all = 0.0
            try forEachScoreChunk(x: x, n: n, into: scores) { start, rows in
                for i in 0..<rows {
                    let row = scores + i * c
                    var top = 0
                    for j in 1..<c where row[j] > row[top] { top = j }
                    let w = Double(weights[start + i])
                    all += w
                    if Int64(top) == y[start + i] { right += w }
                }
            }
            return all > 0 ? right / all : 0
        }
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
