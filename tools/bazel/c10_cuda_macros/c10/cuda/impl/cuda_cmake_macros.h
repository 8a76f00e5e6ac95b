// The header LibTorch's CMake build generates for c10/cuda (CUDAMacros.h includes it). Debian's
// CPU LibTorch ships the c10/cuda headers without it; only the binding's compile check
// (//attention:sbm_attention_binding_cuda_compile_check) uses this copy. A real CUDA LibTorch
// brings its own.
#pragma once

#define C10_CUDA_BUILD_SHARED_LIBS
