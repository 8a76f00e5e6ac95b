#include "trainer/dist/in_process_communicator.h"

#include <gtest/gtest.h>

#include <thread>

#include "runtime/error.h"
#include "trainer/dist/conformance_suite.h"

namespace sbmt::dist {
namespace {

using namespace std::chrono_literals;

// Runs body(comm) on `size` threads, one per rank.
template <typename Body>
void OnEveryRank(InProcessWorld& world, Body body) {
  std::vector<std::thread> threads;
  for (int r = 0; r < world.size(); ++r) {
    threads.emplace_back([&world, &body, r] {
      std::unique_ptr<Communicator> comm = world.Connect(r);
      body(*comm);
    });
  }
  for (auto& t : threads) t.join();
}

class InProcessConformance : public ::testing::TestWithParam<int> {};

TEST_P(InProcessConformance, PassesTheSuite) {
  InProcessWorld world(GetParam());
  std::unique_ptr<testing::TestMemory> memory = testing::HostMemory();
  OnEveryRank(world, [&](Communicator& c) { testing::RunConformanceSuite(c, *memory); });
}

INSTANTIATE_TEST_SUITE_P(WorldSizes, InProcessConformance, ::testing::Values(1, 2, 3, 4));

TEST(InProcessWorld, ADroppedRankTimesOutItsPeersNamingIt) {
  InProcessWorld world(3);
  world.DropRank(2, /*from_sequence=*/1);
  OnEveryRank(world, [](Communicator& c) {
    float x = 1;
    c.AllReduce(Buffer::Of(&x, 1), ReduceOp::kSum)->Wait(5s);  // #0: everyone
    EXPECT_EQ(x, 3);
    auto work = c.AllReduce(Buffer::Of(&x, 1), ReduceOp::kSum);  // #1: rank 2 is gone
    if (c.rank() == 2) return;
    try {
      work->Wait(200ms);
      ADD_FAILURE() << "rank " << c.rank() << ": completed without rank 2";
    } catch (const CommError& e) {
      const std::string what = e.what();
      EXPECT_NE(what.find("rank " + std::to_string(c.rank()) + ": allreduce #1 (1 float32)"),
                std::string::npos)
          << what;
      EXPECT_NE(what.find("within 0.2 s"), std::string::npos) << what;
      EXPECT_NE(what.find("waiting for rank 2 to join"), std::string::npos) << what;
    }
    EXPECT_FALSE(work->IsCompleted());
  });
}

TEST(InProcessWorld, AnInjectedFailureReachesWait) {
  InProcessWorld world(2);
  world.FailOp(1, 0, "link down");
  OnEveryRank(world, [](Communicator& c) {
    double x = 1;
    auto work = c.Broadcast(Buffer::Of(&x, 1), 0);
    if (c.rank() == 1) {
      EXPECT_THROW(
          {
            try {
              work->Wait(1s);
            } catch (const CommError& e) {
              EXPECT_STREQ(e.what(), "rank 1: broadcast #0 (1 float64) failed: link down");
              throw;
            }
          },
          CommError);
    }
  });
}

TEST(InProcessWorld, MismatchedOpsFailOnEveryRank) {
  InProcessWorld world(2);
  OnEveryRank(world, [](Communicator& c) {
    float x[2] = {1, 2};
    auto work = c.rank() == 0 ? c.AllReduce(Buffer::Of(x, 2), ReduceOp::kSum)
                              : c.AllReduce(Buffer::Of(x, 1), ReduceOp::kSum);
    try {
      work->Wait(5s);
      ADD_FAILURE() << "mismatched counts accepted";
    } catch (const CommError& e) {
      EXPECT_NE(std::string(e.what()).find("but rank"), std::string::npos) << e.what();
    }
  });
}

TEST(InProcessWorld, SumsInRankOrderSoResultsAreDeterministic) {
  // 1e8 + 1 - 1e8 in float depends on the order of the additions: rank order gives 0 every time.
  for (int trial = 0; trial < 20; ++trial) {
    InProcessWorld world(3);
    OnEveryRank(world, [](Communicator& c) {
      const float values[3] = {1e8f, 1.0f, -1e8f};
      float x = values[c.rank()];
      c.AllReduce(Buffer::Of(&x, 1), ReduceOp::kSum)->Wait(5s);
      EXPECT_EQ(x, 0.0f);
    });
  }
}

TEST(InProcessWorld, RejectsBadRanks) {
  EXPECT_THROW(InProcessWorld(0), Error);
  InProcessWorld world(2);
  EXPECT_THROW(world.Connect(2), Error);
}

}  // namespace
}  // namespace sbmt::dist
