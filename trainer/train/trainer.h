// The one training loop: drives any Task (trainer/train/task.h), on one process or
// data-parallel over a communicator's ranks. Accumulates micro-batches, sums gradients across
// ranks while backward runs (dist::GradientReducer), clips, steps AdamW on a linear
// warmup-then-decay schedule, evaluates and checkpoints on cadence, and resumes from the newest
// committed checkpoint of run.out_dir (falling back past damaged ones); a resumed run continues
// bitwise-identically.
//
// Every optimizer step yields one StepReport (proto/step_report.proto) and every evaluation an
// EvalReport; rank 0 turns them into the log line and appends them to run.out_dir/
// metrics.jsonl (docs/METRICS.md), and observers added with OnStep/OnEval receive them too.
//
// Data parallelism (DESIGN.md section 5): rank r trains on its slice of each global batch; each
// micro-batch's loss is its share of the global batch's loss, so the math does not depend on the
// world size or the number of micro-steps; only float summation order does. Rank 0 writes the
// checkpoints; every rank resumes from what rank 0 loads.
//
//   MlmTask task(config);
//   Trainer trainer(config, task, log, comm.get());  // comm: null trains on one process
//   TrainResult r = trainer.Run();
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "proto/step_report.pb.h"
#include "trainer/config/train_config.h"
#include "trainer/dist/communicator.h"
#include "trainer/train/task.h"

namespace sbmt::trainer {

struct TrainResult {
  int64_t steps_done = 0;  // optimizer steps taken by this Run()
  int64_t final_step = 0;
  double last_loss = 0;        // training loss of the last step
  double last_eval_loss = -1;  // -1 without evaluation data
  std::string last_checkpoint;
  int stop_signal = 0;  // the signal that stopped the run early (after committing), or 0
  // Per step of this Run(): wall seconds, global tokens, and seconds of communication that
  // backward did not hide (benchmarks read these).
  std::vector<double> step_seconds, exposed_comm_seconds;
  std::vector<int64_t> step_tokens;
};

class Trainer {
 public:
  using Log = std::function<void(const std::string&)>;
  // `task` and `comm` (this rank's communicator; null: one process) must outlive the trainer.
  // `tensor_comm` reduces the gradients and broadcasts the parameters when they cannot go
  // through `comm` (NCCL for GPU tensors: dist::ConnectTensorWorld); null: `comm` does.
  // The model moves to run.device (device.h) here. `log` receives rank 0's lines (every rank's
  // when log_all_ranks). Throws ConfigError when the ranks' configurations differ, the world
  // size does not divide the global batch, or run.device is not available.
  Trainer(TrainConfig config, Task& task, Log log, dist::Communicator* comm = nullptr,
          bool log_all_ranks = false, dist::Communicator* tensor_comm = nullptr);
  ~Trainer();

  // Trains until optim.total_steps, or for at most `max_steps` more steps when >= 0, or until
  // a stop signal (runtime/stop_signal.h) reaches any rank. The last step is always committed.
  TrainResult Run(int64_t max_steps = -1);

  // Observers of every step's and evaluation's report, on every rank (after the log line).
  void OnStep(std::function<void(const v1::StepReport&)> observer);
  void OnEval(std::function<void(const v1::EvalReport&)> observer);

 private:
  struct State;
  std::unique_ptr<State> s_;
};

}  // namespace sbmt::trainer
