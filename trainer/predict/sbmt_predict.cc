// sbmt_predict: inference from an exported model directory (--export-hf, or transformers'
// save_pretrained).
//
//   sbmt_predict fill-mask --model=DIR --text="the [MASK] of the union" [--top-k=5] [--json]
//   sbmt_predict classify --model=DIR --task=sst2 --input=FILE.tsv [--output=SST-2.tsv]
//
// fill-mask prints, for each [MASK], the top-k tokens with their probabilities (softmax over
// the vocabulary); --json prints one list per mask of {"token", "id", "score"}. classify reads a
// file in the GLUE task's layout (a test file, or a labelled dev or train file) and writes
// `index<TAB>prediction` with a header, labels as GLUE spells them: the submission format, which
// glue_eval scores. Both take --attention=sbm|full|linformer|nystrom (default: the model's) and
// --seed, which keys SBM's sampled graphs.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "runtime/compute_threads.h"
#include "runtime/error.h"
#include "runtime/library_tuning.h"
#include "trainer/predict/predictor.h"
#include "trainer/tasks/glue/glue_data.h"

namespace {

using sbmt::trainer::PredictError;

void FillMaskCommand(const std::string& model_dir, const std::string& attention, uint64_t seed,
                     const std::vector<std::string>& texts, int top_k, bool json) {
  sbmt::trainer::FillMask fill(model_dir, attention, seed);
  nlohmann::ordered_json all = nlohmann::ordered_json::array();
  for (const std::string& text : texts) {
    const auto masks = fill.Predict(text, top_k);
    nlohmann::ordered_json per_mask = nlohmann::ordered_json::array();
    if (!json) std::printf("%s\n", text.c_str());
    for (size_t m = 0; m < masks.size(); ++m) {
      nlohmann::ordered_json candidates = nlohmann::ordered_json::array();
      if (!json) std::printf("  [MASK] %zu of %zu\n", m + 1, masks.size());
      for (const sbmt::trainer::MaskCandidate& c : masks[m]) {
        candidates.push_back({{"token", c.token}, {"id", c.id}, {"score", c.score}});
        if (!json) std::printf("    %.4f  %-16s (id %d)\n", c.score, c.token.c_str(), c.id);
      }
      per_mask.push_back(std::move(candidates));
    }
    all.push_back(std::move(per_mask));
  }
  // One text: a list per mask; several: a list of those, one per --text.
  if (json) std::printf("%s\n", (texts.size() == 1 ? all[0] : all).dump().c_str());
}

void ClassifyCommand(const std::string& model_dir, const std::string& attention, uint64_t seed,
                     const std::string& task, const std::string& input, const std::string& output,
                     int64_t batch, bool skip_malformed) {
  namespace glue = sbmt::trainer::glue;
  const glue::GlueTaskSpec& spec = glue::GlueSpec(task);
  sbmt::trainer::Classifier classifier(model_dir, attention, seed);
  const sbmt::trainer::HuggingFaceHead& head = classifier.head();
  if (head.regression != spec.regression() || (!spec.regression() && head.labels != spec.labels)) {
    throw PredictError(
        model_dir + "/config.json: the model's outputs (" +
        (head.regression ? "a regression" : std::to_string(head.labels.size()) + " labels") +
        ") are not task " + spec.name + "'s");
  }
  if (!head.finetuning_task.empty() && head.finetuning_task != spec.name) {
    throw PredictError(model_dir + " was fine-tuned on " + head.finetuning_task + ", not " +
                       spec.name);
  }
  // Labelled files of headerless tasks (CoLA's train and dev) have no header line to read.
  bool labelled = false;
  if (spec.headerless) {
    std::ifstream in(input);
    std::string first;
    std::getline(in, first);
    labelled = first.find("sentence") == std::string::npos;
  }
  glue::GlueReadReport report;
  const std::vector<glue::GlueExample> rows = glue::ReadGlueFile(
      spec, input, labelled,
      skip_malformed ? glue::MalformedRows::kSkip : glue::MalformedRows::kFail, &report);
  if (report.skipped > 0) {
    std::fprintf(stderr, "sbmt_predict: %s: skipped %lld malformed of %lld rows (first: %s)\n",
                 input.c_str(), static_cast<long long>(report.skipped),
                 static_cast<long long>(report.rows), report.problems.front().c_str());
  }
  std::ofstream file;
  if (!output.empty()) {
    file.open(output + ".partial");
    if (!file) throw PredictError("--output=" + output + ": cannot write");
  }
  std::ostream& out = output.empty() ? std::cout : file;
  out << "index\tprediction\n";
  // In chunks, so that a long file shows progress.
  const size_t chunk = static_cast<size_t>(batch) * 32;
  for (size_t first = 0; first < rows.size(); first += chunk) {
    std::vector<std::pair<std::string, std::string>> texts;
    for (size_t i = first; i < std::min(rows.size(), first + chunk); ++i) {
      texts.emplace_back(rows[i].text_a, rows[i].text_b);
    }
    const std::vector<std::string> labels = classifier.Predict(texts, batch);
    for (size_t i = 0; i < labels.size(); ++i)
      out << rows[first + i].index << '\t' << labels[i] << '\n';
    if (rows.size() > chunk) {
      std::fprintf(stderr, "sbmt_predict: %zu / %zu rows\n", first + labels.size(), rows.size());
    }
  }
  if (!output.empty()) {
    file.close();
    if (!file) throw PredictError("--output=" + output + ": write failed");
    std::rename((output + ".partial").c_str(), output.c_str());
    std::fprintf(stderr, "sbmt_predict: wrote %zu predictions to %s\n", rows.size(),
                 output.c_str());
  }
}

}  // namespace

int main(int argc, char** argv) {
  sbmt::runtime::ReexecWithTunedLibraries(argv);
  CLI::App app("sbmt_predict: inference from an exported model directory");
  app.require_subcommand(1);
  std::string model_dir, attention;
  uint64_t seed = 0;
  int threads = 0;
  auto common = [&](CLI::App* command) {
    command
        ->add_option("--model", model_dir,
                     "exported model directory (config.json, "
                     "model.safetensors, vocab.txt)")
        ->required();
    command->add_option("--attention", attention,
                        "sbm, full, linformer or nystrom "
                        "(default: the model's)");
    command->add_option("--seed", seed, "keys SBM's sampled graphs")->capture_default_str();
    command->add_option("--threads", threads, "compute threads (0: all cores)");
  };
  CLI::App* fill = app.add_subcommand("fill-mask", "top-k tokens for each [MASK] in the text");
  common(fill);
  std::vector<std::string> texts;
  int top_k = 5;
  bool json = false;
  fill->add_option("--text", texts, "text with one or more [MASK] (repeatable)")->required();
  fill->add_option("--top-k", top_k, "candidates per mask")
      ->capture_default_str()
      ->check(CLI::Range(1, 1 << 20));
  fill->add_flag("--json", json, "one JSON list per mask of {token, id, score}");

  CLI::App* classify = app.add_subcommand("classify", "label every row of a GLUE task's file");
  common(classify);
  std::string task, input, output;
  int64_t batch = 32;
  bool skip_malformed = false;
  classify
      ->add_option("--task", task,
                   "GLUE task (cola, sst2, mrpc, stsb, qqp, mnli, qnli, rte, "
                   "wnli)")
      ->required();
  classify->add_option("--input", input, "a file in the task's layout")->required();
  classify->add_option("--output", output, "predictions file (default: standard output)");
  classify->add_option("--batch", batch, "rows per forward pass")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{1}, int64_t{1} << 20));
  classify->add_flag("--skip-malformed", skip_malformed,
                     "count and skip malformed rows instead of failing");
  CLI11_PARSE(app, argc, argv);
  try {
    if (threads > 0) sbmt::runtime::SetComputeThreads(threads);
    if (fill->parsed()) {
      FillMaskCommand(model_dir, attention, seed, texts, top_k, json);
    } else {
      ClassifyCommand(model_dir, attention, seed, task, input, output, batch, skip_malformed);
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "sbmt_predict: error: %s\n", e.what());
    return 1;
  }
  return 0;
}
