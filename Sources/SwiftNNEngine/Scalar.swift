import CBLAS
#if canImport(Glibc)
import Glibc
#endif

/// The element types the engine computes in: `Float` is the fast path, `Double` is what
/// gradient checks use. Everything generic in the engine is `@inlinable` so that callers
/// in other modules get code specialized for one of these two, never a generic loop.
public protocol Scalar: BinaryFloatingPoint, SIMDScalar, Codable, Sendable where RawSignificand: FixedWidthInteger {
    static func exp(_ x: Self) -> Self
    static func log(_ x: Self) -> Self
    /// A uniform sample in [0, 1) from the high bits of 64 random bits.
    static func unit(_ bits: UInt64) -> Self
    /// `gemm` (see Parallel.swift) on the calling thread only: one call of the BLAS.
    static func gemmOnThisThread(transA: Bool, transB: Bool, m: Int, n: Int, k: Int,
                     alpha: Self, a: UnsafePointer<Self>, lda: Int,
                     b: UnsafePointer<Self>, ldb: Int,
                     beta: Self, c: UnsafeMutablePointer<Self>, ldc: Int)
    /// Lane-wise square root in vector instructions.
    static func squareRoot(_ v: Lanes<Self>) -> Lanes<Self>
}

/// Eight lanes at a time for the elementwise loops the auto-vectorizer leaves scalar
/// (those with a square root and a division, such as the adaptive update rules).
public typealias Lanes<T: Scalar> = SIMD8<T>

@inlinable @inline(__always)
func lanes<T: Scalar>(_ p: UnsafePointer<T>) -> Lanes<T> {
    UnsafeRawPointer(p).loadUnaligned(as: Lanes<T>.self)
}

@inlinable @inline(__always)
func store<T: Scalar>(_ v: Lanes<T>, _ p: UnsafeMutablePointer<T>) {
    UnsafeMutableRawPointer(p).storeBytes(of: v, as: Lanes<T>.self)
}

@inlinable func cblasTranspose(_ t: Bool) -> CBLAS_TRANSPOSE { t ? CblasTrans : CblasNoTrans }

extension Float: Scalar {
    @inlinable public static func exp(_ x: Float) -> Float { expf(x) }
    @inlinable public static func log(_ x: Float) -> Float { logf(x) }
    @inlinable public static func unit(_ bits: UInt64) -> Float { Float(bits >> 40) * 0x1p-24 }
    @inlinable public static func squareRoot(_ v: Lanes<Float>) -> Lanes<Float> { snn_sqrt_float8(v) }
    @inlinable public static func gemmOnThisThread(transA: Bool, transB: Bool, m: Int, n: Int, k: Int,
                                                   alpha: Float, a: UnsafePointer<Float>, lda: Int,
                                                   b: UnsafePointer<Float>, ldb: Int,
                                                   beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int) {
        cblas_sgemm(CblasRowMajor, cblasTranspose(transA), cblasTranspose(transB), blasint(m), blasint(n), blasint(k),
                    alpha, a, blasint(lda), b, blasint(ldb), beta, c, blasint(ldc))
    }
}

extension Double: Scalar {
    @inlinable public static func exp(_ x: Double) -> Double { Glibc.exp(x) }
    @inlinable public static func log(_ x: Double) -> Double { Glibc.log(x) }
    @inlinable public static func unit(_ bits: UInt64) -> Double { Double(bits >> 11) * 0x1p-53 }
    @inlinable public static func squareRoot(_ v: Lanes<Double>) -> Lanes<Double> { snn_sqrt_double8(v) }
    @inlinable public static func gemmOnThisThread(transA: Bool, transB: Bool, m: Int, n: Int, k: Int,
                                                   alpha: Double, a: UnsafePointer<Double>, lda: Int,
                                                   b: UnsafePointer<Double>, ldb: Int,
                                                   beta: Double, c: UnsafeMutablePointer<Double>, ldc: Int) {
        cblas_dgemm(CblasRowMajor, cblasTranspose(transA), cblasTranspose(transB), blasint(m), blasint(n), blasint(k),
                    alpha, a, blasint(lda), b, blasint(ldb), beta, c, blasint(ldc))
    }
}
