// Masked-LM pretraining, on one process or data-parallel over a communicator's ranks: data from
// shards, dynamic masking, BERT with the configured attention, AdamW with linear warmup and
// decay, gradient clipping and accumulation, periodic evaluation and checkpoints. Resumes from
// the newest committed checkpoint of run.out_dir (falling back past damaged ones), and a resumed
// run continues bitwise-identically.
//
// Data parallelism (DESIGN.md section 5): rank r trains on its slice of each global batch; the
// loss is normalized by the global batch's masked-token count, and gradients are summed across
// ranks while backward runs (dist::GradientReducer), so the math does not depend on the world
// size or the number of micro-steps; only float summation order does. Rank 0 writes the
// checkpoints; every rank resumes from what rank 0 loads.
//
//   Pretrainer trainer(LoadTrainConfig("configs/tiny.yaml", {}), log);  // one process
//   Pretrainer trainer(config, log, comm.get());                        // one rank of many
//   trainer.Run();
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "trainer/config/train_config.h"
#include "trainer/dist/communicator.h"

namespace sbmt::trainer {

struct TrainResult {
  int64_t steps_done = 0;     // optimizer steps taken by this Run()
  int64_t final_step = 0;
  double last_loss = 0;       // training loss of the last step
  double last_eval_loss = -1;  // -1 without a validation shard
  std::string last_checkpoint;
  // Per step of this Run(): wall seconds, global tokens, and seconds of communication that
  // backward did not hide (benchmarks read these).
  std::vector<double> step_seconds, exposed_comm_seconds;
  std::vector<int64_t> step_tokens;
};

class Pretrainer {
 public:
  using Log = std::function<void(const std::string&)>;
  // `comm`: this rank's communicator (it must outlive the trainer); null trains on one process.
  // Throws ConfigError when the ranks' configurations differ or the world size does not divide
  // the global batch.
  Pretrainer(TrainConfig config, Log log, dist::Communicator* comm = nullptr);
  ~Pretrainer();

  // Trains until optim.total_steps, or for at most `max_steps` more steps when >= 0 (tests use
  // it to stop part-way and resume).
  TrainResult Run(int64_t max_steps = -1);

  // Writes the current weights in Hugging Face's BertForMaskedLM layout (see hf_export.h), with
  // data.vocab as vocab.txt.
  void ExportHuggingFace(const std::string& out_dir) const;

 private:
  struct State;
  std::unique_ptr<State> s_;
};

}  // namespace sbmt::trainer
