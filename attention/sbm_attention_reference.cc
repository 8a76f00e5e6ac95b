// Scalar reference of SBM attention on edges: one plain loop per formula of
// sbm_attention_kernels.h, written for reading, not speed. Every other implementation is tested
// against these functions.
#include <algorithm>
#include <cmath>
#include <vector>

#include "attention/sbm_attention_kernels.h"

namespace sbmt::attention {

namespace reference {

template <typename T>
void sbm_attention_forward(const SbmForwardParams<T>& p) {
  const SbmEdges& E = p.edges;
  const int64_t d = p.d;
  const T drop_scale = T(1) / (T(1) - static_cast<T>(p.dropout.p));
  for (int64_t g = 0; g < E.graphs; ++g) {
    for (int64_t i = 0; i < E.n_q; ++i) {
      const int64_t r = g * E.n_q + i;
      const T* q_i = p.q + r * d;  // [d]
      T* out_i = p.out + r * d;    // [d]
      std::fill(out_i, out_i + d, T(0));
      // s_ij = q_i·k_j * scale, kept in alpha for now.
      T row_max = -INFINITY;
      for (int64_t e = E.row_ptr[r]; e < E.row_ptr[r + 1]; ++e) {
        const T* k_j = p.k + (g * E.n_k + E.col[e]) * d;
        T s = 0;
        for (int64_t c = 0; c < d; ++c) s += q_i[c] * k_j[c];
        p.alpha[e] = s * p.scale;
        row_max = std::max(row_max, p.alpha[e]);
      }
      // α = softmax over the row's edges (max-shifted).
      T sum = 0;
      for (int64_t e = E.row_ptr[r]; e < E.row_ptr[r + 1]; ++e) {
        p.alpha[e] = std::exp(p.alpha[e] - row_max);
        sum += p.alpha[e];
      }
      for (int64_t e = E.row_ptr[r]; e < E.row_ptr[r + 1]; ++e) p.alpha[e] /= sum;
      // out_i = Σ_j β_ij v_j.
      for (int64_t e = E.row_ptr[r]; e < E.row_ptr[r + 1]; ++e) {
        if (!sbm_dropout_keep(p.dropout, e)) continue;
        const T beta = p.alpha[e] * drop_scale;
        const T* v_j = p.v + (g * E.n_k + E.col[e]) * d;
        for (int64_t c = 0; c < d; ++c) out_i[c] += beta * v_j[c];
      }
    }
  }
}

template <typename T>
void sbm_attention_backward(const SbmBackwardParams<T>& p) {
  const SbmEdges& E = p.edges;
  const int64_t d = p.d;
  const T drop_scale = T(1) / (T(1) - static_cast<T>(p.dropout.p));
  std::fill(p.dq, p.dq + E.graphs * E.n_q * d, T(0));
  std::fill(p.dk, p.dk + E.graphs * E.n_k * d, T(0));
  std::fill(p.dv, p.dv + E.graphs * E.n_k * d, T(0));
  for (int64_t g = 0; g < E.graphs; ++g) {
    const T grad_edges = p.grad_edges ? p.grad_edges[g] : T(0);
    for (int64_t i = 0; i < E.n_q; ++i) {
      const int64_t r = g * E.n_q + i;
      const T* q_i = p.q + r * d;
      const T* g_i = p.grad_out + r * d;
      const T* out_i = p.out + r * d;
      T D = 0;  // D_i = g_i·out_i
      for (int64_t c = 0; c < d; ++c) D += g_i[c] * out_i[c];
      for (int64_t e = E.row_ptr[r]; e < E.row_ptr[r + 1]; ++e) {
        const int64_t j = E.col[e];
        const T* k_j = p.k + (g * E.n_k + j) * d;
        const T* v_j = p.v + (g * E.n_k + j) * d;
        const bool keep = sbm_dropout_keep(p.dropout, e);
        T gv = 0;  // g_i·v_j
        for (int64_t c = 0; c < d; ++c) gv += g_i[c] * v_j[c];
        const T beta = keep ? p.alpha[e] * drop_scale : T(0);
        const T d_alpha = keep ? gv * drop_scale : T(0);
        const T ds = p.alpha[e] * (d_alpha - D);
        for (int64_t c = 0; c < d; ++c) {
          p.dq[r * d + c] += ds * k_j[c] * p.scale;
          p.dk[(g * E.n_k + j) * d + c] += ds * q_i[c] * p.scale;
          p.dv[(g * E.n_k + j) * d + c] += beta * g_i[c];
        }
        const bool self_loop = p.self_loops && j == i;
        p.dp[e] = self_loop ? T(0) : std::clamp(ds + grad_edges, T(-1), T(1));
      }
    }
  }
}

template <typename T>
void sbm_membership_backward(const SbmMembershipBackwardParams<T>& p) {
  const SbmEdges& E = p.edges;
  const int64_t k = p.k;
  std::fill(p.dy, p.dy + E.graphs * E.n_q * k, T(0));
  std::fill(p.dz, p.dz + E.graphs * E.n_k * k, T(0));
  std::fill(p.db, p.db + p.heads * k * k, T(0));
  for (int64_t g = 0; g < E.graphs; ++g) {
    const T* B = p.b + (g % p.heads) * k * k;  // [k, k]
    T* dB = p.db + (g % p.heads) * k * k;
    for (int64_t i = 0; i < E.n_q; ++i) {
      const int64_t r = g * E.n_q + i;
      const T* y_i = p.y + r * k;
      for (int64_t e = E.row_ptr[r]; e < E.row_ptr[r + 1]; ++e) {
        const int64_t j = E.col[e];
        const T* z_j = p.z + (g * E.n_k + j) * k;
        for (int64_t u = 0; u < k; ++u) {
          for (int64_t v = 0; v < k; ++v) {
            p.dy[r * k + u] += p.dp[e] * B[u * k + v] * z_j[v];                // B Z_jᵀ
            p.dz[(g * E.n_k + j) * k + v] += p.dp[e] * B[u * k + v] * y_i[u];  // Bᵀ Y_iᵀ
            dB[u * k + v] += p.dp[e] * y_i[u] * z_j[v];                        // Y_iᵀ Z_j
          }
        }
      }
    }
  }
}

SBMT_INSTANTIATE_KERNELS

}  // namespace reference
}  // namespace sbmt::attention
