// The synthetic task of the SBM-Transformer paper (section 5.3 of ../shared/reference/
// sbm-notes.md): every sequence holds task.synthetic.length - 1 distinct random tokens of
// 1..task.synthetic.vocab, one of which appears a second time at a random position; each
// position is labelled 1 if it holds one of the two copies, else 0. Finding the pair needs every
// token to be compared with every other, so an SBM model has to raise its attention density
// toward full attention to solve it: the metrics.jsonl density curve shows whether it does.
//
// Model: trainer/model/lra_model.h with the per-position head (2 classes). Loss: mean
// cross-entropy over all positions of the global batch, plus the attention regularizer.
// Metrics: accuracy (sequences whose two highest-scoring positions are exactly the copies;
// chance is 1 / C(length, 2)) and position_accuracy.
//
// The examples are generated from a fixed seed (not run.seed), so runs with different seeds
// train on the same data, as on a dataset; the validation examples come from another stream.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "trainer/config/train_config.h"
#include "trainer/model/lra_model.h"
#include "trainer/tasks/lra/lra_data.h"
#include "trainer/train/task.h"

namespace sbmt::trainer {

// `count` examples of the synthetic task from stream `stream` (ids0: the tokens; the label is
// unused; positions: the two copies' indices, in `pairs`).
std::vector<lra::Example> MakeSyntheticExamples(const SyntheticTaskConfig& config, uint64_t stream,
                                                int64_t count,
                                                std::vector<std::pair<int32_t, int32_t>>* pairs);

class SyntheticTask : public Task {
 public:
  explicit SyntheticTask(const TrainConfig& config);

  // Sets model.vocab_size (vocab + 1 with padding) and refuses a short model.max_positions.
  static void AdjustConfig(TrainConfig& config);

  std::string name() const override { return "synthetic"; }
  torch::nn::Module& model() override { return *model_; }
  int64_t train_examples() const override { return static_cast<int64_t>(train_.size()); }
  std::unique_ptr<TaskBatch> TrainBatch(int64_t epoch, int64_t first, int64_t rows) override;
  int64_t EvalBatchCount(int64_t batch_size, int64_t max_batches) const override;
  std::unique_ptr<TaskBatch> EvalBatch(int64_t index, int64_t batch_size) override;
  TaskForward Forward(TaskBatch& batch, const attention::AttentionContext& context,
                      const GlobalBatchCounts& global) override;
  // Sequences whose pair was found, sequences, positions classified right.
  int stats_size() const override { return 3; }
  Metrics MetricsOf(const std::vector<double>& stats, int64_t loss_terms) const override;
  std::string DataIdentity() const override { return data_identity_; }

 private:
  struct Batch;
  std::unique_ptr<TaskBatch> MakeBatch(const std::vector<int64_t>& rows, bool valid_split);

  TrainConfig config_;
  std::vector<lra::Example> train_, valid_;
  std::vector<std::pair<int32_t, int32_t>> train_pairs_, valid_pairs_;
  int64_t order_epoch_ = -1;
  std::vector<int64_t> order_;
  std::string data_identity_;
  std::shared_ptr<LraModel> model_;
};

}  // namespace sbmt::trainer
