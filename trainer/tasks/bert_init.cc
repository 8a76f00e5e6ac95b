#include "trainer/tasks/bert_init.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "trainer/checkpoint/tensor_io.h"

namespace sbmt::trainer {

void InitBertFromHuggingFace(torch::nn::Module& model, const ModelConfig& m, const std::string& dir,
                             const std::vector<std::string>& own_heads, const Task::Log& log) {
  namespace fs = std::filesystem;
  // One of our checkpoints (checkpoints/step_N): the same tensor names, and the shape is the
  // config's (LoadTensors checks every tensor's).
  if (!fs::exists(fs::path(dir) / "config.json") && fs::exists(fs::path(dir) / "COMMITTED")) {
    const std::string path = (fs::path(dir) / "model.safetensors").string();
    const std::vector<std::string> kept =
        LoadTensors(ReadSafetensors(path), model.named_parameters(), path, own_heads);
    log("initialized from checkpoint " + dir + " (" + std::to_string(kept.size()) +
        " parameters kept their initialization)");
    return;
  }
  HuggingFaceModel hf = ImportHuggingFace(dir);
  if (hf.model.vocab_size != m.vocab_size || hf.model.hidden != m.hidden ||
      hf.model.layers != m.layers || hf.model.heads != m.heads || hf.model.ffn != m.ffn ||
      hf.model.max_positions != m.max_positions) {
    throw ConfigError(dir + "/config.json: model shape differs from this config's model");
  }
  std::vector<std::string> allowed = {".sbm.", ".linformer.", ".nystrom."};
  allowed.insert(allowed.end(), own_heads.begin(), own_heads.end());
  const std::vector<std::string> kept =
      LoadTensors(hf.weights, model.named_parameters(), dir + "/model.safetensors", allowed);
  log("initialized from " + dir + " (" + std::to_string(kept.size()) +
      " parameters kept their initialization)");
}

void CheckCanExportBert(const std::string& dir, const std::string& vocab_path) {
  namespace fs = std::filesystem;
  if (dir.empty()) throw ConfigError("--export-hf: expected a directory, got an empty path");
  std::error_code ec;
  if (fs::exists(dir, ec) && !fs::is_directory(dir, ec)) {
    throw ConfigError("--export-hf=" + dir + ": exists and is not a directory");
  }
  const fs::path parent = fs::absolute(dir, ec).parent_path();
  fs::create_directories(parent, ec);
  if (ec || ::access(parent.c_str(), W_OK) != 0) {
    throw ConfigError("--export-hf=" + dir + ": cannot write in " + parent.string());
  }
  if (std::ifstream(vocab_path).fail()) {
    throw ConfigError("--export-hf=" + dir + ": data.vocab " + vocab_path + " is not readable");
  }
}

void ExportBert(torch::nn::Module& model, const ModelConfig& config, const std::string& vocab_path,
                const std::string& dir, const HuggingFaceHead& head) {
  namespace fs = std::filesystem;
  CheckCanExportBert(dir, vocab_path);
  const std::string partial = dir + ".partial";
  std::error_code ec;
  fs::remove_all(partial, ec);
  ExportHuggingFace(ToSafeTensors(model.named_parameters()), config, vocab_path, partial, head);
  if (fs::exists(dir)) {
    const std::string old = dir + ".old";
    fs::remove_all(old, ec);
    fs::rename(dir, old);
    fs::rename(partial, dir);
    fs::remove_all(old, ec);
  } else {
    fs::rename(partial, dir);
  }
}

}  // namespace sbmt::trainer
