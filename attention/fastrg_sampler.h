// fastRG sampling of SBM attention graphs (DESIGN.md section 3, steps 2-3), on the CPU.
//
// For each graph g = (batch b, head h) it draws a bipartite query x key graph whose edge (i, j)
// is present with probability 1 - exp(-p_ij), p_ij = Y_i B_h Z_jᵀ + eps, in
// O((n_q + n_k) k + k² + M) time (M = number of Poisson draws), never O(n_q n_k):
//   - the eps floor is one extra block: a constant-1 membership column on each side and an extra
//     diagonal block entry eps;
//   - fastRG draws A_ij ~ Poisson(p_ij) independently for every pair. We draw the same law row
//     by row: query i gets Poisson(r_i) edges, r_i = Σ_j p_ij = Σ_u Y_iu t_u + eps n_k with
//     t_u = Σ_v B_uv z̄_v (z̄: column sums of Z), and each edge picks its block pair (u, v)
//     ∝ Y_iu B_uv z̄_v (u first, then v given u), then key j ∝ Z_jv (alias tables). Conditioning
//     fastRG's edges on their query endpoint changes nothing in distribution, and lets every row
//     run independently: parallel, no global sort, rows produced in order;
//   - duplicates are removed, so P(edge) = 1 - exp(-p_ij); padded queries and keys have zero
//     membership and so get no edges; with self_loops, edge (i, i) is added for every valid query
//     i whose key i exists and is valid.
//
// Randomness: row i of graph (b, h) draws its edge count from a Philox stream keyed by
// (seed, step, layer, batch_offset + b, h) at offset i * 2^32, then the 64-bit key of a SplitMix64
// counter stream that draws the row's edges (Philox per edge would cost more than everything else).
// The edges therefore depend only on the inputs and those keys, not on thread count or scheduling.
//
//   FastRgParams params{...};
//   SbmGraph graph = fastrg_sample(params);
//   // graph.row_ptr[g * n_q + i] .. graph.row_ptr[g * n_q + i + 1] index graph.col for row i.
#pragma once

#include <cstdint>
#include <vector>

#include "attention/uninitialized_allocator.h"

namespace sbmt::attention {

struct FastRgParams {
  int64_t batch = 0;
  int64_t heads = 0;
  int64_t n_q = 0;
  int64_t n_k = 0;
  int64_t k = 0;                         // clusters
  const float* y = nullptr;              // [batch, heads, n_q, k] contiguous, entries >= 0
  const float* z = nullptr;              // [batch, heads, n_k, k] contiguous, entries >= 0
  const float* b = nullptr;              // [heads, k, k] contiguous, entries >= 0
  float eps = 0.01f;                     // edge-rate floor, in [0, 1)
  const uint8_t* query_valid = nullptr;  // [batch, n_q], nonzero = real token; null: all valid
  const uint8_t* key_valid = nullptr;    // [batch, n_k]; null: all valid
  bool self_loops = false;
  uint64_t seed = 0;
  uint64_t step = 0;
  uint64_t layer = 0;
  // Index of this batch's first example in the global batch: the graphs of an example do not
  // depend on how the global batch is split over ranks and micro-steps.
  uint64_t batch_offset = 0;
};

// A batch of graphs in one CSR: row r = g * n_q + i (graph g = b * heads + h, query i); the
// columns of each row are sorted ascending and unique.
struct SbmGraph {
  int64_t graphs = 0;
  int64_t n_q = 0;
  int64_t n_k = 0;
  std::vector<int64_t> row_ptr;                               // graphs * n_q + 1
  std::vector<int32_t, UninitializedAllocator<int32_t>> col;  // key index of each edge
  // Per graph: Poisson draws before deduplication (multi-edges counted), excluding self loops.
  std::vector<int64_t> draws;

  int64_t edges() const { return row_ptr.empty() ? 0 : row_ptr.back(); }
  int64_t edges(int64_t g) const { return row_ptr[(g + 1) * n_q] - row_ptr[g * n_q]; }
};

// Throws sbmt::Error (invalid argument) naming the offending argument (shape, k <= 0, eps outside
// [0, 1), a NaN, infinite or negative membership) with the expected and actual value.
SbmGraph fastrg_sample(const FastRgParams& params);

// Expected number of (multi-)edges of graph (b, h): (1ᵀY) B (Zᵀ1) + eps * n_valid_q * n_valid_k.
// O(nk + k²). Used for reporting and by tests; the training regularizer computes the same
// quantity with autograd.
double fastrg_expected_draws(const FastRgParams& params, int64_t b, int64_t h);

}  // namespace sbmt::attention
