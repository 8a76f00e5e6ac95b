// BERT for masked-LM pretraining (DESIGN.md section 4): post-LN encoder, GELU, learned absolute
// positions, MLM head tied to the word embeddings and applied only at masked positions. The
// attention of every layer is chosen by config: SBM (the point of this project) or a baseline.
// Parameter names follow Hugging Face's BertForMaskedLM ("bert.encoder.layer.0.attention.self.
// query.weight", ...), so checkpoints export to its layout; SBM parameters live under
// "...attention.self.sbm.*".
//
//   BertForMaskedLM model(config.model, config.run.seed);
//   model.set_step(step);
//   BertOutput out = model.forward(input_ids, valid, masked_positions);
#pragma once

#include <torch/torch.h>

#include <memory>
#include <vector>

#include "attention/attention_module.h"
#include "attention/sbm_attention_module.h"
#include "trainer/config/train_config.h"

namespace sbmt::trainer {

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
                     const torch::Tensor& masked_positions);

  // Keys the SBM graphs of the next forward (training step, or an evaluation-specific value);
  // first_example: the global index of the batch's first example when it is a slice of the
  // global batch (a rank's share, a micro-step), so graphs do not depend on the split.
  void set_step(uint64_t step, uint64_t first_example = 0);

 private:
  struct Layer {
    torch::nn::Linear query{nullptr}, key{nullptr}, value{nullptr};
    std::shared_ptr<attention::AttentionModule> attention;
    std::shared_ptr<attention::SbmAttention> sbm;  // same object when attention is SBM
    torch::nn::Linear attention_output{nullptr};
    torch::nn::LayerNorm attention_norm{nullptr};
    torch::nn::Linear intermediate{nullptr}, output{nullptr};
    torch::nn::LayerNorm output_norm{nullptr};
  };

  ModelConfig config_;
  torch::nn::Embedding word_{nullptr}, position_{nullptr}, token_type_{nullptr};
  torch::nn::LayerNorm embedding_norm_{nullptr};
  std::vector<Layer> layers_;
  torch::nn::Linear transform_{nullptr};
  torch::nn::LayerNorm transform_norm_{nullptr};
  torch::Tensor decoder_bias_;
};

}  // namespace sbmt::trainer
