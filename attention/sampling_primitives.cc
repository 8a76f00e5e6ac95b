#include "attention/sampling_primitives.h"

#include <cmath>

namespace sbmt::attention {

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
