// The Long Range Arena model of the SBM-Transformer and Nystromformer references
// (../shared/reference/sbm-notes.md section 4.2): learned token and position embeddings
// (no LayerNorm, no token types), pre-LN layers (x + attention(LN(x)), x + FFN(LN(x)), GELU)
// with the attention of model.attention, a final LayerNorm, and one of three heads:
//
//   kPooled        mean over all positions (padding zeroed, divided by the full length, as the
//                  reference), then Linear(hidden, ffn), ReLU, Linear(ffn, classes): [B, C]
//   kPairPooled    retrieval's two towers: the same encoder on both documents, then the head
//                  on [a, b, a*b, a-b]: [B, C]
//   kPerPosition   the head on every position (the synthetic task): [B, L, C]
//
// Weights start as BERT's (normal(0, 0.02), zero biases, unit LayerNorms).
//
//   LraModel model(config.model, /*classes=*/10, LraHead::kPooled, seed);
//   ClassifierOutput out = model.forward(ids, valid, {}, {}, context);
#pragma once

#include <torch/torch.h>

#include <vector>

#include "trainer/model/bert.h"

namespace sbmt::trainer {

enum class LraHead { kPooled, kPairPooled, kPerPosition };

class LraModel : public torch::nn::Module {
 public:
  LraModel(const ModelConfig& config, int64_t classes, LraHead head, uint64_t seed);

  // ids0/valid0: [B, L] (int64 / bool); ids1/valid1: the second documents for kPairPooled,
  // undefined otherwise.
  ClassifierOutput forward(const torch::Tensor& ids0, const torch::Tensor& valid0,
                           const torch::Tensor& ids1, const torch::Tensor& valid1,
                           const attention::AttentionContext& context);

 private:
  struct Layer {
    torch::nn::LayerNorm attention_norm{nullptr};
    torch::nn::Linear query{nullptr}, key{nullptr}, value{nullptr};
    std::shared_ptr<attention::AttentionModule> attention;
    torch::nn::Linear attention_output{nullptr};
    torch::nn::LayerNorm ffn_norm{nullptr};
    torch::nn::Linear intermediate{nullptr}, output{nullptr};
  };

  EncoderOutput Encode(const torch::Tensor& ids, const torch::Tensor& valid,
                       const attention::AttentionContext& context);

  ModelConfig config_;
  LraHead head_;
  torch::nn::Embedding word_{nullptr}, position_{nullptr};
  std::vector<Layer> layers_;
  torch::nn::LayerNorm final_norm_{nullptr};
  torch::nn::Linear head_hidden_{nullptr}, head_out_{nullptr};
};

}  // namespace sbmt::trainer
