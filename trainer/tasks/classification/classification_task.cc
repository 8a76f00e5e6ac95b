#include "trainer/tasks/classification/classification_task.h"

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <iterator>

#include "trainer/checkpoint/checkpoint_store.h"
#include "trainer/data/shard_dataset.h"
#include "trainer/data/wordpiece_tokenizer.h"
#include "trainer/tasks/bert_init.h"

namespace sbmt::trainer {
namespace {

struct ClassificationBatch : TaskBatch {
  torch::Tensor ids, valid, labels;
};

}  // namespace

std::vector<LabelledSentence> ReadLabelledSentences(const std::string& path,
                                                    const std::string& vocab_path, int64_t labels,
                                                    int64_t max_length) {
  const WordPieceTokenizer vocab = WordPieceTokenizer::FromFile(vocab_path);
  std::ifstream in(path);
  if (!in) throw ConfigError(ErrorCode::kNotFound, path + ": cannot read");
  std::string line;
  if (!std::getline(in, line) || line != "sentence\tlabel") {
    throw ConfigError(path + ":1: expected the header 'sentence<TAB>label'");
  }
  std::vector<LabelledSentence> out;
  for (int64_t number = 2; std::getline(in, line); ++number) {
    if (line.empty()) continue;
    const std::string where = path + ":" + std::to_string(number) + ": ";
    const size_t tab = line.rfind('\t');
    if (tab == std::string::npos) throw ConfigError(where + "expected 'sentence<TAB>label'");
    LabelledSentence s;
    const std::string label = line.substr(tab + 1);
    size_t used = 0;
    try {
      s.label = std::stoll(label, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used == 0 || used != label.size()) {
      throw ConfigError(where + "label: expected an integer, got '" + label + "'");
    }
    if (s.label < 0 || s.label >= labels) {
      throw ConfigError(where + "label: expected 0.." + std::to_string(labels - 1) + ", got " +
                        std::to_string(s.label));
    }
    std::vector<int32_t> words = vocab.Encode(line.substr(0, tab));
    words.resize(std::min<size_t>(words.size(), static_cast<size_t>(max_length - 2)));
    s.ids.push_back(vocab.cls_id());
    s.ids.insert(s.ids.end(), words.begin(), words.end());
    s.ids.push_back(vocab.sep_id());
    out.push_back(std::move(s));
  }
  return out;
}

ClassificationTask::ClassificationTask(const TrainConfig& config) : config_(config) {
  const ClassificationTaskConfig& t = config.task.classification;
  if (config.data.vocab.empty()) {
    throw ConfigError("data.vocab: the classification task tokenizes with it; none given");
  }
  pad_id_ = WordPieceTokenizer::FromFile(config.data.vocab).pad_id();
  const int64_t max_length = config.model.max_positions;
  train_ = ReadLabelledSentences(t.train, config.data.vocab, t.labels, max_length);
  {
    std::ifstream in(t.train, std::ios::binary);
    const std::string bytes{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
    char buf[32];
    std::snprintf(buf, sizeof(buf), "crc32:%08x", Crc32(bytes));
    data_identity_ = buf;
  }
  if (!t.valid.empty()) {
    valid_ = ReadLabelledSentences(t.valid, config.data.vocab, t.labels, max_length);
  }
  model_ = std::make_shared<BertForSequenceClassification>(config.model, t.labels, config.run.seed);
}

std::unique_ptr<TaskBatch> ClassificationTask::Batch(
    const std::vector<const LabelledSentence*>& rows) const {
  auto b = std::make_unique<ClassificationBatch>();
  const int64_t n = static_cast<int64_t>(rows.size());
  int64_t width = 0;
  for (const LabelledSentence* s : rows) width = std::max<int64_t>(width, s->ids.size());
  std::vector<int64_t> ids(n * width, pad_id_), labels;
  std::vector<uint8_t> valid(n * width, 0);
  for (int64_t r = 0; r < n; ++r) {
    for (size_t t = 0; t < rows[r]->ids.size(); ++t) {
      ids[r * width + t] = rows[r]->ids[t];
      valid[r * width + t] = 1;
    }
    labels.push_back(rows[r]->label);
    b->tokens += static_cast<int64_t>(rows[r]->ids.size());
  }
  b->examples = n;
  b->loss_terms = n;
  b->ids = torch::tensor(ids, torch::kLong).reshape({n, width});
  b->valid = torch::tensor(valid, torch::kUInt8).reshape({n, width}).to(torch::kBool);
  b->labels = torch::tensor(labels, torch::kLong);
  return b;
}

std::unique_ptr<TaskBatch> ClassificationTask::TrainBatch(int64_t epoch, int64_t first,
                                                          int64_t rows) {
  if (epoch != order_epoch_) {
    order_ = EpochOrder(train_examples(), config_.run.seed, epoch);
    order_epoch_ = epoch;
  }
  std::vector<const LabelledSentence*> picked;
  for (int64_t r = 0; r < rows; ++r) picked.push_back(&train_.at(order_.at(first + r)));
  return Batch(picked);
}

int64_t ClassificationTask::EvalBatchCount(int64_t batch_size, int64_t max_batches) const {
  const int64_t n = static_cast<int64_t>(valid_.size());
  if (n == 0) return 0;
  return std::min(max_batches, (n + batch_size - 1) / batch_size);  // the last may be short
}

std::unique_ptr<TaskBatch> ClassificationTask::EvalBatch(int64_t index, int64_t batch_size) {
  const int64_t n = static_cast<int64_t>(valid_.size());
  std::vector<const LabelledSentence*> picked;
  for (int64_t i = index * batch_size; i < std::min(n, (index + 1) * batch_size); ++i) {
    picked.push_back(&valid_[i]);
  }
  return Batch(picked);
}

TaskForward ClassificationTask::Forward(TaskBatch& batch,
                                        const attention::AttentionContext& context,
                                        const GlobalBatchCounts& global) {
  auto& b = static_cast<ClassificationBatch&>(batch);
  ClassifierOutput out = model_->forward(b.ids, torch::Tensor(), b.valid, context);
  torch::Tensor ce = torch::cross_entropy_loss(out.logits, b.labels, {}, at::Reduction::Sum);
  TaskForward f;
  f.loss = out.regularizer * (static_cast<double>(b.examples) / global.examples) +
           ce / static_cast<double>(global.loss_terms);
  f.loss_sum = ce.item<double>();
  f.stats = {static_cast<double>((out.logits.argmax(1) == b.labels).sum().item<int64_t>())};
  f.layer_stats = std::move(out.layer_stats);
  return f;
}

Metrics ClassificationTask::MetricsOf(const std::vector<double>& stats, int64_t loss_terms) const {
  return {{"accuracy", loss_terms > 0 ? stats[0] / static_cast<double>(loss_terms) : 0.0}};
}

// The pretrained encoder; the pooler and the classifier start fresh unless the directory has
// them (a fine-tuned classifier).
void ClassificationTask::InitFrom(const std::string& dir, const Log& log) {
  InitBertFromHuggingFace(*model_, config_.model, dir, {"bert.pooler.", "classifier."}, log);
}

}  // namespace sbmt::trainer
