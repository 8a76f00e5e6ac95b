// Graceful stop on SIGTERM and SIGINT: what Slurm, Kubernetes and a user's Ctrl-C send before
// they kill. The first signal only sets a flag that long-running loops poll (the Trainer
// finishes its step, commits a checkpoint and returns); a second one ends the process at once,
// as the signal's default action would.
//
//   runtime::InstallStopSignalHandlers();      // once, early in main
//   if (runtime::PendingStopSignal() != 0) { ...finish cleanly... }
#pragma once

namespace sbmt::runtime {

void InstallStopSignalHandlers();

// The first stop signal received (SIGTERM or SIGINT), or 0.
int PendingStopSignal();

// As if `signal` had been received, unless a stop is already pending: how the coordinator's
// cancel reaches the training loop.
void RequestStop(int signal);

// For tests: as if `signal` had been received (0 clears it).
void SetPendingStopSignalForTesting(int signal);

}  // namespace sbmt::runtime
