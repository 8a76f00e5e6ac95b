// The learning-rate schedules of optim.schedule, as pure functions of the config and the step.
//
//   linear     linear warmup to optim.lr over warmup_steps, then linear decay to 0 at
//              total_steps (BERT's); AdamW's beta1 stays 0.9
//   one_cycle  torch.optim.lr_scheduler.OneCycleLR(max_lr=lr, pct_start=warmup/total,
//              anneal_strategy="linear", cycle_momentum=True) as the LRA reference runs it:
//              step 0 at lr/25, step warmup-1 at lr, step total-1 at lr/25/1e4, with beta1
//              moving 0.95 -> 0.85 -> 0.95 against the rate
//
//   ScheduleValues v = ScheduleAt(config.optim, step);  // step: the one being taken, from 0
#pragma once

#include <cstdint>

#include "trainer/config/train_config.h"

namespace sbmt::trainer {

struct ScheduleValues {
  double lr;
  double beta1;
};

ScheduleValues ScheduleAt(const OptimConfig& optim, int64_t step);

}  // namespace sbmt::trainer
