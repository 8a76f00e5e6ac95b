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

}  // namespace sbmt::attention::testing
