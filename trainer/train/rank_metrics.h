// A worker rank's own Prometheus metrics (sbmt_worker --metrics-port=BASE serves them on
// BASE + local rank), for debugging one rank without the coordinator: every step of this rank,
// not a heartbeat's sample. Families are prefixed sbmt_rank_ (the coordinator's sbmt_worker_
// families describe ranks from the outside); docs/METRICS.md lists them.
//
//   RankMetrics metrics(rank);
//   trainer.OnStep([&](const v1::StepReport& r) { metrics.Observe(r); });
//   prometheus::Exposer exposer("0.0.0.0:9500");
//   exposer.RegisterCollectable(metrics.registry());
#pragma once

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <map>
#include <memory>
#include <string>
#include <utility>

#include "proto/step_report.pb.h"

namespace sbmt::trainer {

class RankMetrics {
 public:
  explicit RankMetrics(int rank);

  // One optimizer step of this rank (thread-safe: prometheus-cpp metrics are atomic).
  void Observe(const v1::StepReport& report);

  std::shared_ptr<prometheus::Registry> registry() const { return registry_; }

 private:
  std::shared_ptr<prometheus::Registry> registry_;
  prometheus::Labels rank_;
  prometheus::Counter& steps_;
  prometheus::Counter& skipped_;
  prometheus::Counter& tokens_;
  prometheus::Counter& sequences_;
  prometheus::Histogram& step_seconds_;
  prometheus::Histogram& checkpoint_seconds_;
  prometheus::Family<prometheus::Counter>& phase_seconds_;
  prometheus::Counter& allreduce_seconds_;
  prometheus::Counter& allreduce_bytes_;
  prometheus::Gauge& loss_;
  prometheus::Gauge& learning_rate_;
  prometheus::Gauge& step_;
  prometheus::Family<prometheus::Gauge>& density_;
  prometheus::Family<prometheus::Gauge>& expected_density_;
};

}  // namespace sbmt::trainer
