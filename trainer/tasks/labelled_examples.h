// Labelled token sequences (single sentences or sentence pairs) and their batches: what the
// classification and GLUE tasks share. Examples are encoded once; training takes positions of
// a seeded per-epoch order (any world size reads the same examples), evaluation takes the
// examples in file order, the last batch short.
//
//   LabelledExamples train(std::move(encoded), seed);
//   auto batch = MakeLabelledBatch(train.TrainRows(epoch, first, rows), pad_id, regression);
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "trainer/train/task.h"

namespace sbmt::trainer {

struct EncodedPair {
  std::vector<int32_t> ids, token_types;
  float label = 0;  // class index, or the score for regression
  std::string index;
};

// [CLS] a [SEP] (b [SEP]), truncated longest-first to max_length tokens (Hugging Face's
// "longest_first": one token at a time from the longer side, from b on ties).
EncodedPair EncodePair(const std::vector<int32_t>& a, const std::vector<int32_t>& b, int32_t cls_id,
                       int32_t sep_id, int64_t max_length);

// A micro-batch: ids, token types, valid mask [B, L] and labels [B] (int64 classes or float
// scores); one loss term per example.
struct LabelledBatch : TaskBatch {
  torch::Tensor ids, types, valid, labels;
  void To(const torch::Device& device) override {
    MoveTensors(device, {&ids, &types, &valid, &labels});
  }
};

std::unique_ptr<LabelledBatch> MakeLabelledBatch(const std::vector<const EncodedPair*>& rows,
                                                 int32_t pad_id, bool regression);

class LabelledExamples {
 public:
  LabelledExamples() = default;
  LabelledExamples(std::vector<EncodedPair> examples, uint64_t seed)
      : examples_(std::move(examples)), seed_(seed) {}

  int64_t size() const { return static_cast<int64_t>(examples_.size()); }
  // Positions [first, first + rows) of epoch `epoch`'s order.
  std::vector<const EncodedPair*> TrainRows(int64_t epoch, int64_t first, int64_t rows);
  // Batches of `batch_size` in file order (the last may be short), at most `max_batches`.
  int64_t EvalBatchCount(int64_t batch_size, int64_t max_batches) const;
  std::vector<const EncodedPair*> EvalRows(int64_t index, int64_t batch_size) const;

 private:
  std::vector<EncodedPair> examples_;
  uint64_t seed_ = 0;
  int64_t order_epoch_ = -1;
  std::vector<int64_t> order_;
};

// "crc32:<hex>" of a file's bytes: a data identity for checkpoints (Task::DataIdentity).
std::string FileContentDigest(const std::string& path);

}  // namespace sbmt::trainer
