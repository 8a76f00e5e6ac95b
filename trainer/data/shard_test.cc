// Shards: round trip, validation of damaged files, and the dataset's deterministic order,
// rank slicing and resumable position.
#include "trainer/data/shard.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <set>

#include "runtime/error.h"
#include "tests/util/test_files.h"
#include "trainer/data/shard_dataset.h"

namespace sbmt::trainer {
namespace {

// Shard with `count` sequences; sequence i is [101, 1000 + start + i (x (i % 5 + 1)), 102].
std::string MakeShard(const std::string& name, int count, int start) {
  const std::string path = testing::TempPath(name);
  ShardWriter w(path, 30522, 16);
  for (int i = 0; i < count; ++i) {
    std::vector<int32_t> ids = {101};
    for (int t = 0; t < i % 5 + 1; ++t) ids.push_back(1000 + start + i);
    ids.push_back(102);
    w.Add(ids);
  }
  w.Finish();
  return path;
}

TEST(Shard, RoundTripsSequences) {
  const Shard s = Shard::Open(MakeShard("a.shard", 7, 0));
  EXPECT_EQ(s.count(), 7);
  EXPECT_EQ(s.vocab_size(), 30522u);
  EXPECT_EQ(s.max_len(), 16u);
  const Shard::View v = s.sequence(3);
  ASSERT_EQ(v.size, 6);
  EXPECT_EQ(v.data[0], 101);
  EXPECT_EQ(v.data[1], 1003);
  EXPECT_EQ(v.data[5], 102);
}

void ExpectOpenError(const std::string& path, const std::string& needle) {
  try {
    Shard::Open(path);
    ADD_FAILURE() << "expected an error mentioning " << needle;
  } catch (const ShardError& e) {
    EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
  }
}

TEST(Shard, RejectsWrongMagicAndTruncation) {
  const std::string path = MakeShard("b.shard", 5, 0);
  std::string bytes;
  {
    std::ifstream in(path, std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  const std::string bad = testing::TempPath("bad.shard");
  std::ofstream(bad, std::ios::binary | std::ios::trunc) << bytes.substr(0, bytes.size() - 2);
  ExpectOpenError(bad, "truncated body");
  std::ofstream(bad, std::ios::binary | std::ios::trunc) << bytes.substr(0, 40);
  ExpectOpenError(bad, "truncated index");
  std::string wrong = bytes;
  wrong[0] = 'X';
  std::ofstream(bad, std::ios::binary | std::ios::trunc) << wrong;
  ExpectOpenError(bad, "bad magic");
  ShardWriter w(testing::TempPath("c.shard"), 100, 4);
  EXPECT_THROW(w.Add({1, 2, 3, 4, 5}), ShardError);
  EXPECT_THROW(w.Add({1, 100}), ShardError);
}

// A flipped token fails the checksum when the shard opens; an id outside the vocabulary (in a
// version 1 shard, which has no checksum) is named with its sequence and position. Before,
// both reached the model as "index out of range in self" with a C++ backtrace.
TEST(Shard, ChecksumAndTokenIdsAreVerifiedWhenOpened) {
  const std::string path = MakeShard("crc.shard", 5, 0);
  const std::string bytes = testing::ReadFile(path);
  const Shard good = Shard::Open(path);
  EXPECT_NE(good.content_crc(), 0u);
  std::string flipped = bytes;
  flipped[flipped.size() - 3] ^= 0x01;  // a token of the last sequence
  const std::string bad = testing::TempPath("crc_bad.shard");
  testing::WriteFile(bad, flipped);
  ExpectOpenError(bad, "checksum mismatch");
  // The same shard as version 1 (no checksum): still readable, same contents.
  std::string v1 = bytes;
  v1[8] = 1;
  for (int i = 20; i < 24; ++i) v1[i] = 0;
  testing::WriteFile(bad, v1);
  EXPECT_EQ(Shard::Open(bad).content_crc(), good.content_crc());
  // An id past the vocabulary of 30522 in sequence 4 (tokens 101, 1004 x5, 102), position 2.
  const size_t token = v1.size() - 2 * 5;
  v1[token] = static_cast<char>(0xff);
  v1[token + 1] = static_cast<char>(0xff);
  testing::WriteFile(bad, v1);
  ExpectOpenError(bad, "sequence 4, position 2: token id 65535 outside the shard's vocabulary");
}

TEST(ShardDataset, DeterministicOrderCoversEveryEpochAndDependsOnSeed) {
  const std::vector<std::string> paths = {MakeShard("d0.shard", 10, 0), MakeShard("d1.shard", 13, 100)};
  ShardDataset a(paths, 1), b(paths, 1), c(paths, 2);
  EXPECT_EQ(a.size(), 23);
  const std::vector<int64_t> e0 = a.Order(0);
  EXPECT_EQ(e0, b.Order(0));
  EXPECT_NE(e0, a.Order(1));
  EXPECT_NE(e0, c.Order(0));
  EXPECT_EQ(std::set<int64_t>(e0.begin(), e0.end()).size(), 23u);
}

// Two ranks reading their slices see exactly what one process reads with the same global batch.
TEST(ShardDataset, RankSlicesPartitionTheGlobalBatch) {
  const std::vector<std::string> paths = {MakeShard("e0.shard", 10, 0), MakeShard("e1.shard", 13, 100)};
  ShardDataset one(paths, 5), r0(paths, 5), r1(paths, 5);
  DataPosition p, p0, p1;
  for (int step = 0; step < 7; ++step) {  // 23 / 6 = 3 batches per epoch: crosses 2 epochs
    const TokenBatch whole = one.Next(p, 6, 0, 1, 0);
    const TokenBatch a = r0.Next(p0, 6, 0, 2, 0);
    const TokenBatch b = r1.Next(p1, 6, 1, 2, 0);
    std::vector<int64_t> both = a.sequence_ids;
    both.insert(both.end(), b.sequence_ids.begin(), b.sequence_ids.end());
    EXPECT_EQ(both, whole.sequence_ids) << "step " << step;
    EXPECT_EQ(a.rows, 3);
  }
  EXPECT_EQ(p, (DataPosition{2, 1}));
  EXPECT_EQ(p0, p);
  // Padding to the longest row.
  const TokenBatch t = one.Next(p, 6, 0, 1, 0);
  for (int64_t r = 0; r < t.rows; ++r) {
    for (int64_t c = t.lengths[r]; c < t.width; ++c) EXPECT_EQ(t.tokens[r * t.width + c], 0);
  }
}

TEST(ShardDataset, ResumingFromAPositionContinuesIdentically) {
  const std::vector<std::string> paths = {MakeShard("f.shard", 20, 0)};
  ShardDataset run(paths, 9), resumed(paths, 9);
  DataPosition p;
  for (int i = 0; i < 5; ++i) run.Next(p, 4, 0, 1, 0);
  DataPosition saved = p;
  const TokenBatch next = run.Next(p, 4, 0, 1, 0);
  EXPECT_EQ(resumed.Next(saved, 4, 0, 1, 0).sequence_ids, next.sequence_ids);
}

TEST(ShardDataset, BadWorldSizeNamesNearestValidSizes) {
  ShardDataset data({MakeShard("g.shard", 40, 0)}, 1);
  DataPosition p;
  try {
    data.Next(p, 32, 0, 3, 0);
    ADD_FAILURE() << "expected an error";
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(),
                 "global batch 32 is not divisible by world size 3; nearest valid world sizes: 2 or 4");
  }
  EXPECT_THROW(data.Next(p, 64, 0, 1, 0), Error);
}

}  // namespace
}  // namespace sbmt::trainer
