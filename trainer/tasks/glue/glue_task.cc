#include "trainer/tasks/glue/glue_task.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "trainer/checkpoint/checkpoint_store.h"
#include "trainer/data/shard_dataset.h"
#include "trainer/data/wordpiece_tokenizer.h"
#include "trainer/tasks/bert_init.h"
#include "trainer/tasks/glue/glue_metrics.h"

namespace sbmt::trainer {
namespace {

struct GlueBatch : TaskBatch {
  torch::Tensor ids, types, valid, labels;
};

const glue::GlueSplit& Split(const glue::GlueTaskSpec& spec, bool dev) {
  for (const glue::GlueSplit& s : spec.splits) {
    // The first labelled split after train is the dev set (MNLI: dev_matched).
    if (dev ? (s.labelled && s.name != "train") : s.name == "train") return s;
  }
  throw ConfigError("GLUE task " + spec.name + " has no " + (dev ? "dev" : "train") + " split");
}

std::string PathOf(const TrainConfig& c, const glue::GlueTaskSpec& spec, const glue::GlueSplit& s) {
  return (std::filesystem::path(c.task.glue.data_dir) / spec.folder / s.file).string();
}

std::vector<EncodedPair> Encode(const TrainConfig& c, const glue::GlueTaskSpec& spec,
                                const glue::GlueSplit& split, const WordPieceTokenizer& vocab,
                                const Task::Log& log) {
  glue::GlueReadReport report;
  const std::string path = PathOf(c, spec, split);
  const std::vector<glue::GlueExample> rows = glue::ReadGlueFile(
      spec, path, split.labelled,
      c.task.glue.skip_malformed ? glue::MalformedRows::kSkip : glue::MalformedRows::kFail,
      &report);
  if (report.skipped > 0 && log) {
    log(path + ": skipped " + std::to_string(report.skipped) + " malformed of " +
        std::to_string(report.rows) + " rows (first: " + report.problems.front() + ")");
  }
  const int64_t max_length = c.task.glue.max_length > 0
                                 ? std::min(c.task.glue.max_length, c.model.max_positions)
                                 : c.model.max_positions;
  std::vector<EncodedPair> out;
  for (const glue::GlueExample& e : rows) {
    EncodedPair p = EncodePair(vocab.Encode(e.text_a),
                               e.text_b.empty() ? std::vector<int32_t>{} : vocab.Encode(e.text_b),
                               vocab.cls_id(), vocab.sep_id(), max_length);
    p.index = e.index;
    if (split.labelled) {
      p.label =
          spec.regression()
              ? std::stof(e.label)
              : static_cast<float>(std::find(spec.labels.begin(), spec.labels.end(), e.label) -
                                   spec.labels.begin());
    }
    out.push_back(std::move(p));
  }
  return out;
}

}  // namespace

EncodedPair EncodePair(const std::vector<int32_t>& a, const std::vector<int32_t>& b, int32_t cls_id,
                       int32_t sep_id, int64_t max_length) {
  const bool pair = !b.empty();
  const size_t room = static_cast<size_t>(std::max<int64_t>(0, max_length - (pair ? 3 : 2)));
  size_t la = a.size(), lb = b.size();
  while (la + lb > room) (la > lb ? la : lb) -= 1;  // longest first; b on ties
  EncodedPair p;
  p.ids.push_back(cls_id);
  p.ids.insert(p.ids.end(), a.begin(), a.begin() + static_cast<std::ptrdiff_t>(la));
  p.ids.push_back(sep_id);
  p.token_types.assign(p.ids.size(), 0);
  if (pair) {
    p.ids.insert(p.ids.end(), b.begin(), b.begin() + static_cast<std::ptrdiff_t>(lb));
    p.ids.push_back(sep_id);
    p.token_types.resize(p.ids.size(), 1);
  }
  return p;
}

void GlueTask::AdjustConfig(TrainConfig& c) {
  if (c.task.glue.epochs <= 0) return;
  const glue::GlueTaskSpec& spec = glue::GlueSpec(c.task.glue.name);
  const std::string path = PathOf(c, spec, Split(spec, false));
  std::ifstream in(path);
  if (!in) throw ConfigError("task.glue.data_dir: " + path + ": cannot read");
  int64_t rows = 0;
  for (std::string line; std::getline(in, line);) rows += !line.empty();
  if (!spec.headerless) --rows;  // the header
  const int64_t per_epoch = std::max<int64_t>(1, rows / c.data.global_batch);
  c.optim.total_steps = c.task.glue.epochs * per_epoch;
  c.optim.warmup_steps = std::min(c.optim.warmup_steps, c.optim.total_steps);
  c.run.eval_every = per_epoch;
  c.run.checkpoint_every = per_epoch;
}

GlueTask::GlueTask(const TrainConfig& config)
    : config_(config), spec_(glue::GlueSpec(config.task.glue.name)) {
  if (config.data.vocab.empty()) {
    throw ConfigError("data.vocab: GLUE tasks tokenize with it (the pretrained model's vocab.txt)");
  }
  const WordPieceTokenizer vocab = WordPieceTokenizer::FromFile(config.data.vocab);
  pad_id_ = vocab.pad_id();
  train_ = Encode(config, spec_, Split(spec_, false), vocab, nullptr);
  dev_ = Encode(config, spec_, Split(spec_, true), vocab, nullptr);
  {
    std::ifstream in(PathOf(config, spec_, Split(spec_, false)), std::ios::binary);
    const std::string bytes{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
    char buf[32];
    std::snprintf(buf, sizeof(buf), "crc32:%08x", Crc32(bytes));
    data_identity_ = buf;
  }
  const int64_t outputs = spec_.regression() ? 1 : static_cast<int64_t>(spec_.labels.size());
  model_ = std::make_shared<BertForSequenceClassification>(config.model, outputs, config.run.seed);
}

std::unique_ptr<TaskBatch> GlueTask::Batch(const std::vector<const EncodedPair*>& rows) const {
  auto b = std::make_unique<GlueBatch>();
  const int64_t n = static_cast<int64_t>(rows.size());
  int64_t width = 0;
  for (const EncodedPair* p : rows) width = std::max<int64_t>(width, p->ids.size());
  std::vector<int64_t> ids(n * width, pad_id_), types(n * width, 0);
  std::vector<uint8_t> valid(n * width, 0);
  std::vector<float> labels;
  for (int64_t r = 0; r < n; ++r) {
    for (size_t t = 0; t < rows[r]->ids.size(); ++t) {
      ids[r * width + t] = rows[r]->ids[t];
      types[r * width + t] = rows[r]->token_types[t];
      valid[r * width + t] = 1;
    }
    labels.push_back(rows[r]->label);
    b->tokens += static_cast<int64_t>(rows[r]->ids.size());
  }
  b->examples = n;
  b->loss_terms = n;
  b->ids = torch::tensor(ids, torch::kLong).reshape({n, width});
  b->types = torch::tensor(types, torch::kLong).reshape({n, width});
  b->valid = torch::tensor(valid, torch::kUInt8).reshape({n, width}).to(torch::kBool);
  b->labels = torch::tensor(labels, torch::kFloat);
  if (!spec_.regression()) b->labels = b->labels.to(torch::kLong);
  return b;
}

std::unique_ptr<TaskBatch> GlueTask::TrainBatch(int64_t epoch, int64_t first, int64_t rows) {
  if (epoch != order_epoch_) {
    order_ = EpochOrder(train_examples(), config_.run.seed, epoch);
    order_epoch_ = epoch;
  }
  std::vector<const EncodedPair*> picked;
  for (int64_t r = 0; r < rows; ++r) picked.push_back(&train_.at(order_.at(first + r)));
  return Batch(picked);
}

int64_t GlueTask::EvalBatchCount(int64_t batch_size, int64_t max_batches) const {
  const int64_t n = static_cast<int64_t>(dev_.size());
  (void)max_batches;  // GLUE scores the whole dev set
  return n == 0 ? 0 : (n + batch_size - 1) / batch_size;
}

std::unique_ptr<TaskBatch> GlueTask::EvalBatch(int64_t index, int64_t batch_size) {
  const int64_t n = static_cast<int64_t>(dev_.size());
  std::vector<const EncodedPair*> picked;
  for (int64_t i = index * batch_size; i < std::min(n, (index + 1) * batch_size); ++i) {
    picked.push_back(&dev_[i]);
  }
  return Batch(picked);
}

TaskForward GlueTask::Forward(TaskBatch& batch, const attention::AttentionContext& context,
                              const GlobalBatchCounts& global) {
  auto& b = static_cast<GlueBatch&>(batch);
  ClassifierOutput out = model_->forward(b.ids, b.types, b.valid, context);
  TaskForward f;
  f.stats.assign(5, 0.0);
  torch::Tensor term_loss;
  if (spec_.regression()) {
    const torch::Tensor predicted = out.logits.squeeze(1);
    term_loss = (predicted - b.labels).pow(2).sum();
    const torch::Tensor p = predicted.detach().to(torch::kDouble), y = b.labels.to(torch::kDouble);
    f.stats = {p.sum().item<double>(), y.sum().item<double>(), (p * p).sum().item<double>(),
               (y * y).sum().item<double>(), (p * y).sum().item<double>()};
  } else {
    term_loss = torch::cross_entropy_loss(out.logits, b.labels, {}, at::Reduction::Sum);
    const torch::Tensor predicted = out.logits.argmax(1);
    const torch::Tensor pp = predicted == 1, lp = b.labels == 1;  // class "1" (binary tasks)
    f.stats = {static_cast<double>((predicted == b.labels).sum().item<int64_t>()),
               static_cast<double>((pp & lp).sum().item<int64_t>()),
               static_cast<double>((pp & ~lp).sum().item<int64_t>()),
               static_cast<double>((~pp & lp).sum().item<int64_t>()),
               static_cast<double>((~pp & ~lp).sum().item<int64_t>())};
  }
  f.loss = out.regularizer * (static_cast<double>(b.examples) / global.examples) +
           term_loss / static_cast<double>(global.loss_terms);
  f.loss_sum = term_loss.item<double>();
  f.layer_stats = std::move(out.layer_stats);
  return f;
}

Metrics GlueTask::MetricsOf(const std::vector<double>& s, int64_t loss_terms) const {
  Metrics m;
  const double n = static_cast<double>(loss_terms);
  if (n <= 0) return m;
  for (const std::string& metric : spec_.metrics) {
    if (metric == "accuracy") m.emplace_back(metric, s[0] / n);
    if (metric == "f1") {
      const double d = 2 * s[1] + s[2] + s[3];
      m.emplace_back(metric, d == 0 ? 0.0 : 2 * s[1] / d);
    }
    if (metric == "mcc") {
      const double tp = s[1], fp = s[2], fn = s[3], tn = s[4];
      const double d = std::sqrt((tp + fp) * (tp + fn) * (tn + fp) * (tn + fn));
      m.emplace_back(metric, d == 0 ? 0.0 : (tp * tn - fp * fn) / d);
    }
    if (metric == "pearson") {
      const double sxx = s[2] - s[0] * s[0] / n, syy = s[3] - s[1] * s[1] / n;
      const double sxy = s[4] - s[0] * s[1] / n;
      m.emplace_back(metric, sxx > 0 && syy > 0 ? sxy / std::sqrt(sxx * syy) : NAN);
    }
  }
  return m;
}

// The pretrained encoder; the pooler and the classifier start fresh unless the directory has
// them (a fine-tuned classifier).
void GlueTask::InitFrom(const std::string& dir, const Log& log) {
  InitBertFromHuggingFace(*model_, config_.model, dir, {"bert.pooler.", "classifier."}, log);
}

}  // namespace sbmt::trainer
