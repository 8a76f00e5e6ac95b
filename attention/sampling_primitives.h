// Building blocks of the fastRG sampler: Poisson draws and Walker/Vose alias tables.
#pragma once

#include <cstdint>
#include <vector>

#include "attention/philox.h"

namespace sbmt::attention {

// One draw from Poisson(mean). Exact: multiplication of uniforms for mean < 10, Hörmann's
// transformed rejection (PTRS, 1993) above. mean must be finite and >= 0.
template <typename Rng>
int64_t SamplePoisson(Rng& rng, double mean);

// Rng: PhiloxStream or SplitMixStream (philox.h).

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

  template <typename Rng>
  int32_t Sample(Rng& rng) const {
    const int32_t i = static_cast<int32_t>(rng.Below(static_cast<uint32_t>(entries_.size())));
    const Entry& entry = entries_[i];
    return rng.UniformFloat() < entry.prob ? i : entry.alias;
  }

  // The same draw in two steps, so a caller drawing many values can prefetch every table entry
  // before resolving any (the tables are large and drawn from at random):
  //   Draw d = table.Start(rng); table.Prefetch(d); ...; int32_t i = table.Finish(d);
  struct Draw {
    int32_t index;
    float coin;
  };
  template <typename Rng>
  Draw Start(Rng& rng) const {
    const int32_t i = static_cast<int32_t>(rng.Below(static_cast<uint32_t>(entries_.size())));
    return {i, rng.UniformFloat()};
  }
  void Prefetch(const Draw& d) const { __builtin_prefetch(&entries_[d.index]); }
  int32_t Finish(const Draw& d) const {
    const Entry& entry = entries_[d.index];
    return d.coin < entry.prob ? d.index : entry.alias;
  }

  double total() const { return total_; }

 private:
  // Probability and alias side by side: one cache line per draw (tables are drawn from at
  // random, so this halves the cache misses of the sampler's hot loop).
  struct Entry {
    float prob;
    int32_t alias;
  };
  std::vector<Entry> entries_;
  std::vector<int32_t> small_;  // scratch, kept to avoid reallocations between builds
  std::vector<int32_t> large_;
  std::vector<double> scaled_;
  double total_ = 0;
};

}  // namespace sbmt::attention
