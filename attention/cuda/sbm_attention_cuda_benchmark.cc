// Benchmark: SBM attention on the GPU against dense attention (cuBLAS) and, when given, a fused
// FlashAttention-style kernel (torch's scaled_dot_product_attention, timed by
// tools/gpu_check/sdpa_benchmark.py), in one run. Torch-free.
//
//   sbm_attention_cuda_benchmark [--sizes=1024,4096,16384] [--densities=0.02,0.05,0.1,0.2]
//       [--batch=8] [--heads=8] [--d=64] [--dtype=bf16|fp16|fp32] [--repeats=5]
//       [--fused=FILE.json] [--layouts=uniform,clustered,clustered-unsorted] [--clusters=16]
//
// Per size n, density and membership layout it prints: sampling + CSR build (fastrg_sample_cuda)
// and the transposed index (transpose_edges_cuda), each apart; SBM forward and backward
// (attention and membership gradients); their sum; the bandwidth that sum achieves on the bytes
// the attention kernels must move (per edge: the key and value rows in the forward, key, value,
// query and output-gradient rows in the backward, plus 4-byte indices and weights; gathers that
// hit L2 count as moved); dense attention forward + backward; the fused time; and the ratios
// SBM / fused and SBM / dense, each over (sampling + CSR + transpose + forward + backward).
//
// Layouts: "uniform": every token in each of --clusters clusters alike (edges anywhere, the
// worst case for locality; the membership gradients cost O(n k²)); "clustered": each token in one
// of 4 clusters, tokens sorted by cluster, B diagonal (edges fall in diagonal tiles: the key rows a
// query gathers are neighbours in memory); "clustered-unsorted": the same clusters with the tokens
// in random order (the same edges per row, scattered), which measures what sorting tokens by their
// dominant cluster buys. Times are medians over --repeats after one warm-up, from
// CUDA events (the sampler, which blocks the host twice, from the host clock).
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "attention/cuda/dense_attention_cuda.h"
#include "attention/cuda/sbm_attention_cuda.h"

namespace sbmt::attention::cuda {
namespace {

#define BENCH_CHECK(call)                                                \
  do {                                                                   \
    const cudaError_t status = (call);                                   \
    if (status != cudaSuccess) {                                         \
      std::fprintf(stderr, "%s:%d: %s: %s\n", __FILE__, __LINE__, #call, \
                   cudaGetErrorString(status));                          \
      std::exit(1);                                                      \
    }                                                                    \
  } while (0)

// One preallocated block handed out front to back and reset between runs: the sampler's
// allocations cost nothing, as with the binding's caching allocator.
class BumpArena : public DeviceAllocator {
 public:
  explicit BumpArena(size_t bytes) : size_(bytes) { BENCH_CHECK(cudaMalloc(&base_, bytes)); }
  ~BumpArena() override { cudaFree(base_); }
  void* Allocate(size_t bytes) override {
    const size_t at = (used_ + 255) / 256 * 256;
    if (at + bytes > size_) {
      std::fprintf(stderr, "benchmark arena: %zu bytes asked, %zu of %zu used\n", bytes, at, size_);
      std::exit(1);
    }
    used_ = at + bytes;
    return static_cast<char*>(base_) + at;
  }
  void Reset() { used_ = 0; }
  size_t used() const { return used_; }

 private:
  void* base_ = nullptr;
  size_t size_ = 0, used_ = 0;
};

struct Options {
  std::vector<int64_t> sizes{1024, 4096, 16384};
  std::vector<double> densities{0.02, 0.05, 0.1, 0.2};
  std::vector<std::string> layouts{"uniform", "clustered", "clustered-unsorted"};
  int64_t batch = 8, heads = 8, d = 64, repeats = 5, clusters = 16;
  DType dtype = DType::kBFloat16;
  std::string fused;
};

template <typename T>
std::vector<T> ParseList(const std::string& text) {
  std::vector<T> out;
  std::stringstream in(text);
  std::string item;
  while (std::getline(in, item, ',')) {
    std::stringstream field(item);
    T value{};
    field >> value;
    out.push_back(value);
  }
  return out;
}

Options Parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    const size_t eq = arg.find('=');
    const std::string key = arg.substr(0, eq),
                      value = eq == std::string::npos ? "" : arg.substr(eq + 1);
    if (key == "--sizes") {
      o.sizes = ParseList<int64_t>(value);
    } else if (key == "--densities") {
      o.densities = ParseList<double>(value);
    } else if (key == "--layouts") {
      o.layouts = ParseList<std::string>(value);
    } else if (key == "--batch") {
      o.batch = std::stoll(value);
    } else if (key == "--heads") {
      o.heads = std::stoll(value);
    } else if (key == "--d") {
      o.d = std::stoll(value);
    } else if (key == "--clusters") {
      o.clusters = std::stoll(value);
    } else if (key == "--repeats") {
      o.repeats = std::stoll(value);
    } else if (key == "--fused") {
      o.fused = value;
    } else if (key == "--dtype") {
      o.dtype = value == "fp32"   ? DType::kFloat32
                : value == "fp16" ? DType::kFloat16
                                  : DType::kBFloat16;
      if (value != "fp32" && value != "fp16" && value != "bf16") {
        std::fprintf(stderr, "--dtype: expected bf16, fp16 or fp32, got '%s'\n", value.c_str());
        std::exit(2);
      }
    } else {
      std::fprintf(stderr, "unknown option '%s' (see the comment at the top of %s)\n", arg.c_str(),
                   __FILE__);
      std::exit(2);
    }
  }
  return o;
}

// The fused kernel's forward + backward ms for size n from {"1024": 1.23, ...}; < 0: absent.
double FusedMs(const std::string& path, int64_t n) {
  if (path.empty()) return -1;
  std::ifstream in(path);
  std::stringstream all;
  all << in.rdbuf();
  const std::string text = all.str(), key = "\"" + std::to_string(n) + "\"";
  const size_t at = text.find(key);
  if (at == std::string::npos) return -1;
  const size_t colon = text.find(':', at);
  return colon == std::string::npos ? -1 : std::atof(text.c_str() + colon + 1);
}

double Median(std::vector<double> x) {
  std::sort(x.begin(), x.end());
  return x[x.size() / 2];
}

// Median ms of f over repeats after a warm-up, by CUDA events on the default stream.
double TimeGpu(int64_t repeats, const std::function<void()>& f) {
  cudaEvent_t start, stop;
  BENCH_CHECK(cudaEventCreate(&start));
  BENCH_CHECK(cudaEventCreate(&stop));
  f();
  BENCH_CHECK(cudaDeviceSynchronize());
  std::vector<double> ms;
  for (int64_t r = 0; r < repeats; ++r) {
    BENCH_CHECK(cudaEventRecord(start));
    f();
    BENCH_CHECK(cudaEventRecord(stop));
    BENCH_CHECK(cudaEventSynchronize(stop));
    float elapsed = 0;
    BENCH_CHECK(cudaEventElapsedTime(&elapsed, start, stop));
    ms.push_back(elapsed);
  }
  cudaEventDestroy(start);
  cudaEventDestroy(stop);
  return Median(ms);
}

double TimeHost(int64_t repeats, const std::function<void()>& f) {
  f();
  BENCH_CHECK(cudaDeviceSynchronize());
  std::vector<double> ms;
  for (int64_t r = 0; r < repeats; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    f();
    BENCH_CHECK(cudaDeviceSynchronize());
    ms.push_back(
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
  }
  return Median(ms);
}

int64_t Width(DType dtype) { return dtype == DType::kFloat32 ? 4 : 2; }

// Normal random device values in the storage type (the timings do not depend on them).
void* RandomDevice(int64_t count, DType dtype, uint32_t seed) {
  std::vector<float> full(count);
  std::vector<__nv_bfloat16> bf16(dtype == DType::kBFloat16 ? count : 0);
  std::vector<__half> fp16(dtype == DType::kFloat16 ? count : 0);
  std::mt19937 gen(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  for (int64_t i = 0; i < count; ++i) {
    full[i] = normal(gen);
    if (dtype == DType::kBFloat16) bf16[i] = __float2bfloat16(full[i]);
    if (dtype == DType::kFloat16) fp16[i] = __float2half(full[i]);
  }
  const void* host = dtype == DType::kFloat32    ? static_cast<const void*>(full.data())
                     : dtype == DType::kBFloat16 ? static_cast<const void*>(bf16.data())
                                                 : static_cast<const void*>(fp16.data());
  void* device = nullptr;
  BENCH_CHECK(cudaMalloc(&device, count * Width(dtype)));
  BENCH_CHECK(cudaMemcpy(device, host, count * Width(dtype), cudaMemcpyHostToDevice));
  return device;
}

template <typename T>
T* CopyToDevice(const std::vector<T>& host) {
  T* device = nullptr;
  BENCH_CHECK(cudaMalloc(&device, std::max<size_t>(1, host.size()) * sizeof(T)));
  BENCH_CHECK(cudaMemcpy(device, host.data(), host.size() * sizeof(T), cudaMemcpyHostToDevice));
  return device;
}

struct Memberships {
  int64_t k;
  std::vector<float> y, z, b;
};

// Memberships whose expected density is `density` (see the layouts above).
Memberships MakeMemberships(const std::string& layout, int64_t graphs, int64_t heads, int64_t n,
                            double density, int64_t clusters) {
  Memberships m;
  if (layout == "uniform") {
    m.k = clusters;
    m.y.assign(graphs * n * m.k, 1.0f / m.k);
    m.z = m.y;
    // p_ij = mean(B) = -ln(1 - density): P(edge) = density.
    m.b.assign(heads * m.k * m.k, static_cast<float>(-std::log(1 - density)));
    return m;
  }
  if (layout != "clustered" && layout != "clustered-unsorted") {
    std::fprintf(stderr, "--layouts: expected uniform, clustered or clustered-unsorted, got '%s'\n",
                 layout.c_str());
    std::exit(2);
  }
  m.k = 4;
  // Token i's cluster: i k / n (sorted), or that of a fixed random permutation of the tokens.
  std::vector<int64_t> order(n);
  for (int64_t i = 0; i < n; ++i) order[i] = i;
  if (layout == "clustered-unsorted") std::shuffle(order.begin(), order.end(), std::mt19937_64(5));
  m.y.assign(graphs * n * m.k, 0.0f);
  for (int64_t g = 0; g < graphs; ++g) {
    for (int64_t i = 0; i < n; ++i) m.y[(g * n + i) * m.k + order[i] * m.k / n] = 1.0f;
  }
  m.z = m.y;
  m.b.assign(heads * m.k * m.k, 0.0f);
  // Same-cluster pairs are 1/k of all: P(edge | same cluster) = k density.
  const double within = std::min(0.999, density * m.k);
  for (int64_t h = 0; h < heads; ++h) {
    for (int64_t c = 0; c < m.k; ++c) {
      m.b[(h * m.k + c) * m.k + c] = static_cast<float>(-std::log(1 - within));
    }
  }
  return m;
}

int Run(const Options& o) {
  if (cuda_device_count() == 0) {
    std::fprintf(stderr, "sbm_attention_cuda_benchmark: no CUDA device visible\n");
    return 1;
  }
  cudaDeviceProp prop{};
  BENCH_CHECK(cudaGetDeviceProperties(&prop, 0));
  const int64_t G = o.batch * o.heads, d = o.d, w = Width(o.dtype);
  std::printf(
      "SBM attention on %s (%d SMs, %.0f GiB): batch %lld, heads %lld, d %lld, %s; median "
      "of %lld runs\n\n",
      prop.name, prop.multiProcessorCount, prop.totalGlobalMem / 1073741824.0,
      static_cast<long long>(o.batch), static_cast<long long>(o.heads), static_cast<long long>(d),
      DTypeName(o.dtype), static_cast<long long>(o.repeats));
  std::printf(
      "| n | density (sampled) | layout | edges/row | sample+CSR ms | transpose ms | fwd ms | "
      "bwd ms | SBM total ms | GB/s | dense ms | fused ms | SBM/fused | SBM/dense |\n");
  std::printf("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n");
  for (int64_t n : o.sizes) {
    const int64_t tokens = G * n;
    void* q = RandomDevice(tokens * d, o.dtype, 1);
    void* k = RandomDevice(tokens * d, o.dtype, 2);
    void* v = RandomDevice(tokens * d, o.dtype, 3);
    void* grad_out = RandomDevice(tokens * d, o.dtype, 4);
    void *out, *dq, *dk, *dv;
    for (void** p : {&out, &dq, &dk, &dv}) BENCH_CHECK(cudaMalloc(p, tokens * d * w));

    // Dense: forward + backward, chunked so the scores fit in a quarter of free memory.
    size_t free_bytes = 0, total_bytes = 0;
    BENCH_CHECK(cudaMemGetInfo(&free_bytes, &total_bytes));
    DenseAttentionCuda dense;
    dense.graphs = G;
    dense.n = n;
    dense.d = d;
    dense.dtype = o.dtype;
    dense.q = q;
    dense.k = k;
    dense.v = v;
    dense.grad_out = grad_out;
    dense.out = out;
    dense.dq = dq;
    dense.dk = dk;
    dense.dv = dv;
    dense.chunk = dense_attention_chunk(G, n, o.dtype, static_cast<int64_t>(free_bytes / 4));
    BENCH_CHECK(cudaMalloc(&dense.scores, dense.chunk * n * n * w));
    BENCH_CHECK(cudaMalloc(&dense.grad_scores, dense.chunk * n * n * w));
    const double dense_ms = TimeGpu(o.repeats, [&] {
      dense_attention_forward_cuda(dense, nullptr);
      dense_attention_backward_cuda(dense, nullptr);
    });
    cudaFree(dense.scores);
    cudaFree(dense.grad_scores);
    const double fused_ms = FusedMs(o.fused, n);

    for (const std::string& layout : o.layouts) {
      for (double density : o.densities) {
        const Memberships m = MakeMemberships(layout, G, o.heads, n, density, o.clusters);
        // At most about 100 bytes per edge for the sampler (duplicate draws included), the
        // transpose, CUB's scratch and the kernels' buffers.
        const double edges_expected = density * G * static_cast<double>(n) * n;
        BENCH_CHECK(cudaMemGetInfo(&free_bytes, &total_bytes));
        const double need = 100.0 * edges_expected + 64.0 * G * n * m.k + (1 << 26);
        if (need > 0.9 * free_bytes) {
          std::printf(
              "| %lld | %.2f | %s | skipped: needs about %.0f GiB, %.0f GiB free |||||||||||\n",
              static_cast<long long>(n), density, layout.c_str(), need / 1073741824.0,
              free_bytes / 1073741824.0);
          continue;
        }
        float* y = CopyToDevice(m.y);
        float* z = CopyToDevice(m.z);
        float* b = CopyToDevice(m.b);
        FastRgParams sp;
        sp.batch = o.batch;
        sp.heads = o.heads;
        sp.n_q = n;
        sp.n_k = n;
        sp.k = m.k;
        sp.y = y;
        sp.z = z;
        sp.b = b;
        sp.eps = 0.0f;
        sp.seed = 7;
        BumpArena arena(static_cast<size_t>(need));
        const double sample_ms = TimeHost(o.repeats, [&] {
          arena.Reset();
          fastrg_sample_cuda(sp, arena, nullptr);
        });
        const double sample_and_transpose_ms = TimeHost(o.repeats, [&] {
          arena.Reset();
          SbmGraphDevice g = fastrg_sample_cuda(sp, arena, nullptr);
          transpose_edges_cuda(g, arena, nullptr);
        });
        arena.Reset();
        SbmGraphDevice graph = fastrg_sample_cuda(sp, arena, nullptr);
        transpose_edges_cuda(graph, arena, nullptr);
        const int64_t E = graph.edges;
        auto floats = [&](int64_t count) {
          return static_cast<float*>(arena.Allocate(std::max<int64_t>(1, count) * sizeof(float)));
        };
        SbmCudaForward f;
        f.edges = graph.csr();
        f.d = d;
        f.dtype = o.dtype;
        f.q = q;
        f.k = k;
        f.v = v;
        f.scale = 1.0f / std::sqrt(static_cast<float>(d));
        f.out = out;
        f.alpha = floats(E);
        SbmCudaBackward bw;
        bw.graph = &graph;
        bw.d = d;
        bw.dtype = o.dtype;
        bw.q = q;
        bw.k = k;
        bw.v = v;
        bw.out = out;
        bw.grad_out = grad_out;
        bw.alpha = f.alpha;
        bw.scale = f.scale;
        bw.dq = dq;
        bw.dk = dk;
        bw.dv = dv;
        bw.heads = o.heads;
        bw.clusters = m.k;
        bw.y = y;
        bw.z = z;
        bw.b = b;
        AllocateBackwardBuffers(bw, arena);
        const double fwd_ms = TimeGpu(o.repeats, [&] { sbm_attention_forward_cuda(f, nullptr); });
        const double bwd_ms = TimeGpu(o.repeats, [&] { sbm_attention_backward_cuda(bw, nullptr); });
        const double total_ms = sample_and_transpose_ms + fwd_ms + bwd_ms;
        // Bytes the attention kernels move (see the top of this file).
        const double row_bytes = static_cast<double>(d) * w;
        const double bytes = E * (2 * row_bytes + 16) + E * (4 * row_bytes + 40) +
                             static_cast<double>(tokens) * 6 * row_bytes;
        auto ratio = [](double a, double b) { return b > 0 ? a / b : -1.0; };
        char fused_text[32] = "n/a", fused_ratio[32] = "n/a";
        if (fused_ms > 0) {
          std::snprintf(fused_text, sizeof(fused_text), "%.3f", fused_ms);
          std::snprintf(fused_ratio, sizeof(fused_ratio), "%.2f", ratio(total_ms, fused_ms));
        }
        std::printf(
            "| %lld | %.2f | %s | %.1f | %.3f | %.3f | %.3f | %.3f | %.3f | %.0f | %.3f | "
            "%s | %s | %.2f |\n",
            static_cast<long long>(n), static_cast<double>(E) / (static_cast<double>(G) * n * n),
            layout.c_str(), static_cast<double>(E) / (G * n), sample_ms,
            sample_and_transpose_ms - sample_ms, fwd_ms, bwd_ms, total_ms,
            bytes / ((fwd_ms + bwd_ms) * 1e6), dense_ms, fused_text, fused_ratio,
            ratio(total_ms, dense_ms));
        std::fflush(stdout);
        cudaFree(y);
        cudaFree(z);
        cudaFree(b);
      }
    }
    for (void* p : {q, k, v, grad_out, out, dq, dk, dv}) cudaFree(p);
  }
  return 0;
}

}  // namespace
}  // namespace sbmt::attention::cuda

int main(int argc, char** argv) {
  return sbmt::attention::cuda::Run(sbmt::attention::cuda::Parse(argc, argv));
}
