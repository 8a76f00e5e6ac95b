// What a Trainer trains: a Task owns its data, its model (encoder and head) and its loss, and
// names its metrics; the Trainer owns everything that does not depend on the task (micro-
// batches, accumulation, gradient reduction, clipping, schedule, evaluation cadence,
// checkpoints, resume, determinism). Masked-LM pretraining, GLUE, LRA and the synthetic task
// are Tasks; none has a training loop of its own.
//
// Batches are built from global example positions: the Trainer asks for positions
// [first, first + rows) of the epoch's example order, whatever rank or micro-step it is on, so
// the math of a step does not depend on the world size. A micro-batch's loss is its share of the
// global batch's loss (it is divided by the global batch's loss terms, which the Trainer sums
// over micro-batches and ranks first), so summing micro-batches and ranks gives the global loss.
//
//   class MyTask : public Task { ... };
//   MyTask task(config);
//   Trainer(config, task, log, comm).Run();
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <functional>
#include <initializer_list>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "attention/attention_module.h"

namespace sbmt::trainer {

// A micro-batch the task prepared. The Trainer reads only these counts; the rest is the task's.
struct TaskBatch {
  virtual ~TaskBatch() = default;
  // Moves the batch's tensors to `device` (the Trainer's, before Forward). Tasks build batches
  // on the host; each batch type lists its tensors with MoveTensors.
  virtual void To(const torch::Device& device) = 0;
  int64_t examples = 0;    // sequences (rows)
  int64_t tokens = 0;      // non-padding tokens
  int64_t loss_terms = 0;  // what the task loss averages over: masked tokens, examples, ...
};

// Moves each defined tensor to `device`.
void MoveTensors(const torch::Device& device, std::initializer_list<torch::Tensor*> tensors);

// Where a model's parameters are (the Trainer moved them to run.device): for a task's own
// passes over data outside the Trainer's steps (test sets, prediction files).
torch::Device DeviceOf(const torch::nn::Module& model);

// What the global batch of a step holds, for the loss normalization of each micro-batch.
struct GlobalBatchCounts {
  int64_t examples = 0;
  int64_t loss_terms = 0;
};

struct TaskForward {
  // This micro-batch's share of the global objective: Σ term losses / global loss terms, plus
  // the attention regularizer weighted by its share of the global examples. Backward runs on it.
  torch::Tensor loss;
  double loss_sum = 0;        // Σ term losses of this micro-batch, without the regularizer
  std::vector<double> stats;  // task-defined sums (size stats_size()), added over batches/ranks
  std::vector<attention::AttentionStats> layer_stats;  // per layer, [heads] each
};

// Sets f.loss and f.loss_sum by the rule above, the one every task follows: `term_loss_sum` is
// the micro-batch's summed term losses (undefined: no loss terms in it), `regularizer` the
// model's attention regularizer, `examples` the micro-batch's examples.
void SetObjective(TaskForward& f, const torch::Tensor& term_loss_sum,
                  const torch::Tensor& regularizer, int64_t examples,
                  const GlobalBatchCounts& global);

using Metrics = std::vector<std::pair<std::string, double>>;

class Task {
 public:
  using Log = std::function<void(const std::string&)>;
  virtual ~Task() = default;

  virtual std::string name() const = 0;
  // The whole trained model; its named_parameters() are the checkpoint's tensors, in order.
  virtual torch::nn::Module& model() = 0;

  // Training data: the number of examples, and a micro-batch of positions [first, first + rows)
  // of epoch `epoch`'s order (the task keeps the order; it must depend on the seed and epoch
  // only).
  virtual int64_t train_examples() const = 0;
  virtual std::unique_ptr<TaskBatch> TrainBatch(int64_t epoch, int64_t first, int64_t rows) = 0;

  // Evaluation data: at most `max_batches` batches of up to `batch_size` examples (0 without
  // validation data), and the i-th one. Evaluation batches are the same at every evaluation.
  virtual int64_t EvalBatchCount(int64_t batch_size, int64_t max_batches) const = 0;
  virtual std::unique_ptr<TaskBatch> EvalBatch(int64_t index, int64_t batch_size) = 0;

  // Runs the model on a micro-batch (training or evaluation, as the context's phase says).
  virtual TaskForward Forward(TaskBatch& batch, const attention::AttentionContext& context,
                              const GlobalBatchCounts& global) = 0;

  // Length of TaskForward::stats, and the named metrics of summed stats (the same for training
  // steps and evaluations), e.g. {"mlm_accuracy", correct / masked}.
  virtual int stats_size() const = 0;
  virtual Metrics MetricsOf(const std::vector<double>& stats, int64_t loss_terms) const = 0;

  // Starts the model from a Hugging Face directory (model.init_from); parameters the directory
  // lacks keep their initialization. The default refuses.
  virtual void InitFrom(const std::string& dir, const Log& log);
  // Writes the model as a Hugging Face directory (--export-hf). The default refuses.
  virtual void ExportHuggingFace(const std::string& dir) const;
  // Throws (before training) when ExportHuggingFace(dir) could not succeed, e.g. without a
  // readable vocabulary, so that a run does not train for hours and then fail to export.
  virtual void CheckCanExport(const std::string& dir) const;

  // Writes what the task produces besides checkpoints (GLUE: prediction files) under `dir`,
  // with the trained model, on rank 0 after training. The default writes nothing.
  virtual void WriteOutputs(const std::string& dir, const Log& log) {}

  // The identity of the training data by content (checksums, not paths), stored in checkpoints:
  // a resumed run must see the same data, wherever its files now live.
  virtual std::string DataIdentity() const = 0;
};

}  // namespace sbmt::trainer
