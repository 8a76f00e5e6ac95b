// The worker's configuration: a YAML file plus `key=value` overrides, checked against one
// schema so that a typo, a wrong type or an out-of-range value is an error that names the file,
// the line and the key, never a silently ignored setting.
//
//   TrainConfig c = LoadTrainConfig("configs/tiny.yaml", {"optim.lr=1e-3", "run.seed=3"});
//   std::string d = c.Digest();   // stored in checkpoints: resuming needs the same model/data
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "runtime/error.h"

namespace sbmt::trainer {

SBMT_DEFINE_ERROR(ConfigError, ErrorCode::kInvalidArgument);

struct ModelConfig {
  int64_t vocab_size = 30522;
  int64_t layers = 4;
  int64_t heads = 8;
  int64_t hidden = 512;
  int64_t ffn = 2048;
  int64_t max_positions = 512;
  double dropout = 0.1;
  double attention_dropout = 0.1;
  std::string attention = "sbm";  // sbm | full | linformer | nystrom
  int64_t sbm_clusters = 128;
  double sbm_eps = 0.01;
  bool sbm_self_loops = true;
  std::string sbm_density_penalty = "expected";  // expected | sampled
  double sbm_penalty_weight = 1e-4;
  std::string init_from;  // Hugging Face BERT directory to start from (empty: random init)
};

struct DataConfig {
  std::vector<std::string> train;  // shard files
  std::string valid;               // validation shard (may be empty)
  std::string vocab;               // vocab.txt of the shards (copied into exports)
  int64_t global_batch = 32;
  double mask_probability = 0.15;
};

struct OptimConfig {
  double lr = 1e-4;
  int64_t warmup_steps = 1000;
  int64_t total_steps = 100000;
  double weight_decay = 0.01;
  double clip_norm = 1.0;
  int64_t accumulation = 1;  // micro-steps per optimizer step on each rank
  // Steps whose loss or gradient norm is not finite are skipped (not applied); this many in a
  // row end the job with an error instead.
  int64_t max_skipped_in_a_row = 10;
  // linear: linear warmup to lr, then linear decay to 0 (BERT's). one_cycle: PyTorch's
  // OneCycleLR as the LRA reference runs it: from lr/25 up to lr over warmup_steps, then down to
  // lr/25/1e4 at total_steps, with AdamW's beta1 cycled the other way (0.95 -> 0.85 -> 0.95).
  std::string schedule = "linear";
};

struct RunConfig {
  uint64_t seed = 0;
  std::string out_dir = "runs/default";
  int64_t log_every = 10;
  int64_t eval_every = 500;
  int64_t eval_batches = 20;
  int64_t checkpoint_every = 1000;
  int64_t keep_checkpoints = 3;
  int64_t threads = 0;  // 0: all cores of this rank
  // Start from step 0 even though every committed checkpoint of out_dir is damaged (they are
  // moved aside, not deleted). Without it the worker refuses, naming the damaged steps.
  bool start_fresh = false;
  // An evaluation metric (e.g. accuracy, or loss): whenever an evaluation improves on it, that
  // step's checkpoint is copied to out_dir/best/ (higher is better, except for loss). Empty: off.
  std::string keep_best;
  // Where the model trains: cpu, or cuda (GPU local_rank of the node, as the launcher places
  // ranks; needs a --config=cuda build with a CUDA LibTorch). Checkpoints are the same either
  // way, so a run may resume on the other device; neither setting is in the digest.
  std::string device = "cpu";
  // fp32, or bf16: matrix products and attention in bfloat16 (autocast) with float32 master
  // weights, optimizer state and gradients reduction; cuda only.
  std::string precision = "fp32";
};

// Data-parallel settings (trainer/dist); none changes the math, so none is in the digest.
struct DistConfig {
  std::string backend = "auto";  // auto: in-process for one rank, else MPI | mpi | nccl
  int64_t timeout_s = 300;       // a collective running longer aborts the job (watchdog)
  double bucket_mb = 25;         // gradient buckets reduced during backward
  double first_bucket_mb = 1;    // the first is small, so communication starts early
};

// Which Task the Trainer drives (trainer/train/task.h), and each task's own settings.
struct ClassificationTaskConfig {
  std::string train;  // TSV with a header "sentence<TAB>label" (SST-2's layout)
  std::string valid;  // the same layout; may be empty
  int64_t labels = 2;
};

struct GlueTaskConfig {
  std::string name;        // cola, sst2, mrpc, stsb, qqp, mnli, qnli, rte, wnli
  std::string data_dir;    // the folder holding CoLA/, SST-2/, ... as download_glue_data.py writes
  int64_t epochs = 5;      // > 0: the schedule in epochs (optim.total_steps is derived)
  int64_t max_length = 0;  // tokens per pair after truncation; 0: model.max_positions
  bool skip_malformed = false;  // skip (and count) malformed rows instead of failing
};

// The Long Range Arena tasks (trainer/tasks/lra): the reference's data layouts under data_dir.
struct LraTaskConfig {
  std::string name;        // listops, text, retrieval, image, pathfinder
  std::string data_dir;    // the task's folder (docs/LRA.md gives each layout)
  int64_t max_length = 0;  // tokens per sequence (per document for retrieval); 0: the task's own
  bool skip_malformed = false;  // skip (and count) malformed rows instead of failing
};

// The synthetic task (trainer/tasks/synthetic): distinct random tokens, one of them twice.
struct SyntheticTaskConfig {
  int64_t length = 64;  // tokens per sequence
  int64_t vocab = 256;  // token ids 1..vocab (0 is padding); at least length - 1
  int64_t train_examples = 20000;
  int64_t valid_examples = 1000;
};

struct TaskConfig {
  std::string name = "mlm";  // mlm | classification | glue | lra | synthetic
  ClassificationTaskConfig classification;
  GlueTaskConfig glue;
  LraTaskConfig lra;
  SyntheticTaskConfig synthetic;
};

struct TrainConfig {
  TaskConfig task;
  ModelConfig model;
  DataConfig data;
  OptimConfig optim;
  RunConfig run;
  DistConfig dist;

  // Canonical text of every setting, and a hash of the settings that must match to resume
  // (model shape and data order; not logging or paths).
  std::string ToYaml() const;
  std::string Digest() const;

  // Every setting as canonical text, in schema order; `resume`: it must match to resume a
  // checkpoint (the math depends on it).
  struct Setting {
    std::string key, value;
    bool resume = false;
  };
  std::vector<Setting> Settings() const;
};

// Throws ConfigError: "FILE:LINE: KEY: message" for file settings, "--set KEY=VALUE: message"
// for overrides.
TrainConfig LoadTrainConfig(const std::string& path, const std::vector<std::string>& overrides);

}  // namespace sbmt::trainer
