#include "trainer/train/rank_metrics.h"

namespace sbmt::trainer {
namespace {

// Step and save times from 10 ms to about 3 minutes, doubling.
prometheus::Histogram::BucketBoundaries SecondsBuckets() {
  prometheus::Histogram::BucketBoundaries b;
  for (double s = 0.01; s < 200; s *= 2) b.push_back(s);
  return b;
}

}  // namespace

RankMetrics::RankMetrics(int rank)
    : registry_(std::make_shared<prometheus::Registry>()),
      rank_{{"rank", std::to_string(rank)}},
      steps_(prometheus::BuildCounter()
                 .Name("sbmt_rank_steps_total")
                 .Help("Optimizer steps this rank took part in.")
                 .Register(*registry_)
                 .Add(rank_)),
      skipped_(prometheus::BuildCounter()
                   .Name("sbmt_rank_skipped_steps_total")
                   .Help("Steps skipped for a non-finite loss or gradient.")
                   .Register(*registry_)
                   .Add(rank_)),
      tokens_(prometheus::BuildCounter()
                  .Name("sbmt_rank_tokens_total")
                  .Help("Non-padding tokens of the global batches this rank took part in.")
                  .Register(*registry_)
                  .Add(rank_)),
      sequences_(prometheus::BuildCounter()
                     .Name("sbmt_rank_sequences_total")
                     .Help("Examples of the global batches this rank took part in.")
                     .Register(*registry_)
                     .Add(rank_)),
      step_seconds_(prometheus::BuildHistogram()
                        .Name("sbmt_rank_step_duration_seconds")
                        .Help("Wall time of each step on this rank.")
                        .Register(*registry_)
                        .Add(rank_, SecondsBuckets())),
      checkpoint_seconds_(prometheus::BuildHistogram()
                              .Name("sbmt_rank_checkpoint_save_duration_seconds")
                              .Help("Time writing and committing each checkpoint (rank 0).")
                              .Register(*registry_)
                              .Add(rank_, SecondsBuckets())),
      phase_seconds_(prometheus::BuildCounter()
                         .Name("sbmt_rank_phase_seconds_total")
                         .Help("Seconds of this rank's steps by phase (data, forward, backward, "
                               "exposed_comm, optimizer, checkpoint).")
                         .Register(*registry_)),
      allreduce_seconds_(prometheus::BuildCounter()
                             .Name("sbmt_rank_allreduce_seconds_total")
                             .Help("Wall time of this rank's gradient allreduces, from each "
                                   "step's first bucket launch to its last completion (mostly "
                                   "hidden behind backward).")
                             .Register(*registry_)
                             .Add(rank_)),
      allreduce_bytes_(prometheus::BuildCounter()
                           .Name("sbmt_rank_allreduce_bytes_total")
                           .Help("Gradient bytes this rank reduced (payload, not wire traffic).")
                           .Register(*registry_)
                           .Add(rank_)),
      loss_(prometheus::BuildGauge()
                .Name("sbmt_rank_loss")
                .Help("Training loss of the last step.")
                .Register(*registry_)
                .Add(rank_)),
      learning_rate_(prometheus::BuildGauge()
                         .Name("sbmt_rank_learning_rate")
                         .Help("Learning rate of the last step.")
                         .Register(*registry_)
                         .Add(rank_)),
      step_(prometheus::BuildGauge()
                .Name("sbmt_rank_step")
                .Help("Optimizer steps completed.")
                .Register(*registry_)
                .Add(rank_)),
      density_(prometheus::BuildGauge()
                   .Name("sbmt_rank_attention_density_ratio")
                   .Help("Sampled attention density of the last step, per layer and head.")
                   .Register(*registry_)),
      expected_density_(prometheus::BuildGauge()
                            .Name("sbmt_rank_attention_expected_density_ratio")
                            .Help("Density the SBM's block probabilities expect, per layer and "
                                  "head.")
                            .Register(*registry_)) {}

void RankMetrics::Observe(const v1::StepReport& r) {
  steps_.Increment();
  if (r.skipped()) skipped_.Increment();
  tokens_.Increment(static_cast<double>(r.tokens()));
  sequences_.Increment(static_cast<double>(r.sequences()));
  step_seconds_.Observe(r.step_seconds());
  if (!r.checkpoint().empty()) checkpoint_seconds_.Observe(r.phases().checkpoint());
  const v1::PhaseSeconds& p = r.phases();
  const std::pair<const char*, double> phases[] = {
      {"data", p.data()},           {"forward", p.forward()},
      {"backward", p.backward()},   {"exposed_comm", p.exposed_comm()},
      {"optimizer", p.optimizer()}, {"checkpoint", p.checkpoint()}};
  for (const auto& [phase, seconds] : phases) {
    phase_seconds_.Add({{"rank", rank_.at("rank")}, {"phase", phase}}).Increment(seconds);
  }
  allreduce_seconds_.Increment(r.allreduce_seconds());
  allreduce_bytes_.Increment(static_cast<double>(r.allreduce_bytes()));
  loss_.Set(r.loss());
  learning_rate_.Set(r.learning_rate());
  step_.Set(static_cast<double>(r.step()));
  for (const v1::HeadAttention& h : r.attention()) {
    const prometheus::Labels labels = {{"rank", rank_.at("rank")},
                                       {"layer", std::to_string(h.layer())},
                                       {"head", std::to_string(h.head())}};
    density_.Add(labels).Set(h.density());
    expected_density_.Add(labels).Set(h.expected_density());
  }
}

}  // namespace sbmt::trainer
