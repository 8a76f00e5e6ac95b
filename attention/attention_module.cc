#include "attention/attention_module.h"

namespace sbmt::attention::detail {

torch::Tensor ValidFloat(const torch::Tensor& key_valid, int64_t batch, int64_t n,
                         const torch::TensorOptions& options) {
  if (!key_valid.defined()) return torch::ones({batch, n}, options);
  return key_valid.to(options.dtype());
}

AttentionStats DenseStats(const AttentionMask& mask, int64_t batch, int64_t heads, int64_t n_q,
                          int64_t n_k) {
  torch::NoGradGuard no_grad;
  const auto options = torch::TensorOptions().dtype(torch::kFloat64);
  torch::Tensor valid_k = ValidFloat(mask.key_valid, batch, n_k, options).sum(1);
  torch::Tensor valid_q = ValidFloat(mask.query_valid, batch, n_q, options).sum(1);
  torch::Tensor edges = (valid_q * valid_k).mean().expand({heads}).clone();
  return {edges, torch::ones({heads}, options), torch::ones({heads}, options)};
}

}  // namespace sbmt::attention::detail
