// SBM attention forward and backward on CSR edges (sbm_attention_cuda.h), the math of
// sbm_attention_kernels.h.
//
// One warp per query row (forward, backward's row pass) or per key (backward's key pass, over
// the transposed index). A warp splits into P = 32 / L groups of L lanes; each group takes one
// edge at a time, its L lanes holding PER elements of the d-vectors each, so a warp works on P
// edges at once and a group's loads of a key or value row are contiguous. When d is 16, 32, 64,
// 128 or 256, lanes hold 8 contiguous elements (16- or 32-byte loads); otherwise L = 32 and lane
// l holds elements l, l + 32, ... The forward keeps an online softmax per group and merges the
// groups at the end; every sum has a fixed order, so results are deterministic.
//
// The membership gradients are dense products once the edge sums W_i = Σ_j dp_ij z_j and
// X_j = Σ_i dp_ij y_i are known: dY = W Bᵀ, dZ = X B, dB = Σ_b Yᵀ W (cuBLAS, fp32, which is
// deterministic for a given GPU).
#include <cublas_v2.h>
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cmath>
#include <cstdint>
#include <initializer_list>
#include <string>

#include "attention/cuda/cublas_handle.h"
#include "attention/cuda/cuda_check.h"
#include "attention/cuda/device_types.cuh"
#include "attention/cuda/sbm_attention_cuda.h"
#include "attention/sbm_attention_kernels.h"
#include "runtime/error.h"

namespace sbmt::attention::cuda {
namespace {

constexpr int kThreads = 256;
constexpr int kWarpsPerBlock = kThreads / 32;
constexpr unsigned kFull = 0xffffffffu;

// Where a lane's PER elements of a d-vector sit, and how they are read and written.
template <typename T, int L, int PER, bool kContiguous>
struct Slice {
  int sub;  // lane within its group
  int64_t d;

  __device__ int64_t Element(int t) const { return kContiguous ? sub * PER + t : sub + L * t; }

  __device__ void Load(const T* row, float (&out)[PER]) const {
    if constexpr (kContiguous) {
      // PER = 8 contiguous elements: 16 or 32 bytes, aligned (d * sizeof(T) % 16 == 0).
      static_assert(PER * sizeof(T) % 16 == 0);
      constexpr int kWords = PER * sizeof(T) / 16;
      uint4 raw[kWords];
      const uint4* src = reinterpret_cast<const uint4*>(row + sub * PER);
#pragma unroll
      for (int w = 0; w < kWords; ++w) raw[w] = __ldg(src + w);
      const T* values = reinterpret_cast<const T*>(raw);
#pragma unroll
      for (int t = 0; t < PER; ++t) out[t] = ToFloat(values[t]);
    } else {
#pragma unroll
      for (int t = 0; t < PER; ++t) {
        const int64_t c = Element(t);
        out[t] = c < d ? ToFloat(row[c]) : 0.0f;
      }
    }
  }

  __device__ void Store(T* row, const float (&in)[PER]) const {
#pragma unroll
    for (int t = 0; t < PER; ++t) {
      const int64_t c = Element(t);
      if (kContiguous || c < d) row[c] = FromFloat<T>(in[t]);
    }
  }
};

// Sum over the L lanes of a group (every lane gets the sum).
template <int L>
__device__ float GroupSum(float x) {
#pragma unroll
  for (int offset = L / 2; offset > 0; offset /= 2) x += __shfl_xor_sync(kFull, x, offset);
  return x;
}

template <int PER>
__device__ float Dot(const float (&a)[PER], const float (&b)[PER]) {
  float s = 0;
#pragma unroll
  for (int t = 0; t < PER; ++t) s += a[t] * b[t];
  return s;
}

// exp(a - b) where a may be -inf (an empty group): 0 then, not NaN.
__device__ float ScaleFrom(float a, float b) { return a == -INFINITY ? 0.0f : expf(a - b); }

struct ForwardArgs {
  SbmEdges edges;
  int64_t d;
  const void* q;
  const void* k;
  const void* v;
  float scale;
  SbmDropout dropout;
  void* out;
  float* alpha;
};

template <typename T, int L, int PER, bool kContiguous>
__global__ void __launch_bounds__(kThreads) Forward(ForwardArgs a) {
  constexpr int P = 32 / L;
  const int lane = threadIdx.x % 32;
  const int64_t r = blockIdx.x * int64_t{kWarpsPerBlock} + threadIdx.x / 32;
  const SbmEdges& E = a.edges;
  if (r >= E.graphs * E.n_q) return;
  const int64_t g = r / E.n_q, d = a.d;
  const int group = lane / L;
  const Slice<T, L, PER, kContiguous> slice{lane % L, d};
  const T* q = static_cast<const T*>(a.q);
  const T* k = static_cast<const T*>(a.k) + g * E.n_k * d;
  const T* v = static_cast<const T*>(a.v) + g * E.n_k * d;

  float qi[PER];
  slice.Load(q + r * d, qi);
#pragma unroll
  for (int t = 0; t < PER; ++t) qi[t] *= a.scale;
  float m = -INFINITY, l = 0, acc[PER];
#pragma unroll
  for (int t = 0; t < PER; ++t) acc[t] = 0;

  const int64_t begin = E.row_ptr[r], end = E.row_ptr[r + 1];
  for (int64_t e0 = begin; e0 < end; e0 += P) {
    const int64_t e = e0 + group;
    const bool has = e < end;
    const int64_t j = has ? E.col[e] : 0;
    float kj[PER];
    slice.Load(k + j * d, kj);
    const float s = GroupSum<L>(Dot(qi, kj));
    if (has) {
      if (slice.sub == 0) a.alpha[e] = s;  // the raw score, normalised below
      const float m_new = fmaxf(m, s);
      const float correction = ScaleFrom(m, m_new);
      const float p = expf(s - m_new);
      l = l * correction + p;
      const float kept = sbm_dropout_keep(a.dropout, e) ? p : 0.0f;
      float vj[PER];
      slice.Load(v + j * d, vj);
#pragma unroll
      for (int t = 0; t < PER; ++t) acc[t] = acc[t] * correction + kept * vj[t];
      m = m_new;
    }
  }
  // Merge the groups' partial softmaxes (fixed pairing order).
#pragma unroll
  for (int offset = L; offset < 32; offset *= 2) {
    const float m_other = __shfl_xor_sync(kFull, m, offset);
    const float l_other = __shfl_xor_sync(kFull, l, offset);
    float acc_other[PER];
#pragma unroll
    for (int t = 0; t < PER; ++t) acc_other[t] = __shfl_xor_sync(kFull, acc[t], offset);
    const float m_new = fmaxf(m, m_other);
    if (m_new == -INFINITY) continue;
    const float ca = ScaleFrom(m, m_new), cb = ScaleFrom(m_other, m_new);
    l = l * ca + l_other * cb;
#pragma unroll
    for (int t = 0; t < PER; ++t) acc[t] = acc[t] * ca + acc_other[t] * cb;
    m = m_new;
  }
  const float keep_scale = 1.0f / (1.0f - a.dropout.p);
  const float inverse = l > 0 ? keep_scale / l : 0.0f;
#pragma unroll
  for (int t = 0; t < PER; ++t) acc[t] *= inverse;
  if (group == 0) slice.Store(static_cast<T*>(a.out) + r * d, acc);
  __syncwarp();
  for (int64_t e = begin + lane; e < end; e += 32) a.alpha[e] = expf(a.alpha[e] - m) / l;
}

struct BackwardArgs {
  SbmEdges edges;
  const int64_t* key_ptr;
  const int64_t* key_edges;
  const int32_t* edge_row;
  int64_t d;
  const void* q;
  const void* k;
  const void* v;
  const void* out;
  const void* grad_out;
  const float* alpha;
  const float* grad_edges;
  float scale;
  SbmDropout dropout;
  bool self_loops;
  void* dq;
  void* dk;
  void* dv;
  float* dp;
  float* ds;
};

// Row pass: D_i = g_i·out_i; per edge ds = α (keep g_i·v_j / (1 - p) − D_i), dp = clip(ds +
// grad_edges) (0 on self loops); dq_i = scale Σ_j ds_ij k_j.
template <typename T, int L, int PER, bool kContiguous>
__global__ void __launch_bounds__(kThreads) BackwardRows(BackwardArgs a) {
  constexpr int P = 32 / L;
  const int lane = threadIdx.x % 32;
  const int64_t r = blockIdx.x * int64_t{kWarpsPerBlock} + threadIdx.x / 32;
  const SbmEdges& E = a.edges;
  if (r >= E.graphs * E.n_q) return;
  const int64_t g = r / E.n_q, i = r % E.n_q, d = a.d;
  const int group = lane / L;
  const Slice<T, L, PER, kContiguous> slice{lane % L, d};
  const T* k = static_cast<const T*>(a.k) + g * E.n_k * d;
  const T* v = static_cast<const T*>(a.v) + g * E.n_k * d;
  float gi[PER], oi[PER];
  slice.Load(static_cast<const T*>(a.grad_out) + r * d, gi);
  slice.Load(static_cast<const T*>(a.out) + r * d, oi);
  const float D = GroupSum<L>(Dot(gi, oi));
  const float keep_scale = 1.0f / (1.0f - a.dropout.p);
  const float grad_edges = a.grad_edges != nullptr ? a.grad_edges[g] : 0.0f;
  float dq[PER];
#pragma unroll
  for (int t = 0; t < PER; ++t) dq[t] = 0;

  const int64_t begin = E.row_ptr[r], end = E.row_ptr[r + 1];
  for (int64_t e0 = begin; e0 < end; e0 += P) {
    const int64_t e = e0 + group;
    const bool has = e < end;
    const int64_t j = has ? E.col[e] : 0;
    float vj[PER];
    slice.Load(v + j * d, vj);
    const float gv = GroupSum<L>(Dot(gi, vj));
    if (has) {
      const bool keep = sbm_dropout_keep(a.dropout, e);
      const float ds = a.alpha[e] * ((keep ? gv * keep_scale : 0.0f) - D);
      float kj[PER];
      slice.Load(k + j * d, kj);
#pragma unroll
      for (int t = 0; t < PER; ++t) dq[t] += ds * kj[t];
      if (slice.sub == 0) {
        a.ds[e] = ds;
        a.dp[e] = a.self_loops && j == i ? 0.0f : fminf(fmaxf(ds + grad_edges, -1.0f), 1.0f);
      }
    }
  }
#pragma unroll
  for (int offset = L; offset < 32; offset *= 2) {
#pragma unroll
    for (int t = 0; t < PER; ++t) dq[t] += __shfl_xor_sync(kFull, dq[t], offset);
  }
#pragma unroll
  for (int t = 0; t < PER; ++t) dq[t] *= a.scale;
  if (group == 0) slice.Store(static_cast<T*>(a.dq) + r * d, dq);
}

// Key pass over the transposed index: dk_j = scale Σ_i ds_ij q_i, dv_j = Σ_i β_ij g_i.
template <typename T, int L, int PER, bool kContiguous>
__global__ void __launch_bounds__(kThreads) BackwardKeys(BackwardArgs a) {
  constexpr int P = 32 / L;
  const int lane = threadIdx.x % 32;
  const int64_t x = blockIdx.x * int64_t{kWarpsPerBlock} + threadIdx.x / 32;  // g * n_k + j
  const SbmEdges& E = a.edges;
  if (x >= E.graphs * E.n_k) return;
  const int64_t g = x / E.n_k, d = a.d;
  const int group = lane / L;
  const Slice<T, L, PER, kContiguous> slice{lane % L, d};
  const T* q = static_cast<const T*>(a.q) + g * E.n_q * d;
  const T* grad_out = static_cast<const T*>(a.grad_out) + g * E.n_q * d;
  const float keep_scale = 1.0f / (1.0f - a.dropout.p);
  float dk[PER], dv[PER];
#pragma unroll
  for (int t = 0; t < PER; ++t) dk[t] = dv[t] = 0;
  const int64_t begin = a.key_ptr[x], end = a.key_ptr[x + 1];
  for (int64_t t0 = begin; t0 < end; t0 += P) {
    const int64_t t_edge = t0 + group;
    if (t_edge < end) {
      const int64_t e = a.key_edges[t_edge];
      const int64_t i = a.edge_row[e];
      const float ds = a.ds[e];
      const float beta = sbm_dropout_keep(a.dropout, e) ? a.alpha[e] * keep_scale : 0.0f;
      float qi[PER], gi[PER];
      slice.Load(q + i * d, qi);
      slice.Load(grad_out + i * d, gi);
#pragma unroll
      for (int t = 0; t < PER; ++t) {
        dk[t] += ds * qi[t];
        dv[t] += beta * gi[t];
      }
    }
  }
#pragma unroll
  for (int offset = L; offset < 32; offset *= 2) {
#pragma unroll
    for (int t = 0; t < PER; ++t) {
      dk[t] += __shfl_xor_sync(kFull, dk[t], offset);
      dv[t] += __shfl_xor_sync(kFull, dv[t], offset);
    }
  }
#pragma unroll
  for (int t = 0; t < PER; ++t) dk[t] *= a.scale;
  if (group == 0) {
    slice.Store(static_cast<T*>(a.dk) + x * d, dk);
    slice.Store(static_cast<T*>(a.dv) + x * d, dv);
  }
}

// Warp per row (by_key false: W_i = Σ_j dp_ij z_j) or per key (by_key true: X_j =
// Σ_i dp_ij y_i over the transposed index); lanes split the clusters.
__global__ void EdgeSums(SbmEdges E, const int64_t* key_ptr, const int64_t* key_edges,
                         const int32_t* edge_row, int64_t clusters, const float* dp,
                         const float* other, bool by_key, float* sums) {
  const int lane = threadIdx.x % 32;
  const int64_t x = blockIdx.x * int64_t{kWarpsPerBlock} + threadIdx.x / 32;
  const int64_t n_self = by_key ? E.n_k : E.n_q, n_other = by_key ? E.n_q : E.n_k;
  if (x >= E.graphs * n_self) return;
  const int64_t g = x / n_self;
  const int64_t begin = by_key ? key_ptr[x] : E.row_ptr[x];
  const int64_t end = by_key ? key_ptr[x + 1] : E.row_ptr[x + 1];
  for (int64_t u0 = 0; u0 < clusters; u0 += 32) {
    const int64_t u = u0 + lane;
    float acc = 0;
    for (int64_t t = begin; t < end; ++t) {
      const int64_t e = by_key ? key_edges[t] : t;
      const int64_t peer = by_key ? edge_row[e] : E.col[e];
      if (u < clusters) acc += dp[e] * other[(g * n_other + peer) * clusters + u];
    }
    if (u < clusters) sums[x * clusters + u] = acc;
  }
}

// dB[h] = Σ_b partial[b * heads + h], in b order.
__global__ void SumOverBatch(int64_t batch, int64_t heads, int64_t kk, const float* partial,
                             float* db) {
  const int64_t t = blockIdx.x * int64_t{blockDim.x} + threadIdx.x;
  if (t >= heads * kk) return;
  const int64_t h = t / kk, entry = t % kk;
  float sum = 0;
  for (int64_t b = 0; b < batch; ++b) sum += partial[(b * heads + h) * kk + entry];
  db[t] = sum;
}

// The d-dependent launch: contiguous 8-element slices (vector loads) when d = 8 L and every row
// is 16-byte aligned, else strided slices.
template <template <typename, int, int, bool> class Kernel, typename T, typename Args>
void LaunchForD(int64_t items, int64_t d, bool aligned, const Args& args, Stream stream) {
  void (*kernel)(Args) = nullptr;
  switch (aligned && d * static_cast<int64_t>(sizeof(T)) % 16 == 0 ? d : 0) {
    case 16:
      kernel = Kernel<T, 2, 8, true>::kernel;
      break;
    case 32:
      kernel = Kernel<T, 4, 8, true>::kernel;
      break;
    case 64:
      kernel = Kernel<T, 8, 8, true>::kernel;
      break;
    case 128:
      kernel = Kernel<T, 16, 8, true>::kernel;
      break;
    case 256:
      kernel = Kernel<T, 32, 8, true>::kernel;
      break;
    default:
      kernel = d <= 64    ? Kernel<T, 32, 2, false>::kernel
               : d <= 128 ? Kernel<T, 32, 4, false>::kernel
                          : Kernel<T, 32, 8, false>::kernel;
  }
  kernel<<<BlocksFor(items, kWarpsPerBlock), kThreads, 0, stream>>>(args);
}

// True when every pointer is 16-byte aligned.
bool Aligned16(std::initializer_list<const void*> pointers) {
  for (const void* p : pointers) {
    if (reinterpret_cast<uintptr_t>(p) % 16 != 0) return false;
  }
  return true;
}

// Wrappers naming each kernel template for LaunchForD.
template <typename T, int L, int PER, bool C>
struct ForwardKernel {
  static constexpr void (*kernel)(ForwardArgs) = Forward<T, L, PER, C>;
};
template <typename T, int L, int PER, bool C>
struct BackwardRowsKernel {
  static constexpr void (*kernel)(BackwardArgs) = BackwardRows<T, L, PER, C>;
};
template <typename T, int L, int PER, bool C>
struct BackwardKeysKernel {
  static constexpr void (*kernel)(BackwardArgs) = BackwardKeys<T, L, PER, C>;
};

void CheckD(int64_t d, const char* op) {
  if (d <= 0 || d > 256) {
    throw Error(
        ErrorCode::kInvalidArgument,
        std::string(op) + ": head dimension d must be in [1, 256], got " + std::to_string(d));
  }
}

}  // namespace

void CheckCublas(cublasStatus_t status, const char* call) {
  if (status != CUBLAS_STATUS_SUCCESS) {
    throw Error(ErrorCode::kInternal,
                std::string("cuBLAS: ") + call + " failed: " + cublasGetStatusString(status));
  }
}

cublasHandle_t CublasHandle(Stream stream) {
  thread_local cublasHandle_t handles[64] = {};
  int device = 0;
  SBMT_CUDA_CHECK(cudaGetDevice(&device));
  if (device < 0 || device >= 64) throw Error(ErrorCode::kInternal, "CUDA device index >= 64");
  if (handles[device] == nullptr) CheckCublas(cublasCreate(&handles[device]), "cublasCreate");
  CheckCublas(cublasSetStream(handles[device], stream), "cublasSetStream");
  return handles[device];
}

void AllocateBackwardBuffers(SbmCudaBackward& p, DeviceAllocator& allocator) {
  const SbmGraphDevice& g = *p.graph;
  const int64_t c = p.clusters;
  auto floats = [&](int64_t count) {
    return static_cast<float*>(allocator.Allocate(sizeof(float) * (count > 0 ? count : 1)));
  };
  p.dp = floats(g.edges);
  p.ds = floats(g.edges);
  p.dy = floats(g.graphs * g.n_q * c);
  p.dz = floats(g.graphs * g.n_k * c);
  p.db = floats(p.heads * c * c);
  p.w = floats(g.graphs * g.n_q * c);
  p.x = floats(g.graphs * g.n_k * c);
  p.db_partial = floats(g.graphs * c * c);
}

void sbm_attention_forward_cuda(const SbmCudaForward& p, Stream stream) {
  CheckD(p.d, "sbm_attention_forward_cuda");
  const ForwardArgs args{p.edges, p.d, p.q, p.k, p.v, p.scale, p.dropout, p.out, p.alpha};
  const bool aligned = Aligned16({p.q, p.k, p.v, p.out});
  WithType(p.dtype, [&](auto zero) {
    using T = decltype(zero);
    LaunchForD<ForwardKernel, T>(p.edges.graphs * p.edges.n_q, p.d, aligned, args, stream);
  });
  SBMT_CUDA_CHECK_LAUNCH();
}

void sbm_attention_backward_cuda(const SbmCudaBackward& p, Stream stream) {
  CheckD(p.d, "sbm_attention_backward_cuda");
  const SbmGraphDevice& graph = *p.graph;
  if (graph.edges > 0 && graph.key_ptr == nullptr) {
    throw Error(ErrorCode::kInternal,
                "sbm_attention_backward_cuda: the graph is not transposed (transpose_edges_cuda)");
  }
  const SbmEdges E = graph.csr();
  const BackwardArgs args{
      E,       graph.key_ptr, graph.key_edges, graph.edge_row, p.d,     p.q,
      p.k,     p.v,           p.out,           p.grad_out,     p.alpha, p.grad_edges,
      p.scale, p.dropout,     p.self_loops,    p.dq,           p.dk,    p.dv,
      p.dp,    p.ds};
  const bool aligned = Aligned16({p.q, p.k, p.v, p.out, p.grad_out, p.dq, p.dk, p.dv});
  WithType(p.dtype, [&](auto zero) {
    using T = decltype(zero);
    LaunchForD<BackwardRowsKernel, T>(E.graphs * E.n_q, p.d, aligned, args, stream);
    LaunchForD<BackwardKeysKernel, T>(E.graphs * E.n_k, p.d, aligned, args, stream);
  });
  SBMT_CUDA_CHECK_LAUNCH();
  if (p.dy == nullptr) return;

  const int64_t c = p.clusters, heads = p.heads, batch = E.graphs / heads;
  EdgeSums<<<BlocksFor(E.graphs * E.n_q, kWarpsPerBlock), kThreads, 0, stream>>>(
      E, graph.key_ptr, graph.key_edges, graph.edge_row, c, p.dp, p.z, false, p.w);
  EdgeSums<<<BlocksFor(E.graphs * E.n_k, kWarpsPerBlock), kThreads, 0, stream>>>(
      E, graph.key_ptr, graph.key_edges, graph.edge_row, c, p.dp, p.y, true, p.x);
  SBMT_CUDA_CHECK_LAUNCH();
  // Row-major products through column-major cuBLAS (a row-major matrix is its transpose).
  cublasHandle_t handle = CublasHandle(stream);
  const float one = 1.0f, zero = 0.0f;
  const int ci = static_cast<int>(c), nq = static_cast<int>(E.n_q), nk = static_cast<int>(E.n_k);
  for (int64_t h = 0; h < heads; ++h) {
    // dY_g = W_g B_hᵀ for the graphs g = b * heads + h.
    CheckCublas(cublasSgemmStridedBatched(handle, CUBLAS_OP_T, CUBLAS_OP_N, ci, nq, ci, &one,
                                          p.b + h * c * c, ci, 0, p.w + h * E.n_q * c, ci,
                                          heads * E.n_q * c, &zero, p.dy + h * E.n_q * c, ci,
                                          heads * E.n_q * c, static_cast<int>(batch)),
                "dY = W Bᵀ");
    // dZ_g = X_g B_h.
    CheckCublas(cublasSgemmStridedBatched(handle, CUBLAS_OP_N, CUBLAS_OP_N, ci, nk, ci, &one,
                                          p.b + h * c * c, ci, 0, p.x + h * E.n_k * c, ci,
                                          heads * E.n_k * c, &zero, p.dz + h * E.n_k * c, ci,
                                          heads * E.n_k * c, static_cast<int>(batch)),
                "dZ = X B");
  }
  // dB: per graph Y_gᵀ W_g, then the sum over the batch in a fixed order.
  CheckCublas(cublasSgemmStridedBatched(handle, CUBLAS_OP_N, CUBLAS_OP_T, ci, ci, nq, &one, p.w, ci,
                                        E.n_q * c, p.y, ci, E.n_q * c, &zero, p.db_partial, ci,
                                        c * c, static_cast<int>(E.graphs)),
              "dB_g = Y_gᵀ W_g");
  SumOverBatch<<<BlocksFor(heads * c * c, kThreads), kThreads, 0, stream>>>(batch, heads, c * c,
                                                                            p.db_partial, p.db);
  SBMT_CUDA_CHECK_LAUNCH();
}

}  // namespace sbmt::attention::cuda
