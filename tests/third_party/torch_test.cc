// LibTorch links and computes: a matmul, an autograd gradient, and the thread-count setting.
#include <gtest/gtest.h>
#include <torch/torch.h>

TEST(Torch, MatmulMatchesHandComputedProduct) {
  torch::Tensor a = torch::tensor({{1.0, 2.0}, {3.0, 4.0}}, torch::kFloat64);
  torch::Tensor b = torch::tensor({{5.0, 6.0}, {7.0, 8.0}}, torch::kFloat64);
  torch::Tensor c = torch::matmul(a, b);
  EXPECT_TRUE(torch::equal(c, torch::tensor({{19.0, 22.0}, {43.0, 50.0}}, torch::kFloat64)));
}

TEST(Torch, AutogradGivesAnalyticGradient) {
  torch::Tensor x = torch::tensor({1.0, -2.0, 3.0}, torch::requires_grad());
  torch::Tensor y = (x * x * x).sum();  // dy/dx = 3 x^2
  y.backward();
  EXPECT_TRUE(torch::allclose(x.grad(), torch::tensor({3.0, 12.0, 27.0})));
}

TEST(Torch, IntraOpThreadCountIsSettable) {
  torch::set_num_threads(2);
  EXPECT_EQ(torch::get_num_threads(), 2);
}
