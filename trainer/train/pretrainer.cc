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
#include "trainer/model/bert.h"

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

  State(TrainConfig c, Log l)
      : config(std::move(c)), log(std::move(l)),
        store((std::filesystem::path(config.run.out_dir) / "checkpoints").string(),
              static_cast<int>(config.run.keep_checkpoints)) {}

  double LearningRate(int64_t s) const {  // s: the step being taken, from 0
    const OptimConfig& o = config.optim;
    const double t = static_cast<double>(s + 1);
    if (o.warmup_steps > 0 && t <= o.warmup_steps) return o.lr * t / o.warmup_steps;
    const double left = static_cast<double>(o.total_steps - o.warmup_steps);
    return o.lr * std::max(0.0, (o.total_steps - t) / std::max(1.0, left));
  }

  // Masks a batch and runs the model; returns (loss incl. regularizer, correct, masked, density).
  struct Forward {
    torch::Tensor loss, mlm_loss;
    int64_t correct = 0, masked = 0, tokens = 0;
    double density = 0;
  };
  Forward Run(const TokenBatch& b, int64_t epoch, int64_t row0, int64_t rows) {
    TokenBatch part;
    part.rows = rows;
    part.width = b.width;
    part.tokens.assign(b.tokens.begin() + row0 * b.width, b.tokens.begin() + (row0 + rows) * b.width);
    part.lengths.assign(b.lengths.begin() + row0, b.lengths.begin() + row0 + rows);
    part.sequence_ids.assign(b.sequence_ids.begin() + row0, b.sequence_ids.begin() + row0 + rows);
    MaskingOptions mo;
    mo.seed = config.run.seed;
    mo.epoch = epoch;
    mo.probability = config.data.mask_probability;
    mo.vocab_size = static_cast<int32_t>(config.model.vocab_size);
    mo.cls_id = kCls;
    mo.sep_id = kSep;
    mo.pad_id = kPad;
    mo.mask_id = kMask;
    MaskedBatch m = MaskTokens(part, mo);
    Forward f;
    f.masked = static_cast<int64_t>(m.positions.size());
    for (int32_t len : part.lengths) f.tokens += len;
    torch::Tensor ids = torch::tensor(m.inputs, torch::kLong).reshape({rows, b.width});
    torch::Tensor valid = torch::tensor(part.tokens, torch::kLong).reshape({rows, b.width}) != kPad;
    if (f.masked == 0) {  // nothing to predict: the regularizer alone
      BertOutput out = model->forward(ids, valid, torch::zeros({0}, torch::kLong));
      f.loss = out.regularizer;
      f.mlm_loss = torch::zeros({});
      return f;
    }
    torch::Tensor positions = torch::tensor(m.positions, torch::kLong);
    torch::Tensor labels = torch::tensor(m.labels, torch::kLong);
    BertOutput out = model->forward(ids, valid, positions);
    f.mlm_loss = torch::cross_entropy_loss(out.logits, labels);
    f.loss = f.mlm_loss + out.regularizer;
    f.correct = (out.logits.argmax(1) == labels).sum().item<int64_t>();
    for (const attention::AttentionStats& st : out.layer_stats) {
      f.density += st.density.mean().item<double>() / static_cast<double>(out.layer_stats.size());
    }
    return f;
  }

  std::pair<double, double> Evaluate() {
    model->eval();
    torch::NoGradGuard no_grad;
    DataPosition p;  // the same batches every evaluation
    double loss = 0, correct = 0, masked = 0;
    const int64_t batch = std::min<int64_t>(config.data.global_batch, valid->size());
    const int64_t batches = std::min<int64_t>(config.run.eval_batches, valid->BatchesPerEpoch(batch));
    for (int64_t i = 0; i < batches; ++i) {
      model->set_step(kEvalStepBase + static_cast<uint64_t>(i));
      TokenBatch b = valid->Next(p, batch, 0, 1, kPad);
      Forward f = Run(b, 0, 0, b.rows);
      loss += f.mlm_loss.item<double>() * f.masked;
      correct += f.correct;
      masked += f.masked;
    }
    model->train();
    return {masked > 0 ? loss / masked : 0.0, masked > 0 ? correct / masked : 0.0};
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
    torch::Tensor rng = at::detail::getDefaultCPUGenerator().get_state();
    nlohmann::json state = {
        {"step", step},
        {"epoch", position.epoch},
        {"batch", position.batch},
        {"config_digest", config.Digest()},
        {"world_size", 1},
        {"torch_rng", std::vector<uint8_t>(rng.data_ptr<uint8_t>(), rng.data_ptr<uint8_t>() + rng.numel())}};
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
    log(Format("initialized from %s (%zu parameters kept their initialization)", dir.c_str(),
               kept.size()));
  }

  bool Resume() {
    std::optional<LoadedCheckpoint> c = store.LoadLatest(log);
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
    std::vector<uint8_t> rng = state["torch_rng"].get<std::vector<uint8_t>>();
    at::Generator generator = at::detail::getDefaultCPUGenerator();
    generator.set_state(
        torch::from_blob(rng.data(), {static_cast<int64_t>(rng.size())}, torch::kUInt8).clone());
    step = state["step"].get<int64_t>();
    position = {state["epoch"].get<int64_t>(), state["batch"].get<int64_t>()};
    log(Format("resumed from %s (step %lld)", c->dir.c_str(), static_cast<long long>(step)));
    return true;
  }
};

Pretrainer::Pretrainer(TrainConfig config, Log log)
    : s_(std::make_unique<State>(std::move(config), std::move(log))) {
  State& s = *s_;
  const int threads = s.config.run.threads > 0
                          ? static_cast<int>(s.config.run.threads)
                          : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  torch::set_num_threads(threads);
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
  if (s.config.data.global_batch % s.config.optim.accumulation != 0) {
    throw ConfigError("data.global_batch must be a multiple of optim.accumulation");
  }
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
  TrainResult result;
  if (s.valid && s.step == 0) {  // the start of the validation curve
    const auto [eval_loss, eval_acc] = s.Evaluate();
    result.last_eval_loss = eval_loss;
    s.log(Format("eval step 0 | loss %.4f | mlm acc %.3f", eval_loss, eval_acc));
  }
  const int64_t accumulation = c.optim.accumulation;
  const int64_t micro = c.data.global_batch / accumulation;
  const auto start = std::chrono::steady_clock::now();
  auto since_log = start;
  int64_t tokens_since_log = 0;
  s.model->train();
  while (s.step < c.optim.total_steps && (max_steps < 0 || result.steps_done < max_steps)) {
    s.model->set_step(static_cast<uint64_t>(s.step));
    const int64_t epoch_before = s.position.batch >= s.train->BatchesPerEpoch(c.data.global_batch)
                                     ? s.position.epoch + 1
                                     : s.position.epoch;
    const TokenBatch batch = s.train->Next(s.position, c.data.global_batch, 0, 1, kPad);
    double loss = 0, density = 0;
    int64_t correct = 0, masked = 0;
    for (int64_t m = 0; m < accumulation; ++m) {
      State::Forward f = s.Run(batch, epoch_before, m * micro, micro);
      (f.loss / static_cast<double>(accumulation)).backward();
      loss += f.loss.item<double>() / accumulation;
      density += f.density / accumulation;
      correct += f.correct;
      masked += f.masked;
      tokens_since_log += f.tokens;
    }
    if (c.optim.clip_norm > 0) torch::nn::utils::clip_grad_norm_(s.model->parameters(), c.optim.clip_norm);
    const double lr = s.LearningRate(s.step);
    for (auto& group : s.optimizer->param_groups()) {
      static_cast<torch::optim::AdamWOptions&>(group.options()).lr(lr);
    }
    s.optimizer->step();
    s.optimizer->zero_grad();
    ++s.step;
    ++result.steps_done;
    result.last_loss = loss;

    const auto now = std::chrono::steady_clock::now();
    if (s.step % c.run.log_every == 0 || s.step == c.optim.total_steps) {
      const double dt = std::chrono::duration<double>(now - since_log).count();
      const double elapsed = std::chrono::duration<double>(now - start).count();
      const double eta = elapsed / result.steps_done * (c.optim.total_steps - s.step);
      s.log(Format("step %lld/%lld | loss %.4f | mlm acc %.3f | %.0f tok/s | lr %.2e | "
                   "density %.3f | ETA %s",
                   static_cast<long long>(s.step), static_cast<long long>(c.optim.total_steps),
                   loss, masked ? static_cast<double>(correct) / masked : 0.0,
                   dt > 0 ? tokens_since_log / dt : 0.0, lr, density, Clock(eta).c_str()));
      since_log = now;
      tokens_since_log = 0;
    }
    if (s.valid && (s.step % c.run.eval_every == 0 || s.step == c.optim.total_steps)) {
      const auto [eval_loss, eval_acc] = s.Evaluate();
      result.last_eval_loss = eval_loss;
      s.log(Format("eval step %lld | loss %.4f | mlm acc %.3f", static_cast<long long>(s.step),
                   eval_loss, eval_acc));
    }
    if (s.step % c.run.checkpoint_every == 0 || s.step == c.optim.total_steps) {
      result.last_checkpoint = s.Save();
      s.log("checkpoint " + result.last_checkpoint);
    }
  }
  result.final_step = s.step;
  return result;
}

}  // namespace sbmt::trainer
