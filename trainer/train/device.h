// Where and in what precision the Trainer runs (run.device, run.precision).
//
//   torch::Device device = TrainingDevice(config);   // cpu, or this rank's GPU
//   {
//     PrecisionScope scope(config);   // bf16: CUDA autocast to bfloat16 inside the scope
//     task.Forward(...);
//   }
#pragma once

#include <torch/torch.h>

#include "trainer/config/train_config.h"

namespace sbmt::trainer {

// cpu, or cuda:<local rank> (the launcher's placement: one rank per GPU of a node). Throws
// ConfigError when this build's LibTorch sees no GPU, or fewer than the node's ranks.
torch::Device TrainingDevice(const TrainConfig& config);

// run.precision bf16: matrix products and attention in bfloat16 under CUDA autocast, with the
// float32 parameters as master weights (gradients and optimizer state stay float32). fp32:
// nothing. Restores the previous autocast state when it ends.
class PrecisionScope {
 public:
  explicit PrecisionScope(const TrainConfig& config);
  ~PrecisionScope();
  PrecisionScope(const PrecisionScope&) = delete;
  PrecisionScope& operator=(const PrecisionScope&) = delete;

 private:
  bool active_ = false;
  bool was_enabled_ = false;
  c10::ScalarType was_dtype_ = c10::ScalarType::Half;
};

}  // namespace sbmt::trainer
