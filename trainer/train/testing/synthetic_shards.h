// Small shards for training tests: sequences over a 1200-token vocabulary with a learnable
// pattern (token t + 1 follows t), [CLS] ... [SEP], 14 to 31 tokens long.
#pragma once

#include <string>

namespace sbmt::testing {

constexpr int kSyntheticVocab = 1200;
constexpr int kSyntheticMaxLen = 32;

// Writes `count` sequences to `path` (a ShardWriter file); the same seed gives the same bytes.
void WriteSyntheticShard(const std::string& path, int count, unsigned seed);

}  // namespace sbmt::testing
