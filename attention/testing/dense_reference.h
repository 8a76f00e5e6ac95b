// Dense oracles for tiny shapes, used only by tests: attention with a full n_q x n_k mask
// matrix, and the STE membership gradients as dense matrix products. Written independently of
// the edge-list kernels (different loops, different data layout) so that agreement means
// something.
#pragma once

#include <cstdint>
#include <vector>

namespace sbmt::attention::testing {

// Row-major dense matrix of doubles.
struct Dense {
  int64_t rows = 0;
  int64_t cols = 0;
  std::vector<double> data;
  Dense() = default;
  Dense(int64_t r, int64_t c) : rows(r), cols(c), data(r * c, 0.0) {}
  double& at(int64_t r, int64_t c) { return data[r * cols + c]; }
  double at(int64_t r, int64_t c) const { return data[r * cols + c]; }
};

Dense MatMul(const Dense& a, const Dense& b);
Dense Transposed(const Dense& a);

// One graph, no dropout: out_i = Σ_j A_ij e^{s_ij} v_j / Σ_j A_ij e^{s_ij}, s = q kᵀ * scale.
// A may hold any non-negative weights (the renormalized masked softmax of the reference code);
// a row with no weight outputs 0.
Dense DenseMaskedAttention(const Dense& q, const Dense& k, const Dense& v, const Dense& mask,
                           double scale);

// STE gradients of p = Y B Zᵀ (+ eps) given dP (dense, zero off the sampled edges):
//   dY = dP Z Bᵀ,  dZ = dPᵀ Y B,  dB = Yᵀ dP Z.
struct DenseMembershipGrads {
  Dense dy, dz, db;
};
DenseMembershipGrads DenseMembershipBackward(const Dense& y, const Dense& z, const Dense& b,
                                             const Dense& dp);

}  // namespace sbmt::attention::testing
