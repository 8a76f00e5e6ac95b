#include "trainer/train/testing/synthetic_shards.h"

#include <fstream>
#include <random>
#include <vector>

#include "trainer/data/shard.h"

using sbmt::trainer::ShardWriter;

namespace sbmt::testing {

void WriteSyntheticShard(const std::string& path, int count, unsigned seed) {
  ShardWriter w(path, kSyntheticVocab, kSyntheticMaxLen);
  std::mt19937 gen(seed);
  for (int i = 0; i < count; ++i) {
    std::vector<int32_t> ids = {101};
    int32_t t = 1000 + static_cast<int32_t>(gen() % 150);
    const int length = 12 + static_cast<int>(gen() % 18);
    for (int j = 0; j < length; ++j) ids.push_back(t + j % 40);
    ids.push_back(102);
    w.Add(ids);
  }
  w.Finish();
}

void WriteSyntheticVocab(const std::string& path) {
  std::ofstream out(path);
  for (int id = 0; id < kSyntheticVocab; ++id) {
    if (id == 0) {
      out << "[PAD]\n";
    } else if (id == 100) {
      out << "[UNK]\n";
    } else if (id == 101) {
      out << "[CLS]\n";
    } else if (id == 102) {
      out << "[SEP]\n";
    } else if (id == 103) {
      out << "[MASK]\n";
    } else if (id < 999) {
      out << "[unused" << id << "]\n";
    } else {
      out << "w" << id << "\n";
    }
  }
}

}  // namespace sbmt::testing
