// Checkpoint directories: atomic commit, keep-last pruning, verification, and fallback to the
// previous committed step when the newest is truncated or has a flipped byte.
#include "trainer/checkpoint/checkpoint_store.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include "tests/util/test_files.h"

namespace sbmt::trainer {
namespace {

namespace fs = std::filesystem;

std::map<std::string, std::string> Files(int64_t step) {
  return {{"model.safetensors", std::string(1000, static_cast<char>('a' + step % 26))},
          {"state.json", "{\"step\": " + std::to_string(step) + "}"}};
}

TEST(CheckpointStore, SavesCommitsAndKeepsTheNewest) {
  CheckpointStore store(testing::FreshDir("keep"), /*keep_last=*/2);
  for (int64_t step : {100, 200, 300}) store.Save(step, Files(step));
  EXPECT_EQ(store.CommittedSteps(), (std::vector<int64_t>{300, 200}));
  EXPECT_FALSE(fs::exists(fs::path(store.root()) / "step_100"));
  const auto latest = store.LoadLatest();
  ASSERT_TRUE(latest.has_value());
  EXPECT_EQ(latest->step, 300);
  EXPECT_EQ(latest->files, Files(300));
  EXPECT_TRUE(fs::exists(fs::path(latest->dir) / "COMMITTED"));
  EXPECT_TRUE(fs::exists(fs::path(latest->dir) / "MANIFEST"));
}

void Corrupt(const fs::path& file, bool truncate) {
  std::string bytes;
  {
    std::ifstream in(file, std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  if (truncate) {
    bytes.resize(bytes.size() / 2);
  } else {
    bytes[bytes.size() / 3] ^= 0x01;  // one flipped bit
  }
  std::ofstream(file, std::ios::binary | std::ios::trunc) << bytes;
}

TEST(CheckpointStore, DamagedNewestFallsBackToPreviousWithReason) {
  for (bool truncate : {false, true}) {
    CheckpointStore store(testing::FreshDir(truncate ? "truncated" : "flipped"), 3);
    store.Save(10, Files(10));
    store.Save(20, Files(20));
    Corrupt(fs::path(store.root()) / "step_20" / "model.safetensors", truncate);
    std::vector<std::string> reports;
    const auto loaded = store.LoadLatest([&](const std::string& m) { reports.push_back(m); });
    ASSERT_TRUE(loaded.has_value());
    EXPECT_EQ(loaded->step, 10);
    EXPECT_EQ(loaded->files, Files(10));
    ASSERT_EQ(reports.size(), 1u);
    EXPECT_NE(reports[0].find("checkpoint step 20 is damaged"), std::string::npos) << reports[0];
    EXPECT_NE(reports[0].find(truncate ? "size 500 bytes, MANIFEST says 1000" : "CRC-32"),
              std::string::npos)
        << reports[0];
    // The committed step 10 was never touched by the failure.
    EXPECT_NO_THROW(store.Load(10));
  }
}

TEST(CheckpointStore, UncommittedStepsAreIgnoredAndLeftoversCleaned) {
  CheckpointStore store(testing::FreshDir("uncommitted"), 3);
  store.Save(1, Files(1));
  store.Save(2, Files(2));
  fs::remove(fs::path(store.root()) / "step_2" / "COMMITTED");  // crash before the marker
  fs::create_directories(fs::path(store.root()) / ".tmp_step_3_999");  // crash mid-write
  EXPECT_EQ(store.CommittedSteps(), (std::vector<int64_t>{1}));
  EXPECT_EQ(store.LoadLatest()->step, 1);
  store.Save(2, Files(2));  // the uncommitted attempt is replaced
  EXPECT_EQ(store.CommittedSteps(), (std::vector<int64_t>{2, 1}));
  EXPECT_FALSE(fs::exists(fs::path(store.root()) / ".tmp_step_3_999"));
  EXPECT_THROW(store.Save(2, Files(2)), CheckpointError);  // committed steps are immutable
}

TEST(CheckpointStore, RejectsBadNamesAndReportsWhenNothingVerifies) {
  CheckpointStore store(testing::FreshDir("names"), 1);
  EXPECT_THROW(store.Save(1, {{"../escape", "x"}}), CheckpointError);
  EXPECT_THROW(store.Save(1, {{"MANIFEST", "x"}}), CheckpointError);
  EXPECT_FALSE(store.LoadLatest().has_value());
  store.Save(5, Files(5));
  fs::remove(fs::path(store.root()) / "step_5" / "state.json");
  std::vector<std::string> reports;
  EXPECT_FALSE(store.LoadLatest([&](const std::string& m) { reports.push_back(m); }).has_value());
  ASSERT_EQ(reports.size(), 1u);
  EXPECT_NE(reports[0].find("state.json: listed in MANIFEST but missing"), std::string::npos);
  EXPECT_EQ(Crc32("123456789"), 0xCBF43926u);
}

// A damaged newest step is moved aside (kept, with the reason) so that training can save that
// step again: before, every restart failed with "step 20 is already committed".
TEST(CheckpointStore, DamagedStepIsMovedAsideSoTheStepCanBeSavedAgain) {
  CheckpointStore store(testing::FreshDir("quarantine"), 3);
  store.Save(10, Files(10));
  store.Save(20, Files(20));
  Corrupt(fs::path(store.root()) / "step_20" / "model.safetensors", /*truncate=*/true);
  std::vector<std::string> reports;
  ASSERT_EQ(store.LoadLatest([&](const std::string& m) { reports.push_back(m); })->step, 10);
  ASSERT_EQ(reports.size(), 1u);
  EXPECT_NE(reports[0].find("moved to " + store.root() + "/damaged/step_20-"), std::string::npos)
      << reports[0];
  EXPECT_FALSE(fs::exists(fs::path(store.root()) / "step_20"));
  std::vector<fs::path> moved;
  for (const auto& e : fs::directory_iterator(fs::path(store.root()) / "damaged")) {
    moved.push_back(e.path());
  }
  ASSERT_EQ(moved.size(), 1u);
  EXPECT_TRUE(fs::exists(moved[0] / "model.safetensors"));  // kept for inspection
  EXPECT_NE(testing::ReadFile(moved[0] / "REASON").find("size 500 bytes"), std::string::npos);
  EXPECT_NO_THROW(store.Save(20, Files(20)));
  EXPECT_EQ(store.LoadLatest()->step, 20);
}

// When nothing verifies, FindLatest names every damaged step and moves nothing: the caller
// refuses to start from scratch unless told to.
TEST(CheckpointStore, FindLatestReportsEveryDamagedStepWithoutMovingThem) {
  CheckpointStore store(testing::FreshDir("all_damaged"), 3);
  store.Save(1, Files(1));
  store.Save(2, Files(2));
  fs::remove(fs::path(store.root()) / "step_1" / "MANIFEST");
  const CheckpointStore::Latest latest = store.FindLatest([](const LoadedCheckpoint& c) {
    if (c.files.at("state.json").find("step") != std::string::npos) {
      throw CheckpointError(c.dir + "/state.json: garbage");
    }
  });
  EXPECT_FALSE(latest.loaded.has_value());
  ASSERT_EQ(latest.damaged.size(), 2u);
  EXPECT_EQ(latest.damaged[0].first, 2);
  EXPECT_NE(latest.damaged[0].second.find("state.json: garbage"), std::string::npos);
  EXPECT_EQ(latest.damaged[1].first, 1);
  EXPECT_NE(latest.damaged[1].second.find("MANIFEST: cannot read"), std::string::npos);
  EXPECT_EQ(store.CommittedSteps(), (std::vector<int64_t>{2, 1}));
}

// A save that fails on a full disk removes its temporary directory and says how much it
// needed; once space is back, the same step saves. Stale temporaries of earlier processes are
// removed on request (the trainer does it at start).
TEST(CheckpointStore, FailedSaveCleansUpAndSaysHowMuchItNeeded) {
  CheckpointStore store(testing::FreshDir("full_disk"), 3);
  const std::string free_file = testing::TempPath("free_bytes");
  testing::WriteFile(free_file, "100\n");
  setenv("SBMT_FAULT_FREE_BYTES_FILE", free_file.c_str(), 1);
  try {
    store.Save(7, Files(7));
    ADD_FAILURE() << "expected a full disk";
  } catch (const CheckpointError& e) {
    EXPECT_NE(std::string(e.what()).find("No space left on device"), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("the save needed 0.0 MB"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("free in " + store.root()), std::string::npos);
  }
  for (const auto& e : fs::directory_iterator(store.root())) {
    ADD_FAILURE() << "left behind: " << e.path();
  }
  testing::WriteFile(free_file, "1000000\n");
  EXPECT_NO_THROW(store.Save(7, Files(7)));
  unsetenv("SBMT_FAULT_FREE_BYTES_FILE");

  fs::create_directories(fs::path(store.root()) / ".tmp_step_9_12345");
  EXPECT_EQ(store.RemoveStaleTemporaries(), 1);
  EXPECT_FALSE(fs::exists(fs::path(store.root()) / ".tmp_step_9_12345"));
}

}  // namespace
}  // namespace sbmt::trainer
