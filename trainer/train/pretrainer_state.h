// Internal to the pretrainer: the state its two source files share (pretrainer.cc: the
// training step and evaluation; pretrainer_checkpoint.cc: checkpoints and initialization).
#pragma once

#include <torch/torch.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "trainer/checkpoint/checkpoint_store.h"
#include "trainer/config/train_config.h"
#include "trainer/data/mlm_masking.h"
#include "trainer/data/shard_dataset.h"
#include "trainer/dist/communicator.h"
#include "trainer/dist/gradient_reducer.h"
#include "trainer/dist/in_process_communicator.h"
#include "trainer/model/bert.h"
#include "trainer/train/pretrainer.h"

namespace sbmt::trainer {

// printf-style formatting of a log line.
std::string LogFormat(const char* fmt, ...) __attribute__((format(printf, 1, 2)));

struct Pretrainer::State {
  TrainConfig config;
  Log log;
  std::unique_ptr<ShardDataset> train, valid;
  std::shared_ptr<BertForMaskedLM> model;
  std::unique_ptr<torch::optim::AdamW> optimizer;
  std::vector<std::pair<std::string, torch::Tensor>> params;  // name order, for checkpoints
  // The parameter tensors of `params`, in the same order (reducer, broadcasts).
  std::vector<torch::Tensor> ParamTensors() const {
    std::vector<torch::Tensor> tensors;
    for (const auto& [name, p] : params) tensors.push_back(p);
    return tensors;
  }
  CheckpointStore store;
  int64_t step = 0;
  DataPosition position;
  std::unique_ptr<dist::Communicator> own_comm;  // the world of one, without a given communicator
  dist::Communicator* comm;
  std::chrono::milliseconds timeout;
  std::unique_ptr<dist::GradientReducer> reducer;

  State(TrainConfig c, Log l, dist::Communicator* given)
      : config(std::move(c)),
        log(std::move(l)),
        store((std::filesystem::path(config.run.out_dir) / "checkpoints").string(),
              static_cast<int>(config.run.keep_checkpoints)),
        own_comm(given ? nullptr : dist::InProcessWorld::Single()),
        comm(given ? given : own_comm.get()),
        timeout(std::chrono::seconds(config.dist.timeout_s)) {}

  void Say(const std::string& message) const {  // logs on rank 0 only
    if (comm->rank() == 0) log(message);
  }

  // Sums `values` over the ranks, in place.
  template <typename T>
  void SumOverRanks(std::vector<T>& values) const {
    comm->AllReduce(dist::Buffer::Of(values.data(), static_cast<int64_t>(values.size())),
                    dist::ReduceOp::kSum)
        ->Wait(timeout);
  }

  // Every rank must run the same configuration: compares digests at start.
  void CheckSameConfigEverywhere() const;

  double LearningRate(int64_t s) const {  // s: the step being taken, from 0
    const OptimConfig& o = config.optim;
    const double t = static_cast<double>(s + 1);
    if (o.warmup_steps > 0 && t <= o.warmup_steps) return o.lr * t / o.warmup_steps;
    const double left = static_cast<double>(o.total_steps - o.warmup_steps);
    return o.lr * std::max(0.0, (o.total_steps - t) / std::max(1.0, left));
  }

  // A micro-batch, masked: the model's inputs and the MLM targets.
  struct Prepared {
    MaskedBatch masked;
    torch::Tensor ids, valid;
    int64_t rows = 0, tokens = 0;
  };
  Prepared Prepare(const TokenBatch& b, int64_t epoch, int64_t row0, int64_t rows) const;

  // Runs the model on a prepared micro-batch. `loss` is its share of the step's loss: the sum of
  // its masked tokens' cross-entropy over the global batch's masked-token count, plus the
  // regularizer weighted by its share of the global batch's rows; summed over micro-batches and
  // ranks, that is the loss of the global batch whatever the split.
  struct Forward {
    torch::Tensor loss;
    double mlm_loss_sum = 0;
    int64_t correct = 0;
    double density = 0;
  };
  Forward Run(const Prepared& p, int64_t global_masked, int64_t global_rows);

  // Loss and MLM accuracy on the first eval_batches validation batches; the batches are shared
  // out over the ranks and the sums combined.
  std::pair<double, double> Evaluate();

  // Checkpoints (pretrainer_checkpoint.cc).
  std::string Save();
  void InitFrom(const std::string& dir);
  std::optional<LoadedCheckpoint> LoadLatestEverywhere();
  bool Resume();
};

}  // namespace sbmt::trainer
