#include "attention/sbm_attention_module.h"

#include <cmath>
#include <stdexcept>
#include <string>

#include "attention/sbm_attention_binding.h"
#include "runtime/error.h"

namespace sbmt::attention {

SbmAttention::SbmAttention(const SbmAttentionOptions& options) : options_(options) {
  if (options.clusters <= 0) {
    throw Error(ErrorCode::kInvalidArgument,
                "SbmAttention: clusters: expected > 0, got " + std::to_string(options.clusters));
  }
  if (!(options.eps >= 0 && options.eps < 1)) {
    throw Error(ErrorCode::kInvalidArgument, "SbmAttention: eps: expected a value in [0, 1), got " +
                                                 std::to_string(options.eps));
  }
  const int64_t d = options.head_dim;
  proj_ = register_module("proj", torch::nn::Sequential(torch::nn::Linear(d, d), torch::nn::ReLU(),
                                                        torch::nn::Linear(d, d)));
  // Kaiming-normal with fan_in = k * d, as the reference implementation.
  clusters_ = register_parameter("clusters",
                                 torch::randn({options.heads, options.clusters, d}) *
                                     std::sqrt(2.0 / static_cast<double>(options.clusters * d)));
}

torch::Tensor SbmAttention::memberships(const torch::Tensor& x) {
  // [B, H, n, d] x [1, H, d, k] -> [B, H, n, k]
  return torch::sigmoid(torch::matmul(proj_->forward(x), clusters_.transpose(1, 2).unsqueeze(0)));
}

torch::Tensor SbmAttention::block_matrix() {
  const int64_t h = clusters_.size(0), k = clusters_.size(1);
  torch::Tensor logits = torch::matmul(clusters_, clusters_.transpose(1, 2));  // [H, k, k]
  return torch::softmax(logits.reshape({h, k * k}), 1).reshape({h, k, k});
}

namespace {

// Evaluation graphs are keyed by step kEvalStepBase + batch index: far beyond any training step,
// so evaluation never replays a training step's graphs and is the same at every evaluation.
constexpr uint64_t kEvalStepBase = uint64_t{1} << 62;

}  // namespace

AttentionOutput SbmAttention::forward(const torch::Tensor& q, const torch::Tensor& k,
                                      const torch::Tensor& v, const AttentionMask& mask,
                                      const AttentionContext& context) {
  const torch::Tensor& key_valid = mask.key_valid;
  const torch::Tensor& query_valid = mask.query_valid;
  const int64_t batch = q.size(0), heads = q.size(1), n_q = q.size(2), n_k = k.size(2);
  if (heads != options_.heads || q.size(3) != options_.head_dim) {
    throw Error(ErrorCode::kInvalidArgument,
                "SbmAttention: q: expected [batch, " + std::to_string(options_.heads) + ", n, " +
                    std::to_string(options_.head_dim) + "], got heads " + std::to_string(heads) +
                    " and head dim " + std::to_string(q.size(3)));
  }
  // Memberships, B and the density statistics in q's dtype on the CPU; on CUDA in float32 even
  // when q is bfloat16 (autocast): edge counts and n_q x n_k pairs need more than 8 bits.
  const torch::ScalarType stats_dtype = q.is_cuda() ? torch::kFloat32 : q.scalar_type();
  torch::Tensor y = memberships(q).to(stats_dtype);
  torch::Tensor z = memberships(k).to(stats_dtype);
  torch::Tensor b = block_matrix().to(stats_dtype);

  SbmOpOptions op;
  op.eps = options_.eps;
  op.self_loops = options_.self_loops;
  op.dropout = is_training() ? options_.dropout : 0.0;
  op.seed = options_.seed;
  op.step =
      context.phase == AttentionContext::Phase::kEval ? kEvalStepBase + context.step : context.step;
  op.layer = options_.layer;
  op.batch_offset = context.example_offset;
  SbmOpResult r = sbm_attention(q.contiguous(), k.contiguous(), v.contiguous(), y.contiguous(),
                                z.contiguous(), b.contiguous(), key_valid, query_valid, op);

  // Densities per (batch, head): edges / (valid queries x valid keys).
  const auto fopts = q.options().dtype(stats_dtype);
  torch::Tensor valid_k = detail::ValidFloat(key_valid, batch, n_k, fopts);           // [B, n_k]
  torch::Tensor valid_q = detail::ValidFloat(query_valid, batch, n_q, fopts);         // [B, n_q]
  torch::Tensor pairs = (valid_q.sum(1) * valid_k.sum(1)).clamp_min(1).unsqueeze(1);  // [B, 1]
  torch::Tensor sampled_density = r.edge_count / pairs;                               // [B, H]
  // Expected edges: (1ᵀY) B (Zᵀ1) + eps n_q n_k over valid rows.
  torch::Tensor x_sum = (y * valid_q.unsqueeze(1).unsqueeze(-1)).sum(2);  // [B, H, k]
  torch::Tensor z_sum = (z * valid_k.unsqueeze(1).unsqueeze(-1)).sum(2);  // [B, H, k]
  torch::Tensor expected_edges =
      torch::matmul(torch::matmul(x_sum.unsqueeze(-2), b.unsqueeze(0)), z_sum.unsqueeze(-1))
          .squeeze(-1)
          .squeeze(-1) +
      options_.eps * pairs;
  torch::Tensor expected_density = expected_edges / pairs;  // [B, H]

  AttentionOutput out;
  out.out = r.out;
  out.regularizer = options_.penalty_weight * (options_.density_penalty == DensityPenalty::kExpected
                                                   ? expected_density.mean()
                                                   : sampled_density.mean());
  out.stats.edges = r.edge_count.detach().to(torch::kFloat64).mean(0);
  out.stats.density = sampled_density.detach().to(torch::kFloat64).mean(0);
  out.stats.expected_density = expected_density.detach().to(torch::kFloat64).mean(0);
  return out;
}

}  // namespace sbmt::attention
