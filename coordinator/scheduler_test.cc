// The scheduler's policy on a fake clock: placement and backfill, priorities, cancellation,
// liveness (startup, missed heartbeats, a stalled collective blamed on the lagging rank),
// restarts from the committed step, the budget refilled by progress, crash loops, host
// exclusion, stale attempts and bad specs.
#include "coordinator/scheduler.h"

#include <gtest/gtest.h>

#include "tests/util/test_files.h"

namespace sbmt::coordinator {
namespace {

v1::JobSpec Spec(const std::string& name, int world, int max_restarts = 2, int priority = 0) {
  v1::JobSpec s;
  s.set_name(name);
  s.set_config("configs/tiny.yaml");
  s.set_world_size(world);
  s.set_max_restarts(max_restarts);
  s.set_priority(priority);
  return s;
}

std::string Submit(Scheduler& s, const v1::JobSpec& spec, double now = 0) {
  auto r = s.Submit(spec, now);
  EXPECT_TRUE(std::holds_alternative<std::string>(r)) << std::get<Rejection>(r).message;
  return std::get<std::string>(r);
}

v1::WorkerId Worker(const std::string& job, int attempt, int rank, const std::string& host = "a") {
  v1::WorkerId w;
  w.set_job_id(job);
  w.set_attempt(attempt);
  w.set_rank(rank);
  w.set_host(host);
  return w;
}

// Every rank of the job's current attempt joins and beats with `collectives` and rank 0's step.
void BeatAll(Scheduler& s, const std::string& job, double now, int64_t step = 0,
             int64_t collectives = 0, double step_seconds = 0) {
  const v1::Job* j = s.Find(job);
  const int attempt = j->attempts(j->attempts_size() - 1).number();
  for (int r = 0; r < j->spec().world_size(); ++r) {
    v1::HeartbeatRequest beat;
    *beat.mutable_worker() = Worker(job, attempt, r);
    beat.set_collectives_issued(collectives);
    if (r == 0 && step > 0) {
      beat.mutable_report()->set_step(step);
      beat.mutable_report()->set_step_seconds(step_seconds);
    }
    Actions a;
    auto reply = s.Heartbeat(beat, now, a);
    ASSERT_TRUE(std::holds_alternative<v1::HeartbeatReply>(reply))
        << std::get<Rejection>(reply).message;
  }
}

void Commit(Scheduler& s, const std::string& job, int64_t step, double now) {
  const v1::Job* j = s.Find(job);
  v1::CheckpointReport c;
  *c.mutable_worker() = Worker(job, j->attempts(j->attempts_size() - 1).number(), 0);
  c.set_step(step);
  c.set_path("ckpt/step_" + std::to_string(step));
  EXPECT_FALSE(s.Checkpoint(c, now).has_value());
}

TEST(Scheduler, PlacesInHostfileOrderAndBackfills) {
  Scheduler s({{"a", 2}, {"b", 2}}, {});
  const std::string big = Submit(s, Spec("big", 3));
  const std::string two = Submit(s, Spec("two", 2));
  Actions a = s.Tick(0);
  ASSERT_EQ(a.launch.size(), 1u);
  EXPECT_EQ(a.launch[0].job_id, big);
  ASSERT_EQ(a.launch[0].slots.size(), 3u);
  EXPECT_EQ(a.launch[0].slots[2].Name(), "b:0");  // fills a, then b
  EXPECT_EQ(s.Find(two)->state(), v1::QUEUED);    // 1 slot left
  const std::string one = Submit(s, Spec("one", 1), 1);
  a = s.Tick(1);  // the later 1-rank job fits beside the big one: backfilled
  ASSERT_EQ(a.launch.size(), 1u);
  EXPECT_EQ(a.launch[0].job_id, one);
  EXPECT_EQ(a.launch[0].slots[0].Name(), "b:1");
  EXPECT_EQ(s.Find(one)->attempts(0).hosts(0), "b:1");
}

TEST(Scheduler, HigherPriorityRunsFirst) {
  Scheduler s({{"a", 1}}, {});
  const std::string low = Submit(s, Spec("low", 1));
  const std::string high = Submit(s, Spec("high", 1, 0, 5));
  Actions a = s.Tick(0);
  ASSERT_EQ(a.launch.size(), 1u);
  EXPECT_EQ(a.launch[0].job_id, high);
  EXPECT_EQ(s.Find(low)->state(), v1::QUEUED);
}

TEST(Scheduler, CancelQueuedAndRunning) {
  Scheduler s({{"a", 1}}, {});
  const std::string run = Submit(s, Spec("run", 1));
  const std::string wait = Submit(s, Spec("wait", 1));
  s.Tick(0);
  Actions a;
  EXPECT_FALSE(s.Cancel(wait, 1, a).has_value());
  EXPECT_EQ(s.Find(wait)->state(), v1::CANCELLED);
  EXPECT_FALSE(s.Cancel(run, 1, a).has_value());
  EXPECT_EQ(s.Find(run)->state(), v1::RUNNING);  // until the workers commit and exit
  v1::HeartbeatRequest beat;
  *beat.mutable_worker() = Worker(run, 1, 0);
  auto reply = s.Heartbeat(beat, 1.5, a);
  EXPECT_TRUE(std::get<v1::HeartbeatReply>(reply).stop());
  s.LauncherExited(run, 1, 0, 2, a);
  EXPECT_EQ(s.Find(run)->state(), v1::CANCELLED);
  EXPECT_EQ(s.Cancel(run, 3, a)->code, Rejection::kFailedPrecondition);
  EXPECT_EQ(s.Cancel("j-999999", 3, a)->code, Rejection::kNotFound);
}

TEST(Scheduler, MissedHeartbeatsRestartFromTheCommittedStep) {
  SchedulerOptions o;  // 1 s beats, dead after 3 missed + 0.5 s
  Scheduler s({{"a", 2}}, o);
  const std::string job = Submit(s, Spec("j", 2));
  s.Tick(0);
  BeatAll(s, job, 1, 10);
  Commit(s, job, 10, 1);
  BeatAll(s, job, 2, 14);
  // Rank 1 goes silent; rank 0 keeps beating.
  for (double t = 3; t <= 5.4; t += 1) {
    v1::HeartbeatRequest beat;
    *beat.mutable_worker() = Worker(job, 1, 0);
    Actions a;
    s.Heartbeat(beat, t, a);
    EXPECT_TRUE(s.Tick(t).kill.empty()) << t;
  }
  Actions a = s.Tick(5.6);  // 3.6 s since rank 1's last beat
  ASSERT_EQ(a.kill.size(), 1u);
  EXPECT_EQ(a.kill[0].attempt, 1);
  EXPECT_NE(a.kill[0].reason.find("rank 1 on a missed 3 heartbeats"), std::string::npos)
      << a.kill[0].reason;
  ASSERT_EQ(a.launch.size(), 1u);  // the same tick relaunches on the freed slots
  const v1::Job* j = s.Find(job);
  EXPECT_EQ(j->restarts(), 1);
  EXPECT_EQ(j->attempts(1).resumed_from_step(), 10);
  ASSERT_EQ(j->incidents_size(), 1);
  EXPECT_EQ(j->incidents(0).steps_recomputed(), 4);
  EXPECT_EQ(j->incidents(0).cause(), "heartbeats_missed");
  EXPECT_NEAR(j->incidents(0).detection_latency_s(), 3.6, 1e-9);
  // The old attempt's stragglers are refused.
  v1::HeartbeatRequest stale;
  *stale.mutable_worker() = Worker(job, 1, 0);
  auto reply = s.Heartbeat(stale, 6, a);
  ASSERT_TRUE(std::holds_alternative<Rejection>(reply));
  EXPECT_EQ(std::get<Rejection>(reply).code, Rejection::kFailedPrecondition);
  // The new attempt's first step closes the incident's restart latency.
  BeatAll(s, job, 7.5, 11);
  EXPECT_NEAR(s.Find(job)->incidents(0).restart_latency_s(), 1.9, 1e-9);
}

TEST(Scheduler, UsefulStepTimeCountsEachStepOnce) {
  Scheduler s({{"a", 2}}, {});
  const std::string job = Submit(s, Spec("j", 2));
  s.Tick(0);
  BeatAll(s, job, 1, 10, 0, 0.5);  // 10 steps of 0.5 s (heartbeats coalesce steps)
  Commit(s, job, 10, 1);
  BeatAll(s, job, 2, 14, 0, 0.5);
  EXPECT_DOUBLE_EQ(s.Find(job)->useful_step_seconds(), 7.0);
  Actions a;
  s.LauncherExited(job, 1, 9, 3, a);  // attempt 1 dies: steps 11-14 are lost
  EXPECT_EQ(s.Find(job)->incidents(0).cause(), "process_exited");
  s.Tick(3);
  ASSERT_EQ(s.Find(job)->attempts_size(), 2);
  BeatAll(s, job, 4, 12, 0, 0.5);  // recomputed: not useful again
  BeatAll(s, job, 5, 14, 0, 0.5);
  EXPECT_DOUBLE_EQ(s.Find(job)->useful_step_seconds(), 7.0);
  BeatAll(s, job, 6, 16, 0, 0.25);  // past the furthest step: 2 steps of 0.25 s
  EXPECT_DOUBLE_EQ(s.Find(job)->useful_step_seconds(), 7.5);
  EXPECT_EQ(s.Find(job)->furthest_step(), 16);
}

TEST(Scheduler, RanksMustJoinWithinTheStartupTimeout) {
  SchedulerOptions o;
  o.startup_timeout_s = 30;
  Scheduler s({{"a", 1}}, o);
  const std::string job = Submit(s, Spec("j", 1, 0));
  s.Tick(0);
  EXPECT_TRUE(s.Tick(29).kill.empty());
  Actions a = s.Tick(31);
  ASSERT_EQ(a.kill.size(), 1u);
  EXPECT_EQ(s.Find(job)->state(), v1::FAILED);
  EXPECT_EQ(s.Find(job)->incidents(0).cause(), "startup_timeout");
  EXPECT_NE(s.Find(job)->reason().find("out of restarts (max_restarts 0): rank 0 on a:0 did not "
                                       "join within 30 s"),
            std::string::npos)
      << s.Find(job)->reason();
}

TEST(Scheduler, AStalledCollectiveBlamesTheLaggingRank) {
  SchedulerOptions o;
  o.stall_after_s = 5;
  Scheduler s({{"a", 1}, {"b", 1}}, o);
  const std::string job = Submit(s, Spec("j", 2));
  s.Tick(0);
  for (double t = 1; t < 12; t += 1) {
    // Both beat; rank 1 (on b) stopped completing collectives at 40.
    for (int r = 0; r < 2; ++r) {
      v1::HeartbeatRequest beat;
      *beat.mutable_worker() = Worker(job, 1, r, r == 0 ? "a" : "b");
      beat.set_collectives_issued(r == 0 ? 40 + static_cast<int>(t) : 40);
      Actions a;
      s.Heartbeat(beat, t, a);
    }
    Actions a = s.Tick(t);
    if (t <= 6) {
      EXPECT_TRUE(a.kill.empty()) << t;
    } else {
      ASSERT_EQ(a.kill.size(), 1u) << t;
      EXPECT_NE(a.kill[0].reason.find("collective stalled: lagging rank 1 on b (40 of 47)"),
                std::string::npos)
          << a.kill[0].reason;
      EXPECT_EQ(s.Find(job)->incidents(0).cause(), "collective_stalled");
      break;
    }
  }
}

TEST(Scheduler, ProgressRefillsTheBudgetAndACrashLoopEndsTheJob) {
  Scheduler s({{"a", 1}}, {});
  const std::string job = Submit(s, Spec("j", 1, /*max_restarts=*/1));
  s.Tick(0);
  Actions a;
  BeatAll(s, job, 1, 5);
  s.LauncherExited(job, 1, 1, 2, a);  // failure 1 at step 5: restart
  EXPECT_EQ(s.Find(job)->state(), v1::QUEUED);
  s.Tick(2);
  BeatAll(s, job, 3, 9);
  Commit(s, job, 8, 3);               // progress past step 5: the budget is full again
  s.LauncherExited(job, 2, 1, 4, a);  // failure at step 9: still restarts
  EXPECT_EQ(s.Find(job)->state(), v1::QUEUED);
  EXPECT_EQ(s.Find(job)->restarts(), 2);
  s.Tick(4);
  BeatAll(s, job, 5, 9);
  s.LauncherExited(job, 3, 1, 6, a);  // the same failure at the same step: a crash loop
  EXPECT_EQ(s.Find(job)->state(), v1::FAILED);
  EXPECT_NE(s.Find(job)->reason().find("crash loop: the launcher exited with status 1, twice at "
                                       "step 9"),
            std::string::npos)
      << s.Find(job)->reason();
}

TEST(Scheduler, OutOfRestartsFailsWithTheReason) {
  Scheduler s({{"a", 1}}, {});
  const std::string job = Submit(s, Spec("j", 1, 1));
  Actions a;
  s.Tick(0);
  BeatAll(s, job, 1, 3);
  s.LauncherExited(job, 1, 137, 2, a);
  s.Tick(2);
  BeatAll(s, job, 3, 4);
  s.LauncherExited(job, 2, 137, 4, a);
  EXPECT_EQ(s.Find(job)->state(), v1::FAILED);
  EXPECT_EQ(s.Find(job)->reason(),
            "out of restarts (max_restarts 1): the launcher exited with status 137");
}

TEST(Scheduler, AHostThatKeepsFailingIsExcluded) {
  SchedulerOptions o;
  o.host_failures_to_exclude = 2;
  o.startup_timeout_s = 1;
  Scheduler s({{"bad", 1}, {"good", 1}}, o);
  const std::string job = Submit(s, Spec("j", 1, 10));
  Actions a = s.Tick(0);
  EXPECT_EQ(a.launch[0].slots[0].host, "bad");
  a = s.Tick(2);  // never joined: blamed on its host, relaunched
  EXPECT_EQ(a.launch[0].slots[0].host, "bad");
  a = s.Tick(3.5);  // failed on "bad" twice: excluded, relaunched on "good"
  ASSERT_EQ(a.launch.size(), 1u);
  EXPECT_EQ(a.launch[0].slots[0].host, "good");
  EXPECT_EQ(s.excluded_hosts().count("bad"), 1u);
}

TEST(Scheduler, TheOnlyCapacityIsNeverExcluded) {
  SchedulerOptions o;
  o.host_failures_to_exclude = 1;
  o.startup_timeout_s = 1;
  Scheduler s({{"only", 2}}, o);
  Submit(s, Spec("j", 2, 10));
  s.Tick(0);
  const Actions a = s.Tick(2);  // failed on "only": still relaunched there
  ASSERT_EQ(a.launch.size(), 1u);
  EXPECT_EQ(a.launch[0].slots[0].host, "only");
  EXPECT_TRUE(s.excluded_hosts().empty());
}

TEST(Scheduler, BadRequestsGetTheRightCode) {
  Scheduler s({{"a", 2}}, {});
  auto code = [&](const v1::JobSpec& spec) {
    auto r = s.Submit(spec, 0);
    return std::holds_alternative<Rejection>(r) ? std::get<Rejection>(r).message : "";
  };
  EXPECT_NE(code(Spec("", 1)).find("spec.name"), std::string::npos);
  EXPECT_NE(code(Spec("a b", 1)).find("spec.name"), std::string::npos);
  EXPECT_NE(code(Spec("x", -1)).find("spec.world_size: expected 1-"), std::string::npos);
  EXPECT_NE(code(Spec("x", 3)).find("the hostfile has 2 slots"), std::string::npos);
  v1::JobSpec bad = Spec("x", 1);
  bad.add_overrides("novalue");
  EXPECT_NE(code(bad).find("spec.overrides: 'novalue'"), std::string::npos);
  v1::JobSpec short_collectives = Spec("x", 1);
  short_collectives.set_collective_timeout_s(20);  // under the 30 s stall deadline
  EXPECT_NE(code(short_collectives).find("must exceed the coordinator's stall deadline"),
            std::string::npos);
  v1::JobSpec timeouts = Spec("x", 1);
  timeouts.set_preemption_grace_s(2);
  EXPECT_NE(code(timeouts).find("spec.preemption_grace_s (2"), std::string::npos);
  Actions a;
  const std::string job = Submit(s, Spec("ok", 2));
  s.Tick(0);
  EXPECT_EQ(s.Join(Worker(job, 1, 2), 1)->code, Rejection::kInvalidArgument);
  EXPECT_EQ(s.Join(Worker(job, 2, 0), 1)->code, Rejection::kFailedPrecondition);
  EXPECT_EQ(s.Join(Worker("j-000404", 1, 0), 1)->code, Rejection::kNotFound);
  EXPECT_FALSE(s.Join(Worker(job, 1, 0), 1).has_value());
}

TEST(Hostfile, ReadsOpenMpiSyntaxAndNamesBadLines) {
  const auto dir = testing::FreshDir("hostfile");
  testing::WriteFile(dir / "ok", "# two nodes\nnode1 slots=8\nnode2   slots=4  # comment\nnode3\n");
  const std::vector<Host> hosts = ReadHostfile((dir / "ok").string());
  ASSERT_EQ(hosts.size(), 3u);
  EXPECT_EQ(hosts[1].name, "node2");
  EXPECT_EQ(hosts[1].slots, 4);
  EXPECT_EQ(hosts[2].slots, 1);
  testing::WriteFile(dir / "bad", "node1 slots=8\nnode2 slots=x\n");
  try {
    ReadHostfile((dir / "bad").string());
    FAIL() << "accepted slots=x";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("bad:2: 'slots=x'"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace sbmt::coordinator
