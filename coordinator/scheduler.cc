#include "coordinator/scheduler.h"

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <sstream>

namespace sbmt::coordinator {
namespace {

std::string Trim(const std::string& s) {
  const size_t a = s.find_first_not_of(" \t\r");
  if (a == std::string::npos) return "";
  return s.substr(a, s.find_last_not_of(" \t\r") - a + 1);
}

}  // namespace

std::vector<Host> ReadHostfile(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw Error(ErrorCode::kNotFound, path + ": cannot read the hostfile");
  std::vector<Host> hosts;
  std::string line;
  for (int number = 1; std::getline(in, line); ++number) {
    const std::string text = Trim(line.substr(0, line.find('#')));
    if (text.empty()) continue;
    std::istringstream fields(text);
    Host host;
    fields >> host.name;
    host.slots = 1;
    const std::string where = path + ":" + std::to_string(number) + ": ";
    for (std::string field; fields >> field;) {
      if (field.rfind("slots=", 0) != 0) {
        throw Error(ErrorCode::kInvalidArgument,
                    where + "unknown field '" + field + "' (expected: HOST slots=N)");
      }
      try {
        size_t used = 0;
        host.slots = std::stoi(field.substr(6), &used);
        if (used != field.size() - 6) throw std::invalid_argument("trailing");
      } catch (const std::exception&) {
        host.slots = -1;
      }
      if (host.slots < 1 || host.slots > 1024) {
        throw Error(ErrorCode::kInvalidArgument, where + "'" + field + "': slots must be 1-1024");
      }
    }
    for (const Host& h : hosts) {
      if (h.name == host.name) {
        throw Error(ErrorCode::kInvalidArgument, where + "host " + host.name + " listed twice");
      }
    }
    hosts.push_back(host);
  }
  if (hosts.empty()) throw Error(ErrorCode::kInvalidArgument, path + ": no hosts");
  return hosts;
}

Scheduler::Scheduler(std::vector<Host> hosts, SchedulerOptions options)
    : hosts_(std::move(hosts)), options_(options) {
  for (const Host& h : hosts_) busy_[h.name].assign(h.slots, false);
}

void Scheduler::Restore(const std::vector<v1::Job>& jobs, double now) {
  for (const v1::Job& saved : jobs) {
    v1::Job& job = jobs_[saved.id()] = saved;
    order_.push_back(job.id());
    if (job.id().size() > 2)
      next_id_ = std::max<int64_t>(next_id_, std::stoll(job.id().substr(2)) + 1);
    if (job.state() != v1::RUNNING || job.attempts().empty()) continue;
    // Its workers may still be alive: expect them back within the startup timeout.
    const v1::Attempt& a = job.attempts(job.attempts_size() - 1);
    Running& r = running_[job.id()];
    r.attempt = a.number();
    r.launched = now;
    for (const std::string& name : a.hosts()) {
      const size_t colon = name.rfind(':');
      Slot slot{name.substr(0, colon), std::stoi(name.substr(colon + 1))};
      auto busy = busy_.find(slot.host);
      if (busy != busy_.end() && slot.index < static_cast<int>(busy->second.size())) {
        busy->second[slot.index] = true;
      }
      r.slots.push_back(slot);
    }
    Event(job, now,
          "coordinator restarted: waiting for attempt " + std::to_string(r.attempt) +
              "'s workers to reconnect");
  }
}

std::variant<std::string, Rejection> Scheduler::Submit(const v1::JobSpec& spec, double now) {
  auto invalid = [](const std::string& m) { return Rejection{Rejection::kInvalidArgument, m}; };
  if (spec.name().empty() || spec.name().size() > 64) {
    return invalid("spec.name: expected 1-64 characters, got " +
                   std::to_string(spec.name().size()));
  }
  for (char c : spec.name()) {
    if (!(isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.')) {
      return invalid("spec.name: '" + spec.name() + "': letters, digits, '-', '_' and '.' only");
    }
  }
  if (spec.config().empty()) return invalid("spec.config: the worker config path is required");
  int total_slots = 0;
  for (const Host& h : hosts_) total_slots += h.slots;
  if (spec.world_size() < 1 || spec.world_size() > options_.max_world_size) {
    return invalid("spec.world_size: expected 1-" + std::to_string(options_.max_world_size) +
                   ", got " + std::to_string(spec.world_size()));
  }
  if (spec.world_size() > total_slots) {
    return invalid("spec.world_size: " + std::to_string(spec.world_size()) +
                   " ranks, but the hostfile has " + std::to_string(total_slots) + " slots");
  }
  if (spec.max_restarts() < 0 || spec.max_restarts() > 1000) {
    return invalid("spec.max_restarts: expected 0-1000, got " +
                   std::to_string(spec.max_restarts()));
  }
  if (spec.checkpoint_every() < 0) {
    return invalid("spec.checkpoint_every: expected 0 (the config's) or more, got " +
                   std::to_string(spec.checkpoint_every()));
  }
  for (const std::string& o : spec.overrides()) {
    if (o.find('=') == std::string::npos || o.front() == '=') {
      return invalid("spec.overrides: '" + o + "' is not key=value");
    }
  }
  // Timeouts that agree: heartbeat interval < stall deadline < the workers' collective timeout
  // (the coordinator names a laggard before the workers' own timeout ends the job with less to
  // say), and the dead-rank deadline < the preemption grace.
  const double collective = spec.collective_timeout_s() > 0 ? spec.collective_timeout_s() : 300;
  const double dead_after = options_.missed_beats * options_.heartbeat_interval_s;
  const double grace = spec.preemption_grace_s() > 0 ? spec.preemption_grace_s() : 30;
  if (!(options_.heartbeat_interval_s < collective)) {
    return invalid("spec.collective_timeout_s (" + std::to_string(collective) +
                   ") must exceed the heartbeat interval (" +
                   std::to_string(options_.heartbeat_interval_s) + " s)");
  }
  if (!(options_.stall_after_s < collective)) {
    return invalid("spec.collective_timeout_s (" + std::to_string(collective) +
                   ") must exceed the coordinator's stall deadline (" +
                   std::to_string(options_.stall_after_s) +
                   " s), or the workers' own timeout ends the job before the laggard is named");
  }
  if (!(dead_after < grace)) {
    return invalid("spec.preemption_grace_s (" + std::to_string(grace) +
                   ") must exceed the dead-rank deadline (" + std::to_string(dead_after) + " s)");
  }
  char id[32];
  std::snprintf(id, sizeof id, "j-%06lld", static_cast<long long>(next_id_++));
  v1::Job& job = jobs_[id];
  job.set_id(id);
  *job.mutable_spec() = spec;
  job.set_state(v1::QUEUED);
  job.set_submitted_unix(now);
  order_.push_back(id);
  Event(job, now,
        "submitted: " + spec.name() + ", " + std::to_string(spec.world_size()) + " ranks");
  return std::string(id);
}

const v1::Job* Scheduler::Find(const std::string& job_id) const {
  auto it = jobs_.find(job_id);
  return it == jobs_.end() ? nullptr : &it->second;
}

v1::Job& Scheduler::Mutable(const std::string& job_id) { return jobs_.at(job_id); }

std::vector<Scheduler::RankView> Scheduler::RanksOf(const std::string& job_id) const {
  std::vector<RankView> out;
  auto run = running_.find(job_id);
  const v1::Job* job = Find(job_id);
  if (run == running_.end() || job == nullptr) return out;
  for (int rank = 0; rank < job->spec().world_size(); ++rank) {
    RankView& v = out.emplace_back();
    v.rank = rank;
    v.host = rank < static_cast<int>(run->second.slots.size()) ? run->second.slots[rank].host : "";
    auto it = run->second.ranks.find(rank);
    if (it != run->second.ranks.end()) {
      v.joined = it->second.joined;
      v.last_beat = it->second.last_beat;
      v.collectives = it->second.collectives;
      v.compute_seconds = it->second.compute_seconds;
    }
  }
  std::vector<double> compute;
  for (const RankView& v : out) {
    if (v.compute_seconds < 0) return out;  // not every rank has reported a step yet
    compute.push_back(v.compute_seconds);
  }
  std::sort(compute.begin(), compute.end());
  const size_t n = compute.size();
  const double median = n % 2 ? compute[n / 2] : (compute[n / 2 - 1] + compute[n / 2]) / 2;
  if (median > 0) {
    for (RankView& v : out) v.straggler_ratio = v.compute_seconds / median;
  }
  return out;
}

std::vector<const v1::Job*> Scheduler::Jobs() const {
  std::vector<const v1::Job*> out;
  for (const std::string& id : order_) out.push_back(&jobs_.at(id));
  return out;
}

std::vector<v1::JobEvent> Scheduler::TakeEvents() {
  std::vector<v1::JobEvent> out;
  out.swap(events_);
  return out;
}

void Scheduler::Event(v1::Job& job, double now, const std::string& text) {
  v1::JobEvent& e = events_.emplace_back();
  e.set_job_id(job.id());
  e.set_unix_time(now);
  e.set_text(text);
  e.set_state(job.state());
}

std::optional<Rejection> Scheduler::Cancel(const std::string& job_id, double now,
                                           Actions& actions) {
  auto it = jobs_.find(job_id);
  if (it == jobs_.end()) return Rejection{Rejection::kNotFound, "no job " + job_id};
  v1::Job& job = it->second;
  if (IsFinished(job.state())) {
    return Rejection{Rejection::kFailedPrecondition,
                     "job " + job_id + " already ended (" + v1::JobState_Name(job.state()) + ")"};
  }
  actions.changed_jobs.push_back(job_id);
  if (job.state() == v1::QUEUED) {
    job.set_state(v1::CANCELLED);
    job.set_reason("cancelled while queued");
    job.set_finished_unix(now);
    Event(job, now, "cancelled");
    return std::nullopt;
  }
  // Running: ask the workers to commit and stop (the next heartbeat says so); the launcher's
  // exit then ends the job as CANCELLED.
  running_[job_id].stop_requested = true;
  job.set_reason("cancelled");
  Event(job, now, "cancel requested: the workers commit their step and stop");
  return std::nullopt;
}

std::optional<Rejection> Scheduler::CheckWorker(const v1::WorkerId& w) const {
  auto it = jobs_.find(w.job_id());
  if (it == jobs_.end()) return Rejection{Rejection::kNotFound, "no job " + w.job_id()};
  auto r = running_.find(w.job_id());
  if (it->second.state() != v1::RUNNING || r == running_.end()) {
    return Rejection{Rejection::kFailedPrecondition,
                     "job " + w.job_id() + " is " + v1::JobState_Name(it->second.state())};
  }
  if (w.attempt() != r->second.attempt) {
    return Rejection{Rejection::kFailedPrecondition,
                     "attempt " + std::to_string(w.attempt()) + " of job " + w.job_id() +
                         " is stale (current: " + std::to_string(r->second.attempt) + ")"};
  }
  if (w.rank() < 0 || w.rank() >= it->second.spec().world_size()) {
    return Rejection{Rejection::kInvalidArgument,
                     "rank " + std::to_string(w.rank()) + " outside world size " +
                         std::to_string(it->second.spec().world_size())};
  }
  return std::nullopt;
}

std::optional<Rejection> Scheduler::Join(const v1::WorkerId& w, double now) {
  if (auto bad = CheckWorker(w)) return bad;
  RankState& rank = running_[w.job_id()].ranks[w.rank()];
  rank.joined = true;
  rank.last_beat = now;
  rank.collectives_changed = now;
  rank.host = w.host();
  return std::nullopt;
}

std::variant<v1::HeartbeatReply, Rejection> Scheduler::Heartbeat(const v1::HeartbeatRequest& beat,
                                                                 double now, Actions& actions) {
  if (auto bad = CheckWorker(beat.worker())) return *bad;
  Running& run = running_[beat.worker().job_id()];
  RankState& rank = run.ranks[beat.worker().rank()];
  rank.joined = true;
  rank.last_beat = now;
  rank.host = beat.worker().host();
  if (beat.collectives_issued() != rank.collectives) {
    rank.collectives = beat.collectives_issued();
    rank.collectives_changed = now;
  }
  if (beat.has_report() && beat.report().step() > 0) {
    const sbmt::v1::StepReport& r = beat.report();
    rank.compute_seconds = std::max(0.0, r.step_seconds() - r.phases().exposed_comm());
  }
  v1::Job& job = Mutable(beat.worker().job_id());
  if (beat.worker().rank() == 0 && beat.has_eval() &&
      (!job.has_last_eval() || beat.eval().unix_time() > job.last_eval().unix_time())) {
    *job.mutable_last_eval() = beat.eval();
  }
  if (beat.worker().rank() == 0 && beat.has_report() &&
      beat.report().step() > job.last_report().step()) {
    const sbmt::v1::StepReport& r = beat.report();
    if (r.step() > job.furthest_step()) {  // heartbeats coalesce steps: each took about as long
      job.set_useful_step_seconds(job.useful_step_seconds() +
                                  static_cast<double>(r.step() - job.furthest_step()) *
                                      r.step_seconds());
      job.set_furthest_step(r.step());
    }
    *job.mutable_last_report() = r;
    if (!run.first_step_seen) {
      run.first_step_seen = true;
      auto failed = failed_at_.find(job.id());
      if (failed != failed_at_.end() && job.incidents_size() > 0) {
        job.mutable_incidents(job.incidents_size() - 1)
            ->set_restart_latency_s(now - failed->second);
        failed_at_.erase(failed);
      }
    }
    actions.changed_jobs.push_back(job.id());
  }
  v1::HeartbeatReply reply;
  reply.set_stop(run.stop_requested);
  return reply;
}

std::optional<Rejection> Scheduler::Checkpoint(const v1::CheckpointReport& report, double now) {
  if (auto bad = CheckWorker(report.worker())) return bad;
  v1::Job& job = Mutable(report.worker().job_id());
  if (report.step() <= job.last_committed_step()) return std::nullopt;  // reported before
  job.set_last_committed_step(report.step());
  job.set_last_checkpoint(report.path());
  job.set_checkpoints_committed(job.checkpoints_committed() + 1);
  job.set_last_checkpoint_unix(now);
  if (report.save_seconds() > 0) job.set_last_checkpoint_save_s(report.save_seconds());
  if (report.size_bytes() > 0) job.set_last_checkpoint_bytes(report.size_bytes());
  // The hosts of an attempt that commits are healthy again.
  for (const Slot& slot : running_[job.id()].slots) host_failures_.erase(slot.host);
  // Progress past the last failure refills the restart budget.
  auto last = last_failure_.find(job.id());
  if (last != last_failure_.end() && report.step() > last->second.second) {
    consecutive_failures_[job.id()] = 0;
  }
  Event(job, now,
        "checkpoint committed: step " + std::to_string(report.step()) + " (" + report.path() + ")");
  return std::nullopt;
}

std::optional<Rejection> Scheduler::Exit(const v1::ExitReport& report, double now) {
  if (auto bad = CheckWorker(report.worker())) return bad;
  v1::Job& job = Mutable(report.worker().job_id());
  Running& run = running_[job.id()];
  if (report.worker().rank() == 0 && report.has_report() &&
      report.report().step() > job.last_report().step()) {
    *job.mutable_last_report() = report.report();
  }
  if (report.exit_code() == 0) {
    ++run.exits_zero;
  } else {
    Event(job, now,
          "rank " + std::to_string(report.worker().rank()) + " on " + report.worker().host() +
              " exited " + std::to_string(report.exit_code()) + ": " + report.reason());
  }
  run.ranks.erase(report.worker().rank());  // no more heartbeats expected from it
  return std::nullopt;
}

void Scheduler::RecordLaunch(const std::string& job_id, const std::string& log_path, int pid) {
  v1::Job& job = Mutable(job_id);
  if (job.attempts_size() == 0) return;
  v1::Attempt& attempt = *job.mutable_attempts(job.attempts_size() - 1);
  attempt.set_log_path(log_path);
  attempt.set_launcher_pid(pid);
}

bool Scheduler::AllRanksExitedCleanly(const std::string& job_id) const {
  auto r = running_.find(job_id);
  const v1::Job* job = Find(job_id);
  return r != running_.end() && job && r->second.exits_zero == job->spec().world_size();
}

void Scheduler::LauncherExited(const std::string& job_id, int attempt, int exit_code, double now,
                               Actions& actions) {
  auto r = running_.find(job_id);
  if (r == running_.end() || r->second.attempt != attempt) return;  // killed and replaced
  v1::Job& job = Mutable(job_id);
  actions.changed_jobs.push_back(job_id);
  if (exit_code == 0) {
    EndAttempt(job, now, "", /*cause=*/"", "", now, actions);
  } else {  // the exit is seen at once; when the failing rank really died is not known
    EndAttempt(job, now, "the launcher exited with status " + std::to_string(exit_code),
               "process_exited", "", now, actions);
  }
}

void Scheduler::EndAttempt(v1::Job& job, double now, const std::string& reason,
                           const std::string& cause, const std::string& blamed_host,
                           double last_alive, Actions& actions) {
  const bool failure = !cause.empty();
  Running run = running_.at(job.id());
  running_.erase(job.id());
  for (const Slot& s : run.slots) busy_[s.host][s.index] = false;
  v1::Attempt& attempt = *job.mutable_attempts(job.attempts_size() - 1);
  attempt.set_ended_unix(now);
  attempt.set_end_reason(reason.empty() ? "finished" : reason);
  actions.kill.push_back({job.id(), run.attempt, reason.empty() ? "finished" : reason});
  actions.changed_jobs.push_back(job.id());
  if (run.stop_requested) {
    job.set_state(v1::CANCELLED);
    job.set_finished_unix(now);
    Event(job, now, "cancelled at step " + std::to_string(job.last_committed_step()));
    return;
  }
  if (!failure) {
    job.set_state(v1::SUCCEEDED);
    job.set_finished_unix(now);
    Event(job, now,
          "succeeded at step " +
              std::to_string(std::max(job.last_report().step(), job.last_committed_step())));
    return;
  }
  // A failure: the ledger, the host record, then restart or give up.
  v1::Incident& incident = *job.add_incidents();
  incident.set_attempt(run.attempt);
  incident.set_reason(reason);
  incident.set_cause(cause);
  incident.set_detection_latency_s(std::max(0.0, now - last_alive));
  incident.set_steps_recomputed(
      std::max<int64_t>(0, job.last_report().step() - job.last_committed_step()));
  failed_at_[job.id()] = now;
  if (!blamed_host.empty() && ++host_failures_[blamed_host] >= options_.host_failures_to_exclude &&
      !excluded_hosts_.count(blamed_host)) {
    // Excluded only while the other hosts can still run this job: a cluster is not emptied.
    int remaining = 0;
    for (const Host& h : hosts_) {
      if (h.name != blamed_host && !excluded_hosts_.count(h.name)) remaining += h.slots;
    }
    if (remaining >= job.spec().world_size()) {
      excluded_hosts_.insert(blamed_host);
      Event(job, now,
            "host " + blamed_host + " excluded from placement after " +
                std::to_string(host_failures_[blamed_host]) + " failed attempts in a row");
    }
  }
  const int64_t step = job.last_report().step();
  const auto previous = last_failure_.find(job.id());
  // A failure blamed on a host (silent, stalled) is the host's to answer for (exclusion); one
  // that is not (the program exited with an error) repeating at the same step is a crash loop.
  const bool crash_loop = blamed_host.empty() && previous != last_failure_.end() &&
                          previous->second.first == reason && previous->second.second == step;
  last_failure_[job.id()] = {reason, step};
  const int failures = ++consecutive_failures_[job.id()];
  if (crash_loop) {
    job.set_state(v1::FAILED);
    job.set_reason("crash loop: " + reason + ", twice at step " + std::to_string(step));
  } else if (failures > job.spec().max_restarts()) {
    job.set_state(v1::FAILED);
    job.set_reason("out of restarts (max_restarts " + std::to_string(job.spec().max_restarts()) +
                   "): " + reason);
  } else {
    job.set_state(v1::QUEUED);
    job.set_restarts(job.restarts() + 1);
    Event(job, now,
          "attempt " + std::to_string(run.attempt) + " failed: " + reason +
              "; restarting from step " + std::to_string(job.last_committed_step()));
    return;
  }
  job.set_finished_unix(now);
  Event(job, now, "failed: " + job.reason());
}

std::vector<Slot> Scheduler::Place(int ranks) const {
  std::vector<Slot> slots;
  for (const Host& h : hosts_) {
    if (excluded_hosts_.count(h.name)) continue;
    const std::vector<bool>& busy = busy_.at(h.name);
    for (int i = 0; i < h.slots && static_cast<int>(slots.size()) < ranks; ++i) {
      if (!busy[i]) slots.push_back({h.name, i});
    }
  }
  if (static_cast<int>(slots.size()) < ranks) slots.clear();
  return slots;
}

Actions Scheduler::Tick(double now) {
  Actions actions;
  // Liveness of running attempts.
  const double dead_after =
      options_.missed_beats * options_.heartbeat_interval_s + options_.tolerance_s;
  std::vector<std::string> ids;
  for (const auto& [id, run] : running_) ids.push_back(id);
  for (const std::string& id : ids) {
    Running& run = running_.at(id);
    v1::Job& job = Mutable(id);
    std::string dead, cause, host;
    double last_alive = now;
    for (int rank = 0; rank < job.spec().world_size() && dead.empty(); ++rank) {
      auto it = run.ranks.find(rank);
      if (it == run.ranks.end()) {
        if (run.exits_zero > 0) continue;  // exited cleanly, the launcher follows
        if (now - run.launched > options_.startup_timeout_s) {
          dead = "rank " + std::to_string(rank) + " on " + run.slots[rank].Name() +
                 " did not join within " + std::to_string(int(options_.startup_timeout_s)) + " s";
          cause = "startup_timeout";
          host = run.slots[rank].host;
          last_alive = run.launched;
        }
      } else if (now - it->second.last_beat > dead_after) {
        dead = "rank " + std::to_string(rank) + " on " + it->second.host + " missed " +
               std::to_string(options_.missed_beats) + " heartbeats";
        cause = "heartbeats_missed";
        host = run.slots[rank].host;
        last_alive = it->second.last_beat;
      }
    }
    // A stalled collective: everyone beats, someone's collective count lags.
    if (dead.empty() && static_cast<int>(run.ranks.size()) == job.spec().world_size()) {
      int64_t most = 0;
      for (const auto& [rank, s] : run.ranks) most = std::max(most, s.collectives);
      std::string lagging;
      for (const auto& [rank, s] : run.ranks) {
        if (s.collectives < most && now - s.collectives_changed > options_.stall_after_s) {
          lagging += (lagging.empty() ? "" : ", ") + std::string("rank ") + std::to_string(rank) +
                     " on " + s.host + " (" + std::to_string(s.collectives) + " of " +
                     std::to_string(most) + ")";
          host = s.host;
          last_alive = s.collectives_changed;
        }
      }
      if (!lagging.empty()) {
        dead = "collective stalled: lagging " + lagging;
        cause = "collective_stalled";
      }
    }
    if (!dead.empty()) {
      Event(job, now, "attempt " + std::to_string(run.attempt) + ": " + dead);
      EndAttempt(job, now, dead, cause, host, last_alive, actions);
    }
  }
  // Placement: by priority, then submission order; a job that does not fit is passed over.
  std::vector<std::string> queued;
  for (const std::string& id : order_) {
    if (jobs_.at(id).state() == v1::QUEUED) queued.push_back(id);
  }
  std::stable_sort(queued.begin(), queued.end(), [&](const std::string& a, const std::string& b) {
    return jobs_.at(a).spec().priority() > jobs_.at(b).spec().priority();
  });
  for (const std::string& id : queued) {
    v1::Job& job = Mutable(id);
    std::vector<Slot> slots = Place(job.spec().world_size());
    if (slots.empty()) continue;
    Running& run = running_[id];
    run.attempt = job.attempts_size() + 1;
    run.slots = slots;
    run.launched = now;
    for (const Slot& s : slots) busy_[s.host][s.index] = true;
    v1::Attempt& attempt = *job.add_attempts();
    attempt.set_number(run.attempt);
    for (const Slot& s : slots) attempt.add_hosts(s.Name());
    attempt.set_started_unix(now);
    attempt.set_resumed_from_step(job.last_committed_step());
    job.set_state(v1::RUNNING);
    job.clear_last_report();
    std::string where;
    for (const Slot& s : slots) where += (where.empty() ? "" : " ") + s.Name();
    Event(job, now,
          "attempt " + std::to_string(run.attempt) + " launched on " + where +
              (job.last_committed_step() > 0
                   ? ", resuming from step " + std::to_string(job.last_committed_step())
                   : ""));
    actions.launch.push_back({id, run.attempt, slots});
    actions.changed_jobs.push_back(id);
  }
  return actions;
}

}  // namespace sbmt::coordinator
