#include "trainer/train/pretrainer.h"

#include <chrono>
#include <cmath>
#include <cstdarg>
#include <cstring>
#include <thread>

#include "trainer/checkpoint/hf_export.h"
#include "trainer/checkpoint/tensor_io.h"
#include "trainer/train/compute_threads.h"
#include "trainer/train/pretrainer_state.h"

namespace sbmt::trainer {
namespace {

// bert-base-uncased's special ids (the vocabulary of the shards).
constexpr int32_t kPad = 0, kCls = 101, kSep = 102, kMask = 103;
// SBM sampling keys of evaluation batches: disjoint from training steps, the same every eval.
constexpr uint64_t kEvalStepBase = uint64_t{1} << 62;

std::string Clock(double seconds) {
  const long s = static_cast<long>(seconds + 0.5);
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%ld:%02ld:%02ld", s / 3600, (s / 60) % 60, s % 60);
  return buf;
}

// Seed of torch's generator (hidden dropout) for the micro-batch whose first example has global
// index `first_example` in step `step`: the same for any split of the global batch over ranks and
// micro-steps, and nothing to save in checkpoints.
uint64_t StepSeed(uint64_t seed, int64_t step, int64_t first_example) {
  uint64_t z = seed ^ (static_cast<uint64_t>(step) * 0x9E3779B97F4A7C15ull) ^
               (static_cast<uint64_t>(first_example) * 0xD1B54A32D192ED03ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return (z ^ (z >> 31)) >> 1;  // torch seeds are taken as int64
}

// Rows [row0, row0 + rows) of a batch, as wide as their longest sequence.
TokenBatch Rows(const TokenBatch& b, int64_t row0, int64_t rows) {
  TokenBatch part;
  part.rows = rows;
  part.lengths.assign(b.lengths.begin() + row0, b.lengths.begin() + row0 + rows);
  part.sequence_ids.assign(b.sequence_ids.begin() + row0, b.sequence_ids.begin() + row0 + rows);
  for (int32_t len : part.lengths) part.width = std::max<int64_t>(part.width, len);
  part.tokens.reserve(rows * part.width);
  for (int64_t r = 0; r < rows; ++r) {
    const auto first = b.tokens.begin() + (row0 + r) * b.width;
    part.tokens.insert(part.tokens.end(), first, first + part.width);
  }
  return part;
}

}  // namespace

std::string LogFormat(const char* fmt, ...) {
  char buf[512];
  va_list args;
  va_start(args, fmt);
  std::vsnprintf(buf, sizeof(buf), fmt, args);
  va_end(args);
  return buf;
}

void Pretrainer::State::CheckSameConfigEverywhere() const {
  std::string mine = config.Digest();
  mine.resize(64, ' ');
  std::vector<uint8_t> all(64 * comm->size());
  comm->AllGather(dist::Buffer::Of(reinterpret_cast<uint8_t*>(mine.data()), 64),
                  dist::Buffer::Of(all.data(), static_cast<int64_t>(all.size())))
      ->Wait(timeout);
  std::string differing;
  for (int r = 1; r < comm->size(); ++r) {
    if (std::memcmp(all.data() + 64 * r, all.data(), 64) != 0) {
      differing += (differing.empty() ? "" : ", ") + std::to_string(r);
    }
  }
  if (!differing.empty()) {
    throw ConfigError("the configuration differs across ranks (digest of rank 0: " +
                      config.Digest().substr(0, 16) + "; ranks " + differing +
                      " differ): start every rank with the same --config and --set values");
  }
}

Pretrainer::State::Prepared Pretrainer::State::Prepare(const TokenBatch& b, int64_t epoch,
                                                       int64_t row0, int64_t rows) const {
  const TokenBatch part = Rows(b, row0, rows);
  MaskingOptions mo;
  mo.seed = config.run.seed;
  mo.epoch = epoch;
  mo.probability = config.data.mask_probability;
  mo.vocab_size = static_cast<int32_t>(config.model.vocab_size);
  mo.cls_id = kCls;
  mo.sep_id = kSep;
  mo.pad_id = kPad;
  mo.mask_id = kMask;
  Prepared p;
  p.masked = MaskTokens(part, mo);
  p.rows = rows;
  for (int32_t len : part.lengths) p.tokens += len;
  p.ids = torch::tensor(p.masked.inputs, torch::kLong).reshape({rows, part.width});
  p.valid = torch::tensor(part.tokens, torch::kLong).reshape({rows, part.width}) != kPad;
  return p;
}

Pretrainer::State::Forward Pretrainer::State::Run(const Prepared& p, int64_t global_masked,
                                                  int64_t global_rows) {
  const int64_t masked = static_cast<int64_t>(p.masked.positions.size());
  torch::Tensor positions = torch::tensor(p.masked.positions, torch::kLong);
  BertOutput out = model->forward(p.ids, p.valid, positions);
  Forward f;
  f.loss = out.regularizer * (static_cast<double>(p.rows) / global_rows);
  if (masked > 0) {
    torch::Tensor labels = torch::tensor(p.masked.labels, torch::kLong);
    torch::Tensor ce = torch::cross_entropy_loss(out.logits, labels, {}, at::Reduction::Sum);
    f.loss = f.loss + ce / static_cast<double>(global_masked);
    f.mlm_loss_sum = ce.item<double>();
    f.correct = (out.logits.argmax(1) == labels).sum().item<int64_t>();
  }
  for (const attention::AttentionStats& st : out.layer_stats) {
    f.density += st.density.mean().item<double>() / static_cast<double>(out.layer_stats.size());
  }
  return f;
}

std::pair<double, double> Pretrainer::State::Evaluate() {
  model->eval();
  torch::NoGradGuard no_grad;
  DataPosition p;                        // the same batches every evaluation
  std::vector<double> sums = {0, 0, 0};  // loss, correct, masked
  const int64_t batch = std::min<int64_t>(config.data.global_batch, valid->size());
  const int64_t batches = std::min<int64_t>(config.run.eval_batches, valid->BatchesPerEpoch(batch));
  for (int64_t i = 0; i < batches; ++i) {
    TokenBatch b = valid->Next(p, batch, 0, 1, kPad);
    if (i % comm->size() != comm->rank()) continue;
    model->set_step(kEvalStepBase + static_cast<uint64_t>(i));
    const Prepared prepared = Prepare(b, 0, 0, b.rows);
    const Forward f = Run(prepared, 1, b.rows);
    sums[0] += f.mlm_loss_sum;
    sums[1] += static_cast<double>(f.correct);
    sums[2] += static_cast<double>(prepared.masked.positions.size());
  }
  SumOverRanks(sums);
  model->train();
  return {sums[2] > 0 ? sums[0] / sums[2] : 0.0, sums[2] > 0 ? sums[1] / sums[2] : 0.0};
}

Pretrainer::Pretrainer(TrainConfig config, Log log, dist::Communicator* comm)
    : s_(std::make_unique<State>(std::move(config), std::move(log), comm)) {
  State& s = *s_;
  const int threads = s.config.run.threads > 0
                          ? static_cast<int>(s.config.run.threads)
                          : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  SetComputeThreads(threads);
  s.train = std::make_unique<ShardDataset>(s.config.data.train, s.config.run.seed);
  if (static_cast<int64_t>(s.train->vocab_size()) != s.config.model.vocab_size) {
    throw ConfigError("model.vocab_size (" + std::to_string(s.config.model.vocab_size) +
                      ") differs from the shards' vocabulary (" +
                      std::to_string(s.train->vocab_size()) + ")");
  }
  if (static_cast<int64_t>(s.train->max_len()) > s.config.model.max_positions) {
    throw ConfigError("shards hold sequences of up to " + std::to_string(s.train->max_len()) +
                      " tokens, more than model.max_positions (" +
                      std::to_string(s.config.model.max_positions) + ")");
  }
  const int world = s.comm->size();
  const int64_t split = world * s.config.optim.accumulation;  // micro-batches per global batch
  if (s.config.data.global_batch % split != 0) {
    std::string near;
    const int64_t per_step = s.config.data.global_batch / s.config.optim.accumulation;
    for (int64_t w = 1; w <= per_step && near.size() < 40; ++w) {
      if (s.config.data.global_batch % (w * s.config.optim.accumulation) == 0 &&
          std::abs(w - world) <= std::max(2, world / 2)) {
        near += (near.empty() ? "" : ", ") + std::to_string(w);
      }
    }
    throw ConfigError("data.global_batch (" + std::to_string(s.config.data.global_batch) +
                      ") does not split into world size " + std::to_string(world) + " x " +
                      "optim.accumulation (" + std::to_string(s.config.optim.accumulation) +
                      ") equal micro-batches; world sizes near " + std::to_string(world) +
                      " that do: " + (near.empty() ? "none" : near));
  }
  s.CheckSameConfigEverywhere();
  if (!s.config.data.valid.empty()) {
    s.valid = std::make_unique<ShardDataset>(std::vector<std::string>{s.config.data.valid}, 0);
  }
  s.model = std::make_shared<BertForMaskedLM>(s.config.model, s.config.run.seed);
  std::vector<torch::Tensor> decay, no_decay;
  for (const auto& p : s.model->named_parameters()) {
    s.params.emplace_back(p.key(), p.value());
    const bool plain = p.key().find("LayerNorm") != std::string::npos ||
                       (p.key().size() >= 4 && p.key().substr(p.key().size() - 4) == "bias");
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
  s.reducer = std::make_unique<dist::GradientReducer>(*s.comm, s.ParamTensors(), reducer);
}

Pretrainer::~Pretrainer() = default;

void Pretrainer::ExportHuggingFace(const std::string& out_dir) const {
  if (s_->config.data.vocab.empty()) {
    throw ConfigError("data.vocab: needed to export (the vocab.txt of the shards)");
  }
  sbmt::trainer::ExportHuggingFace(ToSafeTensors(s_->model->named_parameters()), s_->config.model,
                                   s_->config.data.vocab, out_dir);
}

TrainResult Pretrainer::Run(int64_t max_steps) {
  State& s = *s_;
  const TrainConfig& c = s.config;
  if (!s.Resume() && !c.model.init_from.empty()) s.InitFrom(c.model.init_from);
  // Every rank starts from rank 0's weights, whatever each initialized or loaded.
  dist::BroadcastTensors(*s.comm, s.ParamTensors(), 0, s.timeout);
  TrainResult result;
  if (s.valid && s.step == 0) {  // the start of the validation curve
    const auto [eval_loss, eval_acc] = s.Evaluate();
    result.last_eval_loss = eval_loss;
    s.Say(LogFormat("eval step 0 | loss %.4f | mlm acc %.3f", eval_loss, eval_acc));
  }
  const int world = s.comm->size(), rank = s.comm->rank();
  const int64_t accumulation = c.optim.accumulation;
  const int64_t per_rank = c.data.global_batch / world;
  const int64_t micro = per_rank / accumulation;
  const auto start = std::chrono::steady_clock::now();
  auto since_log = start;
  int64_t tokens_since_log = 0;
  double exposed_since_log = 0;
  s.model->train();
  while (s.step < c.optim.total_steps && (max_steps < 0 || result.steps_done < max_steps)) {
    const auto step_start = std::chrono::steady_clock::now();
    const int64_t epoch_before = s.position.batch >= s.train->BatchesPerEpoch(c.data.global_batch)
                                     ? s.position.epoch + 1
                                     : s.position.epoch;
    const TokenBatch batch = s.train->Next(s.position, c.data.global_batch, rank, world, kPad);
    std::vector<State::Prepared> parts;
    std::vector<int64_t> counts = {0};  // masked tokens in the global batch
    for (int64_t m = 0; m < accumulation; ++m) {
      parts.push_back(s.Prepare(batch, epoch_before, m * micro, micro));
      counts[0] += static_cast<int64_t>(parts.back().masked.positions.size());
    }
    s.SumOverRanks(counts);
    std::vector<double> sums = {0, 0, 0, 0};  // loss, correct, tokens, density
    for (int64_t m = 0; m < accumulation; ++m) {
      const int64_t first_example = rank * per_rank + m * micro;
      torch::manual_seed(StepSeed(c.run.seed, s.step, first_example));
      s.model->set_step(static_cast<uint64_t>(s.step), static_cast<uint64_t>(first_example));
      State::Forward f = s.Run(parts[m], counts[0], c.data.global_batch);
      if (m == accumulation - 1) s.reducer->PrepareForReduction();
      f.loss.backward();
      sums[0] += f.loss.item<double>();
      sums[1] += static_cast<double>(f.correct);
      sums[2] += static_cast<double>(parts[m].tokens);
      sums[3] += f.density / static_cast<double>(accumulation * world);
    }
    const double exposed = s.reducer->FinishReduction();
    s.SumOverRanks(sums);
    if (c.optim.clip_norm > 0)
      torch::nn::utils::clip_grad_norm_(s.model->parameters(), c.optim.clip_norm);
    const double lr = s.LearningRate(s.step);
    for (auto& group : s.optimizer->param_groups()) {
      static_cast<torch::optim::AdamWOptions&>(group.options()).lr(lr);
    }
    s.optimizer->step();
    s.optimizer->zero_grad();
    ++s.step;
    ++result.steps_done;
    result.last_loss = sums[0];
    const auto now = std::chrono::steady_clock::now();
    result.step_seconds.push_back(std::chrono::duration<double>(now - step_start).count());
    result.exposed_comm_seconds.push_back(exposed);
    result.step_tokens.push_back(static_cast<int64_t>(sums[2]));
    tokens_since_log += static_cast<int64_t>(sums[2]);
    exposed_since_log += exposed;

    if (s.step % c.run.log_every == 0 || s.step == c.optim.total_steps) {
      const double dt = std::chrono::duration<double>(now - since_log).count();
      const double elapsed = std::chrono::duration<double>(now - start).count();
      const double eta = elapsed / result.steps_done * (c.optim.total_steps - s.step);
      const int64_t steps = (s.step - 1) % c.run.log_every + 1;
      std::string comm_note;
      if (world > 1)
        comm_note = LogFormat(" | comm exposed %.0f ms/step", 1000 * exposed_since_log / steps);
      s.Say(LogFormat(
          "step %lld/%lld | loss %.4f | mlm acc %.3f | %.0f tok/s | lr %.2e | "
          "density %.3f%s | ETA %s",
          static_cast<long long>(s.step), static_cast<long long>(c.optim.total_steps), sums[0],
          counts[0] ? sums[1] / counts[0] : 0.0, dt > 0 ? tokens_since_log / dt : 0.0, lr, sums[3],
          comm_note.c_str(), Clock(eta).c_str()));
      since_log = now;
      tokens_since_log = 0;
      exposed_since_log = 0;
    }
    if (s.valid && (s.step % c.run.eval_every == 0 || s.step == c.optim.total_steps)) {
      const auto [eval_loss, eval_acc] = s.Evaluate();
      result.last_eval_loss = eval_loss;
      s.Say(LogFormat("eval step %lld | loss %.4f | mlm acc %.3f", static_cast<long long>(s.step),
                      eval_loss, eval_acc));
    }
    if (s.step % c.run.checkpoint_every == 0 || s.step == c.optim.total_steps) {
      // Rank 0 writes and commits; the barrier holds every rank until the step is committed.
      if (rank == 0) result.last_checkpoint = s.Save();
      s.comm->Barrier()->Wait(s.timeout);
      s.Say("checkpoint " + result.last_checkpoint);
    }
  }
  result.final_step = s.step;
  return result;
}

}  // namespace sbmt::trainer
