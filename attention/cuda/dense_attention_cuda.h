// Dense softmax attention on CUDA (cuBLAS products and a row softmax), forward and backward:
// the benchmark's "dense" column, what SBM attention must beat at every density it targets.
// Torch-free, like the SBM kernels; inputs and outputs in float32, bfloat16 or float16, scores
// and products accumulated in float32 (cuBLAS compute type 32F).
#pragma once

#include <cstdint>

#include "attention/cuda/sbm_attention_cuda.h"

namespace sbmt::attention::cuda {

struct DenseAttentionCuda {
  int64_t graphs = 0;  // batch * heads
  int64_t n = 0;       // queries = keys
  int64_t d = 0;
  DType dtype = DType::kBFloat16;
  const void* q = nullptr;  // [graphs, n, d]
  const void* k = nullptr;
  const void* v = nullptr;
  const void* grad_out = nullptr;
  void* out = nullptr;  // written
  void* dq = nullptr;   // written by the backward
  void* dk = nullptr;
  void* dv = nullptr;
  // Scratch: the scores and their gradient, [chunk, n, n] each in dtype, where chunk is the
  // number of graphs processed at once (dense_attention_chunk).
  void* scores = nullptr;
  void* grad_scores = nullptr;
  int64_t chunk = 1;
};

// How many graphs' n x n scores fit in `budget_bytes` (two buffers), at least 1.
int64_t dense_attention_chunk(int64_t graphs, int64_t n, DType dtype, int64_t budget_bytes);

void dense_attention_forward_cuda(const DenseAttentionCuda& a, Stream stream);
// Needs the forward's out and recomputes the probabilities (as FlashAttention does).
void dense_attention_backward_cuda(const DenseAttentionCuda& a, Stream stream);

}  // namespace sbmt::attention::cuda
