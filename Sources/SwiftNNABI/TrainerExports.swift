// Exports of the native trainer. Functions without a precision suffix work on a trainer of
// either precision; the handle knows which it is.
import Glibc
import SwiftNNEngine

/// A trainer of either precision. The precision-free exports switch on it, so every call
/// reaches a trainer specialized for Float or Double, never a generic one.
final class TrainerHandle {
    enum Precision {
        case f32(Trainer<Float>)
        case f64(Trainer<Double>)
    }
    let trainer: Precision
    /// Held for the whole of an export's call: a trainer's buffers and counters are shared
    /// state, so calls on one handle from several threads run one at a time.
    let mutex: UnsafeMutablePointer<pthread_mutex_t>
    init(_ trainer: Precision) {
        self.trainer = trainer
        mutex = .allocate(capacity: 1)
        pthread_mutex_init(mutex, nil)
    }
    deinit {
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
    }

    func configure(rule: UpdateRule, _ hyper: UpdateHyperparameters, reg: Double) {
        switch trainer {
        case .f32(let t): t.setOptimizer(rule, hyper, reg: reg)
        case .f64(let t): t.setOptimizer(rule, hyper, reg: reg)
        }
    }

    func configure(schedule: Schedule, decay: Double, warmup: Int, totalIterations: Int, patience: Int) {
        switch trainer {
        case .f32(let t): t.setSchedule(schedule, decay: decay, warmup: warmup, totalIterations: totalIterations, patience: patience)
        case .f64(let t): t.setSchedule(schedule, decay: decay, warmup: warmup, totalIterations: totalIterations, patience: patience)
        }
    }

    func step(maxSteps: Int, losses: UnsafeMutablePointer<Double>?) throws(EngineError) -> (steps: Int, epochEnded: Bool) {
        switch trainer {
        case .f32(let t): return try t.run(maxSteps: maxSteps, losses: losses)
        case .f64(let t): return try t.run(maxSteps: maxSteps, losses: losses)
        }
    }

    func check() throws(EngineError) -> (train: Double, validation: Double, improved: Bool) {
        switch trainer {
        case .f32(let t): return try t.evaluate()
        case .f64(let t): return try t.evaluate()
        }
    }

    func restore() {
        switch trainer {
        case .f32(let t): t.restoreBest()
        case .f64(let t): t.restoreBest()
        }
    }

    func setProgress(iteration: Int, epoch: Int, best: Double) {
        switch trainer {
        case .f32(let t): t.setProgress(iteration: iteration, epoch: epoch, bestValidationAccuracy: best)
        case .f64(let t): t.setProgress(iteration: iteration, epoch: epoch, bestValidationAccuracy: best)
        }
    }

    var progress: (iteration: Int, epoch: Int, learningRate: Double, stopped: Bool) {
        switch trainer {
        case .f32(let t): return (t.iteration, t.epoch, t.learningRate, t.stopped)
        case .f64(let t): return (t.iteration, t.epoch, t.learningRate, t.stopped)
        }
    }
}

extension TrainerHandle {
    /// The trainer as precision T; a trainer of the other precision is refused.
    func typed<T: Scalar>() throws(EngineError) -> Trainer<T> {
        switch trainer {
        case .f32(let f) where T.self == Float.self: return unsafeDowncast(f as AnyObject, to: Trainer<T>.self)
        case .f64(let f) where T.self == Double.self: return unsafeDowncast(f as AnyObject, to: Trainer<T>.self)
        default: throw EngineError(.badHandle, "trainer was created for the other precision")
        }
    }
}

func trainerCreateChecked<T: Scalar>(_ out: UnsafeMutablePointer<UnsafeMutableRawPointer?>?, _ dims: UnsafePointer<Int64>?,
                                     _ count: Int64, _ normalization: Int32, _ keep: Double, _ activation: Int32,
                                     _ leak: Double, _ params: Out<T>, _ running: Out<T>, _ state: Out<T>) -> Int32 {
    guarded { () throws(EngineError) in
        let out = try required(out, "trainer")
        out.pointee = nil
        let spec = try networkSpec(dims, count, normalization, keep, activation, leak)
        let trainer = try Trainer<T>(spec: spec, params: try required(params, "params"), running: running,
                                     state: state)
        if let t = trainer as? Trainer<Float> {
            out.pointee = handles.register(TrainerHandle(.f32(t)))
        } else if let t = trainer as? Trainer<Double> {
            out.pointee = handles.register(TrainerHandle(.f64(t)))
        }
    }
}

@_cdecl("snn_trainer_create_f32")
public func snn_trainer_create_f32(_ trainer: UnsafeMutablePointer<UnsafeMutableRawPointer?>?,
                                   _ dims: UnsafePointer<Int64>?, _ count: Int64, _ normalization: Int32,
                                   _ keep: Double, _ activation: Int32, _ leak: Double,
                                   _ params: Out<Float>, _ running: Out<Float>, _ state: Out<Float>) -> Int32 {
    trainerCreateChecked(trainer, dims, count, normalization, keep, activation, leak, params, running, state)
}

@_cdecl("snn_trainer_create_f64")
public func snn_trainer_create_f64(_ trainer: UnsafeMutablePointer<UnsafeMutableRawPointer?>?,
                                   _ dims: UnsafePointer<Int64>?, _ count: Int64, _ normalization: Int32,
                                   _ keep: Double, _ activation: Int32, _ leak: Double,
                                   _ params: Out<Double>, _ running: Out<Double>, _ state: Out<Double>) -> Int32 {
    trainerCreateChecked(trainer, dims, count, normalization, keep, activation, leak, params, running, state)
}

@_cdecl("snn_trainer_destroy")
public func snn_trainer_destroy(_ trainer: UnsafeMutableRawPointer?) -> Int32 {
    guarded { () throws(EngineError) in
        guard trainer != nil else { return }
        _ = try anyTrainer(trainer)
        try handles.remove(trainer, "trainer")
    }
}

/// Runs an export's body on a live trainer of either precision, holding the trainer's lock.
func exclusive(_ handle: UnsafeMutableRawPointer?, _ body: (TrainerHandle) throws(EngineError) -> Void) -> Int32 {
    guarded { () throws(EngineError) in
        let t = try anyTrainer(handle)
        pthread_mutex_lock(t.mutex)
        defer { pthread_mutex_unlock(t.mutex) }
        try body(t)
    }
}

func anyTrainer(_ handle: UnsafeMutableRawPointer?) throws(EngineError) -> TrainerHandle {
    try handles.lookup(handle, as: TrainerHandle.self, "trainer")
}

@_cdecl("snn_trainer_set_optimizer")
public func snn_trainer_set_optimizer(_ trainer: UnsafeMutableRawPointer?, _ rule: Int32, _ config: UnsafeRawPointer?,
                                      _ reg: Double) -> Int32 {
    exclusive(trainer) { (t: TrainerHandle) throws(EngineError) in
        let rule = try updateRule(rule)
        let h = try hyperparameters(config, rule: rule)
        switch t.trainer {
        case .f32: try checkPrecision(h, rule, Float.self)
        case .f64: try checkPrecision(h, rule, Double.self)
        }
        t.configure(rule: rule, h, reg: try hyperparameter(reg, "reg", low: 0, high: .greatestFiniteMagnitude))
    }
}

@_cdecl("snn_trainer_set_schedule")
public func snn_trainer_set_schedule(_ trainer: UnsafeMutableRawPointer?, _ kind: Int32, _ decay: Double,
                                     _ warmup: Int64, _ totalIterations: Int64, _ patience: Int64) -> Int32 {
    exclusive(trainer) { (t: TrainerHandle) throws(EngineError) in
        guard let schedule = Schedule(rawValue: kind) else {
            throw EngineError(.badValue, "kind = \(kind), expected SNN_SCHEDULE_STEP (0) or SNN_SCHEDULE_COSINE (1)")
        }
        let decay = try hyperparameter(decay, "decay", low: 0, high: .greatestFiniteMagnitude)
        guard warmup >= 0 else { throw EngineError(.badValue, "warmup = \(warmup), expected >= 0") }
        guard totalIterations >= 0 else { throw EngineError(.badValue, "total_iterations = \(totalIterations), expected >= 0") }
        guard patience >= 0 else { throw EngineError(.badValue, "patience = \(patience), expected >= 0 (0 = none)") }
        t.configure(schedule: schedule, decay: decay, warmup: Int(warmup), totalIterations: Int(totalIterations),
                    patience: Int(patience))
    }
}

func trainerSetDataChecked<T: Scalar>(_ trainer: UnsafeMutableRawPointer?, _ xTrain: In<T>, _ yTrain: UnsafePointer<Int64>?,
                                      _ nTrain: Int64, _ xVal: In<T>, _ yVal: UnsafePointer<Int64>?, _ nVal: Int64,
                                      _ d: Int64, _ batch: Int64, _ trainSamples: Int64, _ seed: UInt64) -> Int32 {
    exclusive(trainer) { (handle: TrainerHandle) throws(EngineError) in
        let t: Trainer<T> = try handle.typed()
        let nTrain = try size(nTrain, "n_train"), nVal = try size(nVal, "n_val"), d = try size(d, "d", blas: true)
        let batch = try size(batch, "batch_size", blas: true), samples = try size(trainSamples, "train_samples")
        _ = try elements(nTrain, d, "x_train"); _ = try elements(nVal, d, "x_val"); _ = try elements(batch, d, "the minibatch")
        try t.setData(xTrain: try required(xTrain, "x_train"), yTrain: try required(yTrain, "y_train"), nTrain: nTrain,
                      xVal: try required(xVal, "x_val"), yVal: try required(yVal, "y_val"), nVal: nVal, d: d,
                      batch: batch, trainSamples: samples, seed: seed)
    }
}

@_cdecl("snn_trainer_set_data_f32")
public func snn_trainer_set_data_f32(_ trainer: UnsafeMutableRawPointer?, _ xTrain: In<Float>,
                                     _ yTrain: UnsafePointer<Int64>?, _ nTrain: Int64, _ xVal: In<Float>,
                                     _ yVal: UnsafePointer<Int64>?, _ nVal: Int64, _ d: Int64, _ batch: Int64,
                                     _ trainSamples: Int64, _ seed: UInt64) -> Int32 {
    trainerSetDataChecked(trainer, xTrain, yTrain, nTrain, xVal, yVal, nVal, d, batch, trainSamples, seed)
}

@_cdecl("snn_trainer_set_data_f64")
public func snn_trainer_set_data_f64(_ trainer: UnsafeMutableRawPointer?, _ xTrain: In<Double>,
                                     _ yTrain: UnsafePointer<Int64>?, _ nTrain: Int64, _ xVal: In<Double>,
                                     _ yVal: UnsafePointer<Int64>?, _ nVal: Int64, _ d: Int64, _ batch: Int64,
                                     _ trainSamples: Int64, _ seed: UInt64) -> Int32 {
    trainerSetDataChecked(trainer, xTrain, yTrain, nTrain, xVal, yVal, nVal, d, batch, trainSamples, seed)
}

@_cdecl("snn_trainer_run")
public func snn_trainer_run(_ trainer: UnsafeMutableRawPointer?, _ maxSteps: Int64, _ losses: UnsafeMutablePointer<Double>?,
                            _ stepsDone: UnsafeMutablePointer<Int64>?, _ epochEnded: UnsafeMutablePointer<Int32>?) -> Int32 {
    exclusive(trainer) { (t: TrainerHandle) throws(EngineError) in
        let maxSteps = try size(maxSteps, "max_steps")
        let losses = try required(losses, "losses")
        stepsDone?.pointee = 0
        epochEnded?.pointee = 0
        let before = t.progress.iteration
        do throws(EngineError) {
            let (steps, ended) = try t.step(maxSteps: maxSteps, losses: losses)
            stepsDone?.pointee = Int64(steps)
            epochEnded?.pointee = ended ? 1 : 0
        } catch {
            // The steps before the failing one ran and updated the parameters: say how many,
            // so that the caller keeps their losses and counts its iterations right.
            stepsDone?.pointee = Int64(t.progress.iteration - before)
            throw error
        }
    }
}

@_cdecl("snn_trainer_evaluate")
public func snn_trainer_evaluate(_ trainer: UnsafeMutableRawPointer?, _ trainAcc: UnsafeMutablePointer<Double>?,
                                 _ valAcc: UnsafeMutablePointer<Double>?, _ improved: UnsafeMutablePointer<Int32>?,
                                 _ stop: UnsafeMutablePointer<Int32>?) -> Int32 {
    exclusive(trainer) { (t: TrainerHandle) throws(EngineError) in
        let result = try t.check()
        trainAcc?.pointee = result.train
        valAcc?.pointee = result.validation
        improved?.pointee = result.improved ? 1 : 0
        stop?.pointee = t.progress.stopped ? 1 : 0
    }
}

@_cdecl("snn_trainer_restore_best")
public func snn_trainer_restore_best(_ trainer: UnsafeMutableRawPointer?) -> Int32 {
    exclusive(trainer) { (t: TrainerHandle) throws(EngineError) in t.restore() }
}

@_cdecl("snn_trainer_state")
public func snn_trainer_state(_ trainer: UnsafeMutableRawPointer?, _ iteration: UnsafeMutablePointer<Int64>?,
                              _ epoch: UnsafeMutablePointer<Int64>?, _ learningRate: UnsafeMutablePointer<Double>?) -> Int32 {
    exclusive(trainer) { (t: TrainerHandle) throws(EngineError) in
        let p = t.progress
        iteration?.pointee = Int64(p.iteration)
        epoch?.pointee = Int64(p.epoch)
        learningRate?.pointee = p.learningRate
    }
}

@_cdecl("snn_trainer_set_progress")
public func snn_trainer_set_progress(_ trainer: UnsafeMutableRawPointer?, _ iteration: Int64, _ epoch: Int64,
                                     _ bestValAcc: Double) -> Int32 {
    exclusive(trainer) { (t: TrainerHandle) throws(EngineError) in
        guard iteration >= 0, epoch >= 0 else {
            throw EngineError(.badValue, "iteration = \(iteration), epoch = \(epoch), expected both >= 0")
        }
        let best = try hyperparameter(bestValAcc, "best_val_acc", low: -1, high: 1)
        t.setProgress(iteration: Int(iteration), epoch: Int(epoch), best: best)
    }
}

extension TrainerHandle {
    func setLoss(_ kind: LossKind) {
        switch trainer {
        case .f32(let t): t.plan.setLoss(kind)
        case .f64(let t): t.plan.setLoss(kind)
        }
    }

    func setSampling(_ sampling: Sampling, regPerWeight: Bool) {
        switch trainer {
        case .f32(let t): t.setSampling(sampling, regPerWeight: regPerWeight)
        case .f64(let t): t.setSampling(sampling, regPerWeight: regPerWeight)
        }
    }

    func setUpdatesBefore(_ count: Int) {
        switch trainer {
        case .f32(let t): t.updatesBefore = count
        case .f64(let t): t.updatesBefore = count
        }
    }
}

@_cdecl("snn_trainer_set_loss")
public func snn_trainer_set_loss(_ trainer: UnsafeMutableRawPointer?, _ loss: Int32) -> Int32 {
    exclusive(trainer) { (t: TrainerHandle) throws(EngineError) in t.setLoss(try lossKind(loss)) }
}

@_cdecl("snn_trainer_set_sampling")
public func snn_trainer_set_sampling(_ trainer: UnsafeMutableRawPointer?, _ order: Int32, _ regPerWeight: Int32) -> Int32 {
    exclusive(trainer) { (t: TrainerHandle) throws(EngineError) in
        guard let sampling = Sampling(rawValue: order) else {
            throw EngineError(.badValue, "order = \(order), expected SNN_SAMPLE_REPLACEMENT (0), SNN_SAMPLE_SHUFFLED (1) or SNN_SAMPLE_ORDERED (2)")
        }
        guard regPerWeight == 0 || regPerWeight == 1 else {
            throw EngineError(.badValue, "reg_per_weight = \(regPerWeight), expected 0 or 1")
        }
        t.setSampling(sampling, regPerWeight: regPerWeight == 1)
    }
}

@_cdecl("snn_trainer_set_updates_before")
public func snn_trainer_set_updates_before(_ trainer: UnsafeMutableRawPointer?, _ updates: Int64) -> Int32 {
    exclusive(trainer) { (t: TrainerHandle) throws(EngineError) in
        guard updates >= 0 && updates < Int64(1) << 62 else {
            throw EngineError(.badValue, "updates = \(updates), expected a count in [0, 2^62)")
        }
        t.setUpdatesBefore(Int(updates))
    }
}

func trainerSetDataWeightedChecked<T: Scalar>(_ trainer: UnsafeMutableRawPointer?, _ xTrain: In<T>,
                                              _ yTrain: UnsafePointer<Int64>?, _ tTrain: In<T>, _ wTrain: In<T>,
                                              _ nTrain: Int64, _ xVal: In<T>, _ yVal: UnsafePointer<Int64>?,
                                              _ tVal: In<T>, _ wVal: In<T>, _ nVal: Int64, _ d: Int64,
                                              _ batch: Int64, _ trainSamples: Int64, _ seed: UInt64) -> Int32 {
    exclusive(trainer) { (handle: TrainerHandle) throws(EngineError) in
        let t: Trainer<T> = try handle.typed()
        let nTrain = try size(nTrain, "n_train"), d = try size(d, "d", blas: true)
        guard nVal >= 0 else { throw EngineError(.badSize, "n_val = \(nVal), expected a size >= 0") }
        let nVal = Int(nVal)
        let batch = try size(batch, "batch_size", blas: true), samples = try size(trainSamples, "train_samples")
        _ = try elements(nTrain, d, "x_train"); _ = try elements(nVal, d, "x_val"); _ = try elements(batch, d, "the minibatch")
        let outputs = t.plan.spec.classes
        _ = try elements(nTrain, outputs, "t_train"); _ = try elements(batch, outputs, "the minibatch targets")
        let xTrain = try required(xTrain, "x_train")
        // No validation rows: the pointers are never read, so any valid address will do.
        let xVal = nVal == 0 ? xVal ?? xTrain : try required(xVal, "x_val")
        let yVal = nVal == 0 && yTrain != nil ? yVal ?? yTrain : yVal
        let tVal = nVal == 0 && tTrain != nil ? tVal ?? tTrain : tVal
        try t.setData(xTrain: xTrain, yTrain: yTrain, nTrain: nTrain, xVal: xVal, yVal: yVal, nVal: nVal, d: d,
                      batch: batch, trainSamples: samples, seed: seed, tTrain: tTrain, tVal: tVal,
                      wTrain: wTrain, wVal: nVal == 0 ? nil : wVal)
    }
}

@_cdecl("snn_trainer_set_data_weighted_f32")
public func snn_trainer_set_data_weighted_f32(_ trainer: UnsafeMutableRawPointer?, _ xTrain: In<Float>,
                                              _ yTrain: UnsafePointer<Int64>?, _ tTrain: In<Float>, _ wTrain: In<Float>,
                                              _ nTrain: Int64, _ xVal: In<Float>, _ yVal: UnsafePointer<Int64>?,
                                              _ tVal: In<Float>, _ wVal: In<Float>, _ nVal: Int64, _ d: Int64,
                                              _ batch: Int64, _ trainSamples: Int64, _ seed: UInt64) -> Int32 {
    trainerSetDataWeightedChecked(trainer, xTrain, yTrain, tTrain, wTrain, nTrain, xVal, yVal, tVal, wVal, nVal, d,
                                  batch, trainSamples, seed)
}

@_cdecl("snn_trainer_set_data_weighted_f64")
public func snn_trainer_set_data_weighted_f64(_ trainer: UnsafeMutableRawPointer?, _ xTrain: In<Double>,
                                              _ yTrain: UnsafePointer<Int64>?, _ tTrain: In<Double>, _ wTrain: In<Double>,
                                              _ nTrain: Int64, _ xVal: In<Double>, _ yVal: UnsafePointer<Int64>?,
                                              _ tVal: In<Double>, _ wVal: In<Double>, _ nVal: Int64, _ d: Int64,
                                              _ batch: Int64, _ trainSamples: Int64, _ seed: UInt64) -> Int32 {
    trainerSetDataWeightedChecked(trainer, xTrain, yTrain, tTrain, wTrain, nTrain, xVal, yVal, tVal, wVal, nVal, d,
                                  batch, trainSamples, seed)
}
