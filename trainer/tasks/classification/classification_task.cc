#include "trainer/tasks/classification/classification_task.h"

#include <algorithm>
#include <fstream>

#include "trainer/data/wordpiece_tokenizer.h"
#include "trainer/tasks/bert_init.h"

namespace sbmt::trainer {
std::vector<EncodedPair> ReadLabelledSentences(const std::string& path,
                                               const std::string& vocab_path, int64_t labels,
                                               int64_t max_length) {
  const WordPieceTokenizer vocab = WordPieceTokenizer::FromFile(vocab_path);
  std::ifstream in(path);
  if (!in) throw ConfigError(ErrorCode::kNotFound, path + ": cannot read");
  std::string line;
  if (!std::getline(in, line) || line != "sentence\tlabel") {
    throw ConfigError(path + ":1: expected the header 'sentence<TAB>label'");
  }
  std::vector<EncodedPair> out;
  for (int64_t number = 2; std::getline(in, line); ++number) {
    if (line.empty()) continue;
    const std::string where = path + ":" + std::to_string(number) + ": ";
    const size_t tab = line.rfind('\t');
    if (tab == std::string::npos) throw ConfigError(where + "expected 'sentence<TAB>label'");
    const std::string label = line.substr(tab + 1);
    size_t used = 0;
    int64_t value = -1;
    try {
      value = std::stoll(label, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used == 0 || used != label.size()) {
      throw ConfigError(where + "label: expected an integer, got '" + label + "'");
    }
    if (value < 0 || value >= labels) {
      throw ConfigError(where + "label: expected 0.." + std::to_string(labels - 1) + ", got " +
                        std::to_string(value));
    }
    EncodedPair s = EncodePair(vocab.Encode(line.substr(0, tab)), {}, vocab.cls_id(),
                               vocab.sep_id(), max_length);
    s.label = static_cast<float>(value);
    s.index = std::to_string(out.size());
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
  train_ = LabelledExamples(ReadLabelledSentences(t.train, config.data.vocab, t.labels, max_length),
                            config.run.seed);
  data_identity_ = FileContentDigest(t.train);
  if (!t.valid.empty()) {
    valid_ = LabelledExamples(
        ReadLabelledSentences(t.valid, config.data.vocab, t.labels, max_length), 0);
  }
  model_ = std::make_shared<BertForSequenceClassification>(config.model, t.labels, config.run.seed);
}

std::unique_ptr<TaskBatch> ClassificationTask::TrainBatch(int64_t epoch, int64_t first,
                                                          int64_t rows) {
  return MakeLabelledBatch(train_.TrainRows(epoch, first, rows), pad_id_, false);
}

int64_t ClassificationTask::EvalBatchCount(int64_t batch_size, int64_t max_batches) const {
  return valid_.EvalBatchCount(batch_size, max_batches);
}

std::unique_ptr<TaskBatch> ClassificationTask::EvalBatch(int64_t index, int64_t batch_size) {
  return MakeLabelledBatch(valid_.EvalRows(index, batch_size), pad_id_, false);
}

TaskForward ClassificationTask::Forward(TaskBatch& batch,
                                        const attention::AttentionContext& context,
                                        const GlobalBatchCounts& global) {
  auto& b = static_cast<LabelledBatch&>(batch);
  ClassifierOutput out = model_->forward(b.ids, b.types, b.valid, context);
  torch::Tensor ce = torch::cross_entropy_loss(out.logits, b.labels, {}, at::Reduction::Sum);
  TaskForward f;
  SetObjective(f, ce, out.regularizer, b.examples, global);
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
