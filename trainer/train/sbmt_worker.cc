// sbmt_worker: one training process, alone or as one rank of an `mpirun` job.
//
//   sbmt_worker --config=configs/tiny.yaml [--set key=value]... [--max-steps=N]
//   mpirun -np 16 --hostfile hosts sbmt_worker --config=configs/bert_small.yaml
//
// The rank, world size and local rank come from mpirun's environment (trainer/dist/placement.h);
// intra-op threads default to this node's cores over its ranks. Only rank 0 logs unless
// --log-all-ranks. Logs step, loss, MLM accuracy, tokens/s, learning rate, mean attention
// density, exposed communication and ETA; evaluates and checkpoints periodically under
// run.out_dir; resumes from its newest committed checkpoint. An error on any rank is reported
// with the rank and ends the whole job.
#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <memory>
#include <string>
#include <vector>

#include "runtime/library_tuning.h"
#include "trainer/config/train_config.h"
#include "trainer/dist/placement.h"
#include "trainer/dist/world.h"
#include "trainer/train/pretrainer.h"

int main(int argc, char** argv) {
  sbmt::runtime::ReexecWithTunedLibraries(argv);
  CLI::App app("sbmt training worker");
  std::string config_path;
  std::vector<std::string> overrides;
  int64_t max_steps = -1;
  std::string export_dir;
  bool log_all_ranks = false;
  app.add_option("--config", config_path, "YAML config")->required();
  app.add_option("--set", overrides, "override a setting: KEY=VALUE (repeatable)");
  app.add_option("--max-steps", max_steps, "stop after this many steps of this run");
  app.add_option("--export-hf", export_dir,
                 "afterwards, write the weights as a Hugging Face BertForMaskedLM directory");
  app.add_flag("--log-all-ranks", log_all_ranks, "every rank logs, prefixed by its rank");
  CLI11_PARSE(app, argc, argv);

  sbmt::dist::Placement placement;
  try {
    placement = sbmt::dist::PlacementFromEnvironment();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "sbmt_worker: error: %s\n", e.what());
    return 1;
  }
  const std::string who =
      placement.world > 1 ? "rank " + std::to_string(placement.rank) + ": " : "";
  auto log = [&](const std::string& message) {
    const std::time_t now = std::time(nullptr);
    char stamp[32];
    std::strftime(stamp, sizeof(stamp), "%H:%M:%S", std::localtime(&now));
    std::printf("[%s] %s%s\n", stamp, log_all_ranks ? who.c_str() : "", message.c_str());
    std::fflush(stdout);
  };
  std::unique_ptr<sbmt::dist::Communicator> comm;
  try {
    sbmt::trainer::TrainConfig config = sbmt::trainer::LoadTrainConfig(config_path, overrides);
    if (config.run.threads == 0) config.run.threads = placement.threads;
    comm = sbmt::dist::ConnectWorld(placement, config.dist.backend,
                                    std::chrono::seconds(config.dist.timeout_s));
    if (comm->rank() == 0) {
      log("config " + config_path + " (digest " + config.Digest() + "), attention " +
          config.model.attention + ", output " + config.run.out_dir + ", world size " +
          std::to_string(comm->size()) + " (" + comm->backend() + "), " +
          std::to_string(config.run.threads) +
          (config.run.threads == 1 ? " thread per rank" : " threads per rank"));
    }
    auto rank_log = [&](const std::string& m) {
      if (log_all_ranks || comm->rank() == 0) log(m);
    };
    sbmt::trainer::Pretrainer trainer(config, rank_log, comm.get());
    const sbmt::trainer::TrainResult r = trainer.Run(max_steps);
    rank_log("done at step " + std::to_string(r.final_step) +
             (r.last_checkpoint.empty() ? "" : "; last checkpoint " + r.last_checkpoint));
    if (!export_dir.empty() && comm->rank() == 0) {
      trainer.ExportHuggingFace(export_dir);
      log("exported Hugging Face layout to " + export_dir);
    }
  } catch (const std::exception& e) {
    const std::string message = std::string("error: ") + e.what();
    // Peers would wait for this rank's next collective: end the job now, saying who failed.
    if (comm && comm->size() > 1) comm->Abort(message);
    std::fprintf(stderr, "sbmt_worker: %s%s\n", who.c_str(), message.c_str());
    return 1;
  }
  return 0;
}
