// Sequence classification as a Task: labelled sentences from a TSV in SST-2's layout (header
// "sentence<TAB>label", labels 0..L-1), tokenized with data.vocab's WordPiece as
// [CLS] tokens [SEP] (truncated to model.max_positions), and BertForSequenceClassification
// (pooled [CLS], linear classifier). Loss: mean cross-entropy over the global batch's
// examples plus the attention regularizer; metric: accuracy. The GLUE tasks build on it.
//
//   TrainConfig c = LoadTrainConfig("run.yaml", {"task.name=classification", ...});
//   ClassificationTask task(c);
//   Trainer(c, task, log).Run();
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "trainer/config/train_config.h"
#include "trainer/model/bert.h"
#include "trainer/tasks/labelled_examples.h"
#include "trainer/train/task.h"

namespace sbmt::trainer {

// Reads and tokenizes a TSV into [CLS] sentence [SEP] examples; throws ConfigError naming
// FILE:LINE for a bad header, a missing tab or a label outside [0, labels).
std::vector<EncodedPair> ReadLabelledSentences(const std::string& path,
                                               const std::string& vocab_path, int64_t labels,
                                               int64_t max_length);

class ClassificationTask : public Task {
 public:
  explicit ClassificationTask(const TrainConfig& config);

  std::string name() const override { return "classification"; }
  torch::nn::Module& model() override { return *model_; }
  int64_t train_examples() const override { return train_.size(); }
  std::unique_ptr<TaskBatch> TrainBatch(int64_t epoch, int64_t first, int64_t rows) override;
  int64_t EvalBatchCount(int64_t batch_size, int64_t max_batches) const override;
  std::unique_ptr<TaskBatch> EvalBatch(int64_t index, int64_t batch_size) override;
  TaskForward Forward(TaskBatch& batch, const attention::AttentionContext& context,
                      const GlobalBatchCounts& global) override;
  int stats_size() const override { return 1; }  // correct predictions
  Metrics MetricsOf(const std::vector<double>& stats, int64_t loss_terms) const override;
  void InitFrom(const std::string& dir, const Log& log) override;
  std::string DataIdentity() const override { return data_identity_; }

 private:
  TrainConfig config_;
  int32_t pad_id_ = 0;
  std::string data_identity_;  // CRC-32 of the training file's bytes
  LabelledExamples train_, valid_;
  std::shared_ptr<BertForSequenceClassification> model_;
};

}  // namespace sbmt::trainer
