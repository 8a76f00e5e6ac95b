#include "trainer/tasks/glue/glue_task.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>

#include "trainer/checkpoint/safetensors.h"
#include "trainer/checkpoint/tensor_io.h"
#include "trainer/data/wordpiece_tokenizer.h"
#include "trainer/tasks/bert_init.h"
#include "trainer/tasks/glue/glue_metrics.h"

namespace sbmt::trainer {
namespace {

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
  if (c.run.keep_best.empty()) c.run.keep_best = spec.metrics.front();  // the best epoch
}

GlueTask::GlueTask(const TrainConfig& config)
    : config_(config), spec_(glue::GlueSpec(config.task.glue.name)) {
  if (config.data.vocab.empty()) {
    throw ConfigError("data.vocab: GLUE tasks tokenize with it (the pretrained model's vocab.txt)");
  }
  const WordPieceTokenizer vocab = WordPieceTokenizer::FromFile(config.data.vocab);
  pad_id_ = vocab.pad_id();
  train_ =
      LabelledExamples(Encode(config, spec_, Split(spec_, false), vocab, nullptr), config.run.seed);
  dev_ = LabelledExamples(Encode(config, spec_, Split(spec_, true), vocab, nullptr), 0);
  data_identity_ = FileContentDigest(PathOf(config, spec_, Split(spec_, false)));
  std::ifstream standin(std::filesystem::path(config.task.glue.data_dir) / spec_.folder /
                        "STANDIN.txt");
  if (standin) std::getline(standin, standin_);
  const int64_t outputs = spec_.regression() ? 1 : static_cast<int64_t>(spec_.labels.size());
  model_ = std::make_shared<BertForSequenceClassification>(config.model, outputs, config.run.seed);
}

std::unique_ptr<TaskBatch> GlueTask::TrainBatch(int64_t epoch, int64_t first, int64_t rows) {
  return MakeLabelledBatch(train_.TrainRows(epoch, first, rows), pad_id_, spec_.regression());
}

// GLUE scores the whole dev set, whatever run.eval_batches says.
int64_t GlueTask::EvalBatchCount(int64_t batch_size, int64_t) const {
  return dev_.EvalBatchCount(batch_size, std::numeric_limits<int64_t>::max());
}

std::unique_ptr<TaskBatch> GlueTask::EvalBatch(int64_t index, int64_t batch_size) {
  return MakeLabelledBatch(dev_.EvalRows(index, batch_size), pad_id_, spec_.regression());
}

TaskForward GlueTask::Forward(TaskBatch& batch, const attention::AttentionContext& context,
                              const GlobalBatchCounts& global) {
  auto& b = static_cast<LabelledBatch&>(batch);
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
  SetObjective(f, term_loss, out.regularizer, b.examples, global);
  f.layer_stats = std::move(out.layer_stats);
  return f;
}

Metrics GlueTask::MetricsOf(const std::vector<double>& s, int64_t loss_terms) const {
  Metrics m;
  const double n = static_cast<double>(loss_terms);
  if (n <= 0) return m;
  for (const std::string& metric : spec_.metrics) {
    if (metric == "accuracy") m.emplace_back(metric, s[0] / n);
    const glue::Confusion confusion{s[1], s[2], s[3], s[4]};
    if (metric == "f1") m.emplace_back(metric, glue::F1(confusion));
    if (metric == "mcc") m.emplace_back(metric, glue::MatthewsCorrelation(confusion));
    if (metric == "pearson") {
      const double sxx = s[2] - s[0] * s[0] / n, syy = s[3] - s[1] * s[1] / n;
      const double sxy = s[4] - s[0] * s[1] / n;
      m.emplace_back(metric, sxx > 0 && syy > 0 ? sxy / std::sqrt(sxx * syy) : NAN);
    }
  }
  return m;
}

void GlueTask::WriteOutputs(const std::string& dir, const Log& log) {
  const WordPieceTokenizer vocab = WordPieceTokenizer::FromFile(config_.data.vocab);
  // Predictions come from the best epoch when run.keep_best kept one (the GLUE default).
  const std::filesystem::path best = std::filesystem::path(dir) / "best";
  if (std::filesystem::exists(best / "model.safetensors")) {
    const std::string path = (best / "model.safetensors").string();
    LoadTensors(ReadSafetensors(path), model_->named_parameters(), path);
    std::ifstream info(best / "best.json");
    std::string text{std::istreambuf_iterator<char>(info), std::istreambuf_iterator<char>()};
    text.erase(std::remove(text.begin(), text.end(), '\n'), text.end());  // one log line
    log("predicting with the best epoch's weights (" + path + "): " + text);
  }
  torch::nn::Module& m = *model_;
  m.eval();
  torch::NoGradGuard no_grad;
  for (const glue::GlueSplit& split : spec_.splits) {
    if (split.name == "train") continue;
    const std::string path = PathOf(config_, spec_, split);
    if (!std::filesystem::exists(path)) continue;  // test files are optional
    LabelledExamples examples(Encode(config_, spec_, split, vocab, log), 0);
    const std::string& stem = split.submission;
    const std::filesystem::path out_dir = std::filesystem::path(dir) / "predictions" / split.name;
    std::filesystem::create_directories(out_dir);
    std::ofstream predictions(out_dir / (stem + ".tsv"));
    std::ofstream labels;
    if (split.labelled) labels.open(out_dir / (stem + ".labels.tsv"));
    predictions << "index\tprediction\n";
    if (split.labelled) labels << "index\tlabel\n";
    auto spelled = [&](float value) {
      if (spec_.regression()) return std::to_string(value);
      return spec_.labels.at(static_cast<size_t>(value));
    };
    const int64_t batch = config_.data.global_batch;
    const int64_t batches = examples.EvalBatchCount(batch, std::numeric_limits<int64_t>::max());
    const torch::Device device = DeviceOf(*model_);
    for (int64_t i = 0; i < batches; ++i) {
      const std::vector<const EncodedPair*> rows = examples.EvalRows(i, batch);
      auto b = MakeLabelledBatch(rows, pad_id_, spec_.regression());
      b->To(device);
      const attention::AttentionContext context{static_cast<uint64_t>(i), 0,
                                                attention::AttentionContext::Phase::kEval};
      const torch::Tensor logits = model_->forward(b->ids, b->types, b->valid, context).logits;
      const torch::Tensor predicted =
          spec_.regression() ? logits.squeeze(1) : logits.argmax(1).to(torch::kFloat);
      for (size_t r = 0; r < rows.size(); ++r) {
        predictions << rows[r]->index << '\t' << spelled(predicted[r].item<float>()) << '\n';
        if (split.labelled) labels << rows[r]->index << '\t' << spelled(rows[r]->label) << '\n';
      }
    }
    if (!predictions) {
      throw Error(ErrorCode::kUnavailable, (out_dir / (stem + ".tsv")).string() + ": write failed");
    }
    log("wrote " + std::to_string(examples.size()) + " predictions to " +
        (out_dir / (stem + ".tsv")).string());
    if (!standin_.empty()) {  // glue_eval names a stand-in in its result
      std::ofstream(out_dir / "STANDIN.txt") << standin_ << '\n';
      log(standin_);
    }
  }
  m.train();
}

// The pretrained encoder; the pooler and the classifier start fresh unless the directory has
// them (a fine-tuned classifier).
void GlueTask::InitFrom(const std::string& dir, const Log& log) {
  InitBertFromHuggingFace(*model_, config_.model, dir, {"bert.pooler.", "classifier."}, log);
}

void GlueTask::CheckCanExport(const std::string& dir) const {
  CheckCanExportBert(dir, config_.data.vocab);
}

void GlueTask::ExportHuggingFace(const std::string& dir) const {
  HuggingFaceHead head;
  head.architecture = "BertForSequenceClassification";
  head.labels = spec_.labels;
  head.regression = spec_.regression();
  head.finetuning_task = spec_.name;
  ExportBert(*model_, config_.model, config_.data.vocab, dir, head);
}

}  // namespace sbmt::trainer
