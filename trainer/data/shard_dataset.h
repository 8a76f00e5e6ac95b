// Sequences of several shards as one dataset, read in a deterministic global order: each epoch
// is a permutation drawn from (seed, epoch), cut into global batches; rank r of W reads the r-th
// slice of every global batch, so the sequences a step sees do not depend on the world size.
// The position (epoch, next batch) is a plain struct that checkpoints save and restore.
//
//   ShardDataset data(shard_paths, /*seed=*/17);
//   DataPosition pos;                                       // from a checkpoint, or {0, 0}
//   TokenBatch b = data.Next(pos, /*global_batch=*/64, rank, world, pad_id);  // advances pos
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "trainer/data/shard.h"

namespace sbmt::trainer {

struct DataPosition {
  int64_t epoch = 0;
  int64_t batch = 0;  // next global batch within the epoch
  bool operator==(const DataPosition& o) const { return epoch == o.epoch && batch == o.batch; }
};

// Token ids, row-major [rows, width], padded with pad_id to the longest row.
struct TokenBatch {
  int64_t rows = 0;
  int64_t width = 0;
  std::vector<int32_t> tokens;
  std::vector<int32_t> lengths;
  std::vector<int64_t> sequence_ids;  // global ids, for tests and debugging
};

// A permutation of [0, n) drawn from (seed, epoch) only, with our own generator (SplitMix64
// driving Fisher-Yates), so every standard library and every rank draws the same order.
std::vector<int64_t> EpochOrder(int64_t n, uint64_t seed, int64_t epoch);

class ShardDataset {
 public:
  // All shards must share vocab size and max_len (ShardError otherwise, naming both files).
  ShardDataset(const std::vector<std::string>& paths, uint64_t seed);

  int64_t size() const { return total_; }
  uint32_t vocab_size() const { return shards_.front().vocab_size(); }
  uint32_t max_len() const { return shards_.front().max_len(); }
  // "crc32:<hex>,<hex>,...": the shards' contents in order, whatever their paths.
  std::string ContentDigest() const;
  // Whole global batches per epoch (the remainder of each epoch is skipped).
  int64_t BatchesPerEpoch(int64_t global_batch) const { return total_ / global_batch; }

  // Throws sbmt::Error (invalid argument) when global_batch is not a positive multiple of world
  // (naming the nearest valid world sizes) or larger than the dataset.
  TokenBatch Next(DataPosition& position, int64_t global_batch, int rank, int world,
                  int32_t pad_id);

  // Positions [first, first + rows) of epoch `epoch`'s order, as wide as their longest
  // sequence: random access for readers that compute their own positions (the Trainer's
  // micro-batches, evaluation batches). Throws ShardError past the end.
  TokenBatch Read(int64_t epoch, int64_t first, int64_t rows, int32_t pad_id);

  // The epoch's order of global sequence ids (exposed for tests).
  const std::vector<int64_t>& Order(int64_t epoch);

 private:
  Shard::View Sequence(int64_t id) const;

  std::vector<Shard> shards_;
  std::vector<int64_t> starts_;  // global id of each shard's first sequence
  int64_t total_ = 0;
  uint64_t seed_;
  int64_t order_epoch_ = -1;
  std::vector<int64_t> order_;
};

}  // namespace sbmt::trainer
