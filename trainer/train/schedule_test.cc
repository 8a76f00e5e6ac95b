// Both schedules at the steps that define them, beta1 included.
#include "trainer/train/schedule.h"

#include <gtest/gtest.h>

namespace sbmt::trainer {
namespace {

TEST(Schedule, LinearWarmsUpThenDecaysToZero) {
  OptimConfig o;
  o.lr = 1e-3;
  o.warmup_steps = 10;
  o.total_steps = 110;
  EXPECT_DOUBLE_EQ(ScheduleAt(o, 0).lr, 1e-4);
  EXPECT_DOUBLE_EQ(ScheduleAt(o, 9).lr, 1e-3);
  EXPECT_DOUBLE_EQ(ScheduleAt(o, 59).lr, 0.5e-3);
  EXPECT_DOUBLE_EQ(ScheduleAt(o, 109).lr, 0.0);
  EXPECT_EQ(ScheduleAt(o, 50).beta1, 0.9);
}

TEST(Schedule, OneCycleAsPyTorchsOneCycleLr) {
  OptimConfig o;
  o.schedule = "one_cycle";
  o.lr = 5e-4;
  o.warmup_steps = 1000;  // the reference's ListOps: pct_start = 1000 / 5000
  o.total_steps = 5000;
  // Values of torch.optim.lr_scheduler.OneCycleLR(max_lr=5e-4, total_steps=5000,
  // pct_start=0.2, anneal_strategy="linear") and its beta1 at the same step numbers.
  EXPECT_DOUBLE_EQ(ScheduleAt(o, 0).lr, 2e-5);
  EXPECT_DOUBLE_EQ(ScheduleAt(o, 0).beta1, 0.95);
  EXPECT_NEAR(ScheduleAt(o, 999).lr, 5e-4, 1e-18);
  EXPECT_NEAR(ScheduleAt(o, 999).beta1, 0.85, 1e-15);
  // Halfway up and halfway down, linearly.
  EXPECT_NEAR(ScheduleAt(o, 499).lr, 2e-5 + 499.0 / 999.0 * (5e-4 - 2e-5), 1e-18);
  EXPECT_NEAR(ScheduleAt(o, 2999).beta1, 0.85 + 0.1 * 2000.0 / 4000.0, 1e-12);
  EXPECT_NEAR(ScheduleAt(o, 4999).lr, 2e-5 / 1e4, 1e-18);
  EXPECT_NEAR(ScheduleAt(o, 4999).beta1, 0.95, 1e-15);
  for (int64_t s = 1; s < 5000; ++s) {  // up, then down; beta1 always against it
    const ScheduleValues a = ScheduleAt(o, s - 1), b = ScheduleAt(o, s);
    EXPECT_EQ(b.lr > a.lr, s < 1000) << s;
    EXPECT_EQ(b.beta1 < a.beta1, s < 1000) << s;
  }
}

}  // namespace
}  // namespace sbmt::trainer
