// SBMAttention: the attention layer of SBM-Transformer (DESIGN.md section 3).
//
// Per layer: a shared 2-layer MLP `proj` (d -> d, ReLU, d -> d) and, per head h, cluster
// embeddings C_h (k x d). Memberships Y = sigmoid(proj(Q) C_hᵀ), Z = sigmoid(proj(K) C_hᵀ); the
// block matrix B_h = softmax over all k² entries of C_h C_hᵀ. A graph is sampled from
// p = Y B Zᵀ + eps by fastRG, and attention runs on its edges (sbm_attention_binding.h).
// Gradients reach proj and C through the straight-through estimator.
//
// Regularizer: penalty_weight x mean over (batch, head) of the density, either the exact
// expected density ((1ᵀY) B (Zᵀ1) + eps n_q n_k) / (n_q n_k) (default, smooth), or the sampled
// one through the STE (`DensityPenalty::kSampled`, as the paper's code).
//
// Sampling is keyed by (seed, step, layer, example offset + batch index, head) from the
// AttentionContext of each forward: fresh graphs every optimizer step, reproducible ones for
// the same step and examples, and evaluation graphs (phase kEval, step = evaluation batch) drawn
// from streams no training step uses.
#pragma once

#include <cstdint>

#include "attention/attention_module.h"

namespace sbmt::attention {

enum class DensityPenalty { kExpected, kSampled };

struct SbmAttentionOptions {
  int64_t heads = 8;
  int64_t head_dim = 64;
  int64_t clusters = 128;
  double eps = 0.01;
  bool self_loops = true;
  double dropout = 0.1;
  DensityPenalty density_penalty = DensityPenalty::kExpected;
  double penalty_weight = 1e-4;
  uint64_t seed = 0;
  uint64_t layer = 0;
};

class SbmAttention : public AttentionModule {
 public:
  explicit SbmAttention(const SbmAttentionOptions& options);

  AttentionOutput forward(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                          const AttentionMask& mask, const AttentionContext& context) override;

  const SbmAttentionOptions& options() const { return options_; }

  // Memberships and block matrix for given projections (exposed for tests and analysis).
  torch::Tensor memberships(const torch::Tensor& x);  // [B, H, n, d] -> [B, H, n, k]
  torch::Tensor block_matrix();                       // [H, k, k], entries sum to 1 per head

 private:
  SbmAttentionOptions options_;
  torch::nn::Sequential proj_{nullptr};
  torch::Tensor clusters_;  // [H, k, d]
};

}  // namespace sbmt::attention
