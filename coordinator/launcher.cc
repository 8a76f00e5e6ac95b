#include "coordinator/launcher.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <sstream>

namespace sbmt::coordinator {

std::string DefaultLaunchTemplate() {
  return "mpirun -np {np} --host {hosts} --bind-to none {worker} --config={config} {overrides} "
         "--coordinator={address} --coordinator-token-file={token_file} --job={job} "
         "--attempt={attempt} --gpu-slots={slots} {tls}";
}

std::vector<std::string> ExpandTemplate(const std::string& launch_template,
                                        const std::map<std::string, std::string>& values,
                                        const std::vector<std::string>& overrides,
                                        const std::vector<std::string>& tls_args) {
  std::vector<std::string> argv;
  std::istringstream words(launch_template);
  for (std::string word; words >> word;) {
    if (word == "{overrides}") {
      for (const std::string& o : overrides) {
        argv.push_back("--set");
        argv.push_back(o);
      }
      continue;
    }
    if (word == "{tls}") {
      argv.insert(argv.end(), tls_args.begin(), tls_args.end());
      continue;
    }
    std::string out;
    for (size_t i = 0; i < word.size();) {
      if (word[i] != '{') {
        out += word[i++];
        continue;
      }
      const size_t close = word.find('}', i);
      const std::string name =
          word.substr(i + 1, close == std::string::npos ? close : close - i - 1);
      auto it = values.find(name);
      if (close == std::string::npos || it == values.end()) {
        throw Error(ErrorCode::kInvalidArgument,
                    "launch template: unknown placeholder {" + name + "} in '" + word + "'");
      }
      out += it->second;
      i = close + 1;
    }
    argv.push_back(out);
  }
  if (argv.empty()) throw Error(ErrorCode::kInvalidArgument, "launch template: empty");
  return argv;
}

pid_t StartProcessGroup(const std::vector<std::string>& argv, const std::string& log_path) {
  const int log = open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (log < 0) {
    throw Error(ErrorCode::kUnavailable,
                log_path + ": cannot open the attempt's log: " + std::strerror(errno));
  }
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  const pid_t pid = fork();
  if (pid < 0) {
    close(log);
    throw Error(ErrorCode::kUnavailable, std::string("fork: ") + std::strerror(errno));
  }
  if (pid == 0) {  // the child: only async-signal-safe calls until exec
    setpgid(0, 0);
    dup2(log, STDOUT_FILENO);
    dup2(log, STDERR_FILENO);
    const int null = open("/dev/null", O_RDONLY);
    if (null >= 0) dup2(null, STDIN_FILENO);
    // The coordinator ignores nothing, but be explicit: the workers handle SIGTERM themselves.
    signal(SIGTERM, SIG_DFL);
    signal(SIGINT, SIG_DFL);
    execvp(args[0], args.data());
    const char* reason = std::strerror(errno);
    (void)!write(STDERR_FILENO, "sbmt_coordinator: cannot execute ", 33);
    (void)!write(STDERR_FILENO, args[0], std::strlen(args[0]));
    (void)!write(STDERR_FILENO, ": ", 2);
    (void)!write(STDERR_FILENO, reason, std::strlen(reason));
    (void)!write(STDERR_FILENO, "\n", 1);
    _exit(127);
  }
  setpgid(pid, pid);  // also from the parent, so the group exists before any kill
  close(log);
  return pid;
}

bool Reaped(pid_t pid, int* exit_code) {
  int status = 0;
  const pid_t r = waitpid(pid, &status, WNOHANG);
  if (r == 0) return false;
  if (r < 0) {  // not our child (already reaped): report it gone
    *exit_code = 255;
    return true;
  }
  *exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return true;
}

void KillProcessGroup(pid_t pid, int signal) {
  if (pid > 0) kill(-pid, signal);
}

}  // namespace sbmt::coordinator
