// Nyströmformer (Xiong et al. 2021), as in the paper's baselines: `landmarks` segment means of
// q and k; out = softmax(q k̃ᵀ) pinv(softmax(q̃ k̃ᵀ)) softmax(q̃ kᵀ) v, with the Moore-Penrose
// inverse by 6 Newton-Schulz iterations and q, k scaled by d^(-1/4) each; plus, when
// conv_kernel > 0, a depthwise convolution of v along the sequence (kernel 35 in the paper's
// runs). Padded keys and queries are zeroed first. The sequence length must be a multiple of
// `landmarks` (or at most `landmarks`, where it is computed exactly as full attention).
#pragma once

#include "attention/attention_module.h"

namespace sbmt::attention {

struct NystromOptions {
  int64_t heads = 8;
  int64_t landmarks = 256;
  int64_t conv_kernel = 35;  // 0 disables the convolution
  int64_t pinv_iterations = 6;  // no attention dropout, as the reference implementation
};

class NystromAttention : public AttentionModule {
 public:
  explicit NystromAttention(const NystromOptions& options);
  AttentionOutput forward(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                          const AttentionMask& mask, const AttentionContext& context) override;

 private:
  NystromOptions options_;
  torch::nn::Conv2d conv_{nullptr};
};

// Iterative Moore-Penrose pseudo-inverse of a batch of square matrices ([..., m, m]).
torch::Tensor IterativePinv(const torch::Tensor& a, int64_t iterations);

}  // namespace sbmt::attention
