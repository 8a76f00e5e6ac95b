#include "attention/sampling_primitives.h"

#include <cmath>

namespace sbmt::attention {

template <typename Rng>
int64_t SamplePoisson(Rng& rng, double mean) {
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

template int64_t SamplePoisson<PhiloxStream>(PhiloxStream&, double);
template int64_t SamplePoisson<SplitMixStream>(SplitMixStream&, double);

double AliasTables::Build(int64_t t, const float* weights, int64_t stride, const uint8_t* valid) {
  const int64_t n = size_;
  Entry* entries = entries_.data() + t * n;
  auto weight = [&](int64_t i) {
    return valid == nullptr || valid[i] != 0 ? weights[i * stride] : 0.0f;
  };
  // Four partial sums: one chain of dependent adds would cost four cycles an entry.
  double partial[4] = {0, 0, 0, 0};
  int64_t i = 0;
  for (; i + 4 <= n; i += 4) {
    for (int lane = 0; lane < 4; ++lane) partial[lane] += weight(i + lane);
  }
  for (; i < n; ++i) partial[0] += weight(i);
  const double total = (partial[0] + partial[1]) + (partial[2] + partial[3]);
  totals_[t] = total;
  if (!(total > 0)) return 0;
  // Scratch per thread, reused between builds.
  thread_local std::vector<double> scaled_;
  thread_local std::vector<int32_t> small_, large_;
  scaled_.resize(n);
  small_.resize(n);
  large_.resize(n);
  int64_t n_small = 0, n_large = 0;
  const double norm = static_cast<double>(n) / total;
  for (i = 0; i < n; ++i) {
    scaled_[i] = weight(i) * norm;
    entries[i] = Entry{1.0f, static_cast<int32_t>(i)};
    // Branch-free classification (weights are in random order).
    const bool is_small = scaled_[i] < 1.0;
    small_[n_small] = static_cast<int32_t>(i);
    large_[n_large] = static_cast<int32_t>(i);
    n_small += is_small;
    n_large += !is_small;
  }
  while (n_small > 0 && n_large > 0) {
    const int32_t s = small_[--n_small];
    const int32_t l = large_[n_large - 1];
    entries[s] = Entry{static_cast<float>(scaled_[s]), l};
    scaled_[l] -= 1.0 - scaled_[s];
    if (scaled_[l] < 1.0) {
      --n_large;
      small_[n_small++] = l;
    }
  }
  // Leftovers keep probability 1 (they are 1 up to rounding).
  return total;
}

double CdfTables::Build(int64_t t, const float* weights, int64_t stride, const uint8_t* valid) {
  float* running = running_.data() + t * size_;
  // Summed in double, stored in float: running sums that never decrease, to float precision
  // (the alias tables keep their probabilities in float too).
  double sum = 0;
  int32_t last = -1;
  for (int64_t i = 0; i < size_; ++i) {
    const float weight = valid == nullptr || valid[i] != 0 ? weights[i * stride] : 0.0f;
    sum += weight;
    running[i] = static_cast<float>(sum);
    last = weight > 0 ? static_cast<int32_t>(i) : last;
  }
  last_[t] = last;
  return sum;
}

}  // namespace sbmt::attention
