// Inverted dropout: keep each unit with probability p and scale the kept ones by 1/p,
// so that nothing changes at test time.

/// The i-th output of the SplitMix64 generator started at `seed` (Steele, Lea & Flood 2014).
/// Counter-based, so element i of a mask does not depend on how the work is split.
@inlinable
public func splitMix64(seed: UInt64, index: UInt64) -> UInt64 {
    var z = seed &+ (index &+ 1) &* 0x9E37_79B9_7F4A_7C15
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
}

/// mask (count): 1/p where unit(splitMix64(seed, i)) < p, else 0.
@inlinable
public func dropoutMask<T: Scalar>(mask: UnsafeMutablePointer<T>, count: Int, keep p: T, seed: UInt64) {
    let scale = 1 / p
    for i in 0..<count {
        mask[i] = T.unit(splitMix64(seed: seed, index: UInt64(i))) < p ? scale : 0
    }
}

/// out (count) = x · mask, with mask as made by `dropoutMask` or given by the caller.
/// The backward pass is the same product: dx = dout · mask.
@inlinable
public func applyMask<T: Scalar>(out: UnsafeMutablePointer<T>, x: UnsafePointer<T>,
                                 mask: UnsafePointer<T>, count: Int) {
    for i in 0..<count { out[i] = x[i] * mask[i] }
}

/// out (count) = x · mask, drawing mask (count) as `dropoutMask` does, in one pass.
@inlinable
public func dropoutForward<T: Scalar>(out: UnsafeMutablePointer<T>, mask: UnsafeMutablePointer<T>,
                                      x: UnsafePointer<T>, count: Int, keep p: T, seed: UInt64) {
    let scale = 1 / p
    for i in 0..<count {
        let m: T = T.unit(splitMix64(seed: seed, index: UInt64(i))) < p ? scale : 0
        mask[i] = m
        out[i] = x[i] * m
    }
}
