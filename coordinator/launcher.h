// Starting and stopping one attempt of a job: the launch command (an operator-configured template,
// by default mpirun) runs in its own process group with its output in a per-attempt log file, so
// that killing the group ends every process the attempt started, mpirun's children included.
// Job specs only fill the template's placeholders, each as whole arguments: no shell ever sees
// them.
//
//   std::vector<std::string> argv = ExpandTemplate(DefaultLaunchTemplate(), values);
//   pid_t pid = StartProcessGroup(argv, "jobs/j-000001/attempt-1.log");
//   int status;
//   if (Reaped(pid, &status)) ...;          // non-blocking
//   KillProcessGroup(pid, SIGKILL);
#pragma once

#include <sys/types.h>

#include <map>
#include <string>
#include <vector>

#include "runtime/error.h"

namespace sbmt::coordinator {

// {np} ranks, {hosts} as mpirun's --host list (host:count,...), {worker} the sbmt_worker binary,
// {config}, {overrides} (expanded to --set k=v pairs), {address} of the coordinator, {job},
// {attempt}, {token_file}, {slots} (each rank's slot on its host, in rank order: "0,1,0,1"; the
// worker makes its slot its CUDA_VISIBLE_DEVICES).
std::string DefaultLaunchTemplate();

// Splits the template on spaces and replaces placeholders; an argument that is exactly
// "{overrides}" becomes zero or more arguments, and "{tls}" the worker's TLS flags
// (--coordinator-tls-ca=..., and for mutual TLS --coordinator-tls-cert/-key), none without TLS.
// Throws Error(kInvalidArgument) for an unknown placeholder.
std::vector<std::string> ExpandTemplate(const std::string& launch_template,
                                        const std::map<std::string, std::string>& values,
                                        const std::vector<std::string>& overrides,
                                        const std::vector<std::string>& tls_args = {});

// Forks and execs argv[0] (searched in PATH) as the leader of a new process group, stdout and
// stderr appended to `log_path`. Throws Error(kUnavailable) when the fork fails; a command that
// cannot be executed exits 127 with the reason in the log.
pid_t StartProcessGroup(const std::vector<std::string>& argv, const std::string& log_path);

// True (and the exit status, 128 + signal when killed) once the process has ended.
bool Reaped(pid_t pid, int* exit_code);

// Signals every process of the group; a group that is gone is not an error.
void KillProcessGroup(pid_t pid, int signal);

}  // namespace sbmt::coordinator
