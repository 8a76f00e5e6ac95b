// GLUE fine-tuning through the Trainer: pair encoding and longest-first truncation, the
// schedule in epochs, a single-sentence task that learns (SST-2 layout), and a pair regression
// task (STS-B) whose Pearson metric comes from summed statistics.
#include "trainer/tasks/glue/glue_task.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

#include "tests/util/test_files.h"
#include "trainer/checkpoint/hf_export.h"
#include "trainer/checkpoint/safetensors.h"
#include "trainer/checkpoint/tensor_io.h"
#include "trainer/tasks/glue/glue_metrics.h"
#include "trainer/train/trainer.h"

namespace sbmt::trainer {
namespace {

namespace fs = std::filesystem;

TEST(GlueTask, PairsGetTokenTypesAndLongestFirstTruncation) {
  const EncodedPair p = EncodePair({10, 11, 12, 13, 14}, {20, 21}, 1, 2, 8);
  // room 5: a loses from its end until a + b fit (a is the longer side).
  EXPECT_EQ(p.ids, (std::vector<int32_t>{1, 10, 11, 12, 2, 20, 21, 2}));
  EXPECT_EQ(p.token_types, (std::vector<int32_t>{0, 0, 0, 0, 0, 1, 1, 1}));
  const EncodedPair tie = EncodePair({10, 11, 12}, {20, 21, 22}, 1, 2, 7);  // b loses on ties
  EXPECT_EQ(tie.ids, (std::vector<int32_t>{1, 10, 11, 2, 20, 21, 2}));
  const EncodedPair single = EncodePair({10, 11, 12}, {}, 1, 2, 4);
  EXPECT_EQ(single.ids, (std::vector<int32_t>{1, 10, 11, 2}));
  EXPECT_EQ(single.token_types, (std::vector<int32_t>{0, 0, 0, 0}));
}

// The classification task's sentiment fixture is in SST-2's layout.
const char kSentimentFixture[] = "trainer/tasks/classification/testdata";

// A GLUE data folder whose SST-2/ holds the sentiment fixture's train and dev files.
fs::path Sst2Folder(const std::string& name) {
  const fs::path glue_dir = testing::FreshDir(name);
  fs::create_directories(glue_dir / "SST-2");
  const fs::path fixture = fs::absolute(kSentimentFixture);
  fs::create_symlink(fixture / "train.tsv", glue_dir / "SST-2/train.tsv");
  fs::create_symlink(fixture / "dev.tsv", glue_dir / "SST-2/dev.tsv");
  return glue_dir;
}

// The second column of an index<TAB>value file, after checking its header.
std::vector<std::string> ReadColumn(const fs::path& path, const std::string& header) {
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);
  EXPECT_EQ(line, header) << path;
  std::vector<std::string> values;
  while (std::getline(in, line)) values.push_back(line.substr(line.find('\t') + 1));
  return values;
}

TrainConfig Tiny(const std::string& task, const fs::path& data_dir, const fs::path& vocab) {
  TrainConfig c;
  c.task.name = "glue";
  c.task.glue.name = task;
  c.task.glue.data_dir = data_dir.string();
  c.data.vocab = vocab.string();
  c.model.layers = 2;
  c.model.heads = 2;
  c.model.hidden = 32;
  c.model.ffn = 64;
  c.model.max_positions = 16;
  c.model.attention = "sbm";
  c.model.sbm_clusters = 4;
  c.model.dropout = 0.0;
  c.optim.lr = 3e-3;
  c.optim.warmup_steps = 5;
  c.run.seed = 3;
  c.run.threads = 1;
  c.run.log_every = 50;
  return c;
}

// The sentiment fixture of the classification task is in SST-2's layout: as GLUE's SST-2 it
// learns through the same Trainer, with a schedule counted in epochs.
TEST(GlueTask, SingleSentenceTaskLearnsWithAScheduleInEpochs) {
  const fs::path fixture = fs::absolute(kSentimentFixture);
  const fs::path glue_dir = Sst2Folder("glue_sst2");
  TrainConfig c = Tiny("sst2", glue_dir, fixture / "vocab.txt");
  c.model.vocab_size = 34;
  c.data.global_batch = 16;
  c.task.glue.epochs = 60;
  c.run.out_dir = testing::FreshDir("glue_sst2_run").string();
  GlueTask::AdjustConfig(c);
  EXPECT_EQ(c.optim.total_steps, 240);  // 64 examples / 16 = 4 steps an epoch
  EXPECT_EQ(c.run.eval_every, 4);
  GlueTask task(c);
  EXPECT_EQ(task.name(), "glue/sst2");
  Trainer trainer(c, task, [](const std::string&) {});
  std::vector<v1::EvalReport> evals;
  trainer.OnEval([&](const v1::EvalReport& r) { evals.push_back(r); });
  trainer.Run();
  ASSERT_EQ(evals.size(), 61u);  // before training and after every epoch
  EXPECT_GE(evals.back().metrics().at("accuracy"), 0.9) << evals.back().DebugString();

  // The best epoch was kept (run.keep_best defaults to the task's first metric).
  double best = 0;
  for (size_t i = 1; i < evals.size(); ++i)
    best = std::max(best, evals[i].metrics().at("accuracy"));
  EXPECT_EQ(c.run.keep_best, "accuracy");
  EXPECT_NE(testing::ReadFile(fs::path(c.run.out_dir) / "best/best.json").find("\"accuracy\""),
            std::string::npos);
  EXPECT_TRUE(fs::exists(fs::path(c.run.out_dir) / "best/model.safetensors"));

  // Dev predictions in the submission format, with labels glue_eval can score against, from
  // the best epoch's weights: their accuracy is that evaluation's (same sampling keys).
  std::vector<std::string> logs;
  task.WriteOutputs(c.run.out_dir, [&](const std::string& m) { logs.push_back(m); });
  ASSERT_FALSE(logs.empty());
  EXPECT_NE(logs[0].find("predicting with the best epoch's weights"), std::string::npos);
  const fs::path dev = fs::path(c.run.out_dir) / "predictions/dev";
  const std::vector<std::string> predicted = ReadColumn(dev / "SST-2.tsv", "index\tprediction");
  const std::vector<std::string> labels = ReadColumn(dev / "SST-2.labels.tsv", "index\tlabel");
  ASSERT_EQ(predicted.size(), 24u);
  EXPECT_DOUBLE_EQ(glue::Accuracy(predicted, labels), best);
}

// A model imported from a Hugging Face directory fine-tunes: its encoder weights are the
// directory's, the pooler and classifier start fresh.
TEST(GlueTask, FineTunesFromAHuggingFaceDirectory) {
  const fs::path fixture = fs::absolute(kSentimentFixture);
  const fs::path glue_dir = Sst2Folder("glue_hf");
  TrainConfig c = Tiny("sst2", glue_dir, fixture / "vocab.txt");
  c.model.vocab_size = 34;
  c.data.global_batch = 16;
  c.task.glue.epochs = 2;
  const fs::path exported = testing::FreshDir("glue_hf_export");
  BertForMaskedLM pretrained(c.model, 77);
  ExportHuggingFace(ToSafeTensors(pretrained.named_parameters()), c.model, c.data.vocab,
                    exported.string());
  c.model.init_from = exported.string();
  c.run.out_dir = testing::FreshDir("glue_hf_run").string();
  GlueTask::AdjustConfig(c);
  GlueTask task(c);
  std::vector<std::string> logs;
  Trainer trainer(c, task, [&](const std::string& m) { logs.push_back(m); });
  trainer.Run(0);
  ASSERT_FALSE(logs.empty());
  EXPECT_NE(logs[0].find("initialized from " + exported.string() + " (4 parameters kept"),
            std::string::npos)
      << logs[0];
  EXPECT_TRUE(
      torch::equal(task.model().named_parameters()["bert.embeddings.word_embeddings.weight"],
                   pretrained.named_parameters()["bert.embeddings.word_embeddings.weight"]));
  EXPECT_EQ(trainer.Run().final_step, 8);
}

// One of our checkpoints (a committed step_N/ of a pretraining run) starts a fine-tune too: its
// tensor names are the Hugging Face ones, and there is no config.json.
TEST(GlueTask, FineTunesFromOurCheckpoint) {
  const fs::path fixture = fs::absolute(kSentimentFixture);
  TrainConfig c = Tiny("sst2", Sst2Folder("glue_ckpt"), fixture / "vocab.txt");
  c.model.vocab_size = 34;
  c.data.global_batch = 16;
  c.task.glue.epochs = 1;
  const fs::path step = testing::FreshDir("glue_ckpt_pretrained") / "checkpoints/step_40";
  fs::create_directories(step);
  BertForMaskedLM pretrained(c.model, 78);
  WriteSafetensors((step / "model.safetensors").string(),
                   ToSafeTensors(pretrained.named_parameters()), {});
  testing::WriteFile(step / "COMMITTED", "");
  c.model.init_from = step.string();
  c.run.out_dir = testing::FreshDir("glue_ckpt_run").string();
  GlueTask::AdjustConfig(c);
  GlueTask task(c);
  std::vector<std::string> logs;
  Trainer trainer(c, task, [&](const std::string& m) { logs.push_back(m); });
  trainer.Run(0);
  ASSERT_FALSE(logs.empty());
  EXPECT_NE(logs[0].find("initialized from checkpoint " + step.string() + " (4 parameters kept"),
            std::string::npos)
      << logs[0];
  EXPECT_TRUE(
      torch::equal(task.model().named_parameters()["bert.encoder.layer.1.output.dense.weight"],
                   pretrained.named_parameters()["bert.encoder.layer.1.output.dense.weight"]));
}

// STS-B: a pair regression task; Pearson from summed statistics, on the official layout.
TEST(GlueTask, PairRegressionTrainsAndReportsPearson) {
  const fs::path glue_dir = fs::absolute("trainer/tasks/glue/testdata/glue");
  const fs::path vocab_dir = testing::FreshDir("glue_vocab");
  {
    std::string vocab = "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\n";
    for (const char* w : {"a", "an", "man", "is", "playing", "large", "flute", "plane", "taking",
                          "off", "air", "with", "hard", "hat", "dancing", "wearing", "."}) {
      vocab += std::string(w) + "\n";
    }
    testing::WriteFile(vocab_dir / "vocab.txt", vocab);
  }
  TrainConfig c = Tiny("stsb", glue_dir, vocab_dir / "vocab.txt");
  c.model.vocab_size = 22;
  c.data.global_batch = 2;
  c.task.glue.epochs = 3;
  c.run.out_dir = testing::FreshDir("glue_stsb_run").string();
  GlueTask::AdjustConfig(c);
  EXPECT_EQ(c.optim.total_steps, 3);
  GlueTask task(c);
  Trainer trainer(c, task, [](const std::string&) {});
  std::vector<v1::StepReport> steps;
  trainer.OnStep([&](const v1::StepReport& r) { steps.push_back(r); });
  trainer.Run();
  ASSERT_EQ(steps.size(), 3u);
  EXPECT_TRUE(steps.back().metrics().count("pearson"));
  EXPECT_TRUE(fs::exists(fs::path(c.run.out_dir) / "checkpoints/step_3/COMMITTED"));
}

}  // namespace
}  // namespace sbmt::trainer
