#include "coordinator/metrics.h"

#include <algorithm>
#include <map>

namespace sbmt::coordinator {
namespace {

using prometheus::MetricType;

// The families, in exposition order. The labels listed are the only ones each family carries.
const std::vector<MetricDefinition> kDefinitions = {
    {"sbmt_coordinator_info",
     MetricType::Gauge,
     "Always 1; the coordinator's version.",
     {"version"}},
    {"sbmt_jobs", MetricType::Gauge, "Jobs known to the coordinator, by state.", {"state"}},
    {"sbmt_job_world_size",
     MetricType::Gauge,
     "Ranks of a queued or running job.",
     {"job_id", "name"}},
    {"sbmt_job_running",
     MetricType::Gauge,
     "1 while an attempt of the job runs, 0 while queued.",
     {"job_id"}},
    {"sbmt_job_restarts_total",
     MetricType::Counter,
     "Attempts restarted after a failure, since submission.",
     {"job_id"}},
    {"sbmt_job_last_committed_step",
     MetricType::Gauge,
     "Step of the newest checkpoint recorded as committed.",
     {"job_id"}},
    {"sbmt_checkpoints_committed_total",
     MetricType::Counter,
     "Committed checkpoints rank 0 reported, each newer than the last.",
     {"job_id"}},
    {"sbmt_checkpoint_last_commit_timestamp_seconds",
     MetricType::Gauge,
     "Unix time the newest committed checkpoint was reported.",
     {"job_id"}},
    {"sbmt_checkpoint_save_seconds",
     MetricType::Gauge,
     "Time writing and committing the newest checkpoint took.",
     {"job_id"}},
    {"sbmt_checkpoint_size_bytes",
     MetricType::Gauge,
     "Size of the newest checkpoint's files.",
     {"job_id"}},
    {"sbmt_job_incidents_total",
     MetricType::Counter,
     "Failed attempts (the goodput ledger), by cause (startup_timeout, heartbeats_missed, "
     "collective_stalled, process_exited).",
     {"job_id", "cause"}},
    {"sbmt_job_detection_seconds_total",
     MetricType::Counter,
     "Summed time from each failed rank's last sign of life to the failure being declared.",
     {"job_id"}},
    {"sbmt_job_restart_seconds_total",
     MetricType::Counter,
     "Summed time from each failure to the next attempt's first step.",
     {"job_id"}},
    {"sbmt_job_steps_recomputed_total",
     MetricType::Counter,
     "Steps done after the last committed checkpoint and lost to failures.",
     {"job_id"}},
    {"sbmt_job_useful_step_seconds_total",
     MetricType::Counter,
     "Step time that moved the job past the furthest step it had reached (its rate over a "
     "window is the goodput: the share of wall time spent on useful steps).",
     {"job_id"}},
    {"sbmt_job_goodput_ratio",
     MetricType::Gauge,
     "Useful step seconds over the wall time since the job's first attempt started.",
     {"job_id"}},
    {"sbmt_worker_up",
     MetricType::Gauge,
     "1 when the rank joined and its last heartbeat is within the dead-rank deadline.",
     {"job_id", "rank", "host"}},
    {"sbmt_worker_last_heartbeat_timestamp_seconds",
     MetricType::Gauge,
     "Unix time of the rank's last heartbeat.",
     {"job_id", "rank", "host"}},
    {"sbmt_worker_collectives_issued",
     MetricType::Gauge,
     "Collectives the rank has issued in this attempt (a lagging rank stalls its peers).",
     {"job_id", "rank", "host"}},
    {"sbmt_worker_compute_seconds",
     MetricType::Gauge,
     "The rank's latest step time less the communication it waited for.",
     {"job_id", "rank", "host"}},
    {"sbmt_worker_straggler_ratio",
     MetricType::Gauge,
     "The rank's compute time over the median of its job's ranks (its peers wait for a rank "
     "above 1).",
     {"job_id", "rank", "host"}},
    {"sbmt_training_step",
     MetricType::Gauge,
     "Optimizer steps completed (rank 0's last report).",
     {"job_id"}},
    {"sbmt_training_total_steps", MetricType::Gauge, "Steps the schedule runs to.", {"job_id"}},
    {"sbmt_training_last_step_timestamp_seconds",
     MetricType::Gauge,
     "Unix time the last reported step ended.",
     {"job_id"}},
    {"sbmt_training_loss",
     MetricType::Gauge,
     "Training loss of the last reported step.",
     {"job_id"}},
    {"sbmt_training_learning_rate",
     MetricType::Gauge,
     "Learning rate of the last step.",
     {"job_id"}},
    {"sbmt_training_grad_norm",
     MetricType::Gauge,
     "Global gradient L2 norm of the last step, before clipping.",
     {"job_id"}},
    {"sbmt_training_step_seconds", MetricType::Gauge, "Wall time of the last step.", {"job_id"}},
    {"sbmt_training_step_tokens",
     MetricType::Gauge,
     "Non-padding tokens of the last global batch.",
     {"job_id"}},
    {"sbmt_training_skipped_steps",
     MetricType::Gauge,
     "Steps skipped for non-finite loss or gradients in this run.",
     {"job_id"}},
    {"sbmt_training_task_metric",
     MetricType::Gauge,
     "The task's own metric of the last step (mlm_accuracy, accuracy, ...).",
     {"job_id", "metric"}},
    {"sbmt_training_phase_seconds",
     MetricType::Gauge,
     "Time of the last step by phase (data, forward, backward, exposed_comm, optimizer, "
     "checkpoint).",
     {"job_id", "phase"}},
    {"sbmt_training_allreduce_seconds",
     MetricType::Gauge,
     "Wall time of the last step's gradient allreduce on rank 0, first bucket launch to last "
     "completion (mostly hidden behind backward; phase exposed_comm is the rest).",
     {"job_id"}},
    {"sbmt_training_allreduce_bytes",
     MetricType::Gauge,
     "Gradient bytes rank 0 reduced in the last step (payload, not wire traffic).",
     {"job_id"}},
    {"sbmt_eval_step",
     MetricType::Gauge,
     "Optimizer steps completed when the latest evaluation ran.",
     {"job_id"}},
    {"sbmt_eval_loss",
     MetricType::Gauge,
     "Task loss of the latest evaluation (without the attention regularizer).",
     {"job_id"}},
    {"sbmt_eval_metric",
     MetricType::Gauge,
     "The task's metrics on the latest evaluation (accuracy, matthews_corr, mlm_accuracy, ...).",
     {"job_id", "metric"}},
    {"sbmt_attention_edges",
     MetricType::Gauge,
     "Attended (query, key) pairs per sequence in the last step, per layer and head.",
     {"job_id", "layer", "head"}},
    {"sbmt_attention_density_ratio",
     MetricType::Gauge,
     "Sampled attention density (edges over valid pairs) of the last step, per layer and head.",
     {"job_id", "layer", "head"}},
    {"sbmt_attention_expected_density_ratio",
     MetricType::Gauge,
     "Density the SBM's block probabilities expect, per layer and head.",
     {"job_id", "layer", "head"}},
};

class Builder {
 public:
  Builder() {
    for (const MetricDefinition& d : kDefinitions) {
      prometheus::MetricFamily& f = families_.emplace_back();
      f.name = d.name;
      f.help = d.help;
      f.type = d.type;
      index_[d.name] = families_.size() - 1;
    }
  }

  // One sample; labels in the definition's order.
  void Add(const std::string& name, const std::vector<std::string>& values, double value) {
    const MetricDefinition& d = kDefinitions[index_.at(name)];
    prometheus::MetricFamily& f = families_[index_.at(name)];
    prometheus::ClientMetric& m = f.metric.emplace_back();
    for (size_t i = 0; i < d.labels.size(); ++i) m.label.push_back({d.labels[i], values.at(i)});
    if (d.type == MetricType::Counter) {
      m.counter.value = value;
    } else {
      m.gauge.value = value;
    }
  }

  // The families with samples (an empty family is noise to a scraper).
  std::vector<prometheus::MetricFamily> Take() {
    std::vector<prometheus::MetricFamily> out;
    for (prometheus::MetricFamily& f : families_) {
      if (!f.metric.empty()) out.push_back(std::move(f));
    }
    return out;
  }

 private:
  std::vector<prometheus::MetricFamily> families_;
  std::map<std::string, size_t> index_;
};

}  // namespace

const std::vector<MetricDefinition>& CoordinatorMetricDefinitions() { return kDefinitions; }

std::vector<prometheus::MetricFamily> SnapshotMetrics(const Scheduler& scheduler, double now) {
  Builder b;
  b.Add("sbmt_coordinator_info", {"0.1.0"}, 1);
  std::map<std::string, int> by_state;
  for (int s = v1::QUEUED; s <= v1::CANCELLED; ++s) by_state[v1::JobState_Name(s)] = 0;
  const SchedulerOptions& o = scheduler.options();
  const double dead_after = o.missed_beats * o.heartbeat_interval_s + o.tolerance_s;
  for (const v1::Job* job : scheduler.Jobs()) {
    ++by_state[v1::JobState_Name(job->state())];
    if (IsFinished(job->state())) continue;  // only queued and running jobs
    const std::string& id = job->id();
    b.Add("sbmt_job_world_size", {id, job->spec().name()}, job->spec().world_size());
    b.Add("sbmt_job_running", {id}, job->state() == v1::RUNNING ? 1 : 0);
    b.Add("sbmt_job_restarts_total", {id}, job->restarts());
    b.Add("sbmt_job_last_committed_step", {id}, static_cast<double>(job->last_committed_step()));
    b.Add("sbmt_checkpoints_committed_total", {id}, job->checkpoints_committed());
    if (job->checkpoints_committed() > 0) {
      b.Add("sbmt_checkpoint_last_commit_timestamp_seconds", {id}, job->last_checkpoint_unix());
      b.Add("sbmt_checkpoint_save_seconds", {id}, job->last_checkpoint_save_s());
      b.Add("sbmt_checkpoint_size_bytes", {id}, static_cast<double>(job->last_checkpoint_bytes()));
    }
    double detection = 0, restart = 0, recomputed = 0;
    std::map<std::string, int> by_cause;
    for (const char* cause : kIncidentCauses) by_cause[cause] = 0;
    for (const v1::Incident& i : job->incidents()) {
      if (by_cause.count(i.cause())) ++by_cause[i.cause()];
      detection += i.detection_latency_s();
      restart += i.restart_latency_s();
      recomputed += static_cast<double>(i.steps_recomputed());
    }
    for (const auto& [cause, count] : by_cause)
      b.Add("sbmt_job_incidents_total", {id, cause}, count);
    b.Add("sbmt_job_detection_seconds_total", {id}, detection);
    b.Add("sbmt_job_restart_seconds_total", {id}, restart);
    b.Add("sbmt_job_steps_recomputed_total", {id}, recomputed);
    b.Add("sbmt_job_useful_step_seconds_total", {id}, job->useful_step_seconds());
    if (job->attempts_size() > 0 && now > job->attempts(0).started_unix()) {
      b.Add("sbmt_job_goodput_ratio", {id},
            std::min(1.0, job->useful_step_seconds() / (now - job->attempts(0).started_unix())));
    }
    if (job->has_last_eval()) {
      const sbmt::v1::EvalReport& e = job->last_eval();
      b.Add("sbmt_eval_step", {id}, static_cast<double>(e.step()));
      b.Add("sbmt_eval_loss", {id}, e.loss());
      for (const auto& [metric, value] :
           std::map<std::string, double>(e.metrics().begin(), e.metrics().end())) {
        b.Add("sbmt_eval_metric", {id, metric}, value);
      }
    }
    for (const Scheduler::RankView& r : scheduler.RanksOf(id)) {
      const std::vector<std::string> labels = {id, std::to_string(r.rank), r.host};
      b.Add("sbmt_worker_up", labels, r.joined && now - r.last_beat <= dead_after ? 1 : 0);
      if (r.joined) {
        b.Add("sbmt_worker_last_heartbeat_timestamp_seconds", labels, r.last_beat);
        b.Add("sbmt_worker_collectives_issued", labels, static_cast<double>(r.collectives));
      }
      if (r.compute_seconds >= 0) b.Add("sbmt_worker_compute_seconds", labels, r.compute_seconds);
      if (r.straggler_ratio >= 0) b.Add("sbmt_worker_straggler_ratio", labels, r.straggler_ratio);
    }
    if (!job->has_last_report()) continue;
    const sbmt::v1::StepReport& r = job->last_report();
    b.Add("sbmt_training_step", {id}, static_cast<double>(r.step()));
    b.Add("sbmt_training_total_steps", {id}, static_cast<double>(r.total_steps()));
    b.Add("sbmt_training_last_step_timestamp_seconds", {id}, r.unix_time());
    b.Add("sbmt_training_loss", {id}, r.loss());
    b.Add("sbmt_training_learning_rate", {id}, r.learning_rate());
    b.Add("sbmt_training_grad_norm", {id}, r.grad_norm());
    b.Add("sbmt_training_step_seconds", {id}, r.step_seconds());
    b.Add("sbmt_training_step_tokens", {id}, static_cast<double>(r.tokens()));
    b.Add("sbmt_training_skipped_steps", {id}, static_cast<double>(r.skipped_steps()));
    b.Add("sbmt_training_allreduce_seconds", {id}, r.allreduce_seconds());
    b.Add("sbmt_training_allreduce_bytes", {id}, static_cast<double>(r.allreduce_bytes()));
    for (const auto& [metric, value] :
         std::map<std::string, double>(r.metrics().begin(), r.metrics().end())) {
      b.Add("sbmt_training_task_metric", {id, metric}, value);
    }
    const sbmt::v1::PhaseSeconds& p = r.phases();
    const std::pair<const char*, double> phases[] = {
        {"data", p.data()},           {"forward", p.forward()},
        {"backward", p.backward()},   {"exposed_comm", p.exposed_comm()},
        {"optimizer", p.optimizer()}, {"checkpoint", p.checkpoint()}};
    for (const auto& [phase, seconds] : phases)
      b.Add("sbmt_training_phase_seconds", {id, phase}, seconds);
    for (const sbmt::v1::HeadAttention& h : r.attention()) {
      const std::vector<std::string> labels = {id, std::to_string(h.layer()),
                                               std::to_string(h.head())};
      b.Add("sbmt_attention_edges", labels, h.edges());
      b.Add("sbmt_attention_density_ratio", labels, h.density());
      b.Add("sbmt_attention_expected_density_ratio", labels, h.expected_density());
    }
  }
  for (const auto& [state, count] : by_state) b.Add("sbmt_jobs", {state}, count);
  return b.Take();
}

}  // namespace sbmt::coordinator
