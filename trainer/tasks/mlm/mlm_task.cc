#include "trainer/tasks/mlm/mlm_task.h"

#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

#include "trainer/checkpoint/hf_export.h"
#include "trainer/checkpoint/tensor_io.h"
#include "trainer/tasks/bert_init.h"

namespace sbmt::trainer {
namespace {

struct MlmBatch : TaskBatch {
  torch::Tensor ids, valid, positions, labels;
  void To(const torch::Device& device) override {
    MoveTensors(device, {&ids, &valid, &positions, &labels});
  }
};

// Random replacements draw from ids after the vocabulary's last bracketed token ([PAD],
// [unused…], [CLS], …): in bert-base-uncased, from 999 ("!") on.
int32_t FirstOrdinaryId(const WordPieceTokenizer& vocab) {
  int32_t first = 0;
  for (int32_t id = 0; id < vocab.size(); ++id) {
    const std::string& t = vocab.token(id);
    if (t.size() >= 2 && t.front() == '[' && t.back() == ']') first = id + 1;
  }
  return first;
}

}  // namespace

MlmTask::MlmTask(const TrainConfig& config) : config_(config) {
  const DataConfig& d = config.data;
  if (d.vocab.empty()) {
    throw ConfigError(
        "data.vocab: the masked-LM task needs the shards' vocab.txt (for the ids "
        "of [PAD], [CLS], [SEP] and [MASK])");
  }
  const WordPieceTokenizer vocab = WordPieceTokenizer::FromFile(d.vocab);
  masking_.seed = config.run.seed;
  masking_.probability = d.mask_probability;
  masking_.vocab_size = static_cast<int32_t>(config.model.vocab_size);
  masking_.pad_id = vocab.pad_id();
  masking_.cls_id = vocab.cls_id();
  masking_.sep_id = vocab.sep_id();
  masking_.mask_id = vocab.mask_id();
  masking_.first_random_id = FirstOrdinaryId(vocab);

  train_ = std::make_unique<ShardDataset>(d.train, config.run.seed);
  if (static_cast<int64_t>(train_->vocab_size()) != config.model.vocab_size) {
    throw ConfigError("model.vocab_size (" + std::to_string(config.model.vocab_size) +
                      ") differs from the shards' vocabulary (" +
                      std::to_string(train_->vocab_size()) + ")");
  }
  if (vocab.size() != config.model.vocab_size) {
    throw ConfigError("data.vocab: " + d.vocab + " has " + std::to_string(vocab.size()) +
                      " tokens, model.vocab_size is " + std::to_string(config.model.vocab_size));
  }
  if (static_cast<int64_t>(train_->max_len()) > config.model.max_positions) {
    throw ConfigError("shards hold sequences of up to " + std::to_string(train_->max_len()) +
                      " tokens, more than model.max_positions (" +
                      std::to_string(config.model.max_positions) + ")");
  }
  if (!d.valid.empty()) {
    valid_ = std::make_unique<ShardDataset>(std::vector<std::string>{d.valid}, 0);
    if (valid_->vocab_size() != train_->vocab_size() ||
        static_cast<int64_t>(valid_->max_len()) > config.model.max_positions) {
      throw ConfigError("data.valid: " + d.valid + " has vocabulary " +
                        std::to_string(valid_->vocab_size()) + " and sequences of up to " +
                        std::to_string(valid_->max_len()) + " tokens; the model takes vocabulary " +
                        std::to_string(config.model.vocab_size) + " and at most " +
                        std::to_string(config.model.max_positions) + " positions");
    }
  }
  model_ = std::make_shared<BertForMaskedLM>(config.model, config.run.seed);
}

std::unique_ptr<TaskBatch> MlmTask::Prepare(const TokenBatch& tokens, int64_t epoch) const {
  MaskingOptions mo = masking_;
  mo.epoch = epoch;
  const MaskedBatch masked = MaskTokens(tokens, mo);
  auto b = std::make_unique<MlmBatch>();
  b->examples = tokens.rows;
  for (int32_t len : tokens.lengths) b->tokens += len;
  b->loss_terms = static_cast<int64_t>(masked.positions.size());
  b->ids = torch::tensor(masked.inputs, torch::kLong).reshape({tokens.rows, tokens.width});
  b->valid = torch::tensor(tokens.tokens, torch::kLong).reshape({tokens.rows, tokens.width}) !=
             masking_.pad_id;
  b->positions = torch::tensor(masked.positions, torch::kLong);
  b->labels = torch::tensor(masked.labels, torch::kLong);
  return b;
}

std::unique_ptr<TaskBatch> MlmTask::TrainBatch(int64_t epoch, int64_t first, int64_t rows) {
  return Prepare(train_->Read(epoch, first, rows, masking_.pad_id), epoch);
}

int64_t MlmTask::EvalBatchCount(int64_t batch_size, int64_t max_batches) const {
  if (!valid_ || valid_->size() == 0) return 0;
  const int64_t batch = std::min(batch_size, valid_->size());
  return std::min(max_batches, valid_->size() / batch);
}

std::unique_ptr<TaskBatch> MlmTask::EvalBatch(int64_t index, int64_t batch_size) {
  const int64_t batch = std::min(batch_size, valid_->size());
  return Prepare(valid_->Read(0, index * batch, batch, masking_.pad_id), 0);
}

TaskForward MlmTask::Forward(TaskBatch& batch, const attention::AttentionContext& context,
                             const GlobalBatchCounts& global) {
  auto& b = static_cast<MlmBatch&>(batch);
  BertOutput out = model_->forward(b.ids, b.valid, b.positions, context);
  TaskForward f;
  f.stats = {0.0};
  torch::Tensor ce;  // undefined when no token of the micro-batch is masked
  if (b.loss_terms > 0) {
    ce = torch::cross_entropy_loss(out.logits, b.labels, {}, at::Reduction::Sum);
    f.stats[0] = static_cast<double>((out.logits.argmax(1) == b.labels).sum().item<int64_t>());
  }
  SetObjective(f, ce, out.regularizer, b.examples, global);
  f.layer_stats = std::move(out.layer_stats);
  return f;
}

Metrics MlmTask::MetricsOf(const std::vector<double>& stats, int64_t loss_terms) const {
  return {{"mlm_accuracy", loss_terms > 0 ? stats[0] / static_cast<double>(loss_terms) : 0.0}};
}

void MlmTask::InitFrom(const std::string& dir, const Log& log) {
  InitBertFromHuggingFace(*model_, config_.model, dir, {}, log);
}

void MlmTask::CheckCanExport(const std::string& dir) const {
  CheckCanExportBert(dir, config_.data.vocab);
}

void MlmTask::ExportHuggingFace(const std::string& dir) const {
  ExportBert(*model_, config_.model, config_.data.vocab, dir, HuggingFaceHead{});
}

}  // namespace sbmt::trainer
