// The Trainer under faults a user meets: no evaluation data, damaged checkpoints (a crash loop
// before), every checkpoint damaged, a full disk, non-finite losses and weights, a stop signal,
// --max-steps, two workers on one run directory, settings that differ across ranks, and
// resume checks that compare what the math depends on instead of path spellings.
#include <gtest/gtest.h>

#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <limits>
#include <sstream>
#include <thread>

#include "runtime/stop_signal.h"
#include "tests/util/test_files.h"
#include "trainer/checkpoint/checkpoint_store.h"
#include "trainer/dist/in_process_communicator.h"
#include "trainer/tasks/mlm/mlm_task.h"
#include "trainer/train/run_lock.h"
#include "trainer/train/testing/synthetic_shards.h"
#include "trainer/train/testing/tiny_config.h"
#include "trainer/train/trainer.h"

namespace sbmt::trainer {
namespace {

namespace fs = std::filesystem;

struct Outcome {
  std::vector<std::string> logs;
  TrainResult result;
  std::string All() const {
    std::string all;
    for (const std::string& l : logs) all += l + "\n";
    return all;
  }
};

Outcome Train(const TrainConfig& c, int64_t max_steps = -1) {
  Outcome run;
  MlmTask task(c);
  run.result =
      Trainer(c, task, [&](const std::string& m) { run.logs.push_back(m); }).Run(max_steps);
  return run;
}

std::string Message(const std::function<void()>& f) {
  try {
    f();
  } catch (const std::exception& e) {
    return e.what();
  }
  return "(no error)";
}

// Replaces a checkpoint file and rewrites its MANIFEST line, as a buggy writer would: the
// damage is in the contents, not in the checksums.
void ReplaceVerified(const fs::path& step_dir, const std::string& name, const std::string& bytes) {
  testing::WriteFile(step_dir / name, bytes);
  std::istringstream in(testing::ReadFile(step_dir / "MANIFEST"));
  std::string manifest, line;
  while (std::getline(in, line)) {
    if (line.size() > name.size() &&
        line.compare(line.size() - name.size(), name.size(), name) == 0) {
      char crc[9];
      std::snprintf(crc, sizeof(crc), "%08x", Crc32(bytes));
      line = std::to_string(bytes.size()) + " " + crc + " " + name;
    }
    manifest += line + "\n";
  }
  testing::WriteFile(step_dir / "MANIFEST", manifest);
}

TEST(TrainerHardening, TrainsWithoutValidationSequences) {
  const fs::path data = testing::FreshDir("no_valid_data");
  testing::MakeTinyMlmData(data, 40, 0, 1);  // what prepare_corpus writes for one small book
  const Outcome run = Train(testing::TinyMlmConfig(data, testing::FreshDir("no_valid_run"), "sbm"));
  EXPECT_EQ(run.result.final_step, 8);
  EXPECT_EQ(run.result.last_eval_loss, -1);
  EXPECT_NE(run.All().find("no evaluation data: training without evaluation"), std::string::npos);
}

// Damaged newest steps (truncated, bit-flipped, no MANIFEST, garbage state.json) are moved
// aside and the run continues past them; before, every restart failed "already committed".
TEST(TrainerHardening, DamagedCheckpointIsMovedAsideAndTrainingContinues) {
  const fs::path data = testing::FreshDir("damage_data");
  testing::MakeTinyMlmData(data, 60, 16, 2);
  for (const std::string damage : {"truncate", "flip", "no_manifest", "garbage_state"}) {
    const fs::path out = testing::FreshDir("damage_" + damage);
    TrainConfig c = testing::TinyMlmConfig(data, out, "full");
    Train(c);
    const fs::path step8 = out / "checkpoints/step_8";
    const std::string model = testing::ReadFile(step8 / "model.safetensors");
    if (damage == "truncate") testing::WriteFile(step8 / "model.safetensors", model.substr(0, 100));
    if (damage == "flip") {
      std::string flipped = model;
      flipped[flipped.size() / 2] ^= 0x04;
      testing::WriteFile(step8 / "model.safetensors", flipped);
    }
    if (damage == "no_manifest") fs::remove(step8 / "MANIFEST");
    if (damage == "garbage_state") ReplaceVerified(step8, "state.json", "{\"step\": [garbage");
    c.optim.total_steps = 12;
    const Outcome resumed = Train(c);
    EXPECT_EQ(resumed.result.final_step, 12) << damage;
    EXPECT_NE(resumed.All().find("checkpoint step 8 is damaged"), std::string::npos) << damage;
    EXPECT_NE(resumed.All().find("resumed from " + (out / "checkpoints/step_4").string()),
              std::string::npos)
        << resumed.All();
    EXPECT_TRUE(fs::exists(out / "checkpoints/step_12/COMMITTED")) << damage;
    EXPECT_TRUE(fs::exists(out / "checkpoints/step_8/COMMITTED")) << damage;  // saved again
    int kept = 0;
    for (const auto& e : fs::directory_iterator(out / "checkpoints/damaged"))
      kept += e.is_directory();
    EXPECT_EQ(kept, 1) << damage;
  }
}

TEST(TrainerHardening, EveryCheckpointDamagedRefusesUnlessStartFresh) {
  const fs::path data = testing::FreshDir("all_damaged_data");
  testing::MakeTinyMlmData(data, 40, 8, 3);
  const fs::path out = testing::FreshDir("all_damaged_run");
  TrainConfig c = testing::TinyMlmConfig(data, out, "full");
  Train(c);
  for (const char* step : {"step_4", "step_8"}) fs::remove(out / "checkpoints" / step / "MANIFEST");
  const std::string refused = Message([&] { Train(c); });
  EXPECT_NE(refused.find("every committed checkpoint is damaged (steps 8, 4)"), std::string::npos)
      << refused;
  EXPECT_NE(refused.find("run.start_fresh=true"), std::string::npos) << refused;
  EXPECT_TRUE(fs::exists(out / "checkpoints/step_8"));  // nothing moved or deleted
  c.run.start_fresh = true;
  const Outcome fresh = Train(c);
  EXPECT_EQ(fresh.result.final_step, 8);
  EXPECT_EQ(fresh.result.steps_done, 8);
  EXPECT_NE(fresh.All().find("moved damaged step 4 to"), std::string::npos) << fresh.All();
}

// A save on a full disk fails naming what it needed and leaves no temporary behind; once space
// is back the run resumes and finishes with the weights of an undisturbed run.
TEST(TrainerHardening, FullDiskFailsCleanlyAndResumesOnceFreed) {
  const fs::path data = testing::FreshDir("disk_data");
  testing::MakeTinyMlmData(data, 40, 8, 4);
  const fs::path out = testing::FreshDir("disk_run"), reference = testing::FreshDir("disk_ref");
  Train(testing::TinyMlmConfig(data, reference, "sbm"));
  TrainConfig c = testing::TinyMlmConfig(data, out, "sbm");
  fs::create_directories(out / "checkpoints/.tmp_step_99_1");  // an earlier crash's leftover
  const std::string free_file = testing::TempPath("disk_free");
  testing::WriteFile(free_file, "1000\n");
  setenv("SBMT_FAULT_FREE_BYTES_FILE", free_file.c_str(), 1);
  const std::string full = Message([&] { Train(c); });
  EXPECT_NE(full.find("No space left on device"), std::string::npos) << full;
  EXPECT_NE(full.find("the save needed"), std::string::npos) << full;
  for (const auto& e : fs::directory_iterator(out / "checkpoints")) {
    EXPECT_NE(e.path().filename().string().rfind(".tmp_", 0), 0u) << e.path();
  }
  testing::WriteFile(free_file, "100000000\n");
  const Outcome resumed = Train(c);
  unsetenv("SBMT_FAULT_FREE_BYTES_FILE");
  EXPECT_EQ(resumed.result.final_step, 8);
  EXPECT_EQ(testing::ReadFile(out / "checkpoints/step_8/model.safetensors"),
            testing::ReadFile(reference / "checkpoints/step_8/model.safetensors"));
}

// A task whose loss turns NaN from step 3 on (as a diverging run does), or whose weights do.
class PoisonedTask : public MlmTask {
 public:
  PoisonedTask(const TrainConfig& c, bool poison_weights) : MlmTask(c), weights_(poison_weights) {}
  TaskForward Forward(TaskBatch& b, const attention::AttentionContext& ctx,
                      const GlobalBatchCounts& g) override {
    TaskForward f = MlmTask::Forward(b, ctx, g);
    if (ctx.phase == attention::AttentionContext::Phase::kTrain && ctx.step >= 2) {
      if (weights_) {
        torch::NoGradGuard no_grad;
        model().named_parameters()["cls.predictions.bias"].fill_(
            std::numeric_limits<float>::quiet_NaN());
      } else {
        f.loss = f.loss * std::numeric_limits<double>::quiet_NaN();
      }
    }
    return f;
  }

 private:
  bool weights_;
};

TEST(TrainerHardening, NonFiniteStepsAreSkippedCountedAndEndTheJob) {
  const fs::path data = testing::FreshDir("nan_data");
  testing::MakeTinyMlmData(data, 40, 8, 5);
  const fs::path out = testing::FreshDir("nan_run");
  TrainConfig c = testing::TinyMlmConfig(data, out, "full");
  c.run.checkpoint_every = 2;
  c.optim.max_skipped_in_a_row = 3;
  PoisonedTask task(c, /*poison_weights=*/false);
  Trainer trainer(c, task, [](const std::string&) {});
  std::vector<v1::StepReport> reports;
  trainer.OnStep([&](const v1::StepReport& r) { reports.push_back(r); });
  const std::string error = Message([&] { trainer.Run(); });
  EXPECT_NE(error.find("3 steps in a row were skipped (non-finite loss, last at step 5)"),
            std::string::npos)
      << error;
  ASSERT_EQ(reports.size(), 5u);
  EXPECT_FALSE(reports[1].skipped());
  EXPECT_TRUE(reports[2].skipped());
  EXPECT_EQ(reports[2].skip_reason(), "non-finite loss");
  EXPECT_EQ(reports[4].skipped_steps(), 3);
  // Skipped steps changed no weight: the step 4 checkpoint holds step 2's weights.
  EXPECT_EQ(testing::ReadFile(out / "checkpoints/step_4/model.safetensors").size(),
            testing::ReadFile(out / "checkpoints/step_2/model.safetensors").size());
  EXPECT_FALSE(fs::exists(out / "checkpoints/step_6"));
}

TEST(TrainerHardening, NonFiniteWeightsAreNeverCommitted) {
  const fs::path data = testing::FreshDir("nan_weights_data");
  testing::MakeTinyMlmData(data, 40, 8, 6);
  const fs::path out = testing::FreshDir("nan_weights_run");
  TrainConfig c = testing::TinyMlmConfig(data, out, "full");
  c.run.checkpoint_every = 2;
  PoisonedTask task(c, /*poison_weights=*/true);
  const std::string error = Message([&] { Trainer(c, task, [](const std::string&) {}).Run(); });
  EXPECT_NE(error.find("refusing to commit step 4: parameter cls.predictions.bias has non-finite"),
            std::string::npos)
      << error;
  EXPECT_TRUE(fs::exists(out / "checkpoints/step_2/COMMITTED"));
  EXPECT_FALSE(fs::exists(out / "checkpoints/step_4"));
}

// SIGTERM (what Slurm and Kubernetes send) finishes the step and commits it; --max-steps too.
TEST(TrainerHardening, StopSignalAndMaxStepsCommitTheLastStep) {
  const fs::path data = testing::FreshDir("stop_data");
  testing::MakeTinyMlmData(data, 40, 8, 7);
  const fs::path out = testing::FreshDir("stop_run");
  TrainConfig c = testing::TinyMlmConfig(data, out, "full");
  c.run.checkpoint_every = 100;
  c.optim.total_steps = 100;
  const Outcome three = Train(c, 3);
  EXPECT_TRUE(fs::exists(out / "checkpoints/step_3/COMMITTED"));
  runtime::SetPendingStopSignalForTesting(SIGTERM);
  const Outcome stopped = Train(c);
  runtime::SetPendingStopSignalForTesting(0);
  EXPECT_EQ(stopped.result.final_step, 4);
  EXPECT_EQ(stopped.result.stop_signal, SIGTERM);
  EXPECT_TRUE(fs::exists(out / "checkpoints/step_4/COMMITTED"));
  EXPECT_NE(stopped.All().find("stop requested: committed step 4"), std::string::npos);
}

TEST(TrainerHardening, SecondWorkerOnARunDirectoryIsRefused) {
  const fs::path data = testing::FreshDir("lock_data");
  testing::MakeTinyMlmData(data, 40, 8, 8);
  const fs::path out = testing::FreshDir("lock_run");
  const TrainConfig c = testing::TinyMlmConfig(data, out, "full");
  {
    RunLock held(out.string());
    const std::string error = Message([&] { Train(c); });
    EXPECT_NE(error.find("is in use by another worker (pid " + std::to_string(::getpid())),
              std::string::npos)
        << error;
  }
  EXPECT_EQ(Train(c).result.final_step, 8);  // released with its holder
}

// Resume compares what the math depends on: the same shard through another path and a longer
// schedule resume; a changed learning rate is refused, naming the key and both values.
TEST(TrainerHardening, ResumeComparesSettingsAndDataContentNotPaths) {
  const fs::path data = testing::FreshDir("resume_data");
  testing::MakeTinyMlmData(data, 40, 8, 9);
  const fs::path out = testing::FreshDir("resume_run");
  TrainConfig c = testing::TinyMlmConfig(data, out, "full");
  Train(c);
  fs::create_symlink(data / "train.shard", data / "linked.shard");
  TrainConfig moved = c;
  moved.data.train = {(data / ".." / data.filename() / "linked.shard").string()};
  moved.optim.total_steps = 12;
  moved.run.threads = 2;  // allowed, with a note: bitwise identity needs the same threads
  const Outcome longer = Train(moved);
  EXPECT_EQ(longer.result.final_step, 12);
  EXPECT_NE(longer.All().find("optim.total_steps changed from 8 to 12"), std::string::npos);
  EXPECT_NE(longer.All().find("written with 1 threads per rank, this run has 2"), std::string::npos)
      << longer.All();
  TrainConfig other = moved;
  other.optim.lr = 1e-2;
  other.optim.total_steps = 16;
  const std::string error = Message([&] { Train(other); });
  EXPECT_NE(error.find("written with another configuration"), std::string::npos) << error;
  EXPECT_NE(error.find("optim.lr: 0.003 in the checkpoint, 0.01 in this run"), std::string::npos)
      << error;
  TrainConfig other_data = moved;
  testing::WriteSyntheticShard((data / "other.shard").string(), 40, 99);
  other_data.data.train = {(data / "other.shard").string()};
  other_data.optim.total_steps = 16;
  EXPECT_NE(Message([&] { Train(other_data); }).find("training data: content checksums"),
            std::string::npos);
}

// Every setting is compared across ranks at start, not only the digest's: a differing
// run.eval_batches would silently mix evaluations.
TEST(TrainerHardening, RanksWithDifferentSettingsAreRefusedNamingTheKey) {
  const fs::path data = testing::FreshDir("ranks_data");
  testing::MakeTinyMlmData(data, 40, 8, 10);
  TrainConfig c = testing::TinyMlmConfig(data, testing::FreshDir("ranks_run"), "full");
  c.optim.accumulation = 1;
  dist::InProcessWorld world(2);
  std::string errors[2];
  std::unique_ptr<MlmTask> tasks[2] = {std::make_unique<MlmTask>(c), std::make_unique<MlmTask>(c)};
  auto rank_main = [&](int rank) {
    auto comm = world.Connect(rank);
    TrainConfig mine = c;
    if (rank == 1) mine.run.eval_batches = 3;
    errors[rank] = Message([&] {
      Trainer(
          mine, *tasks[rank], [](const std::string&) {}, comm.get());
    });
  };
  std::thread other(rank_main, 1);
  rank_main(0);
  other.join();
  for (const std::string& e : errors) {
    EXPECT_NE(e.find("the configuration differs across ranks: run.eval_batches (ranks 1 differ "
                     "from rank 0"),
              std::string::npos)
        << e;
  }
}

TEST(TrainerHardening, DataThatDoesNotFitTheModelIsRefusedNamingTheFile) {
  const fs::path data = testing::FreshDir("misfit_data");
  testing::MakeTinyMlmData(data, 40, 8, 11);
  TrainConfig c = testing::TinyMlmConfig(data, testing::FreshDir("misfit_run"), "full");
  {  // a validation shard of another max length
    ShardWriter w((data / "long_valid.shard").string(), testing::kSyntheticVocab, 64);
    w.Add(std::vector<int32_t>(60, 1000));
    w.Finish();
  }
  TrainConfig long_valid = c;
  long_valid.data.valid = (data / "long_valid.shard").string();
  EXPECT_NE(Message([&] { MlmTask t(long_valid); }).find("data.valid: " + long_valid.data.valid),
            std::string::npos);
  TrainConfig other_vocab = c;  // a vocabulary other than the shards'
  testing::WriteFile(data / "small_vocab.txt", "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\nhello\n");
  other_vocab.data.vocab = (data / "small_vocab.txt").string();
  EXPECT_NE(Message([&] { MlmTask t(other_vocab); }).find("small_vocab.txt has 6 tokens"),
            std::string::npos);
}

}  // namespace
}  // namespace sbmt::trainer
