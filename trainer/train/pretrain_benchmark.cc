// Training throughput of BERT-MLM (forward, backward and AdamW step) in tokens/s, for SBM and
// full attention at sequence lengths 128 and 512, on random tokens (throughput does not depend
// on the text). Prints a table (or --csv), with the thread count.
//
//   bazel run -c opt //trainer/train:pretrain_benchmark -- [--config=configs/bert_small.yaml]
//       [--lengths=128,512] [--tokens-per-step=4096] [--steps=3] [--threads=N] [--csv]
#include <torch/torch.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <sstream>
#include <thread>

#include "runtime/compute_threads.h"
#include "runtime/library_tuning.h"
#include "trainer/config/train_config.h"
#include "trainer/model/bert.h"

namespace {

struct Result {
  double step_ms;
  double tokens_per_s;
  double density;
};

Result Measure(sbmt::trainer::ModelConfig m, const std::string& attention, int64_t length,
               int64_t tokens_per_step, int steps) {
  m.attention = attention;
  m.max_positions = std::max(m.max_positions, length);
  sbmt::trainer::BertForMaskedLM model(m, 0);
  torch::optim::AdamW opt(model.parameters(), torch::optim::AdamWOptions(1e-4));
  const int64_t batch = std::max<int64_t>(1, tokens_per_step / length);
  torch::manual_seed(1);
  torch::Tensor ids = torch::randint(1000, m.vocab_size, {batch, length}, torch::kLong);
  torch::Tensor valid = torch::ones({batch, length}, torch::kBool);
  const int64_t masked = batch * length * 15 / 100;
  torch::Tensor positions = torch::randperm(batch * length, torch::kLong).narrow(0, 0, masked);
  torch::Tensor labels = ids.reshape({-1}).index_select(0, positions);
  std::vector<double> ms;
  double density = 0;
  for (int s = -1; s < steps; ++s) {  // s = -1: warm-up
    const sbmt::attention::AttentionContext context{
        static_cast<uint64_t>(s + 1), 0, sbmt::attention::AttentionContext::Phase::kTrain};
    const auto t0 = std::chrono::steady_clock::now();
    sbmt::trainer::BertOutput out = model.forward(ids, valid, positions, context);
    torch::Tensor loss = torch::cross_entropy_loss(out.logits, labels) + out.regularizer;
    opt.zero_grad();
    loss.backward();
    opt.step();
    const double t =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    if (s >= 0) ms.push_back(t);
    density = 0;
    for (const auto& st : out.layer_stats)
      density += st.density.mean().item<double>() / out.layer_stats.size();
  }
  std::sort(ms.begin(), ms.end());
  const double median = ms[ms.size() / 2];
  return {median, batch * length / (median / 1000.0), density};
}

}  // namespace

int main(int argc, char** argv) {
  sbmt::runtime::ReexecWithTunedLibraries(argv);
  CLI::App app("BERT-MLM training throughput, SBM vs full attention");
  std::string config_path = "configs/bert_small.yaml";
  std::string lengths_text = "128,512";
  int64_t tokens_per_step = 4096;
  int steps = 3;
  int threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  bool csv = false;
  app.add_option("--config", config_path, "model settings come from this config");
  app.add_option("--lengths", lengths_text, "sequence lengths, comma-separated");
  app.add_option("--tokens-per-step", tokens_per_step, "batch = this / length");
  app.add_option("--steps", steps, "timed steps (median reported)")->check(CLI::PositiveNumber);
  app.add_option("--threads", threads, "intra-op threads")->check(CLI::PositiveNumber);
  app.add_flag("--csv", csv, "CSV output");
  CLI11_PARSE(app, argc, argv);
  try {
    // The data section is not used; any shard path satisfies the config check.
    const sbmt::trainer::TrainConfig config =
        sbmt::trainer::LoadTrainConfig(config_path, {"data.train=unused"});
    sbmt::runtime::SetComputeThreads(threads);
    std::vector<int64_t> lengths;
    std::stringstream in(lengths_text);
    for (std::string item; std::getline(in, item, ',');) lengths.push_back(std::stoll(item));
    const auto& m = config.model;
    if (csv) {
      std::printf("attention,length,batch,threads,step_ms,tokens_per_s,density\n");
    } else {
      const char* blas_core = sbmt::runtime::LoadedOpenBlasCore();
      std::printf(
          "BERT-MLM training step (forward + backward + AdamW), %lld layers, hidden %lld, "
          "heads %lld, SBM k %lld, %d threads, median of %d, OpenBLAS kernels %s\n",
          static_cast<long long>(m.layers), static_cast<long long>(m.hidden),
          static_cast<long long>(m.heads), static_cast<long long>(m.sbm_clusters), threads, steps,
          blas_core != nullptr ? blas_core : "none");
      std::printf("%-9s %6s %6s %10s %12s %8s\n", "attention", "length", "batch", "step_ms",
                  "tokens/s", "density");
    }
    for (int64_t length : lengths) {
      for (const char* attention : {"full", "sbm"}) {
        const Result r = Measure(m, attention, length, tokens_per_step, steps);
        const int64_t batch = std::max<int64_t>(1, tokens_per_step / length);
        if (csv) {
          std::printf("%s,%lld,%lld,%d,%.1f,%.1f,%.4f\n", attention, static_cast<long long>(length),
                      static_cast<long long>(batch), threads, r.step_ms, r.tokens_per_s, r.density);
        } else {
          std::printf("%-9s %6lld %6lld %10.1f %12.1f %8.4f\n", attention,
                      static_cast<long long>(length), static_cast<long long>(batch), r.step_ms,
                      r.tokens_per_s, r.density);
        }
        std::fflush(stdout);
      }
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "pretrain_benchmark: error: %s\n", e.what());
    return 1;
  }
  return 0;
}
