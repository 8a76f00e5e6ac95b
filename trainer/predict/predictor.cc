#include "trainer/predict/predictor.h"

#include <torch/torch.h>

#include <algorithm>
#include <cstdio>

#include "trainer/checkpoint/tensor_io.h"
#include "trainer/data/wordpiece_tokenizer.h"
#include "trainer/model/bert.h"
#include "trainer/tasks/labelled_examples.h"

namespace sbmt::trainer {
namespace {

// The model's directory, with the attention overridden; dropout is off at inference anyway.
HuggingFaceModel Open(const std::string& dir, const std::string& attention,
                      const std::string& architecture) {
  HuggingFaceModel hf = ImportHuggingFace(dir);
  if (hf.head.architecture != architecture) {
    throw PredictError(dir + "/config.json: architecture " + hf.head.architecture + ", expected " +
                       architecture);
  }
  if (!attention.empty()) {
    const std::vector<std::string>& kinds = AttentionKinds();
    if (std::find(kinds.begin(), kinds.end(), attention) == kinds.end()) {
      throw PredictError("--attention=" + attention + ": expected sbm, full, linformer or nystrom");
    }
    hf.model.attention = attention;
  }
  return hf;
}

// Loads every parameter of `model` from the directory: at inference a parameter left at its
// random initialization would silently give wrong answers, so a missing one is an error.
void Load(torch::nn::Module& model, const HuggingFaceModel& hf, const std::string& dir) {
  try {
    LoadTensors(hf.weights, model.named_parameters(), dir + "/model.safetensors");
  } catch (const std::exception& e) {
    throw PredictError(std::string(e.what()) +
                       (hf.model.attention == "sbm"
                            ? " (a model trained without SBM attention runs with --attention=full)"
                            : ""));
  }
  model.eval();
}

}  // namespace

struct FillMask::State {
  explicit State(HuggingFaceModel model)
      : hf(std::move(model)), vocab(WordPieceTokenizer::FromFile(hf.vocab_path)) {}
  HuggingFaceModel hf;
  WordPieceTokenizer vocab;
  std::shared_ptr<BertForMaskedLM> model;
};

FillMask::FillMask(const std::string& dir, const std::string& attention, uint64_t seed)
    : s_(std::make_unique<State>(Open(dir, attention, "BertForMaskedLM"))) {
  s_->model = std::make_shared<BertForMaskedLM>(s_->hf.model, seed);
  Load(*s_->model, s_->hf, dir);
}

FillMask::~FillMask() = default;

const ModelConfig& FillMask::model() const { return s_->hf.model; }

std::vector<std::vector<MaskCandidate>> FillMask::Predict(const std::string& text, int top_k) {
  static const std::string kMask = "[MASK]";
  const WordPieceTokenizer& vocab = s_->vocab;
  std::vector<int64_t> ids = {vocab.cls_id()};
  std::vector<int64_t> masked;
  for (size_t from = 0;;) {
    const size_t at = text.find(kMask, from);
    for (int32_t id : vocab.Encode(text.substr(from, at == std::string::npos ? at : at - from))) {
      ids.push_back(id);
    }
    if (at == std::string::npos) break;
    masked.push_back(static_cast<int64_t>(ids.size()));
    ids.push_back(vocab.mask_id());
    from = at + kMask.size();
  }
  ids.push_back(vocab.sep_id());
  if (masked.empty()) throw PredictError("the text has no [MASK] to fill");
  if (static_cast<int64_t>(ids.size()) > s_->hf.model.max_positions) {
    throw PredictError("the text is " + std::to_string(ids.size()) +
                       " tokens with [CLS] and [SEP]; the model takes at most " +
                       std::to_string(s_->hf.model.max_positions));
  }
  const int64_t n = static_cast<int64_t>(ids.size());
  torch::NoGradGuard no_grad;
  const torch::Tensor input = torch::tensor(ids, torch::kInt64).view({1, n});
  const torch::Tensor valid = torch::ones({1, n}, torch::kBool);
  const attention::AttentionContext context{0, 0, attention::AttentionContext::Phase::kEval};
  const torch::Tensor logits =
      s_->model->forward(input, valid, torch::tensor(masked, torch::kInt64), context).logits;
  const torch::Tensor probabilities = torch::softmax(logits.to(torch::kDouble), -1);
  const int k = static_cast<int>(std::min<int64_t>(std::max(top_k, 1), vocab.size()));
  const auto [scores, top] = probabilities.topk(k, -1);
  std::vector<std::vector<MaskCandidate>> out(masked.size());
  for (size_t m = 0; m < masked.size(); ++m) {
    for (int j = 0; j < k; ++j) {
      const int32_t id = static_cast<int32_t>(top[m][j].item<int64_t>());
      out[m].push_back({vocab.token(id), id, scores[m][j].item<double>()});
    }
  }
  return out;
}

struct Classifier::State {
  explicit State(HuggingFaceModel model)
      : hf(std::move(model)), vocab(WordPieceTokenizer::FromFile(hf.vocab_path)) {}
  HuggingFaceModel hf;
  WordPieceTokenizer vocab;
  std::shared_ptr<BertForSequenceClassification> model;
};

Classifier::Classifier(const std::string& dir, const std::string& attention, uint64_t seed)
    : s_(std::make_unique<State>(Open(dir, attention, "BertForSequenceClassification"))) {
  const HuggingFaceHead& head = s_->hf.head;
  if (!head.regression && head.labels.empty()) {
    throw PredictError(dir + "/config.json: no id2label: which label is which output?");
  }
  const int64_t outputs = head.regression ? 1 : static_cast<int64_t>(head.labels.size());
  s_->model = std::make_shared<BertForSequenceClassification>(s_->hf.model, outputs, seed);
  Load(*s_->model, s_->hf, dir);
}

Classifier::~Classifier() = default;

const HuggingFaceHead& Classifier::head() const { return s_->hf.head; }
const ModelConfig& Classifier::model() const { return s_->hf.model; }

std::vector<std::string> Classifier::Predict(
    const std::vector<std::pair<std::string, std::string>>& texts, int64_t batch_size) {
  const WordPieceTokenizer& vocab = s_->vocab;
  std::vector<EncodedPair> encoded;
  for (const auto& [a, b] : texts) {
    encoded.push_back(EncodePair(vocab.Encode(a), vocab.Encode(b), vocab.cls_id(), vocab.sep_id(),
                                 s_->hf.model.max_positions));
  }
  const LabelledExamples examples(std::move(encoded), 0);
  const HuggingFaceHead& head = s_->hf.head;
  torch::NoGradGuard no_grad;
  std::vector<std::string> out;
  const int64_t batches = examples.EvalBatchCount(batch_size, INT64_MAX);
  for (int64_t i = 0; i < batches; ++i) {
    const std::vector<const EncodedPair*> rows = examples.EvalRows(i, batch_size);
    const auto batch = MakeLabelledBatch(rows, vocab.pad_id(), head.regression);
    // The batch index keys SBM's graphs, as in the trainer's evaluation.
    const attention::AttentionContext context{static_cast<uint64_t>(i), 0,
                                              attention::AttentionContext::Phase::kEval};
    const torch::Tensor logits =
        s_->model->forward(batch->ids, batch->types, batch->valid, context).logits;
    for (int64_t r = 0; r < logits.size(0); ++r) {
      if (head.regression) {
        char score[32];
        std::snprintf(score, sizeof score, "%.6f", logits[r][0].item<double>());
        out.emplace_back(score);
      } else {
        out.push_back(head.labels.at(static_cast<size_t>(logits[r].argmax().item<int64_t>())));
      }
    }
  }
  return out;
}

}  // namespace sbmt::trainer
