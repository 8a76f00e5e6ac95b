// glue_eval: a GLUE task's official metrics of a predictions file against a labels file.
//
//   glue_eval --task=mrpc --predictions=MRPC.tsv --labels=dev_labels.tsv
//   {"task": "mrpc", "n": 408, "f1": 0.8123, "accuracy": 0.7402}
//
// Both files: a header line, then `index<TAB>value` rows, values as GLUE spells them (labels
// such as 1, entailment; STS-B scores as decimals). Rows are matched by index; an index in one
// file only, a repeated index or a value outside the task's labels is an error naming it. A
// correlation of a constant series is NaN in SciPy, written here as null. When the labels' folder
// holds STANDIN.txt (a stand-in for the task), its line is added as "standin".
#include <CLI/CLI.hpp>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "runtime/error.h"
#include "trainer/tasks/glue/glue_data.h"

namespace {

using sbmt::Error;
using sbmt::ErrorCode;

// index -> value, in file order of first appearance.
std::vector<std::pair<std::string, std::string>> ReadIndexed(const std::string& flag,
                                                             const std::string& path) {
  std::ifstream in(path);
  if (!in) throw Error(ErrorCode::kNotFound, flag + "=" + path + ": cannot read");
  std::string line;
  std::getline(in, line);  // header
  std::vector<std::pair<std::string, std::string>> rows;
  std::map<std::string, int64_t> seen;
  for (int64_t number = 2; std::getline(in, line); ++number) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty()) continue;
    const size_t tab = line.find('\t');
    const std::string where = flag + "=" + path + ":" + std::to_string(number) + ": ";
    if (tab == std::string::npos || line.find('\t', tab + 1) != std::string::npos) {
      throw Error(ErrorCode::kInvalidArgument, where + "expected index<TAB>value");
    }
    const std::string index = line.substr(0, tab);
    if (const auto [it, fresh] = seen.emplace(index, number); !fresh) {
      throw Error(ErrorCode::kInvalidArgument,
                  where + "index " + index + " repeats line " + std::to_string(it->second));
    }
    rows.emplace_back(index, line.substr(tab + 1));
  }
  return rows;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app("GLUE official metrics of predictions against labels");
  std::string task, predictions_path, labels_path;
  app.add_option("--task", task, "cola, sst2, mrpc, stsb, qqp, mnli, qnli, rte, wnli")->required();
  app.add_option("--predictions", predictions_path, "index<TAB>prediction, with a header")
      ->required();
  app.add_option("--labels", labels_path, "index<TAB>label, with a header")->required();
  CLI11_PARSE(app, argc, argv);
  try {
    const sbmt::trainer::glue::GlueTaskSpec& spec = sbmt::trainer::glue::GlueSpec(task);
    const auto labels = ReadIndexed("--labels", labels_path);
    const auto predicted = ReadIndexed("--predictions", predictions_path);
    std::map<std::string, std::string> by_index(predicted.begin(), predicted.end());
    std::vector<std::string> p, l;
    for (const auto& [index, label] : labels) {
      const auto it = by_index.find(index);
      if (it == by_index.end()) {
        throw Error(ErrorCode::kInvalidArgument,
                    "--predictions=" + predictions_path + ": no prediction for index " + index);
      }
      p.push_back(it->second);
      l.push_back(label);
      by_index.erase(it);
    }
    if (!by_index.empty()) {
      throw Error(ErrorCode::kInvalidArgument, "--predictions=" + predictions_path + ": index " +
                                                   by_index.begin()->first + " has no label in " +
                                                   labels_path);
    }
    for (const auto* values : {&p, &l}) {
      for (const std::string& v : *values) {
        const bool ok =
            spec.regression()
                ? !v.empty() && v.find_first_not_of("0123456789.-+eE") == std::string::npos
                : std::find(spec.labels.begin(), spec.labels.end(), v) != spec.labels.end();
        if (!ok) {
          throw Error(ErrorCode::kInvalidArgument, (values == &p ? predictions_path : labels_path) +
                                                       ": value '" + v + "' is not a " + spec.name +
                                                       " label");
        }
      }
    }
    nlohmann::ordered_json out = {{"task", spec.name}, {"n", l.size()}};
    for (const auto& [metric, value] : sbmt::trainer::glue::ScoreGlue(spec, p, l)) {
      out[metric] = std::isfinite(value) ? nlohmann::ordered_json(value) : nullptr;
    }
    // A stand-in's labels folder says what the data really is (GlueTask writes STANDIN.txt).
    std::ifstream standin(std::filesystem::path(labels_path).parent_path() / "STANDIN.txt");
    if (std::string what; standin && std::getline(standin, what)) out["standin"] = what;
    std::printf("%s\n", out.dump().c_str());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "glue_eval: error: %s\n", e.what());
    return 1;
  }
  return 0;
}
