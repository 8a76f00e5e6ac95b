// Linformer (Wang et al. 2020), as in the paper's baselines: keys and values are projected along
// the sequence to `projected` rows by a learned E [H, projected, max_len] (one per layer), then
// softmax(q (E k)ᵀ / sqrt(d)) (E v). Padded keys are zeroed before the projection.
#pragma once

#include "attention/attention_module.h"

namespace sbmt::attention {

struct LinformerOptions {
  int64_t heads = 8;
  int64_t max_len = 512;
  int64_t projected = 256;
  double dropout = 0.1;
};

class LinformerAttention : public AttentionModule {
 public:
  explicit LinformerAttention(const LinformerOptions& options);
  AttentionOutput forward(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                          const AttentionMask& mask, const AttentionContext& context) override;
  torch::Tensor& projection() { return projection_; }

 private:
  LinformerOptions options_;
  torch::Tensor projection_;  // [H, projected, max_len]
};

}  // namespace sbmt::attention
