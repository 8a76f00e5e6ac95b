#include "attention/baselines/nystrom_attention.h"

#include <cmath>
#include <stdexcept>
#include <string>

#include "attention/baselines/full_attention.h"
#include "runtime/error.h"

namespace sbmt::attention {

NystromAttention::NystromAttention(const NystromOptions& options) : options_(options) {
  if (options.conv_kernel > 0) {
    conv_ = register_module(
        "conv", torch::nn::Conv2d(torch::nn::Conv2dOptions(options.heads, options.heads,
                                                           {options.conv_kernel, 1})
                                      .padding({options.conv_kernel / 2, 0})
                                      .groups(options.heads)
                                      .bias(false)));
  }
}

torch::Tensor IterativePinv(const torch::Tensor& a, int64_t iterations) {
  // Z0 = aᵀ / (max column sum * max row sum) converges for the softmax matrices used here.
  const int64_t m = a.size(-1);
  torch::Tensor identity = torch::eye(m, a.options());
  torch::Tensor col = a.abs().sum(-2).amax(-1, true).unsqueeze(-1);
  torch::Tensor row = a.abs().sum(-1).amax(-1, true).unsqueeze(-1);
  torch::Tensor z = a.transpose(-2, -1) / (col * row);
  for (int64_t i = 0; i < iterations; ++i) {
    torch::Tensor az = torch::matmul(a, z);
    z = 0.25 * torch::matmul(
                   z, 13 * identity -
                          torch::matmul(az, 15 * identity -
                                                torch::matmul(az, 7 * identity - az)));
  }
  return z;
}

AttentionOutput NystromAttention::forward(const torch::Tensor& q, const torch::Tensor& k,
                                          const torch::Tensor& v, const AttentionMask& mask,
                                          const AttentionContext& /*context*/) {
  const torch::Tensor& key_valid = mask.key_valid;
  const int64_t batch = q.size(0), heads = q.size(1), n = k.size(2), d = q.size(3);
  if (q.size(2) != n) {
    throw Error(ErrorCode::kInvalidArgument, "NystromAttention: expects self-attention");
  }
  const int64_t m = options_.landmarks;
  AttentionOutput out;
  out.regularizer = torch::zeros({}, q.options());
  out.stats = detail::DenseStats(mask, batch, heads, n, n);
  torch::Tensor valid =
      detail::ValidFloat(key_valid, batch, n, q.options()).unsqueeze(1).unsqueeze(-1);
  if (n <= m) {
    // Few tokens: the Nyström approximation would be exact; compute it exactly.
    out.out = torch::matmul(MaskedSoftmaxScores(q, k, key_valid), v);
  } else {
    if (n % m != 0) {
      throw Error(ErrorCode::kInvalidArgument,
                  "NystromAttention: sequence length " + std::to_string(n) +
                      " is not a multiple of landmarks " + std::to_string(m));
    }
    const double root = std::pow(static_cast<double>(d), -0.25);
    torch::Tensor qs = q * valid * root;
    torch::Tensor ks = k * valid * root;
    torch::Tensor q_land = qs.reshape({batch, heads, m, n / m, d}).mean(3);
    torch::Tensor k_land = ks.reshape({batch, heads, m, n / m, d}).mean(3);
    torch::Tensor kernel1 = torch::softmax(torch::matmul(qs, k_land.transpose(-2, -1)), -1);
    torch::Tensor kernel2 = torch::softmax(torch::matmul(q_land, k_land.transpose(-2, -1)), -1);
    torch::Tensor mask_bias = (1 - valid.squeeze(-1).unsqueeze(2)) * -1e9;  // [B, 1, 1, n]
    torch::Tensor kernel3 =
        torch::softmax(torch::matmul(q_land, ks.transpose(-2, -1)) + mask_bias, -1);
    torch::Tensor context = torch::matmul(
        torch::matmul(kernel1, IterativePinv(kernel2, options_.pinv_iterations)),
        torch::matmul(kernel3, v));
    out.out = context;
  }
  if (conv_) out.out = out.out + conv_->forward(v * valid);
  return out;
}

}  // namespace sbmt::attention
