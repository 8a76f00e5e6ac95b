// sbmt_worker: one training process. Today: masked-LM pretraining on one process (the
// data-parallel and coordinator modes come with their issues).
//
//   sbmt_worker --config=configs/tiny.yaml [--set key=value]... [--max-steps=N]
//
// Logs step, loss, MLM accuracy, tokens/s, learning rate, mean attention density and ETA;
// evaluates and checkpoints periodically under run.out_dir; resumes from its newest committed
// checkpoint.
#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <string>
#include <vector>

#include "trainer/config/train_config.h"
#include "trainer/train/pretrainer.h"

int main(int argc, char** argv) {
  CLI::App app("sbmt training worker");
  std::string config_path;
  std::vector<std::string> overrides;
  int64_t max_steps = -1;
  std::string export_dir;
  app.add_option("--config", config_path, "YAML config")->required();
  app.add_option("--set", overrides, "override a setting: KEY=VALUE (repeatable)");
  app.add_option("--max-steps", max_steps, "stop after this many steps of this run");
  app.add_option("--export-hf", export_dir,
                 "afterwards, write the weights as a Hugging Face BertForMaskedLM directory");
  CLI11_PARSE(app, argc, argv);
  auto log = [](const std::string& message) {
    const std::time_t now = std::time(nullptr);
    char stamp[32];
    std::strftime(stamp, sizeof(stamp), "%H:%M:%S", std::localtime(&now));
    std::printf("[%s] %s\n", stamp, message.c_str());
    std::fflush(stdout);
  };
  try {
    const sbmt::trainer::TrainConfig config =
        sbmt::trainer::LoadTrainConfig(config_path, overrides);
    log("config " + config_path + " (digest " + config.Digest() + "), attention " +
        config.model.attention + ", output " + config.run.out_dir);
    sbmt::trainer::Pretrainer trainer(config, log);
    const sbmt::trainer::TrainResult r = trainer.Run(max_steps);
    log("done at step " + std::to_string(r.final_step) +
        (r.last_checkpoint.empty() ? "" : "; last checkpoint " + r.last_checkpoint));
    if (!export_dir.empty()) {
      trainer.ExportHuggingFace(export_dir);
      log("exported Hugging Face layout to " + export_dir);
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "sbmt_worker: error: %s\n", e.what());
    return 1;
  }
  return 0;
}
