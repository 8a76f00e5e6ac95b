// Pretraining end to end on tiny shards: identical bytes from two identical runs, training 2N
// steps equals training N, stopping, resuming and training N more (bitwise), and a checkpoint
// from another configuration is refused.
#include "trainer/train/pretrainer.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>

#include "trainer/checkpoint/safetensors.h"
#include "trainer/data/shard.h"
#include "tests/util/test_files.h"
#include "trainer/train/testing/synthetic_shards.h"

namespace sbmt::trainer {
namespace {

namespace fs = std::filesystem;

std::string MakeShard(const fs::path& dir, const std::string& name, int count, unsigned seed) {
  const std::string path = (dir / name).string();
  testing::WriteSyntheticShard(path, count, seed);
  return path;
}

TrainConfig Config(const fs::path& data, const fs::path& out, const std::string& attention) {
  TrainConfig c;
  c.model.vocab_size = 1200;
  c.model.layers = 2;
  c.model.heads = 2;
  c.model.hidden = 32;
  c.model.ffn = 64;
  c.model.max_positions = 32;
  c.model.attention = attention;
  c.model.sbm_clusters = 8;
  c.data.train = {(data / "train.shard").string()};
  c.data.valid = (data / "valid.shard").string();
  c.data.global_batch = 8;
  c.optim.lr = 3e-3;
  c.optim.warmup_steps = 2;
  c.optim.total_steps = 8;
  c.optim.accumulation = 2;
  c.run.seed = 5;
  c.run.out_dir = out.string();
  c.run.log_every = 4;
  c.run.eval_every = 4;
  c.run.eval_batches = 2;
  c.run.checkpoint_every = 4;
  c.run.threads = 1;
  return c;
}

TEST(Pretrainer, RunsAreBitwiseReproducibleAndResumable) {
  const fs::path data = testing::FreshDir("pretrain_data");
  MakeShard(data, "train.shard", 60, 1);
  MakeShard(data, "valid.shard", 20, 2);
  std::vector<std::string> logs;
  auto log = [&](const std::string& m) { logs.push_back(m); };

  const fs::path a = testing::FreshDir("run_a"), b = testing::FreshDir("run_b"), r = testing::FreshDir("run_resumed");
  const TrainResult ra = Pretrainer(Config(data, a, "sbm"), log).Run();
  EXPECT_EQ(ra.final_step, 8);
  EXPECT_GE(ra.last_eval_loss, 0.0);
  Pretrainer(Config(data, b, "sbm"), log).Run();
  const std::string final_a = testing::ReadFile(a / "checkpoints/step_8/model.safetensors");
  ASSERT_FALSE(final_a.empty());
  EXPECT_EQ(final_a, testing::ReadFile(b / "checkpoints/step_8/model.safetensors"));
  EXPECT_EQ(testing::ReadFile(a / "checkpoints/step_8/optimizer.safetensors"),
            testing::ReadFile(b / "checkpoints/step_8/optimizer.safetensors"));

  // Stop after 4 steps (a checkpoint is committed at step 4), then resume in a new trainer.
  EXPECT_EQ(Pretrainer(Config(data, r, "sbm"), log).Run(4).final_step, 4);
  logs.clear();
  const TrainResult resumed = Pretrainer(Config(data, r, "sbm"), log).Run();
  EXPECT_EQ(resumed.steps_done, 4);
  ASSERT_FALSE(logs.empty());
  EXPECT_NE(logs.front().find("resumed from"), std::string::npos) << logs.front();
  EXPECT_EQ(testing::ReadFile(r / "checkpoints/step_8/model.safetensors"), final_a);
  EXPECT_EQ(testing::ReadFile(r / "checkpoints/step_8/state.json"), testing::ReadFile(a / "checkpoints/step_8/state.json"));

  // A flipped byte in the newest checkpoint: reported, and the worker resumes from step 4.
  {
    const fs::path file = r / "checkpoints/step_8/model.safetensors";
    std::string bytes = testing::ReadFile(file);
    bytes[bytes.size() / 2] ^= 0x10;
    std::ofstream(file, std::ios::binary | std::ios::trunc) << bytes;
  }
  logs.clear();
  TrainConfig more = Config(data, r, "sbm");
  Pretrainer after_damage(more, log);
  after_damage.Run(0);
  ASSERT_GE(logs.size(), 2u);
  EXPECT_NE(logs[0].find("checkpoint step 8 is damaged"), std::string::npos) << logs[0];
  EXPECT_NE(logs[0].find("CRC-32"), std::string::npos) << logs[0];
  EXPECT_NE(logs[1].find("(step 4)"), std::string::npos) << logs[1];
}

TEST(Pretrainer, RefusesCheckpointOfAnotherConfiguration) {
  const fs::path data = testing::FreshDir("pretrain_data2");
  MakeShard(data, "train.shard", 40, 3);
  MakeShard(data, "valid.shard", 10, 4);
  const fs::path out = testing::FreshDir("run_other");
  Pretrainer(Config(data, out, "full"), [](const std::string&) {}).Run(4);
  TrainConfig other = Config(data, out, "full");
  other.model.hidden = 64;
  try {
    Pretrainer(other, [](const std::string&) {}).Run();
    ADD_FAILURE() << "expected an error";
  } catch (const std::exception& e) {
    EXPECT_NE(std::string(e.what()).find("written with another configuration"), std::string::npos)
        << e.what();
  }
}

// Export -> import -> export gives the same model.safetensors bytes; the layout is
// BertForMaskedLM's (config.json, vocab.txt, the listed tensor names).
TEST(Pretrainer, HuggingFaceExportRoundTrips) {
  const fs::path data = testing::FreshDir("pretrain_data3");
  MakeShard(data, "train.shard", 40, 5);
  MakeShard(data, "valid.shard", 10, 6);
  { std::ofstream(data / "vocab.txt") << "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\n"; }
  TrainConfig c = Config(data, testing::FreshDir("run_export"), "sbm");
  c.data.vocab = (data / "vocab.txt").string();
  Pretrainer trained(c, [](const std::string&) {});
  trained.Run(3);
  const fs::path exported = testing::FreshDir("export_a");
  trained.ExportHuggingFace(exported.string());
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
  Pretrainer imported(d, [&](const std::string& m) { logs.push_back(m); });
  imported.Run(0);
  ASSERT_FALSE(logs.empty());
  EXPECT_NE(logs.front().find("initialized from"), std::string::npos) << logs.front();
  ASSERT_GE(logs.size(), 2u);
  EXPECT_NE(logs[1].find("eval step 0"), std::string::npos) << logs[1];
  const fs::path again = testing::FreshDir("export_b");
  imported.ExportHuggingFace(again.string());
  EXPECT_EQ(testing::ReadFile(again / "model.safetensors"), testing::ReadFile(exported / "model.safetensors"));
}

}  // namespace
}  // namespace sbmt::trainer
