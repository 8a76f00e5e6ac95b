// The Trainer end to end on tiny data: masked-LM runs are bitwise reproducible and resumable;
// a second task (sequence classification) trains through the same loop; metrics.jsonl holds
// each step's report, whose attention statistics match the model's own; evaluation batches are
// read only by the rank that evaluates them; --log-all-ranks reaches every rank's step lines.
#include "trainer/train/trainer.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

#include "tests/util/test_files.h"
#include "trainer/checkpoint/safetensors.h"
#include "trainer/dist/in_process_communicator.h"
#include "trainer/tasks/classification/classification_task.h"
#include "trainer/tasks/make_task.h"
#include "trainer/tasks/mlm/mlm_task.h"
#include "trainer/train/report_sinks.h"
#include "trainer/train/testing/tiny_config.h"

namespace sbmt::trainer {
namespace {

namespace fs = std::filesystem;

void MakeData(const fs::path& dir, int train, int valid, unsigned seed) {
  testing::MakeTinyMlmData(dir, train, valid, seed);
}

TrainConfig Config(const fs::path& data, const fs::path& out, const std::string& attention) {
  return testing::TinyMlmConfig(data, out, attention);
}

TrainResult Train(const TrainConfig& c, const Trainer::Log& log, int64_t max_steps = -1) {
  MlmTask task(c);
  return Trainer(c, task, log).Run(max_steps);
}

void Quiet(const std::string&) {}

TEST(Trainer, MaskedLmRunsAreBitwiseReproducibleAndResumable) {
  const fs::path data = testing::FreshDir("pretrain_data");
  MakeData(data, 60, 20, 1);
  std::vector<std::string> logs;
  auto log = [&](const std::string& m) { logs.push_back(m); };

  const fs::path a = testing::FreshDir("run_a"), b = testing::FreshDir("run_b"),
                 r = testing::FreshDir("run_resumed");
  const TrainResult ra = Train(Config(data, a, "sbm"), log);
  EXPECT_EQ(ra.final_step, 8);
  EXPECT_GE(ra.last_eval_loss, 0.0);
  Train(Config(data, b, "sbm"), log);
  const std::string final_a = testing::ReadFile(a / "checkpoints/step_8/model.safetensors");
  ASSERT_FALSE(final_a.empty());
  EXPECT_EQ(final_a, testing::ReadFile(b / "checkpoints/step_8/model.safetensors"));
  EXPECT_EQ(testing::ReadFile(a / "checkpoints/step_8/optimizer.safetensors"),
            testing::ReadFile(b / "checkpoints/step_8/optimizer.safetensors"));

  // Stop after 4 steps (a checkpoint is committed at step 4), then resume in a new trainer.
  EXPECT_EQ(Train(Config(data, r, "sbm"), log, 4).final_step, 4);
  logs.clear();
  const TrainResult resumed = Train(Config(data, r, "sbm"), log);
  EXPECT_EQ(resumed.steps_done, 4);
  ASSERT_FALSE(logs.empty());
  EXPECT_NE(logs.front().find("resumed from"), std::string::npos) << logs.front();
  EXPECT_EQ(testing::ReadFile(r / "checkpoints/step_8/model.safetensors"), final_a);
  EXPECT_EQ(testing::ReadFile(r / "checkpoints/step_8/state.json"),
            testing::ReadFile(a / "checkpoints/step_8/state.json"));

  // A flipped byte in the newest checkpoint: reported, and the worker resumes from step 4.
  {
    const fs::path file = r / "checkpoints/step_8/model.safetensors";
    std::string bytes = testing::ReadFile(file);
    bytes[bytes.size() / 2] ^= 0x10;
    std::ofstream(file, std::ios::binary | std::ios::trunc) << bytes;
  }
  logs.clear();
  Train(Config(data, r, "sbm"), log, 0);
  ASSERT_GE(logs.size(), 3u);
  EXPECT_NE(logs[0].find("checkpoint step 8 is damaged"), std::string::npos) << logs[0];
  EXPECT_NE(logs[0].find("CRC-32"), std::string::npos) << logs[0];
  EXPECT_NE(logs[1].find("moved damaged step 8 to"), std::string::npos) << logs[1];
  EXPECT_NE(logs[2].find("(step 4)"), std::string::npos) << logs[2];
}

TEST(Trainer, RefusesCheckpointOfAnotherConfiguration) {
  const fs::path data = testing::FreshDir("pretrain_data2");
  MakeData(data, 40, 10, 3);
  const fs::path out = testing::FreshDir("run_other");
  Train(Config(data, out, "full"), Quiet, 4);
  TrainConfig other = Config(data, out, "full");
  other.model.hidden = 64;
  try {
    Train(other, Quiet);
    ADD_FAILURE() << "expected an error";
  } catch (const std::exception& e) {
    EXPECT_NE(std::string(e.what()).find("written with another configuration"), std::string::npos)
        << e.what();
  }
}

// The MLM task takes its special ids from data.vocab, not from bert-base-uncased's numbers.
TEST(Trainer, MaskedLmSpecialIdsComeFromTheVocabulary) {
  const fs::path data = testing::FreshDir("special_ids");
  MakeData(data, 20, 4, 9);
  std::vector<std::string> tokens;
  {
    std::ifstream in(data / "vocab.txt");
    for (std::string t; std::getline(in, t);) tokens.push_back(t);
  }
  std::swap(tokens[103], tokens[5]);  // [MASK] at id 5
  std::swap(tokens[0], tokens[7]);    // [PAD] at id 7
  {
    std::ofstream out(data / "vocab.txt", std::ios::trunc);
    for (const std::string& t : tokens) out << t << "\n";
  }
  MlmTask task(Config(data, testing::FreshDir("special_ids_run"), "full"));
  EXPECT_EQ(task.masking().mask_id, 5);
  EXPECT_EQ(task.masking().pad_id, 7);
  EXPECT_EQ(task.masking().cls_id, 101);
  EXPECT_EQ(task.masking().first_random_id, 999);

  TrainConfig no_vocab = Config(data, testing::FreshDir("special_ids_run2"), "full");
  no_vocab.data.vocab.clear();
  EXPECT_THROW(MlmTask{no_vocab}, ConfigError);
}

// A second Task through the same Trainer, chosen by task.name: sentence classification with a
// pooled head learns the fixture's sentiment words.
TEST(Trainer, SequenceClassificationTrainsThroughTheSameLoop) {
  const fs::path fixture = "trainer/tasks/classification/testdata";
  TrainConfig c;
  c.task.name = "classification";
  c.task.classification.train = (fixture / "train.tsv").string();
  c.task.classification.valid = (fixture / "dev.tsv").string();
  c.task.classification.labels = 2;
  c.data.vocab = (fixture / "vocab.txt").string();
  c.model.vocab_size = 34;
  c.model.layers = 2;
  c.model.heads = 2;
  c.model.hidden = 32;
  c.model.ffn = 64;
  c.model.max_positions = 16;
  c.model.attention = "sbm";
  c.model.sbm_clusters = 4;
  c.model.dropout = 0.0;
  c.data.global_batch = 16;
  c.optim.lr = 3e-3;
  c.optim.warmup_steps = 5;
  c.optim.total_steps = 250;  // accuracy 0.96-1.0 for seeds 3, 4 and 5
  c.run.seed = 3;
  c.run.out_dir = testing::FreshDir("classify_run").string();
  c.run.log_every = 50;
  c.run.eval_every = 125;
  c.run.eval_batches = 10;
  c.run.checkpoint_every = 250;
  c.run.threads = 1;
  const std::unique_ptr<Task> task = MakeTask(c);
  EXPECT_EQ(task->name(), "classification");
  Trainer trainer(c, *task, Quiet);
  std::vector<v1::EvalReport> evals;
  trainer.OnEval([&](const v1::EvalReport& r) { evals.push_back(r); });
  const TrainResult r = trainer.Run();
  EXPECT_EQ(r.final_step, 250);
  ASSERT_EQ(evals.size(), 3u);  // steps 0, 125, 250
  EXPECT_EQ(evals.front().sequences(), 24);
  EXPECT_NEAR(evals.front().metrics().at("accuracy"), 0.5, 0.25);  // chance before training
  EXPECT_LT(evals.back().loss(), 0.5 * evals.front().loss());
  EXPECT_GE(evals.back().metrics().at("accuracy"), 0.9) << evals.back().DebugString();
  // The checkpoint holds the pooler and the classifier under Hugging Face's names.
  const SafetensorsFile weights =
      ReadSafetensors(c.run.out_dir + "/checkpoints/step_250/model.safetensors");
  EXPECT_NE(weights.Find("bert.pooler.dense.weight"), nullptr);
  EXPECT_NE(weights.Find("classifier.weight"), nullptr);
}

// metrics.jsonl: one object per step and per evaluation, equal to the reports; the first step's
// per-layer, per-head attention statistics equal those of the model at its initial weights on
// the same batch and sampling keys.
TEST(Trainer, MetricsJsonlHoldsEachStepsReport) {
  const fs::path data = testing::FreshDir("jsonl_data");
  MakeData(data, 40, 16, 11);
  const fs::path out = testing::FreshDir("jsonl_run");
  TrainConfig c = Config(data, out, "sbm");
  c.model.dropout = 0.0;  // hidden states then depend on weights and batch only
  c.model.attention_dropout = 0.0;
  c.optim.accumulation = 1;
  c.optim.total_steps = 6;
  c.run.eval_every = 3;
  c.run.checkpoint_every = 3;

  MlmTask reference(c);  // the same seed gives the same initial weights
  MlmTask task(c);
  Trainer trainer(c, task, Quiet);
  std::vector<v1::StepReport> steps;
  trainer.OnStep([&](const v1::StepReport& r) { steps.push_back(r); });
  trainer.Run();
  ASSERT_EQ(steps.size(), 6u);

  std::vector<nlohmann::json> lines;
  {
    std::ifstream in(out / "metrics.jsonl");
    for (std::string line; std::getline(in, line);) lines.push_back(nlohmann::json::parse(line));
  }
  std::vector<nlohmann::json> step_lines, eval_lines;
  for (const auto& j : lines) (j["kind"] == "step" ? step_lines : eval_lines).push_back(j);
  ASSERT_EQ(step_lines.size(), 6u);
  ASSERT_EQ(eval_lines.size(), 3u);  // steps 0, 3, 6
  for (size_t i = 0; i < steps.size(); ++i) {
    EXPECT_EQ(step_lines[i], ToJson(steps[i]));
    EXPECT_EQ(step_lines[i]["step"], static_cast<int64_t>(i + 1));
    EXPECT_EQ(step_lines[i]["attention"].size(), 4u);  // 2 layers x 2 heads
    EXPECT_EQ(step_lines[i]["sequences"], 8);
    EXPECT_GT(step_lines[i]["metrics"]["mlm_accuracy"].get<double>(), -1.0);
  }
  EXPECT_EQ(step_lines[2]["checkpoint"], (out / "checkpoints/step_3").string());
  EXPECT_GT(step_lines[2]["phases"]["checkpoint"].get<double>(), 0.0);

  // The model's own statistics for step 0's batch (positions 0..7 of epoch 0, one micro-batch).
  std::unique_ptr<TaskBatch> batch = reference.TrainBatch(0, 0, 8);
  EXPECT_EQ(step_lines[0]["tokens"], batch->tokens);
  const TaskForward f = reference.Forward(
      *batch, {0, 0, attention::AttentionContext::Phase::kTrain}, {8, batch->loss_terms});
  ASSERT_EQ(f.layer_stats.size(), 2u);
  for (const auto& head : step_lines[0]["attention"]) {
    const int layer = head["layer"], h = head["head"];
    const attention::AttentionStats& st = f.layer_stats[layer];
    EXPECT_DOUBLE_EQ(head["edges"].get<double>(), st.edges[h].item<double>());
    EXPECT_DOUBLE_EQ(head["density"].get<double>(), st.density[h].item<double>());
    EXPECT_DOUBLE_EQ(head["expected_density"].get<double>(), st.expected_density[h].item<double>());
    EXPECT_GT(head["density"].get<double>(), 0.0);
    EXPECT_LT(head["density"].get<double>(), 1.0);
  }
}

// Wraps a task and counts the evaluation batches each rank reads.
class CountingTask : public Task {
 public:
  explicit CountingTask(const TrainConfig& c) : inner_(c) {}
  std::string name() const override { return inner_.name(); }
  torch::nn::Module& model() override { return inner_.model(); }
  int64_t train_examples() const override { return inner_.train_examples(); }
  std::unique_ptr<TaskBatch> TrainBatch(int64_t e, int64_t f, int64_t r) override {
    return inner_.TrainBatch(e, f, r);
  }
  int64_t EvalBatchCount(int64_t b, int64_t m) const override {
    return inner_.EvalBatchCount(b, m);
  }
  std::unique_ptr<TaskBatch> EvalBatch(int64_t index, int64_t b) override {
    read.push_back(index);
    return inner_.EvalBatch(index, b);
  }
  TaskForward Forward(TaskBatch& b, const attention::AttentionContext& c,
                      const GlobalBatchCounts& g) override {
    return inner_.Forward(b, c, g);
  }
  int stats_size() const override { return inner_.stats_size(); }
  Metrics MetricsOf(const std::vector<double>& s, int64_t t) const override {
    return inner_.MetricsOf(s, t);
  }
  std::string DataIdentity() const override { return inner_.DataIdentity(); }
  std::vector<int64_t> read;

 private:
  MlmTask inner_;
};

// Two ranks as threads: each reads only its own evaluation batches, both get the same eval
// loss as one process, and with log_all_ranks both log step, eval and checkpoint lines.
TEST(Trainer, TwoRanksShareEvaluationAndBothLogWhenAsked) {
  const fs::path data = testing::FreshDir("two_rank_data");
  MakeData(data, 40, 32, 13);
  TrainConfig c = Config(data, testing::FreshDir("two_rank_run"), "sbm");
  c.optim.accumulation = 1;
  c.optim.total_steps = 2;
  c.run.eval_every = 2;
  c.run.checkpoint_every = 2;
  c.run.eval_batches = 4;
  // Rank threads share torch's global generator: no dropout, so nothing draws from it.
  c.model.dropout = 0.0;
  c.model.attention_dropout = 0.0;

  TrainConfig single = c;  // one process in two micro-steps: the math of two ranks
  single.optim.accumulation = 2;
  single.run.out_dir = testing::FreshDir("one_rank_run").string();
  CountingTask alone(single);
  const TrainResult one = Trainer(single, alone, Quiet).Run();
  EXPECT_EQ(alone.read, (std::vector<int64_t>{0, 1, 2, 3, 0, 1, 2, 3}));

  dist::InProcessWorld world(2);
  std::vector<std::string> lines[2];
  TrainResult results[2];
  std::mutex mu;
  // Built one after the other: model initialization draws from torch's global generator.
  std::unique_ptr<CountingTask> tasks[2] = {std::make_unique<CountingTask>(c),
                                            std::make_unique<CountingTask>(c)};
  auto rank_main = [&](int rank) {
    auto comm = world.Connect(rank);
    Trainer trainer(
        c, *tasks[rank],
        [&, rank](const std::string& m) {
          std::lock_guard<std::mutex> lock(mu);
          lines[rank].push_back(m);
        },
        comm.get(), /*log_all_ranks=*/true);
    results[rank] = trainer.Run();
  };
  std::thread other(rank_main, 1);
  rank_main(0);
  other.join();
  EXPECT_EQ(tasks[0]->read, (std::vector<int64_t>{0, 2, 0, 2}));
  EXPECT_EQ(tasks[1]->read, (std::vector<int64_t>{1, 3, 1, 3}));
  EXPECT_NEAR(results[0].last_eval_loss, one.last_eval_loss, 1e-4);
  EXPECT_EQ(results[0].last_eval_loss, results[1].last_eval_loss);
  for (int rank = 0; rank < 2; ++rank) {
    std::string all;
    for (const std::string& l : lines[rank]) all += l + "\n";
    EXPECT_NE(all.find("step 2/2"), std::string::npos) << all;
    EXPECT_NE(all.find("eval step 2"), std::string::npos) << all;
    EXPECT_NE(all.find("checkpoint "), std::string::npos) << all;
  }
}

// Export -> import -> export gives the same model.safetensors bytes; the layout is
// BertForMaskedLM's (config.json, vocab.txt, the listed tensor names).
TEST(Trainer, HuggingFaceExportRoundTrips) {
  const fs::path data = testing::FreshDir("pretrain_data3");
  MakeData(data, 40, 10, 5);
  TrainConfig c = Config(data, testing::FreshDir("run_export"), "sbm");
  MlmTask trained_task(c);
  Trainer(c, trained_task, Quiet).Run(3);
  const fs::path exported = testing::FreshDir("export_a");
  trained_task.ExportHuggingFace(exported.string());
  EXPECT_TRUE(fs::exists(exported / "vocab.txt"));
  const std::string config_json = testing::ReadFile(exported / "config.json");
  EXPECT_NE(config_json.find("\"BertForMaskedLM\""), std::string::npos);
  EXPECT_NE(config_json.find("\"hidden_size\": 32"), std::string::npos);
  const SafetensorsFile weights = ReadSafetensors((exported / "model.safetensors").string());
  std::ifstream names("trainer/model/testdata/bert_for_masked_lm_names.txt");
  std::string name;
  while (std::getline(names, name)) {
    if (!name.empty() && name[0] != '#') {
      EXPECT_NE(weights.Find(name), nullptr) << name;
    }
  }

  TrainConfig d = c;  // another seed and output, initialized from the export
  d.run.seed = 99;
  d.run.out_dir = testing::FreshDir("run_import").string();
  d.model.init_from = exported.string();
  std::vector<std::string> logs;
  MlmTask imported_task(d);
  Trainer imported(d, imported_task, [&](const std::string& m) { logs.push_back(m); });
  imported.Run(0);
  ASSERT_FALSE(logs.empty());
  EXPECT_NE(logs.front().find("initialized from"), std::string::npos) << logs.front();
  ASSERT_GE(logs.size(), 2u);
  EXPECT_NE(logs[1].find("eval step 0"), std::string::npos) << logs[1];
  const fs::path again = testing::FreshDir("export_b");
  imported_task.ExportHuggingFace(again.string());
  EXPECT_EQ(testing::ReadFile(again / "model.safetensors"),
            testing::ReadFile(exported / "model.safetensors"));
}

}  // namespace
}  // namespace sbmt::trainer
