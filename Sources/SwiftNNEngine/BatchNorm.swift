// Batch normalization over the rows of x (n, d): each of the d features is normalized
// with statistics taken across the n examples of the minibatch.

public enum NormMode: Int32 {
    case train = 0
    case test = 1
}

/// Column means and biased variances of x (n, d), two-pass for accuracy.
@inlinable
func columnMoments<T: Scalar>(mean: UnsafeMutablePointer<T>, variance: UnsafeMutablePointer<T>,
                              x: UnsafePointer<T>, n: Int, d: Int) {
    sumRows(out: mean, x: x, n: n, d: d)
    let invN = 1 / T(n)
    for j in 0..<d { mean[j] *= invN }
    variance.update(repeating: 0, count: d)
    for i in 0..<n {
        let row = x + i * d
        for j in 0..<d { let c = row[j] - mean[j]; variance[j] += c * c }
    }
    for j in 0..<d { variance[j] *= invN }
}

/// Train mode: out (n, d) = gamma · (x − μ)/√(σ² + eps) + beta with the batch's μ, σ² (d),
/// written to mean and variance; running statistics become momentum·running + (1−momentum)·batch.
/// invStd (d) receives 1/√(σ² + eps) for the backward pass. Throws, leaving the running
/// statistics as they were, when x holds NaN or Inf.
@inlinable
public func batchNormForwardTrain<T: Scalar>(out: UnsafeMutablePointer<T>, mean: UnsafeMutablePointer<T>,
                                             variance: UnsafeMutablePointer<T>, invStd: UnsafeMutablePointer<T>,
                                             runningMean: UnsafeMutablePointer<T>,
                                             runningVariance: UnsafeMutablePointer<T>,
                                             x: UnsafePointer<T>, gamma: UnsafePointer<T>, beta: UnsafePointer<T>,
                                             n: Int, d: Int, eps: T, momentum: T) throws(EngineError) {
    columnMoments(mean: mean, variance: variance, x: x, n: n, d: d)
    // Checked before the running statistics change, so one bad batch cannot poison them.
    for j in 0..<d where !(mean[j].isFinite && variance[j].isFinite) {
        throw EngineError(.nonFinite, "x contains NaN or Inf (feature \(j) has mean \(mean[j]), variance \(variance[j]))")
    }
    for j in 0..<d {
        invStd[j] = 1 / (variance[j] + eps).squareRoot()
        runningMean[j] = momentum * runningMean[j] + (1 - momentum) * mean[j]
        runningVariance[j] = momentum * runningVariance[j] + (1 - momentum) * variance[j]
    }
    scaleShiftColumns(out: out, x: x, center: mean, invStd: invStd, gamma: gamma, beta: beta, n: n, d: d)
}

/// Throws unless every running variance is a finite value with running σ² + eps > 0: a
/// negative or non-finite one would make test mode's 1/√(σ² + eps) NaN for every row.
@inlinable
public func checkRunningVariance<T: Scalar>(_ runningVariance: UnsafePointer<T>, d: Int, eps: T,
                                            name: String = "running_var") throws(EngineError) {
    for j in 0..<d where !(runningVariance[j].isFinite && runningVariance[j] + eps > 0) {
        throw EngineError(.badValue, "\(name)[\(j)] = \(runningVariance[j]), expected a finite variance >= 0")
    }
}

/// Test mode: out (n, d) = gamma · (x − running μ)/√(running σ² + eps) + beta.
/// invStd (d) is scratch.
@inlinable
public func batchNormForwardTest<T: Scalar>(out: UnsafeMutablePointer<T>, invStd: UnsafeMutablePointer<T>,
                                            x: UnsafePointer<T>, gamma: UnsafePointer<T>, beta: UnsafePointer<T>,
                                            runningMean: UnsafePointer<T>, runningVariance: UnsafePointer<T>,
                                            n: Int, d: Int, eps: T) {
    for j in 0..<d { invStd[j] = 1 / (runningVariance[j] + eps).squareRoot() }
    scaleShiftColumns(out: out, x: x, center: runningMean, invStd: invStd, gamma: gamma, beta: beta, n: n, d: d)
}

/// out (n, d) = gamma_j · (x_ij − center_j) · invStd_j + beta_j
@inlinable
func scaleShiftColumns<T: Scalar>(out: UnsafeMutablePointer<T>, x: UnsafePointer<T>,
                                  center: UnsafePointer<T>, invStd: UnsafePointer<T>,
                                  gamma: UnsafePointer<T>, beta: UnsafePointer<T>, n: Int, d: Int) {
    for i in 0..<n {
        let row = x + i * d, o = out + i * d
        for j in 0..<d { o[j] = gamma[j] * ((row[j] - center[j]) * invStd[j]) + beta[j] }
    }
}

/// Backward through the computational graph, stage by stage (x̂, σ², μ), as the course
/// derives it: dx (n, d), dgamma (d), dbeta (d) from dout (n, d) and the forward's μ and
/// 1/√(σ² + eps). work (2d) is scratch.
@inlinable
public func batchNormBackward<T: Scalar>(dx: UnsafeMutablePointer<T>, dgamma: UnsafeMutablePointer<T>,
                                         dbeta: UnsafeMutablePointer<T>, work: UnsafeMutablePointer<T>,
                                         dout: UnsafePointer<T>, x: UnsafePointer<T>, gamma: UnsafePointer<T>,
                                         mean: UnsafePointer<T>, invStd: UnsafePointer<T>, n: Int, d: Int) {
    let dvar = work, dmean = work + d
    // One pass for the three column sums the graph needs: Σ dout·(x − μ), Σ dout, Σ (x − μ).
    // The last is zero in exact arithmetic; the staged form keeps it, as the graph does.
    dgamma.update(repeating: 0, count: d)
    dbeta.update(repeating: 0, count: d)
    dmean.update(repeating: 0, count: d)
    for i in 0..<n {
        let row = x + i * d, g = dout + i * d
        for j in 0..<d {
            let centered = row[j] - mean[j]
            dgamma[j] += g[j] * centered
            dbeta[j] += g[j]
            dmean[j] += centered
        }
    }
    let invN = 1 / T(n)
    for j in 0..<d {
        let s = invStd[j]
        // dx̂ = dout·gamma; dσ² = Σ dx̂ (x − μ) · (−½) s³; dμ = Σ −dx̂ s + dσ² · Σ −2(x − μ)/n
        dvar[j] = gamma[j] * dgamma[j] * (-0.5) * s * s * s
        dmean[j] = -gamma[j] * dbeta[j] * s + dvar[j] * (-2 * invN) * dmean[j]
        dgamma[j] *= s
    }
    for i in 0..<n {
        let row = x + i * d, g = dout + i * d, o = dx + i * d
        for j in 0..<d {
            o[j] = g[j] * gamma[j] * invStd[j] + dvar[j] * (2 * invN) * (row[j] - mean[j]) + dmean[j] * invN
        }
    }
}

/// The closed form: dx = (gamma · invStd / n) · (n · dout − dbeta − x̂ · dgamma).
@inlinable
public func batchNormBackwardAlt<T: Scalar>(dx: UnsafeMutablePointer<T>, dgamma: UnsafeMutablePointer<T>,
                                            dbeta: UnsafeMutablePointer<T>, dout: UnsafePointer<T>,
                                            x: UnsafePointer<T>, gamma: UnsafePointer<T>,
                                            mean: UnsafePointer<T>, invStd: UnsafePointer<T>, n: Int, d: Int) {
    normGradientSums(dgamma: dgamma, dbeta: dbeta, dout: dout, x: x, mean: mean, invStd: invStd, n: n, d: d)
    let invN = 1 / T(n), nn = T(n)
    for i in 0..<n {
        let row = x + i * d, g = dout + i * d, o = dx + i * d
        for j in 0..<d {
            let xhat = (row[j] - mean[j]) * invStd[j]
            o[j] = gamma[j] * invStd[j] * invN * (nn * g[j] - dbeta[j] - xhat * dgamma[j])
        }
    }
}

/// dbeta (d) = Σ_i dout, dgamma (d) = Σ_i dout · x̂ with x̂ = (x − mean) · invStd per column.
@inlinable
func normGradientSums<T: Scalar>(dgamma: UnsafeMutablePointer<T>, dbeta: UnsafeMutablePointer<T>,
                                 dout: UnsafePointer<T>, x: UnsafePointer<T>,
                                 mean: UnsafePointer<T>, invStd: UnsafePointer<T>, n: Int, d: Int) {
    dgamma.update(repeating: 0, count: d)
    dbeta.update(repeating: 0, count: d)
    for i in 0..<n {
        let row = x + i * d, g = dout + i * d
        for j in 0..<d {
            dbeta[j] += g[j]
            dgamma[j] += g[j] * ((row[j] - mean[j]) * invStd[j])
        }
    }
}
