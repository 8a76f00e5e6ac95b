#include "attention/baselines/linformer_attention.h"

#include <cmath>
#include <stdexcept>
#include <string>

#include "runtime/error.h"

namespace sbmt::attention {

LinformerAttention::LinformerAttention(const LinformerOptions& options) : options_(options) {
  projection_ = register_parameter(
      "projection", torch::randn({options.heads, options.projected, options.max_len}) /
                        std::sqrt(static_cast<double>(options.projected)));
}

AttentionOutput LinformerAttention::forward(const torch::Tensor& q, const torch::Tensor& k,
                                            const torch::Tensor& v, const AttentionMask& mask,
                                            const AttentionContext& /*context*/) {
  const torch::Tensor& key_valid = mask.key_valid;
  const int64_t n_k = k.size(2);
  if (n_k > options_.max_len) {
    throw Error(ErrorCode::kInvalidArgument, "LinformerAttention: k: sequence length " +
                                                 std::to_string(n_k) + " exceeds max_len " +
                                                 std::to_string(options_.max_len));
  }
  torch::Tensor valid =
      detail::ValidFloat(key_valid, k.size(0), n_k, k.options()).unsqueeze(1).unsqueeze(-1);
  torch::Tensor e = projection_.narrow(2, 0, n_k).to(k.scalar_type()).unsqueeze(0);  // [1,H,p,n]
  torch::Tensor k_proj = torch::matmul(e, k * valid);  // [B, H, p, d]
  torch::Tensor v_proj = torch::matmul(e, v * valid);
  const double scale = 1.0 / std::sqrt(static_cast<double>(q.size(-1)));
  torch::Tensor alpha = torch::softmax(torch::matmul(q, k_proj.transpose(-2, -1)) * scale, -1);
  alpha = torch::dropout(alpha, options_.dropout, is_training());
  AttentionOutput out;
  out.out = torch::matmul(alpha, v_proj);
  out.regularizer = torch::zeros({}, q.options());
  out.stats = detail::DenseStats(mask, q.size(0), q.size(1), q.size(2), n_k);
  return out;
}

}  // namespace sbmt::attention
