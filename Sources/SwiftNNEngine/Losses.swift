// Classification losses over scores x (n, c) and integer labels y (n), averaged over n.

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

/// Returns the mean cross-entropy of softmax(x) against y; dx (n, c) = d loss / d x unless nil.
/// Each row is shifted by its maximum first, so any finite scores give a finite loss.
/// dx may be x itself: the scores become their gradient in place.
@inlinable
public func softmaxLoss<T: Scalar>(dx: UnsafeMutablePointer<T>?, x: UnsafePointer<T>,
                                   y: UnsafePointer<Int64>, n: Int, c: Int) throws(EngineError) -> Double {
    try checkLabels(y, n: n, c: c)
    let invN = 1 / T(n)
    var total = 0.0
    for i in 0..<n {
        let row = x + i * c
        var top = row[0]
        for j in 1..<c where row[j] > top { top = row[j] }
        let correct = row[Int(y[i])] - top  // read before dx, which may alias x, overwrites it
        var z: T = 0
        if let dx {
            let g = dx + i * c
            for j in 0..<c { g[j] = T.exp(row[j] - top); z += g[j] }
            let scale = invN / z
            for j in 0..<c { g[j] *= scale }
            g[Int(y[i])] -= invN
        } else {
            for j in 0..<c { z += T.exp(row[j] - top) }
        }
        total += Double(T.log(z) - correct)
    }
    let loss = total / Double(n)
    try checkFinite(loss: loss, "the softmax loss")
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
