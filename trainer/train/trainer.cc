#include "trainer/train/trainer.h"

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "runtime/compute_threads.h"
#include "runtime/hash.h"
#include "runtime/stop_signal.h"
#include "trainer/dist/in_process_communicator.h"
#include "trainer/train/device.h"
#include "trainer/train/schedule.h"
#include "trainer/train/trainer_state.h"

namespace sbmt::trainer {
namespace {

using Clock = std::chrono::steady_clock;
using attention::AttentionContext;

double Since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

double UnixTime() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

// Seed of torch's generator (hidden dropout) for the micro-batch whose first example has index
// `first_example` in the global batch of step `step`: the same for any split of the global
// batch over ranks and micro-steps, and nothing to save in checkpoints.
uint64_t StepSeed(uint64_t seed, int64_t step, int64_t first_example) {
  const uint64_t key = seed ^ (static_cast<uint64_t>(step) * runtime::kGoldenGamma) ^
                       (static_cast<uint64_t>(first_example) * 0xD1B54A32D192ED03ull);
  return runtime::Fmix64(key) >> 1;  // torch seeds are taken as int64
}

// The global L2 norm of the gradients, computed as clip_grad_norm_ does (for runs without
// clipping, which still report it).
double GradNorm(const std::vector<torch::Tensor>& params) {
  std::vector<torch::Tensor> norms;
  for (const torch::Tensor& p : params) {
    if (p.grad().defined()) norms.push_back(p.grad().norm(2));
  }
  if (norms.empty()) return 0;
  return torch::stack(norms).norm(2).item<double>();
}

// Per-layer, per-head attention statistics as a flat [3][layers][heads] block of sums.
struct HeadStatsLayout {
  int64_t layers = 0, heads = 0;
  int64_t size() const { return 3 * layers * heads; }
  void Add(const std::vector<attention::AttentionStats>& stats, double weight, double* out) const {
    for (int64_t l = 0; l < layers; ++l) {
      const torch::Tensor* parts[3] = {&stats[l].edges, &stats[l].density,
                                       &stats[l].expected_density};
      for (int q = 0; q < 3; ++q) {
        const torch::Tensor values = parts[q]->to(torch::kCPU, torch::kFloat64).contiguous();
        for (int64_t h = 0; h < heads; ++h) {
          out[(q * layers + l) * heads + h] += weight * values.data_ptr<double>()[h];
        }
      }
    }
  }
  void Fill(const double* sums, google::protobuf::RepeatedPtrField<v1::HeadAttention>* out) const {
    for (int64_t l = 0; l < layers; ++l) {
      for (int64_t h = 0; h < heads; ++h) {
        v1::HeadAttention* head = out->Add();
        head->set_layer(static_cast<int32_t>(l));
        head->set_head(static_cast<int32_t>(h));
        head->set_edges(sums[(0 * layers + l) * heads + h]);
        head->set_density(sums[(1 * layers + l) * heads + h]);
        head->set_expected_density(sums[(2 * layers + l) * heads + h]);
      }
    }
  }
};

HeadStatsLayout LayoutOf(const ModelConfig& m) { return {m.layers, m.heads}; }

}  // namespace

Trainer::State::State(TrainConfig c, Task& t, Log l, dist::Communicator* given, bool all_ranks)
    : config(std::move(c)),
      task(t),
      log(std::move(l)),
      log_all_ranks(all_ranks),
      store((std::filesystem::path(config.run.out_dir) / "checkpoints").string(),
            static_cast<int>(config.run.keep_checkpoints)),
      own_comm(given ? nullptr : dist::InProcessWorld::Single()),
      comm(given ? given : own_comm.get()),
      tensor_comm(comm),
      timeout(std::chrono::seconds(config.dist.timeout_s)) {}

void Trainer::State::CheckSameSettingsEverywhere() const {
  std::vector<TrainConfig::Setting> settings = config.Settings();
  std::vector<int64_t> mine;  // a fingerprint of each value (as int64: the collectives' type)
  for (const TrainConfig::Setting& setting : settings) {
    // Threads per rank follow each node's cores; everything else must be the same everywhere.
    const std::string text = setting.key == "run.threads" ? "" : setting.value;
    mine.push_back(static_cast<int64_t>(runtime::Fnv1a64(text)));
  }
  const size_t n = mine.size();
  std::vector<int64_t> all(n * comm->size());
  comm->AllGather(dist::Buffer::Of(mine.data(), static_cast<int64_t>(n)),
                  dist::Buffer::Of(all.data(), static_cast<int64_t>(all.size())))
      ->Wait(timeout);
  std::string differing;
  for (size_t k = 0; k < n; ++k) {
    std::string ranks;
    for (int r = 1; r < comm->size(); ++r) {
      if (all[r * n + k] != all[k]) ranks += (ranks.empty() ? "" : ", ") + std::to_string(r);
    }
    if (!ranks.empty()) {
      differing += (differing.empty() ? "" : "; ") + settings[k].key + " (ranks " + ranks +
                   " differ from rank 0" +
                   (comm->rank() == 0 ? ", whose value is " + settings[k].value : "") + ")";
    }
  }
  if (!differing.empty()) {
    throw ConfigError("the configuration differs across ranks: " + differing +
                      ". Start every rank with the same --config and --set values");
  }
}

void Trainer::State::CheckWorldSplitsBatch() const {
  const int world = comm->size();
  const int64_t accumulation = config.optim.accumulation, global = config.data.global_batch;
  if (global % (world * accumulation) == 0) return;
  std::string near;
  for (int64_t w = 1; w <= global / accumulation && near.size() < 40; ++w) {
    if (global % (w * accumulation) == 0 && std::abs(w - world) <= std::max(2, world / 2)) {
      near += (near.empty() ? "" : ", ") + std::to_string(w);
    }
  }
  throw ConfigError("data.global_batch (" + std::to_string(global) +
                    ") does not split into world size " + std::to_string(world) + " x " +
                    "optim.accumulation (" + std::to_string(accumulation) +
                    ") equal micro-batches; world sizes near " + std::to_string(world) +
                    " that do: " + (near.empty() ? "none" : near));
}

// Fault injection for the coordinator's stall tests: SBMT_FAULT_STALL=RANK:STEP makes that rank
// stop before that step as if stuck in compute, issuing no collective while its other threads
// (heartbeats) go on. Unset (always, outside tests), it costs one getenv per step.
static void InjectedStall(int rank, int64_t step) {
  const char* spec = std::getenv("SBMT_FAULT_STALL");
  if (spec == nullptr || *spec == '\0') return;
  int stall_rank = -1;
  long long stall_step = -1;
  if (std::sscanf(spec, "%d:%lld", &stall_rank, &stall_step) == 2 && stall_rank == rank &&
      stall_step == step) {
    for (;;) std::this_thread::sleep_for(std::chrono::hours(1));
  }
}

v1::StepReport Trainer::State::Step(bool* stop_requested) {
  const TrainConfig& c = config;
  const auto start = Clock::now();
  const int world = comm->size(), rank = comm->rank();
  InjectedStall(rank, step + 1);
  const int64_t accumulation = c.optim.accumulation;
  const int64_t per_rank = c.data.global_batch / world, micro = per_rank / accumulation;
  v1::StepReport report;
  v1::PhaseSeconds& phases = *report.mutable_phases();

  // The global batch of this step: positions [base, base + global_batch) of the epoch's order.
  if (position.batch >= task.train_examples() / c.data.global_batch) {
    ++position.epoch;
    position.batch = 0;
  }
  const int64_t base = position.batch * c.data.global_batch;
  std::vector<std::unique_ptr<TaskBatch>> parts;
  std::vector<int64_t> counts = {0};  // loss terms of the global batch
  for (int64_t m = 0; m < accumulation; ++m) {
    parts.push_back(task.TrainBatch(position.epoch, base + rank * per_rank + m * micro, micro));
    parts.back()->To(device);
    counts[0] += parts.back()->loss_terms;
  }
  report.set_epoch(position.epoch);
  ++position.batch;
  SumOverRanks(counts);
  const GlobalBatchCounts global{c.data.global_batch, counts[0]};
  phases.set_data(Since(start));

  // sums: objective, task loss, tokens, task stats, per-head attention statistics, and last
  // the ranks that received a stop signal (so every rank stops after the same step).
  const HeadStatsLayout layout = LayoutOf(c.model);
  const int stats = task.stats_size();
  std::vector<double> sums(3 + stats + layout.size() + 1, 0.0);
  double forward_s = 0, backward_s = 0;
  for (int64_t m = 0; m < accumulation; ++m) {
    const int64_t first_example = rank * per_rank + m * micro;
    torch::manual_seed(StepSeed(c.run.seed, step, first_example));
    auto t = Clock::now();
    const AttentionContext context{static_cast<uint64_t>(step),
                                   static_cast<uint64_t>(first_example),
                                   AttentionContext::Phase::kTrain};
    TaskForward f;
    {
      const PrecisionScope precision(c);  // backward runs outside it, as autocast expects
      f = task.Forward(*parts[m], context, global);
    }
    forward_s += Since(t);
    t = Clock::now();
    if (m == accumulation - 1) reducer->PrepareForReduction();
    f.loss.backward();
    backward_s += Since(t);
    sums[0] += f.loss.item<double>();
    sums[1] += f.loss_sum;
    sums[2] += static_cast<double>(parts[m]->tokens);
    for (int i = 0; i < stats; ++i) sums[3 + i] += f.stats[i];
    layout.Add(f.layer_stats, 1.0 / static_cast<double>(accumulation * world),
               sums.data() + 3 + stats);
  }
  const dist::ReductionStats reduction = reducer->FinishReduction();
  sums.back() = runtime::PendingStopSignal() != 0 ? 1.0 : 0.0;
  SumOverRanks(sums);
  *stop_requested = sums.back() > 0;
  phases.set_forward(forward_s);
  phases.set_backward(backward_s);
  phases.set_exposed_comm(reduction.exposed_seconds);
  report.set_allreduce_seconds(reduction.allreduce_seconds);
  report.set_allreduce_bytes(reduction.allreduce_bytes);

  auto t = Clock::now();
  const double grad_norm = c.optim.clip_norm > 0
                               ? torch::nn::utils::clip_grad_norm_(tensors, c.optim.clip_norm)
                               : GradNorm(tensors);
  const ScheduleValues schedule = ScheduleAt(config.optim, step);
  const double lr = schedule.lr;
  const bool finite = std::isfinite(sums[0]) && std::isfinite(grad_norm);
  if (finite) {
    for (auto& group : optimizer->param_groups()) {
      auto& options = static_cast<torch::optim::AdamWOptions&>(group.options());
      options.lr(lr);
      options.betas({schedule.beta1, std::get<1>(options.betas())});
    }
    optimizer->step();
    skipped_in_a_row = 0;
  } else {
    ++skipped_steps;
    ++skipped_in_a_row;
    report.set_skipped(true);
    report.set_skip_reason(std::isfinite(sums[0]) ? "non-finite gradient norm" : "non-finite loss");
  }
  optimizer->zero_grad();
  phases.set_optimizer(Since(t));
  ++step;

  report.set_step(step);
  report.set_total_steps(c.optim.total_steps);
  report.set_task(task.name());
  report.set_tokens(static_cast<int64_t>(sums[2]));
  report.set_sequences(c.data.global_batch);
  report.set_loss(sums[0]);
  const std::vector<double> task_stats(sums.begin() + 3, sums.begin() + 3 + stats);
  for (const auto& [name, value] : task.MetricsOf(task_stats, global.loss_terms)) {
    (*report.mutable_metrics())[name] = value;
  }
  report.set_learning_rate(lr);
  report.set_grad_norm(grad_norm);
  report.set_skipped_steps(skipped_steps);
  layout.Fill(sums.data() + 3 + stats, report.mutable_attention());
  report.set_world_size(world);
  report.set_step_seconds(Since(start));
  return report;
}

std::optional<v1::EvalReport> Trainer::State::Evaluate() {
  const int64_t batch_size = config.data.global_batch;
  const int64_t batches = task.EvalBatchCount(batch_size, config.run.eval_batches);
  if (batches == 0) return std::nullopt;
  const auto start = Clock::now();
  torch::nn::Module& model = task.model();
  model.eval();
  torch::NoGradGuard no_grad;
  const HeadStatsLayout layout = LayoutOf(config.model);
  const int stats = task.stats_size();
  // sums: task loss, loss terms, examples, batches, task stats, per-head attention statistics.
  std::vector<double> sums(4 + stats + layout.size(), 0.0);
  // Batch i is evaluated by rank i mod world, and only that rank reads it.
  for (int64_t i = comm->rank(); i < batches; i += comm->size()) {
    std::unique_ptr<TaskBatch> b = task.EvalBatch(i, batch_size);
    b->To(device);
    const AttentionContext context{static_cast<uint64_t>(i), 0, AttentionContext::Phase::kEval};
    const PrecisionScope precision(config);
    const TaskForward f =
        task.Forward(*b, context, {b->examples, std::max<int64_t>(1, b->loss_terms)});
    sums[0] += f.loss_sum;
    sums[1] += static_cast<double>(b->loss_terms);
    sums[2] += static_cast<double>(b->examples);
    sums[3] += 1;
    for (int s = 0; s < stats; ++s) sums[4 + s] += f.stats[s];
    layout.Add(f.layer_stats, 1.0, sums.data() + 4 + stats);
  }
  SumOverRanks(sums);
  model.train();
  for (int64_t i = 0; i < layout.size(); ++i) sums[4 + stats + i] /= std::max(1.0, sums[3]);
  v1::EvalReport report;
  report.set_step(step);
  report.set_task(task.name());
  report.set_loss(sums[1] > 0 ? sums[0] / sums[1] : 0.0);
  const std::vector<double> task_stats(sums.begin() + 4, sums.begin() + 4 + stats);
  for (const auto& [name, value] : task.MetricsOf(task_stats, static_cast<int64_t>(sums[1]))) {
    (*report.mutable_metrics())[name] = value;
  }
  report.set_sequences(static_cast<int64_t>(sums[2]));
  layout.Fill(sums.data() + 4 + stats, report.mutable_attention());
  report.set_seconds(Since(start));
  report.set_unix_time(UnixTime());
  return report;
}

void Trainer::State::KeepBest(const v1::EvalReport& eval) {
  namespace fs = std::filesystem;
  const std::string& metric = config.run.keep_best;
  if (metric.empty() || last_saved_step != step || step == 0) return;
  double value = eval.loss();
  if (metric != "loss") {
    const auto it = eval.metrics().find(metric);
    if (it == eval.metrics().end()) {
      std::string names = "loss";
      for (const auto& [name, v] : eval.metrics()) names += ", " + name;
      throw ConfigError("run.keep_best: evaluations have no metric '" + metric + "'; they have " +
                        names);
    }
    value = it->second;
  }
  const bool lower_is_better = metric == "loss";
  if (best_value && !(lower_is_better ? value < *best_value : value > *best_value)) return;
  best_value = value;
  if (comm->rank() == 0) {
    // Copied beside, then renamed over the previous best: a crash leaves one whole best/.
    const fs::path best = fs::path(config.run.out_dir) / "best";
    const fs::path partial = fs::path(config.run.out_dir) / "best.partial";
    fs::remove_all(partial);
    fs::copy(fs::path(store.root()) / ("step_" + std::to_string(step)), partial,
             fs::copy_options::recursive);
    nlohmann::json info = {{"step", step}, {"metric", metric}, {"value", value}};
    std::ofstream(partial / "best.json") << info.dump(1) << "\n";
    fs::remove_all(best);
    fs::rename(partial, best);
  }
  char text[64];
  std::snprintf(text, sizeof(text), "%.4f", value);
  Say("best " + metric + " so far (" + text + ") at step " + std::to_string(step) + ": kept in " +
      config.run.out_dir + "/best");
}

void Trainer::State::Publish(const v1::StepReport& report) {
  if (auto line = step_log->Add(report)) Say(*line);
  if (!report.checkpoint().empty()) Say("checkpoint " + report.checkpoint());
  if (jsonl) jsonl->Write(report);
  for (const auto& observer : step_observers) observer(report);
}

void Trainer::State::Publish(const v1::EvalReport& report) {
  Say(FormatEvalLine(report));
  if (jsonl) jsonl->Write(report);
  for (const auto& observer : eval_observers) observer(report);
}

Trainer::Trainer(TrainConfig config, Task& task, Log log, dist::Communicator* comm,
                 bool log_all_ranks, dist::Communicator* tensor_comm)
    : s_(std::make_unique<State>(std::move(config), task, std::move(log), comm, log_all_ranks)) {
  State& s = *s_;
  if (tensor_comm != nullptr) s.tensor_comm = tensor_comm;
  if (s.config.run.threads > 0) runtime::SetComputeThreads(static_cast<int>(s.config.run.threads));
  if (s.comm->rank() == 0) s.lock = std::make_unique<RunLock>(s.config.run.out_dir);
  s.CheckWorldSplitsBatch();
  if (task.train_examples() < s.config.data.global_batch) {
    throw ConfigError("data.global_batch (" + std::to_string(s.config.data.global_batch) +
                      ") exceeds the " + std::to_string(task.train_examples()) +
                      " training examples of task " + task.name());
  }
  s.CheckSameSettingsEverywhere();
  s.device = TrainingDevice(s.config);
  if (!s.device.is_cpu()) {
    if (s.comm->size() > 1 && s.tensor_comm == s.comm) {
      throw ConfigError("run.device: cuda with " + std::to_string(s.comm->size()) +
                        " ranks needs NCCL for the gradients (dist.backend: nccl or auto)");
    }
    task.model().to(s.device);
    s.Say("training on " + s.device.str() + " in " + s.config.run.precision);
  }
  std::vector<torch::Tensor> decay, no_decay;
  for (const auto& p : task.model().named_parameters()) {
    s.params.emplace_back(p.key(), p.value());
    s.tensors.push_back(p.value());
    const std::string& name = p.key();
    const bool plain = name.find("LayerNorm") != std::string::npos ||
                       (name.size() >= 4 && name.compare(name.size() - 4, 4, "bias") == 0);
    (plain ? no_decay : decay).push_back(p.value());
  }
  std::vector<torch::optim::OptimizerParamGroup> groups;
  groups.emplace_back(decay, std::make_unique<torch::optim::AdamWOptions>(
                                 torch::optim::AdamWOptions(s.config.optim.lr)
                                     .weight_decay(s.config.optim.weight_decay)
                                     .eps(1e-6)));
  groups.emplace_back(
      no_decay, std::make_unique<torch::optim::AdamWOptions>(
                    torch::optim::AdamWOptions(s.config.optim.lr).weight_decay(0.0).eps(1e-6)));
  s.optimizer = std::make_unique<torch::optim::AdamW>(std::move(groups));
  dist::ReducerOptions reducer;
  reducer.bucket_bytes = static_cast<int64_t>(s.config.dist.bucket_mb * (1 << 20));
  reducer.first_bucket_bytes = static_cast<int64_t>(s.config.dist.first_bucket_mb * (1 << 20));
  reducer.timeout = s.timeout;
  s.reducer = std::make_unique<dist::GradientReducer>(*s.tensor_comm, s.tensors, reducer);
  s.step_log = std::make_unique<StepLogFormatter>(s.config.run.log_every);
}

Trainer::~Trainer() = default;

void Trainer::OnStep(std::function<void(const v1::StepReport&)> observer) {
  s_->step_observers.push_back(std::move(observer));
}

void Trainer::OnEval(std::function<void(const v1::EvalReport&)> observer) {
  s_->eval_observers.push_back(std::move(observer));
}

TrainResult Trainer::Run(int64_t max_steps) {
  State& s = *s_;
  const TrainConfig& c = s.config;
  if (s.comm->rank() == 0) {
    if (const int stale = s.store.RemoveStaleTemporaries()) {
      s.Say("removed " + std::to_string(stale) +
            " unfinished checkpoint save(s) of an earlier run");
    }
  }
  if (!c.run.keep_best.empty()) {  // a resumed run keeps comparing with the best so far
    std::ifstream best(std::filesystem::path(c.run.out_dir) / "best/best.json");
    nlohmann::json info;
    if (best && (best >> info) && info.contains("value") && info["value"].is_number()) {
      s.best_value = info["value"].get<double>();
    }
  }
  if (!s.Resume() && !c.model.init_from.empty()) {
    s.task.InitFrom(c.model.init_from, [&s](const std::string& m) { s.Say(m); });
  }
  // Every rank starts from rank 0's weights, whatever each initialized or loaded.
  dist::BroadcastTensors(*s.tensor_comm, s.tensors, 0, s.timeout);
  if (s.comm->rank() == 0 && !s.jsonl) {
    s.jsonl = std::make_unique<MetricsJsonlWriter>(
        (std::filesystem::path(c.run.out_dir) / "metrics.jsonl").string());
  }
  TrainResult result;
  if (s.step == 0) {  // the start of the validation curve
    if (auto eval = s.Evaluate()) {
      result.last_eval_loss = eval->loss();
      s.Publish(*eval);
    } else {
      s.Say("no evaluation data: training without evaluation");
    }
  }
  s.task.model().train();
  auto save = [&](v1::StepReport& report) {
    const auto t = Clock::now();
    // Rank 0 writes and commits; the barrier holds every rank until the step is committed.
    if (s.comm->rank() == 0) result.last_checkpoint = s.Save();
    s.comm->Barrier()->Wait(s.timeout);
    s.last_saved_step = s.step;
    report.mutable_phases()->set_checkpoint(Since(t));
    report.set_checkpoint(s.store.root() + "/step_" + std::to_string(s.step));
    report.set_step_seconds(report.step_seconds() + report.phases().checkpoint());
  };
  while (s.step < c.optim.total_steps && (max_steps < 0 || result.steps_done < max_steps)) {
    bool stop = false;
    v1::StepReport report = s.Step(&stop);
    ++result.steps_done;
    // Stopping (a signal, or the last step of --max-steps) commits the step first, so no work
    // is lost. Skipped steps changed nothing; a run of them ends the job.
    const bool last =
        stop || s.step == c.optim.total_steps || (max_steps >= 0 && result.steps_done == max_steps);
    if (s.skipped_in_a_row >= c.optim.max_skipped_in_a_row) {
      s.Publish(report);
      const std::string good = s.last_saved_step >= 0
                                   ? "the checkpoint of step " + std::to_string(s.last_saved_step) +
                                         " is the last good one"
                                   : "no checkpoint was committed yet";
      throw Error(ErrorCode::kFailedPrecondition,
                  std::to_string(s.skipped_in_a_row) + " steps in a row were skipped (" +
                      report.skip_reason() + ", last at step " + std::to_string(s.step) + "); " +
                      good + ". Lower optim.lr or check the data");
    }
    if (s.step % c.run.checkpoint_every == 0 || last) save(report);
    report.set_unix_time(UnixTime());
    result.last_loss = report.loss();
    // Benchmarks compare the training work of steps: checkpoint time is left out.
    result.step_seconds.push_back(report.step_seconds() - report.phases().checkpoint());
    result.exposed_comm_seconds.push_back(report.phases().exposed_comm());
    result.step_tokens.push_back(report.tokens());
    s.Publish(report);
    if (stop) {
      result.stop_signal = runtime::PendingStopSignal();
      s.Say("stop requested: committed step " + std::to_string(s.step) + ", exiting");
      break;
    }
    if (s.step % c.run.eval_every == 0 || s.step == c.optim.total_steps) {
      if (auto eval = s.Evaluate()) {
        result.last_eval_loss = eval->loss();
        s.Publish(*eval);
        s.KeepBest(*eval);
      }
    }
  }
  result.final_step = s.step;
  return result;
}

}  // namespace sbmt::trainer
