#include "trainer/model/bert.h"

#include <algorithm>
#include <string>

#include "attention/baselines/full_attention.h"
#include "attention/baselines/linformer_attention.h"
#include "attention/baselines/nystrom_attention.h"
#include "attention/sbm_attention_module.h"

namespace sbmt::trainer {
namespace {

using torch::nn::Module;

// A plain module used only to give parameters their Hugging Face path.
std::shared_ptr<Module> Node(Module& parent, const std::string& name) {
  return parent.register_module(name, std::make_shared<Module>());
}

torch::nn::Linear Dense(Module& parent, int64_t in, int64_t out) {
  return parent.register_module("dense", torch::nn::Linear(in, out));
}

torch::nn::LayerNorm Norm(Module& parent, int64_t width) {
  return parent.register_module(
      "LayerNorm", torch::nn::LayerNorm(torch::nn::LayerNormOptions({width}).eps(1e-12)));
}

bool EndsWith(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

}  // namespace

std::shared_ptr<attention::AttentionModule> MakeAttention(Module& self, const ModelConfig& c,
                                                          uint64_t seed, int64_t layer) {
  const int64_t head_dim = c.hidden / c.heads;
  if (c.attention == "sbm") {
    attention::SbmAttentionOptions o;
    o.heads = c.heads;
    o.head_dim = head_dim;
    o.clusters = c.sbm_clusters;
    o.eps = c.sbm_eps;
    o.self_loops = c.sbm_self_loops;
    o.dropout = c.attention_dropout;
    o.density_penalty = c.sbm_density_penalty == "sampled" ? attention::DensityPenalty::kSampled
                                                           : attention::DensityPenalty::kExpected;
    o.penalty_weight = c.sbm_penalty_weight;
    o.seed = seed;
    o.layer = static_cast<uint64_t>(layer);
    return self.register_module("sbm", std::make_shared<attention::SbmAttention>(o));
  }
  if (c.attention == "full") {
    return self.register_module("full", std::make_shared<attention::FullAttention>(
                                            attention::FullAttentionOptions{c.attention_dropout}));
  }
  if (c.attention == "linformer") {
    return self.register_module(
        "linformer", std::make_shared<attention::LinformerAttention>(attention::LinformerOptions{
                         c.heads, c.max_positions, std::min<int64_t>(256, c.max_positions),
                         c.attention_dropout}));
  }
  if (c.attention == "nystrom") {
    attention::NystromOptions o;
    o.heads = c.heads;
    o.landmarks = std::min<int64_t>(64, c.max_positions);
    return self.register_module("nystrom", std::make_shared<attention::NystromAttention>(o));
  }
  std::string kinds;
  for (const std::string& k : AttentionKinds()) kinds += (kinds.empty() ? "" : ", ") + k;
  throw ConfigError("model.attention: expected one of " + kinds + ", got '" + c.attention + "'");
}

void InitBertWeights(Module& m) {
  torch::NoGradGuard no_grad;
  for (auto& p : m.named_parameters()) {
    const std::string& name = p.key();
    if (name.find("LayerNorm") != std::string::npos) {
      p.value().fill_(EndsWith(name, "weight") ? 1.0 : 0.0);
    } else if (EndsWith(name, "bias")) {
      p.value().zero_();
    } else if (name.find(".sbm.") == std::string::npos &&
               name.find(".linformer.") == std::string::npos) {
      p.value().normal_(0.0, 0.02);
    }
  }
}

BertEncoder::BertEncoder(const ModelConfig& c, uint64_t seed, bool with_pooler) : config_(c) {
  const int64_t hidden = c.hidden;
  auto embeddings = Node(*this, "embeddings");
  word_ =
      embeddings->register_module("word_embeddings", torch::nn::Embedding(c.vocab_size, hidden));
  position_ = embeddings->register_module("position_embeddings",
                                          torch::nn::Embedding(c.max_positions, hidden));
  token_type_ =
      embeddings->register_module("token_type_embeddings", torch::nn::Embedding(2, hidden));
  embedding_norm_ = Norm(*embeddings, hidden);

  auto layer_list = Node(*Node(*this, "encoder"), "layer");
  for (int64_t i = 0; i < c.layers; ++i) {
    Layer l;
    auto layer = Node(*layer_list, std::to_string(i));
    auto attn = Node(*layer, "attention");
    auto self = Node(*attn, "self");
    l.query = self->register_module("query", torch::nn::Linear(hidden, hidden));
    l.key = self->register_module("key", torch::nn::Linear(hidden, hidden));
    l.value = self->register_module("value", torch::nn::Linear(hidden, hidden));
    l.attention = MakeAttention(*self, c, seed, i);
    auto attn_out = Node(*attn, "output");
    l.attention_output = Dense(*attn_out, hidden, hidden);
    l.attention_norm = Norm(*attn_out, hidden);
    l.intermediate = Dense(*Node(*layer, "intermediate"), hidden, c.ffn);
    auto out = Node(*layer, "output");
    l.output = Dense(*out, c.ffn, hidden);
    l.output_norm = Norm(*out, hidden);
    layers_.push_back(std::move(l));
  }
  if (with_pooler) pooler_ = Dense(*Node(*this, "pooler"), hidden, hidden);
}

EncoderOutput BertEncoder::forward(const torch::Tensor& input_ids,
                                   const torch::Tensor& token_type_ids, const torch::Tensor& valid,
                                   const attention::AttentionContext& context) {
  const int64_t batch = input_ids.size(0), length = input_ids.size(1);
  const int64_t heads = config_.heads, head_dim = config_.hidden / config_.heads;
  const double dropout = config_.dropout;
  torch::Tensor positions = torch::arange(length, input_ids.options().dtype(torch::kLong));
  torch::Tensor types = token_type_ids.defined() ? token_type_ids : torch::zeros_like(input_ids);
  torch::Tensor x = word_(input_ids) + position_(positions).unsqueeze(0) + token_type_(types);
  x = torch::dropout(embedding_norm_(x), dropout, is_training());

  EncoderOutput out;
  out.regularizer = torch::zeros({}, x.options());
  auto split = [&](const torch::Tensor& t) {  // [B, L, H*d] -> [B, H, L, d]
    return t.view({batch, length, heads, head_dim}).permute({0, 2, 1, 3});
  };
  const attention::AttentionMask mask = attention::AttentionMask::Self(valid);
  for (Layer& l : layers_) {
    attention::AttentionOutput a =
        l.attention->forward(split(l.query(x)), split(l.key(x)), split(l.value(x)), mask, context);
    torch::Tensor attended = a.out.permute({0, 2, 1, 3}).reshape({batch, length, config_.hidden});
    x = l.attention_norm(x + torch::dropout(l.attention_output(attended), dropout, is_training()));
    torch::Tensor h = torch::gelu(l.intermediate(x));
    x = l.output_norm(x + torch::dropout(l.output(h), dropout, is_training()));
    out.regularizer = out.regularizer + a.regularizer;
    out.layer_stats.push_back(a.stats);
  }
  out.hidden = x;
  return out;
}

torch::Tensor BertEncoder::pool(const torch::Tensor& hidden) {
  return torch::tanh(pooler_(hidden.select(1, 0)));
}

BertForMaskedLM::BertForMaskedLM(const ModelConfig& c, uint64_t seed) {
  torch::manual_seed(static_cast<int64_t>(seed));
  bert_ = register_module("bert", std::make_shared<BertEncoder>(c, seed, /*with_pooler=*/false));
  auto predictions = Node(*Node(*this, "cls"), "predictions");
  auto transform = Node(*predictions, "transform");
  transform_ = Dense(*transform, c.hidden, c.hidden);
  transform_norm_ = Norm(*transform, c.hidden);
  decoder_bias_ = predictions->register_parameter("bias", torch::zeros({c.vocab_size}));
  InitBertWeights(*this);
}

BertOutput BertForMaskedLM::forward(const torch::Tensor& input_ids, const torch::Tensor& valid,
                                    const torch::Tensor& masked_positions,
                                    const attention::AttentionContext& context) {
  EncoderOutput e = bert_->forward(input_ids, torch::Tensor(), valid, context);
  const int64_t hidden = bert_->config().hidden;
  torch::Tensor masked = e.hidden.reshape({-1, hidden}).index_select(0, masked_positions);
  masked = transform_norm_(torch::gelu(transform_(masked)));
  BertOutput out;
  out.logits = torch::matmul(masked, bert_->word_embeddings()->weight.t()) + decoder_bias_;
  out.regularizer = e.regularizer;
  out.layer_stats = std::move(e.layer_stats);
  return out;
}

BertForSequenceClassification::BertForSequenceClassification(const ModelConfig& c, int64_t labels,
                                                             uint64_t seed) {
  torch::manual_seed(static_cast<int64_t>(seed));
  bert_ = register_module("bert", std::make_shared<BertEncoder>(c, seed, /*with_pooler=*/true));
  classifier_ = register_module("classifier", torch::nn::Linear(c.hidden, labels));
  InitBertWeights(*this);
}

ClassifierOutput BertForSequenceClassification::forward(
    const torch::Tensor& input_ids, const torch::Tensor& token_type_ids, const torch::Tensor& valid,
    const attention::AttentionContext& context) {
  EncoderOutput e = bert_->forward(input_ids, token_type_ids, valid, context);
  torch::Tensor pooled =
      torch::dropout(bert_->pool(e.hidden), bert_->config().dropout, is_training());
  ClassifierOutput out;
  out.logits = classifier_(pooled);
  out.regularizer = e.regularizer;
  out.layer_stats = std::move(e.layer_stats);
  return out;
}

}  // namespace sbmt::trainer
