// A worker rank's side of the coordinator protocol (proto/coordinator.proto): it joins its job's
// attempt, sends a heartbeat every interval from a background thread (its state and latest
// StepReport), reports each committed checkpoint (rank 0) before training goes on, and its exit.
// A heartbeat reply asking to stop (the job was cancelled) becomes a graceful stop, as SIGTERM;
// a reply saying this attempt is stale (the coordinator replaced it) ends the process at once.
// While the coordinator is unreachable (restarting), the client keeps trying and training goes on.
//
//   CoordinatorClient client({address, token_file, job, attempt, rank, host});
//   trainer.OnStep([&](const v1::StepReport& r) { client.OnStep(r); });
//   ...
//   client.Exit(0, "done", final_step);
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "proto/step_report.pb.h"
#include "runtime/error.h"

namespace sbmt::trainer {

struct CoordinatorClientOptions {
  std::string address;
  std::string token_file;
  std::string job;
  int attempt = 0;
  int rank = 0;
  std::string host;
  // TLS: the CA that signed the coordinator's certificate; for mutual TLS also this worker's
  // certificate and key (PEM files). Empty: plaintext.
  std::string tls_ca, tls_cert, tls_key;
  double join_timeout_s = 60;  // the coordinator may still be starting
  // Collectives this rank has issued (Communicator::collectives_issued), read by each heartbeat.
  std::function<int64_t()> collectives;
};

class CoordinatorClient {
 public:
  // Joins; throws Error naming the coordinator when the token cannot be read, the join is
  // refused, or no coordinator answers within join_timeout_s.
  explicit CoordinatorClient(const CoordinatorClientOptions& options);
  ~CoordinatorClient();

  // The rank's latest step; rank 0 reports its committed checkpoint (r.checkpoint) here.
  void OnStep(const v1::StepReport& report);
  // Rank 0's latest evaluation, sent with the next heartbeats.
  void OnEval(const v1::EvalReport& report);
  // Rank 0: a committed checkpoint (also one committed while the coordinator was away, reported
  // at exit); the coordinator keeps the newest.
  void ReportCheckpoint(int64_t step, const std::string& dir, double save_seconds = 0);
  // Reports the exit and stops heartbeats.
  void Exit(int exit_code, const std::string& reason, int64_t final_step);

 private:
  struct State;
  std::unique_ptr<State> s_;
};

}  // namespace sbmt::trainer
