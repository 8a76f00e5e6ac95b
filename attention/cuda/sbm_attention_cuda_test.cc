// The CUDA sampler and kernels against the CPU: the sampler's edge counts equal the CPU's for
// the same seed and its edges follow the fastRG law (chi-square); forward, backward and the
// membership gradients equal reference:: (double) on the GPU's own edges, in float32 within
// kCudaFloat and in bfloat16/float16 within twice the error of rounding the reference's result to
// that type; results repeat bit for bit; bad input is refused. Skips without a GPU.
#include "attention/cuda/sbm_attention_cuda.h"

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <tuple>
#include <vector>

#include "attention/fastrg_sampler.h"
#include "attention/sbm_attention_kernels.h"
#include "attention/testing/tolerances.h"
#include "runtime/error.h"

namespace sbmt::attention::cuda {
namespace {

using testing::Tolerance;

#define SKIP_WITHOUT_GPU()                                                         \
  if (cuda_device_count() == 0) {                                                  \
    GTEST_SKIP() << "no CUDA device visible; the kernels compiled but cannot run"; \
  }

#define CUDA_OK(call) ASSERT_EQ((call), cudaSuccess) << #call

// Host vector <-> device copies in an arena.
template <typename T>
T* ToDevice(CudaArena& arena, const std::vector<T>& host) {
  T* device = static_cast<T*>(arena.Allocate(std::max<size_t>(1, host.size()) * sizeof(T)));
  if (!host.empty()) {
    EXPECT_EQ(cudaMemcpy(device, host.data(), host.size() * sizeof(T), cudaMemcpyHostToDevice),
              cudaSuccess);
  }
  return device;
}
template <typename T>
std::vector<T> ToHost(const T* device, int64_t count) {
  std::vector<T> host(count);
  if (count > 0) {
    EXPECT_EQ(cudaMemcpy(host.data(), device, count * sizeof(T), cudaMemcpyDeviceToHost),
              cudaSuccess);
  }
  return host;
}

struct Shape {
  int64_t batch, heads, n_q, n_k, d, k;
  double b_total;
  bool padding, self_loops;
  float dropout;
};

std::string Describe(const Shape& s) {
  return "batch " + std::to_string(s.batch) + " heads " + std::to_string(s.heads) + " n_q " +
         std::to_string(s.n_q) + " n_k " + std::to_string(s.n_k) + " d " + std::to_string(s.d) +
         " k " + std::to_string(s.k) + (s.padding ? " padded" : "") +
         (s.self_loops ? " self-loops" : "") + " dropout " + std::to_string(s.dropout);
}

// Random memberships and masks, on the host; FastRgParams pointing at them.
struct Inputs {
  Shape shape;
  std::vector<float> y, z, b;
  std::vector<uint8_t> query_valid, key_valid;
  FastRgParams params;
};

Inputs MakeInputs(const Shape& s, uint64_t seed) {
  Inputs in;
  in.shape = s;
  std::mt19937 gen(static_cast<unsigned>(seed));
  std::uniform_real_distribution<float> unit(0.0f, 1.0f);
  const int64_t G = s.batch * s.heads;
  in.y.resize(G * s.n_q * s.k);
  in.z.resize(G * s.n_k * s.k);
  in.b.resize(s.heads * s.k * s.k);
  for (float& x : in.y) x = unit(gen);
  for (float& x : in.z) x = unit(gen);
  for (float& x : in.b) x = unit(gen) * static_cast<float>(2 * s.b_total / (s.k * s.k));
  if (s.padding) {
    in.query_valid.assign(s.batch * s.n_q, 1);
    in.key_valid.assign(s.batch * s.n_k, 1);
    for (int64_t bi = 0; bi < s.batch; ++bi) {
      for (int64_t i = s.n_q - 1 - bi; i < s.n_q; ++i) in.query_valid[bi * s.n_q + i] = 0;
      for (int64_t j = s.n_k - 2 - bi; j < s.n_k; ++j) in.key_valid[bi * s.n_k + j] = 0;
    }
  }
  FastRgParams& p = in.params;
  p.batch = s.batch;
  p.heads = s.heads;
  p.n_q = s.n_q;
  p.n_k = s.n_k;
  p.k = s.k;
  p.y = in.y.data();
  p.z = in.z.data();
  p.b = in.b.data();
  p.query_valid = s.padding ? in.query_valid.data() : nullptr;
  p.key_valid = s.padding ? in.key_valid.data() : nullptr;
  p.self_loops = s.self_loops;
  p.seed = seed;
  p.step = 3;
  p.layer = 1;
  return in;
}

// The same parameters with every array copied to the device.
FastRgParams OnDevice(const Inputs& in, CudaArena& arena) {
  FastRgParams p = in.params;
  p.y = ToDevice(arena, in.y);
  p.z = ToDevice(arena, in.z);
  p.b = ToDevice(arena, in.b);
  p.query_valid = in.params.query_valid ? ToDevice(arena, in.query_valid) : nullptr;
  p.key_valid = in.params.key_valid ? ToDevice(arena, in.key_valid) : nullptr;
  return p;
}

// A device graph copied to the host, as the CPU sampler's type.
SbmGraph ToHostGraph(const SbmGraphDevice& g) {
  SbmGraph h;
  h.graphs = g.graphs;
  h.n_q = g.n_q;
  h.n_k = g.n_k;
  h.row_ptr = ToHost(g.row_ptr, g.graphs * g.n_q + 1);
  const std::vector<int32_t> col = ToHost(g.col, g.edges);
  h.col.assign(col.begin(), col.end());
  h.draws = ToHost(g.draws, g.graphs);
  return h;
}

const Shape kShapes[] = {
    {2, 2, 33, 47, 64, 5, 6.0, false, false, 0.0f},
    {3, 2, 40, 40, 32, 8, 10.0, true, true, 0.0f},
    {2, 3, 70, 64, 48, 4, 12.0, true, false, 0.2f},  // d = 48: the strided path
    {1, 4, 64, 90, 16, 33, 9.0, false, true, 0.1f},  // k > 32: more than one warp chunk
    {2, 1, 128, 128, 128, 16, 40.0, true, true, 0.0f},
    {1, 2, 30, 20, 8, 3, 4.0, false, false, 0.0f},  // d = 8: the strided path
};

TEST(FastRgSampleCuda, RowCountsEqualTheCpuSamplers) {
  SKIP_WITHOUT_GPU();
  // Same Philox stream and the same double sums (no fused multiply-adds) on both: a row draws
  // the same Poisson count, so every graph's total draws agree exactly.
  for (const Shape& s : kShapes) {
    for (uint64_t seed : {1u, 2u, 77u}) {
      Inputs in = MakeInputs(s, seed);
      CudaArena arena;
      const SbmGraph gpu = ToHostGraph(fastrg_sample_cuda(OnDevice(in, arena), arena, nullptr));
      const SbmGraph cpu = fastrg_sample(in.params);
      EXPECT_EQ(gpu.draws, cpu.draws) << Describe(s) << " seed " << seed;
      // Rows: sorted, unique, within range, padding respected, self loops present.
      for (int64_t g = 0; g < gpu.graphs; ++g) {
        const int64_t b = g / s.heads;
        for (int64_t i = 0; i < s.n_q; ++i) {
          const int64_t r = g * s.n_q + i;
          const bool row_valid = !s.padding || in.query_valid[b * s.n_q + i];
          bool has_loop = false;
          for (int64_t e = gpu.row_ptr[r]; e < gpu.row_ptr[r + 1]; ++e) {
            const int32_t j = gpu.col[e];
            ASSERT_TRUE(j >= 0 && j < s.n_k) << Describe(s);
            ASSERT_TRUE(row_valid) << "a padded query has edges: " << Describe(s);
            ASSERT_TRUE(!s.padding || in.key_valid[b * s.n_k + j]) << "an edge to a padded key";
            if (e > gpu.row_ptr[r]) {
              ASSERT_LT(gpu.col[e - 1], j) << "row not sorted and unique";
            }
            has_loop |= j == i;
          }
          const bool wants_loop =
              s.self_loops && row_valid && i < s.n_k && (!s.padding || in.key_valid[b * s.n_k + i]);
          if (wants_loop) {
            EXPECT_TRUE(has_loop) << "row " << r << " lacks its self loop";
          }
        }
      }
    }
  }
}

// Wilson-Hilferty approximation of the chi-square quantile.
double ChiSquareQuantile(double df, double z) {
  const double c = 2.0 / (9.0 * df);
  return df * std::pow(1 - c + z * std::sqrt(c), 3);
}

TEST(FastRgSampleCuda, EdgeLawMatchesThePoissonModel) {
  SKIP_WITHOUT_GPU();
  // Over many seeds each pair (i, j) is an edge with probability 1 - exp(-p_ij) (chi-square at
  // significance 0.001), as fastrg_sampler_test checks for the CPU.
  Shape s{1, 1, 6, 5, 8, 3, 6.0, false, false, 0.0f};
  Inputs in = MakeInputs(s, 1);
  in.params.eps = 0.05f;
  CudaArena arena;
  FastRgParams p = OnDevice(in, arena);
  const int seeds = 20000;
  std::vector<int> hits(s.n_q * s.n_k, 0);
  for (int seed = 0; seed < seeds; ++seed) {
    CudaArena scratch;
    p.seed = static_cast<uint64_t>(seed);
    const SbmGraph g = ToHostGraph(fastrg_sample_cuda(p, scratch, nullptr));
    for (int64_t i = 0; i < s.n_q; ++i) {
      for (int64_t e = g.row_ptr[i]; e < g.row_ptr[i + 1]; ++e) ++hits[i * s.n_k + g.col[e]];
    }
  }
  double chi2 = 0;
  int df = 0;
  for (int64_t i = 0; i < s.n_q; ++i) {
    for (int64_t j = 0; j < s.n_k; ++j) {
      double rate = in.params.eps;
      for (int64_t u = 0; u < s.k; ++u) {
        for (int64_t v = 0; v < s.k; ++v) {
          rate += static_cast<double>(in.y[i * s.k + u]) * in.b[u * s.k + v] * in.z[j * s.k + v];
        }
      }
      const double expected = seeds * (1 - std::exp(-rate));
      const double observed = hits[i * s.n_k + j];
      chi2 += (observed - expected) * (observed - expected) / expected +
              (observed - expected) * (observed - expected) / (seeds - expected);
      ++df;
    }
  }
  EXPECT_LT(chi2, ChiSquareQuantile(df, 3.0902)) << "chi-square with " << df << " cells";
}

TEST(FastRgSampleCuda, SameSeedSameGraphAndBadInputRefused) {
  SKIP_WITHOUT_GPU();
  Inputs in = MakeInputs(kShapes[1], 5);
  CudaArena arena;
  const FastRgParams p = OnDevice(in, arena);
  const SbmGraph a = ToHostGraph(fastrg_sample_cuda(p, arena, nullptr));
  const SbmGraph b = ToHostGraph(fastrg_sample_cuda(p, arena, nullptr));
  EXPECT_EQ(a.row_ptr, b.row_ptr);
  EXPECT_TRUE(a.col == b.col);
  in.y[7] = std::nanf("");
  try {
    fastrg_sample_cuda(OnDevice(in, arena), arena, nullptr);
    ADD_FAILURE() << "a NaN membership was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("y: expected finite entries >= 0"), std::string::npos)
        << e.what();
  }
  in.y[7] = 0.5f;
  in.b[0] = -1.0f;
  EXPECT_THROW(fastrg_sample_cuda(OnDevice(in, arena), arena, nullptr), Error);
}

// Rounds through a 16-bit type (DType) and back, as the device sees the value.
float RoundTo(DType dtype, float x) {
  switch (dtype) {
    case DType::kBFloat16:
      return __bfloat162float(__float2bfloat16(x));
    case DType::kFloat16:
      return __half2float(__float2half(x));
    case DType::kFloat32:
      break;
  }
  return x;
}

// Host values in the device's storage type.
std::vector<uint8_t> Encode(DType dtype, const std::vector<double>& x) {
  const size_t width = dtype == DType::kFloat32 ? 4 : 2;
  std::vector<uint8_t> bytes(x.size() * width);
  for (size_t i = 0; i < x.size(); ++i) {
    const float f = static_cast<float>(x[i]);
    if (dtype == DType::kFloat32) {
      std::memcpy(&bytes[i * 4], &f, 4);
    } else if (dtype == DType::kBFloat16) {
      const __nv_bfloat16 h = __float2bfloat16(f);
      std::memcpy(&bytes[i * 2], &h, 2);
    } else {
      const __half h = __float2half(f);
      std::memcpy(&bytes[i * 2], &h, 2);
    }
  }
  return bytes;
}
std::vector<double> Decode(DType dtype, const std::vector<uint8_t>& bytes) {
  const size_t width = dtype == DType::kFloat32 ? 4 : 2;
  std::vector<double> x(bytes.size() / width);
  for (size_t i = 0; i < x.size(); ++i) {
    if (dtype == DType::kFloat32) {
      float f;
      std::memcpy(&f, &bytes[i * 4], 4);
      x[i] = f;
    } else if (dtype == DType::kBFloat16) {
      __nv_bfloat16 h;
      std::memcpy(&h, &bytes[i * 2], 2);
      x[i] = __bfloat162float(h);
    } else {
      __half h;
      std::memcpy(&h, &bytes[i * 2], 2);
      x[i] = __half2float(h);
    }
  }
  return x;
}

struct Outputs {
  std::vector<double> out, alpha, dq, dk, dv, dp, dy, dz, db;
};

// One case: GPU-sampled edges; q, k, v, grad_out rounded to dtype; the GPU kernels and
// reference:: in double on the same rounded inputs and edges.
struct KernelRun {
  Outputs gpu, ref;
};

KernelRun RunBoth(const Shape& s, DType dtype, uint64_t seed) {
  Inputs in = MakeInputs(s, seed);
  CudaArena arena;
  SbmGraphDevice graph = fastrg_sample_cuda(OnDevice(in, arena), arena, nullptr);
  transpose_edges_cuda(graph, arena, nullptr);
  const SbmGraph host_graph = ToHostGraph(graph);
  const int64_t G = s.batch * s.heads, E = graph.edges;

  std::mt19937 gen(static_cast<unsigned>(seed) + 99);
  std::normal_distribution<double> normal(0.0, 1.0);
  auto random = [&](int64_t n, double scale) {
    std::vector<double> x(n);
    for (double& e : x) e = RoundTo(dtype, static_cast<float>(scale * normal(gen)));
    return x;
  };
  const std::vector<double> q = random(G * s.n_q * s.d, 1.0), k = random(G * s.n_k * s.d, 1.0),
                            v = random(G * s.n_k * s.d, 1.0),
                            grad_out = random(G * s.n_q * s.d, 1.0);
  std::vector<double> grad_edges(G);
  for (double& x : grad_edges) x = static_cast<float>(0.01 * normal(gen));
  const float scale = 1.0f / std::sqrt(static_cast<float>(s.d));
  const SbmDropout dropout{s.dropout, 1234, 5678};

  // GPU.
  auto* dq_in = ToDevice(arena, Encode(dtype, q));
  auto* dk_in = ToDevice(arena, Encode(dtype, k));
  auto* dv_in = ToDevice(arena, Encode(dtype, v));
  auto* dgo = ToDevice(arena, Encode(dtype, grad_out));
  const size_t width = dtype == DType::kFloat32 ? 4 : 2;
  auto bytes = [&](int64_t n) { return static_cast<uint8_t*>(arena.Allocate(n * width + 16)); };
  auto floats = [&](int64_t n) {
    return static_cast<float*>(arena.Allocate(std::max<int64_t>(1, n) * sizeof(float)));
  };
  uint8_t* out = bytes(G * s.n_q * s.d);
  float* alpha = floats(E);
  SbmCudaForward f;
  f.edges = graph.csr();
  f.d = s.d;
  f.dtype = dtype;
  f.q = dq_in;
  f.k = dk_in;
  f.v = dv_in;
  f.scale = scale;
  f.dropout = dropout;
  f.out = out;
  f.alpha = alpha;
  sbm_attention_forward_cuda(f, nullptr);

  std::vector<float> grad_edges_f(grad_edges.begin(), grad_edges.end());
  SbmCudaBackward b;
  b.graph = &graph;
  b.d = s.d;
  b.dtype = dtype;
  b.q = dq_in;
  b.k = dk_in;
  b.v = dv_in;
  b.out = out;
  b.grad_out = dgo;
  b.alpha = alpha;
  b.grad_edges = ToDevice(arena, grad_edges_f);
  b.scale = scale;
  b.dropout = dropout;
  b.self_loops = s.self_loops;
  b.dq = bytes(G * s.n_q * s.d);
  b.dk = bytes(G * s.n_k * s.d);
  b.dv = bytes(G * s.n_k * s.d);
  b.heads = s.heads;
  b.clusters = s.k;
  b.y = ToDevice(arena, in.y);
  b.z = ToDevice(arena, in.z);
  b.b = ToDevice(arena, in.b);
  AllocateBackwardBuffers(b, arena);
  sbm_attention_backward_cuda(b, nullptr);
  EXPECT_EQ(cudaDeviceSynchronize(), cudaSuccess);

  KernelRun run;
  auto read = [&](const void* p, int64_t n) {
    return Decode(dtype, ToHost(static_cast<const uint8_t*>(p), n * width));
  };
  auto read_f = [&](const float* p, int64_t n) {
    const std::vector<float> x = ToHost(p, n);
    return std::vector<double>(x.begin(), x.end());
  };
  run.gpu.out = read(out, G * s.n_q * s.d);
  run.gpu.alpha = read_f(alpha, E);
  run.gpu.dq = read(b.dq, G * s.n_q * s.d);
  run.gpu.dk = read(b.dk, G * s.n_k * s.d);
  run.gpu.dv = read(b.dv, G * s.n_k * s.d);
  run.gpu.dp = read_f(b.dp, E);
  run.gpu.dy = read_f(b.dy, G * s.n_q * s.k);
  run.gpu.dz = read_f(b.dz, G * s.n_k * s.k);
  run.gpu.db = read_f(b.db, s.heads * s.k * s.k);

  // reference:: in double, same inputs and edges.
  const SbmEdges edges{host_graph.graphs, host_graph.n_q, host_graph.n_k, host_graph.row_ptr.data(),
                       host_graph.col.data()};
  Outputs& r = run.ref;
  r.out.resize(G * s.n_q * s.d);
  r.alpha.resize(E);
  SbmForwardParams<double> rf;
  rf.edges = edges;
  rf.d = s.d;
  rf.q = q.data();
  rf.k = k.data();
  rf.v = v.data();
  rf.scale = scale;
  rf.dropout = dropout;
  rf.out = r.out.data();
  rf.alpha = r.alpha.data();
  reference::sbm_attention_forward(rf);
  r.dq.resize(q.size());
  r.dk.resize(k.size());
  r.dv.resize(v.size());
  r.dp.resize(E);
  // Both backwards read the same forward output, the GPU's as stored (rounded to dtype), so the
  // comparison measures the backward kernels; the forward is compared on its own.
  SbmBackwardParams<double> rb;
  rb.edges = edges;
  rb.d = s.d;
  rb.q = q.data();
  rb.k = k.data();
  rb.v = v.data();
  rb.out = run.gpu.out.data();
  rb.alpha = r.alpha.data();
  rb.grad_out = grad_out.data();
  rb.grad_edges = grad_edges.data();
  rb.scale = scale;
  rb.dropout = dropout;
  rb.self_loops = s.self_loops;
  rb.dq = r.dq.data();
  rb.dk = r.dk.data();
  rb.dv = r.dv.data();
  rb.dp = r.dp.data();
  reference::sbm_attention_backward(rb);
  // Membership gradients from the GPU's dp (clipping makes dp a step function of ds near ±1;
  // this compares the products, not the clip).
  const std::vector<double> y(in.y.begin(), in.y.end()), z(in.z.begin(), in.z.end()),
      bm(in.b.begin(), in.b.end());
  r.dy.resize(y.size());
  r.dz.resize(z.size());
  r.db.resize(bm.size());
  SbmMembershipBackwardParams<double> rm;
  rm.edges = edges;
  rm.heads = s.heads;
  rm.k = s.k;
  rm.y = y.data();
  rm.z = z.data();
  rm.b = bm.data();
  rm.dp = run.gpu.dp.data();
  rm.dy = r.dy.data();
  rm.dz = r.dz.data();
  rm.db = r.db.data();
  reference::sbm_membership_backward(rm);
  return run;
}

// max |gpu - ref| / (atol + rtol |ref|) <= 1, reported with the worst index.
void ExpectClose(const std::vector<double>& gpu, const std::vector<double>& ref, Tolerance tol,
                 const std::string& what) {
  ASSERT_EQ(gpu.size(), ref.size()) << what;
  double worst = 0;
  size_t at = 0;
  for (size_t i = 0; i < gpu.size(); ++i) {
    const double ratio = std::fabs(gpu[i] - ref[i]) / (tol.atol + tol.rtol * std::fabs(ref[i]));
    if (!(ratio <= worst)) {
      worst = ratio;
      at = i;
    }
  }
  EXPECT_LE(worst, 1.0) << what << ": at " << at << " gpu " << gpu[at] << " reference " << ref[at];
}

TEST(SbmAttentionCuda, Float32MatchesTheReference) {
  SKIP_WITHOUT_GPU();
  for (const Shape& s : kShapes) {
    const KernelRun run = RunBoth(s, DType::kFloat32, 11);
    const std::string name = Describe(s);
    ExpectClose(run.gpu.out, run.ref.out, testing::kCudaFloat, "out " + name);
    ExpectClose(run.gpu.alpha, run.ref.alpha, testing::kCudaFloat, "alpha " + name);
    ExpectClose(run.gpu.dq, run.ref.dq, testing::kCudaFloat, "dq " + name);
    ExpectClose(run.gpu.dk, run.ref.dk, testing::kCudaFloat, "dk " + name);
    ExpectClose(run.gpu.dv, run.ref.dv, testing::kCudaFloat, "dv " + name);
    ExpectClose(run.gpu.dp, run.ref.dp, testing::kCudaFloat, "dp " + name);
    ExpectClose(run.gpu.dy, run.ref.dy, testing::kCudaMembership, "dY " + name);
    ExpectClose(run.gpu.dz, run.ref.dz, testing::kCudaMembership, "dZ " + name);
    ExpectClose(run.gpu.db, run.ref.db, testing::kCudaMembership, "dB " + name);
  }
}

// The largest error of rounding the reference's values to dtype: what any implementation that
// stores its result in dtype pays at least.
double RoundingError(DType dtype, const std::vector<double>& ref) {
  double worst = 0;
  for (double x : ref)
    worst = std::max(worst, std::fabs(RoundTo(dtype, static_cast<float>(x)) - x));
  return worst;
}

double MaxError(const std::vector<double>& a, const std::vector<double>& b) {
  double worst = 0;
  for (size_t i = 0; i < a.size(); ++i) worst = std::max(worst, std::fabs(a[i] - b[i]));
  return worst;
}

TEST(SbmAttentionCuda, HalfPrecisionWithinTwiceTheRoundingError) {
  SKIP_WITHOUT_GPU();
  for (DType dtype : {DType::kBFloat16, DType::kFloat16}) {
    for (const Shape& s : kShapes) {
      const KernelRun run = RunBoth(s, dtype, 12);
      const std::string name = std::string(DTypeName(dtype)) + " " + Describe(s);
      for (const auto& [gpu, ref, what] :
           {std::tuple{&run.gpu.out, &run.ref.out, "out"},
            std::tuple{&run.gpu.dq, &run.ref.dq, "dq"}, std::tuple{&run.gpu.dk, &run.ref.dk, "dk"},
            std::tuple{&run.gpu.dv, &run.ref.dv, "dv"}}) {
        const double bound =
            testing::kCudaHalfFactor * RoundingError(dtype, *ref) + testing::kCudaHalfAtol;
        EXPECT_LE(MaxError(*gpu, *ref), bound) << what << " " << name;
      }
    }
  }
}

TEST(SbmAttentionCuda, RepeatsBitForBit) {
  SKIP_WITHOUT_GPU();
  const KernelRun a = RunBoth(kShapes[2], DType::kFloat32, 21);
  const KernelRun b = RunBoth(kShapes[2], DType::kFloat32, 21);
  EXPECT_EQ(a.gpu.out, b.gpu.out);
  EXPECT_EQ(a.gpu.dq, b.gpu.dq);
  EXPECT_EQ(a.gpu.dk, b.gpu.dk);
  EXPECT_EQ(a.gpu.dv, b.gpu.dv);
  EXPECT_EQ(a.gpu.dy, b.gpu.dy);
  EXPECT_EQ(a.gpu.dz, b.gpu.dz);
  EXPECT_EQ(a.gpu.db, b.gpu.db);
}

}  // namespace
}  // namespace sbmt::attention::cuda
