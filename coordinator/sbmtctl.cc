// sbmtctl: the operator's command line for the coordinator.
//
//   sbmtctl submit SPEC.yaml          prints the job id
//   sbmtctl list
//   sbmtctl describe JOB [--json]     state, attempts, restarts and reasons, last checkpoint
//   sbmtctl cancel JOB
//   sbmtctl watch JOB                 live progress; exit 0 when the job succeeds, 1 otherwise
//   sbmtctl logs JOB                  the latest attempt's output (coordinator on this host)
//
// --address (or $SBMT_COORDINATOR, default 127.0.0.1:7070), --token-file (or
// $SBMT_TOKEN_FILE), and for TLS --tls-ca [--tls-cert --tls-key].
#include <google/protobuf/util/json_util.h>
#include <grpcpp/grpcpp.h>
#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <CLI/CLI.hpp>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <set>
#include <sstream>

#include "proto/coordinator.grpc.pb.h"
#include "runtime/text_file.h"

namespace {

namespace v1 = sbmt::coordinator::v1;

struct Failure : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// The job spec from YAML; every key is known, and errors name the file and key.
v1::JobSpec ReadSpec(const std::string& path) {
  YAML::Node root;
  try {
    root = YAML::LoadFile(path);
  } catch (const YAML::Exception& e) {
    throw Failure(path + ": " + e.what());
  }
  if (!root.IsMap()) throw Failure(path + ": expected a mapping of job spec keys");
  v1::JobSpec spec;
  for (const auto& item : root) {
    const std::string key = item.first.as<std::string>();
    const YAML::Node& value = item.second;
    try {
      if (key == "name") {
        spec.set_name(value.as<std::string>());
      } else if (key == "config") {
        spec.set_config(value.as<std::string>());
      } else if (key == "overrides") {
        if (value.IsMap()) {
          for (const auto& o : value) {
            spec.add_overrides(o.first.as<std::string>() + "=" + o.second.as<std::string>());
          }
        } else {
          for (const auto& o : value) spec.add_overrides(o.as<std::string>());
        }
      } else if (key == "world_size") {
        spec.set_world_size(value.as<int>());
      } else if (key == "max_restarts") {
        spec.set_max_restarts(value.as<int>());
      } else if (key == "priority") {
        spec.set_priority(value.as<int>());
      } else if (key == "collective_timeout_s") {
        spec.set_collective_timeout_s(value.as<double>());
      } else if (key == "preemption_grace_s") {
        spec.set_preemption_grace_s(value.as<double>());
      } else if (key == "checkpoint_every") {
        spec.set_checkpoint_every(value.as<int64_t>());
      } else {
        throw Failure(path + ": unknown key '" + key +
                      "' (name, config, overrides, world_size, max_restarts, priority, "
                      "checkpoint_every, collective_timeout_s, preemption_grace_s)");
      }
    } catch (const YAML::Exception& e) {
      throw Failure(path + ": " + key + ": " + e.what());
    }
  }
  // A relative worker config is relative to the spec, as the operator wrote it.
  if (!spec.config().empty() && spec.config()[0] != '/') {
    const std::string dir =
        path.find('/') == std::string::npos ? "." : path.substr(0, path.rfind('/'));
    const std::filesystem::path relative_to_spec = std::filesystem::path(dir) / spec.config();
    if (std::filesystem::exists(relative_to_spec)) {
      spec.set_config(std::filesystem::absolute(relative_to_spec).lexically_normal().string());
    }
  }
  return spec;
}

std::string Duration(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return "?";
  const long s = std::lround(seconds);
  char out[32];
  std::snprintf(out, sizeof out, "%ld:%02ld:%02ld", s / 3600, s / 60 % 60, s % 60);
  return out;
}

std::string ProgressLine(const v1::Job& job, const v1::JobEvent& e, double* started) {
  const sbmt::v1::StepReport& r = e.report();
  if (*started == 0) *started = e.unix_time();
  char line[256];
  const double rate = r.step_seconds() > 0 ? r.tokens() / r.step_seconds() : 0;
  const double eta = r.step_seconds() * static_cast<double>(r.total_steps() - r.step());
  std::snprintf(line, sizeof line, "step %lld/%lld | loss %.4f | %.0f tok/s | ETA %s | restarts %d",
                static_cast<long long>(r.step()), static_cast<long long>(r.total_steps()), r.loss(),
                rate, Duration(eta).c_str(), job.restarts());
  return line;
}

class Client {
 public:
  Client(const std::string& address, const std::string& token_file, const std::string& tls_ca,
         const std::string& tls_cert, const std::string& tls_key) {
    if (token_file.empty()) {
      throw Failure("no token: pass --token-file or set SBMT_TOKEN_FILE");
    }
    token_ = sbmt::runtime::ReadTokenFile(token_file, "--token-file");
    std::shared_ptr<grpc::ChannelCredentials> credentials = grpc::InsecureChannelCredentials();
    if (!tls_ca.empty()) {
      grpc::SslCredentialsOptions ssl;
      ssl.pem_root_certs = sbmt::runtime::ReadTextFile(tls_ca, "--tls-ca");
      if (!tls_cert.empty()) {
        ssl.pem_cert_chain = sbmt::runtime::ReadTextFile(tls_cert, "--tls-cert");
        ssl.pem_private_key = sbmt::runtime::ReadTextFile(tls_key, "--tls-key");
      }
      credentials = grpc::SslCredentials(ssl);
    }
    stub_ = v1::Coordinator::NewStub(grpc::CreateChannel(address, credentials));
    address_ = address;
  }

  std::unique_ptr<grpc::ClientContext> Context(double deadline_s = 30) const {
    auto c = std::make_unique<grpc::ClientContext>();
    c->AddMetadata("authorization", "Bearer " + token_);
    if (deadline_s > 0) {
      c->set_deadline(std::chrono::system_clock::now() +
                      std::chrono::milliseconds(static_cast<int64_t>(deadline_s * 1000)));
    }
    return c;
  }

  void Check(const grpc::Status& s) const {
    if (s.ok()) return;
    static const char* names[] = {"OK",
                                  "CANCELLED",
                                  "UNKNOWN",
                                  "INVALID_ARGUMENT",
                                  "DEADLINE_EXCEEDED",
                                  "NOT_FOUND",
                                  "ALREADY_EXISTS",
                                  "PERMISSION_DENIED",
                                  "RESOURCE_EXHAUSTED",
                                  "FAILED_PRECONDITION",
                                  "ABORTED",
                                  "OUT_OF_RANGE",
                                  "UNIMPLEMENTED",
                                  "INTERNAL",
                                  "UNAVAILABLE",
                                  "DATA_LOSS",
                                  "UNAUTHENTICATED"};
    const int code = static_cast<int>(s.error_code());
    throw Failure(std::string(code >= 0 && code <= 16 ? names[code] : "ERROR") + ": " +
                  s.error_message() +
                  (s.error_code() == grpc::StatusCode::UNAVAILABLE
                       ? " (is sbmt_coordinator running at " + address_ + "?)"
                       : ""));
  }

  v1::Coordinator::Stub& stub() { return *stub_; }

 private:
  std::string token_, address_;
  std::unique_ptr<v1::Coordinator::Stub> stub_;
};

void PrintJob(const v1::Job& job) {
  const v1::JobSpec& s = job.spec();
  std::printf("job %s (%s): %s%s\n", job.id().c_str(), s.name().c_str(),
              v1::JobState_Name(job.state()).c_str(),
              job.reason().empty() ? "" : (" -- " + job.reason()).c_str());
  std::printf("  config %s, %d ranks, max_restarts %d, priority %d\n", s.config().c_str(),
              s.world_size(), s.max_restarts(), s.priority());
  for (const std::string& o : s.overrides()) std::printf("  --set %s\n", o.c_str());
  if (job.has_last_report()) {
    std::printf("  step %lld/%lld, loss %.4f\n", static_cast<long long>(job.last_report().step()),
                static_cast<long long>(job.last_report().total_steps()), job.last_report().loss());
  }
  std::printf("  last committed step %lld%s\n", static_cast<long long>(job.last_committed_step()),
              job.last_checkpoint().empty() ? "" : (" (" + job.last_checkpoint() + ")").c_str());
  std::printf("  restarts %d\n", job.restarts());
  for (const v1::Attempt& a : job.attempts()) {
    std::string hosts;
    for (const std::string& h : a.hosts()) hosts += (hosts.empty() ? "" : " ") + h;
    std::printf("  attempt %d on %s, from step %lld%s\n    log %s\n", a.number(), hosts.c_str(),
                static_cast<long long>(a.resumed_from_step()),
                a.end_reason().empty() ? ", running" : (": " + a.end_reason()).c_str(),
                a.log_path().c_str());
  }
  for (const v1::Incident& i : job.incidents()) {
    std::printf(
        "  incident (attempt %d): %s; detected after %.1f s, restarted after %.1f s, "
        "%lld steps recomputed\n",
        i.attempt(), i.reason().c_str(), i.detection_latency_s(), i.restart_latency_s(),
        static_cast<long long>(i.steps_recomputed()));
  }
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app("sbmtctl: submit, list, describe, cancel and watch sbmt jobs");
  app.require_subcommand(1);
  const char* env_address = std::getenv("SBMT_COORDINATOR");
  const char* env_token = std::getenv("SBMT_TOKEN_FILE");
  std::string address = env_address ? env_address : "127.0.0.1:7070";
  std::string token_file = env_token ? env_token : "";
  std::string tls_ca, tls_cert, tls_key;
  app.add_option("--address", address, "coordinator HOST:PORT ($SBMT_COORDINATOR)");
  app.add_option("--token-file", token_file, "bearer token ($SBMT_TOKEN_FILE)");
  app.add_option("--tls-ca", tls_ca, "CA of the coordinator's certificate: use TLS");
  app.add_option("--tls-cert", tls_cert, "client certificate for mutual TLS");
  app.add_option("--tls-key", tls_key, "client key for mutual TLS");
  std::string spec_path, job_id;
  bool json = false;
  CLI::App* submit = app.add_subcommand("submit", "submit a job spec (YAML); prints the job id");
  submit->add_option("spec", spec_path, "job spec YAML")->required();
  app.add_subcommand("list", "all jobs");
  CLI::App* describe = app.add_subcommand("describe", "a job's state, attempts and checkpoint");
  describe->add_option("job", job_id)->required();
  describe->add_flag("--json", json, "the Job message as JSON");
  CLI::App* cancel = app.add_subcommand("cancel", "stop a job (its workers commit and exit)");
  cancel->add_option("job", job_id)->required();
  CLI::App* watch = app.add_subcommand("watch", "follow a job until it ends");
  watch->add_option("job", job_id)->required();
  CLI::App* logs = app.add_subcommand("logs", "the latest attempt's output");
  logs->add_option("job", job_id)->required();
  CLI11_PARSE(app, argc, argv);

  try {
    Client client(address, token_file, tls_ca, tls_cert, tls_key);
    if (submit->parsed()) {
      v1::SubmitJobRequest request;
      *request.mutable_spec() = ReadSpec(spec_path);
      v1::SubmitJobReply reply;
      client.Check(client.stub().SubmitJob(client.Context().get(), request, &reply));
      std::printf("%s\n", reply.job_id().c_str());
    } else if (app.got_subcommand("list")) {
      v1::ListJobsReply reply;
      client.Check(client.stub().ListJobs(client.Context().get(), {}, &reply));
      std::printf("%-10s %-20s %-10s %5s %12s %8s\n", "ID", "NAME", "STATE", "RANKS", "STEP",
                  "RESTARTS");
      for (const v1::Job& j : reply.jobs()) {
        const std::string step = std::to_string(j.last_report().step()) + "/" +
                                 std::to_string(j.last_report().total_steps());
        std::printf("%-10s %-20s %-10s %5d %12s %8d\n", j.id().c_str(), j.spec().name().c_str(),
                    v1::JobState_Name(j.state()).c_str(), j.spec().world_size(), step.c_str(),
                    j.restarts());
      }
    } else if (describe->parsed() || logs->parsed()) {
      v1::JobRequest request;
      request.set_job_id(job_id);
      v1::Job job;
      client.Check(client.stub().DescribeJob(client.Context().get(), request, &job));
      if (logs->parsed()) {
        if (job.attempts().empty()) throw Failure("job " + job_id + " has not started yet");
        const std::string& path = job.attempts(job.attempts_size() - 1).log_path();
        std::ifstream in(path);
        if (!in) throw Failure(path + ": cannot read (is the coordinator on another host?)");
        std::cout << in.rdbuf();
      } else if (json) {
        std::string text;
        google::protobuf::util::JsonPrintOptions options;
        options.add_whitespace = true;
        (void)google::protobuf::util::MessageToJsonString(job, &text, options);
        std::printf("%s", text.c_str());
      } else {
        PrintJob(job);
      }
    } else if (cancel->parsed()) {
      v1::JobRequest request;
      request.set_job_id(job_id);
      v1::Job job;
      client.Check(client.stub().CancelJob(client.Context().get(), request, &job));
      std::printf("%s: %s\n", job_id.c_str(), v1::JobState_Name(job.state()).c_str());
    } else if (watch->parsed()) {
      v1::JobRequest request;
      request.set_job_id(job_id);
      auto context = client.Context(/*deadline_s=*/0);
      auto reader = client.stub().WatchJob(context.get(), request);
      v1::JobEvent event;
      double started = 0;
      v1::Job job;
      job.set_id(job_id);
      // On a terminal the progress line is rewritten in place; in a log, one every 10 s.
      const bool tty = isatty(STDERR_FILENO);
      double last_printed = 0;
      int64_t last_step = -1;
      bool line_open = false;
      while (reader->Read(&event)) {
        if (event.has_report()) {
          if (event.report().step() == last_step) continue;  // a beat without a new step
          last_step = event.report().step();
          const std::string line = ProgressLine(job, event, &started);
          if (tty) {
            std::fprintf(stderr, "\r%s\033[K", line.c_str());
            line_open = true;
          } else if (event.unix_time() - last_printed >= 10 ||
                     event.report().step() == event.report().total_steps()) {
            std::fprintf(stderr, "%s\n", line.c_str());
            last_printed = event.unix_time();
          }
        } else {
          if (line_open) std::fprintf(stderr, "\n");
          line_open = false;
          std::fprintf(stderr, "%s\n", event.text().c_str());
          if (event.text().find("restarting") != std::string::npos) {
            job.set_restarts(job.restarts() + 1);
          }
        }
        job.set_state(event.state());
      }
      if (line_open) std::fprintf(stderr, "\n");
      client.Check(reader->Finish());
      v1::Job final_job;
      client.Check(client.stub().DescribeJob(client.Context().get(), request, &final_job));
      std::printf("%s: %s%s\n", job_id.c_str(), v1::JobState_Name(final_job.state()).c_str(),
                  final_job.reason().empty() ? "" : (" -- " + final_job.reason()).c_str());
      return final_job.state() == v1::SUCCEEDED ? 0 : 1;
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "sbmtctl: error: %s\n", e.what());
    return 2;
  }
  return 0;
}
