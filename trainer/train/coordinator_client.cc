#include "trainer/train/coordinator_client.h"

#include <grpcpp/grpcpp.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <sstream>
#include <thread>

#include "proto/coordinator.grpc.pb.h"
#include "runtime/stop_signal.h"
#include "runtime/text_file.h"
#include "trainer/checkpoint/checkpoint_store.h"

namespace sbmt::trainer {
namespace {

namespace cv1 = ::sbmt::coordinator::v1;
using Clock = std::chrono::steady_clock;

// CRC-32 of the checkpoint's MANIFEST, which lists every file's size and CRC: the identity of
// the committed step the coordinator records.
std::string ManifestCrc(const std::string& dir) {
  std::ifstream in(std::filesystem::path(dir) / "MANIFEST", std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  char hex[16];
  std::snprintf(hex, sizeof hex, "%08x", static_cast<unsigned>(Crc32(s.str())));
  return hex;
}

}  // namespace

struct CoordinatorClient::State {
  CoordinatorClientOptions options;
  std::string token;
  std::unique_ptr<cv1::Coordinator::Stub> stub;
  cv1::WorkerId worker;
  double interval_s = 1;
  std::mutex mu;
  std::condition_variable wake;
  bool stopping = false;
  cv1::WorkerState state = cv1::STARTING;
  v1::StepReport latest;
  bool has_latest = false;
  v1::EvalReport latest_eval;
  bool has_eval = false;
  std::thread heartbeats;

  std::unique_ptr<grpc::ClientContext> Context(double deadline_s) const {
    auto c = std::make_unique<grpc::ClientContext>();
    c->AddMetadata("authorization", "Bearer " + token);
    c->set_deadline(std::chrono::system_clock::now() +
                    std::chrono::milliseconds(static_cast<int64_t>(deadline_s * 1000)));
    return c;
  }

  // A rejected worker request means this attempt no longer exists: the coordinator has killed
  // its process group or is about to; nothing this rank does can count any more.
  void ExitIfStale(const grpc::Status& status) const {
    if (status.error_code() == grpc::StatusCode::FAILED_PRECONDITION ||
        status.error_code() == grpc::StatusCode::NOT_FOUND) {
      std::fprintf(stderr, "sbmt_worker: the coordinator ended this attempt (%s); exiting\n",
                   status.error_message().c_str());
      std::_Exit(3);
    }
  }

  void Loop() {
    std::unique_lock<std::mutex> lock(mu);
    while (!stopping) {
      cv1::HeartbeatRequest beat;
      *beat.mutable_worker() = worker;
      beat.set_state(state);
      if (options.collectives) beat.set_collectives_issued(options.collectives());
      if (has_latest) *beat.mutable_report() = latest;
      if (has_eval) *beat.mutable_eval() = latest_eval;
      lock.unlock();
      cv1::HeartbeatReply reply;
      const grpc::Status status = stub->Heartbeat(Context(interval_s).get(), beat, &reply);
      if (status.ok() && reply.stop()) runtime::RequestStop(SIGTERM);
      ExitIfStale(status);  // UNAVAILABLE (a restarting coordinator) is retried next beat
      lock.lock();
      wake.wait_for(lock, std::chrono::duration<double>(interval_s));
    }
  }
};

CoordinatorClient::CoordinatorClient(const CoordinatorClientOptions& options)
    : s_(std::make_unique<State>()) {
  State& s = *s_;
  s.options = options;
  s.token = runtime::ReadTokenFile(options.token_file, "--coordinator-token-file");
  std::shared_ptr<grpc::ChannelCredentials> credentials = grpc::InsecureChannelCredentials();
  if (!options.tls_ca.empty()) {
    grpc::SslCredentialsOptions ssl;
    ssl.pem_root_certs = runtime::ReadTextFile(options.tls_ca, "--coordinator-tls-ca");
    if (!options.tls_cert.empty()) {
      ssl.pem_cert_chain = runtime::ReadTextFile(options.tls_cert, "--coordinator-tls-cert");
      ssl.pem_private_key = runtime::ReadTextFile(options.tls_key, "--coordinator-tls-key");
    }
    credentials = grpc::SslCredentials(ssl);
  }
  s.stub = cv1::Coordinator::NewStub(grpc::CreateChannel(options.address, credentials));
  s.worker.set_job_id(options.job);
  s.worker.set_attempt(options.attempt);
  s.worker.set_rank(options.rank);
  s.worker.set_host(options.host);
  s.worker.set_pid(static_cast<int32_t>(getpid()));
  // Join with backoff: the coordinator may be starting or restarting.
  const auto deadline = Clock::now() + std::chrono::duration<double>(options.join_timeout_s);
  double backoff = 0.1;
  for (;;) {
    cv1::JoinReply reply;
    const grpc::Status status = s.stub->Join(s.Context(5).get(), s.worker, &reply);
    if (status.ok()) {
      s.interval_s = reply.heartbeat_interval_s() > 0 ? reply.heartbeat_interval_s() : 1;
      break;
    }
    if (status.error_code() != grpc::StatusCode::UNAVAILABLE &&
        status.error_code() != grpc::StatusCode::DEADLINE_EXCEEDED) {
      throw Error(ErrorCode::kFailedPrecondition,
                  "coordinator " + options.address + " refused job " + options.job + " attempt " +
                      std::to_string(options.attempt) + " rank " + std::to_string(options.rank) +
                      ": " + status.error_message());
    }
    if (Clock::now() > deadline) {
      throw Error(ErrorCode::kUnavailable, "no coordinator answered at " + options.address +
                                               " within " +
                                               std::to_string(int(options.join_timeout_s)) + " s");
    }
    std::this_thread::sleep_for(std::chrono::duration<double>(backoff));
    backoff = std::min(2.0, backoff * 2);
  }
  s.heartbeats = std::thread([&s] { s.Loop(); });
}

CoordinatorClient::~CoordinatorClient() {
  {
    std::lock_guard<std::mutex> lock(s_->mu);
    s_->stopping = true;
  }
  s_->wake.notify_all();
  if (s_->heartbeats.joinable()) s_->heartbeats.join();
}

void CoordinatorClient::OnStep(const v1::StepReport& report) {
  State& s = *s_;
  {
    std::lock_guard<std::mutex> lock(s.mu);
    s.latest = report;
    s.has_latest = true;
    s.state = cv1::TRAINING;
  }
  if (!report.checkpoint().empty()) {
    ReportCheckpoint(report.step(), report.checkpoint(), report.phases().checkpoint());
  }
}

void CoordinatorClient::OnEval(const v1::EvalReport& report) {
  State& s = *s_;
  if (s.options.rank != 0) return;  // every rank evaluates; rank 0's report is the job's
  std::lock_guard<std::mutex> lock(s.mu);
  s.latest_eval = report;
  s.has_eval = true;
}

void CoordinatorClient::ReportCheckpoint(int64_t step, const std::string& dir,
                                         double save_seconds) {
  State& s = *s_;
  if (s.options.rank != 0) return;  // rank 0 writes checkpoints
  // Recorded by the coordinator before training goes on: a restart resumes from exactly this
  // step. A coordinator that is down is retried a few times; the worker's own resume logic finds
  // the checkpoint either way, and the exit reports the newest again.
  cv1::CheckpointReport c;
  *c.mutable_worker() = s.worker;
  c.set_step(step);
  c.set_path(std::filesystem::absolute(dir).string());
  c.set_manifest_crc(ManifestCrc(dir));
  c.set_save_seconds(save_seconds);
  std::error_code ec;
  int64_t bytes = 0;
  for (const auto& f : std::filesystem::directory_iterator(dir, ec)) {
    if (f.is_regular_file(ec)) bytes += static_cast<int64_t>(f.file_size(ec));
  }
  c.set_size_bytes(bytes);
  for (int attempt = 0; attempt < 5; ++attempt) {
    cv1::Empty reply;
    const grpc::Status status = s.stub->ReportCheckpoint(s.Context(5).get(), c, &reply);
    if (status.ok()) return;
    s.ExitIfStale(status);
    std::this_thread::sleep_for(std::chrono::milliseconds(200 << attempt));
  }
  std::fprintf(stderr, "sbmt_worker: could not report checkpoint %s to the coordinator\n",
               c.path().c_str());
}

void CoordinatorClient::Exit(int exit_code, const std::string& reason, int64_t final_step) {
  State& s = *s_;
  {
    std::lock_guard<std::mutex> lock(s.mu);
    s.stopping = true;
  }
  s.wake.notify_all();
  if (s.heartbeats.joinable()) s.heartbeats.join();
  cv1::ExitReport e;
  *e.mutable_worker() = s.worker;
  e.set_exit_code(exit_code);
  e.set_reason(reason);
  e.set_final_step(final_step);
  {
    std::lock_guard<std::mutex> lock(s.mu);
    if (s.has_latest) *e.mutable_report() = s.latest;
  }
  cv1::Empty reply;
  (void)s.stub->ReportExit(s.Context(5).get(), e, &reply);  // best effort: the launcher's exit
                                                            // tells the coordinator too
}

}  // namespace sbmt::trainer
