#include "trainer/model/bert.h"

#include <string>

#include "attention/baselines/full_attention.h"
#include "attention/baselines/linformer_attention.h"
#include "attention/baselines/nystrom_attention.h"

namespace sbmt::trainer {
namespace {

using torch::nn::Module;

// A plain module used only to give parameters their Hugging Face path.
std::shared_ptr<Module> Node(Module& parent, const std::string& name) {
  return parent.register_module(name, std::make_shared<Module>());
}

torch::nn::Linear Dense(Module& parent, int64_t in, int64_t out) {
  auto dense = parent.register_module("dense", torch::nn::Linear(in, out));
  return dense;
}

torch::nn::LayerNorm Norm(Module& parent, int64_t width) {
  return parent.register_module(
      "LayerNorm", torch::nn::LayerNorm(torch::nn::LayerNormOptions({width}).eps(1e-12)));
}

// BERT's initialization: normal(0, 0.02) weights, zero biases, unit LayerNorm.
void InitWeights(Module& m) {
  torch::NoGradGuard no_grad;
  for (auto& p : m.named_parameters()) {
    const std::string& name = p.key();
    if (name.find("LayerNorm") != std::string::npos) {
      p.value().fill_(name.size() >= 6 && name.substr(name.size() - 6) == "weight" ? 1.0 : 0.0);
    } else if (name.size() >= 4 && name.substr(name.size() - 4) == "bias") {
      p.value().zero_();
    } else if (name.find(".sbm.") == std::string::npos &&
               name.find(".linformer.") == std::string::npos) {
      p.value().normal_(0.0, 0.02);
    }
  }
}

}  // namespace

BertForMaskedLM::BertForMaskedLM(const ModelConfig& c, uint64_t seed) : config_(c) {
  torch::manual_seed(static_cast<int64_t>(seed));
  const int64_t hidden = c.hidden, head_dim = c.hidden / c.heads;
  auto bert = Node(*this, "bert");
  auto embeddings = Node(*bert, "embeddings");
  word_ = embeddings->register_module("word_embeddings", torch::nn::Embedding(c.vocab_size, hidden));
  position_ = embeddings->register_module("position_embeddings",
                                          torch::nn::Embedding(c.max_positions, hidden));
  token_type_ = embeddings->register_module("token_type_embeddings", torch::nn::Embedding(2, hidden));
  embedding_norm_ = Norm(*embeddings, hidden);

  auto encoder = Node(*bert, "encoder");
  auto layer_list = Node(*encoder, "layer");
  for (int64_t i = 0; i < c.layers; ++i) {
    Layer l;
    auto layer = Node(*layer_list, std::to_string(i));
    auto attn = Node(*layer, "attention");
    auto self = Node(*attn, "self");
    l.query = self->register_module("query", torch::nn::Linear(hidden, hidden));
    l.key = self->register_module("key", torch::nn::Linear(hidden, hidden));
    l.value = self->register_module("value", torch::nn::Linear(hidden, hidden));
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
      o.layer = static_cast<uint64_t>(i);
      l.sbm = self->register_module("sbm", std::make_shared<attention::SbmAttention>(o));
      l.attention = l.sbm;
    } else if (c.attention == "full") {
      l.attention = self->register_module(
          "full", std::make_shared<attention::FullAttention>(
                      attention::FullAttentionOptions{c.attention_dropout}));
    } else if (c.attention == "linformer") {
      l.attention = self->register_module(
          "linformer", std::make_shared<attention::LinformerAttention>(attention::LinformerOptions{
                           c.heads, c.max_positions, std::min<int64_t>(256, c.max_positions),
                           c.attention_dropout}));
    } else {
      attention::NystromOptions o;
      o.heads = c.heads;
      o.landmarks = std::min<int64_t>(64, c.max_positions);
      l.attention = self->register_module("nystrom", std::make_shared<attention::NystromAttention>(o));
    }
    auto attn_out = Node(*attn, "output");
    l.attention_output = Dense(*attn_out, hidden, hidden);
    l.attention_norm = Norm(*attn_out, hidden);
    l.intermediate = Dense(*Node(*layer, "intermediate"), hidden, c.ffn);
    auto out = Node(*layer, "output");
    l.output = Dense(*out, c.ffn, hidden);
    l.output_norm = Norm(*out, hidden);
    layers_.push_back(std::move(l));
  }
  auto predictions = Node(*Node(*this, "cls"), "predictions");
  auto transform = Node(*predictions, "transform");
  transform_ = Dense(*transform, hidden, hidden);
  transform_norm_ = Norm(*transform, hidden);
  decoder_bias_ = predictions->register_parameter("bias", torch::zeros({c.vocab_size}));
  InitWeights(*this);
}

void BertForMaskedLM::set_step(uint64_t step, uint64_t first_example) {
  for (Layer& l : layers_) {
    if (l.sbm) l.sbm->set_step(step, first_example);
  }
}

BertOutput BertForMaskedLM::forward(const torch::Tensor& input_ids, const torch::Tensor& valid,
                                    const torch::Tensor& masked_positions) {
  const int64_t batch = input_ids.size(0), length = input_ids.size(1);
  const int64_t heads = config_.heads, head_dim = config_.hidden / config_.heads;
  const double dropout = config_.dropout;
  torch::Tensor positions = torch::arange(length, torch::kLong);
  torch::Tensor x = word_(input_ids) + position_(positions).unsqueeze(0) +
                    token_type_(torch::zeros_like(input_ids));
  x = torch::dropout(embedding_norm_(x), dropout, is_training());

  BertOutput out;
  out.regularizer = torch::zeros({});
  auto split = [&](const torch::Tensor& t) {  // [B, L, H*d] -> [B, H, L, d]
    return t.view({batch, length, heads, head_dim}).permute({0, 2, 1, 3});
  };
  for (Layer& l : layers_) {
    attention::AttentionOutput a =
        l.attention->forward(split(l.query(x)), split(l.key(x)), split(l.value(x)), valid);
    torch::Tensor context = a.out.permute({0, 2, 1, 3}).reshape({batch, length, config_.hidden});
    x = l.attention_norm(x + torch::dropout(l.attention_output(context), dropout, is_training()));
    torch::Tensor h = torch::gelu(l.intermediate(x));
    x = l.output_norm(x + torch::dropout(l.output(h), dropout, is_training()));
    out.regularizer = out.regularizer + a.regularizer;
    out.layer_stats.push_back(a.stats);
  }
  torch::Tensor masked = x.reshape({batch * length, config_.hidden}).index_select(0, masked_positions);
  masked = transform_norm_(torch::gelu(transform_(masked)));
  out.logits = torch::matmul(masked, word_->weight.t()) + decoder_bias_;
  return out;
}

}  // namespace sbmt::trainer
