#include "trainer/tasks/bert_init.h"

#include "trainer/checkpoint/hf_export.h"
#include "trainer/checkpoint/tensor_io.h"

namespace sbmt::trainer {

void InitBertFromHuggingFace(torch::nn::Module& model, const ModelConfig& m, const std::string& dir,
                             const std::vector<std::string>& own_heads, const Task::Log& log) {
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

}  // namespace sbmt::trainer
