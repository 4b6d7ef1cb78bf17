// Layer normalization: each row of x (n, d) is normalized with its own statistics;
// gamma and beta (d) act per feature, as in batch normalization. No running statistics.

/// out (n, d) = gamma · (x − μ_i)/√(σ²_i + eps) + beta; mean (n) and invStd (n) = 1/√(σ²_i + eps)
/// are kept for the backward pass.
@inlinable
public func layerNormForward<T: Scalar>(out: UnsafeMutablePointer<T>, mean: UnsafeMutablePointer<T>,
                                        invStd: UnsafeMutablePointer<T>, x: UnsafePointer<T>,
                                        gamma: UnsafePointer<T>, beta: UnsafePointer<T>,
                                        n: Int, d: Int, eps: T) {
    let invD = 1 / T(d)
    for i in 0..<n {
        let row = x + i * d, o = out + i * d
        var sum: T = 0
        for j in 0..<d { sum += row[j] }
        let mu = sum * invD
        var sq: T = 0
        for j in 0..<d { let c = row[j] - mu; sq += c * c }
        let s = 1 / (sq * invD + eps).squareRoot()
        mean[i] = mu
        invStd[i] = s
        for j in 0..<d { o[j] = gamma[j] * ((row[j] - mu) * s) + beta[j] }
    }
}

/// dx (n, d), dgamma (d), dbeta (d) from dout (n, d) and the forward's per-row mean and invStd:
/// dx_i = s_i/d · (d·dx̂_i − Σ_j dx̂_ij − x̂_i · Σ_j dx̂_ij x̂_ij), with dx̂ = dout · gamma.
@inlinable
public func layerNormBackward<T: Scalar>(dx: UnsafeMutablePointer<T>, dgamma: UnsafeMutablePointer<T>,
                                         dbeta: UnsafeMutablePointer<T>, dout: UnsafePointer<T>,
                                         x: UnsafePointer<T>, gamma: UnsafePointer<T>,
                                         mean: UnsafePointer<T>, invStd: UnsafePointer<T>, n: Int, d: Int) {
    dgamma.update(repeating: 0, count: d)
    dbeta.update(repeating: 0, count: d)
    let invD = 1 / T(d), dd = T(d)
    for i in 0..<n {
        let row = x + i * d, g = dout + i * d, o = dx + i * d
        let mu = mean[i], s = invStd[i]
        var sumG: T = 0, sumGX: T = 0
        for j in 0..<d {
            let xhat = (row[j] - mu) * s
            let gh = g[j] * gamma[j]
            sumG += gh
            sumGX += gh * xhat
            dbeta[j] += g[j]
            dgamma[j] += g[j] * xhat
        }
        for j in 0..<d {
            let xhat = (row[j] - mu) * s
            o[j] = s * invD * (dd * g[j] * gamma[j] - sumG - xhat * sumGX)
        }
    }
}
