// Building blocks of the fastRG sampler: Poisson draws, Walker/Vose alias tables and
// running-sum search tables.
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

#include "attention/philox.h"
#include "attention/poisson.h"

namespace sbmt::attention {

// SamplePoisson(rng, mean): poisson.h. Rng: PhiloxStream or SplitMixStream (philox.h).

// O(1) sampling of an index i with probability weight[i] / sum(weight) (Vose's method), for a
// set of `tables` tables of `size` entries each, stored in one flat array: the sampler's inner
// loop looks up several tables per edge, and a flat layout keeps those lookups to one load each.
//
//   AliasTables tables(/*tables=*/k, /*size=*/n);
//   tables.Build(t, weights, /*stride=*/1);
//   int32_t i = tables.Sample(t, rng);
class AliasTables {
 public:
  AliasTables() = default;
  AliasTables(int64_t tables, int64_t size)
      : size_(size), entries_(tables * size), totals_(tables, 0.0) {}

  // Table t from weights[0], weights[stride], ... (size of them, all >= 0; stride 0 repeats
  // one weight). Entries i with valid[i] == 0 get weight 0 when valid is given. Returns the sum
  // of the weights; a table whose weights sum to 0 must not be sampled. Distinct tables may be
  // built from different threads at once.
  double Build(int64_t t, const float* weights, int64_t stride = 1, const uint8_t* valid = nullptr);

  double total(int64_t t) const { return totals_[t]; }
  int64_t size() const { return size_; }

  template <typename Rng>
  int32_t Sample(int64_t t, Rng& rng) const {
    return Finish(t, Start(rng));
  }

  // out[i] = a draw from table tables[i] (table 0 for all when tables is null), i < count:
  // the same interface as CdfTables::SampleMany.
  template <typename Rng>
  void SampleMany(const int32_t* tables, int64_t count, Rng& rng, int32_t* out) const {
    for (int64_t i = 0; i < count; ++i) out[i] = Sample(tables != nullptr ? tables[i] : 0, rng);
  }

  // The same draw in two steps, so a caller drawing many values can prefetch every table entry
  // before resolving any (the key tables are large and drawn from at random):
  //   Draw d = tables.Start(rng); tables.Prefetch(t, d); ...; int32_t i = tables.Finish(t, d);
  struct Draw {
    int32_t index;
    float coin;
  };
  template <typename Rng>
  Draw Start(Rng& rng) const {
    const int32_t i = static_cast<int32_t>(rng.Below(static_cast<uint32_t>(size_)));
    return {i, rng.UniformFloat()};
  }
  void Prefetch(int64_t t, const Draw& d) const {
    __builtin_prefetch(&entries_[t * size_ + d.index]);
  }
  int32_t Finish(int64_t t, const Draw& d) const {
    const Entry& entry = entries_[t * size_ + d.index];
    // Branch-free: the coin is random, so a branch here would mispredict half the time, and
    // the sampler makes three of these draws per edge.
    const int32_t keep = -static_cast<int32_t>(d.coin < entry.prob);
    return (d.index & keep) | (entry.alias & ~keep);
  }

 private:
  // Probability and alias side by side: one cache line per draw.
  struct Entry {
    float prob;
    int32_t alias;
  };
  int64_t size_ = 0;
  std::vector<Entry> entries_;
  std::vector<double> totals_;
};

// O(log size) sampling of an index i with probability weight[i] / sum(weight), by a search of
// the running sums, for `tables` tables of `size` entries each (flat, as AliasTables). A table
// is built in one pass, a running sum (about 4 cycles an entry here), where Vose's method takes
// two passes and a worklist (about 28): the cheaper of the two when a table serves few draws
// per entry, as most of the sampler's tables do at training lengths (fastrg_sampler.cc picks
// one or the other per table). Same law as AliasTables; different draws from the same stream.
//
//   CdfTables tables(/*tables=*/k, /*size=*/n);
//   tables.Build(t, weights);
//   int32_t i = tables.Sample(t, rng);
class CdfTables {
 public:
  CdfTables() = default;
  CdfTables(int64_t tables, int64_t size)
      : size_(size), running_(tables * size), last_(tables, -1) {}

  // Table t from weights[0], weights[stride], ... (as AliasTables::Build: stride 0 repeats one
  // weight, entries i with valid[i] == 0 get weight 0). Returns the sum of the weights; a table
  // whose weights sum to 0 must not be sampled. Distinct tables may be built from different
  // threads at once.
  double Build(int64_t t, const float* weights, int64_t stride = 1, const uint8_t* valid = nullptr);

  template <typename Rng>
  int32_t Sample(int64_t t, Rng& rng) const {
    int32_t out;
    const int32_t table = static_cast<int32_t>(t);
    SampleMany(&table, 1, rng, &out);
    return out;
  }

  // out[i] = a draw from table tables[i] (table 0 for all when tables is null), i < count <=
  // kMaxBatch. The searches run in lockstep: each step is one dependent load, and one search
  // alone would leave the core waiting on it; count of them interleaved keep it busy (with 32,
  // sampling 256 graphs of n = 128 took 56 ms instead of 78).
  static constexpr int64_t kMaxBatch = 32;
  template <typename Rng>
  void SampleMany(const int32_t* tables, int64_t count, Rng& rng, int32_t* out) const {
    const float* base[kMaxBatch];
    float x[kMaxBatch];
    for (int64_t i = 0; i < count; ++i) {
      base[i] = running_.data() + (tables != nullptr ? tables[i] : 0) * size_;
      x[i] = rng.UniformFloat() * base[i][size_ - 1];
    }
    // The first entry with x < running sum, branch-free: the loop runs log2(size) times
    // whatever the draws, so it predicts perfectly. Zero weights repeat the previous running
    // sum and are never the first above x.
    for (int64_t length = size_; length > 1;) {
      const int64_t half = length / 2;
      for (int64_t i = 0; i < count; ++i) {
        // Arithmetic, not a conditional: GCC compiled the conditional into a branch, which
        // mispredicts on half the steps.
        base[i] += half & -static_cast<int64_t>(base[i][half - 1] <= x[i]);
      }
      length -= half;
    }
    for (int64_t i = 0; i < count; ++i) {
      const int64_t t = tables != nullptr ? tables[i] : 0;
      // x can round up to the total; the last positive weight then takes the draw.
      out[i] = std::min(static_cast<int32_t>(base[i] - (running_.data() + t * size_)), last_[t]);
    }
  }

 private:
  int64_t size_ = 0;
  std::vector<float> running_;  // running sums of each table's weights
  std::vector<int32_t> last_;   // per table: its last entry of positive weight
};

}  // namespace sbmt::attention
