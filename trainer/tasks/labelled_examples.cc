#include "trainer/tasks/labelled_examples.h"

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <iterator>

#include "trainer/checkpoint/checkpoint_store.h"
#include "trainer/data/shard_dataset.h"

namespace sbmt::trainer {

EncodedPair EncodePair(const std::vector<int32_t>& a, const std::vector<int32_t>& b, int32_t cls_id,
                       int32_t sep_id, int64_t max_length) {
  const bool pair = !b.empty();
  const size_t room = static_cast<size_t>(std::max<int64_t>(0, max_length - (pair ? 3 : 2)));
  size_t la = a.size(), lb = b.size();
  while (la + lb > room) (la > lb ? la : lb) -= 1;  // longest first; b on ties
  EncodedPair p;
  p.ids.push_back(cls_id);
  p.ids.insert(p.ids.end(), a.begin(), a.begin() + static_cast<std::ptrdiff_t>(la));
  p.ids.push_back(sep_id);
  p.token_types.assign(p.ids.size(), 0);
  if (pair) {
    p.ids.insert(p.ids.end(), b.begin(), b.begin() + static_cast<std::ptrdiff_t>(lb));
    p.ids.push_back(sep_id);
    p.token_types.resize(p.ids.size(), 1);
  }
  return p;
}

std::unique_ptr<LabelledBatch> MakeLabelledBatch(const std::vector<const EncodedPair*>& rows,
                                                 int32_t pad_id, bool regression) {
  auto b = std::make_unique<LabelledBatch>();
  const int64_t n = static_cast<int64_t>(rows.size());
  int64_t width = 0;
  for (const EncodedPair* p : rows) width = std::max<int64_t>(width, p->ids.size());
  std::vector<int64_t> ids(n * width, pad_id), types(n * width, 0);
  std::vector<uint8_t> valid(n * width, 0);
  std::vector<float> labels;
  for (int64_t r = 0; r < n; ++r) {
    for (size_t t = 0; t < rows[r]->ids.size(); ++t) {
      ids[r * width + t] = rows[r]->ids[t];
      types[r * width + t] = rows[r]->token_types[t];
      valid[r * width + t] = 1;
    }
    labels.push_back(rows[r]->label);
    b->tokens += static_cast<int64_t>(rows[r]->ids.size());
  }
  b->examples = n;
  b->loss_terms = n;
  b->ids = torch::tensor(ids, torch::kLong).reshape({n, width});
  b->types = torch::tensor(types, torch::kLong).reshape({n, width});
  b->valid = torch::tensor(valid, torch::kUInt8).reshape({n, width}).to(torch::kBool);
  b->labels = torch::tensor(labels, torch::kFloat);
  if (!regression) b->labels = b->labels.to(torch::kLong);
  return b;
}

std::vector<const EncodedPair*> LabelledExamples::TrainRows(int64_t epoch, int64_t first,
                                                            int64_t rows) {
  if (epoch != order_epoch_) {
    order_ = EpochOrder(size(), seed_, epoch);
    order_epoch_ = epoch;
  }
  std::vector<const EncodedPair*> picked;
  for (int64_t r = 0; r < rows; ++r) picked.push_back(&examples_.at(order_.at(first + r)));
  return picked;
}

int64_t LabelledExamples::EvalBatchCount(int64_t batch_size, int64_t max_batches) const {
  if (examples_.empty()) return 0;
  return std::min(max_batches, (size() + batch_size - 1) / batch_size);
}

std::vector<const EncodedPair*> LabelledExamples::EvalRows(int64_t index,
                                                           int64_t batch_size) const {
  std::vector<const EncodedPair*> picked;
  for (int64_t i = index * batch_size; i < std::min(size(), (index + 1) * batch_size); ++i) {
    picked.push_back(&examples_[i]);
  }
  return picked;
}

std::string FileContentDigest(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  const std::string bytes{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  char buf[32];
  std::snprintf(buf, sizeof(buf), "crc32:%08x", Crc32(bytes));
  return buf;
}

}  // namespace sbmt::trainer
