#include "attention/baselines/full_attention.h"

#include <cmath>
#include <limits>

namespace sbmt::attention {

torch::Tensor MaskedSoftmaxScores(const torch::Tensor& q, const torch::Tensor& k,
                                  const torch::Tensor& key_valid) {
  const double scale = 1.0 / std::sqrt(static_cast<double>(q.size(-1)));
  torch::Tensor scores = torch::matmul(q, k.transpose(-2, -1)) * scale;  // [B, H, n_q, n_k]
  if (!key_valid.defined()) return torch::softmax(scores, -1);
  torch::Tensor valid = key_valid.unsqueeze(1).unsqueeze(2);  // [B, 1, 1, n_k]
  scores = scores.masked_fill(valid.logical_not(), -std::numeric_limits<double>::infinity());
  // A row whose keys are all padded would be NaN; it attends to nothing instead.
  return torch::softmax(scores, -1).nan_to_num(0.0);
}

AttentionOutput FullAttention::forward(const torch::Tensor& q, const torch::Tensor& k,
                                       const torch::Tensor& v, const AttentionMask& mask,
                                       const AttentionContext& /*context*/) {
  const torch::Tensor& key_valid = mask.key_valid;
  torch::Tensor alpha = MaskedSoftmaxScores(q, k, key_valid);
  alpha = torch::dropout(alpha, options_.dropout, is_training());
  AttentionOutput out;
  out.out = torch::matmul(alpha, v);
  out.regularizer = torch::zeros({}, q.options());
  out.stats = detail::DenseStats(mask, q.size(0), q.size(1), q.size(2), k.size(2));
  return out;
}

}  // namespace sbmt::attention
