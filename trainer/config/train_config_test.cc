// Configs: defaults, file values and overrides, and errors that name file, line and key.
#include "trainer/config/train_config.h"

#include <gtest/gtest.h>

#include <fstream>

namespace sbmt::trainer {
namespace {

std::string WriteConfig(const std::string& name, const std::string& text) {
  const char* dir = std::getenv("TEST_TMPDIR");
  const std::string path = std::string(dir ? dir : "/tmp") + "/" + name;
  std::ofstream(path) << text;
  return path;
}

const char kTiny[] = R"(model:
  layers: 2
  heads: 4
  hidden: 64
  ffn: 128
  attention: sbm
  sbm:
    clusters: 16
    self_loops: true
data:
  train: [a.shard, b.shard]
  global_batch: 16
optim:
  lr: 1.0e-3
  warmup_steps: 10
  total_steps: 100
run:
  seed: 7
)";

TEST(TrainConfig, ReadsFileThenOverrides) {
  const TrainConfig c = LoadTrainConfig(WriteConfig("tiny.yaml", kTiny), {"optim.lr=5e-4",
                                                                         "model.attention=full"});
  EXPECT_EQ(c.model.layers, 2);
  EXPECT_EQ(c.model.sbm_clusters, 16);
  EXPECT_EQ(c.data.train, (std::vector<std::string>{"a.shard", "b.shard"}));
  EXPECT_DOUBLE_EQ(c.optim.lr, 5e-4);
  EXPECT_EQ(c.model.attention, "full");
  EXPECT_EQ(c.run.seed, 7u);
  EXPECT_EQ(c.model.ffn, 128);
  EXPECT_EQ(c.optim.clip_norm, 1.0);  // default
  EXPECT_NE(c.ToYaml().find("model.sbm.clusters: 16\n"), std::string::npos);
}

TEST(TrainConfig, EmptyOverrideClearsAStringAndDistSettingsAreRead) {
  const TrainConfig c = LoadTrainConfig(WriteConfig("tiny.yaml", kTiny),
                                        {"data.valid=", "dist.backend=mpi", "dist.timeout_s=30"});
  EXPECT_EQ(c.data.valid, "");
  EXPECT_EQ(c.dist.backend, "mpi");
  EXPECT_EQ(c.dist.timeout_s, 30);
  EXPECT_DOUBLE_EQ(c.dist.bucket_mb, 25);
  EXPECT_THROW(LoadTrainConfig(WriteConfig("tiny.yaml", kTiny), {"dist.backend=gloo"}), ConfigError);
  // Data-parallel settings do not change the math: resuming with others is allowed.
  EXPECT_EQ(c.Digest(), LoadTrainConfig(WriteConfig("tiny.yaml", kTiny), {}).Digest());
}

// Every field of the config structs can be set by key: the settings the errors and docs point
// users to (run.start_fresh, optim.max_skipped_in_a_row, task.glue.*) exist in the schema.
TEST(TrainConfig, EverySettingTheDocsNameCanBeSet) {
  const TrainConfig c = LoadTrainConfig(
      WriteConfig("tiny.yaml", kTiny),
      {"run.start_fresh=true", "optim.max_skipped_in_a_row=3", "run.keep_best=accuracy",
       "task.name=glue", "task.glue.name=mrpc", "task.glue.data_dir=/glue", "task.glue.epochs=3",
       "task.glue.max_length=64", "task.glue.skip_malformed=true", "task.classification.labels=3"});
  EXPECT_TRUE(c.run.start_fresh);
  EXPECT_EQ(c.optim.max_skipped_in_a_row, 3);
  EXPECT_EQ(c.run.keep_best, "accuracy");
  EXPECT_EQ(c.task.glue.name, "mrpc");
  EXPECT_EQ(c.task.glue.epochs, 3);
  EXPECT_EQ(c.task.glue.max_length, 64);
  EXPECT_TRUE(c.task.glue.skip_malformed);
  EXPECT_EQ(c.task.classification.labels, 3);
  std::string keys;
  for (const TrainConfig::Setting& setting : c.Settings()) keys += setting.key + " ";
  for (const char* key : {"run.start_fresh", "optim.max_skipped_in_a_row", "run.keep_best",
                          "task.glue.data_dir", "task.classification.valid"}) {
    EXPECT_NE(keys.find(key), std::string::npos) << key;
  }
}

TEST(TrainConfig, DigestCoversModelAndDataButNotLogging) {
  const std::string path = WriteConfig("digest.yaml", kTiny);
  const std::string base = LoadTrainConfig(path, {}).Digest();
  EXPECT_EQ(base, LoadTrainConfig(path, {"run.log_every=3", "run.out_dir=elsewhere"}).Digest());
  EXPECT_NE(base, LoadTrainConfig(path, {"model.hidden=128"}).Digest());
  EXPECT_NE(base, LoadTrainConfig(path, {"run.seed=8"}).Digest());
  EXPECT_EQ(base.size(), 16u);
  // Settings added later hash only when changed, so checkpoints made before them still resume.
  EXPECT_EQ(base, LoadTrainConfig(path, {"optim.schedule=linear"}).Digest());
  EXPECT_NE(base, LoadTrainConfig(path, {"optim.schedule=one_cycle"}).Digest());
}

void ExpectError(const std::string& text, const std::vector<std::string>& overrides,
                 const std::string& needle) {
  const std::string path = WriteConfig("bad.yaml", text);
  try {
    LoadTrainConfig(path, overrides);
    ADD_FAILURE() << "expected an error mentioning " << needle;
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
  }
}

TEST(TrainConfig, ErrorsNameFileLineKeyAndExpectation) {
  ExpectError("data:\n  train: x\nmodel:\n  hiden: 64\n", {},
              "bad.yaml:4: model.hiden: unknown key (did you mean model.hidden?)");
  ExpectError("data:\n  train: x\noptim:\n  lr: fast\n", {},
              "bad.yaml:4: optim.lr: expected a number, got 'fast'");
  ExpectError("data:\n  train: x\nmodel:\n  dropout: 1.5\n", {},
              "bad.yaml:4: model.dropout: expected a number in [0, 0.99], got 1.5");
  ExpectError("data:\n  train: x\nmodel:\n  attention: sparse\n", {},
              "model.attention: expected one of sbm, full, linformer, nystrom, got 'sparse'");
  ExpectError("data:\n  train: x\nmodel: 3\n", {}, "bad.yaml:3: model: expected a section");
  ExpectError("data:\n  train: x\nmodel:\n  hidden: 65\n  heads: 4\n", {},
              "model.hidden (65) must be a multiple of model.heads (4)");
  ExpectError("data:\n  train: x\n", {"optim.lrr=1"},
              "--set optim.lrr=1: unknown key (did you mean optim.lr?)");
  ExpectError("data:\n  train: x\n", {"run.seed=-1"}, "--set run.seed=-1: expected a non-negative");
  ExpectError("model: [\n", {}, "bad.yaml:");
  // Non-finite numbers are refused wherever they are given.
  ExpectError("data:\n  train: x\noptim:\n  lr: .nan\n", {},
              "bad.yaml:4: optim.lr: expected a number in [1e-12, 10], got nan");
  ExpectError("data:\n  train: x\n", {"optim.lr=.nan"}, "--set optim.lr=.nan: expected a number");
  ExpectError("data:\n  train: x\n", {"model.dropout=.inf"}, "expected a number in [0, 0.99]");
  ExpectError("data:\n  train: x\n", {"optim.clip_norm=-.inf"}, "optim.clip_norm");
  ExpectError("data:\n  train: x\n", {"dist.bucket_mb=.nan"}, "dist.bucket_mb");
  // A key given twice is an error naming both lines, not a silent last-one-wins.
  ExpectError("data:\n  train: x\noptim:\n  lr: 1e-3\n  warmup_steps: 2\n  lr: 2e-3\n", {},
              "bad.yaml:6: optim.lr: duplicate key (first set on line 4)");
  ExpectError("model:\n  layers: 2\n", {}, "data.train: no training shards given");
  try {
    LoadTrainConfig("/nonexistent.yaml", {});
    ADD_FAILURE();
  } catch (const ConfigError& e) {
    EXPECT_STREQ(e.what(), "/nonexistent.yaml: cannot read config file");
  }
  try {
    LoadTrainConfig("/tmp", {});
    ADD_FAILURE();
  } catch (const ConfigError& e) {
    EXPECT_STREQ(e.what(), "/tmp: is a directory; expected a YAML config file");
  }
}

}  // namespace
}  // namespace sbmt::trainer
