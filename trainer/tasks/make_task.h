// The Task that task.name selects (trainer/train/task.h).
//
//   std::unique_ptr<Task> task = MakeTask(config);   // throws ConfigError for a bad setting
#pragma once

#include <memory>

#include "trainer/config/train_config.h"
#include "trainer/train/task.h"

namespace sbmt::trainer {

std::unique_ptr<Task> MakeTask(const TrainConfig& config);

// Settings a task derives before training (GLUE: the schedule in epochs). Call once, before
// MakeTask and the Trainer, on every rank.
void AdjustConfigForTask(TrainConfig& config);

}  // namespace sbmt::trainer
