// A whole fully connected network run as one plan:
//   {affine - [batchnorm|layernorm] - relu|leaky relu - [dropout]} x (L-1) - affine - softmax
// forward, loss, backward and L2 regularization in one call, over a workspace that is
// allocated once and reused while the batch size stays within its capacity.
#if canImport(Glibc)
import Glibc
#endif

public enum Normalization: Int32, Sendable, Codable {
    case none = 0, batch = 1, layer = 2
}

public enum Activation: Int32, Sendable, Codable {
    case relu = 0, leakyRelu = 1
}

/// The shape of a network: `dims` = [input, hidden..., classes].
public struct NetworkSpec: Sendable, Equatable {
    public var dims: [Int]
    public var normalization: Normalization
    /// Dropout keep probability p in (0, 1]; 1 means no dropout.
    public var keep: Double
    public var activation: Activation
    /// The slope of leaky ReLU for negative inputs.
    public var leak: Double

    public init(dims: [Int], normalization: Normalization = .none, keep: Double = 1,
                activation: Activation = .relu, leak: Double = 0.01) throws(EngineError) {
        guard dims.count >= 2 else {
            throw EngineError(.badSize, "dims has \(dims.count) entries, expected [input, hidden..., classes]")
        }
        for (i, v) in dims.enumerated() where v < 1 || v > Int(Int32.max) {
            throw EngineError(.badSize, "dims[\(i)] = \(v), expected a size in [1, \(Int32.max)]")
        }
        guard keep > 0 && keep <= 1 else {
            throw EngineError(.badValue, "keep = \(keep), expected a keep probability in (0, 1]")
        }
        guard leak.isFinite && leak >= 0 && leak < 1 else {
            throw EngineError(.badValue, "leak = \(leak), expected a slope in [0, 1)")
        }
        // Every parameter together must be addressable in bytes, so that sums and multiples of
        // the count (a trainer keeps four buffers of it) cannot overflow.
        var total = 0
        for l in 0..<(dims.count - 1) {
            let (weights, overflow) = dims[l].multipliedReportingOverflow(by: dims[l + 1])
            let (sum, overflow2) = total.addingReportingOverflow(weights)
            if overflow || overflow2 || sum > Int.max / 32 - 2 * dims[l + 1] {
                throw EngineError(.badSize, "W\(l + 1) has \(dims[l]) x \(dims[l + 1]) elements: the network has more parameters than can be addressed")
            }
            total = sum + 2 * dims[l + 1]   // b, and gamma/beta when normalized
        }
        self.dims = dims
        self.normalization = normalization
        self.keep = keep
        self.activation = activation
        self.leak = leak
    }

    public var layerCount: Int { dims.count - 1 }
    public var hiddenCount: Int { dims.count - 2 }
    public var classes: Int { dims[dims.count - 1] }

    /// Parameters in canonical order: W1, b1, ..., WL, bL, then gamma1, beta1, ... for the
    /// hidden layers when normalized. Each entry is an element count.
    public var parameterSizes: [Int] {
        var sizes: [Int] = []
        for l in 0..<layerCount { sizes += [dims[l] * dims[l + 1], dims[l + 1]] }
        if normalization != .none {
            for l in 0..<hiddenCount { sizes += [dims[l + 1], dims[l + 1]] }
        }
        return sizes
    }
}

extension NetworkSpec: Codable {
    private enum CodingKeys: String, CodingKey { case dims, normalization, keep, activation, leak }

    /// Decodes a spec and checks it as `init(dims:...)` does: a decoded network is never one the
    /// engine would refuse.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self = try checkedWhileDecoding(c) {
            try NetworkSpec(dims: c.decode([Int].self, forKey: .dims),
                            normalization: c.decode(Normalization.self, forKey: .normalization),
                            keep: c.decode(Double.self, forKey: .keep),
                            activation: c.decode(Activation.self, forKey: .activation),
                            leak: c.decode(Double.self, forKey: .leak))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(dims, forKey: .dims)
        try c.encode(normalization, forKey: .normalization)
        try c.encode(keep, forKey: .keep)
        try c.encode(activation, forKey: .activation)
        try c.encode(leak, forKey: .leak)
    }
}

/// A checked initializer run while decoding: the EngineError it throws becomes a DecodingError
/// (dataCorrupted) at the container's path.
package func checkedWhileDecoding<Key: CodingKey, Value>(_ container: KeyedDecodingContainer<Key>,
                                                 _ make: () throws -> Value) throws -> Value {
    do {
        return try make()
    } catch let error as EngineError {
        throw DecodingError.dataCorrupted(.init(codingPath: container.codingPath, debugDescription: error.message,
                                                underlyingError: error))
    }
}

/// A table of buffer pointers whose entries were checked to be non-NULL when it was made.
public struct PointerTable<T> {
    @usableFromInline let base: UnsafePointer<UnsafeMutablePointer<T>?>

    public init(_ base: UnsafePointer<UnsafeMutablePointer<T>?>?, count: Int, name: String) throws(EngineError) {
        guard let base else { throw EngineError(.nullPointer, "\(name) is NULL") }
        for i in 0..<count where base[i] == nil {
            throw EngineError(.nullPointer, "\(name)[\(i)] is NULL")
        }
        self.base = base
    }

    @inlinable public subscript(i: Int) -> UnsafeMutablePointer<T> { base[i].unsafelyUnwrapped }
}

/// Per-hidden-layer normalization settings; nil pointers mean the defaults eps = 1e-5,
/// momentum = 0.9.
public struct NormSettings {
    public var eps: UnsafePointer<Double>?
    public var momentum: UnsafePointer<Double>?
    public init(eps: UnsafePointer<Double>? = nil, momentum: UnsafePointer<Double>? = nil) {
        self.eps = eps
        self.momentum = momentum
    }
}

/// An update rule run inside backward (see NetworkPlan.loss): each parameter is stepped as soon
/// as its gradient is made, the weight matrices block by block on the threads that made the
/// blocks, while the gradient is still in their cache. `state1`, `state2` hold the rule's state
/// buffers per parameter (same order and sizes as the parameters; nil when the rule keeps fewer).
public struct FusedUpdate<T: Scalar> {
    public var rule: UpdateRule
    public var hyper: UpdateHyperparameters
    public var state1: PointerTable<T>?
    public var state2: PointerTable<T>?

    public init(rule: UpdateRule, hyper: UpdateHyperparameters, state1: PointerTable<T>?, state2: PointerTable<T>?) {
        (self.rule, self.hyper, self.state1, self.state2) = (rule, hyper, state1, state2)
    }

    /// updateStep on elements range of parameter i (its gradient `grad`).
    @inlinable func step(_ i: Int, w: UnsafeMutablePointer<T>, grad: UnsafePointer<T>, range: Range<Int>) {
        let o = range.lowerBound
        updateStep(rule, w: w + o, dw: grad + o, s1: state1.map { $0[i] + o }, s2: state2.map { $0[i] + o },
                   count: range.count, hyper)
    }
}

/// The epilogue of a dW GEMM under a fused update (see NetworkPlan.loss): on each block of
/// dW, reg·W added and Σ W² taken (into sums[block]) when asked, then the rule's step, in chunks
/// that stay in L1.
@usableFromInline struct StepBlocks<T: Scalar>: BlockEpilogue {
    let update: FusedUpdate<T>
    let index: Int                      // the parameter's number
    let w, dw: UnsafeMutablePointer<T>
    let width: Int                      // dW's columns
    let r: T
    let squares: Bool
    let sums: UnsafeMutablePointer<Double>

    @usableFromInline func callAsFunction(_ rows: Range<Int>, _ columns: Range<Int>, _ block: Int) {
        if block == 0 { lap(.gemmWeights) }
        var total = 0.0
        func run(_ chunk: Range<Int>) {
            if r != 0 {
                total += addWeightDecay(dw: dw + chunk.lowerBound, w: w + chunk.lowerBound, count: chunk.count, r: r,
                                        squares: squares)
            }
            update.step(index, w: w, grad: dw, range: chunk)
        }
        if columns.count == width {
            // Whole rows: one contiguous run.
            let all = rows.lowerBound * width..<rows.upperBound * width
            for start in stride(from: all.lowerBound, to: all.upperBound, by: 2048) {
                run(start..<min(start + 2048, all.upperBound))
            }
        } else {
            for i in rows { run((i * width + columns.lowerBound)..<(i * width + columns.upperBound)) }
        }
        sums[block] = total
        if block == 0 { lap(.update) }
    }
}

/// dw (count) += r·w; returns Σ w² in Double (eight running sums, so the adds do not wait on
/// each other) when `squares` is set, else 0.
@inlinable
func addWeightDecay<T: Scalar>(dw: UnsafeMutablePointer<T>, w: UnsafePointer<T>, count: Int, r: T,
                               squares: Bool) -> Double {
    for i in 0..<count { dw[i] += r * w[i] }
    guard squares else { return 0 }
    var s = SIMD8<Double>()
    let tail = count - count % 8
    for i in stride(from: 0, to: tail, by: 8) {
        var v = SIMD8<Double>()
        for j in 0..<8 { v[j] = Double(w[i + j]) }
        s += v * v
    }
    var total = s.sum()
    for i in tail..<count { total += Double(w[i]) * Double(w[i]) }
    return total
}

public final class NetworkPlan<T: Scalar> {
    public let spec: NetworkSpec
    public let parameterSizes: [Int]
    private var capacity = 0
    private var rows = 0
    private var storage: UnsafeMutablePointer<T>?
    // Views into storage for the current row count. Per hidden layer l:
    private var pre: [UnsafeMutablePointer<T>] = []     // affine output (n, h), kept when normalized
    private var act: [UnsafeMutablePointer<T>] = []     // layer output after activation and dropout (n, h)
    private var mask: [UnsafeMutablePointer<T>] = []    // dropout mask (n, h)
    private var mean: [UnsafeMutablePointer<T>] = []    // (h) batchnorm, (n) layernorm
    private var variance: [UnsafeMutablePointer<T>] = []
    private var invStd: [UnsafeMutablePointer<T>] = []
    private var scores: UnsafeMutablePointer<T>?        // (n, C), then d loss / d scores
    private var gradA: UnsafeMutablePointer<T>?         // ping-pong gradients (n, max h)
    private var gradB: UnsafeMutablePointer<T>?
    private var saved: UnsafeMutablePointer<T>?         // running statistics before a train step
    private let blockSquares: UnsafeMutablePointer<Double>   // Σ W² per dW block under a fused update

    // Held for the whole of a `loss` call: the workspace is shared state, so calls on one plan
    // from several threads run one at a time instead of overwriting (or reallocating) it.
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>

    public init(_ spec: NetworkSpec) {
        self.spec = spec
        self.parameterSizes = spec.parameterSizes
        mutex = .allocate(capacity: 1)
        pthread_mutex_init(mutex, nil)
        blockSquares = .allocate(capacity: spec.layerCount * engineThreads)
    }

    deinit {
        free(storage)
        blockSquares.deallocate()
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
    }

    private var dropout: Bool { spec.keep < 1 }

    /// Lays the workspace out for n rows, growing the allocation only when n exceeds it.
    private func reserve(rows n: Int) throws(EngineError) {
        if n == rows { return }
        let dims = spec.dims, hidden = spec.hiddenCount
        let widest = dims[1..<dims.count].max() ?? 1
        let norm = spec.normalization
        var total = 0
        func add(_ a: Int, _ b: Int) throws(EngineError) {
            let (c, o1) = a.multipliedReportingOverflow(by: b)
            let (t, o2) = total.addingReportingOverflow(c)
            if o1 || o2 { throw EngineError(.badSize, "n = \(n) rows need more workspace than can be addressed") }
            total = t
        }
        for l in 0..<hidden {
            let h = dims[l + 1]
            try add(n, h * ((norm != .none ? 1 : 0) + 1 + (dropout ? 1 : 0)))
            if norm != .none { try add(3, norm == .batch ? h : n) }
        }
        try add(n, spec.classes)
        try add(2 * n, widest)
        if norm == .batch { try add(2, dims[1..<(dims.count - 1)].reduce(0, +)) }
        if n > capacity || storage == nil {
            let (bytes, overflow) = max(total, 1).multipliedReportingOverflow(by: MemoryLayout<T>.stride)
            guard !overflow, let raw = realloc(storage, bytes) else {
                throw EngineError(.outOfMemory, "could not allocate the workspace for n = \(n) rows")
            }
            storage = raw.bindMemory(to: T.self, capacity: total)
            capacity = n
        }
        guard var cursor = storage else { return }
        func take(_ count: Int) -> UnsafeMutablePointer<T> { defer { cursor += count }; return cursor }
        pre = []; act = []; mask = []; mean = []; variance = []; invStd = []
        for l in 0..<hidden {
            let h = dims[l + 1]
            pre.append(norm != .none ? take(n * h) : cursor)
            act.append(take(n * h))
            mask.append(dropout ? take(n * h) : cursor)
            if norm != .none {
                let width = norm == .batch ? h : n
                mean.append(take(width)); variance.append(take(width)); invStd.append(take(width))
            }
        }
        scores = take(n * spec.classes)
        gradA = take(n * widest)
        gradB = take(n * widest)
        saved = norm == .batch ? take(2 * dims[1..<(dims.count - 1)].reduce(0, +)) : nil
        rows = n
    }

    /// Runs the network on x (n, D).
    ///
    /// With labels y (n): train mode (batch statistics, running statistics updated, dropout on);
    /// returns the mean softmax loss plus 0.5·reg·ΣW² and writes every gradient to `grads`
    /// (same order and sizes as `params`). Without y: test mode; writes the scores (n, C) to
    /// `scoresOut` and returns 0. `running` holds mean1, var1, mean2, var2, ... for batchnorm.
    /// On a throw the running statistics are as they were before the call (and, with
    /// `fusedSGD`, the weights too).
    ///
    /// `fusedSGD` = a learning rate lr: a plain SGD step is applied to every weight matrix inside
    /// backward, right after that layer's input gradient is made: the dW GEMM accumulates
    /// −lr·xᵀ·dout straight into W scaled by 1 − lr·reg, so dW is never stored and no separate
    /// pass over the weights runs (the trainer's SGD path). Every other gradient (biases,
    /// gamma, beta) is still written to `grads`; its weight slots are left as they were.
    ///
    /// `fused` = an update rule (ignored with `fusedSGD`): every parameter takes one step of the
    /// rule inside backward, as soon as its gradient (with reg·W added) is made: the weight
    /// matrices block by block on the threads that made the dW blocks, the rest right after
    /// their layer. Gradients are still written to `grads`; parameters and state end exactly as
    /// after this call without `fused` followed by updateStep over every parameter. The L2 term
    /// is summed from the weights before their step (in another order: the loss may differ in
    /// the last bits). With T = Float and reg ≤ 1e200 that term cannot overflow once the
    /// forward pass succeeded, so a throw still leaves the parameters as they were; otherwise it
    /// is summed (and checked) before backward, as with fusedSGD.
    /// Thread-safe: concurrent calls on one plan are serialized.
    @_specialize(exported: true, where T == Float)
    @_specialize(exported: true, where T == Double)
    public func loss(x: UnsafePointer<T>, y: UnsafePointer<Int64>?, n: Int,
                     params: PointerTable<T>, grads: PointerTable<T>?, running: PointerTable<T>?,
                     scoresOut: UnsafeMutablePointer<T>?, reg: Double, norm settings: NormSettings,
                     seed: UInt64, fusedSGD: Double? = nil, fused: FusedUpdate<T>? = nil) throws(EngineError) -> Double {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return try unlockedLoss(x: x, y: y, n: n, params: params, grads: grads, running: running,
                                scoresOut: scoresOut, reg: reg, norm: settings, seed: seed, fusedSGD: fusedSGD,
                                fused: fused)
    }

    @_specialize(exported: true, where T == Float)
    @_specialize(exported: true, where T == Double)
    func unlockedLoss(x: UnsafePointer<T>, y: UnsafePointer<Int64>?, n: Int,
                      params: PointerTable<T>, grads: PointerTable<T>?, running: PointerTable<T>?,
                      scoresOut: UnsafeMutablePointer<T>?, reg: Double, norm settings: NormSettings,
                      seed: UInt64, fusedSGD: Double? = nil, fused update: FusedUpdate<T>? = nil) throws(EngineError) -> Double {
        let train = y != nil
        if let y { try checkLabels(y, n: n, c: spec.classes) }
        if spec.normalization == .batch && running == nil {
            throw EngineError(.nullPointer, "running is NULL but the network uses batchnorm")
        }
        if train && grads == nil { throw EngineError(.nullPointer, "grads is NULL but labels were given") }
        try reserve(rows: n)
        guard let scores, let gradA, let gradB else { return 0 }
        let dims = spec.dims, L = spec.layerCount, norm = spec.normalization
        let useDropout = train && dropout
        if norm == .batch && train, let running, let saved {
            var at = saved
            for l in 0..<spec.hiddenCount {
                at.update(from: running[2 * l], count: dims[l + 1]); at += dims[l + 1]
                at.update(from: running[2 * l + 1], count: dims[l + 1]); at += dims[l + 1]
            }
        }
        // Forward.
        var input = x
        for l in 0..<(L - 1) {
            let din = dims[l], h = dims[l + 1]
            affineForward(out: norm == .none ? act[l] : pre[l], x: input, w: params[2 * l], b: params[2 * l + 1],
                          n: n, d: din, m: h)
            if norm != .none {
                let gamma = params[2 * L + 2 * l], beta = params[2 * L + 2 * l + 1]
                let eps = T(settings.eps?[l] ?? 1e-5)
                if norm == .batch, let running {
                    if train {
                        do {
                            try batchNormForwardTrain(out: act[l], mean: mean[l], variance: variance[l],
                                                      invStd: invStd[l], runningMean: running[2 * l],
                                                      runningVariance: running[2 * l + 1], x: pre[l],
                                                      gamma: gamma, beta: beta, n: n, d: h, eps: eps,
                                                      momentum: T(settings.momentum?[l] ?? 0.9))
                        } catch {
                            restoreRunning(running)
                            throw EngineError(error.status, "layer \(l + 1): \(error.message)")
                        }
                    } else {
                        try checkRunningVariance(running[2 * l + 1], d: h, eps: eps,
                                                 name: "layer \(l + 1): running_var")
                        batchNormForwardTest(out: act[l], invStd: invStd[l], x: pre[l], gamma: gamma, beta: beta,
                                             runningMean: running[2 * l], runningVariance: running[2 * l + 1],
                                             n: n, d: h, eps: eps)
                    }
                } else {
                    layerNormForward(out: act[l], mean: mean[l], invStd: invStd[l], x: pre[l], gamma: gamma,
                                     beta: beta, n: n, d: h, eps: eps)
                }
            }
            activate(act[l], mask: useDropout ? mask[l] : nil, count: n * h,
                     seed: splitMix64(seed: seed, index: UInt64(l)))
            input = UnsafePointer(act[l])
        }
        affineForward(out: scores, x: input, w: params[2 * (L - 1)], b: params[2 * (L - 1) + 1],
                      n: n, d: dims[L - 1], m: dims[L])
        guard let y, let grads else {
            scoresOut?.update(from: scores, count: n * spec.classes)
            return 0
        }
        // Loss and backward; scores becomes d loss / d scores in place.
        var loss: Double
        do {
            loss = try softmaxLoss(dx: scores, x: scores, y: y, n: n, c: spec.classes)
        } catch {
            if let running { restoreRunning(running) }
            throw error
        }
        // Where dW goes: to grads (then + reg·W), or, fused SGD, straight into W, whose L2 term
        // is then taken first, while W is still this step's.
        let fused = fusedSGD.map { lr in (alpha: T(-lr), beta: T(1 - lr * reg)) }
        let update = fused == nil ? update : nil
        // Under `update`, the L2 term is summed in the dW blocks' epilogues when it cannot
        // overflow (see loss), else here, before any parameter changes.
        let squaresInBackward = update != nil && reg != 0 && T.self == Float.self && reg <= 1e200
        if reg != 0 && (fused != nil || (update != nil && !squaresInBackward)) {
            loss = try addL2(to: loss, reg: reg, params: params, grads: nil, running: running)
        }
        func weightGradient(_ l: Int) -> UnsafeMutablePointer<T> { fused == nil ? grads[2 * l] : params[2 * l] }
        let dwScale = fused ?? (alpha: 1, beta: 0)
        // Σ W² per dW block (fixed by the shape and the thread count), summed in order at the end.
        blockSquares.update(repeating: 0, count: L * engineThreads)
        /// Steps layer l's bias, and gamma and beta when normalized, under `update`.
        func updateSmall(_ l: Int) {
            guard let update else { return }
            update.step(2 * l + 1, w: params[2 * l + 1], grad: grads[2 * l + 1], range: 0..<dims[l + 1])
            if norm != .none && l < L - 1 {
                let gamma = 2 * L + 2 * l, beta = gamma + 1
                update.step(gamma, w: params[gamma], grad: grads[gamma], range: 0..<dims[l + 1])
                update.step(beta, w: params[beta], grad: grads[beta], range: 0..<dims[l + 1])
            }
        }
        /// Layer l's affine backward, with its weights stepped block by block under `update`.
        func backward(_ l: Int, dx: UnsafeMutablePointer<T>?, dout: UnsafePointer<T>, x: UnsafePointer<T>) {
            if let update {
                affineBackward(dx: dx, dw: grads[2 * l], db: grads[2 * l + 1], dout: dout, x: x, w: params[2 * l],
                               n: n, d: dims[l], m: dims[l + 1], dwScale: (1, 0),
                               dwEpilogue: StepBlocks(update: update, index: 2 * l, w: params[2 * l], dw: grads[2 * l],
                                                      width: dims[l + 1], r: T(reg), squares: squaresInBackward,
                                                      sums: blockSquares + l * engineThreads))
                updateSmall(l)
            } else {
                affineBackward(dx: dx, dw: weightGradient(l), db: grads[2 * l + 1], dout: dout, x: x, w: params[2 * l],
                               n: n, d: dims[l], m: dims[l + 1], dwScale: dwScale)
            }
        }
        var cur = gradA, other = gradB
        backward(L - 1, dx: L > 1 ? cur : nil, dout: scores, x: L > 1 ? UnsafePointer(act[L - 2]) : x)
        for l in stride(from: L - 2, through: 0, by: -1) {
            let h = dims[l + 1]
            deactivate(cur, act: act[l], mask: useDropout ? mask[l] : nil, count: n * h)
            if norm != .none {
                let gamma = params[2 * L + 2 * l]
                let dgamma = grads[2 * L + 2 * l], dbeta = grads[2 * L + 2 * l + 1]
                if norm == .batch && train {
                    batchNormBackwardAlt(dx: other, dgamma: dgamma, dbeta: dbeta, dout: cur, x: pre[l], gamma: gamma,
                                         mean: mean[l], invStd: invStd[l], n: n, d: h)
                } else {
                    layerNormBackward(dx: other, dgamma: dgamma, dbeta: dbeta, dout: cur, x: pre[l], gamma: gamma,
                                      mean: mean[l], invStd: invStd[l], n: n, d: h)
                }
                swap(&cur, &other)
            }
            backward(l, dx: l > 0 ? other : nil, dout: cur, x: l > 0 ? UnsafePointer(act[l - 1]) : x)
            swap(&cur, &other)
        }
        if squaresInBackward {
            var squares = 0.0
            for i in 0..<(L * engineThreads) { squares += blockSquares[i] }
            loss += 0.5 * reg * squares
            if !loss.isFinite {
                throw EngineError(.nonFinite, "the loss is \(loss): the L2 term 0.5·reg·ΣW² = 0.5 · \(reg) · \(squares) overflows")
            }
        } else if reg != 0 && fused == nil && update == nil {
            loss = try addL2(to: loss, reg: reg, params: params, grads: grads, running: running)
        }
        return loss
    }

    /// loss + 0.5·reg·ΣW², and dW += reg·W for every weight matrix when grads are given.
    /// Throws (running statistics restored) when the sum overflows.
    private func addL2(to loss: Double, reg: Double, params: PointerTable<T>, grads: PointerTable<T>?,
                       running: PointerTable<T>?) throws(EngineError) -> Double {
        let dims = spec.dims, r = T(reg)
        var squares = 0.0
        for l in 0..<spec.layerCount {
            let w = params[2 * l], count = dims[l] * dims[l + 1]
            // Summed in Double: Float squares of large weights overflow long before the loss does.
            var s = 0.0
            if let grads {
                let dw = grads[2 * l]
                for i in 0..<count {
                    s += Double(w[i]) * Double(w[i])
                    dw[i] += r * w[i]
                }
            } else {
                for i in 0..<count { s += Double(w[i]) * Double(w[i]) }
            }
            squares += s
        }
        let total = loss + 0.5 * reg * squares
        if !total.isFinite {
            if let running { restoreRunning(running) }
            throw EngineError(.nonFinite, "the loss is \(total): the L2 term 0.5·reg·ΣW² = 0.5 · \(reg) · \(squares) overflows")
        }
        return total
    }

    private func restoreRunning(_ running: PointerTable<T>) {
        guard spec.normalization == .batch, var at = saved else { return }
        for l in 0..<spec.hiddenCount {
            let h = spec.dims[l + 1]
            running[2 * l].update(from: at, count: h); at += h
            running[2 * l + 1].update(from: at, count: h); at += h
        }
    }

    /// a ← act(a), then · dropout mask drawn from `seed` when a mask buffer is given.
    private func activate(_ a: UnsafeMutablePointer<T>, mask: UnsafeMutablePointer<T>?, count: Int, seed: UInt64) {
        let leak = spec.activation == .leakyRelu ? T(spec.leak) : 0
        if let mask {
            let p = T(spec.keep), scale = 1 / p
            for i in 0..<count {
                let m: T = T.unit(splitMix64(seed: seed, index: UInt64(i))) < p ? scale : 0
                mask[i] = m
                a[i] = (a[i] > 0 ? a[i] : leak * a[i]) * m
            }
        } else {
            for i in 0..<count { a[i] = a[i] > 0 ? a[i] : leak * a[i] }
        }
    }

    /// g ← g · mask · act'(y), reading the sign of y from the layer's output a (where the mask
    /// is zero the gradient is zero whatever the sign).
    private func deactivate(_ g: UnsafeMutablePointer<T>, act a: UnsafeMutablePointer<T>,
                            mask: UnsafeMutablePointer<T>?, count: Int) {
        let leak = spec.activation == .leakyRelu ? T(spec.leak) : 0
        if let mask {
            for i in 0..<count { g[i] = g[i] * mask[i] * (a[i] > 0 ? 1 : leak) }
        } else {
            for i in 0..<count { g[i] = a[i] > 0 ? g[i] : leak * g[i] }
        }
    }
}
