// A Work completed by whoever runs the op (a backend's worker thread, or the last rank to join
// an in-process collective); shared by the MPI and in-process backends.
#pragma once

#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>

#include "trainer/dist/communicator.h"

namespace sbmt::dist {

class CompletionWork : public Work {
 public:
  // `what`: "rank 1: allreduce #57 (6291456 float32)". `pending_detail`, optional, is called on a
  // timeout to say what the op is waiting for (e.g. "rank 0 has not joined").
  explicit CompletionWork(std::string what, std::function<std::string()> pending_detail = {});

  void Wait(std::chrono::milliseconds timeout) override;
  bool IsCompleted() override;

  void Complete();
  void Fail(const std::string& error);
  const std::string& what() const { return what_; }

 private:
  const std::string what_;
  const std::function<std::string()> pending_detail_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool done_ = false;
  std::string error_;
};

// acc[i] += src[i] for `count` elements of `dtype` (host memory).
void AddInto(DType dtype, void* acc, const void* src, int64_t count);
// data[i] /= divisor for floating-point dtypes (host memory).
void DivideBy(DType dtype, void* data, int64_t count, int divisor);

}  // namespace sbmt::dist
