// Masked-LM pretraining as a Task: sequences from token shards (trainer/data/shard_dataset.h),
// dynamic BERT masking (trainer/data/mlm_masking.h) with the special ids of data.vocab, and
// BertForMaskedLM. The loss is the masked tokens' cross-entropy over the global batch's masked
// tokens, plus the attention regularizer; the metric is mlm_accuracy.
//
//   MlmTask task(config);               // throws ConfigError / ShardError naming the file
//   Trainer(config, task, log).Run();
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "trainer/config/train_config.h"
#include "trainer/data/mlm_masking.h"
#include "trainer/data/shard_dataset.h"
#include "trainer/data/wordpiece_tokenizer.h"
#include "trainer/model/bert.h"
#include "trainer/train/task.h"

namespace sbmt::trainer {

class MlmTask : public Task {
 public:
  explicit MlmTask(const TrainConfig& config);

  std::string name() const override { return "mlm"; }
  torch::nn::Module& model() override { return *model_; }
  int64_t train_examples() const override { return train_->size(); }
  std::unique_ptr<TaskBatch> TrainBatch(int64_t epoch, int64_t first, int64_t rows) override;
  int64_t EvalBatchCount(int64_t batch_size, int64_t max_batches) const override;
  std::unique_ptr<TaskBatch> EvalBatch(int64_t index, int64_t batch_size) override;
  TaskForward Forward(TaskBatch& batch, const attention::AttentionContext& context,
                      const GlobalBatchCounts& global) override;
  int stats_size() const override { return 1; }  // correct predictions
  Metrics MetricsOf(const std::vector<double>& stats, int64_t loss_terms) const override;
  void InitFrom(const std::string& dir, const Log& log) override;
  void ExportHuggingFace(const std::string& dir) const override;
  void CheckCanExport(const std::string& dir) const override;
  std::string DataIdentity() const override { return train_->ContentDigest(); }

  const MaskingOptions& masking() const { return masking_; }

 private:
  std::unique_ptr<TaskBatch> Prepare(const TokenBatch& tokens, int64_t epoch) const;

  TrainConfig config_;
  MaskingOptions masking_;  // special ids from data.vocab; epoch set per batch
  std::unique_ptr<ShardDataset> train_, valid_;
  std::shared_ptr<BertForMaskedLM> model_;
};

}  // namespace sbmt::trainer
