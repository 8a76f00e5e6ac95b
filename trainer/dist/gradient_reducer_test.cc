#include "trainer/dist/gradient_reducer.h"

#include <gtest/gtest.h>

#include <thread>

#include "trainer/dist/in_process_communicator.h"

namespace sbmt::dist {
namespace {

// A small model whose last layer can be skipped (an unused parameter in that backward).
struct Net {
  torch::Tensor w1 = torch::randn({16, 8}, torch::kFloat64).requires_grad_();
  torch::Tensor b1 = torch::randn({16}, torch::kFloat64).requires_grad_();
  torch::Tensor w2 = torch::randn({4, 16}, torch::kFloat64).requires_grad_();
  torch::Tensor w3 = torch::randn({4, 4}, torch::kFloat64).requires_grad_();
  std::vector<torch::Tensor> params() const { return {w1, b1, w2, w3}; }
  torch::Tensor Loss(const torch::Tensor& x, bool use_w3) const {
    torch::Tensor h = torch::matmul(torch::tanh(torch::matmul(x, w1.t()) + b1), w2.t());
    if (use_w3) h = torch::matmul(h, w3);
    return h.pow(2).sum();
  }
};

// A generator of its own: ranks run on threads, and the global one would race.
torch::Tensor Input(int rank, int micro) {
  at::Generator generator = at::detail::createCPUGenerator(100 * rank + micro);
  return torch::randn({5, 8}, generator, torch::kFloat64);
}

// Each rank: `micro` micro-steps with inputs (rank, m); rank 1 skips w3 when `skip_w3`.
std::vector<std::vector<torch::Tensor>> ReducedGrads(int world_size, int micro, bool skip_w3,
                                                     ReducerOptions options) {
  torch::manual_seed(7);
  Net net;
  std::vector<std::vector<torch::Tensor>> grads(world_size);
  InProcessWorld world(world_size);
  std::vector<std::thread> threads;
  for (int r = 0; r < world_size; ++r) {
    threads.emplace_back([&, r] {
      Net mine;  // each rank its own copy of the same weights
      mine.w1 = net.w1.detach().clone().requires_grad_();
      mine.b1 = net.b1.detach().clone().requires_grad_();
      mine.w2 = net.w2.detach().clone().requires_grad_();
      mine.w3 = net.w3.detach().clone().requires_grad_();
      std::unique_ptr<Communicator> comm = world.Connect(r);
      GradientReducer reducer(*comm, mine.params(), options);
      for (int m = 0; m < micro; ++m) {
        if (m == micro - 1) reducer.PrepareForReduction();
        mine.Loss(Input(r, m), !(skip_w3 && r == 1)).backward();
      }
      const ReductionStats stats = reducer.FinishReduction();
      int64_t bytes = 0;  // every parameter is reduced, used in this backward or not
      for (const torch::Tensor& p : mine.params()) bytes += p.nbytes();
      EXPECT_EQ(stats.allreduce_bytes, bytes);
      EXPECT_GT(stats.allreduce_seconds, 0);
      EXPECT_GE(stats.exposed_seconds, 0);
      for (const torch::Tensor& p : mine.params()) grads[r].push_back(p.grad().clone());
    });
  }
  for (auto& t : threads) t.join();
  return grads;
}

// The same sum computed on one thread: every (rank, micro-step) input through one model.
std::vector<torch::Tensor> ExpectedGrads(int world_size, int micro, bool skip_w3) {
  torch::manual_seed(7);
  Net net;
  for (int r = 0; r < world_size; ++r) {
    for (int m = 0; m < micro; ++m) net.Loss(Input(r, m), !(skip_w3 && r == 1)).backward();
  }
  std::vector<torch::Tensor> grads;
  for (const torch::Tensor& p : net.params()) grads.push_back(p.grad());
  return grads;
}

void ExpectSums(int world_size, int micro, bool skip_w3, ReducerOptions options) {
  const auto got = ReducedGrads(world_size, micro, skip_w3, options);
  const auto expected = ExpectedGrads(world_size, micro, skip_w3);
  for (int r = 0; r < world_size; ++r) {
    for (size_t i = 0; i < expected.size(); ++i) {
      EXPECT_TRUE(torch::allclose(got[r][i], expected[i], 1e-12, 1e-12))
          << "rank " << r << " parameter " << i << " world " << world_size << " micro " << micro;
    }
  }
  // Every rank holds exactly the same sum.
  for (int r = 1; r < world_size; ++r) {
    for (size_t i = 0; i < expected.size(); ++i) EXPECT_TRUE(torch::equal(got[r][i], got[0][i]));
  }
}

TEST(GradientReducer, SumsGradientsAcrossRanks) {
  ExpectSums(2, 1, false, {});
  ExpectSums(3, 1, false, {});
}

TEST(GradientReducer, ReducesOnlyTheLastMicroStepWithTheAccumulatedSum) {
  ExpectSums(2, 3, false, {});
}

TEST(GradientReducer, AParameterUnusedOnOneRankCountsAsZeroThere) { ExpectSums(2, 1, true, {}); }

TEST(GradientReducer, ManySmallBucketsGiveTheSameSums) {
  ReducerOptions tiny;
  tiny.bucket_bytes = 200;
  tiny.first_bucket_bytes = 8;
  ExpectSums(2, 2, true, tiny);
}

TEST(GradientReducer, BucketsRunInReverseOrderWithASmallFirstBucket) {
  InProcessWorld world(2);
  std::unique_ptr<Communicator> comm = world.Connect(0);
  std::vector<torch::Tensor> params;
  for (int i = 0; i < 6; ++i) params.push_back(torch::zeros({100}).requires_grad_());  // 400 B
  ReducerOptions options;
  options.first_bucket_bytes = 400;
  options.bucket_bytes = 1000;
  GradientReducer reducer(*comm, params, options);
  EXPECT_EQ(reducer.BucketLayout(), (std::vector<std::vector<int>>{{5}, {4, 3, 2}, {1, 0}}));
}

TEST(GradientReducer, WorldSizeOneLeavesGradientsAlone) {
  InProcessWorld world(1);
  std::unique_ptr<Communicator> comm = world.Connect(0);
  torch::Tensor w = torch::ones({3}).requires_grad_();
  GradientReducer reducer(*comm, {w}, {});
  EXPECT_TRUE(reducer.BucketLayout().empty());
  reducer.PrepareForReduction();
  (w * 2).sum().backward();
  const ReductionStats stats = reducer.FinishReduction();
  EXPECT_EQ(stats.exposed_seconds, 0);
  EXPECT_EQ(stats.allreduce_seconds, 0);
  EXPECT_EQ(stats.allreduce_bytes, 0);
  EXPECT_TRUE(torch::equal(w.grad(), torch::full({3}, 2.0f)));
}

TEST(BroadcastTensors, CopiesRootsValuesToEveryRank) {
  InProcessWorld world(3);
  std::vector<torch::Tensor> results(3);
  std::vector<std::thread> threads;
  for (int r = 0; r < 3; ++r) {
    threads.emplace_back([&, r] {
      std::unique_ptr<Communicator> comm = world.Connect(r);
      torch::Tensor t = torch::full({2, 3}, static_cast<float>(r + 1)).requires_grad_();
      BroadcastTensors(*comm, {t}, 1, std::chrono::seconds(10));
      results[r] = t.detach();
    });
  }
  for (auto& t : threads) t.join();
  for (int r = 0; r < 3; ++r) EXPECT_TRUE(torch::equal(results[r], torch::full({2, 3}, 2.0f)));
}

}  // namespace
}  // namespace sbmt::dist
