#include "trainer/train/testing/tiny_config.h"

#include "trainer/train/testing/synthetic_shards.h"

namespace sbmt::testing {

void MakeTinyMlmData(const std::filesystem::path& dir, int train, int valid, unsigned seed) {
  WriteSyntheticShard((dir / "train.shard").string(), train, seed);
  WriteSyntheticShard((dir / "valid.shard").string(), valid, seed + 1);
  WriteSyntheticVocab((dir / "vocab.txt").string());
}

trainer::TrainConfig TinyMlmConfig(const std::filesystem::path& data,
                                   const std::filesystem::path& out, const std::string& attention) {
  trainer::TrainConfig c;
  c.model.vocab_size = kSyntheticVocab;
  c.model.layers = 2;
  c.model.heads = 2;
  c.model.hidden = 32;
  c.model.ffn = 64;
  c.model.max_positions = kSyntheticMaxLen;
  c.model.attention = attention;
  c.model.sbm_clusters = 8;
  c.data.train = {(data / "train.shard").string()};
  c.data.valid = (data / "valid.shard").string();
  c.data.vocab = (data / "vocab.txt").string();
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

}  // namespace sbmt::testing
