#include "trainer/checkpoint/hf_export.h"

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "trainer/checkpoint/checkpoint_store.h"

namespace sbmt::trainer {
namespace {

namespace fs = std::filesystem;

void Replace(const fs::path& tmp, const fs::path& final_path) {
  std::error_code ec;
  fs::rename(tmp, final_path, ec);
  if (ec) throw CheckpointError(final_path.string() + ": cannot rename into place: " + ec.message());
}

}  // namespace

void ExportHuggingFace(const std::vector<SafeTensor>& tensors, const ModelConfig& m,
                       const std::string& vocab_path, const std::string& out_dir,
                       const HuggingFaceHead& head) {
  std::error_code ec;
  fs::create_directories(out_dir, ec);
  if (ec) throw CheckpointError(out_dir + ": cannot create: " + ec.message());
  const fs::path dir(out_dir);
  WriteSafetensors((dir / "model.safetensors.tmp").string(), tensors, {{"format", "pt"}});
  Replace(dir / "model.safetensors.tmp", dir / "model.safetensors");

  nlohmann::ordered_json config = {{"architectures", {head.architecture}},
                                   {"model_type", "bert"},
                                   {"vocab_size", m.vocab_size},
                                   {"hidden_size", m.hidden},
                                   {"num_hidden_layers", m.layers},
                                   {"num_attention_heads", m.heads},
                                   {"intermediate_size", m.ffn},
                                   {"hidden_act", "gelu"},
                                   {"hidden_dropout_prob", m.dropout},
                                   {"attention_probs_dropout_prob", m.attention_dropout},
                                   {"max_position_embeddings", m.max_positions},
                                   {"type_vocab_size", 2},
                                   {"initializer_range", 0.02},
                                   {"layer_norm_eps", 1e-12},
                                   {"pad_token_id", 0},
                                   {"position_embedding_type", "absolute"},
                                   {"tie_word_embeddings", true},
                                   {"sbm",
                                    {{"attention", m.attention},
                                     {"clusters", m.sbm_clusters},
                                     {"eps", m.sbm_eps},
                                     {"self_loops", m.sbm_self_loops},
                                     {"density_penalty", m.sbm_density_penalty},
                                     {"penalty_weight", m.sbm_penalty_weight}}}};
  if (head.architecture != "BertForMaskedLM") {  // transformers' classification fields
    nlohmann::ordered_json id2label = nlohmann::ordered_json::object(), label2id = id2label;
    const size_t outputs = head.regression ? 1 : head.labels.size();
    for (size_t i = 0; i < outputs; ++i) {
      const std::string name = head.regression ? "LABEL_0" : head.labels[i];
      id2label[std::to_string(i)] = name;
      label2id[name] = i;
    }
    config["id2label"] = id2label;
    config["label2id"] = label2id;
    config["problem_type"] = head.regression ? "regression" : "single_label_classification";
    if (!head.finetuning_task.empty()) config["finetuning_task"] = head.finetuning_task;
  }
  { std::ofstream(dir / "config.json.tmp") << config.dump(2) << "\n"; }
  Replace(dir / "config.json.tmp", dir / "config.json");
  fs::copy_file(vocab_path, dir / "vocab.txt.tmp", fs::copy_options::overwrite_existing, ec);
  if (ec) throw CheckpointError(vocab_path + ": cannot copy vocabulary: " + ec.message());
  Replace(dir / "vocab.txt.tmp", dir / "vocab.txt");
}

HuggingFaceModel ImportHuggingFace(const std::string& dir_name) {
  const fs::path dir(dir_name);
  HuggingFaceModel out;
  const fs::path config_path = dir / "config.json";
  std::ifstream in(config_path);
  if (!in) throw CheckpointError(config_path.string() + ": cannot read");
  nlohmann::json c;
  try {
    c = nlohmann::json::parse(in);
  } catch (const nlohmann::json::exception& e) {
    throw CheckpointError(config_path.string() + ": not valid JSON: " + e.what());
  }
  auto get = [&](const char* key, auto& field) {
    if (!c.contains(key)) return;
    try {
      field = c[key].get<std::decay_t<decltype(field)>>();
    } catch (const nlohmann::json::exception&) {
      throw CheckpointError(config_path.string() + ": " + key + ": unexpected type");
    }
  };
  if (c.value("model_type", "bert") != "bert") {
    throw CheckpointError(config_path.string() + ": model_type '" +
                          c.value("model_type", std::string()) + "' is not 'bert'");
  }
  ModelConfig& m = out.model;
  get("vocab_size", m.vocab_size);
  get("hidden_size", m.hidden);
  get("num_hidden_layers", m.layers);
  get("num_attention_heads", m.heads);
  get("intermediate_size", m.ffn);
  get("max_position_embeddings", m.max_positions);
  get("hidden_dropout_prob", m.dropout);
  get("attention_probs_dropout_prob", m.attention_dropout);
  if (c.contains("sbm") && c["sbm"].is_object()) {
    const nlohmann::json& s = c["sbm"];
    m.attention = s.value("attention", m.attention);
    m.sbm_clusters = s.value("clusters", m.sbm_clusters);
    m.sbm_eps = s.value("eps", m.sbm_eps);
    m.sbm_self_loops = s.value("self_loops", m.sbm_self_loops);
    m.sbm_density_penalty = s.value("density_penalty", m.sbm_density_penalty);
    m.sbm_penalty_weight = s.value("penalty_weight", m.sbm_penalty_weight);
  }
  HuggingFaceHead& head = out.head;
  if (c.contains("architectures") && c["architectures"].is_array() && !c["architectures"].empty() &&
      c["architectures"][0].is_string()) {
    head.architecture = c["architectures"][0].get<std::string>();
  }
  head.regression = c.value("problem_type", std::string()) == "regression";
  head.finetuning_task = c.value("finetuning_task", std::string());
  if (c.contains("id2label") && c["id2label"].is_object() && !head.regression) {
    const nlohmann::json& names = c["id2label"];
    for (size_t i = 0; i < names.size(); ++i) {
      const std::string key = std::to_string(i);
      if (!names.contains(key) || !names[key].is_string()) {
        throw CheckpointError(config_path.string() + ": id2label has no label " + key);
      }
      head.labels.push_back(names[key].get<std::string>());
    }
  }
  out.weights = ReadSafetensors((dir / "model.safetensors").string());
  const SafeTensor* words = out.weights.Find("bert.embeddings.word_embeddings.weight");
  if (!words) {
    throw CheckpointError((dir / "model.safetensors").string() +
                          ": no bert.embeddings.word_embeddings.weight: not a BERT checkpoint");
  }
  if (words->shape != std::vector<int64_t>{m.vocab_size, m.hidden}) {
    throw CheckpointError((dir / "model.safetensors").string() +
                          ": word embeddings do not match config.json's vocab_size x hidden_size");
  }
  out.vocab_path = (dir / "vocab.txt").string();
  if (!fs::exists(out.vocab_path)) throw CheckpointError(out.vocab_path + ": missing");
  return out;
}

}  // namespace sbmt::trainer
