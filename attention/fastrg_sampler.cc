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

// Memberships of one side of one graph, with padded rows zeroed and the constant eps column
// appended: [n, k + 1], row-major. Padded rows get weight 0, so they are never drawn.
std::vector<float> SideWeights(const float* m, int64_t n, int64_t k, const uint8_t* valid,
                               float eps) {
  std::vector<float> w(n * (k + 1));
  for (int64_t i = 0; i < n; ++i) {
    const bool ok = valid == nullptr || valid[i] != 0;
    for (int64_t u = 0; u < k; ++u) w[i * (k + 1) + u] = ok ? m[i * k + u] : 0.0f;
    w[i * (k + 1) + k] = ok && eps > 0 ? 1.0f : 0.0f;
  }
  return w;
}

struct GraphEdges {
  std::vector<int64_t> row_ptr;  // n_q + 1
  std::vector<int32_t> col;
  int64_t draws = 0;
};

// Removes duplicate columns of each row in place and sorts them; returns the new row length.
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

GraphEdges SampleGraph(const FastRgParams& p, int64_t bi, int64_t hi, bool parallel) {
  const int64_t k = p.k;
  const int64_t k1 = k + 1;
  const int64_t g = bi * p.heads + hi;
  const uint8_t* qv = p.query_valid ? p.query_valid + bi * p.n_q : nullptr;
  const uint8_t* kv = p.key_valid ? p.key_valid + bi * p.n_k : nullptr;
  const std::vector<float> wy = SideWeights(p.y + g * p.n_q * k, p.n_q, k, qv, p.eps);
  const std::vector<float> wz = SideWeights(p.z + g * p.n_k * k, p.n_k, k, kv, p.eps);
  const float* bh = p.b + hi * k * k;

  // Alias tables per membership column (the last one is the eps column).
  std::vector<AliasTable> ty(k1);
  std::vector<AliasTable> tz(k1);
  std::vector<uint8_t> has_y(k1);
  std::vector<uint8_t> has_z(k1);
#pragma omp parallel for schedule(dynamic, 4) if (parallel)
  for (int64_t u = 0; u < 2 * k1; ++u) {
    if (u < k1) {
      has_y[u] = ty[u].Build(wy.data() + u, p.n_q, k1);
    } else {
      has_z[u - k1] = tz[u - k1].Build(wz.data() + u - k1, p.n_k, k1);
    }
  }

  // Block pairs: the k*k pairs of B, then the eps pair (k, k).
  const int64_t pairs = k * k + 1;
  const uint64_t stream = StreamId({p.step, p.layer, static_cast<uint64_t>(bi),
                                    static_cast<uint64_t>(hi), kPurposeEdges});
  std::vector<PhiloxStream> rngs;
  rngs.reserve(pairs);
  for (int64_t pair = 0; pair < pairs; ++pair) {
    rngs.emplace_back(p.seed, stream, static_cast<uint64_t>(pair) << 32);
  }
  std::vector<int64_t> offset(pairs + 1, 0);
#pragma omp parallel for schedule(static) if (parallel)
  for (int64_t pair = 0; pair < pairs; ++pair) {
    const int64_t u = pair < k * k ? pair / k : k;
    const int64_t v = pair < k * k ? pair % k : k;
    if (!has_y[u] || !has_z[v]) continue;
    const double rate = pair < k * k ? ty[u].total() * bh[u * k + v] * tz[v].total()
                                     : ty[k].total() * static_cast<double>(p.eps) * tz[k].total();
    offset[pair + 1] = SamplePoisson(rngs[pair], rate);
  }
  for (int64_t pair = 0; pair < pairs; ++pair) offset[pair + 1] += offset[pair];
  const int64_t draws = offset[pairs];

  // Self loops go after the drawn edges.
  std::vector<int32_t> loops;
  if (p.self_loops) {
    for (int64_t i = 0; i < std::min(p.n_q, p.n_k); ++i) {
      if ((qv == nullptr || qv[i]) && (kv == nullptr || kv[i])) {
        loops.push_back(static_cast<int32_t>(i));
      }
    }
  }
  const int64_t total = draws + static_cast<int64_t>(loops.size());
  std::vector<int32_t> rows(total);
  std::vector<int32_t> cols(total);
#pragma omp parallel for schedule(dynamic, 16) if (parallel)
  for (int64_t pair = 0; pair < pairs; ++pair) {
    const int64_t u = pair < k * k ? pair / k : k;
    const int64_t v = pair < k * k ? pair % k : k;
    PhiloxStream& rng = rngs[pair];
    for (int64_t e = offset[pair]; e < offset[pair + 1]; ++e) {
      rows[e] = ty[u].Sample(rng);
      cols[e] = tz[v].Sample(rng);
    }
  }
  for (size_t l = 0; l < loops.size(); ++l) {
    rows[draws + l] = loops[l];
    cols[draws + l] = loops[l];
  }

  // Bucket by row (counting sort), then deduplicate each row.
  GraphEdges out;
  out.draws = draws;
  std::vector<int64_t> start(p.n_q + 1, 0);
  for (int64_t e = 0; e < total; ++e) ++start[rows[e] + 1];
  for (int64_t i = 0; i < p.n_q; ++i) start[i + 1] += start[i];
  std::vector<int32_t> bucket(total);
  {
    std::vector<int64_t> fill(start.begin(), start.end() - 1);
    for (int64_t e = 0; e < total; ++e) bucket[fill[rows[e]]++] = cols[e];
  }
  std::vector<int64_t> unique(p.n_q);
#pragma omp parallel if (parallel)
  {
    std::vector<uint64_t> bitmap;
#pragma omp for schedule(dynamic, 64)
    for (int64_t i = 0; i < p.n_q; ++i) {
      unique[i] = DedupRow(bucket.data() + start[i], start[i + 1] - start[i], p.n_k, bitmap);
    }
  }
  out.row_ptr.assign(p.n_q + 1, 0);
  for (int64_t i = 0; i < p.n_q; ++i) out.row_ptr[i + 1] = out.row_ptr[i] + unique[i];
  out.col.resize(out.row_ptr[p.n_q]);
  for (int64_t i = 0; i < p.n_q; ++i) {
    std::copy(bucket.begin() + start[i], bucket.begin() + start[i] + unique[i],
              out.col.begin() + out.row_ptr[i]);
  }
  return out;
}

}  // namespace

SbmGraph fastrg_sample(const FastRgParams& params) {
  Validate(params);
  const int64_t graphs = params.batch * params.heads;
  std::vector<GraphEdges> per_graph(graphs);
  // Many small graphs: one graph per thread. Few large ones: parallelize inside each graph.
  // The result is the same either way.
  const bool outer = graphs >= 2 * omp_get_max_threads();
#pragma omp parallel for schedule(dynamic, 1) if (outer)
  for (int64_t g = 0; g < graphs; ++g) {
    per_graph[g] = SampleGraph(params, g / params.heads, g % params.heads, !outer);
  }

  SbmGraph graph;
  graph.graphs = graphs;
  graph.n_q = params.n_q;
  graph.n_k = params.n_k;
  graph.row_ptr.resize(graphs * params.n_q + 1);
  graph.draws.resize(graphs);
  int64_t total = 0;
  for (int64_t g = 0; g < graphs; ++g) total += per_graph[g].row_ptr.back();
  graph.col.resize(total);
  int64_t base = 0;
  for (int64_t g = 0; g < graphs; ++g) {
    const GraphEdges& e = per_graph[g];
    for (int64_t i = 0; i < params.n_q; ++i) graph.row_ptr[g * params.n_q + i] = base + e.row_ptr[i];
    std::copy(e.col.begin(), e.col.end(), graph.col.begin() + base);
    base += e.row_ptr.back();
    graph.draws[g] = e.draws;
  }
  graph.row_ptr[graphs * params.n_q] = base;
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
