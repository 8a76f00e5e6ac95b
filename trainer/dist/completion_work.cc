#include "trainer/dist/completion_work.h"

#include <cstdio>

namespace sbmt::dist {

CompletionWork::CompletionWork(std::string what, std::function<std::string()> pending_detail)
    : what_(std::move(what)), pending_detail_(std::move(pending_detail)) {}

void CompletionWork::Wait(std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(mu_);
  if (!cv_.wait_for(lock, timeout, [this] { return done_; })) {
    lock.unlock();
    char seconds[32];
    std::snprintf(seconds, sizeof(seconds), "%g", timeout.count() / 1000.0);
    std::string message = what_ + " did not complete within " + seconds + " s";
    if (pending_detail_) message += " (" + pending_detail_() + ")";
    throw CommError(message);
  }
  if (!error_.empty()) throw CommError(what_ + " failed: " + error_);
}

bool CompletionWork::IsCompleted() {
  std::lock_guard<std::mutex> lock(mu_);
  return done_;
}

void CompletionWork::Complete() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    done_ = true;
  }
  cv_.notify_all();
}

void CompletionWork::Fail(const std::string& error) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    done_ = true;
    error_ = error.empty() ? "unknown error" : error;
  }
  cv_.notify_all();
}

namespace {

template <typename T>
void Add(void* acc, const void* src, int64_t count) {
  T* a = static_cast<T*>(acc);
  const T* s = static_cast<const T*>(src);
  for (int64_t i = 0; i < count; ++i) a[i] += s[i];
}

template <typename T>
void Divide(void* data, int64_t count, int divisor) {
  T* d = static_cast<T*>(data);
  const T div = static_cast<T>(divisor);
  for (int64_t i = 0; i < count; ++i) d[i] /= div;
}

}  // namespace

void AddInto(DType dtype, void* acc, const void* src, int64_t count) {
  switch (dtype) {
    case DType::kFloat32:
      return Add<float>(acc, src, count);
    case DType::kFloat64:
      return Add<double>(acc, src, count);
    case DType::kInt32:
      return Add<int32_t>(acc, src, count);
    case DType::kInt64:
      return Add<int64_t>(acc, src, count);
    case DType::kUInt8:
      return Add<uint8_t>(acc, src, count);
  }
}

void DivideBy(DType dtype, void* data, int64_t count, int divisor) {
  if (dtype == DType::kFloat32) Divide<float>(data, count, divisor);
  if (dtype == DType::kFloat64) Divide<double>(data, count, divisor);
}

}  // namespace sbmt::dist
