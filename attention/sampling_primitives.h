// Building blocks of the fastRG sampler: Poisson draws and Walker/Vose alias tables.
#pragma once

#include <cstdint>
#include <vector>

#include "attention/philox.h"

namespace sbmt::attention {

// One draw from Poisson(mean). Exact: multiplication of uniforms for mean < 10, Hörmann's
// transformed rejection (PTRS, 1993) above. mean must be finite and >= 0.
int64_t SamplePoisson(PhiloxStream& rng, double mean);

// O(1) sampling of an index i with probability weight[i] / sum(weight) (Vose's method).
//
//   AliasTable table;
//   table.Build(weights, n);
//   int32_t i = table.Sample(rng);
class AliasTable {
 public:
  // Weights must be >= 0 with a positive sum; `stride` steps between consecutive weights (so a
  // column of a row-major matrix can be passed directly). Returns false if the sum is 0.
  bool Build(const float* weights, int64_t n, int64_t stride = 1);

  int32_t Sample(PhiloxStream& rng) const {
    const int32_t i = static_cast<int32_t>(rng.Below(static_cast<uint32_t>(prob_.size())));
    return rng.UniformFloat() < prob_[i] ? i : alias_[i];
  }

  double total() const { return total_; }

 private:
  std::vector<float> prob_;
  std::vector<int32_t> alias_;
  std::vector<int32_t> small_;  // scratch, kept to avoid reallocations between builds
  std::vector<int32_t> large_;
  std::vector<double> scaled_;
  double total_ = 0;
};

}  // namespace sbmt::attention
