#include "trainer/train/schedule.h"

#include <algorithm>

namespace sbmt::trainer {

ScheduleValues ScheduleAt(const OptimConfig& o, int64_t s) {
  if (o.schedule == "one_cycle") {
    // torch.optim.lr_scheduler.OneCycleLR(max_lr=lr, pct_start=warmup/total, linear anneal,
    // cycle_momentum=True): step 0 runs at lr/25, step warmup-1 at lr, step total-1 at
    // lr/25/1e4; beta1 moves 0.95 -> 0.85 -> 0.95 against it.
    const double initial = o.lr / 25, final_lr = initial / 1e4;
    const double t = static_cast<double>(s);
    const double peak = static_cast<double>(o.warmup_steps) - 1;
    const double end = static_cast<double>(o.total_steps) - 1;
    if (t <= peak) {
      const double pct = peak > 0 ? t / peak : 1.0;
      return {initial + pct * (o.lr - initial), 0.95 - pct * 0.10};
    }
    const double pct = end > peak ? std::min(1.0, (t - peak) / (end - peak)) : 1.0;
    return {o.lr + pct * (final_lr - o.lr), 0.85 + pct * 0.10};
  }
  const double t = static_cast<double>(s + 1);
  if (o.warmup_steps > 0 && t <= o.warmup_steps) return {o.lr * t / o.warmup_steps, 0.9};
  const double left = static_cast<double>(o.total_steps - o.warmup_steps);
  return {o.lr * std::max(0.0, (o.total_steps - t) / std::max(1.0, left)), 0.9};
}

}  // namespace sbmt::trainer
