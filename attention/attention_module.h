// The interface every attention of the model implements (SBM and the baselines), so the
// encoder picks one by config and never cares which.
//
//   std::shared_ptr<AttentionModule> attn = std::make_shared<SbmAttention>(options);
//   AttentionContext ctx{step, first_example, AttentionContext::Phase::kTrain};
//   AttentionOutput a = attn->forward(q, k, v, AttentionMask::Self(valid), ctx);  // [B, H, n, d]
//   loss = loss + a.regularizer;
#pragma once

#include <torch/torch.h>

namespace sbmt::attention {

// Per-head cost statistics, detached (for metrics), each [H] and averaged over the batch.
struct AttentionStats {
  torch::Tensor edges;             // attended (query, key) pairs per example
  torch::Tensor density;           // edges / (valid queries x valid keys)
  torch::Tensor expected_density;  // model's expected density (equals density for dense kinds)
};

struct AttentionOutput {
  torch::Tensor out;          // [B, H, n_q, d]
  torch::Tensor regularizer;  // scalar added to the loss (0 for the baselines)
  AttentionStats stats;
};

// Which positions are real tokens: [B, n] bool each (false = padding), or undefined (all
// valid). Queries at padded positions produce outputs the caller must ignore.
struct AttentionMask {
  torch::Tensor query_valid;  // [B, n_q]
  torch::Tensor key_valid;    // [B, n_k]
  // Self-attention: the queries are the keys.
  static AttentionMask Self(const torch::Tensor& valid) { return {valid, valid}; }
};

// What a forward pass is part of, passed down explicitly (no mutable per-module step). SBM
// attention keys its random graphs by (seed, step, layer, example_offset + batch index, head),
// so graphs do not depend on how a global batch is split over ranks and micro-steps, and
// evaluation draws from streams disjoint from every training step's.
struct AttentionContext {
  enum class Phase { kTrain, kEval };
  uint64_t step = 0;            // the optimizer step in training; the batch index in evaluation
  uint64_t example_offset = 0;  // global index of the batch's first example
  Phase phase = Phase::kTrain;
};

class AttentionModule : public torch::nn::Module {
 public:
  // q: [B, H, n_q, d]; k, v: [B, H, n_k, d].
  virtual AttentionOutput forward(const torch::Tensor& q, const torch::Tensor& k,
                                  const torch::Tensor& v, const AttentionMask& mask,
                                  const AttentionContext& context) = 0;
};

// Helpers shared by the implementations.
namespace detail {

// [B, n] float mask (1 = valid), all ones when key_valid is undefined.
torch::Tensor ValidFloat(const torch::Tensor& key_valid, int64_t batch, int64_t n,
                         const torch::TensorOptions& options);

// Stats of an attention that attends to every valid key: density 1.
AttentionStats DenseStats(const AttentionMask& mask, int64_t batch, int64_t heads, int64_t n_q,
                          int64_t n_k);

}  // namespace detail
}  // namespace sbmt::attention
