#include "trainer/tasks/glue/glue_data.h"

#include <algorithm>
#include <fstream>
#include <sstream>

#include "runtime/error.h"
#include "trainer/tasks/glue/glue_metrics.h"

namespace sbmt::trainer::glue {
namespace {

std::vector<GlueTaskSpec> MakeTasks() {
  const std::vector<std::string> binary = {"0", "1"};
  const std::vector<std::string> entailment = {"entailment", "not_entailment"};
  auto splits = [](const std::string& submission) {
    return std::vector<GlueSplit>{{"train", "train.tsv", true, ""},
                                  {"dev", "dev.tsv", true, submission},
                                  {"test", "test.tsv", false, submission}};
  };
  std::vector<GlueTaskSpec> tasks;
  // CoLA's labelled files: source, label, original label (or empty), sentence; no header.
  tasks.push_back({"cola", "CoLA", "3", "", "1", binary, {"mcc"}, splits("CoLA"), true});
  tasks.push_back(
      {"sst2", "SST-2", "sentence", "", "label", binary, {"accuracy"}, splits("SST-2"), false});
  tasks.push_back({"mrpc",
                   "MRPC",
                   "#1 String",
                   "#2 String",
                   "Quality",
                   binary,
                   {"f1", "accuracy"},
                   splits("MRPC"),
                   false});
  tasks.push_back({"stsb",
                   "STS-B",
                   "sentence1",
                   "sentence2",
                   "score",
                   {},
                   {"pearson", "spearman"},
                   splits("STS-B"),
                   false});
  tasks.push_back({"qqp",
                   "QQP",
                   "question1",
                   "question2",
                   "is_duplicate",
                   binary,
                   {"f1", "accuracy"},
                   splits("QQP"),
                   false});
  tasks.push_back({"mnli",
                   "MNLI",
                   "sentence1",
                   "sentence2",
                   "gold_label",
                   {"contradiction", "entailment", "neutral"},
                   {"accuracy"},
                   {{"train", "train.tsv", true, ""},
                    {"dev_matched", "dev_matched.tsv", true, "MNLI-m"},
                    {"dev_mismatched", "dev_mismatched.tsv", true, "MNLI-mm"},
                    {"test_matched", "test_matched.tsv", false, "MNLI-m"},
                    {"test_mismatched", "test_mismatched.tsv", false, "MNLI-mm"},
                    {"diagnostic", "../diagnostic/diagnostic.tsv", false, "AX"}},
                   false});
  tasks.push_back({"qnli",
                   "QNLI",
                   "question",
                   "sentence",
                   "label",
                   entailment,
                   {"accuracy"},
                   splits("QNLI"),
                   false});
  tasks.push_back({"rte",
                   "RTE",
                   "sentence1",
                   "sentence2",
                   "label",
                   entailment,
                   {"accuracy"},
                   splits("RTE"),
                   false});
  tasks.push_back({"wnli",
                   "WNLI",
                   "sentence1",
                   "sentence2",
                   "label",
                   binary,
                   {"accuracy"},
                   splits("WNLI"),
                   false});
  return tasks;
}

std::vector<std::string> SplitTabs(const std::string& line) {
  std::vector<std::string> fields;
  size_t start = 0;
  while (true) {
    const size_t tab = line.find('\t', start);
    fields.push_back(
        line.substr(start, tab == std::string::npos ? std::string::npos : tab - start));
    if (tab == std::string::npos) break;
    start = tab + 1;
  }
  if (!fields.empty() && !fields.back().empty() && fields.back().back() == '\r') {
    fields.back().pop_back();  // files edited on Windows
  }
  return fields;
}

// Column `name` of the header, or -1.
int Column(const std::vector<std::string>& header, const std::string& name) {
  const auto it = std::find(header.begin(), header.end(), name);
  return it == header.end() ? -1 : static_cast<int>(it - header.begin());
}

bool IsNumber(const std::string& text) {
  if (text.empty()) return false;
  std::istringstream in(text);
  double value;
  in >> value;
  return !in.fail() && in.eof();
}

}  // namespace

const std::vector<GlueTaskSpec>& GlueTasks() {
  static const std::vector<GlueTaskSpec> tasks = MakeTasks();
  return tasks;
}

const GlueTaskSpec& GlueSpec(const std::string& name) {
  std::string lower = name;
  std::transform(lower.begin(), lower.end(), lower.begin(), ::tolower);
  lower.erase(std::remove(lower.begin(), lower.end(), '-'), lower.end());
  std::string known;
  for (const GlueTaskSpec& t : GlueTasks()) {
    if (t.name == lower) return t;
    known += (known.empty() ? "" : ", ") + t.name;
  }
  throw Error(ErrorCode::kInvalidArgument,
              "unknown GLUE task '" + name + "'; expected one of " + known);
}

std::vector<GlueExample> ReadGlueFile(const GlueTaskSpec& spec, const std::string& path,
                                      bool labelled, MalformedRows policy, GlueReadReport* report) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(ErrorCode::kNotFound, path + ": cannot read");
  GlueReadReport local;
  GlueReadReport& r = report ? *report : local;
  const bool headerless = spec.headerless && labelled;
  int a = -1, b = -1, label = -1, index = -1;
  size_t columns = 0;
  std::string line;
  int64_t line_number = 0;
  if (headerless) {
    a = std::stoi(spec.text_a);
    label = std::stoi(spec.label);
    columns = 4;
  } else {
    if (!std::getline(in, line)) throw Error(ErrorCode::kInvalidArgument, path + ": empty file");
    line_number = 1;
    const std::vector<std::string> header = SplitTabs(line);
    columns = header.size();
    // Unlabelled CoLA files name their sentence column "sentence".
    a = Column(header, spec.headerless ? "sentence" : spec.text_a);
    b = spec.text_b.empty() ? -1 : Column(header, spec.text_b);
    label = labelled ? Column(header, spec.label) : -1;
    index = Column(header, "index") >= 0 ? Column(header, "index") : Column(header, "id");
    auto missing = [&](const std::string& name) {
      throw Error(ErrorCode::kInvalidArgument, path + ":1: header has no column '" + name +
                                                   "' (is this a " + spec.folder + " file?)");
    };
    if (a < 0) missing(spec.headerless ? "sentence" : spec.text_a);
    if (!spec.text_b.empty() && b < 0) missing(spec.text_b);
    if (labelled && label < 0) missing(spec.label);
  }
  std::vector<GlueExample> out;
  while (std::getline(in, line)) {
    ++line_number;
    if (line.empty() || line == "\r") continue;
    ++r.rows;
    const std::vector<std::string> f = SplitTabs(line);
    std::string problem;
    GlueExample e;
    e.line = line_number;
    if (f.size() != columns) {
      problem = "expected " + std::to_string(columns) + " tab-separated fields, got " +
                std::to_string(f.size());
    } else {
      e.text_a = f[a];
      if (b >= 0) e.text_b = f[b];
      if (label >= 0) e.label = f[label];
      e.index = index >= 0 ? f[index] : std::to_string(out.size() + r.skipped);
      if (e.text_a.empty() || (b >= 0 && e.text_b.empty())) {
        problem = "empty sentence";
      } else if (labelled && spec.regression() && !IsNumber(e.label)) {
        problem = "label '" + e.label + "' is not a number";
      } else if (labelled && !spec.regression() &&
                 std::find(spec.labels.begin(), spec.labels.end(), e.label) == spec.labels.end()) {
        std::string set;
        for (const std::string& l : spec.labels) set += (set.empty() ? "" : ", ") + l;
        problem = "label '" + e.label + "' is not one of " + set;
      }
    }
    if (problem.empty()) {
      out.push_back(std::move(e));
      continue;
    }
    const std::string where = path + ":" + std::to_string(line_number) + ": " + problem;
    if (policy == MalformedRows::kFail) {
      throw Error(ErrorCode::kInvalidArgument, where + " (skip such rows with the skip policy)");
    }
    ++r.skipped;
    if (r.problems.size() < 20) r.problems.push_back(where);
  }
  return out;
}

std::vector<std::pair<std::string, double>> ScoreGlue(const GlueTaskSpec& spec,
                                                      const std::vector<std::string>& predictions,
                                                      const std::vector<std::string>& labels) {
  std::vector<std::pair<std::string, double>> scores;
  std::vector<double> x, y;
  if (spec.regression()) {
    for (const std::string& p : predictions) x.push_back(std::stod(p));
    for (const std::string& l : labels) y.push_back(std::stod(l));
  }
  for (const std::string& metric : spec.metrics) {
    if (metric == "accuracy") scores.emplace_back(metric, Accuracy(predictions, labels));
    if (metric == "f1") scores.emplace_back(metric, F1(predictions, labels, "1"));
    if (metric == "mcc") scores.emplace_back(metric, MatthewsCorrelation(predictions, labels, "1"));
    if (metric == "pearson") scores.emplace_back(metric, Pearson(x, y));
    if (metric == "spearman") scores.emplace_back(metric, Spearman(x, y));
  }
  return scores;
}

}  // namespace sbmt::trainer::glue
