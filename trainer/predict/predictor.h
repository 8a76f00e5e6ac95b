// Inference from an exported model directory (Hugging Face layout, as --export-hf writes and
// transformers saves): masked-token prediction with a BertForMaskedLM, and sentence (pair)
// classification with a BertForSequenceClassification. sbmt_predict is the command line.
//
// Attention is the model's own (config.json's "sbm" section) unless `attention` names another;
// SBM samples its graph from `seed`, so the same seed gives the same answer.
//
//   FillMask fill("runs/quickstart/hf", /*attention=*/"", /*seed=*/0);
//   for (const auto& candidates : fill.Predict("the [MASK] of the union", 5)) ...
//   Classifier classify("runs/sst2/hf", "", 0);
//   std::vector<std::string> labels = classify.Predict({{"a fine film", ""}}, 32);
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "runtime/error.h"
#include "trainer/checkpoint/hf_export.h"

namespace sbmt::trainer {

SBMT_DEFINE_ERROR(PredictError, ErrorCode::kInvalidArgument);

struct MaskCandidate {
  std::string token;
  int32_t id = 0;
  double score = 0;  // softmax probability over the vocabulary
};

class FillMask {
 public:
  // Throws PredictError (or CheckpointError) naming the directory and what is wrong with it.
  FillMask(const std::string& model_dir, const std::string& attention, uint64_t seed);
  ~FillMask();

  // The text is tokenized as the model's vocabulary does, with each literal "[MASK]" one mask
  // token; returns, per mask in text order, the top_k tokens by probability. Throws PredictError
  // when the text has no [MASK] or is longer than the model's positions.
  std::vector<std::vector<MaskCandidate>> Predict(const std::string& text, int top_k);

  const ModelConfig& model() const;

 private:
  struct State;
  std::unique_ptr<State> s_;
};

class Classifier {
 public:
  Classifier(const std::string& model_dir, const std::string& attention, uint64_t seed);
  ~Classifier();

  // The predicted label of each (sentence, second sentence or "") as the model's id2label spells
  // it; a regression model's score as decimal text. Pairs longer than the model's positions are
  // truncated longest-first, as in training.
  std::vector<std::string> Predict(const std::vector<std::pair<std::string, std::string>>& texts,
                                   int64_t batch_size);

  const HuggingFaceHead& head() const;
  const ModelConfig& model() const;

 private:
  struct State;
  std::unique_ptr<State> s_;
};

}  // namespace sbmt::trainer
