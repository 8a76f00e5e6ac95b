// The first readers of StepReport and EvalReport (proto/step_report.proto): the human log line
// and the metrics.jsonl file (one JSON object per line; fields in docs/METRICS.md).
//
//   StepLogFormatter lines(/*log_every=*/20);
//   if (auto line = lines.Add(report)) log(*line);   // every log_every steps and the last
//   MetricsJsonlWriter out(run_dir + "/metrics.jsonl");
//   out.Write(report);
#pragma once

#include <cstdint>
#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "proto/step_report.pb.h"

namespace sbmt::trainer {

// JSON objects of the reports: {"kind": "step" | "eval", ...} with the proto's field names.
nlohmann::json ToJson(const v1::StepReport& report);
nlohmann::json ToJson(const v1::EvalReport& report);

// Mean sampled density over every layer and head (1 for dense attention; 0 with none).
double MeanDensity(const google::protobuf::RepeatedPtrField<v1::HeadAttention>& heads);

// The step line, aggregated over the steps since the last line: loss and metrics of the last
// step, tokens/s over the window's wall time, mean density, exposed communication per step
// (world size > 1) and the ETA.
class StepLogFormatter {
 public:
  explicit StepLogFormatter(int64_t log_every) : log_every_(log_every) {}
  std::optional<std::string> Add(const v1::StepReport& report);

 private:
  int64_t log_every_;
  int64_t steps_ = 0, tokens_ = 0, steps_total_ = 0;
  double seconds_ = 0, exposed_ = 0, seconds_total_ = 0;
};

std::string FormatEvalLine(const v1::EvalReport& report);

// Appends one line per report to a file (a resumed run appends to the same file: the newest
// record of a step is the one that counts). Flushed after each line, so a killed run loses no
// finished step.
class MetricsJsonlWriter {
 public:
  explicit MetricsJsonlWriter(const std::string& path);
  void Write(const v1::StepReport& report);
  void Write(const v1::EvalReport& report);
  const std::string& path() const { return path_; }

 private:
  void WriteLine(const nlohmann::json& object);
  std::string path_;
  std::ofstream out_;
};

}  // namespace sbmt::trainer
