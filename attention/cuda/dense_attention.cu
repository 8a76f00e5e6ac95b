// Dense attention (dense_attention_cuda.h): per chunk of graphs, S = Q Kᵀ, P = softmax(scale S)
// and O = P V with cuBLAS (float32 accumulation), then in the backward dP = dO Vᵀ,
// dS = scale P ∘ (dP − rowsum(P ∘ dP)), dV = Pᵀ dO, dQ = dS K, dK = dSᵀ Q. Row-major matrices
// are handed to column-major cuBLAS as their transposes.
#include <cublas_v2.h>
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cmath>
#include <type_traits>

#include "attention/cuda/cublas_handle.h"
#include "attention/cuda/cuda_check.h"
#include "attention/cuda/dense_attention_cuda.h"
#include "attention/cuda/device_types.cuh"

namespace sbmt::attention::cuda {
namespace {

constexpr int kThreads = 256;

// Block-wide reduction of one float per thread (max or sum).
template <bool kMax>
__device__ float BlockReduce(float x, float* shared) {
  for (int offset = 16; offset > 0; offset /= 2) {
    const float other = __shfl_xor_sync(0xffffffffu, x, offset);
    x = kMax ? fmaxf(x, other) : x + other;
  }
  if (threadIdx.x % 32 == 0) shared[threadIdx.x / 32] = x;
  __syncthreads();
  x = shared[0];
  for (int w = 1; w < kThreads / 32; ++w) x = kMax ? fmaxf(x, shared[w]) : x + shared[w];
  __syncthreads();
  return x;
}

// Block per row: P = softmax(scale S), in place.
template <typename T>
__global__ void Softmax(int64_t n, float scale, T* scores) {
  __shared__ float shared[kThreads / 32];
  T* row = scores + blockIdx.x * n;
  float m = -INFINITY;
  for (int64_t j = threadIdx.x; j < n; j += kThreads) m = fmaxf(m, ToFloat(row[j]) * scale);
  m = BlockReduce<true>(m, shared);
  float sum = 0;
  for (int64_t j = threadIdx.x; j < n; j += kThreads) sum += expf(ToFloat(row[j]) * scale - m);
  sum = BlockReduce<false>(sum, shared);
  for (int64_t j = threadIdx.x; j < n; j += kThreads) {
    row[j] = FromFloat<T>(expf(ToFloat(row[j]) * scale - m) / sum);
  }
}

// Block per row: dS = scale P ∘ (dP − Σ_j P dP), into grad (which holds dP).
template <typename T>
__global__ void SoftmaxBackward(int64_t n, float scale, const T* probs, T* grad) {
  __shared__ float shared[kThreads / 32];
  const T* p = probs + blockIdx.x * n;
  T* g = grad + blockIdx.x * n;
  float dot = 0;
  for (int64_t j = threadIdx.x; j < n; j += kThreads) dot += ToFloat(p[j]) * ToFloat(g[j]);
  dot = BlockReduce<false>(dot, shared);
  for (int64_t j = threadIdx.x; j < n; j += kThreads) {
    g[j] = FromFloat<T>(scale * ToFloat(p[j]) * (ToFloat(g[j]) - dot));
  }
}

cudaDataType_t CudaType(DType dtype) {
  switch (dtype) {
    case DType::kBFloat16:
      return CUDA_R_16BF;
    case DType::kFloat16:
      return CUDA_R_16F;
    case DType::kFloat32:
      break;
  }
  return CUDA_R_32F;
}

int64_t Width(DType dtype) { return dtype == DType::kFloat32 ? 4 : 2; }

// Row-major C[m, n] (+)= op(A) op(B) for `count` matrices, through column-major cuBLAS: C is
// computed as Cᵀ = op(B)ᵀ op(A)ᵀ. a_t / b_t: A / B used transposed. Strides in elements.
struct Gemm {
  cublasHandle_t handle;
  DType dtype;
  void operator()(bool a_t, bool b_t, int64_t m, int64_t n, int64_t k, const void* a,
                  int64_t stride_a, const void* b, int64_t stride_b, void* c, int64_t stride_c,
                  int64_t count) const {
    const float one = 1.0f, zero = 0.0f;
    const cudaDataType_t type = CudaType(dtype);
    // Row-major A[m, k] (or [k, m] when transposed) has leading dimension k (or m); likewise B.
    const int64_t lda = a_t ? m : k, ldb = b_t ? k : n;
    CheckCublas(cublasGemmStridedBatchedEx(
                    handle, b_t ? CUBLAS_OP_T : CUBLAS_OP_N, a_t ? CUBLAS_OP_T : CUBLAS_OP_N,
                    static_cast<int>(n), static_cast<int>(m), static_cast<int>(k), &one, b, type,
                    static_cast<int>(ldb), stride_b, a, type, static_cast<int>(lda), stride_a,
                    &zero, c, type, static_cast<int>(n), stride_c, static_cast<int>(count),
                    CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT),
                "dense attention GEMM");
  }
};

const char* At(const void* base, int64_t elements, DType dtype) {
  return static_cast<const char*>(base) + elements * Width(dtype);
}
char* At(void* base, int64_t elements, DType dtype) {
  return static_cast<char*>(base) + elements * Width(dtype);
}

// S = Q Kᵀ, then P = softmax(scale S) for graphs [g0, g0 + count).
void Probabilities(const DenseAttentionCuda& a, const Gemm& gemm, int64_t g0, int64_t count,
                   float scale, Stream stream) {
  const int64_t n = a.n, d = a.d;
  gemm(false, true, n, n, d, At(a.q, g0 * n * d, a.dtype), n * d, At(a.k, g0 * n * d, a.dtype),
       n * d, a.scores, n * n, count);
  WithType(a.dtype, [&](auto zero) {
    using T = decltype(zero);
    Softmax<T><<<static_cast<unsigned>(count * n), kThreads, 0, stream>>>(
        n, scale, static_cast<T*>(a.scores));
  });
  SBMT_CUDA_CHECK_LAUNCH();
}

}  // namespace

int64_t dense_attention_chunk(int64_t graphs, int64_t n, DType dtype, int64_t budget_bytes) {
  const int64_t per_graph = 2 * n * n * Width(dtype);
  int64_t chunk = budget_bytes / per_graph;
  if (chunk < 1) chunk = 1;
  return chunk < graphs ? chunk : graphs;
}

void dense_attention_forward_cuda(const DenseAttentionCuda& a, Stream stream) {
  const Gemm gemm{CublasHandle(stream), a.dtype};
  const int64_t n = a.n, d = a.d;
  const float scale = 1.0f / std::sqrt(static_cast<float>(d));
  for (int64_t g0 = 0; g0 < a.graphs; g0 += a.chunk) {
    const int64_t count = a.chunk < a.graphs - g0 ? a.chunk : a.graphs - g0;
    Probabilities(a, gemm, g0, count, scale, stream);
    // O = P V.
    gemm(false, false, n, d, n, a.scores, n * n, At(a.v, g0 * n * d, a.dtype), n * d,
         At(a.out, g0 * n * d, a.dtype), n * d, count);
  }
}

void dense_attention_backward_cuda(const DenseAttentionCuda& a, Stream stream) {
  const Gemm gemm{CublasHandle(stream), a.dtype};
  const int64_t n = a.n, d = a.d;
  const float scale = 1.0f / std::sqrt(static_cast<float>(d));
  for (int64_t g0 = 0; g0 < a.graphs; g0 += a.chunk) {
    const int64_t count = a.chunk < a.graphs - g0 ? a.chunk : a.graphs - g0;
    const int64_t at = g0 * n * d;
    Probabilities(a, gemm, g0, count, scale, stream);
    // dP = dO Vᵀ; dV = Pᵀ dO.
    gemm(false, true, n, n, d, At(a.grad_out, at, a.dtype), n * d, At(a.v, at, a.dtype), n * d,
         a.grad_scores, n * n, count);
    gemm(true, false, n, d, n, a.scores, n * n, At(a.grad_out, at, a.dtype), n * d,
         At(a.dv, at, a.dtype), n * d, count);
    WithType(a.dtype, [&](auto zero) {
      using T = decltype(zero);
      SoftmaxBackward<T><<<static_cast<unsigned>(count * n), kThreads, 0, stream>>>(
          n, scale, static_cast<const T*>(a.scores), static_cast<T*>(a.grad_scores));
    });
    SBMT_CUDA_CHECK_LAUNCH();
    // dQ = dS K; dK = dSᵀ Q.
    gemm(false, false, n, d, n, a.grad_scores, n * n, At(a.k, at, a.dtype), n * d,
         At(a.dq, at, a.dtype), n * d, count);
    gemm(true, false, n, d, n, a.grad_scores, n * n, At(a.q, at, a.dtype), n * d,
         At(a.dk, at, a.dtype), n * d, count);
  }
}

}  // namespace sbmt::attention::cuda
