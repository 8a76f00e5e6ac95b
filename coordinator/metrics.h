// The coordinator's Prometheus metrics (DESIGN.md section 7): one table of definitions (name,
// type, help, labels), and a snapshot of the scheduler's state in those families, taken at
// scrape time, so that a series exists exactly while what it describes does. Naming follows
// Prometheus: prefix sbmt_, base units, _seconds, _total for counters, _ratio for 0-1.
//
// Labels stay bounded: per-job series only for jobs queued or running (finished jobs are
// counted in sbmt_jobs by state), per rank and per (layer, head) only for those jobs. The job's
// label is job_id: Prometheus gives every scraped series a `job` label of its own (the scrape
// job), which would rename ours.
//
//   for (const MetricDefinition& d : CoordinatorMetricDefinitions()) ...   // docs, tests
//   std::vector<prometheus::MetricFamily> families = SnapshotMetrics(scheduler, now);
#pragma once

#include <prometheus/metric_family.h>

#include <string>
#include <vector>

#include "coordinator/scheduler.h"

namespace sbmt::coordinator {

struct MetricDefinition {
  std::string name;
  prometheus::MetricType type;
  std::string help;
  std::vector<std::string> labels;
};

const std::vector<MetricDefinition>& CoordinatorMetricDefinitions();

// The defined families that have samples now, in table order; the caller holds whatever lock
// guards `scheduler`.
std::vector<prometheus::MetricFamily> SnapshotMetrics(const Scheduler& scheduler, double now);

}  // namespace sbmt::coordinator
