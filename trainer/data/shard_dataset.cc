#include "trainer/data/shard_dataset.h"

#include <algorithm>
#include <cstdio>
#include <stdexcept>

#include "runtime/error.h"
#include "runtime/hash.h"

namespace sbmt::trainer {
namespace {

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

std::vector<int64_t> EpochOrder(int64_t n, uint64_t seed, int64_t epoch) {
  std::vector<int64_t> order(n);
  for (int64_t i = 0; i < n; ++i) order[i] = i;
  uint64_t state = seed * runtime::kGoldenGamma ^ (static_cast<uint64_t>(epoch) + 1);
  for (int64_t i = n - 1; i > 0; --i) {
    const int64_t j =
        static_cast<int64_t>(runtime::SplitMix64Next(state) % static_cast<uint64_t>(i + 1));
    std::swap(order[i], order[j]);
  }
  return order;
}

const std::vector<int64_t>& ShardDataset::Order(int64_t epoch) {
  if (epoch != order_epoch_) {
    order_ = EpochOrder(total_, seed_, epoch);
    order_epoch_ = epoch;
  }
  return order_;
}

std::string ShardDataset::ContentDigest() const {
  std::string out = "crc32:";
  char buf[16];
  for (size_t i = 0; i < shards_.size(); ++i) {
    std::snprintf(buf, sizeof(buf), "%s%08x", i ? "," : "", shards_[i].content_crc());
    out += buf;
  }
  return out;
}

Shard::View ShardDataset::Sequence(int64_t id) const {
  const auto it = std::upper_bound(starts_.begin(), starts_.end(), id) - 1;
  const size_t s = static_cast<size_t>(it - starts_.begin());
  return shards_[s].sequence(id - *it);
}

TokenBatch ShardDataset::Next(DataPosition& position, int64_t global_batch, int rank, int world,
                              int32_t pad_id) {
  if (world < 1 || rank < 0 || rank >= world) {
    throw Error(ErrorCode::kInvalidArgument,
                "rank " + std::to_string(rank) + " outside world size " + std::to_string(world));
  }
  if (global_batch < 1 || global_batch % world != 0) {
    throw Error(ErrorCode::kInvalidArgument,
                "global batch " + std::to_string(global_batch) +
                    " is not divisible by world size " + std::to_string(world) +
                    "; nearest valid world sizes: " + NearestWorldSizes(global_batch, world));
  }
  if (global_batch > total_) {
    throw Error(ErrorCode::kInvalidArgument, "global batch " + std::to_string(global_batch) +
                                                 " exceeds the dataset's " +
                                                 std::to_string(total_) + " sequences");
  }
  if (position.batch >= BatchesPerEpoch(global_batch)) {
    ++position.epoch;
    position.batch = 0;
  }
  const int64_t rows = global_batch / world;
  TokenBatch batch =
      Read(position.epoch, position.batch * global_batch + rank * rows, rows, pad_id);
  ++position.batch;
  return batch;
}

TokenBatch ShardDataset::Read(int64_t epoch, int64_t first, int64_t rows, int32_t pad_id) {
  if (first < 0 || rows < 0 || first + rows > total_) {
    throw ShardError(ErrorCode::kInvalidArgument,
                     "positions [" + std::to_string(first) + ", " + std::to_string(first + rows) +
                         ") are outside the dataset's " + std::to_string(total_) + " sequences");
  }
  const std::vector<int64_t>& order = Order(epoch);
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
  return batch;
}

}  // namespace sbmt::trainer
