// The LibTorch binding of SBM attention: validates tensors, samples the graph with fastRG, runs
// the kernels of the tensors' device (CPU; CUDA in builds with a CUDA LibTorch, where
// SBMT_TORCH_CUDA is defined), and registers the backward with autograd. The only file of the
// op that sees torch tensors.
//
//   SbmOpOptions options;  // eps, self_loops, dropout, seed, step, layer
//   SbmOpResult r = sbm_attention(q, k, v, y, z, b, key_valid, query_valid, options);
//   r.out.sum().backward();  // gradients reach q, k, v and, by the straight-through
//                            // estimator, y, z and b
#pragma once

#include <torch/torch.h>

#include <cstdint>

namespace sbmt::attention {

struct SbmOpOptions {
  double eps = 0.01;
  bool self_loops = false;
  double dropout = 0.0;  // attention dropout probability; applied only when > 0
  uint64_t seed = 0;
  uint64_t step = 0;
  uint64_t layer = 0;
  uint64_t batch_offset = 0;  // global index of the batch's first example (FastRgParams)
};

struct SbmOpResult {
  torch::Tensor out;  // [B, H, n_q, d]
  // [B, H], q's dtype (float32 on CUDA): sampled edges; differentiable (its gradient is added
  // to every edge's straight-through gradient)
  torch::Tensor edge_count;
  torch::Tensor draws;    // [B, H] int64: Poisson draws before deduplication
  torch::Tensor row_ptr;  // [B * H * n_q + 1] int64: the sampled graph (CSR, see
  torch::Tensor col;      // [E] int32               fastrg_sampler.h)
};

// q: [B, H, n_q, d]; k, v: [B, H, n_k, d]; y: [B, H, n_q, c]; z: [B, H, n_k, c]; b: [H, c, c].
// On the CPU: all float32 or all float64. On CUDA (all on q's GPU): q, k, v float32, bfloat16
// or float16, memberships and B any floating type (read as float32). All contiguous.
// key_valid [B, n_k] and query_valid
// [B, n_q] are optional bool masks (undefined tensor: all valid). Memberships and B must be
// finite and >= 0. Throws sbmt::Error (invalid argument) naming the argument, the expected and the
// actual value.
SbmOpResult sbm_attention(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                          const torch::Tensor& y, const torch::Tensor& z, const torch::Tensor& b,
                          const torch::Tensor& key_valid, const torch::Tensor& query_valid,
                          const SbmOpOptions& options);

}  // namespace sbmt::attention
