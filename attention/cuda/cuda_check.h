// SBMT_CUDA_CHECK: turns a failed CUDA runtime call into sbmt::Error naming the call, the file
// and line, and CUDA's message. For the .cu files of attention/cuda only.
#pragma once

#include <cuda_runtime.h>

#include <string>

#include "runtime/error.h"

namespace sbmt::attention::cuda {

inline void CheckCuda(cudaError_t status, const char* call, const char* file, int line) {
  if (status == cudaSuccess) return;
  throw Error(ErrorCode::kInternal, std::string(file) + ":" + std::to_string(line) + ": " + call +
                                        ": " + cudaGetErrorName(status) + " (" +
                                        cudaGetErrorString(status) + ")");
}

// Blocks per grid for `items` work items of `per_block` each, at least 1.
inline unsigned BlocksFor(int64_t items, int64_t per_block) {
  const int64_t blocks = (items + per_block - 1) / per_block;
  return static_cast<unsigned>(blocks > 0 ? blocks : 1);
}

}  // namespace sbmt::attention::cuda

#define SBMT_CUDA_CHECK(call) ::sbmt::attention::cuda::CheckCuda((call), #call, __FILE__, __LINE__)
// After a kernel launch: launch errors (bad configuration) surface here, not later.
#define SBMT_CUDA_CHECK_LAUNCH() SBMT_CUDA_CHECK(cudaGetLastError())
