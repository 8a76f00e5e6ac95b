// The LibTorch binding against a dense oracle written with torch ops (gradients of q, k, v, and
// the straight-through gradients of y, z, b), its input validation, and the SbmAttention module.
#include "attention/sbm_attention_module.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <string>

#include "attention/baselines/full_attention.h"
#include "attention/sbm_attention_binding.h"
#include "runtime/error.h"

namespace sbmt::attention {
namespace {

torch::TensorOptions Double() { return torch::TensorOptions().dtype(torch::kFloat64); }

struct OpInputs {
  torch::Tensor q, k, v, y, z, b, key_valid;
};

OpInputs MakeInputs(int64_t B, int64_t H, int64_t n, int64_t d, int64_t c) {
  torch::manual_seed(7);
  OpInputs in;
  in.q = torch::randn({B, H, n, d}, Double()).requires_grad_();
  in.k = torch::randn({B, H, n, d}, Double()).requires_grad_();
  in.v = torch::randn({B, H, n, d}, Double()).requires_grad_();
  in.y = torch::rand({B, H, n, c}, Double()).requires_grad_();
  in.z = torch::rand({B, H, n, c}, Double()).requires_grad_();
  in.b = (torch::rand({H, c, c}, Double()) * (2.0 / (c * c))).requires_grad_();
  in.key_valid = torch::ones({B, n}, torch::kBool);
  in.key_valid[1].narrow(0, n - 3, 3).fill_(false);
  return in;
}

// Dense oracle for one call: masked softmax with a mask A that is a leaf tensor, so autograd
// gives dL/dA; the STE then sets dP = clip(dL/dA, -1, 1) on sampled non-loop edges, and the
// membership gradients are those of Σ P ⊙ dP with P = Y B Zᵀ.
TEST(SbmAttentionBinding, GradientsMatchDenseTorchOracle) {
  const int64_t B = 2, H = 2, n = 12, d = 8, c = 3;
  OpInputs in = MakeInputs(B, H, n, d, c);
  SbmOpOptions options;
  options.eps = 0.05;
  options.self_loops = true;
  options.seed = 3;
  SbmOpResult r =
      sbm_attention(in.q, in.k, in.v, in.y, in.z, in.b, in.key_valid, in.key_valid, options);
  torch::Tensor g = torch::randn({B, H, n, d}, Double());
  (r.out * g).sum().backward();

  // The sampled mask, dense.
  torch::Tensor mask = torch::zeros({B, H, n, n}, Double());
  auto row_ptr = r.row_ptr.accessor<int64_t, 1>();
  auto col = r.col.accessor<int32_t, 1>();
  for (int64_t row = 0; row < B * H * n; ++row) {
    for (int64_t e = row_ptr[row]; e < row_ptr[row + 1]; ++e) {
      mask[row / (H * n)][(row / n) % H][row % n][col[e]] = 1.0;
    }
  }
  EXPECT_EQ(mask.sum().item<double>(), static_cast<double>(r.col.size(0)));
  EXPECT_TRUE(torch::equal(r.edge_count, mask.sum({2, 3})));

  torch::Tensor q = in.q.detach().requires_grad_(), k = in.k.detach().requires_grad_(),
                v = in.v.detach().requires_grad_();
  torch::Tensor a = mask.clone().requires_grad_();
  torch::Tensor s = torch::matmul(q, k.transpose(-2, -1)) / std::sqrt(double(d));
  torch::Tensor w = a * torch::exp(s - s.amax(-1, true));
  torch::Tensor alpha = w / w.sum(-1, true).clamp_min(1e-300);
  torch::Tensor out = torch::matmul(alpha, v);
  (out * g).sum().backward();
  EXPECT_TRUE(torch::allclose(r.out, out, 1e-10, 1e-12));
  EXPECT_TRUE(torch::allclose(in.q.grad(), q.grad(), 1e-10, 1e-12));
  EXPECT_TRUE(torch::allclose(in.k.grad(), k.grad(), 1e-10, 1e-12));
  EXPECT_TRUE(torch::allclose(in.v.grad(), v.grad(), 1e-10, 1e-12));

  torch::Tensor loops = torch::eye(n, Double()).expand({B, H, n, n});
  torch::Tensor dp = (a.grad() * mask * (1 - loops)).clamp(-1, 1);
  torch::Tensor y = in.y.detach().requires_grad_(), z = in.z.detach().requires_grad_(),
                bm = in.b.detach().requires_grad_();
  torch::Tensor p = torch::matmul(torch::matmul(y, bm.unsqueeze(0)), z.transpose(-2, -1));
  (p * dp).sum().backward();
  EXPECT_TRUE(torch::allclose(in.y.grad(), y.grad(), 1e-10, 1e-12));
  EXPECT_TRUE(torch::allclose(in.z.grad(), z.grad(), 1e-10, 1e-12));
  EXPECT_TRUE(torch::allclose(in.b.grad(), bm.grad(), 1e-10, 1e-12));
  EXPECT_GT(in.b.grad().abs().sum().item<double>(), 0.0);
}

void ExpectInvalid(const std::function<void()>& call, const std::string& needle) {
  try {
    call();
    ADD_FAILURE() << "expected sbmt::Error mentioning: " << needle;
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
  }
}

TEST(SbmAttentionBinding, RejectsBadInputNamingTheArgument) {
  OpInputs in = MakeInputs(2, 2, 6, 4, 3);
  torch::NoGradGuard no_grad;
  const SbmOpOptions o;
  ExpectInvalid(
      [&] { sbm_attention(in.q.to(torch::kInt32), in.k, in.v, in.y, in.z, in.b, {}, {}, o); },
      "q: expected dtype float or double, got Int");
  // bfloat16 is a CUDA dtype here (autocast); the CPU kernels are float and double.
  ExpectInvalid(
      [&] { sbm_attention(in.q.to(torch::kBFloat16), in.k, in.v, in.y, in.z, in.b, {}, {}, o); },
      "q: expected dtype float or double, got BFloat16");
  ExpectInvalid(
      [&] { sbm_attention(in.q.to(torch::kMeta), in.k, in.v, in.y, in.z, in.b, {}, {}, o); },
      "q: expected a CPU or CUDA tensor, got device meta");
  ExpectInvalid(
      [&] { sbm_attention(in.q, in.k.to(torch::kFloat32), in.v, in.y, in.z, in.b, {}, {}, o); },
      "k: expected dtype Double, got Float");
  ExpectInvalid(
      [&] { sbm_attention(in.q, in.k, in.v, in.y, in.z.narrow(2, 0, 5), in.b, {}, {}, o); },
      "z: expected shape [2, 2, 6, 3], got [2, 2, 5, 3]");
  ExpectInvalid(
      [&] {
        sbm_attention(in.q, in.k, in.v.transpose(2, 3).contiguous().transpose(2, 3), in.y, in.z,
                      in.b, {}, {}, o);
      },
      "v: expected a contiguous tensor");
  ExpectInvalid(
      [&] {
        sbm_attention(in.q, in.k, in.v, in.y, in.z, in.b, torch::ones({2, 6}, torch::kInt64), {},
                      o);
      },
      "key_valid: expected dtype Bool, got Long");
  torch::Tensor y = in.y.detach().clone();
  y[0][1][2][0] = std::nan("");
  ExpectInvalid([&] { sbm_attention(in.q, in.k, in.v, y, in.z, in.b, {}, {}, o); },
                "y: expected finite entries >= 0, got nan");
  SbmOpOptions bad = o;
  bad.eps = 1.5;
  ExpectInvalid([&] { sbm_attention(in.q, in.k, in.v, in.y, in.z, in.b, {}, {}, bad); },
                "eps: expected a value in [0, 1), got 1.5");
}

SbmAttentionOptions SmallOptions() {
  SbmAttentionOptions o;
  o.heads = 2;
  o.head_dim = 8;
  o.clusters = 4;
  o.dropout = 0.0;
  o.seed = 11;
  return o;
}

TEST(SbmAttentionModule, ForwardBackwardStatsAndRegularizer) {
  torch::manual_seed(5);
  SbmAttention attn(SmallOptions());
  const int64_t B = 2, n = 16;
  torch::Tensor q = torch::randn({B, 2, n, 8}), k = torch::randn({B, 2, n, 8}),
                v = torch::randn({B, 2, n, 8});
  torch::Tensor valid = torch::ones({B, n}, torch::kBool);
  valid[0].narrow(0, 12, 4).fill_(false);
  AttentionOutput out = attn.forward(q, k, v, AttentionMask::Self(valid), {});
  ASSERT_EQ(out.out.sizes(), q.sizes());
  ASSERT_EQ(out.stats.density.sizes(), torch::IntArrayRef({2}));
  // At initialization C ≈ 0 gives B ≈ 1/k², Y, Z ≈ 1/2: p ≈ 0.25 + eps.
  const double expected = out.stats.expected_density.mean().item<double>();
  EXPECT_NEAR(expected, 0.26, 0.03);
  EXPECT_GT(out.stats.density.mean().item<double>(), 0.15);
  EXPECT_LT(out.stats.density.mean().item<double>(), 0.45);
  EXPECT_NEAR(out.regularizer.item<double>(), 1e-4 * expected, 1e-9);

  (out.out.pow(2).sum() + out.regularizer * 1e4).backward();
  for (const auto& param : attn.named_parameters()) {
    ASSERT_TRUE(param.value().grad().defined()) << param.key();
    EXPECT_TRUE(torch::isfinite(param.value().grad()).all().item<bool>()) << param.key();
    EXPECT_GT(param.value().grad().abs().sum().item<double>(), 0.0) << param.key();
  }
}

TEST(SbmAttentionModule, SamplingIsKeyedByStep) {
  SbmAttention attn(SmallOptions());
  torch::NoGradGuard no_grad;
  torch::manual_seed(6);
  torch::Tensor q = torch::randn({1, 2, 32, 8}), k = torch::randn({1, 2, 32, 8}),
                v = torch::randn({1, 2, 32, 8});
  const AttentionContext step1{1, 0, AttentionContext::Phase::kTrain};
  const AttentionContext step2{2, 0, AttentionContext::Phase::kTrain};
  const AttentionContext eval1{1, 0, AttentionContext::Phase::kEval};
  const AttentionContext offset{1, 7, AttentionContext::Phase::kTrain};
  torch::Tensor a = attn.forward(q, k, v, {}, step1).out;
  torch::Tensor b = attn.forward(q, k, v, {}, step1).out;
  EXPECT_TRUE(torch::equal(a, b));
  EXPECT_FALSE(torch::equal(a, attn.forward(q, k, v, {}, step2).out));
  EXPECT_FALSE(torch::equal(a, attn.forward(q, k, v, {}, eval1).out));
  EXPECT_FALSE(torch::equal(a, attn.forward(q, k, v, {}, offset).out));
}

// Cross-attention between sequences of equal length: the query mask is its own, not the keys'.
// Padded queries get no edges and count in no density; valid queries attend to valid keys.
TEST(SbmAttentionModule, CrossAttentionKeepsQueryAndKeyMasksApart) {
  SbmAttentionOptions o = SmallOptions();
  o.self_loops = false;  // (i, i) pairs mean nothing across two sequences
  SbmAttention attn(o);
  torch::NoGradGuard no_grad;
  torch::manual_seed(9);
  const int64_t n = 16;
  torch::Tensor q = torch::randn({1, 2, n, 8}), k = torch::randn({1, 2, n, 8}),
                v = torch::randn({1, 2, n, 8});
  torch::Tensor query_valid = torch::ones({1, n}, torch::kBool);
  torch::Tensor key_valid = torch::ones({1, n}, torch::kBool);
  query_valid[0].narrow(0, 0, 8).fill_(false);  // the first half of the queries is padding
  key_valid[0].narrow(0, 8, 8).fill_(false);    // the second half of the keys is padding
  AttentionOutput out = attn.forward(q, k, v, {query_valid, key_valid}, {});
  // 8 valid queries x 8 valid keys: density is edges / 64, not edges / (8 x 16) or / (16 x 8).
  const torch::Tensor edges = out.stats.edges, density = out.stats.density;
  EXPECT_TRUE(torch::allclose(density, edges / 64.0)) << edges << density;
  // A padded query's output is whatever the op gives rows without edges: zero.
  EXPECT_TRUE(torch::equal(out.out.narrow(2, 0, 8), torch::zeros({1, 2, 8, 8})));
  EXPECT_GT(out.out.narrow(2, 8, 8).abs().sum().item<double>(), 0.0);
}

TEST(SbmAttentionModule, SampledPenaltyReachesClustersThroughTheEstimator) {
  SbmAttentionOptions o = SmallOptions();
  o.density_penalty = DensityPenalty::kSampled;
  o.penalty_weight = 1.0;
  SbmAttention attn(o);
  torch::manual_seed(8);
  torch::Tensor q = torch::randn({1, 2, 16, 8}), k = torch::randn({1, 2, 16, 8}),
                v = torch::randn({1, 2, 16, 8});
  AttentionOutput out = attn.forward(q, k, v, {}, {});
  EXPECT_NEAR(out.regularizer.item<double>(), out.stats.density.mean().item<double>(), 1e-6);
  out.regularizer.backward();
  const torch::Tensor grad = attn.named_parameters()["clusters"].grad();
  ASSERT_TRUE(grad.defined());
  EXPECT_GT(grad.abs().sum().item<double>(), 0.0);
}

}  // namespace
}  // namespace sbmt::attention
