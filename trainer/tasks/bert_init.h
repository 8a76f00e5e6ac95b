// A task's BERT from and to a Hugging Face directory.
//
// InitBertFromHuggingFace (model.init_from): the encoder's weights come from the directory's
// model.safetensors (BertForMaskedLM, BertForSequenceClassification or BertModel names, as
// hf_export writes and transformers saves; or one of our committed checkpoints, step_N/, whose
// names are the same); parameters it lacks (SBM's, a pooler or classifier head the directory
// does not have) keep their initialization, and are counted in the log line.
//
// ExportBert (--export-hf): the model's parameters in that layout, written next to the directory
// and renamed into place, so that an interrupted export never leaves a half-written directory
// under the name a loader would open. CheckCanExportBert finds, before training, what would make
// the export fail.
#pragma once

#include <torch/torch.h>

#include <string>
#include <vector>

#include "trainer/checkpoint/hf_export.h"
#include "trainer/config/train_config.h"
#include "trainer/train/task.h"

namespace sbmt::trainer {

// Throws ConfigError when the directory's config.json describes another model shape.
void InitBertFromHuggingFace(torch::nn::Module& model, const ModelConfig& config,
                             const std::string& dir, const std::vector<std::string>& own_heads,
                             const Task::Log& log);

// Throws ConfigError when `dir` cannot be written or the vocabulary (copied into the export as
// vocab.txt) cannot be read.
void CheckCanExportBert(const std::string& dir, const std::string& vocab_path);
void ExportBert(torch::nn::Module& model, const ModelConfig& config, const std::string& vocab_path,
                const std::string& dir, const HuggingFaceHead& head);

}  // namespace sbmt::trainer
