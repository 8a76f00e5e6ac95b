// The coordinator as a gRPC service: the Scheduler's decisions carried out (attempts launched as
// process groups, killed, their exits collected), every change persisted to the JobStore before
// it is acknowledged, events streamed to watchers. One mutex guards the state; a background
// thread ticks the scheduler (liveness, placement) and reaps launchers.
//
// Every RPC but the standard health service needs `authorization: Bearer <token>`
// (UNAUTHENTICATED otherwise; compared in constant time).
#pragma once

#include <grpcpp/grpcpp.h>
#include <prometheus/metric_family.h>
#include <sys/types.h>

#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "coordinator/job_store.h"
#include "coordinator/scheduler.h"
#include "proto/coordinator.grpc.pb.h"

namespace sbmt::coordinator {

struct ServiceOptions {
  std::string state_dir;        // state.db, jobs/<id>/attempt-N.log, jobs/<id>/run/
  std::string token;            // the bearer token every call must carry
  std::string token_file;       // passed to workers ({token_file})
  std::string worker_binary;    // {worker}
  std::string launch_template;  // default: DefaultLaunchTemplate()
  std::vector<std::string> worker_tls_args;  // {tls}: how workers reach a TLS coordinator
  SchedulerOptions scheduler;
  double tick_s = 0.1;
  std::function<double()> clock;  // Unix seconds; tests may inject another
};

class CoordinatorService final : public v1::Coordinator::Service {
 public:
  CoordinatorService(std::vector<Host> hosts, ServiceOptions options);
  // Stops the tick thread. Running attempts are left running: a restarted coordinator adopts
  // them when their workers reconnect.
  ~CoordinatorService() override;

  grpc::Status GetServerInfo(grpc::ServerContext* c, const v1::ServerInfoRequest* request,
                             v1::ServerInfo* reply) override;
  grpc::Status SubmitJob(grpc::ServerContext* c, const v1::SubmitJobRequest* request,
                         v1::SubmitJobReply* reply) override;
  grpc::Status ListJobs(grpc::ServerContext* c, const v1::ListJobsRequest* request,
                        v1::ListJobsReply* reply) override;
  grpc::Status DescribeJob(grpc::ServerContext* c, const v1::JobRequest* request,
                           v1::Job* reply) override;
  grpc::Status CancelJob(grpc::ServerContext* c, const v1::JobRequest* request,
                         v1::Job* reply) override;
  grpc::Status WatchJob(grpc::ServerContext* c, const v1::JobRequest* request,
                        grpc::ServerWriter<v1::JobEvent>* writer) override;
  grpc::Status Join(grpc::ServerContext* c, const v1::WorkerId* request,
                    v1::JoinReply* reply) override;
  grpc::Status Heartbeat(grpc::ServerContext* c, const v1::HeartbeatRequest* request,
                         v1::HeartbeatReply* reply) override;
  grpc::Status ReportCheckpoint(grpc::ServerContext* c, const v1::CheckpointReport* request,
                                v1::Empty* reply) override;
  grpc::Status ReportExit(grpc::ServerContext* c, const v1::ExitReport* request,
                          v1::Empty* reply) override;

  // The /metrics snapshot (coordinator/metrics.h), taken under the service's lock.
  std::vector<prometheus::MetricFamily> CollectMetrics();

  // Starts ticking (launching, watching) with the address workers dial ({address}).
  void Start(const std::string& address);
  // Ends WatchJob streams and the tick thread (before the server shuts down).
  void Stop();

 private:
  grpc::Status Authorize(const grpc::ServerContext* c) const;
  // Persists changed jobs and new events, launches and kills; under mu_.
  void Apply(Actions& actions);
  void Launch(LaunchAction launch, Actions& actions);
  void NoteProgress(const v1::Job& job, double now);  // under mu_
  void TickLoop();

  ServiceOptions options_;
  std::string address_;
  double start_time_;
  std::mutex mu_;
  std::condition_variable changed_;
  Scheduler scheduler_;
  JobStore store_;
  struct Launched {
    int attempt = 0;
    pid_t pid = 0;
    bool ours = true;  // our child (reapable), not one adopted after a restart
  };
  std::map<std::string, Launched> launched_;
  std::vector<pid_t> reap_;                                  // killed launchers not yet collected
  std::map<std::string, std::vector<v1::JobEvent>> events_;  // per job, for watchers
  // Rank 0's latest step per job: one slot, overwritten, so a long job's progress does not
  // accumulate in memory; `seq` tells watchers it is new.
  struct Progress {
    uint64_t seq = 0;
    v1::JobEvent latest;
  };
  std::map<std::string, Progress> progress_;
  bool stopping_ = false;
  std::thread ticker_;
};

}  // namespace sbmt::coordinator
