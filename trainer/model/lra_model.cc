#include "trainer/model/lra_model.h"

#include <string>

namespace sbmt::trainer {
namespace {

using torch::nn::Module;

std::shared_ptr<Module> Node(Module& parent, const std::string& name) {
  return parent.register_module(name, std::make_shared<Module>());
}

torch::nn::LayerNorm Norm(Module& parent, const std::string& name, int64_t width) {
  return parent.register_module(
      name, torch::nn::LayerNorm(torch::nn::LayerNormOptions({width}).eps(1e-5)));
}

}  // namespace

LraModel::LraModel(const ModelConfig& c, int64_t classes, LraHead head, uint64_t seed)
    : config_(c), head_(head) {
  torch::manual_seed(static_cast<int64_t>(seed));
  const int64_t hidden = c.hidden;
  auto embeddings = Node(*this, "embeddings");
  word_ =
      embeddings->register_module("word_embeddings", torch::nn::Embedding(c.vocab_size, hidden));
  position_ = embeddings->register_module("position_embeddings",
                                          torch::nn::Embedding(c.max_positions, hidden));
  auto encoder = Node(*this, "encoder");
  auto layer_list = Node(*encoder, "layer");
  for (int64_t i = 0; i < c.layers; ++i) {
    Layer l;
    auto layer = Node(*layer_list, std::to_string(i));
    auto attn = Node(*layer, "attention");
    l.attention_norm = Norm(*attn, "LayerNorm", hidden);
    auto self = Node(*attn, "self");
    l.query = self->register_module("query", torch::nn::Linear(hidden, hidden));
    l.key = self->register_module("key", torch::nn::Linear(hidden, hidden));
    l.value = self->register_module("value", torch::nn::Linear(hidden, hidden));
    l.attention = MakeAttention(*self, c, seed, i);
    l.attention_output = attn->register_module("output", torch::nn::Linear(hidden, hidden));
    auto ffn = Node(*layer, "ffn");
    l.ffn_norm = Norm(*ffn, "LayerNorm", hidden);
    l.intermediate = ffn->register_module("intermediate", torch::nn::Linear(hidden, c.ffn));
    l.output = ffn->register_module("output", torch::nn::Linear(c.ffn, hidden));
    layers_.push_back(std::move(l));
  }
  final_norm_ = Norm(*encoder, "LayerNorm", hidden);
  auto classifier = Node(*this, "classifier");
  const int64_t features = head == LraHead::kPairPooled ? 4 * hidden : hidden;
  head_hidden_ = classifier->register_module("hidden", torch::nn::Linear(features, c.ffn));
  head_out_ = classifier->register_module("output", torch::nn::Linear(c.ffn, classes));
  InitBertWeights(*this);
}

EncoderOutput LraModel::Encode(const torch::Tensor& ids, const torch::Tensor& valid,
                               const attention::AttentionContext& context) {
  const int64_t batch = ids.size(0), length = ids.size(1);
  if (length > config_.max_positions) {
    throw ConfigError("sequences of " + std::to_string(length) +
                      " tokens exceed model.max_positions (" +
                      std::to_string(config_.max_positions) + ")");
  }
  const int64_t heads = config_.heads, head_dim = config_.hidden / config_.heads;
  const double dropout = config_.dropout;
  const torch::Tensor positions = torch::arange(length, ids.options().dtype(torch::kLong));
  torch::Tensor x = word_(ids) + position_(positions).unsqueeze(0);
  x = torch::dropout(x, dropout, is_training());
  EncoderOutput out;
  out.regularizer = torch::zeros({}, x.options());
  auto split = [&](const torch::Tensor& t) {  // [B, L, H*d] -> [B, H, L, d]
    return t.view({batch, length, heads, head_dim}).permute({0, 2, 1, 3});
  };
  const attention::AttentionMask mask = attention::AttentionMask::Self(valid);
  for (Layer& l : layers_) {
    torch::Tensor h = l.attention_norm(x);
    attention::AttentionOutput a =
        l.attention->forward(split(l.query(h)), split(l.key(h)), split(l.value(h)), mask, context);
    torch::Tensor attended = a.out.permute({0, 2, 1, 3}).reshape({batch, length, config_.hidden});
    x = x + torch::dropout(l.attention_output(attended), dropout, is_training());
    h = torch::dropout(torch::gelu(l.intermediate(l.ffn_norm(x))), dropout, is_training());
    x = x + torch::dropout(l.output(h), dropout, is_training());
    out.regularizer = out.regularizer + a.regularizer;
    out.layer_stats.push_back(a.stats);
  }
  out.hidden = final_norm_(x);
  return out;
}

ClassifierOutput LraModel::forward(const torch::Tensor& ids0, const torch::Tensor& valid0,
                                   const torch::Tensor& ids1, const torch::Tensor& valid1,
                                   const attention::AttentionContext& context) {
  const bool pair = head_ == LraHead::kPairPooled;
  if (pair != ids1.defined()) {
    throw Error(ErrorCode::kInvalidArgument,
                pair ? "LraModel: the two-tower head needs two documents"
                     : "LraModel: a second document without the two-tower head");
  }
  // Both towers in one pass: the documents are stacked on the batch dimension.
  const int64_t batch = ids0.size(0);
  EncoderOutput e = pair ? Encode(torch::cat({ids0, ids1}), torch::cat({valid0, valid1}), context)
                         : Encode(ids0, valid0, context);
  const torch::Tensor valid = pair ? torch::cat({valid0, valid1}) : valid0;
  torch::Tensor features;
  if (head_ == LraHead::kPerPosition) {
    features = e.hidden;
  } else {
    // The reference's mean: padding zeroed, divided by the full length.
    const torch::Tensor pooled = (e.hidden * valid.unsqueeze(-1).to(e.hidden.dtype())).mean(1);
    if (pair) {
      const torch::Tensor a = pooled.narrow(0, 0, batch), b = pooled.narrow(0, batch, batch);
      features = torch::cat({a, b, a * b, a - b}, 1);
    } else {
      features = pooled;
    }
  }
  ClassifierOutput out;
  out.logits = head_out_(torch::relu(head_hidden_(features)));
  out.regularizer = e.regularizer;
  out.layer_stats = std::move(e.layer_stats);
  return out;
}

}  // namespace sbmt::trainer
