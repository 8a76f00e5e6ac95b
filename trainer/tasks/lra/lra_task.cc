#include "trainer/tasks/lra/lra_task.h"

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>

#include "runtime/hash.h"
#include "trainer/checkpoint/safetensors.h"
#include "trainer/checkpoint/tensor_io.h"
#include "trainer/data/shard_dataset.h"

namespace sbmt::trainer {
namespace {

namespace fs = std::filesystem;

int64_t SequenceLength(const TrainConfig& c) {
  return c.task.lra.max_length > 0 ? c.task.lra.max_length
                                   : lra::Info(c.task.lra.name).default_length;
}

lra::Split Read(const TrainConfig& c, const std::string& split) {
  lra::ReadOptions o;
  o.max_length = SequenceLength(c);
  o.skip_malformed = c.task.lra.skip_malformed;
  lra::Split s = lra::ReadSplit(c.task.lra.name, c.task.lra.data_dir, split, o);
  if (s.skipped > 0) {
    std::fprintf(stderr, "lra/%s %s: skipped %lld malformed records (first: %s)\n",
                 c.task.lra.name.c_str(), split.c_str(), static_cast<long long>(s.skipped),
                 s.problems.front().c_str());
  }
  return s;
}

}  // namespace

std::string ExamplesDigest(const std::vector<lra::Example>& examples) {
  uint64_t h = runtime::kFnvOffsetBasis;
  for (const lra::Example& e : examples) {
    const std::string label = std::to_string(e.label) + ":";
    h = runtime::Fnv1a64(label, h);
    h = runtime::Fnv1a64(
        std::string(reinterpret_cast<const char*>(e.ids0.data()), e.ids0.size() * sizeof(int32_t)),
        h);
    h = runtime::Fnv1a64(
        std::string(reinterpret_cast<const char*>(e.ids1.data()), e.ids1.size() * sizeof(int32_t)),
        h);
  }
  char buf[40];
  std::snprintf(buf, sizeof(buf), "fnv1a64:%016llx", static_cast<unsigned long long>(h));
  return buf;
}

std::unique_ptr<LraBatch> MakeLraBatch(const std::vector<const lra::Example*>& rows,
                                       int64_t length) {
  auto b = std::make_unique<LraBatch>();
  const int64_t n = static_cast<int64_t>(rows.size());
  const bool pair = n > 0 && !rows[0]->ids1.empty();
  std::vector<int64_t> ids0(n * length, 0), ids1(pair ? n * length : 0, 0), labels(n);
  std::vector<uint8_t> valid0(n * length, 0), valid1(pair ? n * length : 0, 0);
  auto fill = [&](const std::vector<int32_t>& ids, int64_t r, std::vector<int64_t>& out,
                  std::vector<uint8_t>& valid) {
    const int64_t used = std::min<int64_t>(length, static_cast<int64_t>(ids.size()));
    for (int64_t t = 0; t < used; ++t) {
      out[r * length + t] = ids[t];
      valid[r * length + t] = 1;
    }
    b->tokens += used;
  };
  for (int64_t r = 0; r < n; ++r) {
    fill(rows[r]->ids0, r, ids0, valid0);
    if (pair) fill(rows[r]->ids1, r, ids1, valid1);
    labels[r] = rows[r]->label;
  }
  b->examples = n;
  b->loss_terms = n;
  b->ids0 = torch::tensor(ids0, torch::kLong).reshape({n, length});
  b->valid0 = torch::tensor(valid0, torch::kUInt8).reshape({n, length}).to(torch::kBool);
  if (pair) {
    b->ids1 = torch::tensor(ids1, torch::kLong).reshape({n, length});
    b->valid1 = torch::tensor(valid1, torch::kUInt8).reshape({n, length}).to(torch::kBool);
  }
  b->labels = torch::tensor(labels, torch::kLong);
  return b;
}

void LraTask::AdjustConfig(TrainConfig& c) {
  const lra::TaskInfo& info = lra::Info(c.task.lra.name);
  c.model.vocab_size = info.vocab_size;
  const int64_t length = SequenceLength(c);
  if (c.model.max_positions < length) {
    throw ConfigError("model.max_positions (" + std::to_string(c.model.max_positions) +
                      ") is shorter than the " + std::to_string(length) +
                      "-token sequences of lra/" + c.task.lra.name +
                      " (task.lra.max_length or the task's default)");
  }
}

LraTask::LraTask(const TrainConfig& config)
    : config_(config), info_(lra::Info(config.task.lra.name)), length_(SequenceLength(config)) {
  AdjustConfig(config_);
  standin_ = fs::exists(fs::path(config.task.lra.data_dir) / "STANDIN.txt");
  name_ = "lra/" + info_.name + (standin_ ? "-standin" : "");
  train_ = Read(config_, "train");
  if (train_.examples.empty()) {
    throw ConfigError(config.task.lra.data_dir + ": no training examples for " + name_);
  }
  dev_ = Read(config_, "dev");
  // Evaluations may read only the first run.eval_batches: shuffled once (the same order for
  // every run), they see both classes even where the source lists a class at a time (aclImdb).
  const std::vector<int64_t> order = EpochOrder(static_cast<int64_t>(dev_.examples.size()), 0, 0);
  std::vector<lra::Example> shuffled;
  shuffled.reserve(order.size());
  for (int64_t i : order) shuffled.push_back(std::move(dev_.examples[i]));
  dev_.examples = std::move(shuffled);
  // Read now, not after hours of training: a bad test file is an error before the first step.
  test_ = Read(config_, "test");
  data_identity_ = ExamplesDigest(train_.examples);
  model_ = std::make_shared<LraModel>(config_.model, info_.classes,
                                      info_.two_documents ? LraHead::kPairPooled : LraHead::kPooled,
                                      config_.run.seed);
}

std::unique_ptr<TaskBatch> LraTask::TrainBatch(int64_t epoch, int64_t first, int64_t rows) {
  if (epoch != order_epoch_) {
    order_ = EpochOrder(train_examples(), config_.run.seed, epoch);
    order_epoch_ = epoch;
  }
  std::vector<const lra::Example*> picked;
  for (int64_t r = 0; r < rows; ++r) picked.push_back(&train_.examples.at(order_.at(first + r)));
  return MakeLraBatch(picked, length_);
}

int64_t LraTask::EvalBatchCount(int64_t batch_size, int64_t max_batches) const {
  const int64_t n = static_cast<int64_t>(dev_.examples.size());
  return std::min(max_batches, (n + batch_size - 1) / batch_size);
}

std::unique_ptr<TaskBatch> LraTask::EvalBatch(int64_t index, int64_t batch_size) {
  std::vector<const lra::Example*> picked;
  const int64_t n = static_cast<int64_t>(dev_.examples.size());
  for (int64_t i = index * batch_size; i < std::min(n, (index + 1) * batch_size); ++i) {
    picked.push_back(&dev_.examples[i]);
  }
  return MakeLraBatch(picked, length_);
}

TaskForward LraTask::Forward(TaskBatch& batch, const attention::AttentionContext& context,
                             const GlobalBatchCounts& global) {
  auto& b = static_cast<LraBatch&>(batch);
  ClassifierOutput out = model_->forward(b.ids0, b.valid0, b.ids1, b.valid1, context);
  torch::Tensor ce = torch::cross_entropy_loss(out.logits, b.labels, {}, at::Reduction::Sum);
  TaskForward f;
  SetObjective(f, ce, out.regularizer, b.examples, global);
  f.stats = {static_cast<double>((out.logits.argmax(1) == b.labels).sum().item<int64_t>())};
  f.layer_stats = std::move(out.layer_stats);
  return f;
}

Metrics LraTask::MetricsOf(const std::vector<double>& stats, int64_t loss_terms) const {
  return {{"accuracy", loss_terms > 0 ? stats[0] / static_cast<double>(loss_terms) : 0.0}};
}

void LraTask::WriteOutputs(const std::string& dir, const Log& log) {
  nlohmann::json result = {{"task", name_},
                           {"lra_task", info_.name},
                           {"standin", standin_},
                           {"attention", config_.model.attention},
                           {"data_dir", config_.task.lra.data_dir},
                           {"sequence_length", length_},
                           {"total_steps", config_.optim.total_steps},
                           {"train_examples", train_examples()}};
  // The test pass runs the best evaluation's weights (the reference's model selection).
  const fs::path best = fs::path(dir) / "best";
  if (fs::exists(best / "model.safetensors")) {
    const std::string path = (best / "model.safetensors").string();
    LoadTensors(ReadSafetensors(path), model_->named_parameters(), path);
    std::ifstream info(best / "best.json");
    result["best"] = nlohmann::json::parse(info, nullptr, /*allow_exceptions=*/false);
  }
  const lra::Split& test = test_;
  torch::nn::Module& m = *model_;
  m.eval();
  torch::NoGradGuard no_grad;
  const int64_t batch = config_.data.global_batch;
  const int64_t n = static_cast<int64_t>(test.examples.size());
  double correct = 0, density = 0, heads = 0;
  const torch::Device device = DeviceOf(*model_);
  for (int64_t first = 0, i = 0; first < n; first += batch, ++i) {
    std::vector<const lra::Example*> rows;
    for (int64_t k = first; k < std::min(n, first + batch); ++k) rows.push_back(&test.examples[k]);
    auto b = MakeLraBatch(rows, length_);
    b->To(device);
    // Keys no training step or evaluation uses: the test pass samples its own graphs.
    const attention::AttentionContext context{static_cast<uint64_t>(i), uint64_t{1} << 40,
                                              attention::AttentionContext::Phase::kEval};
    ClassifierOutput out = model_->forward(b->ids0, b->valid0, b->ids1, b->valid1, context);
    correct += static_cast<double>((out.logits.argmax(1) == b->labels).sum().item<int64_t>());
    for (const attention::AttentionStats& s : out.layer_stats) {
      density += s.density.sum().item<double>() * static_cast<double>(rows.size());
      heads += static_cast<double>(s.density.numel()) * static_cast<double>(rows.size());
    }
  }
  result["test_examples"] = n;
  result["test_accuracy"] = n > 0 ? correct / static_cast<double>(n) : 0.0;
  result["test_mean_density"] = heads > 0 ? density / heads : 1.0;
  const fs::path file = fs::path(dir) / "lra_result.json";
  std::ofstream(file.string() + ".tmp") << result.dump(2) << "\n";
  fs::rename(file.string() + ".tmp", file);
  char line[200];
  std::snprintf(line, sizeof(line), "%s test: accuracy %.4f on %lld examples, mean density %.3f",
                name_.c_str(), result["test_accuracy"].get<double>(), static_cast<long long>(n),
                result["test_mean_density"].get<double>());
  log(std::string(line) + " (" + file.string() + ")");
}

}  // namespace sbmt::trainer
