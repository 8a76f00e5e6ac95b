// Binary corpus shards: tokenized sequences, memory-mapped for training.
//
// File layout (all little-endian):
//   magic "SBMTSHRD" (8 bytes) | version u32 (2) | vocab_size u32 | max_len u32 | crc u32
//   count u64 | index: (count + 1) x u64 token offsets | tokens: u16 ids
// Sequence i is tokens[index[i] .. index[i + 1]), already framed as [CLS] ... [SEP]. crc is the
// CRC-32 (zlib) of index and tokens; version 1 files (crc 0) are still read, unchecked.
//
//   ShardWriter w("train-00000.shard", 30522, 128);
//   w.Add(ids);  ...  w.Finish();           // written to a temp name, then renamed
//   Shard s = Shard::Open("train-00000.shard");   // validated, mmapped
//   std::span-like view: s.sequence(i)
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "runtime/error.h"

namespace sbmt::trainer {

SBMT_DEFINE_ERROR(ShardError, ErrorCode::kDataLoss);

class ShardWriter {
 public:
  ShardWriter(std::string path, uint32_t vocab_size, uint32_t max_len);
  // Throws ShardError if the sequence is empty, longer than max_len, or has an id >= vocab_size.
  void Add(const std::vector<int32_t>& ids);
  void Finish();  // writes path + ".tmp", fsyncs, renames to path
  int64_t count() const { return static_cast<int64_t>(offsets_.size()) - 1; }

 private:
  std::string path_;
  uint32_t vocab_size_, max_len_;
  std::vector<uint64_t> offsets_{0};
  std::vector<uint16_t> tokens_;
  bool finished_ = false;
};

class Shard {
 public:
  // Maps and validates the file; errors name the file and what is wrong (magic, version,
  // truncated index or body, decreasing offsets, sequence over max_len, checksum mismatch, a
  // token id outside the vocabulary with its sequence and position).
  static Shard Open(const std::string& path);
  Shard(Shard&& other) noexcept;
  Shard& operator=(Shard&& other) noexcept;
  Shard(const Shard&) = delete;
  ~Shard();

  struct View {
    const uint16_t* data;
    int64_t size;
  };
  int64_t count() const { return count_; }
  View sequence(int64_t i) const {
    return {tokens_ + index_[i], static_cast<int64_t>(index_[i + 1] - index_[i])};
  }
  uint32_t vocab_size() const { return vocab_size_; }
  uint32_t max_len() const { return max_len_; }
  const std::string& path() const { return path_; }
  int64_t tokens() const { return count_ == 0 ? 0 : static_cast<int64_t>(index_[count_]); }
  // CRC-32 of the contents (index and tokens): the shard's identity, whatever its path.
  uint32_t content_crc() const { return crc_; }

 private:
  Shard() = default;
  std::string path_;
  void* map_ = nullptr;
  size_t map_size_ = 0;
  uint32_t vocab_size_ = 0, max_len_ = 0, crc_ = 0;
  int64_t count_ = 0;
  const uint64_t* index_ = nullptr;
  const uint16_t* tokens_ = nullptr;
};

}  // namespace sbmt::trainer
