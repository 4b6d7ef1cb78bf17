// Exports of the per-layer functions (CS231n's layers.py) in both precisions.
// Each pair of @_cdecl functions forwards to one generic checker that validates the
// arguments and calls the engine. No math here.
import Glibc
import SwiftNNEngine

public typealias In<T> = UnsafePointer<T>?
public typealias Out<T> = UnsafeMutablePointer<T>?

// MARK: affine

func affineForwardChecked<T: Scalar>(_ out: Out<T>, _ x: In<T>, _ w: In<T>, _ b: In<T>,
                                     _ n: Int64, _ d: Int64, _ m: Int64) -> Int32 {
    guarded { () throws(EngineError) in
        let n = try size(n, "n", blas: true), d = try size(d, "d", blas: true), m = try size(m, "m", blas: true)
        _ = try elements(n, d, "x"); _ = try elements(d, m, "w"); _ = try elements(n, m, "out")
        affineForward(out: try required(out, "out"), x: try required(x, "x"), w: try required(w, "w"),
                      b: try required(b, "b"), n: n, d: d, m: m)
    }
}

@_cdecl("snn_affine_forward_f32")
public func snn_affine_forward_f32(_ out: Out<Float>, _ x: In<Float>, _ w: In<Float>, _ b: In<Float>,
                                   _ n: Int64, _ d: Int64, _ m: Int64) -> Int32 {
    affineForwardChecked(out, x, w, b, n, d, m)
}

@_cdecl("snn_affine_forward_f64")
public func snn_affine_forward_f64(_ out: Out<Double>, _ x: In<Double>, _ w: In<Double>, _ b: In<Double>,
                                   _ n: Int64, _ d: Int64, _ m: Int64) -> Int32 {
    affineForwardChecked(out, x, w, b, n, d, m)
}

func affineBackwardChecked<T: Scalar>(_ dx: Out<T>, _ dw: Out<T>, _ db: Out<T>, _ dout: In<T>,
                                      _ x: In<T>, _ w: In<T>, _ n: Int64, _ d: Int64, _ m: Int64) -> Int32 {
    guarded { () throws(EngineError) in
        let n = try size(n, "n", blas: true), d = try size(d, "d", blas: true), m = try size(m, "m", blas: true)
        _ = try elements(n, d, "x"); _ = try elements(d, m, "w"); _ = try elements(n, m, "dout")
        affineBackward(dx: dx, dw: try required(dw, "dw"), db: try required(db, "db"),
                       dout: try required(dout, "dout"), x: try required(x, "x"), w: try required(w, "w"),
                       n: n, d: d, m: m)
    }
}

@_cdecl("snn_affine_backward_f32")
public func snn_affine_backward_f32(_ dx: Out<Float>, _ dw: Out<Float>, _ db: Out<Float>, _ dout: In<Float>,
                                    _ x: In<Float>, _ w: In<Float>, _ n: Int64, _ d: Int64, _ m: Int64) -> Int32 {
    affineBackwardChecked(dx, dw, db, dout, x, w, n, d, m)
}

@_cdecl("snn_affine_backward_f64")
public func snn_affine_backward_f64(_ dx: Out<Double>, _ dw: Out<Double>, _ db: Out<Double>, _ dout: In<Double>,
                                    _ x: In<Double>, _ w: In<Double>, _ n: Int64, _ d: Int64, _ m: Int64) -> Int32 {
    affineBackwardChecked(dx, dw, db, dout, x, w, n, d, m)
}

// MARK: ReLU

func reluForwardChecked<T: Scalar>(_ out: Out<T>, _ x: In<T>, _ count: Int64) -> Int32 {
    guarded { () throws(EngineError) in
        let count = try size(count, "count")
        _ = try elements(count, 1, "x")
        reluForward(out: try required(out, "out"), x: try required(x, "x"), count: count)
    }
}

@_cdecl("snn_relu_forward_f32")
public func snn_relu_forward_f32(_ out: Out<Float>, _ x: In<Float>, _ count: Int64) -> Int32 {
    reluForwardChecked(out, x, count)
}

@_cdecl("snn_relu_forward_f64")
public func snn_relu_forward_f64(_ out: Out<Double>, _ x: In<Double>, _ count: Int64) -> Int32 {
    reluForwardChecked(out, x, count)
}

func reluBackwardChecked<T: Scalar>(_ dx: Out<T>, _ dout: In<T>, _ x: In<T>, _ count: Int64) -> Int32 {
    guarded { () throws(EngineError) in
        let count = try size(count, "count")
        _ = try elements(count, 1, "x")
        reluBackward(dx: try required(dx, "dx"), dout: try required(dout, "dout"), x: try required(x, "x"),
                     count: count)
    }
}

@_cdecl("snn_relu_backward_f32")
public func snn_relu_backward_f32(_ dx: Out<Float>, _ dout: In<Float>, _ x: In<Float>, _ count: Int64) -> Int32 {
    reluBackwardChecked(dx, dout, x, count)
}

@_cdecl("snn_relu_backward_f64")
public func snn_relu_backward_f64(_ dx: Out<Double>, _ dout: In<Double>, _ x: In<Double>, _ count: Int64) -> Int32 {
    reluBackwardChecked(dx, dout, x, count)
}

// MARK: affine + ReLU

func affineReluForwardChecked<T: Scalar>(_ out: Out<T>, _ pre: Out<T>, _ x: In<T>, _ w: In<T>, _ b: In<T>,
                                         _ n: Int64, _ d: Int64, _ m: Int64) -> Int32 {
    guarded { () throws(EngineError) in
        let n = try size(n, "n", blas: true), d = try size(d, "d", blas: true), m = try size(m, "m", blas: true)
        _ = try elements(n, d, "x"); _ = try elements(d, m, "w"); _ = try elements(n, m, "out")
        affineReluForward(out: try required(out, "out"), pre: try required(pre, "pre"), x: try required(x, "x"),
                          w: try required(w, "w"), b: try required(b, "b"), n: n, d: d, m: m)
    }
}

@_cdecl("snn_affine_relu_forward_f32")
public func snn_affine_relu_forward_f32(_ out: Out<Float>, _ pre: Out<Float>, _ x: In<Float>, _ w: In<Float>,
                                        _ b: In<Float>, _ n: Int64, _ d: Int64, _ m: Int64) -> Int32 {
    affineReluForwardChecked(out, pre, x, w, b, n, d, m)
}

@_cdecl("snn_affine_relu_forward_f64")
public func snn_affine_relu_forward_f64(_ out: Out<Double>, _ pre: Out<Double>, _ x: In<Double>, _ w: In<Double>,
                                        _ b: In<Double>, _ n: Int64, _ d: Int64, _ m: Int64) -> Int32 {
    affineReluForwardChecked(out, pre, x, w, b, n, d, m)
}

func affineReluBackwardChecked<T: Scalar>(_ dx: Out<T>, _ dw: Out<T>, _ db: Out<T>, _ dout: In<T>, _ x: In<T>,
                                          _ w: In<T>, _ pre: In<T>, _ n: Int64, _ d: Int64, _ m: Int64) -> Int32 {
    guarded { () throws(EngineError) in
        let n = try size(n, "n", blas: true), d = try size(d, "d", blas: true), m = try size(m, "m", blas: true)
        _ = try elements(n, d, "x"); _ = try elements(d, m, "w")
        let dw = try required(dw, "dw"), db = try required(db, "db"), dout = try required(dout, "dout")
        let x = try required(x, "x"), w = try required(w, "w"), pre = try required(pre, "pre")
        try withScratch(nil, count: try elements(n, m, "dout")) { (dpre: UnsafeMutablePointer<T>) throws(EngineError) in
            affineReluBackward(dx: dx, dw: dw, db: db, dpre: dpre, dout: dout, x: x, w: w, pre: pre,
                               n: n, d: d, m: m)
        }
    }
}

@_cdecl("snn_affine_relu_backward_f32")
public func snn_affine_relu_backward_f32(_ dx: Out<Float>, _ dw: Out<Float>, _ db: Out<Float>, _ dout: In<Float>,
                                         _ x: In<Float>, _ w: In<Float>, _ pre: In<Float>,
                                         _ n: Int64, _ d: Int64, _ m: Int64) -> Int32 {
    affineReluBackwardChecked(dx, dw, db, dout, x, w, pre, n, d, m)
}

@_cdecl("snn_affine_relu_backward_f64")
public func snn_affine_relu_backward_f64(_ dx: Out<Double>, _ dw: Out<Double>, _ db: Out<Double>, _ dout: In<Double>,
                                         _ x: In<Double>, _ w: In<Double>, _ pre: In<Double>,
                                         _ n: Int64, _ d: Int64, _ m: Int64) -> Int32 {
    affineReluBackwardChecked(dx, dw, db, dout, x, w, pre, n, d, m)
}

// MARK: losses

func lossChecked<T: Scalar>(_ loss: UnsafeMutablePointer<Double>?, _ dx: Out<T>, _ x: In<T>,
                            _ y: UnsafePointer<Int64>?, _ n: Int64, _ c: Int64,
                            _ kernel: (UnsafeMutablePointer<T>?, UnsafePointer<T>, UnsafePointer<Int64>, Int, Int)
                                throws(EngineError) -> Double) -> Int32 {
    guarded { () throws(EngineError) in
        let n = try size(n, "n"), c = try size(c, "c")
        _ = try elements(n, c, "x")
        let loss = try required(loss, "loss")
        loss.pointee = try kernel(dx, try required(x, "x"), try required(y, "y"), n, c)
    }
}

@_cdecl("snn_softmax_loss_f32")
public func snn_softmax_loss_f32(_ loss: UnsafeMutablePointer<Double>?, _ dx: Out<Float>, _ x: In<Float>,
                                 _ y: UnsafePointer<Int64>?, _ n: Int64, _ c: Int64) -> Int32 {
    lossChecked(loss, dx, x, y, n, c) { dx, x, y, n, c throws(EngineError) in try softmaxLoss(dx: dx, x: x, y: y, n: n, c: c) }
}

@_cdecl("snn_softmax_loss_f64")
public func snn_softmax_loss_f64(_ loss: UnsafeMutablePointer<Double>?, _ dx: Out<Double>, _ x: In<Double>,
                                 _ y: UnsafePointer<Int64>?, _ n: Int64, _ c: Int64) -> Int32 {
    lossChecked(loss, dx, x, y, n, c) { dx, x, y, n, c throws(EngineError) in try softmaxLoss(dx: dx, x: x, y: y, n: n, c: c) }
}

@_cdecl("snn_svm_loss_f32")
public func snn_svm_loss_f32(_ loss: UnsafeMutablePointer<Double>?, _ dx: Out<Float>, _ x: In<Float>,
                             _ y: UnsafePointer<Int64>?, _ n: Int64, _ c: Int64) -> Int32 {
    lossChecked(loss, dx, x, y, n, c) { dx, x, y, n, c throws(EngineError) in try svmLoss(dx: dx, x: x, y: y, n: n, c: c) }
}

@_cdecl("snn_svm_loss_f64")
public func snn_svm_loss_f64(_ loss: UnsafeMutablePointer<Double>?, _ dx: Out<Double>, _ x: In<Double>,
                             _ y: UnsafePointer<Int64>?, _ n: Int64, _ c: Int64) -> Int32 {
    lossChecked(loss, dx, x, y, n, c) { dx, x, y, n, c throws(EngineError) in try svmLoss(dx: dx, x: x, y: y, n: n, c: c) }
}
