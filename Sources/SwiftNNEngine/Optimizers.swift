// First-order update rules, each an in-place step over one parameter buffer and its state.
// Formulas as in CS231n's optim.py and the "Training Neural Networks" lectures.
#if canImport(Glibc)
import Glibc
#endif

/// The update rules, numbered as in include/swiftnn.h (SNN_RULE_*).
public enum UpdateRule: Int32, Sendable, Codable {
    case sgd = 0, momentum = 1, nesterov = 2, rmsprop = 3, adam = 4, adagrad = 5

    /// How many state buffers of the parameter's size the rule keeps.
    public var stateCount: Int {
        switch self {
        case .sgd: return 0
        case .momentum, .nesterov, .rmsprop, .adagrad: return 1
        case .adam: return 2
        }
    }
}

/// The hyperparameters of a step; each rule reads the ones it needs. `t` is Adam's step
/// count AFTER this step's increment (the first step uses t = 1).
public struct UpdateHyperparameters: Sendable, Equatable {
    public var learningRate: Double
    public var momentum: Double = 0.9
    public var decayRate: Double = 0.99
    public var beta1: Double = 0.9
    public var beta2: Double = 0.999
    public var epsilon: Double = 1e-8
    public var t: Int = 1

    public init(learningRate: Double, momentum: Double = 0.9, decayRate: Double = 0.99,
                beta1: Double = 0.9, beta2: Double = 0.999, epsilon: Double = 1e-8, t: Int = 1) {
        self.learningRate = learningRate
        self.momentum = momentum
        self.decayRate = decayRate
        self.beta1 = beta1
        self.beta2 = beta2
        self.epsilon = epsilon
        self.t = t
    }
}

/// w (count) ← one step of `rule` with gradient dw (count); s1, s2 (count) are the rule's state
/// (velocity, cache, or Adam's m and v), unused ones may be nil.
@inlinable
public func updateStep<T: Scalar>(_ rule: UpdateRule, w: UnsafeMutablePointer<T>, dw: UnsafePointer<T>,
                                  s1: UnsafeMutablePointer<T>?, s2: UnsafeMutablePointer<T>?,
                                  count: Int, _ h: UpdateHyperparameters) {
    let lr = T(h.learningRate), eps = T(h.epsilon)
    switch rule {
    case .sgd:
        for i in 0..<count { w[i] -= lr * dw[i] }
    case .momentum:
        guard let v = s1 else { return }
        let mu = T(h.momentum)
        for i in 0..<count {
            v[i] = mu * v[i] - lr * dw[i]
            w[i] += v[i]
        }
    case .nesterov:
        guard let v = s1 else { return }
        let mu = T(h.momentum)
        for i in 0..<count {
            let previous = v[i]
            v[i] = mu * v[i] - lr * dw[i]
            w[i] += -mu * previous + (1 + mu) * v[i]
        }
    case .rmsprop:
        guard let cache = s1 else { return }
        // 1 − decay in Double, then rounded: in Float, 1 − Float(0.99) keeps only part of its digits.
        let decay = T(h.decayRate), keep = T(1 - h.decayRate)
        let tail = count - count % Lanes<T>.scalarCount
        for i in stride(from: 0, to: tail, by: Lanes<T>.scalarCount) {
            let g = lanes(dw + i)
            let c = decay * lanes(cache + i) + keep * g * g
            store(c, cache + i)
            store(lanes(w + i) - lr * g / (T.squareRoot(c) + eps), w + i)
        }
        for i in tail..<count {
            cache[i] = decay * cache[i] + keep * dw[i] * dw[i]
            w[i] -= lr * dw[i] / (cache[i].squareRoot() + eps)
        }
    case .adagrad:
        guard let cache = s1 else { return }
        let tail = count - count % Lanes<T>.scalarCount
        for i in stride(from: 0, to: tail, by: Lanes<T>.scalarCount) {
            let g = lanes(dw + i)
            let c = lanes(cache + i) + g * g
            store(c, cache + i)
            store(lanes(w + i) - lr * g / (T.squareRoot(c) + eps), w + i)
        }
        for i in tail..<count {
            cache[i] += dw[i] * dw[i]
            w[i] -= lr * dw[i] / (cache[i].squareRoot() + eps)
        }
    case .adam:
        guard let m = s1, let v = s2 else { return }
        let b1 = T(h.beta1), b2 = T(h.beta2)
        // 1 − β in Double, then rounded: 1 − Float(0.999) is off by 1.3e-5 relative, which would
        // put the Float step off by 6e-6 against the bias correction computed below.
        let ob1 = T(1 - h.beta1), ob2 = T(1 - h.beta2)
        // Bias corrections in Double: 1 − β^t loses digits in Float for large t.
        let c1 = T(1 / (1 - pow(h.beta1, Double(h.t)))), c2 = T(1 / (1 - pow(h.beta2, Double(h.t))))
        let tail = count - count % Lanes<T>.scalarCount
        for i in stride(from: 0, to: tail, by: Lanes<T>.scalarCount) {
            let g = lanes(dw + i)
            let mi = b1 * lanes(m + i) + ob1 * g
            let vi = b2 * lanes(v + i) + ob2 * g * g
            store(mi, m + i)
            store(vi, v + i)
            store(lanes(w + i) - lr * (mi * c1) / (T.squareRoot(vi * c2) + eps), w + i)
        }
        for i in tail..<count {
            m[i] = b1 * m[i] + ob1 * dw[i]
            v[i] = b2 * v[i] + ob2 * dw[i] * dw[i]
            w[i] -= lr * (m[i] * c1) / ((v[i] * c2).squareRoot() + eps)
        }
    }
}

/// updateStep over pieces of the buffers on every core when they are long enough to pay for it
/// (see forEachPiece); the result equals updateStep's.
@inlinable
public func updateStepOnAllCores<T: Scalar>(_ rule: UpdateRule, w: UnsafeMutablePointer<T>, dw: UnsafePointer<T>,
                                            s1: UnsafeMutablePointer<T>?, s2: UnsafeMutablePointer<T>?,
                                            count: Int, _ h: UpdateHyperparameters) {
    forEachPiece(of: count, UpdatePieces(rule: rule, w: w, dw: dw, s1: s1, s2: s2, h: h))
}

/// A piece of an update: updateStep on elements piece of every buffer.
@usableFromInline struct UpdatePieces<T: Scalar>: PieceWork {
    @usableFromInline let rule: UpdateRule
    @usableFromInline let w: UnsafeMutablePointer<T>
    @usableFromInline let dw: UnsafePointer<T>
    @usableFromInline let s1, s2: UnsafeMutablePointer<T>?
    @usableFromInline let h: UpdateHyperparameters

    @inlinable init(rule: UpdateRule, w: UnsafeMutablePointer<T>, dw: UnsafePointer<T>,
                    s1: UnsafeMutablePointer<T>?, s2: UnsafeMutablePointer<T>?, h: UpdateHyperparameters) {
        (self.rule, self.w, self.dw, self.s1, self.s2, self.h) = (rule, w, dw, s1, s2, h)
    }

    @inlinable func callAsFunction(_ piece: Range<Int>) {
        let i = piece.lowerBound
        updateStep(rule, w: w + i, dw: dw + i, s1: s1.map { $0 + i }, s2: s2.map { $0 + i }, count: piece.count, h)
    }
}
