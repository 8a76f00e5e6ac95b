// The synthetic task's data (one token twice, the rest distinct, labels on exactly the two
// copies, the same per stream) and its metrics through the Trainer.
#include "trainer/tasks/synthetic/synthetic_task.h"

#include <gtest/gtest.h>

#include <set>

#include "tests/util/test_files.h"
#include "trainer/train/trainer.h"

namespace sbmt::trainer {
namespace {

TEST(Synthetic, ExactlyOneTokenAppearsTwiceAtTheLabelledPositions) {
  SyntheticTaskConfig c;
  c.length = 16;
  c.vocab = 20;
  std::vector<std::pair<int32_t, int32_t>> pairs, again;
  const std::vector<lra::Example> a = MakeSyntheticExamples(c, 1, 500, &pairs);
  std::set<int32_t> positions_of_copy;
  for (size_t e = 0; e < a.size(); ++e) {
    const std::vector<int32_t>& ids = a[e].ids0;
    ASSERT_EQ(ids.size(), 16u);
    const auto [i, j] = pairs[e];
    ASSERT_LT(i, j);
    EXPECT_EQ(ids[i], ids[j]);
    EXPECT_EQ(std::set<int32_t>(ids.begin(), ids.end()).size(), 15u);  // the rest distinct
    for (int32_t id : ids) ASSERT_TRUE(id >= 1 && id <= 20);
    positions_of_copy.insert(j);
  }
  EXPECT_GT(positions_of_copy.size(), 10u);  // the copy lands anywhere
  EXPECT_EQ(MakeSyntheticExamples(c, 1, 500, &again)[7].ids0, a[7].ids0);  // deterministic
  EXPECT_EQ(again, pairs);
  EXPECT_NE(MakeSyntheticExamples(c, 2, 500, &again)[7].ids0, a[7].ids0);  // another stream
}

TEST(Synthetic, TrainsThroughTheTrainerAndReportsDensity) {
  TrainConfig c;
  c.task.name = "synthetic";
  c.task.synthetic.length = 16;
  c.task.synthetic.vocab = 32;
  c.task.synthetic.train_examples = 256;
  c.task.synthetic.valid_examples = 64;
  c.model.layers = 1;
  c.model.heads = 2;
  c.model.hidden = 32;
  c.model.ffn = 64;
  c.model.max_positions = 16;
  c.model.sbm_clusters = 4;
  c.model.dropout = 0;
  c.model.attention_dropout = 0;
  c.data.global_batch = 32;
  c.optim.total_steps = 4;
  c.optim.warmup_steps = 1;
  c.run.eval_every = 4;
  c.run.threads = 1;
  c.run.out_dir = sbmt::testing::FreshDir("synthetic_run").string();
  SyntheticTask task(c);
  std::vector<v1::EvalReport> evals;
  Trainer trainer(c, task, [](const std::string&) {});
  trainer.OnEval([&](const v1::EvalReport& r) { evals.push_back(r); });
  trainer.Run();
  ASSERT_EQ(evals.size(), 2u);
  EXPECT_EQ(evals[0].sequences(), 64);
  // Chance: 1 / C(16, 2) = 0.008 of the sequences; ~14/16 positions are "not a copy".
  EXPECT_LT(evals[0].metrics().at("accuracy"), 0.1);
  EXPECT_GT(evals[0].metrics().at("position_accuracy"), 0.0);
  ASSERT_EQ(evals[0].attention_size(), 2);
  EXPECT_GT(evals[0].attention(0).density(), 0.0);
  EXPECT_LT(evals[0].attention(0).density(), 1.0);  // SBM: sparse
}

}  // namespace
}  // namespace sbmt::trainer
