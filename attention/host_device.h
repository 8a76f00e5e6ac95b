// SBMT_HOST_DEVICE marks the few functions that host code and the CUDA kernels (attention/cuda)
// share, so that both draw the same random words: __host__ __device__ under nvcc, nothing in a
// plain C++ build.
#pragma once

#if defined(__CUDACC__)
#define SBMT_HOST_DEVICE __host__ __device__
#else
#define SBMT_HOST_DEVICE
#endif
