#include "trainer/tasks/synthetic/synthetic_task.h"

#include <algorithm>
#include <numeric>

#include "runtime/hash.h"
#include "trainer/data/shard_dataset.h"
#include "trainer/tasks/lra/lra_task.h"

namespace sbmt::trainer {
namespace {

constexpr uint64_t kDataSeed = 0x5e17e71cULL;  // the task's data, whatever run.seed is

// A SplitMix64 stream (runtime/hash.h): the same draws on every platform. The modulo's bias is
// below 2^-40 for these ranges.
struct Stream {
  uint64_t state;
  int64_t Below(int64_t n) {
    return static_cast<int64_t>(runtime::SplitMix64Next(state) % static_cast<uint64_t>(n));
  }
};

}  // namespace

std::vector<lra::Example> MakeSyntheticExamples(const SyntheticTaskConfig& c, uint64_t stream,
                                                int64_t count,
                                                std::vector<std::pair<int32_t, int32_t>>* pairs) {
  Stream rng{runtime::Mix64(kDataSeed ^ runtime::Mix64(stream))};
  std::vector<int32_t> vocab(c.vocab);
  std::iota(vocab.begin(), vocab.end(), 1);
  std::vector<lra::Example> out(count);
  pairs->resize(count);
  const int64_t distinct = c.length - 1;
  for (int64_t e = 0; e < count; ++e) {
    // length - 1 distinct tokens (a partial Fisher-Yates), then one of them again at a random
    // position.
    for (int64_t i = 0; i < distinct; ++i) std::swap(vocab[i], vocab[i + rng.Below(c.vocab - i)]);
    std::vector<int32_t>& ids = out[e].ids0;
    ids.assign(vocab.begin(), vocab.begin() + distinct);
    const int64_t copied = rng.Below(distinct);
    const int64_t at = rng.Below(c.length);  // where the copy goes (before position `at`)
    ids.insert(ids.begin() + at, ids[copied]);
    const int32_t original = static_cast<int32_t>(copied < at ? copied : copied + 1);
    (*pairs)[e] = {std::min<int32_t>(original, static_cast<int32_t>(at)),
                   std::max<int32_t>(original, static_cast<int32_t>(at))};
  }
  return out;
}

void SyntheticTask::AdjustConfig(TrainConfig& c) {
  c.model.vocab_size = c.task.synthetic.vocab + 1;
  if (c.model.max_positions < c.task.synthetic.length) {
    throw ConfigError("model.max_positions (" + std::to_string(c.model.max_positions) +
                      ") is shorter than task.synthetic.length (" +
                      std::to_string(c.task.synthetic.length) + ")");
  }
}

SyntheticTask::SyntheticTask(const TrainConfig& config) : config_(config) {
  AdjustConfig(config_);
  const SyntheticTaskConfig& s = config_.task.synthetic;
  train_ = MakeSyntheticExamples(s, 1, s.train_examples, &train_pairs_);
  valid_ = MakeSyntheticExamples(s, 2, s.valid_examples, &valid_pairs_);
  data_identity_ = "synthetic:" + ExamplesDigest(train_);
  model_ = std::make_shared<LraModel>(config_.model, 2, LraHead::kPerPosition, config_.run.seed);
}

struct SyntheticTask::Batch : TaskBatch {
  torch::Tensor ids, valid, labels;  // [B, L]
  torch::Tensor pairs;               // [B, 2] the copies' positions
  void To(const torch::Device& device) override {
    MoveTensors(device, {&ids, &valid, &labels, &pairs});
  }
};

std::unique_ptr<TaskBatch> SyntheticTask::MakeBatch(const std::vector<int64_t>& rows,
                                                    bool valid_split) {
  const std::vector<lra::Example>& examples = valid_split ? valid_ : train_;
  const auto& pairs = valid_split ? valid_pairs_ : train_pairs_;
  const int64_t n = static_cast<int64_t>(rows.size()), length = config_.task.synthetic.length;
  std::vector<int64_t> ids(n * length), labels(n * length, 0), where(2 * n);
  for (int64_t r = 0; r < n; ++r) {
    const lra::Example& e = examples.at(rows[r]);
    std::copy(e.ids0.begin(), e.ids0.end(), ids.begin() + r * length);
    const auto [a, b] = pairs.at(rows[r]);
    labels[r * length + a] = labels[r * length + b] = 1;
    where[2 * r] = a;
    where[2 * r + 1] = b;
  }
  auto batch = std::make_unique<Batch>();
  batch->examples = n;
  batch->tokens = n * length;
  batch->loss_terms = n * length;
  batch->ids = torch::tensor(ids, torch::kLong).reshape({n, length});
  batch->valid = torch::ones({n, length}, torch::kBool);
  batch->labels = torch::tensor(labels, torch::kLong).reshape({n, length});
  batch->pairs = torch::tensor(where, torch::kLong).reshape({n, 2});
  return batch;
}

std::unique_ptr<TaskBatch> SyntheticTask::TrainBatch(int64_t epoch, int64_t first, int64_t rows) {
  if (epoch != order_epoch_) {
    order_ = EpochOrder(train_examples(), config_.run.seed, epoch);
    order_epoch_ = epoch;
  }
  return MakeBatch(std::vector<int64_t>(order_.begin() + first, order_.begin() + first + rows),
                   false);
}

int64_t SyntheticTask::EvalBatchCount(int64_t batch_size, int64_t max_batches) const {
  const int64_t n = static_cast<int64_t>(valid_.size());
  return std::min(max_batches, (n + batch_size - 1) / batch_size);
}

std::unique_ptr<TaskBatch> SyntheticTask::EvalBatch(int64_t index, int64_t batch_size) {
  std::vector<int64_t> rows;
  const int64_t n = static_cast<int64_t>(valid_.size());
  for (int64_t i = index * batch_size; i < std::min(n, (index + 1) * batch_size); ++i) {
    rows.push_back(i);
  }
  return MakeBatch(rows, true);
}

TaskForward SyntheticTask::Forward(TaskBatch& batch, const attention::AttentionContext& context,
                                   const GlobalBatchCounts& global) {
  auto& b = static_cast<Batch&>(batch);
  ClassifierOutput out = model_->forward(b.ids, b.valid, {}, {}, context);  // [B, L, 2]
  torch::Tensor ce = torch::cross_entropy_loss(out.logits.reshape({-1, 2}), b.labels.reshape(-1),
                                               {}, at::Reduction::Sum);
  TaskForward f;
  SetObjective(f, ce, out.regularizer, b.examples, global);
  // A sequence is solved when its two most "copy"-like positions are exactly the pair.
  const torch::Tensor score = out.logits.select(2, 1) - out.logits.select(2, 0);
  const torch::Tensor top = std::get<0>(std::get<1>(score.topk(2, 1)).sort(1));
  const double solved = (top == b.pairs).all(1).sum().item<double>();
  const double positions = (out.logits.argmax(2) == b.labels).sum().item<double>();
  f.stats = {solved, static_cast<double>(b.examples), positions};
  f.layer_stats = std::move(out.layer_stats);
  return f;
}

Metrics SyntheticTask::MetricsOf(const std::vector<double>& stats, int64_t loss_terms) const {
  return {{"accuracy", stats[1] > 0 ? stats[0] / stats[1] : 0.0},
          {"position_accuracy", loss_terms > 0 ? stats[2] / static_cast<double>(loss_terms) : 0.0}};
}

}  // namespace sbmt::trainer
