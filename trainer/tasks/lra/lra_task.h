// A Long Range Arena task as a Task (trainer/train/task.h): one of listops, text, retrieval,
// image, pathfinder read by lra_data.h from task.lra.data_dir, every sequence truncated and
// padded to one length (task.lra.max_length, or the reference's), and the reference's model
// (trainer/model/lra_model.h; two towers for retrieval). Loss: mean cross-entropy over the
// global batch's examples plus the attention regularizer; metric: accuracy.
//
// Model selection as the reference: with run.keep_best=accuracy (the LRA configs set it) the
// best evaluation's checkpoint is kept, and after training WriteOutputs evaluates it once on the
// test split and writes out_dir/lra_result.json (tools/lra/results_table.py reads it).
//
// A data_dir holding STANDIN.txt is a stand-in for the real source (tools/fetch_data.sh makes
// them); the task is then named lra/<name>-standin, and so are its logs and results.
#pragma once

#include <memory>
#include <string>

#include "trainer/config/train_config.h"
#include "trainer/model/lra_model.h"
#include "trainer/tasks/lra/lra_data.h"
#include "trainer/train/task.h"

namespace sbmt::trainer {

// Rows of token sequences padded to one length: what the LRA and synthetic tasks batch.
struct LraBatch : TaskBatch {
  torch::Tensor ids0, valid0, ids1, valid1;  // [B, L]; ids1/valid1 only for retrieval
  torch::Tensor labels;                      // [B] (or [B, L] per position) int64
  void To(const torch::Device& device) override {
    MoveTensors(device, {&ids0, &valid0, &ids1, &valid1, &labels});
  }
};

std::unique_ptr<LraBatch> MakeLraBatch(const std::vector<const lra::Example*>& rows,
                                       int64_t length);

class LraTask : public Task {
 public:
  explicit LraTask(const TrainConfig& config);

  // Sets what the task decides: model.vocab_size (the task's ids), and refuses a
  // model.max_positions shorter than the sequences.
  static void AdjustConfig(TrainConfig& config);

  std::string name() const override { return name_; }
  torch::nn::Module& model() override { return *model_; }
  int64_t train_examples() const override { return static_cast<int64_t>(train_.examples.size()); }
  std::unique_ptr<TaskBatch> TrainBatch(int64_t epoch, int64_t first, int64_t rows) override;
  int64_t EvalBatchCount(int64_t batch_size, int64_t max_batches) const override;
  std::unique_ptr<TaskBatch> EvalBatch(int64_t index, int64_t batch_size) override;
  TaskForward Forward(TaskBatch& batch, const attention::AttentionContext& context,
                      const GlobalBatchCounts& global) override;
  int stats_size() const override { return 1; }  // correct predictions
  Metrics MetricsOf(const std::vector<double>& stats, int64_t loss_terms) const override;
  void WriteOutputs(const std::string& dir, const Log& log) override;
  std::string DataIdentity() const override { return data_identity_; }

 private:
  TrainConfig config_;
  lra::TaskInfo info_;
  std::string name_;
  bool standin_ = false;
  int64_t length_ = 0;
  lra::Split train_, dev_, test_;
  int64_t order_epoch_ = -1;
  std::vector<int64_t> order_;
  std::string data_identity_;
  std::shared_ptr<LraModel> model_;
};

// FNV-1a of every example's ids and label: the identity of generated or folder-based data.
std::string ExamplesDigest(const std::vector<lra::Example>& examples);

}  // namespace sbmt::trainer
