// Exports of batch normalization, layer normalization and dropout in both precisions.
import Glibc
import SwiftNNEngine

// MARK: batch normalization

func batchNormForwardChecked<T: Scalar>(_ out: Out<T>, _ mean: Out<T>, _ variance: Out<T>, _ invStd: Out<T>,
                                        _ runningMean: Out<T>, _ runningVariance: Out<T>,
                                        _ x: In<T>, _ gamma: In<T>, _ beta: In<T>, _ n: Int64, _ d: Int64,
                                        _ eps: Double, _ momentum: Double, _ mode: Int32) -> Int32 {
    guarded { () throws(EngineError) in
        let n = try size(n, "n"), d = try size(d, "d")
        _ = try elements(n, d, "x")
        let eps = T(try hyperparameter(eps, "eps", low: 0, high: .greatestFiniteMagnitude, openLow: true))
        let out = try required(out, "out"), x = try required(x, "x")
        let gamma = try required(gamma, "gamma"), beta = try required(beta, "beta")
        let runningMean = try required(runningMean, "running_mean")
        let runningVariance = try required(runningVariance, "running_var")
        switch NormMode(rawValue: mode) {
        case .train:
            let momentum = T(try hyperparameter(momentum, "momentum", low: 0, high: 1))
            try batchNormForwardTrain(out: out, mean: try required(mean, "mean"), variance: try required(variance, "var"),
                                  invStd: try required(invStd, "inv_std"), runningMean: runningMean,
                                  runningVariance: runningVariance, x: x, gamma: gamma, beta: beta,
                                  n: n, d: d, eps: eps, momentum: momentum)
        case .test:
            try checkRunningVariance(runningVariance, d: d, eps: eps)
            try withScratch(invStd, count: d) { (work: UnsafeMutablePointer<T>) throws(EngineError) in
                batchNormForwardTest(out: out, invStd: work, x: x, gamma: gamma, beta: beta,
                                     runningMean: runningMean, runningVariance: runningVariance,
                                     n: n, d: d, eps: eps)
            }
        case nil:
            throw EngineError(.badValue, "mode = \(mode), expected SNN_MODE_TRAIN (0) or SNN_MODE_TEST (1)")
        }
    }
}

@_cdecl("snn_batchnorm_forward_f32")
public func snn_batchnorm_forward_f32(_ out: Out<Float>, _ mean: Out<Float>, _ variance: Out<Float>,
                                      _ invStd: Out<Float>, _ runningMean: Out<Float>, _ runningVariance: Out<Float>,
                                      _ x: In<Float>, _ gamma: In<Float>, _ beta: In<Float>, _ n: Int64, _ d: Int64,
                                      _ eps: Double, _ momentum: Double, _ mode: Int32) -> Int32 {
    batchNormForwardChecked(out, mean, variance, invStd, runningMean, runningVariance, x, gamma, beta,
                            n, d, eps, momentum, mode)
}

@_cdecl("snn_batchnorm_forward_f64")
public func snn_batchnorm_forward_f64(_ out: Out<Double>, _ mean: Out<Double>, _ variance: Out<Double>,
                                      _ invStd: Out<Double>, _ runningMean: Out<Double>, _ runningVariance: Out<Double>,
                                      _ x: In<Double>, _ gamma: In<Double>, _ beta: In<Double>, _ n: Int64, _ d: Int64,
                                      _ eps: Double, _ momentum: Double, _ mode: Int32) -> Int32 {
    batchNormForwardChecked(out, mean, variance, invStd, runningMean, runningVariance, x, gamma, beta,
                            n, d, eps, momentum, mode)
}

/// The shared checks of the three normalization backwards; `body` gets the non-NULL pointers.
func normBackwardChecked<T: Scalar>(_ dx: Out<T>, _ dgamma: Out<T>, _ dbeta: Out<T>, _ dout: In<T>, _ x: In<T>,
                                    _ gamma: In<T>, _ mean: In<T>, _ invStd: In<T>, _ n: Int64, _ d: Int64,
                                    _ body: (UnsafeMutablePointer<T>, UnsafeMutablePointer<T>, UnsafeMutablePointer<T>,
                                             UnsafePointer<T>, UnsafePointer<T>, UnsafePointer<T>,
                                             UnsafePointer<T>, UnsafePointer<T>, Int, Int) throws(EngineError) -> Void)
    -> Int32 {
    guarded { () throws(EngineError) in
        let n = try size(n, "n"), d = try size(d, "d")
        _ = try elements(n, d, "x")
        try body(try required(dx, "dx"), try required(dgamma, "dgamma"), try required(dbeta, "dbeta"),
                 try required(dout, "dout"), try required(x, "x"), try required(gamma, "gamma"),
                 try required(mean, "mean"), try required(invStd, "inv_std"), n, d)
    }
}

func batchNormBackwardChecked<T: Scalar>(_ dx: Out<T>, _ dgamma: Out<T>, _ dbeta: Out<T>, _ dout: In<T>, _ x: In<T>,
                                         _ gamma: In<T>, _ mean: In<T>, _ invStd: In<T>,
                                         _ n: Int64, _ d: Int64) -> Int32 {
    normBackwardChecked(dx, dgamma, dbeta, dout, x, gamma, mean, invStd, n, d) {
        dx, dgamma, dbeta, dout, x, gamma, mean, invStd, n, d throws(EngineError) in
        try withScratch(nil, count: 2 * d) { (work: UnsafeMutablePointer<T>) throws(EngineError) in
            batchNormBackward(dx: dx, dgamma: dgamma, dbeta: dbeta, work: work, dout: dout, x: x, gamma: gamma,
                              mean: mean, invStd: invStd, n: n, d: d)
        }
    }
}

@_cdecl("snn_batchnorm_backward_f32")
public func snn_batchnorm_backward_f32(_ dx: Out<Float>, _ dgamma: Out<Float>, _ dbeta: Out<Float>,
                                       _ dout: In<Float>, _ x: In<Float>, _ gamma: In<Float>, _ mean: In<Float>,
                                       _ invStd: In<Float>, _ n: Int64, _ d: Int64) -> Int32 {
    batchNormBackwardChecked(dx, dgamma, dbeta, dout, x, gamma, mean, invStd, n, d)
}

@_cdecl("snn_batchnorm_backward_f64")
public func snn_batchnorm_backward_f64(_ dx: Out<Double>, _ dgamma: Out<Double>, _ dbeta: Out<Double>,
                                       _ dout: In<Double>, _ x: In<Double>, _ gamma: In<Double>, _ mean: In<Double>,
                                       _ invStd: In<Double>, _ n: Int64, _ d: Int64) -> Int32 {
    batchNormBackwardChecked(dx, dgamma, dbeta, dout, x, gamma, mean, invStd, n, d)
}

func batchNormBackwardAltChecked<T: Scalar>(_ dx: Out<T>, _ dgamma: Out<T>, _ dbeta: Out<T>, _ dout: In<T>,
                                            _ x: In<T>, _ gamma: In<T>, _ mean: In<T>, _ invStd: In<T>,
                                            _ n: Int64, _ d: Int64) -> Int32 {
    normBackwardChecked(dx, dgamma, dbeta, dout, x, gamma, mean, invStd, n, d) {
        dx, dgamma, dbeta, dout, x, gamma, mean, invStd, n, d throws(EngineError) in
        batchNormBackwardAlt(dx: dx, dgamma: dgamma, dbeta: dbeta, dout: dout, x: x, gamma: gamma,
                             mean: mean, invStd: invStd, n: n, d: d)
    }
}

@_cdecl("snn_batchnorm_backward_alt_f32")
public func snn_batchnorm_backward_alt_f32(_ dx: Out<Float>, _ dgamma: Out<Float>, _ dbeta: Out<Float>,
                                           _ dout: In<Float>, _ x: In<Float>, _ gamma: In<Float>, _ mean: In<Float>,
                                           _ invStd: In<Float>, _ n: Int64, _ d: Int64) -> Int32 {
    batchNormBackwardAltChecked(dx, dgamma, dbeta, dout, x, gamma, mean, invStd, n, d)
}

@_cdecl("snn_batchnorm_backward_alt_f64")
public func snn_batchnorm_backward_alt_f64(_ dx: Out<Double>, _ dgamma: Out<Double>, _ dbeta: Out<Double>,
                                           _ dout: In<Double>, _ x: In<Double>, _ gamma: In<Double>,
                                           _ mean: In<Double>, _ invStd: In<Double>, _ n: Int64, _ d: Int64) -> Int32 {
    batchNormBackwardAltChecked(dx, dgamma, dbeta, dout, x, gamma, mean, invStd, n, d)
}

// MARK: layer normalization

func layerNormForwardChecked<T: Scalar>(_ out: Out<T>, _ mean: Out<T>, _ invStd: Out<T>, _ x: In<T>,
                                        _ gamma: In<T>, _ beta: In<T>, _ n: Int64, _ d: Int64,
                                        _ eps: Double) -> Int32 {
    guarded { () throws(EngineError) in
        let n = try size(n, "n"), d = try size(d, "d")
        _ = try elements(n, d, "x")
        let eps = T(try hyperparameter(eps, "eps", low: 0, high: .greatestFiniteMagnitude, openLow: true))
        layerNormForward(out: try required(out, "out"), mean: try required(mean, "mean"),
                         invStd: try required(invStd, "inv_std"), x: try required(x, "x"),
                         gamma: try required(gamma, "gamma"), beta: try required(beta, "beta"), n: n, d: d, eps: eps)
    }
}

@_cdecl("snn_layernorm_forward_f32")
public func snn_layernorm_forward_f32(_ out: Out<Float>, _ mean: Out<Float>, _ invStd: Out<Float>, _ x: In<Float>,
                                      _ gamma: In<Float>, _ beta: In<Float>, _ n: Int64, _ d: Int64,
                                      _ eps: Double) -> Int32 {
    layerNormForwardChecked(out, mean, invStd, x, gamma, beta, n, d, eps)
}

@_cdecl("snn_layernorm_forward_f64")
public func snn_layernorm_forward_f64(_ out: Out<Double>, _ mean: Out<Double>, _ invStd: Out<Double>,
                                      _ x: In<Double>, _ gamma: In<Double>, _ beta: In<Double>,
                                      _ n: Int64, _ d: Int64, _ eps: Double) -> Int32 {
    layerNormForwardChecked(out, mean, invStd, x, gamma, beta, n, d, eps)
}

func layerNormBackwardChecked<T: Scalar>(_ dx: Out<T>, _ dgamma: Out<T>, _ dbeta: Out<T>, _ dout: In<T>, _ x: In<T>,
                                         _ gamma: In<T>, _ mean: In<T>, _ invStd: In<T>,
                                         _ n: Int64, _ d: Int64) -> Int32 {
    normBackwardChecked(dx, dgamma, dbeta, dout, x, gamma, mean, invStd, n, d) {
        dx, dgamma, dbeta, dout, x, gamma, mean, invStd, n, d throws(EngineError) in
        layerNormBackward(dx: dx, dgamma: dgamma, dbeta: dbeta, dout: dout, x: x, gamma: gamma,
                          mean: mean, invStd: invStd, n: n, d: d)
    }
}

@_cdecl("snn_layernorm_backward_f32")
public func snn_layernorm_backward_f32(_ dx: Out<Float>, _ dgamma: Out<Float>, _ dbeta: Out<Float>,
                                       _ dout: In<Float>, _ x: In<Float>, _ gamma: In<Float>, _ mean: In<Float>,
                                       _ invStd: In<Float>, _ n: Int64, _ d: Int64) -> Int32 {
    layerNormBackwardChecked(dx, dgamma, dbeta, dout, x, gamma, mean, invStd, n, d)
}

@_cdecl("snn_layernorm_backward_f64")
public func snn_layernorm_backward_f64(_ dx: Out<Double>, _ dgamma: Out<Double>, _ dbeta: Out<Double>,
                                       _ dout: In<Double>, _ x: In<Double>, _ gamma: In<Double>, _ mean: In<Double>,
                                       _ invStd: In<Double>, _ n: Int64, _ d: Int64) -> Int32 {
    layerNormBackwardChecked(dx, dgamma, dbeta, dout, x, gamma, mean, invStd, n, d)
}

// MARK: dropout

func dropoutForwardChecked<T: Scalar>(_ out: Out<T>, _ mask: Out<T>, _ x: In<T>, _ count: Int64,
                                      _ p: Double, _ seed: UInt64) -> Int32 {
    guarded { () throws(EngineError) in
        let count = try size(count, "count")
        _ = try elements(count, 1, "x")
        let p = T(try hyperparameter(p, "p", low: 0, high: 1, openLow: true))
        guard (1 / p).isFinite else { throw EngineError(.badValue, "p = \(p) is too small: 1/p overflows \(T.self)") }
        dropoutForward(out: try required(out, "out"), mask: try required(mask, "mask"), x: try required(x, "x"),
                       count: count, keep: p, seed: seed)
    }
}

@_cdecl("snn_dropout_forward_f32")
public func snn_dropout_forward_f32(_ out: Out<Float>, _ mask: Out<Float>, _ x: In<Float>, _ count: Int64,
                                    _ p: Double, _ seed: UInt64) -> Int32 {
    dropoutForwardChecked(out, mask, x, count, p, seed)
}

@_cdecl("snn_dropout_forward_f64")
public func snn_dropout_forward_f64(_ out: Out<Double>, _ mask: Out<Double>, _ x: In<Double>, _ count: Int64,
                                    _ p: Double, _ seed: UInt64) -> Int32 {
    dropoutForwardChecked(out, mask, x, count, p, seed)
}

/// out = x · mask: the forward pass with a caller-given mask and the backward pass alike.
func maskChecked<T: Scalar>(_ out: Out<T>, _ x: In<T>, _ mask: In<T>, _ count: Int64,
                            _ names: (out: StaticString, x: StaticString)) -> Int32 {
    guarded { () throws(EngineError) in
        let count = try size(count, "count")
        _ = try elements(count, 1, names.x)
        applyMask(out: try required(out, names.out), x: try required(x, names.x), mask: try required(mask, "mask"),
                  count: count)
    }
}

@_cdecl("snn_dropout_forward_masked_f32")
public func snn_dropout_forward_masked_f32(_ out: Out<Float>, _ x: In<Float>, _ mask: In<Float>,
                                           _ count: Int64) -> Int32 {
    maskChecked(out, x, mask, count, ("out", "x"))
}

@_cdecl("snn_dropout_forward_masked_f64")
public func snn_dropout_forward_masked_f64(_ out: Out<Double>, _ x: In<Double>, _ mask: In<Double>,
                                           _ count: Int64) -> Int32 {
    maskChecked(out, x, mask, count, ("out", "x"))
}

@_cdecl("snn_dropout_backward_f32")
public func snn_dropout_backward_f32(_ dx: Out<Float>, _ dout: In<Float>, _ mask: In<Float>,
                                     _ count: Int64) -> Int32 {
    maskChecked(dx, dout, mask, count, ("dx", "dout"))
}

@_cdecl("snn_dropout_backward_f64")
public func snn_dropout_backward_f64(_ dx: Out<Double>, _ dout: In<Double>, _ mask: In<Double>,
                                     _ count: Int64) -> Int32 {
    maskChecked(dx, dout, mask, count, ("dx", "dout"))
}
