// Dynamic masked-LM masking (BERT): each maskable token is chosen with probability p; a chosen
// token becomes [MASK] 80 % of the time, a random token 10 %, and stays 10 %. [CLS], [SEP] and
// padding are never chosen. Draws are keyed by (seed, epoch, global sequence id), so a sequence
// is masked the same way whatever the world size or the rank that reads it.
//
//   MaskedBatch m = MaskTokens(batch, {seed, epoch, 0.15, vocab, cls, sep, pad, mask});
#pragma once

#include <cstdint>
#include <vector>

#include "trainer/data/shard_dataset.h"

namespace sbmt::trainer {

struct MaskingOptions {
  uint64_t seed = 0;
  int64_t epoch = 0;
  double probability = 0.15;
  int32_t vocab_size = 30522;
  int32_t cls_id = 101, sep_id = 102, pad_id = 0, mask_id = 103;
  int32_t first_random_id = 999;  // random replacements avoid special and unused tokens
};

struct MaskedBatch {
  std::vector<int32_t> inputs;      // [rows, width], with masking applied
  std::vector<int64_t> positions;   // flat indices (row * width + column) of chosen tokens
  std::vector<int32_t> labels;      // original ids at those positions
};

MaskedBatch MaskTokens(const TokenBatch& batch, const MaskingOptions& options);

}  // namespace sbmt::trainer
