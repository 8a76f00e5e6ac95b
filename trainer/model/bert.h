// BERT (DESIGN.md section 4): post-LN encoder, GELU, learned absolute positions, with the
// attention of every layer chosen by config: SBM (the point of this project) or a baseline.
// Parameter names follow Hugging Face's ("bert.encoder.layer.0.attention.self.query.weight",
// ...), so checkpoints export to its layout; SBM parameters live under
// "...attention.self.sbm.*".
//
// BertEncoder is the shared body; the heads are
//   BertForMaskedLM                MLM head tied to the word embeddings, applied only at the
//                                  masked positions (pretraining);
//   BertForSequenceClassification  pooler ([CLS] -> dense -> tanh) and a linear classifier
//                                  (or regressor with one label), as Hugging Face's.
//
//   BertForMaskedLM model(config.model, config.run.seed);
//   attention::AttentionContext ctx{step, first_example,
//   attention::AttentionContext::Phase::kTrain}; BertOutput out = model.forward(input_ids, valid,
//   masked_positions, ctx);
#pragma once

#include <torch/torch.h>

#include <memory>
#include <vector>

#include "attention/attention_module.h"
#include "trainer/config/train_config.h"

namespace sbmt::trainer {

// The attention kinds model.attention may name.
inline const std::vector<std::string>& AttentionKinds() {
  static const std::vector<std::string> kinds = {"sbm", "full", "linformer", "nystrom"};
  return kinds;
}

// The attention module of one layer, by model.attention, registered under `self` by its kind's
// name ("sbm", "full", ...). Throws ConfigError for an unknown kind. Every model's layers use it.
std::shared_ptr<attention::AttentionModule> MakeAttention(torch::nn::Module& self,
                                                          const ModelConfig& config, uint64_t seed,
                                                          int64_t layer);

struct EncoderOutput {
  torch::Tensor hidden;       // [B, L, hidden]
  torch::Tensor regularizer;  // scalar: sum of the layers' attention regularizers
  std::vector<attention::AttentionStats> layer_stats;
};

// Embeddings and encoder layers. Registers its parameters as "embeddings.*" and "encoder.*"
// (and "pooler.*" with a pooler), so a parent registering it as "bert" gives HF's names.
class BertEncoder : public torch::nn::Module {
 public:
  // Throws ConfigError when model.attention names no known kind. Does not initialize weights:
  // the owning model calls InitBertWeights once all its parameters exist.
  BertEncoder(const ModelConfig& config, uint64_t seed, bool with_pooler);

  // input_ids, token_type_ids: [B, L] int64 (token_type_ids may be undefined: all 0);
  // valid: [B, L] bool (false = padding).
  EncoderOutput forward(const torch::Tensor& input_ids, const torch::Tensor& token_type_ids,
                        const torch::Tensor& valid, const attention::AttentionContext& context);

  // tanh(dense(hidden[:, 0])): [B, hidden]. Needs with_pooler.
  torch::Tensor pool(const torch::Tensor& hidden);

  const ModelConfig& config() const { return config_; }
  torch::nn::Embedding& word_embeddings() { return word_; }

 private:
  struct Layer {
    torch::nn::Linear query{nullptr}, key{nullptr}, value{nullptr};
    std::shared_ptr<attention::AttentionModule> attention;
    torch::nn::Linear attention_output{nullptr};
    torch::nn::LayerNorm attention_norm{nullptr};
    torch::nn::Linear intermediate{nullptr}, output{nullptr};
    torch::nn::LayerNorm output_norm{nullptr};
  };

  ModelConfig config_;
  torch::nn::Embedding word_{nullptr}, position_{nullptr}, token_type_{nullptr};
  torch::nn::LayerNorm embedding_norm_{nullptr};
  std::vector<Layer> layers_;
  torch::nn::Linear pooler_{nullptr};
};

// BERT's initialization of every parameter of `m`: normal(0, 0.02) weights, zero biases, unit
// LayerNorm; attention parameters with their own initialization (SBM, Linformer) are left.
void InitBertWeights(torch::nn::Module& m);

struct BertOutput {
  torch::Tensor logits;       // [masked positions, vocab]
  torch::Tensor regularizer;  // scalar: sum of the layers' attention regularizers
  std::vector<attention::AttentionStats> layer_stats;
};

class BertForMaskedLM : public torch::nn::Module {
 public:
  BertForMaskedLM(const ModelConfig& config, uint64_t seed);

  // input_ids: [B, L] int64; valid: [B, L] bool (false = padding); masked_positions: [M] int64
  // flat indices into B * L.
  BertOutput forward(const torch::Tensor& input_ids, const torch::Tensor& valid,
                     const torch::Tensor& masked_positions,
                     const attention::AttentionContext& context);

 private:
  std::shared_ptr<BertEncoder> bert_;
  torch::nn::Linear transform_{nullptr};
  torch::nn::LayerNorm transform_norm_{nullptr};
  torch::Tensor decoder_bias_;
};

struct ClassifierOutput {
  torch::Tensor logits;       // [B, labels]
  torch::Tensor regularizer;  // scalar
  std::vector<attention::AttentionStats> layer_stats;
};

class BertForSequenceClassification : public torch::nn::Module {
 public:
  BertForSequenceClassification(const ModelConfig& config, int64_t labels, uint64_t seed);

  ClassifierOutput forward(const torch::Tensor& input_ids, const torch::Tensor& token_type_ids,
                           const torch::Tensor& valid, const attention::AttentionContext& context);

 private:
  std::shared_ptr<BertEncoder> bert_;
  torch::nn::Linear classifier_{nullptr};
};

}  // namespace sbmt::trainer
