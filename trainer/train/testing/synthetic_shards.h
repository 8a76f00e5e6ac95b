// Small shards for training tests: sequences over a 1200-token vocabulary with a learnable
// pattern (token t + 1 follows t), [CLS] ... [SEP], 14 to 31 tokens long.
#pragma once

#include <string>

namespace sbmt::testing {

constexpr int kSyntheticVocab = 1200;
constexpr int kSyntheticMaxLen = 32;

// Writes a vocab.txt of kSyntheticVocab tokens with bert-base-uncased's special ids ([PAD] 0,
// [UNK] 100, [CLS] 101, [SEP] 102, [MASK] 103, [unused…] up to 998), for the MLM task.
void WriteSyntheticVocab(const std::string& path);

// Writes `count` sequences to `path` (a ShardWriter file); the same seed gives the same bytes.
void WriteSyntheticShard(const std::string& path, int count, unsigned seed);

}  // namespace sbmt::testing
