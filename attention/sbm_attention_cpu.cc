// Fast CPU kernels of SBM attention on edges (math in sbm_attention_kernels.h).
//
// Parallel over rows for everything indexed by queries, and over columns, through a transposed
// (CSC) copy of the edge set, for everything indexed by keys, so no two threads ever add into
// the same output and every sum runs in a fixed order: results are identical for any thread
// count. Inner loops run over the head dimension or the clusters, contiguous and vectorizable.
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <vector>

#include "attention/sbm_attention_kernels.h"

namespace sbmt::attention::cpu {
namespace {

template <typename T>
inline T Dot(const T* a, const T* b, int64_t n) {
  T s = 0;
#pragma omp simd reduction(+ : s)
  for (int64_t c = 0; c < n; ++c) s += a[c] * b[c];
  return s;
}

template <typename T>
inline void Axpy(T alpha, const T* x, T* y, int64_t n) {
#pragma omp simd
  for (int64_t c = 0; c < n; ++c) y[c] += alpha * x[c];
}

// Edges grouped by key column: for global column c = g * n_k + j, positions
// col_ptr[c] .. col_ptr[c + 1] of `edge` and `row` list its edges by ascending row.
struct Transposed {
  std::vector<int64_t> col_ptr;
  std::vector<int32_t> edge;
  std::vector<int32_t> row;
};

Transposed Transpose(const SbmEdges& E) {
  const int64_t rows = E.graphs * E.n_q;
  const int64_t cols = E.graphs * E.n_k;
  const int64_t n_edges = E.edges();
  if (n_edges >= std::numeric_limits<int32_t>::max() || rows >= std::numeric_limits<int32_t>::max()) {
    throw std::length_error("sbm_attention_backward: more than 2^31 edges or rows per call");
  }
  // Chunks of rows; the order edges land in is by (column, row) whatever the chunking.
  const int64_t chunks = std::max<int64_t>(1, std::min<int64_t>(omp_get_max_threads(), rows));
  std::vector<int64_t> hist(chunks * cols, 0);
  auto chunk_rows = [&](int64_t t) {
    return std::pair<int64_t, int64_t>{rows * t / chunks, rows * (t + 1) / chunks};
  };
#pragma omp parallel for schedule(static, 1)
  for (int64_t t = 0; t < chunks; ++t) {
    auto [r0, r1] = chunk_rows(t);
    int64_t* h = hist.data() + t * cols;
    for (int64_t r = r0; r < r1; ++r) {
      const int64_t base = (r / E.n_q) * E.n_k;
      for (int64_t e = E.row_ptr[r]; e < E.row_ptr[r + 1]; ++e) ++h[base + E.col[e]];
    }
  }
  Transposed out;
  out.col_ptr.assign(cols + 1, 0);
  // Column starts, then each chunk's start inside each column.
  for (int64_t c = 0; c < cols; ++c) {
    int64_t at = out.col_ptr[c];
    for (int64_t t = 0; t < chunks; ++t) {
      const int64_t count = hist[t * cols + c];
      hist[t * cols + c] = at;
      at += count;
    }
    out.col_ptr[c + 1] = at;
  }
  out.edge.resize(n_edges);
  out.row.resize(n_edges);
#pragma omp parallel for schedule(static, 1)
  for (int64_t t = 0; t < chunks; ++t) {
    auto [r0, r1] = chunk_rows(t);
    int64_t* next = hist.data() + t * cols;
    for (int64_t r = r0; r < r1; ++r) {
      const int64_t base = (r / E.n_q) * E.n_k;
      for (int64_t e = E.row_ptr[r]; e < E.row_ptr[r + 1]; ++e) {
        const int64_t at = next[base + E.col[e]]++;
        out.edge[at] = static_cast<int32_t>(e);
        out.row[at] = static_cast<int32_t>(r);
      }
    }
  }
  return out;
}

}  // namespace

template <typename T>
void sbm_attention_forward(const SbmForwardParams<T>& p) {
  const SbmEdges& E = p.edges;
  const int64_t d = p.d;
  const T drop_scale = T(1) / (T(1) - static_cast<T>(p.dropout.p));
  const bool dropout = p.dropout.p > 0;
#pragma omp parallel for schedule(dynamic, 32)
  for (int64_t r = 0; r < E.graphs * E.n_q; ++r) {
    const int64_t g = r / E.n_q;
    const T* q_i = p.q + r * d;
    T* out_i = p.out + r * d;
    std::fill(out_i, out_i + d, T(0));
    const int64_t e0 = E.row_ptr[r];
    const int64_t e1 = E.row_ptr[r + 1];
    if (e0 == e1) continue;
    const T* k_g = p.k + g * E.n_k * d;
    const T* v_g = p.v + g * E.n_k * d;
    T row_max = -std::numeric_limits<T>::infinity();
    for (int64_t e = e0; e < e1; ++e) {
      const T s = Dot(q_i, k_g + E.col[e] * d, d) * p.scale;
      p.alpha[e] = s;
      row_max = std::max(row_max, s);
    }
    T sum = 0;
    for (int64_t e = e0; e < e1; ++e) {
      p.alpha[e] = std::exp(p.alpha[e] - row_max);
      sum += p.alpha[e];
    }
    const T inv = T(1) / sum;
    for (int64_t e = e0; e < e1; ++e) {
      p.alpha[e] *= inv;
      if (dropout && !sbm_dropout_keep(p.dropout, e)) continue;
      Axpy(dropout ? p.alpha[e] * drop_scale : p.alpha[e], v_g + E.col[e] * d, out_i, d);
    }
  }
}

template <typename T>
void sbm_attention_backward(const SbmBackwardParams<T>& p) {
  const SbmEdges& E = p.edges;
  const int64_t d = p.d;
  const int64_t n_edges = E.edges();
  const T drop_scale = T(1) / (T(1) - static_cast<T>(p.dropout.p));
  const bool dropout = p.dropout.p > 0;
  std::vector<T> ds(n_edges);
  std::vector<T> beta(n_edges);

  // Rows: ds, β, dq and dp.
#pragma omp parallel for schedule(dynamic, 32)
  for (int64_t r = 0; r < E.graphs * E.n_q; ++r) {
    const int64_t g = r / E.n_q;
    const int64_t i = r % E.n_q;
    const T* g_i = p.grad_out + r * d;
    const T* k_g = p.k + g * E.n_k * d;
    const T* v_g = p.v + g * E.n_k * d;
    T* dq_i = p.dq + r * d;
    std::fill(dq_i, dq_i + d, T(0));
    const T D = Dot(g_i, p.out + r * d, d);
    const T grad_edges = p.grad_edges ? p.grad_edges[g] : T(0);
    for (int64_t e = E.row_ptr[r]; e < E.row_ptr[r + 1]; ++e) {
      const int64_t j = E.col[e];
      const bool keep = !dropout || sbm_dropout_keep(p.dropout, e);
      const T scale_e = keep ? drop_scale : T(0);
      const T gv = keep ? Dot(g_i, v_g + j * d, d) : T(0);
      const T ds_e = p.alpha[e] * (gv * scale_e - D);
      ds[e] = ds_e;
      beta[e] = p.alpha[e] * scale_e;
      Axpy(ds_e * p.scale, k_g + j * d, dq_i, d);
      p.dp[e] = p.self_loops && j == i ? T(0) : std::clamp(ds_e + grad_edges, T(-1), T(1));
    }
  }

  // Columns: dk and dv, summing over each key's edges in row order.
  const Transposed t = Transpose(E);
#pragma omp parallel for schedule(dynamic, 32)
  for (int64_t c = 0; c < E.graphs * E.n_k; ++c) {
    T* dk_j = p.dk + c * d;
    T* dv_j = p.dv + c * d;
    std::fill(dk_j, dk_j + d, T(0));
    std::fill(dv_j, dv_j + d, T(0));
    for (int64_t at = t.col_ptr[c]; at < t.col_ptr[c + 1]; ++at) {
      const int64_t e = t.edge[at];
      const int64_t r = t.row[at];
      Axpy(ds[e] * p.scale, p.q + r * d, dk_j, d);
      Axpy(beta[e], p.grad_out + r * d, dv_j, d);
    }
  }
}

template <typename T>
void sbm_membership_backward(const SbmMembershipBackwardParams<T>& p) {
  const SbmEdges& E = p.edges;
  const int64_t k = p.k;
  const int64_t rows = E.graphs * E.n_q;
  // W_i = Σ_j dp_ij Z_j, then dY_i = B W_i.
  std::vector<T> w(rows * k);
#pragma omp parallel for schedule(dynamic, 32)
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t g = r / E.n_q;
    T* w_i = w.data() + r * k;
    std::fill(w_i, w_i + k, T(0));
    for (int64_t e = E.row_ptr[r]; e < E.row_ptr[r + 1]; ++e) {
      Axpy(p.dp[e], p.z + (g * E.n_k + E.col[e]) * k, w_i, k);
    }
    const T* B = p.b + (g % p.heads) * k * k;
    for (int64_t u = 0; u < k; ++u) p.dy[r * k + u] = Dot(B + u * k, w_i, k);
  }
  // U_j = Σ_i dp_ij Y_i, then dZ_j = Bᵀ U_j.
  const Transposed t = Transpose(E);
#pragma omp parallel
  {
    std::vector<T> u_j(k);
#pragma omp for schedule(dynamic, 32)
    for (int64_t c = 0; c < E.graphs * E.n_k; ++c) {
      const int64_t g = c / E.n_k;
      std::fill(u_j.begin(), u_j.end(), T(0));
      for (int64_t at = t.col_ptr[c]; at < t.col_ptr[c + 1]; ++at) {
        Axpy(p.dp[t.edge[at]], p.y + static_cast<int64_t>(t.row[at]) * k, u_j.data(), k);
      }
      const T* B = p.b + (g % p.heads) * k * k;
      T* dz_j = p.dz + c * k;
      std::fill(dz_j, dz_j + k, T(0));
      for (int64_t u = 0; u < k; ++u) Axpy(u_j[u], B + u * k, dz_j, k);
    }
  }
  // dB_h = Σ over graphs of head h of Σ_i Y_iᵀ W_i; row u of dB is independent of other rows.
#pragma omp parallel for collapse(2) schedule(static)
  for (int64_t h = 0; h < p.heads; ++h) {
    for (int64_t u = 0; u < k; ++u) {
      T* db_u = p.db + (h * k + u) * k;
      std::fill(db_u, db_u + k, T(0));
      for (int64_t g = h; g < E.graphs; g += p.heads) {
        for (int64_t i = 0; i < E.n_q; ++i) {
          const int64_t r = g * E.n_q + i;
          const T y_iu = p.y[r * k + u];
          if (y_iu != T(0)) Axpy(y_iu, w.data() + r * k, db_u, k);
        }
      }
    }
  }
}

template void sbm_attention_forward<float>(const SbmForwardParams<float>&);
template void sbm_attention_forward<double>(const SbmForwardParams<double>&);
template void sbm_attention_backward<float>(const SbmBackwardParams<float>&);
template void sbm_attention_backward<double>(const SbmBackwardParams<double>&);
template void sbm_membership_backward<float>(const SbmMembershipBackwardParams<float>&);
template void sbm_membership_backward<double>(const SbmMembershipBackwardParams<double>&);

}  // namespace sbmt::attention::cpu
