// fastRG on the GPU (sbm_attention_cuda.h): the law of fastrg_sampler.cc, row by row.
//
// Pass 1 (one thread per graph column, then per row): the key tables' running sums and z̄, the
// block rates t, each row's Poisson edge count and the key of its edge stream. The rate sums
// run in the CPU's order, in double, without fused multiply-adds (this file is compiled with
// --fmad=false), and the count is the same Philox draw (poisson.h), so a row gets the same
// number of draws as on the CPU.
// Pass 2 (one warp per row): the row's table over blocks u in shared memory, then each edge
// draws u, v given u, and a key given v by binary search in running sums (each from its own
// SplitMix64 words), the self loop last. Rows are then sorted (CUB segmented sort), and the
// duplicates dropped into the final CSR.
#include <cuda_runtime.h>

#include <cmath>
#include <cub/cub.cuh>
#include <string>
#include <vector>

#include "attention/cuda/cuda_check.h"
#include "attention/cuda/sbm_attention_cuda.h"
#include "attention/philox.h"
#include "attention/poisson.h"
#include "runtime/error.h"

namespace sbmt::attention::cuda {
namespace {

constexpr int kThreads = 256;
constexpr int kWarpsPerBlock = kThreads / 32;

// The words of PhiloxStream (philox.h) in the same order, one block at a time.
class DevicePhiloxStream {
 public:
  __device__ DevicePhiloxStream(uint64_t seed, uint64_t stream, uint64_t offset)
      : key_lo_(static_cast<uint32_t>(seed)),
        key_hi_(static_cast<uint32_t>(seed >> 32)),
        stream_(stream),
        block_(offset) {}

  __device__ uint32_t NextU32() {
    if (used_ == 4) {
      words_ = Philox4x32({static_cast<uint32_t>(block_), static_cast<uint32_t>(block_ >> 32),
                           static_cast<uint32_t>(stream_), static_cast<uint32_t>(stream_ >> 32)},
                          key_lo_, key_hi_);
      ++block_;
      used_ = 0;
    }
    return words_[used_++];
  }

  // UniformDraws::Uniform: 53 bits from two words, high word first.
  __device__ double Uniform() {
    const uint64_t hi = NextU32();
    const uint64_t lo = NextU32();
    return static_cast<double>(((hi << 32) | lo) >> 11) * 0x1.0p-53;
  }

 private:
  uint32_t key_lo_, key_hi_;
  uint64_t stream_, block_;
  PhiloxWords words_{};
  int used_ = 4;
};

struct Layout {
  int64_t batch, heads, n_q, n_k, k;
  __host__ __device__ int64_t graphs() const { return batch * heads; }
  __host__ __device__ int64_t rows() const { return graphs() * n_q; }
};

__device__ bool Valid(const uint8_t* mask, int64_t batch_index, int64_t n, int64_t i) {
  return mask == nullptr || mask[batch_index * n + i] != 0;
}

// bit 1: y, 2: z, 4: b has a NaN, infinite or negative entry.
__global__ void CheckEntries(const float* values, int64_t count, int bit, int* flags) {
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < count;
       i += int64_t{gridDim.x} * blockDim.x) {
    const float x = values[i];
    if (!(x >= 0.0f) || isinf(x)) {
      atomicOr(flags, bit);
      return;
    }
  }
}

// Thread (g, v), v <= k: the running sums of key column v over keys (the eps column v = k
// weighs every valid key 1), stored as float at key_cdf[(g * n_k + j) * (k + 1) + v] so that a
// warp's threads read Z and write the sums on consecutive addresses; zsum[g][v] is the total.
// Sequential in double: the same z̄ as GraphSampler's constructor.
__global__ void KeySums(Layout s, const float* z, const uint8_t* key_valid, float eps,
                        float* key_cdf, double* zsum) {
  const int64_t t = blockIdx.x * int64_t{blockDim.x} + threadIdx.x;
  const int64_t k1 = s.k + 1;
  if (t >= s.graphs() * k1) return;
  const int64_t g = t / k1, v = t % k1, b = g / s.heads;
  const float eps_weight = eps > 0 ? 1.0f : 0.0f;
  double sum = 0;
  for (int64_t j = 0; j < s.n_k; ++j) {
    if (Valid(key_valid, b, s.n_k, j)) sum += v < s.k ? z[(g * s.n_k + j) * s.k + v] : eps_weight;
    key_cdf[(g * s.n_k + j) * k1 + v] = static_cast<float>(sum);
  }
  zsum[t] = sum;
}

// Thread (g, u), u <= k: t_u = Σ_v B_uv z̄_v (t_k = eps z̄_k), and block table u: the running
// sums over v of B_uv z̄_v as float weights (table k: only v = k), as the CPU builds them.
__global__ void BlockTables(Layout s, const float* b, float eps, const double* zsum, double* rate,
                            float* block_cdf) {
  const int64_t t = blockIdx.x * int64_t{blockDim.x} + threadIdx.x;
  const int64_t k = s.k, k1 = k + 1;
  if (t >= s.graphs() * k1) return;
  const int64_t g = t / k1, u = t % k1, h = g % s.heads;
  const double* zs = zsum + g * k1;
  float* table = block_cdf + t * k1;
  if (u == k) {
    rate[t] = static_cast<double>(eps) * zs[k];
    for (int64_t v = 0; v < k; ++v) table[v] = 0.0f;
    table[k] = 1.0f;
    return;
  }
  const float* bh = b + (h * k + u) * k;
  double total = 0, running = 0;
  for (int64_t v = 0; v < k; ++v) {
    total += static_cast<double>(bh[v]) * zs[v];
    running += static_cast<float>(bh[v] * zs[v]);
    table[v] = static_cast<float>(running);
  }
  table[k] = static_cast<float>(running);
  rate[t] = total;
}

// Thread per row: the Poisson count from the row's Philox stream (keyed as the CPU's), then the
// key of its edge stream. slots[r] = count plus the self loop; slots[rows] = 0 for the scan.
__global__ void CountRows(Layout s, const float* y, const uint8_t* query_valid,
                          const uint8_t* key_valid, bool self_loops, uint64_t seed,
                          const uint64_t* streams, const double* rate, int64_t* slots,
                          int64_t* row_draws, uint64_t* edge_keys, int* flags) {
  const int64_t r = blockIdx.x * int64_t{blockDim.x} + threadIdx.x;
  if (r == s.rows()) slots[r] = 0;
  if (r >= s.rows()) return;
  const int64_t g = r / s.n_q, i = r % s.n_q, b = g / s.heads, k = s.k;
  const bool row_valid = Valid(query_valid, b, s.n_q, i);
  int64_t count = 0;
  if (row_valid) {
    // GraphSampler::RowRate, term for term.
    const double* t = rate + g * (k + 1);
    const float* yi = y + r * k;
    double partial[4] = {t[k], 0, 0, 0};
    int64_t u = 0;
    for (; u + 4 <= k; u += 4) {
      for (int lane = 0; lane < 4; ++lane) partial[lane] += yi[u + lane] * t[u + lane];
    }
    for (; u < k; ++u) partial[0] += yi[u] * t[u];
    const double row_rate = (partial[0] + partial[1]) + (partial[2] + partial[3]);
    if (!isfinite(row_rate)) {
      atomicOr(flags, 8);
      row_draws[r] = 0;
      slots[r] = 0;
      return;
    }
    DevicePhiloxStream rng(seed, streams[g], static_cast<uint64_t>(i) << 32);
    count = SamplePoisson(rng, row_rate);
    const uint64_t hi = rng.NextU32();
    edge_keys[r] = (hi << 32) | rng.NextU32();
  }
  const bool loop = self_loops && row_valid && i < s.n_k && Valid(key_valid, b, s.n_k, i);
  row_draws[r] = count;
  slots[r] = count + (loop ? 1 : 0);
}

// The first index whose running sum exceeds x, among `size` sums `stride` apart; x is below the
// last sum, so the index found has a positive weight.
__device__ int32_t SearchRunning(const float* running, int64_t size, int64_t stride, float x) {
  int64_t lo = 0, hi = size - 1;
  while (lo < hi) {
    const int64_t mid = (lo + hi) / 2;
    if (running[mid * stride] > x) {
      hi = mid;
    } else {
      lo = mid + 1;
    }
  }
  return static_cast<int32_t>(lo);
}

// A uniform draw scaled to [0, total), kept strictly below total against rounding.
__device__ float Below(uint32_t bits24, float total) {
  const float x = static_cast<float>(bits24) * 0x1.0p-24f * total;
  return fminf(x, nextafterf(total, 0.0f));
}

// Warp per row: the row's table over u (shared memory), then its edges into slots
// [start[r], start[r + 1]), the self loop last.
__global__ void DrawRows(Layout s, const float* y, const uint8_t* query_valid,
                         const uint8_t* key_valid, bool self_loops, const double* rate,
                         const float* block_cdf, const float* key_cdf, const int64_t* start,
                         const int64_t* row_draws, const uint64_t* edge_keys, int32_t* slots) {
  extern __shared__ float shared_running[];
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  const int64_t r = blockIdx.x * int64_t{kWarpsPerBlock} + warp;
  if (r >= s.rows()) return;
  const int64_t k = s.k, k1 = k + 1;
  const int64_t g = r / s.n_q, i = r % s.n_q, b = g / s.heads;
  const int64_t drawn = row_draws[r];
  int32_t* row = slots + start[r];
  if (drawn > 0) {
    float* running = shared_running + warp * k1;
    // Weights y_iu t_u (t_k for the eps block) as float, summed in double by a warp scan in
    // chunks of 32.
    const double* t = rate + g * k1;
    double carry = 0;
    for (int64_t u0 = 0; u0 < k1; u0 += 32) {
      const int64_t u = u0 + lane;
      double w = 0;
      if (u < k) w = static_cast<float>(y[r * k + u] * t[u]);
      if (u == k) w = static_cast<float>(t[k]);
      for (int offset = 1; offset < 32; offset *= 2) {
        const double other = __shfl_up_sync(0xffffffffu, w, offset);
        if (lane >= offset) w += other;
      }
      if (u < k1) running[u] = static_cast<float>(carry + w);
      carry += __shfl_sync(0xffffffffu, w, 31);
    }
    __syncwarp();
    const float row_total = running[k];
    const uint64_t key = edge_keys[r];
    for (int64_t e = lane; e < drawn; e += 32) {
      // Two SplitMix64 outputs per edge: 24 bits each for u, v and the key.
      const uint64_t w0 = runtime::Fmix64(key + (2 * e + 1) * runtime::kGoldenGamma);
      const uint64_t w1 = runtime::Fmix64(key + (2 * e + 2) * runtime::kGoldenGamma);
      const int32_t u =
          SearchRunning(running, k1, 1, Below(static_cast<uint32_t>(w0 >> 40), row_total));
      const float* blocks = block_cdf + (g * k1 + u) * k1;
      const int32_t v = SearchRunning(blocks, k1, 1,
                                      Below(static_cast<uint32_t>(w0 >> 8) & 0xFFFFFFu, blocks[k]));
      const float* keys = key_cdf + g * s.n_k * k1 + v;
      const float key_total = keys[(s.n_k - 1) * k1];
      row[e] = SearchRunning(keys, s.n_k, k1, Below(static_cast<uint32_t>(w1 >> 40), key_total));
    }
  }
  const bool loop =
      self_loops && Valid(query_valid, b, s.n_q, i) && i < s.n_k && Valid(key_valid, b, s.n_k, i);
  if (loop && lane == 0) row[drawn] = static_cast<int32_t>(i);
}

// Warp per row of sorted slots: unique[r] = the number of distinct keys.
__global__ void CountUnique(int64_t rows, const int64_t* start, const int32_t* sorted,
                            int64_t* unique) {
  const int lane = threadIdx.x % 32;
  const int64_t r = blockIdx.x * int64_t{kWarpsPerBlock} + threadIdx.x / 32;
  if (r == rows && lane == 0) unique[r] = 0;
  if (r >= rows) return;
  int64_t count = 0;
  for (int64_t e = start[r] + lane; e < start[r + 1]; e += 32) {
    count += (e == start[r] || sorted[e] != sorted[e - 1]) ? 1 : 0;
  }
  for (int offset = 16; offset > 0; offset /= 2) {
    count += __shfl_down_sync(0xffffffffu, count, offset);
  }
  if (lane == 0) unique[r] = count;
}

// Warp per row: the distinct keys, in order, to col[row_ptr[r] ...).
__global__ void CompactRows(int64_t rows, const int64_t* start, const int32_t* sorted,
                            const int64_t* row_ptr, int32_t* col) {
  const int lane = threadIdx.x % 32;
  const int64_t r = blockIdx.x * int64_t{kWarpsPerBlock} + threadIdx.x / 32;
  if (r >= rows) return;
  int64_t out = row_ptr[r];
  for (int64_t e0 = start[r]; e0 < start[r + 1]; e0 += 32) {
    const int64_t e = e0 + lane;
    const bool first = e < start[r + 1] && (e == start[r] || sorted[e] != sorted[e - 1]);
    const unsigned ballot = __ballot_sync(0xffffffffu, first);
    if (first) col[out + __popc(ballot & ((1u << lane) - 1u))] = sorted[e];
    out += __popc(ballot);
  }
}

// Block per graph: its Poisson draws, summed in a fixed order.
__global__ void GraphDraws(int64_t n_q, const int64_t* row_draws, int64_t* draws) {
  using Reduce = cub::BlockReduce<int64_t, kThreads>;
  __shared__ typename Reduce::TempStorage storage;
  int64_t sum = 0;
  for (int64_t i = threadIdx.x; i < n_q; i += kThreads) sum += row_draws[blockIdx.x * n_q + i];
  const int64_t total = Reduce(storage).Sum(sum);
  if (threadIdx.x == 0) draws[blockIdx.x] = total;
}

// Warp per row: edge_row[e] = i and the sort key g * n_k + col[e] of each of its edges.
__global__ void EdgeKeys(int64_t rows, int64_t n_q, int64_t n_k, const int64_t* row_ptr,
                         const int32_t* col, int32_t* edge_row, int32_t* keys) {
  const int lane = threadIdx.x % 32;
  const int64_t r = blockIdx.x * int64_t{kWarpsPerBlock} + threadIdx.x / 32;
  if (r >= rows) return;
  const int64_t g = r / n_q;
  for (int64_t e = row_ptr[r] + lane; e < row_ptr[r + 1]; e += 32) {
    edge_row[e] = static_cast<int32_t>(r % n_q);
    keys[e] = static_cast<int32_t>(g * n_k + col[e]);
  }
}

__global__ void Iota(int64_t n, int64_t* out) {
  const int64_t e = blockIdx.x * int64_t{blockDim.x} + threadIdx.x;
  if (e < n) out[e] = e;
}

// key_ptr[x] = the number of edges whose key is below x (sorted keys, binary search).
__global__ void KeyOffsets(int64_t keys, int64_t edges, const int32_t* sorted, int64_t* key_ptr) {
  const int64_t x = blockIdx.x * int64_t{blockDim.x} + threadIdx.x;
  if (x > keys) return;
  int64_t lo = 0, hi = edges;
  while (lo < hi) {
    const int64_t mid = (lo + hi) / 2;
    if (sorted[mid] < x) {
      lo = mid + 1;
    } else {
      hi = mid;
    }
  }
  key_ptr[x] = lo;
}

template <typename T>
T* Get(DeviceAllocator& allocator, int64_t count) {
  return static_cast<T*>(
      allocator.Allocate(static_cast<size_t>(count > 0 ? count : 1) * sizeof(T)));
}

[[noreturn]] void Invalid(const std::string& message) {
  throw Error(ErrorCode::kInvalidArgument, "fastrg_sample_cuda: " + message);
}

// CUB's two-call pattern: size the scratch, allocate it, run.
template <typename F>
void RunCub(DeviceAllocator& allocator, F&& call) {
  size_t bytes = 0;
  SBMT_CUDA_CHECK(call(nullptr, bytes));
  void* scratch = allocator.Allocate(bytes > 0 ? bytes : 1);
  SBMT_CUDA_CHECK(call(scratch, bytes));
}

}  // namespace

SbmGraphDevice fastrg_sample_cuda(const FastRgParams& p, DeviceAllocator& allocator,
                                  Stream stream) {
  for (const auto& [name, value] : {std::pair<const char*, int64_t>{"batch", p.batch},
                                    {"heads", p.heads},
                                    {"n_q", p.n_q},
                                    {"n_k", p.n_k},
                                    {"k", p.k}}) {
    if (value <= 0) Invalid(std::string(name) + ": expected > 0, got " + std::to_string(value));
  }
  if (p.batch * p.heads * p.n_k >= (int64_t{1} << 31) || p.n_q >= (int64_t{1} << 31)) {
    Invalid("batch * heads * n_k and n_q must fit in int32");
  }
  if (!(p.eps >= 0 && p.eps < 1)) {
    Invalid("eps: expected a value in [0, 1), got " + std::to_string(p.eps));
  }
  if (p.k > 2048) Invalid("k: at most 2048 clusters on the GPU, got " + std::to_string(p.k));
  const Layout s{p.batch, p.heads, p.n_q, p.n_k, p.k};
  const int64_t graphs = s.graphs(), rows = s.rows(), k1 = p.k + 1;

  // Each graph's stream id, as GraphSampler's (computed here, copied once).
  std::vector<uint64_t> host_streams(graphs);
  for (int64_t g = 0; g < graphs; ++g) {
    host_streams[g] =
        StreamId({p.step, p.layer, p.batch_offset + static_cast<uint64_t>(g / p.heads),
                  static_cast<uint64_t>(g % p.heads), kPurposeEdges});
  }
  uint64_t* streams = Get<uint64_t>(allocator, graphs);
  SBMT_CUDA_CHECK(cudaMemcpyAsync(streams, host_streams.data(), graphs * sizeof(uint64_t),
                                  cudaMemcpyHostToDevice, stream));
  int* flags = Get<int>(allocator, 1);
  SBMT_CUDA_CHECK(cudaMemsetAsync(flags, 0, sizeof(int), stream));
  CheckEntries<<<BlocksFor(graphs * p.n_q * p.k, kThreads * 8), kThreads, 0, stream>>>(
      p.y, graphs * p.n_q * p.k, 1, flags);
  CheckEntries<<<BlocksFor(graphs * p.n_k * p.k, kThreads * 8), kThreads, 0, stream>>>(
      p.z, graphs * p.n_k * p.k, 2, flags);
  CheckEntries<<<BlocksFor(p.heads * p.k * p.k, kThreads * 8), kThreads, 0, stream>>>(
      p.b, p.heads * p.k * p.k, 4, flags);
  SBMT_CUDA_CHECK_LAUNCH();

  // Pass 1.
  float* key_cdf = Get<float>(allocator, graphs * p.n_k * k1);
  double* zsum = Get<double>(allocator, graphs * k1);
  double* rate = Get<double>(allocator, graphs * k1);
  float* block_cdf = Get<float>(allocator, graphs * k1 * k1);
  KeySums<<<BlocksFor(graphs * k1, 64), 64, 0, stream>>>(s, p.z, p.key_valid, p.eps, key_cdf, zsum);
  BlockTables<<<BlocksFor(graphs * k1, 64), 64, 0, stream>>>(s, p.b, p.eps, zsum, rate, block_cdf);
  int64_t* slots = Get<int64_t>(allocator, rows + 1);
  int64_t* row_draws = Get<int64_t>(allocator, rows);
  uint64_t* edge_keys = Get<uint64_t>(allocator, rows);
  CountRows<<<BlocksFor(rows + 1, kThreads), kThreads, 0, stream>>>(
      s, p.y, p.query_valid, p.key_valid, p.self_loops, p.seed, streams, rate, slots, row_draws,
      edge_keys, flags);
  SBMT_CUDA_CHECK_LAUNCH();
  int64_t* start = Get<int64_t>(allocator, rows + 1);
  RunCub(allocator, [&](void* scratch, size_t& bytes) {
    return cub::DeviceScan::ExclusiveSum(scratch, bytes, slots, start, rows + 1, stream);
  });
  int64_t total = 0;
  int host_flags = 0;
  SBMT_CUDA_CHECK(
      cudaMemcpyAsync(&total, start + rows, sizeof(int64_t), cudaMemcpyDeviceToHost, stream));
  SBMT_CUDA_CHECK(cudaMemcpyAsync(&host_flags, flags, sizeof(int), cudaMemcpyDeviceToHost, stream));
  SBMT_CUDA_CHECK(cudaStreamSynchronize(stream));
  for (const auto& [bit, name] : {std::pair<int, const char*>{1, "y"}, {2, "z"}, {4, "b"}}) {
    if (host_flags & bit) {
      Invalid(std::string(name) +
              ": expected finite entries >= 0, found a NaN, infinite or "
              "negative one");
    }
  }
  if (host_flags & 8) Invalid("a row's edge rate overflowed (memberships or B too large)");

  // Pass 2.
  int32_t* drawn = Get<int32_t>(allocator, total);
  const size_t shared = static_cast<size_t>(kWarpsPerBlock) * k1 * sizeof(float);
  if (shared > 48 * 1024) {
    SBMT_CUDA_CHECK(cudaFuncSetAttribute(DrawRows, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                         static_cast<int>(shared)));
  }
  DrawRows<<<BlocksFor(rows, kWarpsPerBlock), kThreads, shared, stream>>>(
      s, p.y, p.query_valid, p.key_valid, p.self_loops, rate, block_cdf, key_cdf, start, row_draws,
      edge_keys, drawn);
  SBMT_CUDA_CHECK_LAUNCH();
  int32_t* sorted = Get<int32_t>(allocator, total);
  if (total > 0) {
    RunCub(allocator, [&](void* scratch, size_t& bytes) {
      return cub::DeviceSegmentedSort::SortKeys(scratch, bytes, drawn, sorted, total, rows, start,
                                                start + 1, stream);
    });
  }
  int64_t* unique = Get<int64_t>(allocator, rows + 1);
  CountUnique<<<BlocksFor(rows + 1, kWarpsPerBlock), kThreads, 0, stream>>>(rows, start, sorted,
                                                                            unique);
  SBMT_CUDA_CHECK_LAUNCH();

  SbmGraphDevice graph;
  graph.graphs = graphs;
  graph.n_q = p.n_q;
  graph.n_k = p.n_k;
  graph.row_ptr = Get<int64_t>(allocator, rows + 1);
  RunCub(allocator, [&](void* scratch, size_t& bytes) {
    return cub::DeviceScan::ExclusiveSum(scratch, bytes, unique, graph.row_ptr, rows + 1, stream);
  });
  SBMT_CUDA_CHECK(cudaMemcpyAsync(&graph.edges, graph.row_ptr + rows, sizeof(int64_t),
                                  cudaMemcpyDeviceToHost, stream));
  SBMT_CUDA_CHECK(cudaStreamSynchronize(stream));
  graph.col = Get<int32_t>(allocator, graph.edges);
  CompactRows<<<BlocksFor(rows, kWarpsPerBlock), kThreads, 0, stream>>>(rows, start, sorted,
                                                                        graph.row_ptr, graph.col);
  graph.draws = Get<int64_t>(allocator, graphs);
  GraphDraws<<<static_cast<unsigned>(graphs), kThreads, 0, stream>>>(p.n_q, row_draws, graph.draws);
  SBMT_CUDA_CHECK_LAUNCH();
  return graph;
}

void transpose_edges_cuda(SbmGraphDevice& graph, DeviceAllocator& allocator, Stream stream) {
  const int64_t rows = graph.graphs * graph.n_q, keys = graph.graphs * graph.n_k;
  const int64_t edges = graph.edges;
  graph.edge_row = Get<int32_t>(allocator, edges);
  graph.key_edges = Get<int64_t>(allocator, edges);
  graph.key_ptr = Get<int64_t>(allocator, keys + 1);
  int32_t* edge_key = Get<int32_t>(allocator, edges);
  int32_t* sorted_key = Get<int32_t>(allocator, edges);
  int64_t* iota = Get<int64_t>(allocator, edges);
  EdgeKeys<<<BlocksFor(rows, kWarpsPerBlock), kThreads, 0, stream>>>(
      rows, graph.n_q, graph.n_k, graph.row_ptr, graph.col, graph.edge_row, edge_key);
  Iota<<<BlocksFor(edges, kThreads), kThreads, 0, stream>>>(edges, iota);
  SBMT_CUDA_CHECK_LAUNCH();
  if (edges > 0) {
    int bits = 1;
    while ((int64_t{1} << bits) < keys) ++bits;
    // Radix sort is stable: each key's edges keep their ascending order.
    RunCub(allocator, [&](void* scratch, size_t& bytes) {
      return cub::DeviceRadixSort::SortPairs(scratch, bytes, edge_key, sorted_key, iota,
                                             graph.key_edges, edges, 0, bits, stream);
    });
  }
  KeyOffsets<<<BlocksFor(keys + 1, kThreads), kThreads, 0, stream>>>(keys, edges, sorted_key,
                                                                     graph.key_ptr);
  SBMT_CUDA_CHECK_LAUNCH();
}

CudaArena::~CudaArena() {
  while (blocks_ != nullptr) {
    Block* next = blocks_->next;
    cudaFree(blocks_->ptr);
    delete blocks_;
    blocks_ = next;
  }
}

void* CudaArena::Allocate(size_t bytes) {
  void* ptr = nullptr;
  SBMT_CUDA_CHECK(cudaMalloc(&ptr, bytes));
  blocks_ = new Block{ptr, blocks_};
  return ptr;
}

int cuda_device_count() {
  int count = 0;
  if (cudaGetDeviceCount(&count) != cudaSuccess) {
    cudaGetLastError();  // clear the sticky "no driver" error
    return 0;
  }
  return count;
}

const char* DTypeName(DType dtype) {
  switch (dtype) {
    case DType::kFloat32:
      return "float32";
    case DType::kBFloat16:
      return "bfloat16";
    case DType::kFloat16:
      return "float16";
  }
  return "?";
}

}  // namespace sbmt::attention::cuda
