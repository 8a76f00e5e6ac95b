// Data-parallel scaling: training throughput of one configuration at the world size it was
// launched with. Run by scaling_benchmark.sh under `mpirun -np N` for N = 1, 2, ...; rank 0
// prints one CSV row:
//   config,ranks,threads,global_batch,accumulation,step_ms,tokens_per_s,exposed_comm_ms,grad_mb
// Weak scaling: each rank keeps --per-rank-batch examples per optimizer step, so the global
// batch grows with the world. The first --warmup steps are not measured.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <filesystem>
#include <numeric>

#include "runtime/compute_threads.h"
#include "runtime/library_tuning.h"
#include "trainer/config/train_config.h"
#include "trainer/dist/placement.h"
#include "trainer/dist/world.h"
#include "trainer/tasks/make_task.h"
#include "trainer/train/trainer.h"

int main(int argc, char** argv) {
  sbmt::runtime::ReexecWithTunedLibraries(argv);
  CLI::App app("data-parallel scaling benchmark (one world size per run)");
  std::string config_path, out_dir = "runs/scaling_benchmark";
  std::vector<std::string> overrides;
  int64_t per_rank_batch = 8, accumulation = 1, steps = 3, warmup = 1, threads = 1;
  app.add_option("--config", config_path, "YAML config")->required();
  app.add_option("--set", overrides, "override a setting: KEY=VALUE (repeatable)");
  app.add_option("--per-rank-batch", per_rank_batch, "examples per rank per optimizer step");
  app.add_option("--accumulation", accumulation, "micro-steps per optimizer step");
  app.add_option("--steps", steps, "measured optimizer steps");
  app.add_option("--warmup", warmup, "unmeasured steps first");
  app.add_option("--threads", threads, "intra-op threads per rank");
  app.add_option("--out-dir", out_dir, "scratch directory (removed first)");
  CLI11_PARSE(app, argc, argv);
  try {
    const sbmt::dist::Placement placement = sbmt::dist::PlacementFromEnvironment();
    std::unique_ptr<sbmt::dist::Communicator> comm =
        sbmt::dist::ConnectWorld(placement, "auto", std::chrono::minutes(10));
    const int world = comm->size();
    const std::string dir = out_dir + "/np" + std::to_string(world);
    if (comm->rank() == 0) std::filesystem::remove_all(dir);
    comm->Barrier()->Wait(std::chrono::minutes(1));
    overrides.insert(overrides.end(),
                     {"data.global_batch=" + std::to_string(per_rank_batch * world),
                      "optim.accumulation=" + std::to_string(accumulation), "optim.warmup_steps=1",
                      "optim.total_steps=" + std::to_string(warmup + steps),
                      "data.valid=", "run.checkpoint_every=1000000000", "run.out_dir=" + dir,
                      "run.threads=" + std::to_string(threads)});
    const sbmt::trainer::TrainConfig config =
        sbmt::trainer::LoadTrainConfig(config_path, overrides);
    sbmt::runtime::SetComputeThreads(static_cast<int>(config.run.threads));
    const std::unique_ptr<sbmt::trainer::Task> task = sbmt::trainer::MakeTask(config);
    sbmt::trainer::Trainer trainer(
        config, *task, [](const std::string&) {}, comm.get());
    const sbmt::trainer::TrainResult r = trainer.Run();
    double seconds = 0, exposed = 0;
    int64_t tokens = 0;
    for (size_t s = warmup; s < r.step_seconds.size(); ++s) {
      seconds += r.step_seconds[s];
      exposed += r.exposed_comm_seconds[s];
      tokens += r.step_tokens[s];
    }
    const sbmt::trainer::ModelConfig& m = config.model;
    // Parameters: embeddings, layers (attention, FFN, norms), MLM head; SBM adds proj and
    // cluster embeddings per layer.
    const double layer =
        4.0 * m.hidden * m.hidden + 2.0 * m.hidden * m.ffn + 9.0 * m.hidden + m.ffn;
    const double sbm = m.attention == "sbm" ? 2.0 * (m.hidden / m.heads) * (m.hidden / m.heads) +
                                                  static_cast<double>(m.heads) * m.sbm_clusters *
                                                      (m.hidden / m.heads)
                                            : 0.0;
    const double params = (m.vocab_size + m.max_positions + 2.0) * m.hidden +
                          m.layers * (layer + sbm) + m.hidden * m.hidden + 3.0 * m.hidden +
                          m.vocab_size;
    if (comm->rank() == 0) {
      std::printf("%s,%d,%lld,%lld,%lld,%.0f,%.1f,%.1f,%.1f\n",
                  std::filesystem::path(config_path).stem().c_str(), world,
                  static_cast<long long>(threads), static_cast<long long>(per_rank_batch * world),
                  static_cast<long long>(accumulation), 1000 * seconds / steps, tokens / seconds,
                  1000 * exposed / steps, params * 4 / (1 << 20));
      std::fflush(stdout);
    }
    comm->Barrier()->Wait(std::chrono::minutes(1));
    if (comm->rank() == 0) std::filesystem::remove_all(dir);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "scaling_benchmark: %s\n", e.what());
    return 1;
  }
  return 0;
}
