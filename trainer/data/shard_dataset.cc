#include "trainer/data/shard_dataset.h"

#include <algorithm>
#include <stdexcept>

namespace sbmt::trainer {
namespace {

uint64_t SplitMix64(uint64_t& state) {
  uint64_t z = (state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

std::string NearestWorldSizes(int64_t global_batch, int world) {
  int below = 0, above = 0;
  for (int w = world - 1; w >= 1 && below == 0; --w) {
    if (global_batch % w == 0) below = w;
  }
  for (int64_t w = world + 1; w <= global_batch && above == 0; ++w) {
    if (global_batch % w == 0) above = static_cast<int>(w);
  }
  std::string out;
  if (below) out += std::to_string(below);
  if (above) out += (out.empty() ? "" : " or ") + std::to_string(above);
  return out;
}

}  // namespace

ShardDataset::ShardDataset(const std::vector<std::string>& paths, uint64_t seed) : seed_(seed) {
  if (paths.empty()) throw ShardError("ShardDataset: no shard files given");
  for (const std::string& path : paths) {
    shards_.push_back(Shard::Open(path));
    const Shard& s = shards_.back();
    const Shard& first = shards_.front();
    if (s.vocab_size() != first.vocab_size() || s.max_len() != first.max_len()) {
      throw ShardError(path + ": vocab size " + std::to_string(s.vocab_size()) + " / max_len " +
                       std::to_string(s.max_len()) + " differ from " + first.path() + " (" +
                       std::to_string(first.vocab_size()) + " / " +
                       std::to_string(first.max_len()) + ")");
    }
    starts_.push_back(total_);
    total_ += s.count();
  }
}

const std::vector<int64_t>& ShardDataset::Order(int64_t epoch) {
  if (epoch != order_epoch_) {
    order_.resize(total_);
    for (int64_t i = 0; i < total_; ++i) order_[i] = i;
    // Fisher-Yates with our own generator: the same order with any standard library.
    uint64_t state = seed_ * 0x9E3779B97F4A7C15ull ^ (static_cast<uint64_t>(epoch) + 1);
    for (int64_t i = total_ - 1; i > 0; --i) {
      const int64_t j = static_cast<int64_t>(SplitMix64(state) % static_cast<uint64_t>(i + 1));
      std::swap(order_[i], order_[j]);
    }
    order_epoch_ = epoch;
  }
  return order_;
}

Shard::View ShardDataset::Sequence(int64_t id) const {
  const auto it = std::upper_bound(starts_.begin(), starts_.end(), id) - 1;
  const size_t s = static_cast<size_t>(it - starts_.begin());
  return shards_[s].sequence(id - *it);
}

TokenBatch ShardDataset::Next(DataPosition& position, int64_t global_batch, int rank, int world,
                              int32_t pad_id) {
  if (world < 1 || rank < 0 || rank >= world) {
    throw std::invalid_argument("rank " + std::to_string(rank) + " outside world size " +
                                std::to_string(world));
  }
  if (global_batch < 1 || global_batch % world != 0) {
    throw std::invalid_argument("global batch " + std::to_string(global_batch) +
                                " is not divisible by world size " + std::to_string(world) +
                                "; nearest valid world sizes: " +
                                NearestWorldSizes(global_batch, world));
  }
  if (global_batch > total_) {
    throw std::invalid_argument("global batch " + std::to_string(global_batch) +
                                " exceeds the dataset's " + std::to_string(total_) + " sequences");
  }
  if (position.batch >= BatchesPerEpoch(global_batch)) {
    ++position.epoch;
    position.batch = 0;
  }
  const std::vector<int64_t>& order = Order(position.epoch);
  const int64_t rows = global_batch / world;
  const int64_t first = position.batch * global_batch + rank * rows;
  TokenBatch batch;
  batch.rows = rows;
  for (int64_t r = 0; r < rows; ++r) {
    batch.sequence_ids.push_back(order[first + r]);
    batch.lengths.push_back(static_cast<int32_t>(Sequence(order[first + r]).size));
    batch.width = std::max<int64_t>(batch.width, batch.lengths.back());
  }
  batch.tokens.assign(rows * batch.width, pad_id);
  for (int64_t r = 0; r < rows; ++r) {
    const Shard::View v = Sequence(batch.sequence_ids[r]);
    for (int64_t t = 0; t < v.size; ++t) batch.tokens[r * batch.width + t] = v.data[t];
  }
  ++position.batch;
  return batch;
}

}  // namespace sbmt::trainer
