// Masked-LM pretraining on one process: data from shards, dynamic masking, BERT with the
// configured attention, AdamW with linear warmup and decay, gradient clipping and accumulation,
// periodic evaluation and checkpoints. Resumes from the newest committed checkpoint of
// run.out_dir (falling back past damaged ones), and a resumed run continues bitwise-identically.
//
//   Pretrainer trainer(LoadTrainConfig("configs/tiny.yaml", {}), log);
//   trainer.Run();
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "trainer/config/train_config.h"

namespace sbmt::trainer {

struct TrainResult {
  int64_t steps_done = 0;     // optimizer steps taken by this Run()
  int64_t final_step = 0;
  double last_loss = 0;       // training loss of the last step
  double last_eval_loss = -1;  // -1 without a validation shard
  std::string last_checkpoint;
};

class Pretrainer {
 public:
  using Log = std::function<void(const std::string&)>;
  Pretrainer(TrainConfig config, Log log);
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
