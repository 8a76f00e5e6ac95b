// The interface every attention of the model implements (SBM and the baselines), so the
// encoder picks one by config and never cares which.
//
//   std::shared_ptr<AttentionModule> attn = std::make_shared<SbmAttention>(options);
//   AttentionOutput a = attn->forward(q, k, v, key_valid);   // q, k, v: [B, H, n, d]
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

class AttentionModule : public torch::nn::Module {
 public:
  // q: [B, H, n_q, d]; k, v: [B, H, n_k, d]; key_valid: [B, n_k] bool, or undefined (all
  // valid). Queries at padded positions produce outputs the caller must ignore.
  virtual AttentionOutput forward(const torch::Tensor& q, const torch::Tensor& k,
                                  const torch::Tensor& v, const torch::Tensor& key_valid) = 0;
};

// Helpers shared by the implementations.
namespace detail {

// [B, n] float mask (1 = valid), all ones when key_valid is undefined.
torch::Tensor ValidFloat(const torch::Tensor& key_valid, int64_t batch, int64_t n,
                         const torch::TensorOptions& options);

// Stats of an attention that attends to every valid key: density 1.
AttentionStats DenseStats(const torch::Tensor& key_valid, int64_t batch, int64_t heads, int64_t n_q,
                          int64_t n_k);

}  // namespace detail
}  // namespace sbmt::attention
