// Affine layer: out = x · w + b, with x any (N, d1..dk) seen as (N, D).

/// out (n, m) = x (n, d) · w (d, m) + b (m)
@inlinable
public func affineForward<T: Scalar>(out: UnsafeMutablePointer<T>, x: UnsafePointer<T>,
                                     w: UnsafePointer<T>, b: UnsafePointer<T>,
                                     n: Int, d: Int, m: Int) {
    // Broadcasting b first lets the GEMM accumulate onto it (beta = 1): one pass fewer.
    for i in 0..<n {
        (out + i * m).update(from: b, count: m)
    }
    T.gemm(transA: false, transB: false, m: n, n: m, k: d,
           alpha: 1, a: x, lda: d, b: w, ldb: m, beta: 1, c: out, ldc: m)
}

/// dx (n, d) = dout · wᵀ (skipped when dx is nil), dw (d, m) = xᵀ · dout, db (m) = Σ_rows dout.
/// With `dwScale` = (α, β): dw ← α·xᵀ·dout + β·dw instead, after dx is made; dw may then be w
/// itself, which is how a plain SGD step is fused into backward (α = −lr, β = 1 − lr·reg).
@inlinable
public func affineBackward<T: Scalar>(dx: UnsafeMutablePointer<T>?, dw: UnsafeMutablePointer<T>,
                                      db: UnsafeMutablePointer<T>, dout: UnsafePointer<T>,
                                      x: UnsafePointer<T>, w: UnsafePointer<T>,
                                      n: Int, d: Int, m: Int, dwScale: (alpha: T, beta: T) = (1, 0)) {
    affineBackward(dx: dx, dw: dw, db: db, dout: dout, x: x, w: w, n: n, d: d, m: m, dwScale: dwScale,
                   dwEpilogue: NoEpilogue())
}

/// affineBackward, with `dwEpilogue` run on each block of dw as soon as it is made (see `gemm`).
@inlinable
public func affineBackward<T: Scalar, E: BlockEpilogue>(dx: UnsafeMutablePointer<T>?, dw: UnsafeMutablePointer<T>,
                                                        db: UnsafeMutablePointer<T>, dout: UnsafePointer<T>,
                                                        x: UnsafePointer<T>, w: UnsafePointer<T>,
                                                        n: Int, d: Int, m: Int, dwScale: (alpha: T, beta: T),
                                                        dwEpilogue: E) {
    if let dx {
        T.gemm(transA: false, transB: true, m: n, n: d, k: m,
               alpha: 1, a: dout, lda: m, b: w, ldb: m, beta: 0, c: dx, ldc: d)
    }
    T.gemm(transA: true, transB: false, m: d, n: m, k: n,
           alpha: dwScale.alpha, a: x, lda: d, b: dout, ldb: m, beta: dwScale.beta, c: dw, ldc: m,
           epilogue: dwEpilogue)
    sumRows(out: db, x: dout, n: n, d: m)
}

/// out (d) = Σ_i x[i, :] over the n rows of x (n, d)
@inlinable
public func sumRows<T: Scalar>(out: UnsafeMutablePointer<T>, x: UnsafePointer<T>, n: Int, d: Int) {
    out.update(repeating: 0, count: d)
    for i in 0..<n {
        let row = x + i * d
        for j in 0..<d { out[j] += row[j] }
    }
}
