// Starting a task's BERT from a Hugging Face directory (model.init_from): the encoder's weights
// come from the directory's model.safetensors (BertForMaskedLM or BertModel names, as
// hf_export writes and transformers saves); parameters it lacks (SBM's, a pooler or classifier
// head the directory does not have) keep their initialization, and are counted in the log line.
#pragma once

#include <torch/torch.h>

#include <string>
#include <vector>

#include "trainer/config/train_config.h"
#include "trainer/train/task.h"

namespace sbmt::trainer {

// Throws ConfigError when the directory's config.json describes another model shape.
void InitBertFromHuggingFace(torch::nn::Module& model, const ModelConfig& config,
                             const std::string& dir, const std::vector<std::string>& own_heads,
                             const Task::Log& log);

}  // namespace sbmt::trainer
