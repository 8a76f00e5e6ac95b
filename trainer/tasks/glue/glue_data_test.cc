// The GLUE readers on fixtures in the official layout of every task (quirks included), and the
// metrics against an independent implementation (testdata/README.md says how it was made).
#include "trainer/tasks/glue/glue_data.h"

#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>

#include "runtime/error.h"
#include "trainer/tasks/glue/glue_metrics.h"

namespace sbmt::trainer::glue {
namespace {

const std::string kRoot = "trainer/tasks/glue/testdata/glue/";

std::vector<GlueExample> Read(const std::string& task, const std::string& split) {
  const GlueTaskSpec& spec = GlueSpec(task);
  for (const GlueSplit& s : spec.splits) {
    if (s.name == split) {
      return ReadGlueFile(spec, kRoot + spec.folder + "/" + s.file, s.labelled,
                          MalformedRows::kFail);
    }
  }
  ADD_FAILURE() << task << " has no split " << split;
  return {};
}

TEST(GlueData, EveryTaskAndSplitOfTheOfficialLayoutReads) {
  const std::map<std::string, std::vector<int>> counts = {
      {"cola", {3, 2, 1}}, {"sst2", {2, 1, 1}}, {"mrpc", {2, 1, 1}}, {"stsb", {2, 1, 1}},
      {"qnli", {2, 1, 1}}, {"rte", {1, 1, 1}},  {"wnli", {2, 1, 1}}, {"mnli", {2, 1, 2, 1, 1, 1}}};
  for (const auto& [task, expected] : counts) {
    const GlueTaskSpec& spec = GlueSpec(task);
    ASSERT_EQ(spec.splits.size(), expected.size()) << task;
    for (size_t i = 0; i < expected.size(); ++i) {
      EXPECT_EQ(static_cast<int>(Read(task, spec.splits[i].name).size()), expected[i])
          << task << " " << spec.splits[i].name;
    }
  }
}

TEST(GlueData, ColumnsLabelsAndQuirks) {
  // CoLA: headerless labelled files; the sentence is the fourth column.
  const auto cola = Read("cola", "train");
  EXPECT_EQ(cola[1].text_a, "They drank the pub.");
  EXPECT_EQ(cola[1].label, "0");
  EXPECT_EQ(cola[2].text_a, "The \"quoted\" word stays as it is.");  // quotes are literal
  EXPECT_EQ(Read("cola", "test")[0].text_a, "Bill whistled past the house.");
  // MRPC: label in "Quality", the pair in "#1 String" / "#2 String".
  const auto mrpc = Read("mrpc", "train");
  EXPECT_EQ(mrpc[0].label, "1");
  EXPECT_EQ(mrpc[0].text_b,
            "Referring to him as only \" the witness \" , Amrozi accused his brother .");
  EXPECT_EQ(Read("mrpc", "test")[0].index, "0");
  // STS-B: a float score; test files have none.
  EXPECT_EQ(Read("stsb", "train")[1].label, "3.800");
  EXPECT_EQ(Read("stsb", "test")[0].label, "");
  // MNLI: gold_label, not label1; the mismatched dev file; the AX diagnostic set.
  EXPECT_EQ(Read("mnli", "dev_matched")[0].label, "neutral");
  EXPECT_EQ(Read("mnli", "dev_mismatched")[0].label, "contradiction");
  const auto ax = Read("mnli", "diagnostic");
  EXPECT_EQ(ax[0].text_b, "The cat did not sit on the mat.");
  EXPECT_EQ(GlueSpec("mnli").splits.back().submission, "AX");
  EXPECT_EQ(Read("qnli", "train")[1].label, "not_entailment");
  EXPECT_EQ(GlueSpec("SST-2").name, "sst2");  // GLUE's spelling is accepted
}

TEST(GlueData, MalformedRowsFailOrAreCountedAndSkipped) {
  const GlueTaskSpec& qqp = GlueSpec("qqp");
  const std::string path = kRoot + "QQP/train.tsv";
  try {
    ReadGlueFile(qqp, path, true, MalformedRows::kFail);
    ADD_FAILURE() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(path + ":4: expected 6 tab-separated fields, got 3"),
              std::string::npos)
        << e.what();
  }
  GlueReadReport report;
  const auto rows = ReadGlueFile(qqp, path, true, MalformedRows::kSkip, &report);
  EXPECT_EQ(rows.size(), 2u);
  EXPECT_EQ(report.rows, 3);
  EXPECT_EQ(report.skipped, 1);
  ASSERT_EQ(report.problems.size(), 1u);
  EXPECT_NE(report.problems[0].find("QQP/train.tsv:4:"), std::string::npos);
  // A label outside the task's set, and a file of another task.
  EXPECT_THROW(ReadGlueFile(GlueSpec("rte"), kRoot + "WNLI/train.tsv", true, MalformedRows::kFail),
               Error);
  EXPECT_THROW(
      ReadGlueFile(GlueSpec("mrpc"), kRoot + "SST-2/train.tsv", true, MalformedRows::kFail), Error);
  try {
    GlueSpec("squad");
    ADD_FAILURE();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("unknown GLUE task 'squad'; expected one of cola, sst2"),
              std::string::npos);
  }
}

TEST(GlueMetrics, AgreeWithTheIndependentImplementation) {
  std::ifstream in("trainer/tasks/glue/testdata/metrics_cases.json");
  ASSERT_TRUE(in);
  const nlohmann::json cases = nlohmann::json::parse(in);
  ASSERT_GE(cases.size(), 9u);
  for (const auto& c : cases) {
    const auto scores = ScoreGlue(GlueSpec(c["task"]), c["predictions"], c["labels"]);
    ASSERT_EQ(scores.size(), c["expected"].size()) << c["note"];
    for (const auto& [metric, value] : scores) {
      const nlohmann::json& want = c["expected"][metric];
      if (want.is_null()) {
        EXPECT_TRUE(std::isnan(value)) << c["note"] << " " << metric;
      } else {
        EXPECT_NEAR(value, want.get<double>(), 1e-12) << c["note"] << " " << metric;
      }
    }
  }
}

TEST(GlueMetrics, AverageRanksShareTies) {
  EXPECT_EQ(AverageRanks({3.0, 1.0, 3.0, 2.0}), (std::vector<double>{3.5, 1.0, 3.5, 2.0}));
}

}  // namespace
}  // namespace sbmt::trainer::glue
