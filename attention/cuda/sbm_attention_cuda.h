// SBM attention on CUDA: the fastRG sampler, the transposed edge index, and the attention and
// membership kernels, torch-free (plain device pointers, shapes and a stream) like the CPU ones.
// Callers include no CUDA header: streams travel as CUstream_st* (what cudaStream_t is).
//
// Same math, layouts and streams as the CPU (fastrg_sampler.h, sbm_attention_kernels.h):
//   - a row's edge count is the same Philox draw as on the CPU (poisson.h, philox.h are shared),
//     its endpoints are drawn by binary search in running sums (the CPU also uses alias tables,
//     so the edges follow the same law but are not the same edges; tests check the law);
//   - dropout keeps exactly the CPU's edges (sbm_dropout_keep);
//   - every sum runs in a fixed order, with no floating-point atomics: key-side gradients (dk, dv,
//     dZ) read the transposed index, so results are deterministic for a fixed seed.
//
//   CudaArena arena;                                   // or the binding's torch-backed allocator
//   SbmGraphDevice g = fastrg_sample_cuda(params, arena, stream);   // params: device pointers
//   transpose_edges_cuda(g, arena, stream);            // for the backward
//   sbm_attention_forward_cuda(forward, stream);       // forward.edges = g.csr()
//   sbm_attention_backward_cuda(backward, stream);
//
// Inputs q, k, v, grad_out and outputs out, dq, dk, dv are float32, bfloat16 or float16 (DType);
// softmax weights, edge gradients, memberships and B are float32; every accumulation is float32.
#pragma once

#include <cstddef>
#include <cstdint>

#include "attention/fastrg_sampler.h"
#include "attention/sbm_attention_kernels.h"

struct CUstream_st;

namespace sbmt::attention::cuda {

using Stream = CUstream_st*;

enum class DType { kFloat32, kBFloat16, kFloat16 };
const char* DTypeName(DType dtype);

// Device memory for the sampler's outputs and scratch. The allocator owns what it returns and
// keeps it alive at least until it is destroyed; the binding's allocator hands out torch
// tensors (the caching allocator), tests and the benchmark a CudaArena.
class DeviceAllocator {
 public:
  virtual ~DeviceAllocator() = default;
  virtual void* Allocate(size_t bytes) = 0;
};

// cudaMalloc'd blocks, freed together when the arena is destroyed.
class CudaArena : public DeviceAllocator {
 public:
  CudaArena() = default;
  CudaArena(const CudaArena&) = delete;
  CudaArena& operator=(const CudaArena&) = delete;
  ~CudaArena() override;
  void* Allocate(size_t bytes) override;

 private:
  struct Block {
    void* ptr;
    Block* next;
  };
  Block* blocks_ = nullptr;
};

// The sampled graphs in device memory (layouts as SbmGraph), and after transpose_edges_cuda
// the same edges by key: key_ptr[g * n_k + j] .. key_ptr[g * n_k + j + 1] index key_edges,
// the edges e into key j in ascending order, and edge_row[e] is the query of edge e.
struct SbmGraphDevice {
  int64_t graphs = 0;
  int64_t n_q = 0;
  int64_t n_k = 0;
  int64_t edges = 0;
  int64_t* row_ptr = nullptr;    // graphs * n_q + 1
  int32_t* col = nullptr;        // edges
  int64_t* draws = nullptr;      // graphs: Poisson draws before deduplication
  int64_t* key_ptr = nullptr;    // graphs * n_k + 1, after transpose_edges_cuda
  int64_t* key_edges = nullptr;  // edges
  int32_t* edge_row = nullptr;   // edges

  SbmEdges csr() const { return {graphs, n_q, n_k, row_ptr, col}; }
};

// fastrg_sample on the device: y, z, b, query_valid and key_valid are device pointers, with the
// layouts and meaning of FastRgParams. Blocks the host once (to size the edge buffer) and throws
// sbmt::Error (invalid argument) for a NaN, infinite or negative membership or B entry, as the
// CPU sampler does.
SbmGraphDevice fastrg_sample_cuda(const FastRgParams& params, DeviceAllocator& allocator,
                                  Stream stream);

// Fills key_ptr, key_edges and edge_row (a stable radix sort of the edges by key).
void transpose_edges_cuda(SbmGraphDevice& graph, DeviceAllocator& allocator, Stream stream);

struct SbmCudaForward {
  SbmEdges edges;  // device pointers
  int64_t d = 0;
  DType dtype = DType::kFloat32;
  const void* q = nullptr;  // [G, n_q, d]
  const void* k = nullptr;  // [G, n_k, d]
  const void* v = nullptr;  // [G, n_k, d]
  float scale = 0;
  SbmDropout dropout;
  void* out = nullptr;     // [G, n_q, d], written
  float* alpha = nullptr;  // [E], written: softmax weights before dropout
};

struct SbmCudaBackward {
  const SbmGraphDevice* graph = nullptr;  // transposed
  int64_t d = 0;
  DType dtype = DType::kFloat32;
  const void* q = nullptr;
  const void* k = nullptr;
  const void* v = nullptr;
  const void* out = nullptr;
  const void* grad_out = nullptr;
  const float* alpha = nullptr;
  const float* grad_edges = nullptr;  // [G] or null
  float scale = 0;
  SbmDropout dropout;
  bool self_loops = false;
  void* dq = nullptr;   // written
  void* dk = nullptr;   // written
  void* dv = nullptr;   // written
  float* dp = nullptr;  // [E], written: the straight-through edge gradient
  float* ds = nullptr;  // [E] scratch
  // Membership backward (sbm_membership_backward), all float32; skipped when dy is null.
  int64_t heads = 0;
  int64_t clusters = 0;
  const float* y = nullptr;     // [G, n_q, clusters]
  const float* z = nullptr;     // [G, n_k, clusters]
  const float* b = nullptr;     // [heads, clusters, clusters]
  float* dy = nullptr;          // written
  float* dz = nullptr;          // written
  float* db = nullptr;          // written, summed over the batch
  float* w = nullptr;           // [G, n_q, clusters] scratch: Σ_j dp_ij z_j
  float* x = nullptr;           // [G, n_k, clusters] scratch: Σ_i dp_ij y_i
  float* db_partial = nullptr;  // [G, clusters, clusters] scratch: Y_gᵀ W_g per graph
};

void sbm_attention_forward_cuda(const SbmCudaForward& p, Stream stream);
void sbm_attention_backward_cuda(const SbmCudaBackward& p, Stream stream);

// Points p's float32 outputs and scratch (dp, ds, dy, dz, db, w, x, db_partial) at new blocks of
// `allocator`, sized by p.graph, p.heads and p.clusters (which must be set).
void AllocateBackwardBuffers(SbmCudaBackward& p, DeviceAllocator& allocator);

// Number of visible CUDA devices; 0 where there is no driver or no GPU (tests skip then).
int cuda_device_count();

}  // namespace sbmt::attention::cuda
