// A rank's metrics count every observed step (counters, the step-time histogram, phases) and
// keep the last step's gauges; every family is listed in docs/METRICS.md with its type.
#include "trainer/train/rank_metrics.h"

#include <gtest/gtest.h>
#include <prometheus/text_serializer.h>

#include <fstream>
#include <sstream>

namespace sbmt::trainer {
namespace {

v1::StepReport Step(int64_t step, double seconds, bool checkpoint) {
  v1::StepReport r;
  r.set_step(step);
  r.set_tokens(1000);
  r.set_sequences(8);
  r.set_loss(3.0 / static_cast<double>(step));
  r.set_step_seconds(seconds);
  r.mutable_phases()->set_forward(seconds / 2);
  r.mutable_phases()->set_exposed_comm(0.1);
  r.set_allreduce_seconds(0.25);
  r.set_allreduce_bytes(4096);
  if (checkpoint) {
    r.set_checkpoint("ckpt/step_" + std::to_string(step));
    r.mutable_phases()->set_checkpoint(0.05);
  }
  v1::HeadAttention& h = *r.add_attention();
  h.set_layer(1);
  h.set_head(2);
  h.set_density(0.2 + 0.01 * static_cast<double>(step));
  return r;
}

std::string Exposition(const RankMetrics& m) {
  return prometheus::TextSerializer().Serialize(m.registry()->Collect());
}

TEST(RankMetrics, CountsEveryStepAndKeepsTheLast) {
  RankMetrics m(3);
  m.Observe(Step(1, 0.5, false));
  m.Observe(Step(2, 1.5, true));
  const std::string text = Exposition(m);
  for (const char* expected : {
           "sbmt_rank_steps_total{rank=\"3\"} 2",
           "sbmt_rank_tokens_total{rank=\"3\"} 2000",
           "sbmt_rank_sequences_total{rank=\"3\"} 16",
           "sbmt_rank_step_duration_seconds_count{rank=\"3\"} 2",
           "sbmt_rank_step_duration_seconds_sum{rank=\"3\"} 2",
           "sbmt_rank_checkpoint_save_duration_seconds_count{rank=\"3\"} 1",
           "sbmt_rank_phase_seconds_total{phase=\"forward\",rank=\"3\"} 1",
           "sbmt_rank_allreduce_seconds_total{rank=\"3\"} 0.5",
           "sbmt_rank_allreduce_bytes_total{rank=\"3\"} 8192",
           "sbmt_rank_loss{rank=\"3\"} 1.5",
           "sbmt_rank_step{rank=\"3\"} 2",
           "sbmt_rank_attention_density_ratio{head=\"2\",layer=\"1\",rank=\"3\"} 0.22",
       }) {
    EXPECT_NE(text.find(expected), std::string::npos) << expected << "\n" << text;
  }
  // 0.5 s lands in the 0.64 s bucket, 1.5 s in the 2.56 s one.
  EXPECT_NE(text.find("sbmt_rank_step_duration_seconds_bucket{rank=\"3\",le=\"0.64\"} 1"),
            std::string::npos)
      << text;
}

TEST(RankMetrics, TheDocumentationListsEveryFamily) {
  std::ifstream in("docs/METRICS.md");
  std::stringstream docs;
  docs << in.rdbuf();
  RankMetrics m(0);
  m.Observe(Step(1, 0.5, true));
  for (const prometheus::MetricFamily& f : m.registry()->Collect()) {
    const char* type = f.type == prometheus::MetricType::Counter     ? "counter"
                       : f.type == prometheus::MetricType::Histogram ? "histogram"
                                                                     : "gauge";
    EXPECT_NE(docs.str().find("| `" + f.name + "` | " + type + " |"), std::string::npos)
        << f.name << " (" << type << ") is not in docs/METRICS.md";
  }
}

}  // namespace
}  // namespace sbmt::trainer
