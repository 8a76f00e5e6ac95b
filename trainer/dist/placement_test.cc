#include "trainer/dist/placement.h"

#include <gtest/gtest.h>

#include <map>

#include "runtime/error.h"

namespace sbmt::dist {
namespace {

std::function<const char*(const char*)> Env(std::map<std::string, std::string> vars) {
  auto shared = std::make_shared<std::map<std::string, std::string>>(std::move(vars));
  return [shared](const char* name) -> const char* {
    auto it = shared->find(name);
    return it == shared->end() ? nullptr : it->second.c_str();
  };
}

TEST(Placement, WithoutALauncherIsRankZeroOfOneWithEveryCore) {
  const Placement p = PlacementFromEnvironment(Env({}), 16);
  EXPECT_FALSE(p.launched);
  EXPECT_EQ(p.rank, 0);
  EXPECT_EQ(p.world, 1);
  EXPECT_EQ(p.threads, 16);
  EXPECT_EQ(p.gpu(), 0);
}

TEST(Placement, ReadsOpenMpisVariablesAndSharesTheNodesCores) {
  const Placement p = PlacementFromEnvironment(Env({{"OMPI_COMM_WORLD_SIZE", "16"},
                                                    {"OMPI_COMM_WORLD_RANK", "13"},
                                                    {"OMPI_COMM_WORLD_LOCAL_SIZE", "8"},
                                                    {"OMPI_COMM_WORLD_LOCAL_RANK", "5"}}),
                                               96);
  EXPECT_TRUE(p.launched);
  EXPECT_EQ(p.rank, 13);
  EXPECT_EQ(p.world, 16);
  EXPECT_EQ(p.local_rank, 5);
  EXPECT_EQ(p.gpu(), 5);
  EXPECT_EQ(p.threads, 12);
  // More ranks than cores: still one thread each.
  EXPECT_EQ(PlacementFromEnvironment(
                Env({{"OMPI_COMM_WORLD_SIZE", "4"}, {"OMPI_COMM_WORLD_LOCAL_SIZE", "4"}}), 2)
                .threads,
            1);
}

TEST(Placement, AProcessShownOneGpuUsesItWhateverItsLocalRank) {
  const std::map<std::string, std::string> launched = {{"OMPI_COMM_WORLD_SIZE", "4"},
                                                       {"OMPI_COMM_WORLD_RANK", "3"},
                                                       {"OMPI_COMM_WORLD_LOCAL_SIZE", "4"},
                                                       {"OMPI_COMM_WORLD_LOCAL_RANK", "3"}};
  auto with = [&](const char* visible) {
    std::map<std::string, std::string> vars = launched;
    vars["CUDA_VISIBLE_DEVICES"] = visible;
    return PlacementFromEnvironment(Env(vars), 8).gpu();
  };
  EXPECT_EQ(PlacementFromEnvironment(Env(launched), 8).gpu(), 3);  // every GPU: the local rank's
  EXPECT_EQ(with("5"), 0);        // the coordinator's slot for this rank
  EXPECT_EQ(with("0,1,2,3"), 3);  // several: still the local rank's
}

TEST(Placement, MalformedVariablesAreNamed) {
  auto message = [](std::map<std::string, std::string> vars) {
    try {
      PlacementFromEnvironment(Env(std::move(vars)), 4);
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_EQ(message({{"OMPI_COMM_WORLD_SIZE", "two"}}),
            "OMPI_COMM_WORLD_SIZE: expected a non-negative integer, got 'two'");
  EXPECT_EQ(message({{"OMPI_COMM_WORLD_SIZE", "2"}, {"OMPI_COMM_WORLD_RANK", "2"}}),
            "OMPI_COMM_WORLD_RANK: expected below OMPI_COMM_WORLD_SIZE (2), got 2");
  EXPECT_EQ(message({{"OMPI_COMM_WORLD_SIZE", "2"}, {"OMPI_COMM_WORLD_LOCAL_SIZE", "3"}}),
            "OMPI_COMM_WORLD_LOCAL_SIZE: expected in [1, 2], got 3");
}

}  // namespace
}  // namespace sbmt::dist
