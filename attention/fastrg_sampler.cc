#include "attention/fastrg_sampler.h"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <sstream>
#include <stdexcept>
#include <string>
#include <type_traits>

#include "attention/philox.h"
#include "attention/sampling_primitives.h"
#include "runtime/error.h"

namespace sbmt::attention {
namespace {

[[noreturn]] void Invalid(const std::string& message) {
  throw Error(ErrorCode::kInvalidArgument, "fastrg_sample: " + message);
}

void CheckFiniteNonNegative(const char* name, const float* data, int64_t count) {
  if (data == nullptr) Invalid(std::string(name) + ": expected a pointer, got null");
  // A branch-free scan first (it vectorizes; the memberships are megabytes), then the search
  // for the offending entry only when there is one.
  auto bad = [](float x) { return !(x >= 0 && x <= std::numeric_limits<float>::max()); };
  int any_bad = 0;
#pragma omp simd reduction(| : any_bad)
  for (int64_t i = 0; i < count; ++i) any_bad |= bad(data[i]);
  if (any_bad == 0) return;
  for (int64_t i = 0; i < count; ++i) {
    const float x = data[i];
    if (bad(x)) {
      std::ostringstream out;
      out << name << ": expected finite entries >= 0, got " << x << " at flat index " << i;
      Invalid(out.str());
    }
  }
}

void Validate(const FastRgParams& p) {
  auto positive = [](const char* name, int64_t value) {
    if (value <= 0) Invalid(std::string(name) + ": expected > 0, got " + std::to_string(value));
  };
  positive("batch", p.batch);
  positive("heads", p.heads);
  positive("n_q", p.n_q);
  positive("n_k", p.n_k);
  positive("k", p.k);
  if (p.n_q >= (int64_t{1} << 31) || p.n_k >= (int64_t{1} << 31)) {
    Invalid("n_q and n_k must fit in int32");
  }
  if (!(p.eps >= 0 && p.eps < 1)) {
    Invalid("eps: expected a value in [0, 1), got " + std::to_string(p.eps));
  }
  CheckFiniteNonNegative("y", p.y, p.batch * p.heads * p.n_q * p.k);
  CheckFiniteNonNegative("z", p.z, p.batch * p.heads * p.n_k * p.k);
  CheckFiniteNonNegative("b", p.b, p.heads * p.k * p.k);
}

// Below this many rows (queries plus keys, over all graphs) sampling runs on one thread.
constexpr int64_t kMinRowsForThreads = 1024;

// Edges drawn per batch in the sampler's inner loop: each step of the draws (u, v, key) runs
// over a batch, so that their lookups overlap.
constexpr int64_t kDrawBatch = 32;

// Each table the sampler draws from (per row: u; per graph: v given u, a key given v) is an
// alias table when it serves at least this many draws per entry, else a search table
// (sampling_primitives.h). Here, an alias table costs about 28 cycles an entry to build and one
// lookup per draw; a search table about 4 cycles an entry and log2(size) steps per draw, which
// the batches interleave. Tuned on 256 graphs of n = 128, 64 of n = 512 and 2 of n = 4096 (k =
// 128, densities 0.05 to 0.23): 0.6 and 1.5 tie at n = 4096, where 3 made sampling a third
// slower (searching the 4096-key tables, which outgrow L2).
constexpr double kAliasMinDrawsPerEntry = 1.5;

// Calls f with `alias` when use_alias, else with `search`: one call site for both kinds of
// tables, each compiled for its own type.
template <typename Alias, typename Search, typename F>
void WithTables(bool use_alias, Alias& alias, Search& search, F&& f) {
  if (use_alias) {
    f(alias);
  } else {
    f(search);
  }
}

// Removes duplicate columns of a row in place and sorts them; returns the new row length.
// Short rows are sorted; long rows go through a bitmap (O(n_k / 64 + length)).
int64_t DedupRow(int32_t* cols, int64_t length, int64_t n_k, std::vector<uint64_t>& bitmap) {
  if (length <= 1) return length;
  if (length * 8 < n_k / 64 + 64) {
    std::sort(cols, cols + length);
    return std::unique(cols, cols + length) - cols;
  }
  bitmap.assign((n_k + 63) / 64, 0);
  for (int64_t e = 0; e < length; ++e) bitmap[cols[e] >> 6] |= uint64_t{1} << (cols[e] & 63);
  int64_t out = 0;
  for (size_t w = 0; w < bitmap.size(); ++w) {
    for (uint64_t bits = bitmap[w]; bits != 0; bits &= bits - 1) {
      cols[out++] = static_cast<int32_t>(w * 64 + __builtin_ctzll(bits));
    }
  }
  return out;
}

// One graph (b, h). Query i's edge count is Poisson(r_i) with r_i = Σ_j p_ij, and each of its
// edges picks block v with probability ∝ (y_i B)_v z̄_v (z̄: column sums of Z, block k the eps
// column) and then key j ∝ Z_jv: the law of fastRG (independent Poisson(p_ij) per pair)
// conditioned on the query endpoint. Rows are independent, so they run in parallel, each from
// its own Philox sub-stream, and need no global sort.
//
// Sampling runs in two passes over all graphs: CountRows draws every row's edge count, so the
// edges of all graphs can go straight into one buffer of the right size, and DrawRows then
// draws and deduplicates them in place.
class GraphSampler {
 public:
  GraphSampler(const FastRgParams& p, int64_t bi, int64_t hi)
      : p_(p),
        hi_(hi),
        k_(p.k),
        y_(p.y + (bi * p.heads + hi) * p.n_q * p.k),
        z_(p.z + (bi * p.heads + hi) * p.n_k * p.k),
        qv_(p.query_valid ? p.query_valid + bi * p.n_q : nullptr),
        kv_(p.key_valid ? p.key_valid + bi * p.n_k : nullptr),
        stream_(StreamId({p.step, p.layer, p.batch_offset + static_cast<uint64_t>(bi),
                          static_cast<uint64_t>(hi), kPurposeEdges})),
        zsum_(k_ + 1, 0.0),
        t_(k_ + 1, 0.0) {
    // z̄ over valid keys (the eps column counts them). t_u = Σ_v B_uv z̄_v; the eps block's
    // t_k = eps z̄_k.
    for (int64_t j = 0; j < p.n_k; ++j) {
      if (!KeyValid(j)) continue;
      for (int64_t v = 0; v < k_; ++v) zsum_[v] += z_[j * k_ + v];
      if (p.eps > 0) zsum_[k_] += 1.0f;
    }
    const float* bh = p.b + hi * k_ * k_;
    for (int64_t u = 0; u < k_; ++u) {
      for (int64_t v = 0; v < k_; ++v) t_[u] += static_cast<double>(bh[u * k_ + v]) * zsum_[v];
    }
    t_[k_] = static_cast<double>(p.eps) * zsum_[k_];
  }

  // Pass 1: slots[i] = row i's Poisson draw count plus its self loop. Row i's Philox stream
  // draws the count and then edge_keys[i], the key of a fast stream for the row's edges.
  void CountRows(int64_t* slots, uint64_t* edge_keys, bool parallel) const {
#pragma omp parallel for schedule(dynamic, 64) if (parallel)
    for (int64_t i = 0; i < p_.n_q; ++i) {
      int64_t count = 0;
      if (RowValid(i)) {
        PhiloxStream rng(p_.seed, stream_, static_cast<uint64_t>(i) << 32);
        count = SamplePoisson(rng, RowRate(i));
        edge_keys[i] = (static_cast<uint64_t>(rng.NextU32()) << 32) | rng.NextU32();
      }
      slots[i] = count + (HasLoop(i) ? 1 : 0);
    }
  }

  // Pass 2: row i draws its edges into cols[start[i], start[i + 1]) from the stream keyed by
  // edge_keys[i], adds its self loop and deduplicates in place; unique[i] = edges kept. Returns
  // the number of Poisson draws (self loops excluded).
  int64_t DrawRows(const int64_t* start, const uint64_t* edge_keys, int32_t* cols, int64_t* unique,
                   bool parallel) const {
    const int64_t k = k_;
    const int64_t k1 = k + 1;

    // Tables over keys, one per membership column (the last one is the eps column). They end at
    // the last valid key, so trailing padding (a batch's width) does not change which edges a
    // sequence gets: the same example samples the same graph in any batch. Alias or search
    // tables (see kAliasMinDrawsPerEntry), as the block tables below, from the graph's own
    // draw counts only: the same graph in any batch and for any thread count.
    int64_t key_span = p_.n_k;
    while (kv_ != nullptr && key_span > 0 && kv_[key_span - 1] == 0) --key_span;
    const int64_t slots = start[p_.n_q] - start[0];  // the graph's draws and self loops
    const bool alias_keys = static_cast<double>(slots) >= kAliasMinDrawsPerEntry * k1 * key_span;
    AliasTables tz_alias(alias_keys ? k1 : 0, key_span);
    CdfTables tz_search(alias_keys ? 0 : k1, key_span);
    auto build_keys = [&](int64_t v, const float* weights, int64_t stride) {
      WithTables(alias_keys, tz_alias, tz_search,
                 [&](auto& tz) { tz.Build(v, weights, stride, kv_); });
    };
    // Z transposed, so that each table reads its column contiguously: strided reads made the
    // tables a third slower to build.
    std::vector<float> zt(k * key_span);
    constexpr int64_t kKeyTile = 64;
    for (int64_t j0 = 0; j0 < key_span; j0 += kKeyTile) {
      const int64_t j1 = std::min(key_span, j0 + kKeyTile);
      for (int64_t v = 0; v < k; ++v) {
        for (int64_t j = j0; j < j1; ++j) zt[v * key_span + j] = z_[j * k + v];
      }
    }
    // Column v of Z, padded keys at weight 0; then the eps column, 1 for every valid key.
#pragma omp parallel for schedule(dynamic, 4) if (parallel)
    for (int64_t v = 0; v < k; ++v) build_keys(v, zt.data() + v * key_span, 1);
    const float eps_weight = p_.eps > 0 ? 1.0f : 0.0f;
    build_keys(k, &eps_weight, 0);
    // An edge of row i takes its block pair (u, v) with probability ∝ y_iu B_uv z̄_v, drawn in
    // two steps: u ∝ y_iu t_u (a per-row table over k + 1 entries, the last one the eps block),
    // then v ∝ B_uv z̄_v (per-graph tables, one per u). This costs O(k) per row, not the O(k²)
    // of forming y_i B. The block tables are k + 1 tables over k + 1 blocks: table u < k holds
    // B_uv z̄_v, table k (the eps block) always gives v = k, so the inner loop needs no special
    // case.
    //
    // Alias or search tables, the per-row ones chosen by each row's draw count. At training
    // lengths most rows draw fewer edges than k, and building alias tables cost more than all
    // the draws.
    const float* bh = p_.b + hi_ * k * k;
    const bool alias_blocks = static_cast<double>(slots) >= kAliasMinDrawsPerEntry * k1 * k1;
    AliasTables tb_alias(alias_blocks ? k1 : 0, k1);
    CdfTables tb_search(alias_blocks ? 0 : k1, k1);
    {
      std::vector<float> weights(k1);
      auto build = [&](int64_t u) {
        WithTables(alias_blocks, tb_alias, tb_search,
                   [&](auto& tb) { tb.Build(u, weights.data()); });
      };
      for (int64_t u = 0; u < k; ++u) {
        for (int64_t v = 0; v < k; ++v) weights[v] = static_cast<float>(bh[u * k + v] * zsum_[v]);
        weights[k] = 0.0f;
        build(u);
      }
      std::fill(weights.begin(), weights.end(), 0.0f);
      weights[k] = 1.0f;
      build(k);
    }

    int64_t draws = 0;
#pragma omp parallel if (parallel) reduction(+ : draws)
    {
      std::vector<float> w(k1);
      std::vector<uint64_t> bitmap;
      AliasTables row_alias(1, k1);  // this row's table over u, one of the two
      CdfTables row_search(1, k1);
      static_assert(kDrawBatch <= CdfTables::kMaxBatch);
      int32_t first[kDrawBatch];  // u of each edge in a batch
      int32_t block[kDrawBatch];  // v
      AliasTables::Draw pending[kDrawBatch];
      // Draws a row's edges into `row` in batches: the batch's u, then its v, then its keys,
      // each step over the whole batch so that the draws' lookups overlap (search tables
      // interleave their searches; alias key tables prefetch every entry before resolving any).
      auto draw_edges = [&](int32_t* row, int64_t drawn, SplitMixStream& rng, const auto& rows_u,
                            const auto& tb, const auto& tz) {
        for (int64_t e0 = 0; e0 < drawn; e0 += kDrawBatch) {
          const int64_t count = std::min(kDrawBatch, drawn - e0);
          rows_u.SampleMany(nullptr, count, rng, first);
          tb.SampleMany(first, count, rng, block);
          if constexpr (std::is_same_v<std::decay_t<decltype(tz)>, AliasTables>) {
            for (int64_t e = 0; e < count; ++e) {
              pending[e] = tz.Start(rng);
              tz.Prefetch(block[e], pending[e]);
            }
            for (int64_t e = 0; e < count; ++e) row[e0 + e] = tz.Finish(block[e], pending[e]);
          } else {
            tz.SampleMany(block, count, rng, row + e0);
          }
        }
      };
#pragma omp for schedule(dynamic, 16)
      for (int64_t i = 0; i < p_.n_q; ++i) {
        int32_t* row = cols + start[i];
        const int64_t length = start[i + 1] - start[i];
        const int64_t drawn = length - (HasLoop(i) ? 1 : 0);
        draws += drawn;
        if (drawn > 0) {
          for (int64_t u = 0; u < k; ++u) w[u] = static_cast<float>(y_[i * k + u] * t_[u]);
          w[k] = static_cast<float>(t_[k]);
          SplitMixStream rng(edge_keys[i]);
          const bool alias_row = static_cast<double>(drawn) >= kAliasMinDrawsPerEntry * k1;
          WithTables(alias_row, row_alias, row_search, [&](auto& rows_u) {
            rows_u.Build(0, w.data());
            WithTables(alias_blocks, tb_alias, tb_search, [&](const auto& tb) {
              WithTables(alias_keys, tz_alias, tz_search,
                         [&](const auto& tz) { draw_edges(row, drawn, rng, rows_u, tb, tz); });
            });
          });
        }
        if (HasLoop(i)) row[drawn] = static_cast<int32_t>(i);
        unique[i] = DedupRow(row, length, p_.n_k, bitmap);
      }
    }
    return draws;
  }

 private:
  bool RowValid(int64_t i) const { return qv_ == nullptr || qv_[i] != 0; }
  bool KeyValid(int64_t j) const { return kv_ == nullptr || kv_[j] != 0; }
  bool HasLoop(int64_t i) const {
    return p_.self_loops && RowValid(i) && i < p_.n_k && KeyValid(i);
  }
  // r_i = Σ_j p_ij = Σ_u y_iu t_u + eps z̄_k, O(k).
  double RowRate(int64_t i) const {
    // Four partial sums: one chain of dependent adds costs four cycles per cluster, and every
    // row computes this twice.
    double partial[4] = {t_[k_], 0, 0, 0};
    int64_t u = 0;
    for (; u + 4 <= k_; u += 4) {
      for (int lane = 0; lane < 4; ++lane) partial[lane] += y_[i * k_ + u + lane] * t_[u + lane];
    }
    for (; u < k_; ++u) partial[0] += y_[i * k_ + u] * t_[u];
    return (partial[0] + partial[1]) + (partial[2] + partial[3]);
  }
  const FastRgParams& p_;
  const int64_t hi_, k_;
  const float* y_;
  const float* z_;
  const uint8_t* qv_;
  const uint8_t* kv_;
  const uint64_t stream_;
  std::vector<double> zsum_;  // k + 1
  std::vector<double> t_;     // k + 1
};

}  // namespace

SbmGraph fastrg_sample(const FastRgParams& params) {
  Validate(params);
  const int64_t graphs = params.batch * params.heads;
  const int64_t n_q = params.n_q;
  // At least one graph per thread: graphs in parallel. Fewer: parallelize inside each graph.
  // Tiny problems stay on one thread (waking a team costs more than they do). The result is the
  // same either way.
  const bool threads = graphs * (n_q + params.n_k) >= kMinRowsForThreads;
  const bool outer = threads && graphs >= omp_get_max_threads();
  const bool inner = threads && !outer;

  std::vector<GraphSampler> samplers;
  samplers.reserve(graphs);
  for (int64_t g = 0; g < graphs; ++g)
    samplers.emplace_back(params, g / params.heads, g % params.heads);

  // Pass 1: every row's slot count, then one buffer with each row's slots at its offset.
  std::vector<int64_t> start(graphs * n_q + 1, 0);
  std::vector<uint64_t> edge_keys(graphs * n_q, 0);
#pragma omp parallel for schedule(dynamic, 1) if (outer)
  for (int64_t g = 0; g < graphs; ++g) {
    samplers[g].CountRows(start.data() + g * n_q + 1, edge_keys.data() + g * n_q, inner);
  }
  for (int64_t r = 0; r < graphs * n_q; ++r) start[r + 1] += start[r];
  decltype(SbmGraph::col) col(start.back());

  // Pass 2: draw and deduplicate every row in place.
  SbmGraph graph;
  graph.graphs = graphs;
  graph.n_q = n_q;
  graph.n_k = params.n_k;
  graph.draws.resize(graphs);
  std::vector<int64_t> unique(graphs * n_q, 0);
#pragma omp parallel for schedule(dynamic, 1) if (outer)
  for (int64_t g = 0; g < graphs; ++g) {
    // The graph's n_q + 1 entries of start: offsets into the shared buffer.
    graph.draws[g] = samplers[g].DrawRows(start.data() + g * n_q, edge_keys.data() + g * n_q,
                                          col.data(), unique.data() + g * n_q, inner);
  }

  // Compact the deduplicated rows to the front, in place (a row never moves right), and keep
  // the buffer: no second copy of the edges.
  graph.row_ptr.assign(graphs * n_q + 1, 0);
  for (int64_t r = 0; r < graphs * n_q; ++r) {
    graph.row_ptr[r + 1] = graph.row_ptr[r] + unique[r];
    std::copy(col.begin() + start[r], col.begin() + start[r] + unique[r],
              col.begin() + graph.row_ptr[r]);
  }
  col.resize(graph.row_ptr.back());
  graph.col = std::move(col);
  return graph;
}

double fastrg_expected_draws(const FastRgParams& p, int64_t bi, int64_t hi) {
  const int64_t k = p.k;
  const int64_t g = bi * p.heads + hi;
  const uint8_t* qv = p.query_valid ? p.query_valid + bi * p.n_q : nullptr;
  const uint8_t* kv = p.key_valid ? p.key_valid + bi * p.n_k : nullptr;
  std::vector<double> x(k, 0.0);
  std::vector<double> y(k, 0.0);
  double valid_q = 0;
  double valid_k = 0;
  for (int64_t i = 0; i < p.n_q; ++i) {
    if (qv && !qv[i]) continue;
    valid_q += 1;
    for (int64_t u = 0; u < k; ++u) x[u] += p.y[(g * p.n_q + i) * k + u];
  }
  for (int64_t j = 0; j < p.n_k; ++j) {
    if (kv && !kv[j]) continue;
    valid_k += 1;
    for (int64_t v = 0; v < k; ++v) y[v] += p.z[(g * p.n_k + j) * k + v];
  }
  double total = static_cast<double>(p.eps) * valid_q * valid_k;
  const float* bh = p.b + hi * k * k;
  for (int64_t u = 0; u < k; ++u) {
    for (int64_t v = 0; v < k; ++v) total += x[u] * bh[u * k + v] * y[v];
  }
  return total;
}

}  // namespace sbmt::attention
