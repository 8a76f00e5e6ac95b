#include "trainer/train/report_sinks.h"

#include <cmath>
#include <cstdio>
#include <filesystem>

#include "runtime/error.h"

namespace sbmt::trainer {
namespace {

nlohmann::json HeadsJson(const google::protobuf::RepeatedPtrField<v1::HeadAttention>& heads) {
  nlohmann::json out = nlohmann::json::array();
  for (const v1::HeadAttention& h : heads) {
    out.push_back({{"layer", h.layer()},
                   {"head", h.head()},
                   {"edges", h.edges()},
                   {"density", h.density()},
                   {"expected_density", h.expected_density()}});
  }
  return out;
}

nlohmann::json MetricsJson(const google::protobuf::Map<std::string, double>& metrics) {
  nlohmann::json out = nlohmann::json::object();
  for (const auto& [name, value] : metrics) out[name] = value;
  return out;
}

// JSON has no NaN or infinity: non-finite numbers are written as null (nlohmann's default).
std::string Clock(double seconds) {
  const long s = std::isfinite(seconds) ? static_cast<long>(seconds + 0.5) : 0;
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%ld:%02ld:%02ld", s / 3600, (s / 60) % 60, s % 60);
  return buf;
}

std::string MetricsText(const google::protobuf::Map<std::string, double>& metrics) {
  std::map<std::string, double> sorted(metrics.begin(), metrics.end());
  std::string out;
  char buf[96];
  for (const auto& [name, value] : sorted) {
    std::snprintf(buf, sizeof(buf), " | %s %.3f", name.c_str(), value);
    out += buf;
  }
  return out;
}

}  // namespace

double MeanDensity(const google::protobuf::RepeatedPtrField<v1::HeadAttention>& heads) {
  if (heads.empty()) return 0;
  double sum = 0;
  for (const v1::HeadAttention& h : heads) sum += h.density();
  return sum / heads.size();
}

nlohmann::json ToJson(const v1::StepReport& r) {
  const v1::PhaseSeconds& p = r.phases();
  return {{"kind", "step"},
          {"step", r.step()},
          {"total_steps", r.total_steps()},
          {"task", r.task()},
          {"epoch", r.epoch()},
          {"tokens", r.tokens()},
          {"sequences", r.sequences()},
          {"loss", r.loss()},
          {"metrics", MetricsJson(r.metrics())},
          {"learning_rate", r.learning_rate()},
          {"grad_norm", r.grad_norm()},
          {"skipped", r.skipped()},
          {"skip_reason", r.skip_reason()},
          {"skipped_steps", r.skipped_steps()},
          {"step_seconds", r.step_seconds()},
          {"phases",
           {{"data", p.data()},
            {"forward", p.forward()},
            {"backward", p.backward()},
            {"exposed_comm", p.exposed_comm()},
            {"optimizer", p.optimizer()},
            {"checkpoint", p.checkpoint()}}},
          {"allreduce_seconds", r.allreduce_seconds()},
          {"allreduce_bytes", r.allreduce_bytes()},
          {"attention", HeadsJson(r.attention())},
          {"world_size", r.world_size()},
          {"unix_time", r.unix_time()},
          {"checkpoint", r.checkpoint()}};
}

nlohmann::json ToJson(const v1::EvalReport& r) {
  return {{"kind", "eval"},
          {"step", r.step()},
          {"task", r.task()},
          {"loss", r.loss()},
          {"metrics", MetricsJson(r.metrics())},
          {"sequences", r.sequences()},
          {"seconds", r.seconds()},
          {"attention", HeadsJson(r.attention())},
          {"unix_time", r.unix_time()}};
}

std::optional<std::string> StepLogFormatter::Add(const v1::StepReport& r) {
  ++steps_;
  ++steps_total_;
  tokens_ += r.tokens();
  seconds_ += r.step_seconds();
  seconds_total_ += r.step_seconds();
  exposed_ += r.phases().exposed_comm();
  if (r.step() % log_every_ != 0 && r.step() != r.total_steps()) return std::nullopt;
  std::string comm;
  char buf[512];
  if (r.world_size() > 1) {
    std::snprintf(buf, sizeof(buf), " | comm exposed %.0f ms/step", 1000 * exposed_ / steps_);
    comm = buf;
  }
  std::string skipped;
  if (r.skipped_steps() > 0) {
    skipped = " | skipped " + std::to_string(r.skipped_steps()) +
              (r.skipped() ? " (" + r.skip_reason() + ")" : "");
  }
  const double eta =
      seconds_total_ / steps_total_ * static_cast<double>(r.total_steps() - r.step());
  std::snprintf(buf, sizeof(buf),
                "step %lld/%lld | loss %.4f%s | %.0f tok/s | lr %.2e | density %.3f%s%s | ETA %s",
                static_cast<long long>(r.step()), static_cast<long long>(r.total_steps()), r.loss(),
                MetricsText(r.metrics()).c_str(),
                seconds_ > 0 ? static_cast<double>(tokens_) / seconds_ : 0.0, r.learning_rate(),
                MeanDensity(r.attention()), comm.c_str(), skipped.c_str(), Clock(eta).c_str());
  steps_ = 0;
  tokens_ = 0;
  seconds_ = 0;
  exposed_ = 0;
  return std::string(buf);
}

std::string FormatEvalLine(const v1::EvalReport& r) {
  char buf[512];
  std::snprintf(buf, sizeof(buf), "eval step %lld | loss %.4f%s", static_cast<long long>(r.step()),
                r.loss(), MetricsText(r.metrics()).c_str());
  return buf;
}

MetricsJsonlWriter::MetricsJsonlWriter(const std::string& path) : path_(path) {
  std::error_code ec;
  std::filesystem::create_directories(std::filesystem::path(path).parent_path(), ec);
  out_.open(path, std::ios::app);
  if (!out_) throw Error(ErrorCode::kNotFound, path + ": cannot open for appending");
}

void MetricsJsonlWriter::WriteLine(const nlohmann::json& object) {
  out_ << object.dump() << '\n';
  out_.flush();
  if (!out_) throw Error(ErrorCode::kUnavailable, path_ + ": write failed (disk full?)");
}

void MetricsJsonlWriter::Write(const v1::StepReport& report) { WriteLine(ToJson(report)); }
void MetricsJsonlWriter::Write(const v1::EvalReport& report) { WriteLine(ToJson(report)); }

}  // namespace sbmt::trainer
