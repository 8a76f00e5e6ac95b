// Every numerical tolerance the attention tests use, each with the reason for its size.
#pragma once

namespace sbmt::attention::testing {

struct Tolerance {
  double atol;
  double rtol;
};

// cpu:: vs reference:: in float. Both compute the same sums in a different order (SIMD partial
// sums of d = 8..64 terms, rows of up to a few hundred edges): a few ulps per operation,
// amplified by at most ~100 terms, around 1e-5 relative for O(1) values.
inline constexpr Tolerance kFastVsReferenceFloat{1e-5, 1e-4};

// The same comparison in double: reordering error is ~1e-16 per term.
inline constexpr Tolerance kFastVsReferenceDouble{1e-12, 1e-10};

// Central finite differences in double with step kFiniteDifferenceStep: truncation error
// O(h²) ~ 1e-10 times third derivatives of O(10), round-off O(eps / h) ~ 1e-10.
inline constexpr double kFiniteDifferenceStep = 1e-5;
inline constexpr Tolerance kFiniteDifference{1e-7, 1e-6};

// Edge sums (kernel) vs dense matrix products (test oracle) in double for the STE gradients.
inline constexpr Tolerance kDenseOracleDouble{1e-12, 1e-10};

// CUDA kernels in float32 vs reference:: in double on the same (float) inputs: float32
// accumulation of rows of up to ~200 edges and d <= 128 terms, expf within 2 ulps; about 1e-6
// relative for O(1) values, so the bound of 1e-5 + 1e-5 |ref| holds with room.
inline constexpr Tolerance kCudaFloat{1e-5, 1e-5};

// The CUDA membership gradients (edge sums, then fp32 cuBLAS products summing k clusters and,
// for dB, every query of the batch): sums of up to ~10^4 float terms of mixed sign, relative
// error up to ~1e-5 of the terms' magnitude.
inline constexpr Tolerance kCudaMembership{1e-4, 1e-4};

// bfloat16/float16 kernels: their error against the double reference (on the same rounded
// inputs) is at most this factor times the error of merely rounding the reference's result to
// the type (what any kernel that stores its result in 16 bits pays; the kernels accumulate in
// float32, so they add little to it), plus kCudaHalfAtol for values that are exactly 0.
inline constexpr double kCudaHalfFactor = 2.0;
inline constexpr double kCudaHalfAtol = 1e-6;

}  // namespace sbmt::attention::testing
