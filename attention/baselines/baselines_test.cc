// Baselines against first principles: full attention against an explicit loop, Linformer with
// an identity projection and Nyström with one landmark per token against full attention.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>

#include "attention/baselines/full_attention.h"
#include "attention/baselines/linformer_attention.h"
#include "attention/baselines/nystrom_attention.h"
#include "runtime/error.h"

namespace sbmt::attention {
namespace {

torch::TensorOptions Double() { return torch::TensorOptions().dtype(torch::kFloat64); }

TEST(FullAttention, MatchesExplicitLoopWithPadding) {
  torch::manual_seed(0);
  const int64_t B = 2, H = 2, n = 5, d = 4;
  torch::Tensor q = torch::randn({B, H, n, d}, Double());
  torch::Tensor k = torch::randn({B, H, n, d}, Double());
  torch::Tensor v = torch::randn({B, H, n, d}, Double());
  torch::Tensor valid = torch::ones({B, n}, torch::kBool);
  valid[1][3] = false;
  valid[1][4] = false;
  FullAttention attn(FullAttentionOptions{0.0});
  AttentionOutput out = attn.forward(q, k, v, AttentionMask::Self(valid), {});
  for (int64_t b = 0; b < B; ++b) {
    for (int64_t h = 0; h < H; ++h) {
      for (int64_t i = 0; i < n; ++i) {
        std::vector<double> w(n, 0.0);
        double sum = 0;
        for (int64_t j = 0; j < n; ++j) {
          if (!valid[b][j].item<bool>()) continue;
          w[j] = std::exp((q[b][h][i] * k[b][h][j]).sum().item<double>() / std::sqrt(d * 1.0));
          sum += w[j];
        }
        for (int64_t c = 0; c < d; ++c) {
          double expected = 0;
          for (int64_t j = 0; j < n; ++j) expected += w[j] / sum * v[b][h][j][c].item<double>();
          EXPECT_NEAR(out.out[b][h][i][c].item<double>(), expected, 1e-12);
        }
      }
    }
  }
  EXPECT_DOUBLE_EQ(out.stats.density[0].item<double>(), 1.0);
  EXPECT_DOUBLE_EQ(out.stats.edges[0].item<double>(), (25.0 + 9.0) / 2);  // mean of 5x5 and 3x3
}

TEST(LinformerAttention, IdentityProjectionEqualsFullAttention) {
  torch::manual_seed(1);
  const int64_t B = 1, H = 2, n = 6, d = 8;
  LinformerAttention attn(LinformerOptions{H, n, n, 0.0});
  {
    torch::NoGradGuard no_grad;
    attn.projection().copy_(torch::eye(n).unsqueeze(0).expand({H, n, n}));
  }
  torch::Tensor q = torch::randn({B, H, n, d}), k = torch::randn({B, H, n, d}),
                v = torch::randn({B, H, n, d});
  FullAttention full(FullAttentionOptions{0.0});
  EXPECT_TRUE(torch::allclose(attn.forward(q, k, v, {}, {}).out, full.forward(q, k, v, {}, {}).out,
                              1e-5, 1e-6));
  EXPECT_THROW(attn.forward(torch::randn({B, H, n + 1, d}), torch::randn({B, H, n + 1, d}),
                            torch::randn({B, H, n + 1, d}), {}, {}),
               Error);
}

TEST(NystromAttention, ApproximatesFullAttentionAndPinvInverts) {
  torch::manual_seed(2);
  // A well-conditioned softmax matrix: the iterative pseudo-inverse converges to the inverse.
  torch::Tensor a = torch::softmax(torch::randn({3, 4, 4}, Double()) * 0.5 +
                                       2 * torch::eye(4, Double()),
                                   -1);
  torch::Tensor inv = IterativePinv(a, 30);
  EXPECT_TRUE(torch::allclose(torch::matmul(a, inv), torch::eye(4, Double()).expand({3, 4, 4}),
                              1e-8, 1e-8));

  // Landmarks = tokens / 1: segment means are the tokens themselves, and with enough pinv
  // iterations the output is full attention (with q, k scaled by d^(-1/4) each).
  const int64_t B = 1, H = 2, n = 8, d = 4;
  NystromOptions options;
  options.heads = H;
  options.landmarks = 4;
  options.conv_kernel = 0;
  options.pinv_iterations = 40;
  NystromAttention attn(options);
  // Each token appears twice in a row, so each segment's mean is the token itself.
  torch::Tensor q = (torch::randn({B, H, 4, d}, Double()) * 0.3)
                        .unsqueeze(3)
                        .expand({B, H, 4, 2, d})
                        .reshape({B, H, n, d});
  torch::Tensor k = q.clone();
  torch::Tensor v = torch::randn({B, H, n, d}, Double());
  FullAttention full(FullAttentionOptions{0.0});
  EXPECT_TRUE(torch::allclose(attn.forward(q, k, v, {}, {}).out, full.forward(q, k, v, {}, {}).out,
                              1e-6, 1e-6));
  // A length that does not divide into landmarks is rejected with the numbers.
  try {
    attn.forward(torch::randn({1, H, 10, d}), torch::randn({1, H, 10, d}),
                 torch::randn({1, H, 10, d}), {}, {});
    ADD_FAILURE() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("10 is not a multiple of landmarks 4"),
              std::string::npos);
  }
}

}  // namespace
}  // namespace sbmt::attention
