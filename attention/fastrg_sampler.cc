#include "attention/fastrg_sampler.h"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <sstream>
#include <stdexcept>
#include <string>

#include "attention/philox.h"
#include "attention/sampling_primitives.h"

namespace sbmt::attention {
namespace {

[[noreturn]] void Invalid(const std::string& message) {
  throw std::invalid_argument("fastrg_sample: " + message);
}

void CheckFiniteNonNegative(const char* name, const float* data, int64_t count) {
  if (data == nullptr) Invalid(std::string(name) + ": expected a pointer, got null");
  for (int64_t i = 0; i < count; ++i) {
    const float x = data[i];
    if (!(x >= 0) || std::isinf(x)) {
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

// Key memberships of one graph with padded keys zeroed and the constant eps column appended:
// [n_k, k + 1], row-major. Padded keys get weight 0, so they are never drawn.
std::vector<float> KeyWeights(const float* z, int64_t n_k, int64_t k, const uint8_t* valid,
                              float eps) {
  std::vector<float> w(n_k * (k + 1));
  for (int64_t j = 0; j < n_k; ++j) {
    const bool ok = valid == nullptr || valid[j] != 0;
    for (int64_t v = 0; v < k; ++v) w[j * (k + 1) + v] = ok ? z[j * k + v] : 0.0f;
    w[j * (k + 1) + k] = ok && eps > 0 ? 1.0f : 0.0f;
  }
  return w;
}

// Below this many rows (queries plus keys, over all graphs) sampling runs on one thread.
constexpr int64_t kMinRowsForThreads = 1024;

// Edges drawn per batch in the sampler's inner loop (see the prefetching there).
constexpr int64_t kDrawBatch = 32;

struct GraphEdges {
  std::vector<int64_t> row_ptr;  // n_q + 1
  std::vector<int32_t> col;
  int64_t draws = 0;
};

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

// One graph, row by row. Query i's edge count is Poisson(r_i) with r_i = Σ_j p_ij, and each of
// its edges picks block v with probability ∝ (y_i B)_v z̄_v (z̄: column sums of Z, block k the
// eps column) and then key j ∝ Z_jv: the law of fastRG (independent Poisson(p_ij) per pair)
// conditioned on the query endpoint. Rows are independent, so they run in parallel, each from
// its own Philox sub-stream, and need no global sort.
GraphEdges SampleGraph(const FastRgParams& p, int64_t bi, int64_t hi, bool parallel) {
  const int64_t k = p.k;
  const int64_t k1 = k + 1;
  const int64_t g = bi * p.heads + hi;
  const uint8_t* qv = p.query_valid ? p.query_valid + bi * p.n_q : nullptr;
  const uint8_t* kv = p.key_valid ? p.key_valid + bi * p.n_k : nullptr;
  const float* y = p.y + g * p.n_q * k;
  const std::vector<float> wz = KeyWeights(p.z + g * p.n_k * k, p.n_k, k, kv, p.eps);

  // Alias tables over keys, one per membership column (the last one is the eps column). They
  // end at the last valid key, so trailing padding (a batch's width) does not change which
  // edges a sequence gets: the same example samples the same graph in any batch.
  int64_t key_span = p.n_k;
  while (kv != nullptr && key_span > 0 && kv[key_span - 1] == 0) --key_span;
  AliasTables tz(k1, key_span);
  std::vector<double> zsum(k1, 0.0);
#pragma omp parallel for schedule(dynamic, 4) if (parallel)
  for (int64_t v = 0; v < k1; ++v) zsum[v] = tz.Build(v, wz.data() + v, k1);
  // An edge of row i takes its block pair (u, v) with probability ∝ y_iu B_uv z̄_v, drawn in two
  // steps: u ∝ y_iu t_u with t_u = Σ_v B_uv z̄_v (a per-row table over k + 1 entries, the last
  // one the eps block with weight eps z̄_k), then v ∝ B_uv z̄_v (per-graph tables, one per u).
  // This costs O(k) per row, not the O(k²) of forming y_i B.
  // tb has k + 1 tables over k + 1 blocks: table u < k holds B_uv z̄_v, table k (the eps
  // block) always gives v = k, so the inner loop needs no special case.
  const float* bh = p.b + hi * k * k;
  AliasTables tb(k1, k1);
  std::vector<double> t(k1, 0.0);
  {
    std::vector<float> weights(k1);
    for (int64_t u = 0; u < k; ++u) {
      for (int64_t v = 0; v < k; ++v) {
        weights[v] = static_cast<float>(bh[u * k + v] * zsum[v]);
        t[u] += static_cast<double>(bh[u * k + v]) * zsum[v];
      }
      weights[k] = 0.0f;
      tb.Build(u, weights.data());
    }
    std::fill(weights.begin(), weights.end(), 0.0f);
    weights[k] = 1.0f;
    tb.Build(k, weights.data());
  }
  t[k] = static_cast<double>(p.eps) * zsum[k];

  const uint64_t stream = StreamId({p.step, p.layer, p.batch_offset + static_cast<uint64_t>(bi),
                                    static_cast<uint64_t>(hi), kPurposeEdges});
  auto row_valid = [&](int64_t i) { return qv == nullptr || qv[i] != 0; };
  auto has_loop = [&](int64_t i) {
    return p.self_loops && row_valid(i) && i < p.n_k && (kv == nullptr || kv[i] != 0);
  };

  // r_i = Σ_j p_ij = Σ_u y_iu t_u + eps z̄_k, O(k).
  auto row_rate = [&](int64_t i) {
    double rate = t[k];
    for (int64_t u = 0; u < k; ++u) rate += y[i * k + u] * t[u];
    return rate;
  };

  // Pass 1: each row's Poisson count.
  std::vector<int64_t> start(p.n_q + 1, 0);
#pragma omp parallel for schedule(dynamic, 64) if (parallel)
  for (int64_t i = 0; i < p.n_q; ++i) {
    int64_t count = 0;
    if (row_valid(i)) {
      PhiloxStream rng(p.seed, stream, static_cast<uint64_t>(i) << 32);
      count = SamplePoisson(rng, row_rate(i));
    }
    start[i + 1] = count + (has_loop(i) ? 1 : 0);
  }
  int64_t draws = 0;
  for (int64_t i = 0; i < p.n_q; ++i) {
    draws += start[i + 1] - (has_loop(i) ? 1 : 0);
    start[i + 1] += start[i];
  }

  // Pass 2: each row draws its edges (replaying its stream past the count), adds its self loop
  // and deduplicates in place.
  std::vector<int32_t> cols(start[p.n_q]);
  std::vector<int64_t> unique(p.n_q, 0);
#pragma omp parallel if (parallel)
  {
    std::vector<float> w(k1);
    std::vector<uint64_t> bitmap;
    AliasTables rows_u(1, k1);  // this row's table over u
    int32_t block[kDrawBatch];
    AliasTables::Draw pending[kDrawBatch];
#pragma omp for schedule(dynamic, 16)
    for (int64_t i = 0; i < p.n_q; ++i) {
      int32_t* row = cols.data() + start[i];
      int64_t length = start[i + 1] - start[i];
      const int64_t drawn = length - (has_loop(i) ? 1 : 0);
      if (drawn > 0) {
        for (int64_t u = 0; u < k; ++u) w[u] = static_cast<float>(y[i * k + u] * t[u]);
        w[k] = static_cast<float>(t[k]);
        rows_u.Build(0, w.data());
        // The row's Philox stream draws its count (pass 1) and then the key of a fast stream
        // for its edges.
        PhiloxStream row_rng(p.seed, stream, static_cast<uint64_t>(i) << 32);
        SamplePoisson(row_rng, row_rate(i));  // replays pass 1's draw
        const uint64_t edge_key = (static_cast<uint64_t>(row_rng.NextU32()) << 32) |
                                  row_rng.NextU32();
        SplitMixStream rng(edge_key);
        // Keys in batches: draw block pair and key index for a batch, prefetch the key tables'
        // entries, then resolve. Same random words in the same order as drawing one by one.
        for (int64_t e0 = 0; e0 < drawn; e0 += kDrawBatch) {
          const int64_t e1 = std::min(drawn, e0 + kDrawBatch);
          for (int64_t e = e0; e < e1; ++e) {
            const int32_t u = rows_u.Sample(0, rng);
            const int32_t v = tb.Sample(u, rng);
            block[e - e0] = v;
            pending[e - e0] = tz.Start(rng);
            tz.Prefetch(v, pending[e - e0]);
          }
          for (int64_t e = e0; e < e1; ++e) row[e] = tz.Finish(block[e - e0], pending[e - e0]);
        }
      }
      if (has_loop(i)) row[drawn] = static_cast<int32_t>(i);
      unique[i] = DedupRow(row, length, p.n_k, bitmap);
    }
  }

  // Compact the deduplicated rows to the front, in place (a row never moves right), and keep
  // the buffer: no second copy of the edges.
  GraphEdges out;
  out.draws = draws;
  out.row_ptr.assign(p.n_q + 1, 0);
  for (int64_t i = 0; i < p.n_q; ++i) {
    out.row_ptr[i + 1] = out.row_ptr[i] + unique[i];
    std::copy(cols.begin() + start[i], cols.begin() + start[i] + unique[i],
              cols.begin() + out.row_ptr[i]);
  }
  cols.resize(out.row_ptr[p.n_q]);
  out.col = std::move(cols);
  return out;
}

}  // namespace

SbmGraph fastrg_sample(const FastRgParams& params) {
  Validate(params);
  const int64_t graphs = params.batch * params.heads;
  std::vector<GraphEdges> per_graph(graphs);
  // At least one graph per thread: graphs in parallel. Fewer: parallelize inside each graph.
  // Tiny problems stay on one thread (waking a team costs more than they do). The result is the
  // same either way.
  const bool threads = graphs * (params.n_q + params.n_k) >= kMinRowsForThreads;
  const bool outer = threads && graphs >= omp_get_max_threads();
#pragma omp parallel for schedule(dynamic, 1) if (outer)
  for (int64_t g = 0; g < graphs; ++g) {
    per_graph[g] = SampleGraph(params, g / params.heads, g % params.heads, threads && !outer);
  }

  SbmGraph graph;
  graph.graphs = graphs;
  graph.n_q = params.n_q;
  graph.n_k = params.n_k;
  graph.draws.resize(graphs);
  std::vector<int64_t> base(graphs + 1, 0);
  for (int64_t g = 0; g < graphs; ++g) base[g + 1] = base[g] + per_graph[g].row_ptr.back();
  if (graphs == 1) {
    graph.row_ptr = std::move(per_graph[0].row_ptr);
    graph.col = std::move(per_graph[0].col);
    graph.draws[0] = per_graph[0].draws;
    return graph;
  }
  graph.row_ptr.resize(graphs * params.n_q + 1);
  graph.col.resize(base[graphs]);
#pragma omp parallel for schedule(dynamic, 1) if (threads)
  for (int64_t g = 0; g < graphs; ++g) {
    GraphEdges& e = per_graph[g];
    for (int64_t i = 0; i < params.n_q; ++i) {
      graph.row_ptr[g * params.n_q + i] = base[g] + e.row_ptr[i];
    }
    std::copy(e.col.begin(), e.col.end(), graph.col.begin() + base[g]);
    graph.draws[g] = e.draws;
    std::vector<int32_t>().swap(e.col);  // release as we go: peak stays near one copy
  }
  graph.row_ptr[graphs * params.n_q] = base[graphs];
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
