// Internal to the Trainer: the state its source files share (trainer.cc: the step loop and
// evaluation; trainer_checkpoint.cc: checkpoints and resume).
#pragma once

#include <torch/torch.h>

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "proto/step_report.pb.h"
#include "trainer/checkpoint/checkpoint_store.h"
#include "trainer/config/train_config.h"
#include "trainer/data/shard_dataset.h"
#include "trainer/dist/communicator.h"
#include "trainer/dist/gradient_reducer.h"
#include "trainer/train/report_sinks.h"
#include "trainer/train/run_lock.h"
#include "trainer/train/task.h"
#include "trainer/train/trainer.h"

namespace sbmt::trainer {

struct Trainer::State {
  TrainConfig config;
  Task& task;
  Log log;
  bool log_all_ranks;
  std::vector<std::pair<std::string, torch::Tensor>> params;  // name order, for checkpoints
  std::vector<torch::Tensor> tensors;                         // the same tensors, in order
  std::unique_ptr<torch::optim::AdamW> optimizer;
  CheckpointStore store;
  int64_t step = 0;
  int64_t last_saved_step = -1;  // the step of the newest checkpoint this run wrote or loaded
  DataPosition position;
  int64_t skipped_steps = 0, skipped_in_a_row = 0;
  std::unique_ptr<RunLock> lock;                 // rank 0: one worker per run directory
  std::unique_ptr<dist::Communicator> own_comm;  // the world of one, without a given communicator
  dist::Communicator* comm;                      // host-side collectives: sums, settings, barriers
  dist::Communicator* tensor_comm;  // gradients and parameters: comm, or NCCL for GPU tensors
  torch::Device device{torch::kCPU};
  std::chrono::milliseconds timeout;
  std::unique_ptr<dist::GradientReducer> reducer;
  std::vector<std::function<void(const v1::StepReport&)>> step_observers;
  std::vector<std::function<void(const v1::EvalReport&)>> eval_observers;
  std::unique_ptr<MetricsJsonlWriter> jsonl;  // rank 0 only
  std::unique_ptr<StepLogFormatter> step_log;

  State(TrainConfig c, Task& t, Log l, dist::Communicator* given, bool all_ranks);

  // Logs on rank 0, or on every rank with log_all_ranks.
  void Say(const std::string& message) const {
    if (log_all_ranks || comm->rank() == 0) log(message);
  }

  template <typename T>
  void SumOverRanks(std::vector<T>& values) const {
    comm->AllReduce(dist::Buffer::Of(values.data(), static_cast<int64_t>(values.size())),
                    dist::ReduceOp::kSum)
        ->Wait(timeout);
  }

  void CheckWorldSplitsBatch() const;

  // Compares every setting across ranks (except run.threads, which may differ per node);
  // throws ConfigError naming the keys that differ.
  void CheckSameSettingsEverywhere() const;

  // One optimizer step; returns its report (checkpoint not yet written). `stop_requested` is
  // set when any rank has received a stop signal (all ranks see the same value).
  v1::StepReport Step(bool* stop_requested);
  // Evaluates on the task's evaluation batches, shared out over the ranks.
  std::optional<v1::EvalReport> Evaluate();
  // run.keep_best: copies the just-committed step to out_dir/best/ when `eval` improves on the
  // best value so far (rank 0 writes; every rank tracks the value).
  void KeepBest(const v1::EvalReport& eval);
  std::optional<double> best_value;  // of run.keep_best, read back from best/best.json on resume
  void Publish(const v1::StepReport& report);
  void Publish(const v1::EvalReport& report);

  // Checkpoints (trainer_checkpoint.cc).
  std::string Save();
  void Validate(const LoadedCheckpoint& c) const;
  std::optional<LoadedCheckpoint> LoadLatestEverywhere();
  bool Resume();
};

}  // namespace sbmt::trainer
