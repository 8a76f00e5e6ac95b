// Hugging Face layout for BERT weights: a directory with `model.safetensors` (tensors named
// as BertForMaskedLM's or BertForSequenceClassification's state dict; the decoder weight is tied to
// the word embeddings and the decoder bias to cls.predictions.bias, so neither is stored twice, as
// save_pretrained does; SBM parameters are extra tensors under "...attention.self.sbm."),
// `config.json` (BertConfig fields plus an "sbm" section) and `vocab.txt`.
//
//   ExportHuggingFace(tensors, config.model, "vocab.txt", "export/");
//   HuggingFaceModel m = ImportHuggingFace("export/");   // tensors + parsed config
#pragma once

#include <string>
#include <vector>

#include "trainer/checkpoint/safetensors.h"
#include "trainer/config/train_config.h"

namespace sbmt::trainer {

// What sits on the encoder, as config.json tells transformers: BertForMaskedLM, or
// BertForSequenceClassification with its labels (id2label, in output order; a regression has one
// output and no label names).
struct HuggingFaceHead {
  std::string architecture = "BertForMaskedLM";
  std::vector<std::string> labels;
  bool regression = false;
  std::string finetuning_task;  // e.g. "sst2"
};

// Writes the three files (each to a temporary name, then renamed). Throws CheckpointError.
void ExportHuggingFace(const std::vector<SafeTensor>& tensors, const ModelConfig& model,
                       const std::string& vocab_path, const std::string& out_dir,
                       const HuggingFaceHead& head = {});

struct HuggingFaceModel {
  SafetensorsFile weights;
  ModelConfig model;  // from config.json (fields it lacks keep their defaults)
  HuggingFaceHead head;
  std::string vocab_path;
};

// Reads and checks a directory in that layout (ours or one written by transformers).
HuggingFaceModel ImportHuggingFace(const std::string& dir);

}  // namespace sbmt::trainer
