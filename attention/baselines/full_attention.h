// Full softmax attention with LibTorch ops: the O(n²) baseline and the reference point of the
// benchmark. softmax(q kᵀ / sqrt(d) over valid keys), attention dropout, times v.
#pragma once

#include "attention/attention_module.h"

namespace sbmt::attention {

struct FullAttentionOptions {
  double dropout = 0.1;
};

class FullAttention : public AttentionModule {
 public:
  explicit FullAttention(const FullAttentionOptions& options = {}) : options_(options) {}
  AttentionOutput forward(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                          const AttentionMask& mask, const AttentionContext& context) override;

 private:
  FullAttentionOptions options_;
};

// The masked softmax weights themselves ([B, H, n_q, n_k]); rows without a valid key are 0.
torch::Tensor MaskedSoftmaxScores(const torch::Tensor& q, const torch::Tensor& k,
                                  const torch::Tensor& key_valid);

}  // namespace sbmt::attention
