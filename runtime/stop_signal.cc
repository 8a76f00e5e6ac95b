#include "runtime/stop_signal.h"

#include <atomic>
#include <csignal>

namespace sbmt::runtime {
namespace {

std::atomic<int> pending{0};

void OnStopSignal(int signal) {
  int expected = 0;
  if (!pending.compare_exchange_strong(expected, signal)) {
    // The second stop signal: stop now, with the signal's own exit status.
    std::signal(signal, SIG_DFL);
    std::raise(signal);
  }
}

}  // namespace

void InstallStopSignalHandlers() {
  struct sigaction action = {};
  action.sa_handler = OnStopSignal;
  sigemptyset(&action.sa_mask);
  action.sa_flags = SA_RESTART;  // blocking calls carry on; the loop notices at the step's end
  sigaction(SIGTERM, &action, nullptr);
  sigaction(SIGINT, &action, nullptr);
}

int PendingStopSignal() { return pending.load(std::memory_order_relaxed); }

void RequestStop(int signal) {
  int expected = 0;
  pending.compare_exchange_strong(expected, signal);
}

void SetPendingStopSignalForTesting(int signal) { pending.store(signal); }

}  // namespace sbmt::runtime
