// Exports of update rules and whole-network plans.
import Glibc
import SwiftNNEngine

/// Reads `snn_update_config` of include/swiftnn.h: six doubles (learning_rate, momentum,
/// decay_rate, beta1, beta2, epsilon) then int64_t t, each 8 bytes, in that order.
func hyperparameters(_ config: UnsafeRawPointer?, rule: UpdateRule) throws(EngineError) -> UpdateHyperparameters {
    let c = try required(config, "config")
    func field(_ i: Int) -> Double { c.load(fromByteOffset: 8 * i, as: Double.self) }
    let t = c.load(fromByteOffset: 48, as: Int64.self)
    let h = UpdateHyperparameters(
        learningRate: try hyperparameter(field(0), "config.learning_rate", low: 0, high: .greatestFiniteMagnitude),
        momentum: try hyperparameter(field(1), "config.momentum", low: 0, high: 1),
        decayRate: try hyperparameter(field(2), "config.decay_rate", low: 0, high: 1),
        beta1: try hyperparameter(field(3), "config.beta1", low: 0, high: 1),
        beta2: try hyperparameter(field(4), "config.beta2", low: 0, high: 1),
        epsilon: try hyperparameter(field(5), "config.epsilon", low: 0, high: .greatestFiniteMagnitude),
        t: Int(t))
    if rule == .adam && t < 1 { throw EngineError(.badValue, "config.t = \(t), expected Adam's step count >= 1") }
    if rule == .adam && (h.beta1 >= 1 || h.beta2 >= 1) {
        throw EngineError(.badValue, "config.beta1 and config.beta2 must be < 1 for Adam's bias correction")
    }
    return h
}

/// The hyperparameters as precision T sees them: a learning rate that overflows T would turn
/// every weight into Inf or NaN, and an epsilon that is 0 in T makes the adaptive rules divide
/// 0 by 0 on a zero gradient.
func checkPrecision<T: Scalar>(_ h: UpdateHyperparameters, _ rule: UpdateRule, _: T.Type) throws(EngineError) {
    guard T(h.learningRate).isFinite else {
        throw EngineError(.badValue, "config.learning_rate = \(h.learningRate) overflows \(T.self)")
    }
    if rule == .rmsprop || rule == .adam || rule == .adagrad, !(T(h.epsilon) > 0) {
        throw EngineError(.badValue, "config.epsilon = \(h.epsilon) is 0 in \(T.self); RMSProp, Adam and AdaGrad "
                          + "divide by sqrt(cache) + epsilon and need epsilon > 0")
    }
}

func updateRule(_ rule: Int32) throws(EngineError) -> UpdateRule {
    guard let r = UpdateRule(rawValue: rule) else {
        throw EngineError(.badValue, "rule = \(rule), expected one of SNN_RULE_SGD (0) ... SNN_RULE_ADAGRAD (5)")
    }
    return r
}

func updateChecked<T: Scalar>(_ rule: Int32, _ w: Out<T>, _ s1: Out<T>, _ s2: Out<T>, _ dw: In<T>, _ count: Int64,
                              _ config: UnsafeRawPointer?) -> Int32 {
    guarded { () throws(EngineError) in
        let rule = try updateRule(rule)
        let count = try size(count, "count")
        _ = try elements(count, 1, "w")
        let h = try hyperparameters(config, rule: rule)
        try checkPrecision(h, rule, T.self)
        let s1 = rule.stateCount >= 1 ? try required(s1, "s1") : s1
        let s2 = rule.stateCount >= 2 ? try required(s2, "s2") : s2
        updateStepOnAllCores(rule, w: try required(w, "w"), dw: try required(dw, "dw"), s1: s1, s2: s2, count: count, h)
    }
}

@_cdecl("snn_update_f32")
public func snn_update_f32(_ rule: Int32, _ w: Out<Float>, _ s1: Out<Float>, _ s2: Out<Float>, _ dw: In<Float>,
                           _ count: Int64, _ config: UnsafeRawPointer?) -> Int32 {
    updateChecked(rule, w, s1, s2, dw, count, config)
}

@_cdecl("snn_update_f64")
public func snn_update_f64(_ rule: Int32, _ w: Out<Double>, _ s1: Out<Double>, _ s2: Out<Double>, _ dw: In<Double>,
                           _ count: Int64, _ config: UnsafeRawPointer?) -> Int32 {
    updateChecked(rule, w, s1, s2, dw, count, config)
}

public typealias Table<T> = UnsafePointer<UnsafeMutablePointer<T>?>?

func updateManyChecked<T: Scalar>(_ rule: Int32, _ count: Int64, _ w: Table<T>, _ s1: Table<T>, _ s2: Table<T>,
                                  _ dw: Table<T>, _ sizes: UnsafePointer<Int64>?,
                                  _ config: UnsafeRawPointer?) -> Int32 {
    guarded { () throws(EngineError) in
        let rule = try updateRule(rule)
        let count = try size(count, "count")
        let h = try hyperparameters(config, rule: rule)
        try checkPrecision(h, rule, T.self)
        let sizes = try required(sizes, "sizes")
        for i in 0..<count where sizes[i] < 1 || sizes[i] > Int64(Int.max / 8) {
            throw EngineError(.badSize, "sizes[\(i)] = \(sizes[i]), expected a size >= 1 that can be addressed")
        }
        let w = try PointerTable(w, count: count, name: "w"), dw = try PointerTable(dw, count: count, name: "dw")
        let s1 = rule.stateCount >= 1 ? try PointerTable(s1, count: count, name: "s1") : nil
        let s2 = rule.stateCount >= 2 ? try PointerTable(s2, count: count, name: "s2") : nil
        for i in 0..<count {
            updateStepOnAllCores(rule, w: w[i], dw: dw[i], s1: s1?[i], s2: s2?[i], count: Int(sizes[i]), h)
        }
    }
}

@_cdecl("snn_update_many_f32")
public func snn_update_many_f32(_ rule: Int32, _ count: Int64, _ w: Table<Float>, _ s1: Table<Float>,
                                _ s2: Table<Float>, _ dw: Table<Float>, _ sizes: UnsafePointer<Int64>?,
                                _ config: UnsafeRawPointer?) -> Int32 {
    updateManyChecked(rule, count, w, s1, s2, dw, sizes, config)
}

@_cdecl("snn_update_many_f64")
public func snn_update_many_f64(_ rule: Int32, _ count: Int64, _ w: Table<Double>, _ s1: Table<Double>,
                                _ s2: Table<Double>, _ dw: Table<Double>, _ sizes: UnsafePointer<Int64>?,
                                _ config: UnsafeRawPointer?) -> Int32 {
    updateManyChecked(rule, count, w, s1, s2, dw, sizes, config)
}

// MARK: network plans

/// The network shape as the create functions receive it, checked.
func networkSpec(_ dims: UnsafePointer<Int64>?, _ count: Int64, _ normalization: Int32, _ keep: Double,
                 _ activation: Int32, _ leak: Double) throws(EngineError) -> NetworkSpec {
    let dims = try required(dims, "dims")
    guard count >= 2 && count <= 1 << 20 else {
        throw EngineError(.badSize, "num_dims = \(count), expected at least 2 (input and classes)")
    }
    guard let norm = Normalization(rawValue: normalization) else {
        throw EngineError(.badValue, "normalization = \(normalization), expected SNN_NORM_NONE (0), SNN_NORM_BATCH (1) or SNN_NORM_LAYER (2)")
    }
    guard let act = Activation(rawValue: activation) else {
        throw EngineError(.badValue, "activation = \(activation), expected SNN_ACT_RELU (0) or SNN_ACT_LEAKY_RELU (1)")
    }
    return try NetworkSpec(dims: (0..<Int(count)).map { Int(clamping: dims[$0]) }, normalization: norm,
                           keep: keep, activation: act, leak: leak)
}

func netCreateChecked<T: Scalar>(_ out: UnsafeMutablePointer<UnsafeMutableRawPointer?>?, _ dims: UnsafePointer<Int64>?,
                                 _ count: Int64, _ normalization: Int32, _ keep: Double, _ activation: Int32,
                                 _ leak: Double, _: T.Type) -> Int32 {
    guarded { () throws(EngineError) in
        let out = try required(out, "net")
        out.pointee = nil
        let spec = try networkSpec(dims, count, normalization, keep, activation, leak)
        out.pointee = handles.register(NetworkPlan<T>(spec))
    }
}

@_cdecl("snn_net_create_f32")
public func snn_net_create_f32(_ net: UnsafeMutablePointer<UnsafeMutableRawPointer?>?, _ dims: UnsafePointer<Int64>?,
                               _ count: Int64, _ normalization: Int32, _ keep: Double, _ activation: Int32,
                               _ leak: Double) -> Int32 {
    netCreateChecked(net, dims, count, normalization, keep, activation, leak, Float.self)
}

@_cdecl("snn_net_create_f64")
public func snn_net_create_f64(_ net: UnsafeMutablePointer<UnsafeMutableRawPointer?>?, _ dims: UnsafePointer<Int64>?,
                               _ count: Int64, _ normalization: Int32, _ keep: Double, _ activation: Int32,
                               _ leak: Double) -> Int32 {
    netCreateChecked(net, dims, count, normalization, keep, activation, leak, Double.self)
}

@_cdecl("snn_net_destroy")
public func snn_net_destroy(_ net: UnsafeMutableRawPointer?) -> Int32 {
    guarded { () throws(EngineError) in
        guard net != nil else { return }
        if (try? handles.lookup(net, as: NetworkPlan<Float>.self, "net")) == nil {
            _ = try handles.lookup(net, as: NetworkPlan<Double>.self, "net")
        }
        try handles.remove(net, "net")
    }
}

/// What every call on a plan with a batch of rows checks first: the handle, n, d against the
/// input layer, the activations' size, the params and (batchnorm) running tables, and eps and
/// momentum per hidden layer when given.
struct PlanCall<T: Scalar> {
    let plan: NetworkPlan<T>
    let n: Int
    let params: PointerTable<T>
    let running: PointerTable<T>?

    init(_ net: UnsafeMutableRawPointer?, _ n: Int64, _ d: Int64, _ params: Table<T>, _ running: Table<T>,
         _ eps: UnsafePointer<Double>?, _ momentum: UnsafePointer<Double>?) throws(EngineError) {
        plan = try handles.lookup(net, as: NetworkPlan<T>.self, "net")
        let spec = plan.spec
        self.n = try size(n, "n", blas: true)
        guard d == Int64(spec.dims[0]) else {
            throw EngineError(.shapeMismatch, "d = \(d) but the network takes \(spec.dims[0]) input features")
        }
        _ = try elements(self.n, spec.dims.max() ?? 1, "the activations")
        self.params = try PointerTable(params, count: plan.parameterSizes.count, name: "params")
        self.running = spec.normalization == .batch
            ? try PointerTable(running, count: 2 * spec.hiddenCount, name: "running") : nil
        for l in 0..<spec.hiddenCount {
            if let eps { _ = try hyperparameter(eps[l], "eps[\(l)]", low: 0, high: .greatestFiniteMagnitude, openLow: true) }
            if let momentum { _ = try hyperparameter(momentum[l], "momentum[\(l)]", low: 0, high: 1) }
        }
    }
}

func netLossChecked<T: Scalar>(_ net: UnsafeMutableRawPointer?, _ loss: UnsafeMutablePointer<Double>?,
                               _ scores: Out<T>, _ grads: Table<T>, _ running: Table<T>, _ params: Table<T>,
                               _ x: In<T>, _ y: UnsafePointer<Int64>?, _ n: Int64, _ d: Int64, _ reg: Double,
                               _ eps: UnsafePointer<Double>?, _ momentum: UnsafePointer<Double>?,
                               _ seed: UInt64) -> Int32 {
    netLossWeightedChecked(net, loss, scores, grads, running, params, x, y, nil, nil, n, d, reg, eps, momentum, seed)
}

@_cdecl("snn_net_loss_f32")
public func snn_net_loss_f32(_ net: UnsafeMutableRawPointer?, _ loss: UnsafeMutablePointer<Double>?,
                             _ scores: Out<Float>, _ grads: Table<Float>, _ running: Table<Float>,
                             _ params: Table<Float>, _ x: In<Float>, _ y: UnsafePointer<Int64>?,
                             _ n: Int64, _ d: Int64, _ reg: Double, _ eps: UnsafePointer<Double>?,
                             _ momentum: UnsafePointer<Double>?, _ seed: UInt64) -> Int32 {
    netLossChecked(net, loss, scores, grads, running, params, x, y, n, d, reg, eps, momentum, seed)
}

@_cdecl("snn_net_loss_f64")
public func snn_net_loss_f64(_ net: UnsafeMutableRawPointer?, _ loss: UnsafeMutablePointer<Double>?,
                             _ scores: Out<Double>, _ grads: Table<Double>, _ running: Table<Double>,
                             _ params: Table<Double>, _ x: In<Double>, _ y: UnsafePointer<Int64>?,
                             _ n: Int64, _ d: Int64, _ reg: Double, _ eps: UnsafePointer<Double>?,
                             _ momentum: UnsafePointer<Double>?, _ seed: UInt64) -> Int32 {
    netLossChecked(net, loss, scores, grads, running, params, x, y, n, d, reg, eps, momentum, seed)
}

func netPredictChecked<T: Scalar>(_ net: UnsafeMutableRawPointer?, _ probabilities: Out<T>,
                                  _ labels: UnsafeMutablePointer<Int64>?, _ running: Table<T>, _ params: Table<T>,
                                  _ x: In<T>, _ n: Int64, _ d: Int64, _ eps: UnsafePointer<Double>?) -> Int32 {
    guarded { () throws(EngineError) in
        guard probabilities != nil || labels != nil else {
            throw EngineError(.nullPointer, "probabilities and labels are both NULL; ask for at least one")
        }
        let call = try PlanCall(net, n, d, params, running, eps, nil)
        try call.plan.predict(x: try required(x, "x"), n: call.n, params: call.params, running: call.running,
                              norm: NormSettings(eps: eps, momentum: nil), probabilities: probabilities, labels: labels)
    }
}

@_cdecl("snn_net_predict_f32")
public func snn_net_predict_f32(_ net: UnsafeMutableRawPointer?, _ probabilities: Out<Float>,
                                _ labels: UnsafeMutablePointer<Int64>?, _ running: Table<Float>,
                                _ params: Table<Float>, _ x: In<Float>, _ n: Int64, _ d: Int64,
                                _ eps: UnsafePointer<Double>?) -> Int32 {
    netPredictChecked(net, probabilities, labels, running, params, x, n, d, eps)
}

@_cdecl("snn_net_predict_f64")
public func snn_net_predict_f64(_ net: UnsafeMutableRawPointer?, _ probabilities: Out<Double>,
                                _ labels: UnsafeMutablePointer<Int64>?, _ running: Table<Double>,
                                _ params: Table<Double>, _ x: In<Double>, _ n: Int64, _ d: Int64,
                                _ eps: UnsafePointer<Double>?) -> Int32 {
    netPredictChecked(net, probabilities, labels, running, params, x, n, d, eps)
}

func lossKind(_ loss: Int32) throws(EngineError) -> LossKind {
    guard let kind = LossKind(rawValue: loss) else {
        throw EngineError(.badValue, "loss = \(loss), expected SNN_LOSS_SOFTMAX (0) or SNN_LOSS_SQUARED (1)")
    }
    return kind
}

@_cdecl("snn_net_set_loss")
public func snn_net_set_loss(_ net: UnsafeMutableRawPointer?, _ loss: Int32) -> Int32 {
    guarded { () throws(EngineError) in
        let kind = try lossKind(loss)
        if let plan = try? handles.lookup(net, as: NetworkPlan<Float>.self, "net") {
            plan.setLoss(kind)
        } else {
            try handles.lookup(net, as: NetworkPlan<Double>.self, "net").setLoss(kind)
        }
    }
}

func netLossWeightedChecked<T: Scalar>(_ net: UnsafeMutableRawPointer?, _ loss: UnsafeMutablePointer<Double>?,
                                       _ scores: Out<T>, _ grads: Table<T>, _ running: Table<T>, _ params: Table<T>,
                                       _ x: In<T>, _ y: UnsafePointer<Int64>?, _ targets: In<T>, _ weights: In<T>,
                                       _ n: Int64, _ d: Int64, _ reg: Double, _ eps: UnsafePointer<Double>?,
                                       _ momentum: UnsafePointer<Double>?, _ seed: UInt64) -> Int32 {
    guarded { () throws(EngineError) in
        let call = try PlanCall(net, n, d, params, running, eps, momentum)
        let plan = call.plan
        let reg = try hyperparameter(reg, "reg", low: 0, high: .greatestFiniteMagnitude)
        let train = y != nil || targets != nil
        let grads = train ? try PointerTable(grads, count: plan.parameterSizes.count, name: "grads") : nil
        if !train { _ = try required(scores, "scores") }
        if y != nil && targets != nil { throw EngineError(.badValue, "both y and targets are given; pass one") }
        let value = try plan.loss(x: try required(x, "x"), y: y, n: call.n, params: call.params, grads: grads,
                                  running: call.running,
                                  scoresOut: scores, reg: reg, norm: NormSettings(eps: eps, momentum: momentum),
                                  seed: seed, targets: targets, weights: train ? weights : nil)
        if let loss { loss.pointee = value }
    }
}

@_cdecl("snn_net_loss_weighted_f32")
public func snn_net_loss_weighted_f32(_ net: UnsafeMutableRawPointer?, _ loss: UnsafeMutablePointer<Double>?,
                                      _ scores: Out<Float>, _ grads: Table<Float>, _ running: Table<Float>,
                                      _ params: Table<Float>, _ x: In<Float>, _ y: UnsafePointer<Int64>?,
                                      _ targets: In<Float>, _ weights: In<Float>, _ n: Int64, _ d: Int64,
                                      _ reg: Double, _ eps: UnsafePointer<Double>?,
                                      _ momentum: UnsafePointer<Double>?, _ seed: UInt64) -> Int32 {
    netLossWeightedChecked(net, loss, scores, grads, running, params, x, y, targets, weights, n, d, reg, eps,
                           momentum, seed)
}

@_cdecl("snn_net_loss_weighted_f64")
public func snn_net_loss_weighted_f64(_ net: UnsafeMutableRawPointer?, _ loss: UnsafeMutablePointer<Double>?,
                                      _ scores: Out<Double>, _ grads: Table<Double>, _ running: Table<Double>,
                                      _ params: Table<Double>, _ x: In<Double>, _ y: UnsafePointer<Int64>?,
                                      _ targets: In<Double>, _ weights: In<Double>, _ n: Int64, _ d: Int64,
                                      _ reg: Double, _ eps: UnsafePointer<Double>?,
                                      _ momentum: UnsafePointer<Double>?, _ seed: UInt64) -> Int32 {
    netLossWeightedChecked(net, loss, scores, grads, running, params, x, y, targets, weights, n, d, reg, eps,
                           momentum, seed)
}
