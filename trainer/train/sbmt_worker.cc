// sbmt_worker: one training process, alone or as one rank of an `mpirun` job.
//
//   sbmt_worker --config=configs/tiny.yaml [--set key=value]... [--max-steps=N]
//   mpirun -np 16 --hostfile hosts sbmt_worker --config=configs/bert_small.yaml
//
// Trains the task the config names (task.name: mlm by default) with the one Trainer. The rank,
// world size and local rank come from mpirun's environment (trainer/dist/placement.h);
// intra-op threads default to this node's cores over its ranks. Only rank 0 logs unless
// --log-all-ranks. Each step's report goes to the log line and to run.out_dir/metrics.jsonl;
// evaluates and checkpoints periodically under run.out_dir; resumes from its newest committed
// checkpoint. An error on any rank is reported with the rank and ends the whole job.
#include <c10/util/Exception.h>
#include <prometheus/exposer.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "runtime/compute_threads.h"
#include "runtime/error.h"
#include "runtime/library_tuning.h"
#include "runtime/stop_signal.h"
#include "trainer/config/train_config.h"
#include "trainer/dist/placement.h"
#include "trainer/dist/world.h"
#include "trainer/tasks/make_task.h"
#include "trainer/train/coordinator_client.h"
#include "trainer/train/rank_metrics.h"
#include "trainer/train/trainer.h"

namespace {

// The message of an exception as a user should see it: LibTorch's errors carry a C++
// backtrace in what(); only its first part is for users.
std::string UserMessage(const std::exception& e) {
  if (const auto* torch_error = dynamic_cast<const c10::Error*>(&e)) {
    return torch_error->what_without_backtrace();
  }
  return e.what();
}

}  // namespace

int main(int argc, char** argv) {
  sbmt::runtime::ReexecWithTunedLibraries(argv);
  // SIGTERM / SIGINT: finish the step, commit a checkpoint, exit 0 (a second signal stops now).
  sbmt::runtime::InstallStopSignalHandlers();
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
                 "afterwards, write the weights as a Hugging Face directory (masked-LM task)");
  app.add_flag("--log-all-ranks", log_all_ranks, "every rank logs, prefixed by its rank");
  // Set by the coordinator's launch template: this rank joins the job's attempt and beats.
  sbmt::trainer::CoordinatorClientOptions coordinator;
  app.add_option("--coordinator", coordinator.address, "HOST:PORT of sbmt_coordinator");
  app.add_option("--coordinator-token-file", coordinator.token_file,
                 "the coordinator's bearer token");
  app.add_option("--job", coordinator.job, "the coordinator's job id");
  app.add_option("--attempt", coordinator.attempt, "the coordinator's attempt number");
  app.add_option("--coordinator-tls-ca", coordinator.tls_ca, "CA of the coordinator's certificate");
  app.add_option("--coordinator-tls-cert", coordinator.tls_cert, "its certificate (mutual TLS)");
  app.add_option("--coordinator-tls-key", coordinator.tls_key, "its key (mutual TLS)");
  int metrics_port = -1;
  std::string metrics_host = "127.0.0.1", metrics_port_file;
  app.add_option("--metrics-port", metrics_port,
                 "serve this rank's Prometheus /metrics on this port + local rank (0: any free "
                 "port)");
  app.add_option("--metrics-host", metrics_host, "address to serve /metrics on")
      ->capture_default_str();
  app.add_option("--metrics-port-file", metrics_port_file,
                 "write each rank's metrics port to FILE.<rank>");
  std::string gpu_slots;
  app.add_option("--gpu-slots", gpu_slots,
                 "each rank's GPU slot on its host, in rank order (0,1,0,1): this rank's becomes "
                 "its CUDA_VISIBLE_DEVICES");
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
  // The coordinator's slot for this rank is its GPU; set before anything initializes CUDA.
  std::string gpu;
  if (!gpu_slots.empty()) {
    std::vector<std::string> slots;
    std::stringstream list(gpu_slots);
    for (std::string slot; std::getline(list, slot, ',');) slots.push_back(slot);
    if (static_cast<int>(slots.size()) != placement.world) {
      std::fprintf(stderr, "sbmt_worker: error: --gpu-slots=%s names %zu slots for %d ranks\n",
                   gpu_slots.c_str(), slots.size(), placement.world);
      return 1;
    }
    gpu = slots[placement.rank];
    setenv("CUDA_VISIBLE_DEVICES", gpu.c_str(), 1);
    placement = sbmt::dist::PlacementFromEnvironment();  // the slot is now this rank's GPU 0
  }
  // Which ranks log is decided once, by the Trainer (rank 0, or all with --log-all-ranks);
  // this only stamps and prints.
  auto log = [&](const std::string& message) {
    const std::time_t now = std::time(nullptr);
    char stamp[32];
    std::strftime(stamp, sizeof(stamp), "%H:%M:%S", std::localtime(&now));
    std::printf("[%s] %s%s\n", stamp, log_all_ranks ? who.c_str() : "", message.c_str());
    std::fflush(stdout);
  };
  std::unique_ptr<sbmt::dist::Communicator> comm;
  std::unique_ptr<sbmt::dist::Communicator> tensor_comm;  // borrows comm: destroyed first
  std::unique_ptr<sbmt::trainer::CoordinatorClient> client;
  try {
    sbmt::trainer::TrainConfig config = sbmt::trainer::LoadTrainConfig(config_path, overrides);
    if (config.run.threads == 0) config.run.threads = placement.threads;
    sbmt::trainer::AdjustConfigForTask(config);
    sbmt::runtime::SetComputeThreads(static_cast<int>(config.run.threads));
    comm = sbmt::dist::ConnectWorld(placement, config.dist.backend,
                                    std::chrono::seconds(config.dist.timeout_s));
    if (!coordinator.address.empty()) {
      coordinator.rank = comm->rank();
      char host[256] = {};
      gethostname(host, sizeof host - 1);
      coordinator.host = host;
      coordinator.collectives = [c = comm.get()] { return c->collectives_issued(); };
      client = std::make_unique<sbmt::trainer::CoordinatorClient>(coordinator);
    }
    const std::unique_ptr<sbmt::trainer::Task> task = sbmt::trainer::MakeTask(config);
    if (log_all_ranks || comm->rank() == 0) {
      log("config " + config_path + " (digest " + config.Digest() + "), task " + task->name() +
          ", attention " + config.model.attention + ", output " + config.run.out_dir +
          ", world size " + std::to_string(comm->size()) + " (" + comm->backend() + "), " +
          std::to_string(config.run.threads) +
          (config.run.threads == 1 ? " thread per rank" : " threads per rank") +
          (gpu.empty() ? "" : ", GPU slot " + gpu));
    }
    // Outputs are checked before training, not after hours of it.
    if (!export_dir.empty() && comm->rank() == 0) task->CheckCanExport(export_dir);
    // GPU tensors of several ranks go through NCCL; everything else through `comm`.
    tensor_comm =
        sbmt::dist::ConnectTensorWorld(placement, config.dist.backend, config.run.device == "cuda",
                                       *comm, std::chrono::seconds(config.dist.timeout_s));
    sbmt::trainer::Trainer trainer(config, *task, log, comm.get(), log_all_ranks,
                                   tensor_comm.get());
    if (client) {
      trainer.OnStep([&](const sbmt::v1::StepReport& r) { client->OnStep(r); });
      trainer.OnEval([&](const sbmt::v1::EvalReport& r) { client->OnEval(r); });
    }
    // This rank's own /metrics: every step, for debugging one rank.
    std::unique_ptr<sbmt::trainer::RankMetrics> rank_metrics;
    std::unique_ptr<prometheus::Exposer> exposer;
    if (metrics_port >= 0) {
      rank_metrics = std::make_unique<sbmt::trainer::RankMetrics>(comm->rank());
      const int port = metrics_port == 0 ? 0 : metrics_port + placement.local_rank;
      exposer = std::make_unique<prometheus::Exposer>(metrics_host + ":" + std::to_string(port));
      exposer->RegisterCollectable(rank_metrics->registry());
      const int bound = exposer->GetListeningPorts().at(0);
      if (!metrics_port_file.empty()) {
        const std::string file = metrics_port_file + "." + std::to_string(comm->rank());
        std::ofstream(file + ".tmp") << bound << "\n";
        std::rename((file + ".tmp").c_str(), file.c_str());
      }
      trainer.OnStep([&](const sbmt::v1::StepReport& r) { rank_metrics->Observe(r); });
      if (log_all_ranks || comm->rank() == 0) {
        log("rank metrics on " + metrics_host + ":" + std::to_string(bound) + "/metrics");
      }
    }
    const sbmt::trainer::TrainResult r = trainer.Run(max_steps);
    if (log_all_ranks || comm->rank() == 0) {
      log(std::string(r.stop_signal
                          ? "stopped by signal " + std::to_string(r.stop_signal) + " at step "
                          : "done at step ") +
          std::to_string(r.final_step) +
          (r.last_checkpoint.empty() ? "" : "; last checkpoint " + r.last_checkpoint));
    }
    if (comm->rank() == 0 && r.stop_signal == 0) task->WriteOutputs(config.run.out_dir, log);
    if (!export_dir.empty() && comm->rank() == 0) {
      task->ExportHuggingFace(export_dir);
      log("exported Hugging Face layout to " + export_dir);
    }
    if (client) {
      // The final step's checkpoint, which the coordinator may have missed while it was away.
      const std::string last =
          config.run.out_dir + "/checkpoints/step_" + std::to_string(r.final_step);
      if (comm->rank() == 0 && std::ifstream(last + "/COMMITTED")) {
        client->ReportCheckpoint(r.final_step, last);
      }
      client->Exit(0, r.stop_signal ? "stopped by a signal" : "done", r.final_step);
    }
  } catch (const std::exception& e) {
    const auto* error = dynamic_cast<const sbmt::Error*>(&e);
    const std::string message =
        std::string("error") +
        (error ? std::string(" (") + sbmt::ErrorCodeName(error->code()) + ")" : std::string()) +
        ": " + UserMessage(e);
    if (client) client->Exit(1, message, -1);
    // Peers would wait for this rank's next collective: end the job now, saying who failed.
    if (comm && comm->size() > 1) comm->Abort(message);
    std::fprintf(stderr, "sbmt_worker: %s%s\n", who.c_str(), message.c_str());
    return 1;
  }
  return 0;
}
