// The metric definitions are the exposition's and the documentation's: every family a snapshot
// holds is defined with its type and exactly its labels, every defined name follows Prometheus
// naming (counters end in _total and only they do), and docs/METRICS.md lists each with its type.
#include "coordinator/metrics.h"

#include <gtest/gtest.h>

#include <fstream>
#include <regex>
#include <sstream>

namespace sbmt::coordinator {
namespace {

const MetricDefinition* Definition(const std::string& name) {
  for (const MetricDefinition& d : CoordinatorMetricDefinitions()) {
    if (d.name == name) return &d;
  }
  return nullptr;
}

TEST(Metrics, NamesFollowPrometheusConventions) {
  const std::regex valid("sbmt_[a-z0-9_]+");
  for (const MetricDefinition& d : CoordinatorMetricDefinitions()) {
    EXPECT_TRUE(std::regex_match(d.name, valid)) << d.name;
    const bool total = d.name.size() > 6 && d.name.compare(d.name.size() - 6, 6, "_total") == 0;
    EXPECT_EQ(total, d.type == prometheus::MetricType::Counter) << d.name;
    EXPECT_FALSE(d.help.empty()) << d.name;
    for (const std::string& label : d.labels) EXPECT_NE(label, "step") << d.name;  // unbounded
  }
}

TEST(Metrics, ASnapshotOfARunningJobUsesOnlyDefinedFamiliesAndLabels) {
  Scheduler s({{"a", 2}}, {});
  v1::JobSpec spec;
  spec.set_name("j");
  spec.set_config("c.yaml");
  spec.set_world_size(2);
  const std::string id = std::get<std::string>(s.Submit(spec, 0));
  s.Tick(0);
  for (int rank = 0; rank < 2; ++rank) {
    v1::HeartbeatRequest beat;
    beat.mutable_worker()->set_job_id(id);
    beat.mutable_worker()->set_attempt(1);
    beat.mutable_worker()->set_rank(rank);
    beat.set_collectives_issued(40);
    sbmt::v1::StepReport& r = *beat.mutable_report();
    r.set_step(7);
    // Rank 1 computes for 0.9 s, rank 0 for 0.6 s and then waits 0.3 s for rank 1.
    r.set_step_seconds(0.9);
    r.mutable_phases()->set_exposed_comm(rank == 0 ? 0.3 : 0.0);
    r.set_loss(2.5);
    r.set_allreduce_seconds(0.4);
    r.set_allreduce_bytes(1 << 20);
    if (rank == 0) {
      sbmt::v1::EvalReport& e = *beat.mutable_eval();
      e.set_step(5);
      e.set_loss(2.75);
      (*e.mutable_metrics())["accuracy"] = 0.625;
      e.set_unix_time(0.9);
    }
    (*r.mutable_metrics())["mlm_accuracy"] = 0.25;
    sbmt::v1::HeadAttention& h = *r.add_attention();
    h.set_layer(1);
    h.set_head(0);
    h.set_density(0.3);
    Actions a;
    s.Heartbeat(beat, 1, a);
  }
  v1::CheckpointReport c;
  c.mutable_worker()->set_job_id(id);
  c.mutable_worker()->set_attempt(1);
  c.set_step(5);
  c.set_save_seconds(1.5);
  c.set_size_bytes(4096);
  ASSERT_FALSE(s.Checkpoint(c, 1.25).has_value());
  const std::vector<prometheus::MetricFamily> families = SnapshotMetrics(s, 1.5);
  std::map<std::string, double> samples;
  for (const prometheus::MetricFamily& f : families) {
    const MetricDefinition* d = Definition(f.name);
    ASSERT_NE(d, nullptr) << f.name;
    EXPECT_EQ(f.type, d->type) << f.name;
    for (const prometheus::ClientMetric& m : f.metric) {
      ASSERT_EQ(m.label.size(), d->labels.size()) << f.name;
      std::string key = f.name;
      for (size_t i = 0; i < m.label.size(); ++i) {
        EXPECT_EQ(m.label[i].name, d->labels[i]) << f.name;
        key += "," + m.label[i].value;
      }
      samples[key] = d->type == prometheus::MetricType::Counter ? m.counter.value : m.gauge.value;
    }
  }
  EXPECT_EQ(samples["sbmt_jobs,RUNNING"], 1);
  EXPECT_EQ(samples["sbmt_training_step," + id], 7);
  EXPECT_EQ(samples["sbmt_training_loss," + id], 2.5);
  EXPECT_EQ(samples["sbmt_training_task_metric," + id + ",mlm_accuracy"], 0.25);
  EXPECT_EQ(samples["sbmt_attention_density_ratio," + id + ",1,0"], 0.3);
  EXPECT_EQ(samples["sbmt_worker_up," + id + ",1,a"], 1);
  EXPECT_EQ(samples["sbmt_worker_collectives_issued," + id + ",0,a"], 40);
  EXPECT_NEAR(samples["sbmt_worker_compute_seconds," + id + ",0,a"], 0.6, 1e-12);
  EXPECT_EQ(samples["sbmt_checkpoints_committed_total," + id], 1);
  EXPECT_EQ(samples["sbmt_checkpoint_last_commit_timestamp_seconds," + id], 1.25);
  EXPECT_EQ(samples["sbmt_checkpoint_save_seconds," + id], 1.5);
  EXPECT_EQ(samples["sbmt_checkpoint_size_bytes," + id], 4096);
  EXPECT_NEAR(samples["sbmt_worker_straggler_ratio," + id + ",1,a"], 0.9 / 0.75, 1e-12);
  EXPECT_NEAR(samples["sbmt_worker_straggler_ratio," + id + ",0,a"], 0.6 / 0.75, 1e-12);
  EXPECT_EQ(samples["sbmt_training_allreduce_seconds," + id], 0.4);
  EXPECT_EQ(samples["sbmt_training_allreduce_bytes," + id], 1 << 20);
  EXPECT_EQ(samples["sbmt_eval_step," + id], 5);
  EXPECT_EQ(samples["sbmt_eval_loss," + id], 2.75);
  EXPECT_EQ(samples["sbmt_eval_metric," + id + ",accuracy"], 0.625);
  EXPECT_NEAR(samples["sbmt_job_useful_step_seconds_total," + id], 7 * 0.9, 1e-12);
  // 3 missed beats later the ranks are down; 6.3 useful seconds of the 10 since the launch.
  bool goodput = false;
  for (const prometheus::MetricFamily& f : SnapshotMetrics(s, 10)) {
    if (f.name == "sbmt_worker_up") {
      for (const prometheus::ClientMetric& m : f.metric) EXPECT_EQ(m.gauge.value, 0);
    }
    if (f.name == "sbmt_job_goodput_ratio") {
      goodput = true;
      EXPECT_NEAR(f.metric.at(0).gauge.value, 0.63, 1e-12);
    }
  }
  EXPECT_TRUE(goodput);
}

TEST(Metrics, TheDocumentationListsEveryFamily) {
  std::ifstream in("docs/METRICS.md");
  ASSERT_TRUE(in) << "docs/METRICS.md";
  std::stringstream text;
  text << in.rdbuf();
  const std::string docs = text.str();
  for (const MetricDefinition& d : CoordinatorMetricDefinitions()) {
    const std::string type = d.type == prometheus::MetricType::Counter ? "counter" : "gauge";
    EXPECT_NE(docs.find("| `" + d.name + "` | " + type + " |"), std::string::npos)
        << d.name << " (" << type << ") is not in docs/METRICS.md";
  }
}

}  // namespace
}  // namespace sbmt::coordinator
