// sbmt_coordinator: schedules jobs of sbmt_worker ranks on the slots of a hostfile, watches them
// through heartbeats and restarts them from their last committed checkpoint.
//
//   sbmt_coordinator --state-dir=/var/lib/sbmt --token-file=token --hostfile=hosts
//       [--listen=127.0.0.1:7070] [--port-file=F] [--worker=PATH/sbmt_worker]
//       [--tls-cert=C --tls-key=K [--client-ca=CA]]
//
// SIGTERM or Ctrl-C stops the server; running jobs keep running, and a coordinator started again
// on the same state directory adopts them when their workers reconnect.
#include <grpcpp/ext/health_check_service_server_builder_option.h>
#include <grpcpp/grpcpp.h>
#include <prometheus/collectable.h>
#include <prometheus/exposer.h>
#include <signal.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <thread>

#include "coordinator/launcher.h"
#include "coordinator/service.h"
#include "runtime/text_file.h"

int main(int argc, char** argv) {
  CLI::App app("sbmt_coordinator: schedules, watches and heals sbmt_worker jobs");
  std::string listen = "127.0.0.1:7070", port_file, state_dir, token_file, hostfile, worker,
              advertise, launch_template, tls_cert, tls_key, client_ca;
  double heartbeat_s = 1.0, startup_timeout_s = 120;
  app.add_option("--listen", listen, "HOST:PORT to serve on (port 0: any free port)")
      ->capture_default_str();
  app.add_option("--port-file", port_file, "write the bound port here once serving");
  app.add_option("--state-dir", state_dir, "jobs database, attempt logs, job run directories")
      ->required();
  app.add_option("--token-file", token_file, "bearer token every call must carry")->required();
  app.add_option("--hostfile", hostfile,
                 "HOST slots=N per line (default: this host, one slot "
                 "per core)");
  app.add_option("--worker", worker, "the sbmt_worker binary the launch template starts");
  app.add_option("--advertise", advertise, "address workers dial (default: the bound address)");
  app.add_option(
      "--launch-template", launch_template,
      "command per attempt (default: " + sbmt::coordinator::DefaultLaunchTemplate() + ")");
  app.add_option("--heartbeat-interval", heartbeat_s, "seconds between worker heartbeats")
      ->capture_default_str();
  app.add_option("--startup-timeout", startup_timeout_s, "seconds for every rank to join")
      ->capture_default_str();
  std::string metrics_listen, metrics_port_file;
  app.add_option("--metrics-listen", metrics_listen,
                 "HOST:PORT to serve Prometheus /metrics on (port 0: any free port)");
  app.add_option("--metrics-port-file", metrics_port_file, "write the metrics port here");
  double stall_after_s = 30;
  app.add_option("--stall-after", stall_after_s,
                 "seconds a rank's collective count may lag its peers' before it is blamed for a "
                 "stall (longer than any phase one rank works alone, e.g. rank 0's checkpoint "
                 "save)")
      ->capture_default_str();
  app.add_option("--tls-cert", tls_cert, "server certificate (PEM); with --tls-key serves TLS");
  app.add_option("--tls-key", tls_key, "server private key (PEM)");
  app.add_option("--client-ca", client_ca, "CA of client certificates: mutual TLS");
  std::string worker_tls_ca, worker_tls_cert, worker_tls_key;
  app.add_option("--worker-tls-ca", worker_tls_ca,
                 "under TLS: the CA workers trust for this server (default: --tls-cert itself)");
  app.add_option("--worker-tls-cert", worker_tls_cert,
                 "under mutual TLS: the client certificate workers present");
  app.add_option("--worker-tls-key", worker_tls_key, "under mutual TLS: its key");
  CLI11_PARSE(app, argc, argv);

  // Signals are taken by one thread with sigwait; every other thread blocks them.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  try {
    const std::string token = sbmt::runtime::ReadTokenFile(token_file, "--token-file");
    if (token.size() < 16) {
      throw sbmt::Error(
          sbmt::ErrorCode::kInvalidArgument,
          "--token-file " + token_file + ": the token must be at least 16 characters");
    }
    std::vector<sbmt::coordinator::Host> hosts;
    if (hostfile.empty()) {
      hosts.push_back(
          {"localhost", static_cast<int>(std::max(1u, std::thread::hardware_concurrency()))});
    } else {
      hosts = sbmt::coordinator::ReadHostfile(hostfile);
    }
    if (worker.empty()) {  // beside this binary's build output, else from PATH
      const std::filesystem::path self = std::filesystem::canonical("/proc/self/exe");
      const auto sibling = self.parent_path().parent_path() / "trainer/train/sbmt_worker";
      worker = std::filesystem::exists(sibling) ? sibling.string() : "sbmt_worker";
    }

    std::shared_ptr<grpc::ServerCredentials> credentials = grpc::InsecureServerCredentials();
    if (!tls_cert.empty() || !tls_key.empty()) {
      grpc::SslServerCredentialsOptions ssl(
          client_ca.empty() ? GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE
                            : GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
      ssl.pem_key_cert_pairs.push_back({sbmt::runtime::ReadTextFile(tls_key, "--tls-key"),
                                        sbmt::runtime::ReadTextFile(tls_cert, "--tls-cert")});
      if (!client_ca.empty())
        ssl.pem_root_certs = sbmt::runtime::ReadTextFile(client_ca, "--client-ca");
      credentials = grpc::SslServerCredentials(ssl);
    }

    grpc::EnableDefaultHealthCheckService(true);
    grpc::ServerBuilder builder;
    int port = 0;
    builder.AddListeningPort(listen, credentials, &port);
    builder.SetMaxReceiveMessageSize(1 << 20);  // specs and reports are small
    sbmt::coordinator::ServiceOptions options;
    options.state_dir = state_dir;
    options.token = token;
    options.token_file = std::filesystem::absolute(token_file).string();
    options.worker_binary = worker;
    options.launch_template = launch_template;
    if (!tls_cert.empty()) {  // the workers dial TLS too ({tls} in the launch template)
      namespace fs = std::filesystem;
      options.worker_tls_args.push_back(
          "--coordinator-tls-ca=" +
          fs::absolute(worker_tls_ca.empty() ? tls_cert : worker_tls_ca).string());
      if (!client_ca.empty()) {
        if (worker_tls_cert.empty() || worker_tls_key.empty()) {
          throw sbmt::Error(sbmt::ErrorCode::kInvalidArgument,
                            "--client-ca (mutual TLS) needs --worker-tls-cert and "
                            "--worker-tls-key: the certificate the workers present");
        }
        options.worker_tls_args.push_back("--coordinator-tls-cert=" +
                                          fs::absolute(worker_tls_cert).string());
        options.worker_tls_args.push_back("--coordinator-tls-key=" +
                                          fs::absolute(worker_tls_key).string());
      }
    }
    options.scheduler.heartbeat_interval_s = heartbeat_s;
    options.scheduler.startup_timeout_s = startup_timeout_s;
    options.scheduler.stall_after_s = stall_after_s;
    const std::string host = listen.substr(0, listen.rfind(':'));
    sbmt::coordinator::CoordinatorService service(std::move(hosts), options);
    builder.RegisterService(&service);
    std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
    if (!server) throw sbmt::Error(sbmt::ErrorCode::kUnavailable, "cannot listen on " + listen);
    // Workers dial the bound port, known only now: the service launches nothing before Start.
    service.Start(advertise.empty() ? host + ":" + std::to_string(port) : advertise);
    // Prometheus scrapes a snapshot of the scheduler, taken under the service's lock.
    struct MetricsSource : prometheus::Collectable {
      explicit MetricsSource(sbmt::coordinator::CoordinatorService& s) : service(s) {}
      std::vector<prometheus::MetricFamily> Collect() const override {
        return service.CollectMetrics();
      }
      sbmt::coordinator::CoordinatorService& service;
    };
    auto metrics_source = std::make_shared<MetricsSource>(service);
    std::unique_ptr<prometheus::Exposer> exposer;
    if (!metrics_listen.empty()) {
      exposer = std::make_unique<prometheus::Exposer>(metrics_listen);
      exposer->RegisterCollectable(metrics_source);
      const int metrics_port = exposer->GetListeningPorts().at(0);
      std::fprintf(stderr, "sbmt_coordinator: Prometheus metrics on %s:%d/metrics\n",
                   metrics_listen.substr(0, metrics_listen.rfind(':')).c_str(), metrics_port);
      if (!metrics_port_file.empty()) {
        std::ofstream(metrics_port_file + ".tmp") << metrics_port << "\n";
        std::filesystem::rename(metrics_port_file + ".tmp", metrics_port_file);
      }
    }
    std::fprintf(stderr, "sbmt_coordinator: serving on %s:%d (%s), state in %s\n", host.c_str(),
                 port, tls_cert.empty() ? "plaintext" : (client_ca.empty() ? "TLS" : "mutual TLS"),
                 state_dir.c_str());
    if (!port_file.empty()) {
      std::ofstream(port_file + ".tmp") << port << "\n";
      std::filesystem::rename(port_file + ".tmp", port_file);
    }
    int signal = 0;
    sigwait(&stop_signals, &signal);
    std::fprintf(stderr, "sbmt_coordinator: signal %d: stopping (running jobs keep running)\n",
                 signal);
    service.Stop();
    server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
  } catch (const std::exception& e) {
    std::fprintf(stderr, "sbmt_coordinator: error: %s\n", e.what());
    return 1;
  }
  return 0;
}
