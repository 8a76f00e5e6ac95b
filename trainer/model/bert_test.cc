// BERT-MLM: Hugging Face parameter names, shapes, finite gradients, and that a few AdamW steps
// on one batch lower the loss, for SBM and full attention.
#include "trainer/model/bert.h"

#include <gtest/gtest.h>

#include <fstream>
#include <set>
#include <string>

namespace sbmt::trainer {
namespace {

ModelConfig Tiny(const std::string& attention) {
  ModelConfig c;
  c.vocab_size = 200;
  c.layers = 2;
  c.heads = 2;
  c.hidden = 32;
  c.ffn = 64;
  c.max_positions = 64;
  c.attention = attention;
  c.sbm_clusters = 8;
  c.dropout = 0.0;
  c.attention_dropout = 0.0;
  return c;
}

TEST(Bert, ParameterNamesFollowBertForMaskedLM) {
  torch::set_num_threads(1);
  BertForMaskedLM model(Tiny("sbm"), 1);
  std::set<std::string> ours;
  for (const auto& p : model.named_parameters()) ours.insert(p.key());
  std::ifstream in("trainer/model/testdata/bert_for_masked_lm_names.txt");
  ASSERT_TRUE(in);
  std::string name;
  int expected = 0;
  while (std::getline(in, name)) {
    if (name.empty() || name[0] == '#') continue;
    ++expected;
    EXPECT_TRUE(ours.count(name)) << "missing " << name;
    const std::string layer1 = name.find("layer.0.") != std::string::npos
                                   ? name.substr(0, name.find("layer.0.")) + "layer.1." +
                                         name.substr(name.find("layer.0.") + 8)
                                   : name;
    EXPECT_TRUE(ours.count(layer1)) << "missing " << layer1;
  }
  EXPECT_EQ(expected, 26);
  for (const std::string& n : ours) {
    const bool hf = n.rfind("bert.", 0) == 0 || n.rfind("cls.", 0) == 0;
    EXPECT_TRUE(hf) << n;
    if (n.find(".sbm.") != std::string::npos) {
      EXPECT_NE(n.find(".attention.self.sbm."), std::string::npos) << n;
    }
  }
}

double TrainFewSteps(const std::string& attention, int steps) {
  torch::set_num_threads(1);
  BertForMaskedLM model(Tiny(attention), 3);
  torch::manual_seed(4);
  torch::Tensor ids = torch::randint(5, 200, {4, 24}, torch::kLong);
  torch::Tensor valid = torch::ones({4, 24}, torch::kBool);
  valid[3].narrow(0, 20, 4).fill_(false);
  torch::Tensor positions = torch::tensor({1, 5, 9, 30, 33, 50, 61, 70, 77, 90}, torch::kLong);
  torch::Tensor labels = ids.reshape({-1}).index_select(0, positions);
  torch::optim::AdamW opt(model.parameters(), torch::optim::AdamWOptions(3e-3));
  double first = 0, last = 0;
  for (int s = 0; s < steps; ++s) {
    const attention::AttentionContext context{static_cast<uint64_t>(s), 0,
                                              attention::AttentionContext::Phase::kTrain};
    BertOutput out = model.forward(ids, valid, positions, context);
    EXPECT_EQ(out.logits.sizes(), torch::IntArrayRef({10, 200}));
    torch::Tensor loss = torch::cross_entropy_loss(out.logits, labels) + out.regularizer;
    opt.zero_grad();
    loss.backward();
    for (const auto& p : model.named_parameters()) {
      if (p.value().grad().defined()) {
        EXPECT_TRUE(torch::isfinite(p.value().grad()).all().item<bool>()) << p.key();
      }
    }
    opt.step();
    (s == 0 ? first : last) = loss.item<double>();
  }
  return last / first;
}

TEST(Bert, FewStepsOnOneBatchLowerTheLoss) {
  EXPECT_LT(TrainFewSteps("sbm", 30), 0.5);
  EXPECT_LT(TrainFewSteps("full", 30), 0.5);
}

// A misspelled attention kind is an error naming the setting and the kinds, never a silent
// fallback to another attention.
TEST(Bert, UnknownAttentionIsAnError) {
  try {
    BertForMaskedLM model(Tiny("nystromformer"), 1);
    ADD_FAILURE() << "expected an error";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find(
                  "model.attention: expected one of sbm, full, linformer, nystrom, got "
                  "'nystromformer'"),
              std::string::npos)
        << e.what();
  }
}

// The sequence classifier: HF's names for the pooler and classifier, logits per example.
TEST(Bert, SequenceClassifierHasPoolerAndClassifier) {
  torch::set_num_threads(1);
  BertForSequenceClassification model(Tiny("sbm"), 3, 1);
  std::set<std::string> names;
  for (const auto& p : model.named_parameters()) names.insert(p.key());
  EXPECT_TRUE(names.count("bert.pooler.dense.weight"));
  EXPECT_TRUE(names.count("classifier.weight"));
  EXPECT_TRUE(names.count("bert.encoder.layer.1.attention.self.sbm.clusters"));
  EXPECT_FALSE(names.count("cls.predictions.bias"));
  torch::Tensor ids = torch::randint(5, 200, {4, 12}, torch::kLong);
  ClassifierOutput out =
      model.forward(ids, torch::Tensor(), torch::ones({4, 12}, torch::kBool), {});
  EXPECT_EQ(out.logits.sizes(), torch::IntArrayRef({4, 3}));
  EXPECT_EQ(out.layer_stats.size(), 2u);
}

}  // namespace
}  // namespace sbmt::trainer
