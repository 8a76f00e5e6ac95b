// Hugging Face layout for BERT-MLM weights: a directory with `model.safetensors` (tensors named
// as BertForMaskedLM's state dict; the decoder weight is tied to the word embeddings and the
// decoder bias to cls.predictions.bias, so neither is stored twice, as save_pretrained does;
// SBM parameters are extra tensors under "...attention.self.sbm."), `config.json` (BertConfig
// fields plus an "sbm" section) and `vocab.txt`.
//
//   ExportHuggingFace(tensors, config.model, "vocab.txt", "export/");
//   HuggingFaceModel m = ImportHuggingFace("export/");   // tensors + parsed config
#pragma once

#include <string>
#include <vector>

#include "trainer/checkpoint/safetensors.h"
#include "trainer/config/train_config.h"

namespace sbmt::trainer {

// Writes the three files (each to a temporary name, then renamed). Throws CheckpointError.
void ExportHuggingFace(const std::vector<SafeTensor>& tensors, const ModelConfig& model,
                       const std::string& vocab_path, const std::string& out_dir);

struct HuggingFaceModel {
  SafetensorsFile weights;
  ModelConfig model;  // from config.json (fields it lacks keep their defaults)
  std::string vocab_path;
};

// Reads and checks a directory in that layout (ours or one written by transformers).
HuggingFaceModel ImportHuggingFace(const std::string& dir);

}  // namespace sbmt::trainer
