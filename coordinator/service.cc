#include "coordinator/service.h"

#include <signal.h>

#include <chrono>
#include <filesystem>
#include <set>

#include "coordinator/launcher.h"
#include "coordinator/metrics.h"

namespace sbmt::coordinator {
namespace {

namespace fs = std::filesystem;

double WallClock() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

grpc::Status ToStatus(const Rejection& r) {
  switch (r.code) {
    case Rejection::kInvalidArgument:
      return {grpc::StatusCode::INVALID_ARGUMENT, r.message};
    case Rejection::kNotFound:
      return {grpc::StatusCode::NOT_FOUND, r.message};
    case Rejection::kFailedPrecondition:
      return {grpc::StatusCode::FAILED_PRECONDITION, r.message};
  }
  return {grpc::StatusCode::INTERNAL, r.message};
}

bool ConstantTimeEqual(const std::string& a, const std::string& b) {
  unsigned char diff = a.size() == b.size() ? 0 : 1;
  for (size_t i = 0; i < a.size(); ++i) diff |= a[i] ^ b[i % (b.empty() ? 1 : b.size())];
  return diff == 0 && !b.empty();
}

}  // namespace

CoordinatorService::CoordinatorService(std::vector<Host> hosts, ServiceOptions options)
    : options_(std::move(options)),
      start_time_(WallClock()),
      scheduler_(std::move(hosts), options_.scheduler),
      store_((fs::create_directories(options_.state_dir), fs::path(options_.state_dir) / "state.db")
                 .string()) {
  if (!options_.clock) options_.clock = WallClock;
  if (options_.launch_template.empty()) options_.launch_template = DefaultLaunchTemplate();
  const double now = options_.clock();
  std::vector<v1::Job> jobs = store_.LoadJobs();
  scheduler_.Restore(jobs, now);
  for (const v1::Job& job : jobs) {
    events_[job.id()] = store_.LoadEvents(job.id());
    if (job.state() == v1::RUNNING && job.attempts_size() > 0) {
      const v1::Attempt& a = job.attempts(job.attempts_size() - 1);
      launched_[job.id()] = {a.number(), a.launcher_pid(), /*ours=*/false};
    }
  }
  Actions restored;
  for (const v1::Job& job : jobs) restored.changed_jobs.push_back(job.id());
  Apply(restored);
}

std::vector<prometheus::MetricFamily> CoordinatorService::CollectMetrics() {
  std::lock_guard<std::mutex> lock(mu_);
  return SnapshotMetrics(scheduler_, options_.clock());
}

void CoordinatorService::Start(const std::string& address) {
  address_ = address;
  ticker_ = std::thread([this] { TickLoop(); });
}

CoordinatorService::~CoordinatorService() { Stop(); }

void CoordinatorService::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) return;
    stopping_ = true;
  }
  changed_.notify_all();
  if (ticker_.joinable()) ticker_.join();
}

grpc::Status CoordinatorService::Authorize(const grpc::ServerContext* c) const {
  const auto& metadata = c->client_metadata();
  auto it = metadata.find("authorization");
  const std::string given =
      it == metadata.end() ? "" : std::string(it->second.data(), it->second.size());
  if (!ConstantTimeEqual(given, "Bearer " + options_.token)) {
    return {grpc::StatusCode::UNAUTHENTICATED,
            it == metadata.end() ? "missing authorization: Bearer <token>" : "wrong token"};
  }
  return grpc::Status::OK;
}

void CoordinatorService::TickLoop() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!stopping_) {
    const double now = options_.clock();
    Actions actions;
    // Launchers that ended, and attempts whose ranks all exited cleanly.
    std::vector<std::string> ids;
    for (const auto& [id, l] : launched_) ids.push_back(id);
    for (const std::string& id : ids) {
      Launched& l = launched_.at(id);
      int code = 0;
      if (l.ours && Reaped(l.pid, &code)) {
        launched_.erase(id);
        scheduler_.LauncherExited(id, l.attempt, code, now, actions);
      } else if (scheduler_.AllRanksExitedCleanly(id)) {
        scheduler_.LauncherExited(id, l.attempt, 0, now, actions);
      }
    }
    for (auto pid = reap_.begin(); pid != reap_.end();) {  // killed launchers: no zombies
      int code = 0;
      pid = Reaped(*pid, &code) ? reap_.erase(pid) : pid + 1;
    }
    Actions tick = scheduler_.Tick(now);
    actions.launch.insert(actions.launch.end(), tick.launch.begin(), tick.launch.end());
    actions.kill.insert(actions.kill.end(), tick.kill.begin(), tick.kill.end());
    actions.changed_jobs.insert(actions.changed_jobs.end(), tick.changed_jobs.begin(),
                                tick.changed_jobs.end());
    Apply(actions);
    changed_.wait_for(lock, std::chrono::duration<double>(options_.tick_s));
  }
}

void CoordinatorService::Apply(Actions& actions) {
  for (const KillAction& k : actions.kill) {
    auto it = launched_.find(k.job_id);
    if (it == launched_.end() || it->second.attempt != k.attempt) continue;
    KillProcessGroup(it->second.pid, SIGKILL);
    if (it->second.ours) reap_.push_back(it->second.pid);  // collected by the tick
    launched_.erase(it);
  }
  for (size_t i = 0; i < actions.launch.size(); ++i) Launch(actions.launch[i], actions);
  std::set<std::string> changed(actions.changed_jobs.begin(), actions.changed_jobs.end());
  for (const std::string& id : changed) store_.Save(*scheduler_.Find(id));
  std::vector<v1::JobEvent> events = scheduler_.TakeEvents();
  store_.AddEvents(events);
  for (v1::JobEvent& e : events) {
    std::fprintf(stderr, "[%s] %s\n", e.job_id().c_str(), e.text().c_str());
    events_[e.job_id()].push_back(std::move(e));
  }
  if (!changed.empty() || !events.empty()) changed_.notify_all();
}

void CoordinatorService::Launch(LaunchAction l, Actions& actions) {
  const v1::Job& job = *scheduler_.Find(l.job_id);
  const fs::path dir = fs::path(options_.state_dir) / "jobs" / l.job_id;
  fs::create_directories(dir);
  // mpirun's --host list: each host with its count of ranks, in rank order.
  std::string hosts;
  for (size_t i = 0; i < l.slots.size();) {
    size_t j = i;
    while (j < l.slots.size() && l.slots[j].host == l.slots[i].host) ++j;
    hosts += (hosts.empty() ? "" : ",") + l.slots[i].host + ":" + std::to_string(j - i);
    i = j;
  }
  std::string slots;  // each rank's slot index on its host: its GPU
  for (const Slot& slot : l.slots) slots += (slots.empty() ? "" : ",") + std::to_string(slot.index);
  std::vector<std::string> overrides(job.spec().overrides().begin(), job.spec().overrides().end());
  bool has_out_dir = false;
  for (const std::string& o : overrides) has_out_dir |= o.rfind("run.out_dir=", 0) == 0;
  if (!has_out_dir) overrides.push_back("run.out_dir=" + (dir / "run").string());
  if (job.spec().checkpoint_every() > 0) {
    overrides.push_back("run.checkpoint_every=" + std::to_string(job.spec().checkpoint_every()));
  }
  if (job.spec().collective_timeout_s() > 0) {
    overrides.push_back("dist.timeout_s=" +
                        std::to_string(static_cast<int64_t>(job.spec().collective_timeout_s())));
  }
  const std::string log = (dir / ("attempt-" + std::to_string(l.attempt) + ".log")).string();
  try {
    const std::vector<std::string> argv = ExpandTemplate(options_.launch_template,
                                                         {{"np", std::to_string(l.slots.size())},
                                                          {"hosts", hosts},
                                                          {"worker", options_.worker_binary},
                                                          {"config", job.spec().config()},
                                                          {"address", address_},
                                                          {"job", l.job_id},
                                                          {"attempt", std::to_string(l.attempt)},
                                                          {"token_file", options_.token_file},
                                                          {"slots", slots}},
                                                         overrides, options_.worker_tls_args);
    const pid_t pid = StartProcessGroup(argv, log);
    scheduler_.RecordLaunch(l.job_id, log, pid);
    launched_[l.job_id] = {l.attempt, pid, true};
  } catch (const std::exception& e) {
    // As a launcher that exited at once: the restart policy applies.
    std::fprintf(stderr, "[%s] launch failed: %s\n", l.job_id.c_str(), e.what());
    scheduler_.LauncherExited(l.job_id, l.attempt, 127, options_.clock(), actions);
  }
}

grpc::Status CoordinatorService::GetServerInfo(grpc::ServerContext* c, const v1::ServerInfoRequest*,
                                               v1::ServerInfo* reply) {
  if (auto s = Authorize(c); !s.ok()) return s;
  reply->set_version("0.1.0");
  reply->set_start_time_unix_s(static_cast<int64_t>(start_time_));
  reply->set_heartbeat_interval_s(options_.scheduler.heartbeat_interval_s);
  return grpc::Status::OK;
}

grpc::Status CoordinatorService::SubmitJob(grpc::ServerContext* c,
                                           const v1::SubmitJobRequest* request,
                                           v1::SubmitJobReply* reply) {
  if (auto s = Authorize(c); !s.ok()) return s;
  std::lock_guard<std::mutex> lock(mu_);
  auto r = scheduler_.Submit(request->spec(), options_.clock());
  if (auto* rejected = std::get_if<Rejection>(&r)) return ToStatus(*rejected);
  reply->set_job_id(std::get<std::string>(r));
  Actions actions;
  actions.changed_jobs.push_back(reply->job_id());
  Apply(actions);  // durable before the id is returned
  return grpc::Status::OK;
}

grpc::Status CoordinatorService::ListJobs(grpc::ServerContext* c, const v1::ListJobsRequest*,
                                          v1::ListJobsReply* reply) {
  if (auto s = Authorize(c); !s.ok()) return s;
  std::lock_guard<std::mutex> lock(mu_);
  for (const v1::Job* job : scheduler_.Jobs()) *reply->add_jobs() = *job;
  return grpc::Status::OK;
}

grpc::Status CoordinatorService::DescribeJob(grpc::ServerContext* c, const v1::JobRequest* request,
                                             v1::Job* reply) {
  if (auto s = Authorize(c); !s.ok()) return s;
  std::lock_guard<std::mutex> lock(mu_);
  const v1::Job* job = scheduler_.Find(request->job_id());
  if (!job) return {grpc::StatusCode::NOT_FOUND, "no job " + request->job_id()};
  *reply = *job;
  return grpc::Status::OK;
}

grpc::Status CoordinatorService::CancelJob(grpc::ServerContext* c, const v1::JobRequest* request,
                                           v1::Job* reply) {
  if (auto s = Authorize(c); !s.ok()) return s;
  std::lock_guard<std::mutex> lock(mu_);
  Actions actions;
  if (auto rejected = scheduler_.Cancel(request->job_id(), options_.clock(), actions)) {
    return ToStatus(*rejected);
  }
  Apply(actions);
  *reply = *scheduler_.Find(request->job_id());
  return grpc::Status::OK;
}

grpc::Status CoordinatorService::WatchJob(grpc::ServerContext* c, const v1::JobRequest* request,
                                          grpc::ServerWriter<v1::JobEvent>* writer) {
  if (auto s = Authorize(c); !s.ok()) return s;
  std::unique_lock<std::mutex> lock(mu_);
  if (!scheduler_.Find(request->job_id())) {
    return {grpc::StatusCode::NOT_FOUND, "no job " + request->job_id()};
  }
  const std::string& id = request->job_id();
  size_t sent = 0;
  uint64_t progress_seen = 0;
  while (!c->IsCancelled()) {
    // The events not sent yet, then the latest progress if it is new: a watcher that falls
    // behind skips progress lines, never an event.
    const std::vector<v1::JobEvent>& events = events_[id];
    std::vector<v1::JobEvent> batch(events.begin() + sent, events.end());
    sent = events.size();
    const Progress& progress = progress_[id];
    if (progress.seq > progress_seen) batch.push_back(progress.latest);
    progress_seen = progress.seq;
    const bool done = IsFinished(scheduler_.Find(id)->state());
    lock.unlock();
    for (const v1::JobEvent& e : batch) {
      if (!writer->Write(e)) return grpc::Status::CANCELLED;
    }
    lock.lock();
    if (done && sent == events_[id].size() && progress_seen == progress_[id].seq) {
      return grpc::Status::OK;
    }
    if (stopping_) return {grpc::StatusCode::UNAVAILABLE, "the coordinator is shutting down"};
    changed_.wait_for(lock, std::chrono::seconds(1));
  }
  return grpc::Status::CANCELLED;
}

void CoordinatorService::NoteProgress(const v1::Job& job, double now) {
  Progress& p = progress_[job.id()];
  p.latest.set_job_id(job.id());
  p.latest.set_unix_time(now);
  p.latest.set_state(job.state());
  *p.latest.mutable_report() = job.last_report();
  ++p.seq;
  changed_.notify_all();
}

grpc::Status CoordinatorService::Join(grpc::ServerContext* c, const v1::WorkerId* request,
                                      v1::JoinReply* reply) {
  if (auto s = Authorize(c); !s.ok()) return s;
  std::lock_guard<std::mutex> lock(mu_);
  if (auto rejected = scheduler_.Join(*request, options_.clock())) return ToStatus(*rejected);
  reply->set_heartbeat_interval_s(options_.scheduler.heartbeat_interval_s);
  return grpc::Status::OK;
}

grpc::Status CoordinatorService::Heartbeat(grpc::ServerContext* c,
                                           const v1::HeartbeatRequest* request,
                                           v1::HeartbeatReply* reply) {
  if (auto s = Authorize(c); !s.ok()) return s;
  std::lock_guard<std::mutex> lock(mu_);
  const double now = options_.clock();
  Actions actions;
  auto r = scheduler_.Heartbeat(*request, now, actions);
  if (auto* rejected = std::get_if<Rejection>(&r)) return ToStatus(*rejected);
  *reply = std::get<v1::HeartbeatReply>(r);
  if (!actions.changed_jobs.empty()) {  // rank 0 made progress: tell watchers
    NoteProgress(*scheduler_.Find(request->worker().job_id()), now);
  }
  return grpc::Status::OK;
}

grpc::Status CoordinatorService::ReportCheckpoint(grpc::ServerContext* c,
                                                  const v1::CheckpointReport* request, v1::Empty*) {
  if (auto s = Authorize(c); !s.ok()) return s;
  std::lock_guard<std::mutex> lock(mu_);
  if (auto rejected = scheduler_.Checkpoint(*request, options_.clock())) return ToStatus(*rejected);
  Actions actions;
  actions.changed_jobs.push_back(request->worker().job_id());
  Apply(actions);  // durable before the worker hears back
  return grpc::Status::OK;
}

grpc::Status CoordinatorService::ReportExit(grpc::ServerContext* c, const v1::ExitReport* request,
                                            v1::Empty*) {
  if (auto s = Authorize(c); !s.ok()) return s;
  std::lock_guard<std::mutex> lock(mu_);
  const double now = options_.clock();
  if (auto rejected = scheduler_.Exit(*request, now)) return ToStatus(*rejected);
  const v1::Job& job = *scheduler_.Find(request->worker().job_id());
  if (request->worker().rank() == 0 && request->has_report()) NoteProgress(job, now);
  Actions actions;
  actions.changed_jobs.push_back(job.id());
  Apply(actions);
  return grpc::Status::OK;
}

}  // namespace sbmt::coordinator
