// The coordinator's decisions, free of gRPC, processes and clocks: which queued job runs on which
// slots, when a rank is dead, whether a failed job restarts or ends. The owner (service.cc)
// feeds it requests and the time, and carries out the actions it returns (launch, kill); tests
// drive it with a fake clock.
//
// Policy (DESIGN.md section 6, issue "gRPC coordinator"):
//  - queue: priority first, then submission order; a job that does not fit is passed over by
//    later ones that do (backfill);
//  - placement: the free slots of hosts in hostfile order, skipping excluded hosts;
//  - liveness: every rank must join within `startup_timeout_s` of the launch and then beat at
//    least every `heartbeat_interval_s`; `missed_beats` intervals without one (plus
//    `tolerance_s`) and the rank is dead; the launcher exiting non-zero fails the attempt too;
//  - a stalled collective: when every rank beats but some rank's issued-collective count lags
//    the others' for `stall_after_s`, the lagging rank(s) are blamed by rank and host;
//  - restarts: a failed attempt is killed (its whole process group) and the job is queued again
//    to resume from its last committed checkpoint, while it has restarts left (max_restarts
//    counts failures since the job last made progress: a checkpoint after the failed step
//    refills the budget); the same failure at the same step twice, not blamed on a host (the
//    program exits with an error), is a crash loop and ends the job; a host blamed for
//    `host_failures_to_exclude` failed attempts in a row (a silent, unjoined or stalled rank on
//    it; a committed checkpoint of an attempt on it resets the count) is excluded from
//    placement, unless the other hosts could then not run the job.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <variant>
#include <vector>

#include "proto/coordinator.pb.h"
#include "runtime/error.h"

namespace sbmt::coordinator {

namespace v1 = ::sbmt::coordinator::v1;

// SUCCEEDED, FAILED or CANCELLED: the job will not run again.
inline bool IsFinished(v1::JobState s) {
  return s == v1::SUCCEEDED || s == v1::FAILED || s == v1::CANCELLED;
}

// Every Incident.cause, the bounded label of the incident metrics.
inline constexpr const char* kIncidentCauses[] = {"startup_timeout", "heartbeats_missed",
                                                  "collective_stalled", "process_exited"};

struct Host {
  std::string name;
  int slots = 0;
};

// "node1 slots=8" per line (OpenMPI's hostfile syntax; `#` starts a comment, a bare name is one
// slot). Throws Error(kInvalidArgument) naming FILE:LINE.
std::vector<Host> ReadHostfile(const std::string& path);

struct SchedulerOptions {
  double heartbeat_interval_s = 1.0;
  int missed_beats = 3;
  double tolerance_s = 0.5;
  double startup_timeout_s = 120;
  double stall_after_s = 30;
  int host_failures_to_exclude = 3;
  int max_world_size = 4096;
};

struct Slot {
  std::string host;
  int index = 0;
  std::string Name() const { return host + ":" + std::to_string(index); }
};

struct LaunchAction {
  std::string job_id;
  int attempt = 0;
  std::vector<Slot> slots;  // rank r runs on slots[r]
};

struct KillAction {
  std::string job_id;
  int attempt = 0;
  std::string reason;
};

struct Actions {
  std::vector<LaunchAction> launch;
  std::vector<KillAction> kill;
  std::vector<std::string> changed_jobs;  // to persist and to tell watchers
};

// A request the caller got wrong: the gRPC status to answer with, and the message.
struct Rejection {
  enum Code { kInvalidArgument, kNotFound, kFailedPrecondition } code;
  std::string message;
};

class Scheduler {
 public:
  Scheduler(std::vector<Host> hosts, SchedulerOptions options);

  // Restores jobs saved by an earlier coordinator: finished jobs as they were, queued ones queued,
  // running ones RUNNING and expected to beat again within the startup timeout (the workers
  // reconnect), else failed and restarted as usual.
  void Restore(const std::vector<v1::Job>& jobs, double now);

  // Operators. Submit validates the spec (an error names the field) and returns the job's id.
  std::variant<std::string, Rejection> Submit(const v1::JobSpec& spec, double now);
  std::optional<Rejection> Cancel(const std::string& job_id, double now, Actions& actions);

  // Workers; a request of an attempt other than the job's current one is rejected
  // (kFailedPrecondition), as is one for a finished job.
  std::optional<Rejection> Join(const v1::WorkerId& worker, double now);
  std::variant<v1::HeartbeatReply, Rejection> Heartbeat(const v1::HeartbeatRequest& beat,
                                                        double now, Actions& actions);
  std::optional<Rejection> Checkpoint(const v1::CheckpointReport& report, double now);
  std::optional<Rejection> Exit(const v1::ExitReport& report, double now);

  // Every rank of the current attempt reported exit 0: the owner ends the attempt as finished
  // (with LauncherExited(..., 0, ...)) even when it did not start the launcher itself (a job
  // adopted after a coordinator restart).
  bool AllRanksExitedCleanly(const std::string& job_id) const;

  // The launcher of (job, attempt) ended with `exit_code` (128 + signal when killed).
  void LauncherExited(const std::string& job_id, int attempt, int exit_code, double now,
                      Actions& actions);

  // The owner started the current attempt's launcher: its log and process group leader.
  void RecordLaunch(const std::string& job_id, const std::string& log_path, int pid);

  // Liveness checks, then placement of queued jobs on free slots.
  Actions Tick(double now);

  // The ranks of a running job's current attempt, as liveness sees them (for /metrics).
  struct RankView {
    int rank = 0;
    std::string host;
    bool joined = false;
    double last_beat = 0;
    int64_t collectives = 0;
    // The rank's compute time in its latest step (step time less the communication it waited
    // for) over the median of its job's ranks: a straggler's peers wait for it, so its own
    // compute is the longest. -1 before every rank reported a step.
    double compute_seconds = -1;
    double straggler_ratio = -1;
  };
  std::vector<RankView> RanksOf(const std::string& job_id) const;

  const v1::Job* Find(const std::string& job_id) const;
  std::vector<const v1::Job*> Jobs() const;  // in submission order
  // Events since the last call, oldest first (the owner persists them and tells watchers).
  std::vector<v1::JobEvent> TakeEvents();
  const std::set<std::string>& excluded_hosts() const { return excluded_hosts_; }
  const SchedulerOptions& options() const { return options_; }

 private:
  struct RankState {
    bool joined = false;
    double last_beat = 0;
    int64_t collectives = 0;
    double collectives_changed = 0;
    std::string host;
    double compute_seconds = -1;  // of its latest step: step time less exposed communication
  };
  struct Running {  // the current attempt of a RUNNING job
    int attempt = 0;
    std::vector<Slot> slots;
    double launched = 0;
    std::map<int, RankState> ranks;
    bool stop_requested = false;
    bool first_step_seen = false;
    int exits_zero = 0;
  };

  v1::Job& Mutable(const std::string& job_id);
  std::optional<Rejection> CheckWorker(const v1::WorkerId& worker) const;
  void Event(v1::Job& job, double now, const std::string& text);
  // Ends the current attempt: kills it, frees its slots, and restarts, fails or finishes the job.
  // `last_alive`: the failing rank's last sign of life, for the incident's detection latency.
  // `cause` is empty for an attempt that finished, else one of kIncidentCauses.
  void EndAttempt(v1::Job& job, double now, const std::string& reason, const std::string& cause,
                  const std::string& blamed_host, double last_alive, Actions& actions);
  std::vector<Slot> Place(int ranks) const;

  std::vector<Host> hosts_;
  SchedulerOptions options_;
  std::map<std::string, v1::Job> jobs_;
  std::vector<std::string> order_;  // submission order
  std::map<std::string, Running> running_;
  std::map<std::string, std::vector<bool>> busy_;  // host -> slot in use
  std::map<std::string, int> host_failures_;
  std::set<std::string> excluded_hosts_;
  std::map<std::string, int> consecutive_failures_;
  std::map<std::string, std::pair<std::string, int64_t>> last_failure_;  // reason, step
  std::map<std::string, double> failed_at_;  // for the incident's restart latency
  std::vector<v1::JobEvent> events_;
  int64_t next_id_ = 1;
};

}  // namespace sbmt::coordinator
