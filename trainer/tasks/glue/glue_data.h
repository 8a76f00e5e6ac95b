// The GLUE benchmark's tasks as the official distribution lays them out (the folders
// download_glue_data.py writes): which file holds which split, which columns hold the
// sentences and the label, the label strings, and each task's official metrics. Readers take the
// columns by the header's names, so extra columns do not matter, and follow the layout's quirks:
// CoLA's train and dev files have no header (source, label, original label, sentence); MNLI has
// two dev and two test files (matched, mismatched) and the AX diagnostic set; QQP has rows with
// missing fields; quotes are literal characters (the files are not CSV-quoted).
//
//   const GlueTaskSpec& spec = GlueSpec("mrpc");          // throws for an unknown name
//   GlueReadReport report;
//   std::vector<GlueExample> dev = ReadGlueFile(spec, "glue/MRPC/dev.tsv", /*labelled=*/true,
//                                               MalformedRows::kSkip, &report);
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace sbmt::trainer::glue {

struct GlueSplit {
  std::string name;  // "train", "dev", "dev_matched", "test_mismatched", "diagnostic", ...
  std::string file;  // relative to the task's folder
  bool labelled = true;
  std::string submission;  // the leaderboard's file stem: "MRPC", "MNLI-m", "AX"; dev too
};

struct GlueTaskSpec {
  std::string name;            // lower case: cola, sst2, mrpc, stsb, qqp, mnli, qnli, rte, wnli
  std::string folder;          // CoLA, SST-2, MRPC, STS-B, QQP, MNLI, QNLI, RTE, WNLI
  std::string text_a, text_b;  // column names; text_b empty for single sentences
  std::string label;           // column name of the label
  std::vector<std::string> labels;   // as GLUE spells them; empty: regression (STS-B)
  std::vector<std::string> metrics;  // e.g. {"f1", "accuracy"}
  std::vector<GlueSplit> splits;     // train first
  bool headerless = false;           // CoLA's labelled files
  bool regression() const { return labels.empty(); }
};

// Every task, in GLUE's order.
const std::vector<GlueTaskSpec>& GlueTasks();
// Throws Error(kInvalidArgument) naming the known tasks.
const GlueTaskSpec& GlueSpec(const std::string& name);

struct GlueExample {
  std::string index;  // the file's index or id column, else the row number from 0
  std::string text_a, text_b;
  std::string label;  // as spelled in the file; empty in unlabelled splits
  int64_t line = 0;   // 1-based line in the file
};

enum class MalformedRows { kFail, kSkip };

struct GlueReadReport {
  int64_t rows = 0, skipped = 0;
  std::vector<std::string> problems;  // "FILE:LINE: what", the first 20
};

// Throws Error naming FILE:LINE for a malformed row under kFail (wrong column count, empty
// sentence, a label outside the task's set or, for STS-B, not a number), and for a missing file
// or header column; under kSkip such rows are counted in `report` and left out.
std::vector<GlueExample> ReadGlueFile(const GlueTaskSpec& spec, const std::string& path,
                                      bool labelled, MalformedRows policy,
                                      GlueReadReport* report = nullptr);

// The task's official metrics of predictions against labels (both as GLUE spells them; STS-B
// scores as decimal text), in the task's order.
std::vector<std::pair<std::string, double>> ScoreGlue(const GlueTaskSpec& spec,
                                                      const std::vector<std::string>& predictions,
                                                      const std::vector<std::string>& labels);

}  // namespace sbmt::trainer::glue
