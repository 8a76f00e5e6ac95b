// One cuBLAS handle per host thread and device, shared by the .cu files of attention/cuda.
#pragma once

#include <cublas_v2.h>

#include "attention/cuda/sbm_attention_cuda.h"

namespace sbmt::attention::cuda {

// The calling thread's handle for the current device, bound to `stream`.
cublasHandle_t CublasHandle(Stream stream);

// Throws sbmt::Error (internal) naming the call when status is not success.
void CheckCublas(cublasStatus_t status, const char* call);

}  // namespace sbmt::attention::cuda
