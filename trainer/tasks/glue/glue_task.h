// Fine-tuning on a GLUE task as a Task: the task's official files (glue_data.h), sentence pairs
// encoded as [CLS] a [SEP] b [SEP] with token type ids 0 and 1 and BERT's longest-first
// truncation, BertForSequenceClassification with a classifier (or a one-output regressor for
// STS-B), cross-entropy (or mean squared error) over the global batch's examples.
//
// Metrics are computed from statistics summed over ranks, so they are exact at any world size:
// accuracy, F1 and MCC of class "1" from confusion counts, Pearson from sums of products.
// Spearman needs every prediction's rank and is left to glue_eval on a predictions file.
//
// With task.glue.epochs > 0 (default 5, as the SBM paper fine-tunes) the schedule is counted
// in epochs: AdjustConfig sets optim.total_steps and evaluates and checkpoints every epoch.
//
// Real labelled text laid out as a GLUE task stands in for it where GLUE cannot be fetched
// (tools/fetch_data.sh writes data/glue_standin/); its folder's STANDIN.txt says what it is, and
// the task's name, log and prediction folders carry that.
//
//   GlueTask::AdjustConfig(config);   // before the Trainer sees the config
//   GlueTask task(config);
//   Trainer(config, task, log).Run();
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "trainer/config/train_config.h"
#include "trainer/model/bert.h"
#include "trainer/tasks/glue/glue_data.h"
#include "trainer/tasks/labelled_examples.h"
#include "trainer/train/task.h"

namespace sbmt::trainer {

class GlueTask : public Task {
 public:
  explicit GlueTask(const TrainConfig& config);

  // Counts the schedule in epochs (task.glue.epochs > 0): total steps, evaluation and
  // checkpoint cadence. Throws ConfigError for an unknown task or unreadable training file.
  static void AdjustConfig(TrainConfig& config);

  // "glue/sst2"; "glue/sst2-standin" when the task's folder holds a stand-in (STANDIN.txt).
  std::string name() const override {
    return "glue/" + spec_.name + (standin_.empty() ? "" : "-standin");
  }
  torch::nn::Module& model() override { return *model_; }
  int64_t train_examples() const override { return train_.size(); }
  std::unique_ptr<TaskBatch> TrainBatch(int64_t epoch, int64_t first, int64_t rows) override;
  int64_t EvalBatchCount(int64_t batch_size, int64_t max_batches) const override;
  std::unique_ptr<TaskBatch> EvalBatch(int64_t index, int64_t batch_size) override;
  TaskForward Forward(TaskBatch& batch, const attention::AttentionContext& context,
                      const GlobalBatchCounts& global) override;
  // Classification: correct, tp, fp, fn, tn (class "1" positive); regression: Σp, Σy, Σp²,
  // Σy², Σpy.
  int stats_size() const override { return 5; }
  Metrics MetricsOf(const std::vector<double>& stats, int64_t loss_terms) const override;
  void InitFrom(const std::string& dir, const Log& log) override;
  // A BertForSequenceClassification directory with the task's labels (id2label), which
  // sbmt_predict classify and transformers load; after training it holds the best epoch.
  void ExportHuggingFace(const std::string& dir) const override;
  void CheckCanExport(const std::string& dir) const override;
  std::string DataIdentity() const override { return data_identity_; }
  // Predictions of every dev and test split in GLUE's submission format, under dir/predictions/:
  // <split>/<Submission>.tsv (index<TAB>prediction, labels as GLUE spells them; the test files
  // are what the leaderboard takes), and for labelled splits <Submission>.labels.tsv, so that
  // glue_eval --predictions=... --labels=... scores them.
  void WriteOutputs(const std::string& dir, const Log& log) override;

  const glue::GlueTaskSpec& spec() const { return spec_; }
  // What the stand-in data really is (the first line of STANDIN.txt); empty for GLUE's own files.
  const std::string& standin() const { return standin_; }

 private:
  TrainConfig config_;
  const glue::GlueTaskSpec& spec_;
  int32_t pad_id_ = 0;
  LabelledExamples train_, dev_;
  std::string data_identity_;
  std::string standin_;
  std::shared_ptr<BertForSequenceClassification> model_;
};

}  // namespace sbmt::trainer
