#include "trainer/train/pretrainer.h"

#include <torch/torch.h>

#include <chrono>
#include <cstdarg>
#include <fstream>
#include <iterator>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <thread>

#include "trainer/checkpoint/checkpoint_store.h"
#include "trainer/checkpoint/hf_export.h"
#include "trainer/checkpoint/safetensors.h"
#include "trainer/checkpoint/tensor_io.h"
#include "trainer/data/mlm_masking.h"
#include "trainer/data/shard_dataset.h"
#include "trainer/dist/gradient_reducer.h"
#include "trainer/dist/in_process_communicator.h"
#include "trainer/model/bert.h"
#include "trainer/train/compute_threads.h"

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

std::string Format(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
std::string Format(const char* fmt, ...) {
  char buf[512];
  va_list args;
  va_start(args, fmt);
  std::vsnprintf(buf, sizeof(buf), fmt, args);
  va_end(args);
  return buf;
}

// The checkpoint's files, in the order rank 0 broadcasts them.
const char* const kCheckpointFiles[] = {"model.safetensors", "optimizer.safetensors", "state.json"};

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

struct Pretrainer::State {
  TrainConfig config;
  Log log;
  std::unique_ptr<ShardDataset> train, valid;
  std::shared_ptr<BertForMaskedLM> model;
  std::unique_ptr<torch::optim::AdamW> optimizer;
  std::vector<std::pair<std::string, torch::Tensor>> params;  // name order, for checkpoints
  CheckpointStore store;
  int64_t step = 0;
  DataPosition position;
  std::unique_ptr<dist::Communicator> own_comm;  // the world of one, without a given communicator
  dist::Communicator* comm;
  std::chrono::milliseconds timeout;
  std::unique_ptr<dist::GradientReducer> reducer;

  State(TrainConfig c, Log l, dist::Communicator* given)
      : config(std::move(c)), log(std::move(l)),
        store((std::filesystem::path(config.run.out_dir) / "checkpoints").string(),
              static_cast<int>(config.run.keep_checkpoints)),
        own_comm(given ? nullptr : dist::InProcessWorld::Single()),
        comm(given ? given : own_comm.get()),
        timeout(std::chrono::seconds(config.dist.timeout_s)) {}

  void Say(const std::string& message) const {  // logs on rank 0 only
    if (comm->rank() == 0) log(message);
  }

  // Sums `values` over the ranks, in place.
  template <typename T>
  void SumOverRanks(std::vector<T>& values) const {
    comm->AllReduce(dist::Buffer::Of(values.data(), static_cast<int64_t>(values.size())),
                    dist::ReduceOp::kSum)
        ->Wait(timeout);
  }

  // Every rank must run the same configuration: compares digests at start.
  void CheckSameConfigEverywhere() const {
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

  double LearningRate(int64_t s) const {  // s: the step being taken, from 0
    const OptimConfig& o = config.optim;
    const double t = static_cast<double>(s + 1);
    if (o.warmup_steps > 0 && t <= o.warmup_steps) return o.lr * t / o.warmup_steps;
    const double left = static_cast<double>(o.total_steps - o.warmup_steps);
    return o.lr * std::max(0.0, (o.total_steps - t) / std::max(1.0, left));
  }

  // A micro-batch, masked: the model's inputs and the MLM targets.
  struct Prepared {
    MaskedBatch masked;
    torch::Tensor ids, valid;
    int64_t rows = 0, tokens = 0;
  };
  Prepared Prepare(const TokenBatch& b, int64_t epoch, int64_t row0, int64_t rows) const {
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

  // Runs the model on a prepared micro-batch. `loss` is its share of the step's loss: the sum of
  // its masked tokens' cross-entropy over the global batch's masked-token count, plus the
  // regularizer weighted by its share of the global batch's rows; summed over micro-batches and
  // ranks, that is the loss of the global batch whatever the split.
  struct Forward {
    torch::Tensor loss;
    double mlm_loss_sum = 0;
    int64_t correct = 0;
    double density = 0;
  };
  Forward Run(const Prepared& p, int64_t global_masked, int64_t global_rows) {
    const int64_t masked = static_cast<int64_t>(p.masked.positions.size());
    torch::Tensor positions = torch::tensor(p.masked.positions, torch::kLong);
    BertOutput out = model->forward(p.ids, p.valid, positions);
    Forward f;
    f.loss = out.regularizer * (static_cast<double>(p.rows) / global_rows);
    if (masked > 0) {
      torch::Tensor labels = torch::tensor(p.masked.labels, torch::kLong);
      torch::Tensor ce = torch::cross_entropy_loss(out.logits, labels, {},
                                                   at::Reduction::Sum);
      f.loss = f.loss + ce / static_cast<double>(global_masked);
      f.mlm_loss_sum = ce.item<double>();
      f.correct = (out.logits.argmax(1) == labels).sum().item<int64_t>();
    }
    for (const attention::AttentionStats& st : out.layer_stats) {
      f.density += st.density.mean().item<double>() / static_cast<double>(out.layer_stats.size());
    }
    return f;
  }

  // Loss and MLM accuracy on the first eval_batches validation batches; the batches are shared
  // out over the ranks and the sums combined.
  std::pair<double, double> Evaluate() {
    model->eval();
    torch::NoGradGuard no_grad;
    DataPosition p;  // the same batches every evaluation
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

  std::string Save() {
    std::vector<SafeTensor> weights, moments;
    for (const auto& [name, p] : params) {
      weights.push_back(ToSafeTensor(name, p));
      auto it = optimizer->state().find(c10::guts::to_string(p.unsafeGetTensorImpl()));
      if (it != optimizer->state().end()) {
        auto& st = static_cast<torch::optim::AdamWParamState&>(*it->second);
        moments.push_back(ToSafeTensor(name + ".exp_avg", st.exp_avg()));
        moments.push_back(ToSafeTensor(name + ".exp_avg_sq", st.exp_avg_sq()));
      }
    }
    nlohmann::json state = {
        {"step", step},
        {"epoch", position.epoch},
        {"batch", position.batch},
        {"config_digest", config.Digest()},
        {"world_size", comm->size()}};
    return store.Save(step, {{"model.safetensors", SerializeSafetensors(weights, {{"format", "pt"}})},
                             {"optimizer.safetensors", SerializeSafetensors(moments, {{"format", "pt"}})},
                             {"state.json", state.dump(1)}});
  }

  // Starts from Hugging Face BERT weights; parameters it lacks (SBM's, for example) keep their
  // initialization.
  void InitFrom(const std::string& dir) {
    HuggingFaceModel hf = ImportHuggingFace(dir);
    const ModelConfig& m = config.model;
    if (hf.model.vocab_size != m.vocab_size || hf.model.hidden != m.hidden ||
        hf.model.layers != m.layers || hf.model.heads != m.heads || hf.model.ffn != m.ffn ||
        hf.model.max_positions != m.max_positions) {
      throw ConfigError(dir + "/config.json: model shape differs from this config's model");
    }
    const std::vector<std::string> kept =
        LoadTensors(hf.weights, model->named_parameters(), dir + "/model.safetensors",
                    {".sbm.", ".linformer.", ".nystrom."});
    Say(Format("initialized from %s (%zu parameters kept their initialization)", dir.c_str(),
               kept.size()));
  }

  // Rank 0 loads the newest committed checkpoint that verifies and sends its files to every
  // rank, so all resume from the same step even without a shared filesystem.
  std::optional<LoadedCheckpoint> LoadLatestEverywhere() {
    std::optional<LoadedCheckpoint> c;
    std::vector<int64_t> header(2 + std::size(kCheckpointFiles), 0);  // found, step, sizes
    if (comm->rank() == 0) {
      c = store.LoadLatest(log);
      if (c) {
        header[0] = 1;
        header[1] = c->step;
        for (size_t f = 0; f < std::size(kCheckpointFiles); ++f) {
          header[2 + f] = static_cast<int64_t>(c->files.at(kCheckpointFiles[f]).size());
        }
      }
    }
    comm->Broadcast(dist::Buffer::Of(header.data(), static_cast<int64_t>(header.size())), 0)
        ->Wait(timeout);
    if (header[0] == 0) return std::nullopt;
    if (comm->rank() != 0) {
      c = LoadedCheckpoint{header[1], store.root() + "/step_" + std::to_string(header[1]), {}};
    }
    for (size_t f = 0; f < std::size(kCheckpointFiles); ++f) {
      std::string& bytes = c->files[kCheckpointFiles[f]];
      bytes.resize(static_cast<size_t>(header[2 + f]));
      comm->Broadcast(dist::Buffer::Of(reinterpret_cast<uint8_t*>(bytes.data()), header[2 + f]), 0)
          ->Wait(timeout);
    }
    return c;
  }

  bool Resume() {
    std::optional<LoadedCheckpoint> c = LoadLatestEverywhere();
    if (!c) return false;
    const nlohmann::json state = nlohmann::json::parse(c->files.at("state.json"));
    if (state["config_digest"] != config.Digest()) {
      throw CheckpointError(c->dir + ": written with another configuration (digest " +
                            state["config_digest"].get<std::string>() + ", this run " +
                            config.Digest() + "); use another run.out_dir");
    }
    const SafetensorsFile weights =
        ParseSafetensors(c->files.at("model.safetensors"), c->dir + "/model.safetensors");
    const SafetensorsFile moments =
        ParseSafetensors(c->files.at("optimizer.safetensors"), c->dir + "/optimizer.safetensors");
    for (auto& [name, p] : params) {
      const SafeTensor* w = weights.Find(name);
      if (!w) throw CheckpointError(c->dir + "/model.safetensors: missing tensor '" + name + "'");
      CopyInto(*w, p, c->dir + "/model.safetensors");
      const SafeTensor* m1 = moments.Find(name + ".exp_avg");
      const SafeTensor* m2 = moments.Find(name + ".exp_avg_sq");
      if (m1 && m2) {
        auto st = std::make_unique<torch::optim::AdamWParamState>();
        torch::Tensor a = torch::empty_like(p), b = torch::empty_like(p);
        CopyInto(*m1, a, c->dir + "/optimizer.safetensors");
        CopyInto(*m2, b, c->dir + "/optimizer.safetensors");
        st->exp_avg(a);
        st->exp_avg_sq(b);
        st->step(state["step"].get<int64_t>());
        optimizer->state()[c10::guts::to_string(p.unsafeGetTensorImpl())] = std::move(st);
      }
    }
    step = state["step"].get<int64_t>();
    position = {state["epoch"].get<int64_t>(), state["batch"].get<int64_t>()};
    const int written_by = state.value("world_size", 1);
    Say(Format("resumed from %s (step %lld)", c->dir.c_str(), static_cast<long long>(step)));
    if (written_by != comm->size()) {
      Say(Format("the checkpoint was written at world size %d, this run has %d: same global "
                 "batch and data order; float sums may round differently",
                 written_by, comm->size()));
    }
    return true;
  }
};

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
  groups.emplace_back(no_decay, std::make_unique<torch::optim::AdamWOptions>(
                                    torch::optim::AdamWOptions(s.config.optim.lr)
                                        .weight_decay(0.0)
                                        .eps(1e-6)));
  s.optimizer = std::make_unique<torch::optim::AdamW>(std::move(groups));
  std::vector<torch::Tensor> tensors;
  for (const auto& [name, p] : s.params) tensors.push_back(p);
  dist::ReducerOptions reducer;
  reducer.bucket_bytes = static_cast<int64_t>(s.config.dist.bucket_mb * (1 << 20));
  reducer.first_bucket_bytes = static_cast<int64_t>(s.config.dist.first_bucket_mb * (1 << 20));
  reducer.timeout = s.timeout;
  s.reducer = std::make_unique<dist::GradientReducer>(*s.comm, std::move(tensors), reducer);
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
  {  // every rank starts from rank 0's weights (whatever each initialized or loaded)
    std::vector<torch::Tensor> tensors;
    for (const auto& [name, p] : s.params) tensors.push_back(p);
    dist::BroadcastTensors(*s.comm, tensors, 0, s.timeout);
  }
  TrainResult result;
  if (s.valid && s.step == 0) {  // the start of the validation curve
    const auto [eval_loss, eval_acc] = s.Evaluate();
    result.last_eval_loss = eval_loss;
    s.Say(Format("eval step 0 | loss %.4f | mlm acc %.3f", eval_loss, eval_acc));
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
    if (c.optim.clip_norm > 0) torch::nn::utils::clip_grad_norm_(s.model->parameters(), c.optim.clip_norm);
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
      if (world > 1) comm_note = Format(" | comm exposed %.0f ms/step", 1000 * exposed_since_log / steps);
      s.Say(Format("step %lld/%lld | loss %.4f | mlm acc %.3f | %.0f tok/s | lr %.2e | "
                   "density %.3f%s | ETA %s",
                   static_cast<long long>(s.step), static_cast<long long>(c.optim.total_steps),
                   sums[0], counts[0] ? sums[1] / counts[0] : 0.0,
                   dt > 0 ? tokens_since_log / dt : 0.0, lr, sums[3], comm_note.c_str(),
                   Clock(eta).c_str()));
      since_log = now;
      tokens_since_log = 0;
      exposed_since_log = 0;
    }
    if (s.valid && (s.step % c.run.eval_every == 0 || s.step == c.optim.total_steps)) {
      const auto [eval_loss, eval_acc] = s.Evaluate();
      result.last_eval_loss = eval_loss;
      s.Say(Format("eval step %lld | loss %.4f | mlm acc %.3f", static_cast<long long>(s.step),
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
