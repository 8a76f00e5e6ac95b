// Inference from exported directories gives what the trained model in memory gives: fill-mask
// against the MLM task's own model (the same top-k, probabilities to a relative 1e-6), a model
// imported back and exported again predicts the same, and a fine-tuned GLUE classifier's exported
// directory labels the dev set as the run's own prediction files do. Bad models and texts fail
// with messages that name what is wrong.
#include "trainer/predict/predictor.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "tests/util/test_files.h"
#include "trainer/model/bert.h"
#include "trainer/tasks/glue/glue_data.h"
#include "trainer/tasks/glue/glue_task.h"
#include "trainer/tasks/mlm/mlm_task.h"
#include "trainer/train/testing/tiny_config.h"
#include "trainer/train/trainer.h"

namespace sbmt::trainer {
namespace {

namespace fs = std::filesystem;

void Quiet(const std::string&) {}

// A tiny MLM trained a few steps and exported; `config` is what trained it.
fs::path TrainedMlm(const std::string& name, TrainConfig* config,
                    std::unique_ptr<MlmTask>* trained) {
  const fs::path data = testing::FreshDir(name + "_data");
  testing::MakeTinyMlmData(data, 64, 8, 11);
  *config = testing::TinyMlmConfig(data, testing::FreshDir(name + "_run"), "sbm");
  config->optim.total_steps = 60;  // long enough to move away from uniform probabilities
  config->optim.lr = 3e-3;
  *trained = std::make_unique<MlmTask>(*config);
  Trainer(*config, **trained, Quiet).Run();
  const fs::path exported = testing::FreshDir(name + "_hf");
  (*trained)->ExportHuggingFace(exported.string());
  return exported;
}

// The reference: the trained model itself, on ids built by hand ("wN" is token N, N >= 999).
std::vector<std::vector<std::pair<int32_t, double>>> Reference(BertForMaskedLM& model,
                                                               const std::vector<int64_t>& ids,
                                                               const std::vector<int64_t>& masked,
                                                               int k) {
  model.eval();
  torch::NoGradGuard no_grad;
  const int64_t n = static_cast<int64_t>(ids.size());
  const torch::Tensor logits =
      model
          .forward(torch::tensor(ids).view({1, n}), torch::ones({1, n}, torch::kBool),
                   torch::tensor(masked), {0, 0, attention::AttentionContext::Phase::kEval})
          .logits;
  const auto [scores, top] = torch::softmax(logits.to(torch::kDouble), -1).topk(k, -1);
  std::vector<std::vector<std::pair<int32_t, double>>> out(masked.size());
  for (size_t m = 0; m < masked.size(); ++m) {
    for (int j = 0; j < k; ++j) {
      out[m].emplace_back(static_cast<int32_t>(top[m][j].item<int64_t>()),
                          scores[m][j].item<double>());
    }
  }
  return out;
}

TEST(FillMask, ExportedModelPredictsAsTheTrainedModel) {
  TrainConfig c;
  std::unique_ptr<MlmTask> trained;
  const fs::path exported = TrainedMlm("fill_mask", &c, &trained);
  // The model's seed keys SBM's graphs: the same seed samples the same edges.
  FillMask fill(exported.string(), "", c.run.seed);
  EXPECT_EQ(fill.model().attention, "sbm");
  const auto got = fill.Predict("w1100 w1101 [MASK] w1103 w1104 [MASK] w1106", 5);
  const auto want = Reference(dynamic_cast<BertForMaskedLM&>(trained->model()),
                              {101, 1100, 1101, 103, 1103, 1104, 103, 1106, 102}, {3, 6}, 5);
  ASSERT_EQ(got.size(), 2u);
  for (size_t m = 0; m < 2; ++m) {
    ASSERT_EQ(got[m].size(), 5u);
    for (size_t j = 0; j < 5; ++j) {
      EXPECT_EQ(got[m][j].id, want[m][j].first) << "mask " << m << " rank " << j;
      EXPECT_EQ(got[m][j].token, "w" + std::to_string(want[m][j].first));
      // The issue asks for 1e-4; the same arithmetic gives far closer (relative 1e-6).
      EXPECT_NEAR(got[m][j].score, want[m][j].second, 1e-6 * want[m][j].second);
      if (j > 0) {
        EXPECT_LE(got[m][j].score, got[m][j - 1].score);
      }
    }
  }

  // Imported back into a task (model.init_from) and exported again: the same predictions.
  TrainConfig d = c;
  d.run.out_dir = testing::FreshDir("fill_mask_reimport_run").string();
  d.model.init_from = exported.string();
  MlmTask reimported(d);
  Trainer(d, reimported, Quiet).Run(0);
  const fs::path again = testing::FreshDir("fill_mask_hf_again");
  reimported.ExportHuggingFace(again.string());
  const auto round_trip = FillMask(again.string(), "", c.run.seed)
                              .Predict("w1100 w1101 [MASK] w1103 w1104 [MASK] w1106", 5);
  for (size_t m = 0; m < 2; ++m) {
    for (size_t j = 0; j < 5; ++j) {
      EXPECT_EQ(round_trip[m][j].id, got[m][j].id);
      EXPECT_NEAR(round_trip[m][j].score, got[m][j].score, 1e-4);
    }
  }

  // Full attention on the same weights: another answer, still a distribution's top.
  const auto full = FillMask(exported.string(), "full", 0).Predict("w1007 [MASK]", 3);
  ASSERT_EQ(full.size(), 1u);
  EXPECT_GT(full[0][0].score, 0.0);
  EXPECT_LE(full[0][0].score + full[0][1].score + full[0][2].score, 1.0 + 1e-9);
}

TEST(FillMask, BadTextsAndModelsAreNamed) {
  TrainConfig c;
  std::unique_ptr<MlmTask> trained;
  const fs::path exported = TrainedMlm("fill_mask_bad", &c, &trained);
  FillMask fill(exported.string(), "", 0);
  auto message = [](auto&& f) {
    try {
      f();
    } catch (const std::exception& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_NE(message([&] { fill.Predict("w1001 w1002 w1003", 5); }).find("no [MASK]"),
            std::string::npos);
  std::string long_text;
  for (int i = 0; i < 40; ++i) long_text += "w1005 ";
  EXPECT_NE(message([&] { fill.Predict(long_text + "[MASK]", 5); }).find("at most 32"),
            std::string::npos);
  EXPECT_NE(message([&] { FillMask(exported.string(), "dense", 0); }).find("--attention=dense"),
            std::string::npos);
  EXPECT_NE(message([&] {
              FillMask((exported / "nowhere").string(), "", 0);
            }).find("nowhere/config.json: cannot read"),
            std::string::npos);
  EXPECT_NE(message([&] {
              Classifier(exported.string(), "", 0);
            }).find("architecture BertForMaskedLM, expected BertForSequenceClassification"),
            std::string::npos);
}

// A GLUE classifier: the exported best epoch labels the dev set as WriteOutputs did.
TEST(Classifier, ExportedGlueModelLabelsAsTheRunsPredictions) {
  const fs::path fixture = fs::absolute("trainer/tasks/classification/testdata");
  const fs::path glue_dir = testing::FreshDir("classify_glue");
  fs::create_directories(glue_dir / "SST-2");
  fs::create_symlink(fixture / "train.tsv", glue_dir / "SST-2/train.tsv");
  fs::create_symlink(fixture / "dev.tsv", glue_dir / "SST-2/dev.tsv");
  TrainConfig c;
  c.task.name = "glue";
  c.task.glue.name = "sst2";
  c.task.glue.data_dir = glue_dir.string();
  c.task.glue.epochs = 6;
  c.data.vocab = (fixture / "vocab.txt").string();
  c.data.global_batch = 16;
  c.model.vocab_size = 34;
  c.model.layers = 1;
  c.model.heads = 2;
  c.model.hidden = 32;
  c.model.ffn = 64;
  c.model.max_positions = 16;
  c.model.sbm_clusters = 4;
  c.optim.lr = 3e-3;
  c.optim.warmup_steps = 2;
  c.run.seed = 9;
  c.run.threads = 1;
  c.run.out_dir = testing::FreshDir("classify_run").string();
  GlueTask::AdjustConfig(c);
  GlueTask task(c);
  Trainer(c, task, Quiet).Run();
  task.WriteOutputs(c.run.out_dir, Quiet);
  const fs::path exported = testing::FreshDir("classify_hf");
  task.ExportHuggingFace(exported.string());
  EXPECT_NE(testing::ReadFile(exported / "config.json").find("\"BertForSequenceClassification\""),
            std::string::npos);

  Classifier classify(exported.string(), "", c.run.seed);
  EXPECT_EQ(classify.head().labels, (std::vector<std::string>{"0", "1"}));
  EXPECT_EQ(classify.head().finetuning_task, "sst2");
  const glue::GlueTaskSpec& spec = glue::GlueSpec("sst2");
  std::vector<std::pair<std::string, std::string>> texts;
  for (const glue::GlueExample& e : glue::ReadGlueFile(spec, (fixture / "dev.tsv").string(), false,
                                                       glue::MalformedRows::kFail)) {
    texts.emplace_back(e.text_a, e.text_b);
  }
  const std::vector<std::string> got = classify.Predict(texts, c.data.global_batch);
  std::ifstream run_predictions(fs::path(c.run.out_dir) / "predictions/dev/SST-2.tsv");
  std::string line;
  std::getline(run_predictions, line);
  ASSERT_EQ(line, "index\tprediction");
  std::vector<std::string> want;
  while (std::getline(run_predictions, line)) want.push_back(line.substr(line.find('\t') + 1));
  EXPECT_EQ(got, want);
}

}  // namespace
}  // namespace sbmt::trainer
