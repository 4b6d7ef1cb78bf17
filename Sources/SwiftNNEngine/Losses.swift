// Losses over scores x (n, c): classification against integer labels y (n), regression against
// targets (n, c). Averaged over n, or, with per-row weights w (n), the weighted mean
// Σ w_i·loss_i / Σ w_i, so that an integer weight counts as that many copies of the row.

/// Throws unless every label is in [0, c).
@inlinable
public func checkLabels(_ y: UnsafePointer<Int64>, n: Int, c: Int, name: String = "y") throws(EngineError) {
    for i in 0..<n where y[i] < 0 || y[i] >= Int64(c) {
        throw EngineError(.badValue, "\(name)[\(i)] = \(y[i]) is not a class index in [0, \(c))")
    }
}

@inlinable
func checkFinite(loss: Double, _ what: String) throws(EngineError) {
    if !loss.isFinite {
        throw EngineError(.nonFinite, "\(what) is \(loss): the scores x contain NaN or Inf")
    }
}

/// Throws unless every weight is finite and >= 0 and their sum is > 0 and finite; returns 1 / Σw.
@inlinable
public func inverseWeightSum<T: Scalar>(_ w: UnsafePointer<T>, n: Int, name: String = "weights") throws(EngineError) -> T {
    var sum = 0.0
    for i in 0..<n {
        let v = Double(w[i])
        if !(v.isFinite && v >= 0) {
            throw EngineError(.badValue, "\(name)[\(i)] = \(v), expected a finite weight >= 0")
        }
        sum += v
    }
    guard sum > 0, T(sum).isFinite, (1 / T(sum)) > 0 else {
        throw EngineError(.badValue, "the \(n) \(name) sum to \(sum), expected a sum > 0 that \(T.self) can hold")
    }
    return 1 / T(sum)
}

/// Returns the mean cross-entropy of softmax(x) against y (the weighted mean with weights w);
/// dx (n, c) = d loss / d x unless nil.
/// Each row is shifted by its maximum first, so any finite scores give a finite loss.
/// dx may be x itself: the scores become their gradient in place.
@inlinable
public func softmaxLoss<T: Scalar>(dx: UnsafeMutablePointer<T>?, x: UnsafePointer<T>,
                                   y: UnsafePointer<Int64>, n: Int, c: Int,
                                   weights w: UnsafePointer<T>? = nil) throws(EngineError) -> Double {
    try checkLabels(y, n: n, c: c)
    let invN = try w.map { w throws(EngineError) in try inverseWeightSum(w, n: n) } ?? 1 / T(n)
    var total = 0.0
    for i in 0..<n {
        let row = x + i * c
        var top = row[0]
        for j in 1..<c where row[j] > top { top = row[j] }
        let correct = row[Int(y[i])] - top  // read before dx, which may alias x, overwrites it
        let rowScale = w.map { invN * $0[i] } ?? invN
        var z: T = 0
        if let dx {
            let g = dx + i * c
            for j in 0..<c { g[j] = T.exp(row[j] - top); z += g[j] }
            let scale = rowScale / z
            for j in 0..<c { g[j] *= scale }
            g[Int(y[i])] -= rowScale
        } else {
            for j in 0..<c { z += T.exp(row[j] - top) }
        }
        let rowLoss = Double(T.log(z) - correct)
        total += w.map { Double($0[i]) * rowLoss } ?? rowLoss
    }
    let loss = w == nil ? total / Double(n) : total * Double(invN)
    try checkFinite(loss: loss, "the softmax loss")
    return loss
}

/// Returns the mean over rows of ½·Σ_j (x_ij − t_ij)² against targets t (n, c) (the weighted
/// mean with weights w): the squared error of an identity output; dx (n, c) = d loss / d x
/// unless nil. dx may be x itself.
@inlinable
public func squaredLoss<T: Scalar>(dx: UnsafeMutablePointer<T>?, x: UnsafePointer<T>,
                                   targets t: UnsafePointer<T>, n: Int, c: Int,
                                   weights w: UnsafePointer<T>? = nil) throws(EngineError) -> Double {
    let invN = try w.map { w throws(EngineError) in try inverseWeightSum(w, n: n) } ?? 1 / T(n)
    var total = 0.0
    for i in 0..<n {
        let row = x + i * c, target = t + i * c
        let rowScale = w.map { invN * $0[i] } ?? invN
        var rowLoss = 0.0
        for j in 0..<c {
            let diff = row[j] - target[j]
            rowLoss += Double(diff) * Double(diff)
            dx?[i * c + j] = rowScale * diff
        }
        total += 0.5 * (w.map { Double($0[i]) * rowLoss } ?? rowLoss)
    }
    let loss = w == nil ? total / Double(n) : total * Double(invN)
    if !loss.isFinite {
        throw EngineError(.nonFinite, "the squared error is \(loss): the scores x or the targets contain NaN or Inf, or are too large")
    }
    return loss
}

/// Returns the mean multiclass hinge loss Σ_{j≠y} max(0, x_j − x_y + 1);
/// dx (n, c) = d loss / d x unless nil.
@inlinable
public func svmLoss<T: Scalar>(dx: UnsafeMutablePointer<T>?, x: UnsafePointer<T>,
                               y: UnsafePointer<Int64>, n: Int, c: Int) throws(EngineError) -> Double {
    try checkLabels(y, n: n, c: c)
    let invN = 1 / T(n)
    var total = 0.0
    for i in 0..<n {
        let row = x + i * c
        let label = Int(y[i])
        let correct = row[label]
        var rowLoss: T = 0
        var active: T = 0
        for j in 0..<c where j != label {
            let margin = row[j] - correct + 1
            if margin > 0 { rowLoss += margin; active += 1 } else if margin.isNaN { rowLoss += margin }
            dx?[i * c + j] = margin > 0 ? invN : 0
        }
        dx?[i * c + label] = -active * invN
        total += Double(rowLoss)
    }
    let loss = total / Double(n)
    try checkFinite(loss: loss, "the SVM loss")
    return loss
}
