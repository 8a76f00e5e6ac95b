// LraTask through the Trainer: a byte-level text task in the aclImdb layout learns, the best dev
// checkpoint is tested once (lra_result.json), the one-cycle schedule runs from lr/25 up to lr
// and down to lr/25/1e4, and retrieval's two towers train on the AAN fixture.
#include "trainer/tasks/lra/lra_task.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>

#include "tests/util/test_files.h"
#include "trainer/tasks/make_task.h"
#include "trainer/train/trainer.h"

namespace sbmt::trainer {
namespace {

namespace fs = std::filesystem;

TrainConfig SmallLra(const std::string& name, const std::string& data_dir, const std::string& out) {
  TrainConfig c;
  c.task.name = "lra";
  c.task.lra.name = name;
  c.task.lra.data_dir = data_dir;
  c.task.lra.max_length = 32;
  c.model.layers = 1;
  c.model.heads = 2;
  c.model.hidden = 32;
  c.model.ffn = 64;
  c.model.max_positions = 32;
  c.model.sbm_clusters = 4;
  c.model.dropout = 0;
  c.model.attention_dropout = 0;
  c.data.global_batch = 16;
  c.optim.lr = 3e-3;
  c.optim.schedule = "one_cycle";
  c.optim.weight_decay = 0;
  c.optim.warmup_steps = 10;
  c.optim.total_steps = 80;
  c.run.eval_every = 40;
  c.run.checkpoint_every = 40;
  c.run.eval_batches = 4;
  c.run.keep_best = "accuracy";
  c.run.threads = 1;
  c.run.out_dir = out;
  return c;
}

// aclImdb layout: negative reviews are letters a-m, positive ones n-z.
void WriteTextData(const fs::path& dir) {
  std::mt19937 rng(5);
  for (const char* split : {"train", "test"}) {
    for (int label = 0; label < 2; ++label) {
      for (int i = 0; i < (std::string(split) == "train" ? 96 : 32); ++i) {
        std::string review;
        for (int k = 0; k < 20 + static_cast<int>(rng() % 12); ++k) {
          review += static_cast<char>((label == 0 ? 'a' : 'n') + rng() % 13);
        }
        sbmt::testing::WriteFile(dir / split / (label ? "pos" : "neg") /
                                     (std::to_string(i) + "_" + std::to_string(label) + ".txt"),
                                 review);
      }
    }
  }
}

TEST(LraTask, TextLearnsAndTheBestCheckpointIsTested) {
  const fs::path data = sbmt::testing::FreshDir("lra_text");
  WriteTextData(data);
  const fs::path out = sbmt::testing::FreshDir("lra_text_run");
  TrainConfig c = SmallLra("text", data.string(), out.string());
  AdjustConfigForTask(c);
  EXPECT_EQ(c.model.vocab_size, 257);  // bytes + 1, 0 for padding
  std::unique_ptr<Task> task = MakeTask(c);
  EXPECT_EQ(task->name(), "lra/text");
  Trainer trainer(c, *task, [](const std::string&) {});
  std::vector<v1::StepReport> steps;
  std::vector<v1::EvalReport> evals;
  trainer.OnStep([&](const v1::StepReport& r) { steps.push_back(r); });
  trainer.OnEval([&](const v1::EvalReport& r) { evals.push_back(r); });
  trainer.Run();
  task->WriteOutputs(out.string(), [](const std::string&) {});
  ASSERT_EQ(evals.size(), 3u);
  // The dev order is shuffled once, so the evaluated batches hold both classes.
  EXPECT_NEAR(evals[0].metrics().at("accuracy"), 0.5, 0.3);
  EXPECT_GE(evals.back().metrics().at("accuracy"), 0.95);
  // One cycle: lr/25 at the first step, lr at the end of warmup, lr/25/1e4 at the last.
  ASSERT_EQ(steps.size(), 80u);
  EXPECT_NEAR(steps[0].learning_rate(), 3e-3 / 25, 1e-12);
  EXPECT_NEAR(steps[9].learning_rate(), 3e-3, 1e-12);
  EXPECT_NEAR(steps[79].learning_rate(), 3e-3 / 25 / 1e4, 1e-15);
  EXPECT_LT(steps[40].learning_rate(), steps[20].learning_rate());
  std::ifstream in(out / "lra_result.json");
  const nlohmann::json result = nlohmann::json::parse(in);
  EXPECT_EQ(result["task"], "lra/text");
  EXPECT_EQ(result["test_examples"], 64);
  EXPECT_GE(result["test_accuracy"].get<double>(), 0.95);
  EXPECT_GT(result["test_mean_density"].get<double>(), 0.0);
  EXPECT_LT(result["test_mean_density"].get<double>(), 1.0);
  EXPECT_TRUE(result.contains("best")) << result.dump();
}

TEST(LraTask, RetrievalTrainsTwoTowersOnTheAanLayout) {
  const fs::path out = sbmt::testing::FreshDir("lra_retrieval_run");
  TrainConfig c = SmallLra("retrieval", "trainer/tasks/lra/testdata/aan", out.string());
  c.task.lra.skip_malformed = true;  // the fixture's test split has bad rows
  c.data.global_batch = 2;
  c.optim.total_steps = 3;
  c.run.eval_every = 3;
  c.run.checkpoint_every = 3;
  LraTask task(c);
  EXPECT_EQ(task.train_examples(), 2);
  Trainer trainer(c, task, [](const std::string&) {});
  std::vector<v1::EvalReport> evals;
  trainer.OnEval([&](const v1::EvalReport& r) { evals.push_back(r); });
  EXPECT_EQ(trainer.Run().final_step, 3);
  ASSERT_FALSE(evals.empty());
  EXPECT_EQ(evals.back().sequences(), 1);
  EXPECT_EQ(evals.back().attention_size(), 2);  // 1 layer x 2 heads, over both towers
}

TEST(LraTask, ConfigMistakesAreNamed) {
  TrainConfig c = SmallLra("listops", "trainer/tasks/lra/testdata/listops", "unused");
  c.task.lra.max_length = 64;  // longer than max_positions 32
  try {
    LraTask::AdjustConfig(c);
    ADD_FAILURE() << "a sequence longer than model.max_positions was accepted";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("model.max_positions (32) is shorter than the 64-token"),
              std::string::npos)
        << e.what();
  }
}

}  // namespace
}  // namespace sbmt::trainer
