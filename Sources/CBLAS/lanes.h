// Square roots of eight lanes at once. Swift's SIMD8.squareRoot() is a loop of scalar square
// roots, each with a libm call for negative inputs (errno), which also stops vectorization.
// Clang's ext_vector_type(8) imports into Swift as SIMD8, and these inline into the caller.
typedef float snn_float8 __attribute__((ext_vector_type(8)));
typedef double snn_double8 __attribute__((ext_vector_type(8)));
static inline snn_float8 snn_sqrt_float8(snn_float8 x) { return __builtin_elementwise_sqrt(x); }
static inline snn_double8 snn_sqrt_double8(snn_double8 x) { return __builtin_elementwise_sqrt(x); }
