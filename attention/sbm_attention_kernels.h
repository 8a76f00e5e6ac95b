// SBM attention on a sampled edge set (DESIGN.md section 3, steps 4-5): the params structs and
// the two implementations that share them.
//
//   reference::  plain scalar loops, the math's documentation; tests compare everything to it.
//   cpu::        the fast kernels: OpenMP over rows and columns, vectorizable inner loops.
//
// Layout: G = batch * heads graphs; q is [G, n_q, d], k and v are [G, n_k, d], all contiguous.
// Edges are one CSR over G * n_q rows (see fastrg_sampler.h): row r = g * n_q + i holds the keys
// col[row_ptr[r] .. row_ptr[r + 1]) that query i of graph g attends to.
//
// Forward, per row i:  s_ij = q_i·k_j * scale,  α_i· = softmax over the row's edges,
//   β_ij = α_ij * keep_ij / (1 - p) (attention dropout),  out_i = Σ_j β_ij v_j.
//   A row without edges outputs 0.
// Backward, with g_i = dL/dout_i and D_i = g_i·out_i:
//   dv_j = Σ_i β_ij g_i;   ds_ij = α_ij (keep_ij/(1-p) g_i·v_j − D_i);
//   dq_i = scale Σ_j ds_ij k_j;   dk_j = scale Σ_i ds_ij q_i;
//   dp_ij = clip(ds_ij + grad_edges_g, −1, 1), the straight-through gradient of the edge's
//   expected rate (dL/dA_ij = ds_ij because A_ij scales exp(s_ij)); 0 on self loops.
// Membership backward (STE, all sums over edges, O(E k + n k²)):
//   dY_i = B Σ_j dp_ij Z_jᵀ;   dZ_j = Bᵀ Σ_i dp_ij Y_iᵀ;   dB = Σ_ij dp_ij Y_iᵀ Z_j.
//
// Dropout keeps edge e (its index in the CSR) iff the e-th word of the Philox stream
// (dropout_seed, dropout_stream) is >= p * 2^32, so backward regenerates the mask and nothing
// but α is saved. Results of cpu:: do not depend on the thread count (every sum runs in a fixed
// order), so training is reproducible.
#pragma once

#include <cstdint>

#include "attention/host_device.h"
#include "attention/philox.h"

namespace sbmt::attention {

struct SbmEdges {
  int64_t graphs = 0;
  int64_t n_q = 0;
  int64_t n_k = 0;
  const int64_t* row_ptr = nullptr;  // graphs * n_q + 1
  const int32_t* col = nullptr;      // row_ptr[graphs * n_q]
  int64_t edges() const { return row_ptr[graphs * n_q]; }
};

struct SbmDropout {
  float p = 0.0f;  // in [0, 1); 0 disables dropout
  uint64_t seed = 0;
  uint64_t stream = 0;
};

template <typename T>
struct SbmForwardParams {
  SbmEdges edges;
  int64_t d = 0;
  const T* q = nullptr;  // [G, n_q, d]
  const T* k = nullptr;  // [G, n_k, d]
  const T* v = nullptr;  // [G, n_k, d]
  T scale = 0;           // usually 1/sqrt(d)
  SbmDropout dropout;
  T* out = nullptr;    // [G, n_q, d], written
  T* alpha = nullptr;  // [E], written: softmax weights before dropout
};

template <typename T>
struct SbmBackwardParams {
  SbmEdges edges;
  int64_t d = 0;
  const T* q = nullptr;
  const T* k = nullptr;
  const T* v = nullptr;
  const T* out = nullptr;       // forward output
  const T* alpha = nullptr;     // forward's alpha
  const T* grad_out = nullptr;  // [G, n_q, d]
  // Optional [G]: gradient of each graph's edge count (the "sampled" density penalty), added to
  // dL/dA on every edge before clipping. Null means 0.
  const T* grad_edges = nullptr;
  T scale = 0;
  SbmDropout dropout;
  bool self_loops = false;  // edges (i, i) are self loops and get dp = 0
  T* dq = nullptr;          // [G, n_q, d], written
  T* dk = nullptr;          // [G, n_k, d], written
  T* dv = nullptr;          // [G, n_k, d], written
  T* dp = nullptr;          // [E], written
};

template <typename T>
struct SbmMembershipBackwardParams {
  SbmEdges edges;
  int64_t heads = 0;  // graph g uses block matrix b[g % heads]
  int64_t k = 0;
  const T* y = nullptr;   // [G, n_q, k]
  const T* z = nullptr;   // [G, n_k, k]
  const T* b = nullptr;   // [heads, k, k]
  const T* dp = nullptr;  // [E]
  T* dy = nullptr;        // [G, n_q, k], written
  T* dz = nullptr;        // [G, n_k, k], written
  T* db = nullptr;        // [heads, k, k], written (summed over the batch)
};

// Keep decision for dropout of edge e; shared by forward and backward of every implementation,
// the CUDA kernels included.
SBMT_HOST_DEVICE inline bool sbm_dropout_keep(const SbmDropout& dropout, int64_t e) {
  if (dropout.p <= 0) return true;
  const uint64_t block = static_cast<uint64_t>(e) / 4;
  const PhiloxWords words = Philox4x32(
      {static_cast<uint32_t>(block), static_cast<uint32_t>(block >> 32),
       static_cast<uint32_t>(dropout.stream), static_cast<uint32_t>(dropout.stream >> 32)},
      static_cast<uint32_t>(dropout.seed), static_cast<uint32_t>(dropout.seed >> 32));
  const double threshold = static_cast<double>(dropout.p) * 4294967296.0;
  return static_cast<double>(words[e % 4]) >= threshold;
}

}  // namespace sbmt::attention

// The three kernels, declared (SBMT_DECLARE_KERNELS) and instantiated for float and double
// (SBMT_INSTANTIATE_KERNELS, inside the namespace) the same way in every implementation.
#define SBMT_DECLARE_KERNELS(ns)                                         \
  namespace sbmt::attention::ns {                                        \
  template <typename T>                                                  \
  void sbm_attention_forward(const SbmForwardParams<T>& p);              \
  template <typename T>                                                  \
  void sbm_attention_backward(const SbmBackwardParams<T>& p);            \
  template <typename T>                                                  \
  void sbm_membership_backward(const SbmMembershipBackwardParams<T>& p); \
  }

#define SBMT_INSTANTIATE_KERNELS                                                           \
  template void sbm_attention_forward<float>(const SbmForwardParams<float>&);              \
  template void sbm_attention_forward<double>(const SbmForwardParams<double>&);            \
  template void sbm_attention_backward<float>(const SbmBackwardParams<float>&);            \
  template void sbm_attention_backward<double>(const SbmBackwardParams<double>&);          \
  template void sbm_membership_backward<float>(const SbmMembershipBackwardParams<float>&); \
  template void sbm_membership_backward<double>(const SbmMembershipBackwardParams<double>&);

// reference:: scalar loops; cpu:: the fast kernels (dispatching to an instruction-set build).
SBMT_DECLARE_KERNELS(reference)
SBMT_DECLARE_KERNELS(cpu)
