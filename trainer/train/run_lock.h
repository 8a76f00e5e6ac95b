// One worker per run directory: an advisory lock (flock) on run.out_dir/LOCK, taken at start
// by rank 0 and held for the process's life. A second job on the same directory is refused at
// once, naming the holder, instead of failing at its first save; a lock left by a dead process
// does not block, because the kernel releases flock locks when their holder exits.
//
//   RunLock lock(config.run.out_dir);   // throws Error(kFailedPrecondition) when held
#pragma once

#include <string>

namespace sbmt::trainer {

class RunLock {
 public:
  explicit RunLock(const std::string& run_dir);
  ~RunLock();
  RunLock(const RunLock&) = delete;
  RunLock& operator=(const RunLock&) = delete;

 private:
  int fd_ = -1;
};

}  // namespace sbmt::trainer
