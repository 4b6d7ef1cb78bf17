// Affine layer: out = x · w + b, with x any (N, d1..dk) seen as (N, D).

/// out (n, m) = x (n, d) · w (d, m) + b (m)
@inlinable
public func affineForward<T: Scalar>(out: UnsafeMutablePointer<T>, x: UnsafePointer<T>,
                                     w: UnsafePointer<T>, b: UnsafePointer<T>,
                                     n: Int, d: Int, m: Int) {
    if n == 1 {
        // One row (a prediction for one example): OpenBLAS's GEMM packs all of w for it, its
        // matrix-vector product reads w once (784x512 floats: ~170 µs against ~35 µs). Reading
        // w is the cost, so a large w is read by every thread, a block of columns each.
        out.update(from: b, count: m)
        forEachPiece(of: m, minimum: d * m >= minimumSplitGemv ? 0 : m + 1, alignment: 16,
                     GemvColumns(out: out, x: x, w: w, d: d, m: m))
        return
    }
    // Broadcasting b first lets the GEMM accumulate onto it (beta = 1): one pass fewer.
    for i in 0..<n {
        (out + i * m).update(from: b, count: m)
    }
    T.gemm(transA: false, transB: false, m: n, n: m, k: d,
           alpha: 1, a: x, lda: d, b: w, ldb: m, beta: 1, c: out, ldc: m)
}

/// Weight matrices of at least this many elements are read by every thread in a one-row
/// affine forward: about 25 µs of reading on one core, against ~1 µs to hand half to a helper.
@usableFromInline let minimumSplitGemv = 1 << 17

/// Columns of out (m) += x (d) · w (d, m), a block of columns per piece.
@usableFromInline struct GemvColumns<T: Scalar>: PieceWork {
    @usableFromInline let out: UnsafeMutablePointer<T>
    @usableFromInline let x, w: UnsafePointer<T>
    @usableFromInline let d, m: Int

    @inlinable init(out: UnsafeMutablePointer<T>, x: UnsafePointer<T>, w: UnsafePointer<T>, d: Int, m: Int) {
        (self.out, self.x, self.w, self.d, self.m) = (out, x, w, d, m)
    }

    @inlinable func callAsFunction(_ piece: Range<Int>) {
        T.gemvTransposed(m: d, n: piece.count, alpha: 1, a: w + piece.lowerBound, lda: m, x: x, beta: 1,
                         y: out + piece.lowerBound)
    }
}

/// dx (n, d) = dout · wᵀ (skipped when dx is nil), dw (d, m) = xᵀ · dout, db (m) = Σ_rows dout.
/// With `dwScale` = (α, β): dw ← α·xᵀ·dout + β·dw instead, after dx is made; dw may then be w
/// itself, which is how a plain SGD step is fused into backward (α = −lr, β = 1 − lr·reg).
@inlinable
public func affineBackward<T: Scalar>(dx: UnsafeMutablePointer<T>?, dw: UnsafeMutablePointer<T>,
                                      db: UnsafeMutablePointer<T>, dout: UnsafePointer<T>,
                                      x: UnsafePointer<T>, w: UnsafePointer<T>,
                                      n: Int, d: Int, m: Int, dwScale: (alpha: T, beta: T) = (1, 0)) {
    if let dx {
        T.gemm(transA: false, transB: true, m: n, n: d, k: m,
               alpha: 1, a: dout, lda: m, b: w, ldb: m, beta: 0, c: dx, ldc: d)
    }
    T.gemm(transA: true, transB: false, m: d, n: m, k: n,
           alpha: dwScale.alpha, a: x, lda: d, b: dout, ldb: m, beta: dwScale.beta, c: dw, ldc: m)
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
