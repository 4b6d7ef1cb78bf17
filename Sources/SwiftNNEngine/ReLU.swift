// Rectified linear unit and the affine–ReLU sandwich.

/// out (count) = max(x, 0)
@inlinable
public func reluForward<T: Scalar>(out: UnsafeMutablePointer<T>, x: UnsafePointer<T>, count: Int) {
    for i in 0..<count { out[i] = x[i] > 0 ? x[i] : 0 }
}

/// dx (count) = dout where x > 0, else 0
@inlinable
public func reluBackward<T: Scalar>(dx: UnsafeMutablePointer<T>, dout: UnsafePointer<T>,
                                    x: UnsafePointer<T>, count: Int) {
    for i in 0..<count { dx[i] = x[i] > 0 ? dout[i] : 0 }
}

/// out (n, m) = max(x (n, d) · w (d, m) + b, 0); pre (n, m) keeps the affine output for backward
@inlinable
public func affineReluForward<T: Scalar>(out: UnsafeMutablePointer<T>, pre: UnsafeMutablePointer<T>,
                                         x: UnsafePointer<T>, w: UnsafePointer<T>, b: UnsafePointer<T>,
                                         n: Int, d: Int, m: Int) {
    affineForward(out: pre, x: x, w: w, b: b, n: n, d: d, m: m)
    reluForward(out: out, x: pre, count: n * m)
}

/// dx (n, d) (skipped when nil), dw (d, m), db (m) from dout (n, m); dpre (n, m) is scratch
/// that ends holding the gradient at the affine output
@inlinable
public func affineReluBackward<T: Scalar>(dx: UnsafeMutablePointer<T>?, dw: UnsafeMutablePointer<T>,
                                          db: UnsafeMutablePointer<T>, dpre: UnsafeMutablePointer<T>,
                                          dout: UnsafePointer<T>, x: UnsafePointer<T>,
                                          w: UnsafePointer<T>, pre: UnsafePointer<T>,
                                          n: Int, d: Int, m: Int) {
    reluBackward(dx: dpre, dout: dout, x: pre, count: n * m)
    affineBackward(dx: dx, dw: dw, db: db, dout: dpre, x: x, w: w, n: n, d: d, m: m)
}
