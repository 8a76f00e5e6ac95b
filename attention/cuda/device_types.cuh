// The storage types of attention/cuda's inputs (DType), for the .cu files: conversions to and
// from the float32 everything accumulates in, and a dispatch on DType.
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <type_traits>

#include "attention/cuda/sbm_attention_cuda.h"

namespace sbmt::attention::cuda {

__device__ inline float ToFloat(float x) { return x; }
__device__ inline float ToFloat(__nv_bfloat16 x) { return __bfloat162float(x); }
__device__ inline float ToFloat(__half x) { return __half2float(x); }

template <typename T>
__device__ inline T FromFloat(float x) {
  if constexpr (std::is_same_v<T, float>) {
    return x;
  } else if constexpr (std::is_same_v<T, __nv_bfloat16>) {
    return __float2bfloat16(x);
  } else {
    return __float2half(x);
  }
}

// Calls f with a value of the C++ type of `dtype` (float, __nv_bfloat16 or __half).
template <typename F>
void WithType(DType dtype, F&& f) {
  switch (dtype) {
    case DType::kFloat32:
      f(float{});
      return;
    case DType::kBFloat16:
      f(__nv_bfloat16{});
      return;
    case DType::kFloat16:
      f(__half{});
      return;
  }
}

}  // namespace sbmt::attention::cuda
