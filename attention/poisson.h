// One draw from Poisson(mean), for any stream with Uniform() (philox.h's streams on the host,
// the CUDA sampler's on the device: both include this, so a row's edge count is the same draw on
// CPU and GPU). Exact: multiplication of uniforms for mean < 10, Hörmann's transformed rejection
// (PTRS, 1993) above. mean must be finite and >= 0.
#pragma once

#include <cmath>
#include <cstdint>

#include "attention/host_device.h"

namespace sbmt::attention {

template <typename Rng>
SBMT_HOST_DEVICE int64_t SamplePoisson(Rng& rng, double mean) {
  if (mean <= 0) return 0;
  if (mean < 10) {
    // Count uniforms until their product drops below exp(-mean).
    const double limit = std::exp(-mean);
    int64_t count = 0;
    double product = rng.Uniform();
    while (product > limit) {
      ++count;
      product *= rng.Uniform();
    }
    return count;
  }
  // PTRS: W. Hörmann, "The transformed rejection method for generating Poisson random
  // variables", Insurance: Mathematics and Economics 12 (1993). Same constants as NumPy.
  const double slam = std::sqrt(mean);
  const double loglam = std::log(mean);
  const double b = 0.931 + 2.53 * slam;
  const double a = -0.059 + 0.02483 * b;
  const double invalpha = 1.1239 + 1.1328 / (b - 3.4);
  const double vr = 0.9277 - 3.6224 / (b - 2);
  for (;;) {
    const double u = rng.Uniform() - 0.5;
    const double v = rng.Uniform();
    const double us = 0.5 - std::fabs(u);
    const double k = std::floor((2 * a / us + b) * u + mean + 0.43);
    if (us >= 0.07 && v <= vr) return static_cast<int64_t>(k);
    if (k < 0 || (us < 0.013 && v > us)) continue;
    if (std::log(v) + std::log(invalpha) - std::log(a / (us * us) + b) <=
        -mean + k * loglam - std::lgamma(k + 1)) {
      return static_cast<int64_t>(k);
    }
  }
}

}  // namespace sbmt::attention
