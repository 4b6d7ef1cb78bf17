/// A first-order update rule with its hyperparameters and its state (velocity, cache, or Adam's
/// moments and step count), as a value. Each step runs the engine's `updateStepOnAllCores`, the
/// same code the trainer runs.
///
/// ```swift
/// var optimizer = Optimizer<Float>.adam(learningRate: 1e-3)
/// let (loss, gradients) = try network.lossAndGradients(for: x, labels: y)
/// try optimizer.update(&network, along: gradients)
/// ```
public struct Optimizer<T: Scalar>: Sendable, Equatable, Codable {
    public var rule: UpdateRule
    public var learningRate: Double
    /// Momentum and Nesterov's μ.
    public var momentum: Double
    /// RMSProp's decay rate of the squared-gradient cache.
    public var decayRate: Double
    /// Adam's decay rates of the first and second moments.
    public var beta1: Double
    public var beta2: Double
    /// Added to the root of the cache (RMSProp, AdaGrad, Adam) against division by zero.
    public var epsilon: Double
    /// Steps taken since the state was last reset (Adam's t before the next step).
    public private(set) var stepCount = 0
    /// The rule's state, `rule.stateCount` buffers of the parameter count one after the other;
    /// empty until the first step.
    public private(set) var state: [T] = []

    public init(rule: UpdateRule, learningRate: Double, momentum: Double = 0.9, decayRate: Double = 0.99,
                beta1: Double = 0.9, beta2: Double = 0.999, epsilon: Double = 1e-8) {
        self.rule = rule
        self.learningRate = learningRate
        self.momentum = momentum
        self.decayRate = decayRate
        self.beta1 = beta1
        self.beta2 = beta2
        self.epsilon = epsilon
    }

    /// w ← w − lr · dw.
    public static func sgd(learningRate: Double) -> Optimizer {
        Optimizer(rule: .sgd, learningRate: learningRate)
    }

    /// v ← μ·v − lr·dw; w ← w + v.
    public static func momentum(learningRate: Double, momentum: Double = 0.9) -> Optimizer {
        Optimizer(rule: .momentum, learningRate: learningRate, momentum: momentum)
    }

    /// v ← μ·v − lr·dw; w ← w − μ·v_previous + (1 + μ)·v.
    public static func nesterov(learningRate: Double, momentum: Double = 0.9) -> Optimizer {
        Optimizer(rule: .nesterov, learningRate: learningRate, momentum: momentum)
    }

    /// c ← ρ·c + (1 − ρ)·dw²; w ← w − lr·dw / (√c + ε).
    public static func rmsProp(learningRate: Double, decayRate: Double = 0.99, epsilon: Double = 1e-8) -> Optimizer {
        Optimizer(rule: .rmsprop, learningRate: learningRate, decayRate: decayRate, epsilon: epsilon)
    }

    /// m ← β₁·m + (1 − β₁)·dw; v ← β₂·v + (1 − β₂)·dw²;
    /// w ← w − lr · (m / (1 − β₁ᵗ)) / (√(v / (1 − β₂ᵗ)) + ε).
    public static func adam(learningRate: Double, beta1: Double = 0.9, beta2: Double = 0.999,
                            epsilon: Double = 1e-8) -> Optimizer {
        Optimizer(rule: .adam, learningRate: learningRate, beta1: beta1, beta2: beta2, epsilon: epsilon)
    }

    /// c ← c + dw²; w ← w − lr·dw / (√c + ε).
    public static func adaGrad(learningRate: Double, epsilon: Double = 1e-8) -> Optimizer {
        Optimizer(rule: .adagrad, learningRate: learningRate, epsilon: epsilon)
    }

    /// The engine's hyperparameters, after checking each one the rule uses.
    public func hyperparameters() throws(EngineError) -> UpdateHyperparameters {
        func check(_ value: Double, _ name: String, _ valid: Bool, _ expected: String) throws(EngineError) {
            if !(value.isFinite && valid) { throw EngineError(.badValue, "\(name) = \(value), expected \(expected)") }
        }
        try check(learningRate, "learningRate", learningRate > 0, "a positive number")
        switch rule {
        case .sgd: break
        case .momentum, .nesterov: try check(momentum, "momentum", momentum >= 0 && momentum < 1, "a number in [0, 1)")
        case .rmsprop: try check(decayRate, "decayRate", decayRate >= 0 && decayRate < 1, "a number in [0, 1)")
        case .adam:
            try check(beta1, "beta1", beta1 >= 0 && beta1 < 1, "a number in [0, 1)")
            try check(beta2, "beta2", beta2 >= 0 && beta2 < 1, "a number in [0, 1)")
        case .adagrad: break
        }
        if rule != .sgd && rule != .momentum && rule != .nesterov {
            try check(epsilon, "epsilon", epsilon > 0, "a positive number")
        }
        return UpdateHyperparameters(learningRate: learningRate, momentum: momentum, decayRate: decayRate,
                                     beta1: beta1, beta2: beta2, epsilon: epsilon, t: stepCount + 1)
    }

    /// One step of the rule on every parameter of `network`, along `gradients` (the layout of
    /// `network.parameters`, as `lossAndGradients` returns them).
    @_specialize(exported: true, where T == Float)
    @_specialize(exported: true, where T == Double)
    public mutating func update(_ network: inout Network<T>, along gradients: [T]) throws(EngineError) {
        let h = try hyperparameters()
        try network.checkShapes()
        let count = network.parameters.count
        guard gradients.count == count else {
            throw EngineError(.shapeMismatch, "gradients has \(gradients.count) values, expected one per parameter (\(count))")
        }
        if let i = gradients.firstIndex(where: { !$0.isFinite }) {
            throw EngineError(.nonFinite, "gradients[\(i)] = \(gradients[i]), expected a finite number")
        }
        let stateCount = rule.stateCount * count
        if state.count != stateCount {
            guard state.isEmpty && stepCount == 0 else {
                throw EngineError(.shapeMismatch, "the optimizer's state is for \(state.count / Swift.max(rule.stateCount, 1)) parameters, the network has \(count): call reset() before using it on another network")
            }
            state = [T](repeating: 0, count: stateCount)
        }
        let rule = self.rule
        network.parameters.withUnsafeMutableBufferPointer { w in
            gradients.withUnsafeBufferPointer { dw in
                state.withUnsafeMutableBufferPointer { s in
                    let s1 = rule.stateCount >= 1 ? s.baseAddress : nil
                    let s2 = rule.stateCount >= 2 ? s.baseAddress.map { $0 + count } : nil
                    updateStepOnAllCores(rule, w: w.baseAddress!, dw: dw.baseAddress!, s1: s1, s2: s2, count: count, h)
                }
            }
        }
        stepCount += 1
    }

    /// Forgets the state: the next step is a first step.
    public mutating func reset() {
        state = []
        stepCount = 0
    }
}
