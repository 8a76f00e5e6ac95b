// Benchmark: forward + backward time and peak memory of SBM attention against full softmax
// attention (LibTorch), in the same process, batch 1, 2 heads, head dim 32.
//
//   bazel run -c opt //attention:sbm_attention_benchmark -- [--threads=N] [--csv]
//       [--sizes=1024,2048,4096,8192] [--densities=0.05,0.1,0.25] [--repeats=5] [--phases]
//
// --phases adds a second table splitting SBM time into its phases (sampling, attention forward,
// attention backward, membership gradients), calling the kernels directly.
//
// SBM time covers the whole op as training runs it: fastRG sampling, attention forward,
// backward (dq, dk, dv, straight-through dp) and the membership gradients dY, dZ, dB. Dense time
// is softmax(q kᵀ/√d) v forward and backward through autograd. Times are medians over repeats
// (after one warm-up), SBM and dense runs alternating so both see the same machine state, each
// after a short pause that lets the other's thread pool go idle. Memory is the peak resident set
// growth during one forward + backward, read from /proc/self/status (VmHWM after resetting it
// through /proc/self/clear_refs), with glibc told to return large blocks to the system so freed
// memory does not hide peaks (memory is measured first, on a heap the timings have not grown).
// Memberships are uniform in [0, 1), k = 128, with B scaled so the expected density hits the
// target; the table reports the density actually sampled.
#include <malloc.h>
#include <omp.h>
#include <torch/torch.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <limits>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "attention/baselines/full_attention.h"
#include "attention/fastrg_sampler.h"
#include "attention/sbm_attention_binding.h"
#include "attention/sbm_attention_cpu_isa.h"
#include "attention/sbm_attention_kernels.h"
#include "runtime/library_tuning.h"

namespace sbmt::attention {
namespace {

constexpr int64_t kHeads = 2;
constexpr int64_t kHeadDim = 32;
constexpr int kQuiesceMs = 250;  // pause before each timed run (see Measure)

int64_t ReadStatusKb(const char* field) {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind(field, 0) == 0) return std::stoll(line.substr(std::string(field).size()));
  }
  return -1;
}

// Measures the peak RSS growth (bytes) while `fn` runs.
template <typename Fn>
int64_t PeakBytes(Fn fn) {
  malloc_trim(0);
  std::ofstream("/proc/self/clear_refs") << "5";  // reset VmHWM to the current RSS
  const int64_t before = ReadStatusKb("VmRSS:");
  fn();
  const int64_t peak = ReadStatusKb("VmHWM:");
  return (peak - before) * 1024;
}

struct SbmInputs {
  torch::Tensor y, z, b;
};

// Memberships uniform in [0, 1) and B = s * B0 (B0 > 0, sum 1) with s chosen so that the mean
// of 1 - exp(-p_ij) over 4096 random pairs equals `density`.
SbmInputs MakeMemberships(int64_t n, int64_t clusters, double density, double eps) {
  torch::manual_seed(1000 + n);
  SbmInputs in;
  in.y = torch::rand({1, kHeads, n, clusters});
  in.z = torch::rand({1, kHeads, n, clusters});
  torch::Tensor b0 = torch::rand({kHeads, clusters, clusters});
  b0 = b0 / b0.sum({1, 2}, true);
  torch::Tensor rows = torch::randint(n, {4096}), cols = torch::randint(n, {4096});
  // a_ij = y_i B0 z_jᵀ for the probe pairs, per head: [H, 4096].
  torch::Tensor yi = in.y[0].index_select(1, rows), zj = in.z[0].index_select(1, cols);
  torch::Tensor a = (torch::matmul(yi, b0) * zj).sum(-1).to(torch::kFloat64);
  double lo = 0, hi = 64;
  for (int it = 0; it < 60; ++it) {
    const double s = (lo + hi) / 2;
    const double got = (1 - torch::exp(-(a * s + eps))).mean().item<double>();
    (got < density ? lo : hi) = s;
  }
  in.b = b0 * ((lo + hi) / 2);
  return in;
}

// Puts malloc's thresholds back as the process started with them: those that
// ReexecWithTunedLibraries (or the user) put in the environment, else glibc's defaults.
void RestoreMallocThresholds() {
  auto value = [](const char* name, long long fallback) {
    const char* text = std::getenv(name);
    const long long bytes = text != nullptr ? std::atoll(text) : fallback;
    return static_cast<int>(std::min<long long>(bytes, std::numeric_limits<int>::max()));
  };
  mallopt(M_MMAP_THRESHOLD, value("MALLOC_MMAP_THRESHOLD_", 128 * 1024));
  mallopt(M_TRIM_THRESHOLD, value("MALLOC_TRIM_THRESHOLD_", 128 * 1024));
}

struct Row {
  int64_t n;
  double density;
  int64_t edges;
  double sbm_ms, dense_ms;
  int64_t sbm_bytes, dense_bytes;
};

// Times (memory = false) or peak memory (memory = true) of one configuration.
Row Measure(int64_t n, double target, int64_t clusters, int repeats, bool memory) {
  torch::manual_seed(n);
  torch::Tensor q = torch::randn({1, kHeads, n, kHeadDim}).requires_grad_();
  torch::Tensor k = torch::randn({1, kHeads, n, kHeadDim}).requires_grad_();
  torch::Tensor v = torch::randn({1, kHeads, n, kHeadDim}).requires_grad_();
  torch::Tensor grad = torch::randn({1, kHeads, n, kHeadDim});
  SbmInputs m = MakeMemberships(n, clusters, target, 0.01);
  m.y.requires_grad_();
  m.z.requires_grad_();
  m.b.requires_grad_();
  auto zero_grads = [&] {
    for (torch::Tensor* t : {&q, &k, &v, &m.y, &m.z, &m.b}) t->mutable_grad() = torch::Tensor();
  };

  Row row{n, 0, 0, 0, 0, 0, 0};
  SbmOpOptions options;
  options.eps = 0.01;
  options.seed = 1;
  auto sbm_step = [&](int r) {
    options.step = static_cast<uint64_t>(r + 2);
    SbmOpResult out = sbm_attention(q, k, v, m.y, m.z, m.b, {}, {}, options);
    out.out.backward(grad);
    if (r == 0) {
      row.edges = out.col.size(0);
      row.density = static_cast<double>(row.edges) / (kHeads * n * n);
    }
  };
  FullAttention full(FullAttentionOptions{0.0});
  auto dense_step = [&](int) { full.forward(q, k, v, {}, {}).out.backward(grad); };

  zero_grads();
  if (!memory) {
    // Alternate the two so that both see the same machine state (shared machines drift).
    std::vector<double> sbm, dense;
    auto time = [](auto&& fn) {
      // Let the other op's worker threads go idle first: OpenBLAS threads spin for a while
      // after a GEMM, and would otherwise compete with whatever runs next for the same cores.
      std::this_thread::sleep_for(std::chrono::milliseconds(kQuiesceMs));
      const auto t0 = std::chrono::steady_clock::now();
      fn();
      return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0)
          .count();
    };
    for (int r = -1; r < repeats; ++r) {  // r = -1: warm-up
      const double s = time([&] { sbm_step(r); });
      zero_grads();
      const double d = time([&] { dense_step(r); });
      zero_grads();
      if (r >= 0) {
        sbm.push_back(s);
        dense.push_back(d);
      }
    }
    std::sort(sbm.begin(), sbm.end());
    std::sort(dense.begin(), dense.end());
    row.sbm_ms = sbm[sbm.size() / 2];
    row.dense_ms = dense[dense.size() / 2];
  } else {
    // One untimed run of each first: thread pools and first-call allocations are not the op's.
    sbm_step(0);
    zero_grads();
    dense_step(0);
    zero_grads();
    row.sbm_bytes = PeakBytes([&] { sbm_step(0); });
    zero_grads();
    row.dense_bytes = PeakBytes([&] { dense_step(0); });
    zero_grads();
  }
  return row;
}

struct Phases {
  double sample_ms = 0, forward_ms = 0, backward_ms = 0, membership_ms = 0;
};

// Median time of each phase of the SBM op, on the kernels directly (float).
Phases MeasurePhases(int64_t n, double target, int64_t clusters, int repeats) {
  torch::manual_seed(n);
  const int64_t d = kHeadDim;
  torch::Tensor q = torch::randn({1, kHeads, n, d}), k = torch::randn({1, kHeads, n, d}),
                v = torch::randn({1, kHeads, n, d}), g = torch::randn({1, kHeads, n, d});
  SbmInputs m = MakeMemberships(n, clusters, target, 0.01);
  FastRgParams sp;
  sp.batch = 1;
  sp.heads = kHeads;
  sp.n_q = n;
  sp.n_k = n;
  sp.k = clusters;
  sp.y = m.y.data_ptr<float>();
  sp.z = m.z.data_ptr<float>();
  sp.b = m.b.data_ptr<float>();
  sp.eps = 0.01f;
  sp.seed = 1;
  std::vector<double> times[4];
  for (int r = -1; r < repeats; ++r) {
    sp.step = static_cast<uint64_t>(r + 1);
    auto t0 = std::chrono::steady_clock::now();
    SbmGraph graph = fastrg_sample(sp);
    auto t1 = std::chrono::steady_clock::now();
    const SbmEdges edges{graph.graphs, n, n, graph.row_ptr.data(), graph.col.data()};
    std::vector<float> out(kHeads * n * d), alpha(graph.edges()), dq(out.size()), dk(out.size()),
        dv(out.size()), dp(graph.edges()), dy(m.y.numel()), dz(m.z.numel()), db(m.b.numel());
    SbmForwardParams<float> f;
    f.edges = edges;
    f.d = d;
    f.q = q.data_ptr<float>();
    f.k = k.data_ptr<float>();
    f.v = v.data_ptr<float>();
    f.scale = 1.0f / std::sqrt(static_cast<float>(d));
    f.out = out.data();
    f.alpha = alpha.data();
    auto t2 = std::chrono::steady_clock::now();
    cpu::sbm_attention_forward(f);
    auto t3 = std::chrono::steady_clock::now();
    SbmBackwardParams<float> b;
    b.edges = edges;
    b.d = d;
    b.q = f.q;
    b.k = f.k;
    b.v = f.v;
    b.out = out.data();
    b.alpha = alpha.data();
    b.grad_out = g.data_ptr<float>();
    b.scale = f.scale;
    b.dq = dq.data();
    b.dk = dk.data();
    b.dv = dv.data();
    b.dp = dp.data();
    cpu::sbm_attention_backward(b);
    auto t4 = std::chrono::steady_clock::now();
    SbmMembershipBackwardParams<float> mb;
    mb.edges = edges;
    mb.heads = kHeads;
    mb.k = clusters;
    mb.y = sp.y;
    mb.z = sp.z;
    mb.b = sp.b;
    mb.dp = dp.data();
    mb.dy = dy.data();
    mb.dz = dz.data();
    mb.db = db.data();
    cpu::sbm_membership_backward(mb);
    auto t5 = std::chrono::steady_clock::now();
    if (r < 0) continue;  // warm-up
    auto ms = [](auto a, auto b) {
      return std::chrono::duration<double, std::milli>(b - a).count();
    };
    times[0].push_back(ms(t0, t1));
    times[1].push_back(ms(t2, t3));
    times[2].push_back(ms(t3, t4));
    times[3].push_back(ms(t4, t5));
  }
  auto median = [](std::vector<double> x) {
    std::sort(x.begin(), x.end());
    return x[x.size() / 2];
  };
  return {median(times[0]), median(times[1]), median(times[2]), median(times[3])};
}

template <typename T>
std::vector<T> ParseList(const std::string& text) {
  std::vector<T> out;
  std::stringstream in(text);
  std::string item;
  while (std::getline(in, item, ',')) {
    std::istringstream value(item);
    T x;
    if (!(value >> x)) throw CLI::ValidationError("not a number: '" + item + "'");
    out.push_back(x);
  }
  return out;
}

}  // namespace
}  // namespace sbmt::attention

int main(int argc, char** argv) {
  // The dense baseline's matrix products run on the BLAS kernels our training programs use.
  sbmt::runtime::ReexecWithTunedLibraries(argv);
  using namespace sbmt::attention;
  CLI::App app("SBM attention vs full attention: forward+backward time and peak memory");
  int threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  bool csv = false;
  std::string sizes = "1024,2048,4096,8192";
  std::string densities = "0.05,0.1,0.25";
  int repeats = 5;
  int64_t clusters = 128;
  bool phases = false;
  app.add_flag("--phases", phases, "also print the time of each phase of the SBM op");
  app.add_option("--threads", threads, "intra-op threads (OpenMP and LibTorch)")
      ->check(CLI::PositiveNumber);
  app.add_flag("--csv", csv, "print CSV instead of a table");
  app.add_option("--sizes", sizes, "sequence lengths, comma-separated");
  app.add_option("--densities", densities, "target densities, comma-separated");
  app.add_option("--repeats", repeats, "timed repetitions (median reported)")
      ->check(CLI::PositiveNumber);
  app.add_option("--clusters", clusters, "SBM clusters k")->check(CLI::PositiveNumber);
  CLI11_PARSE(app, argc, argv);

  std::vector<int64_t> ns;
  std::vector<double> targets;
  try {
    ns = ParseList<int64_t>(sizes);
    targets = ParseList<double>(densities);
  } catch (const CLI::Error& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 2;
  }
  torch::set_num_threads(threads);
  omp_set_num_threads(threads);

  // Peak memory first, with large blocks straight from mmap and back on free so that the
  // resident-set peak reflects live memory, on a heap that timing has not grown yet. Then times,
  // with malloc reusing freed blocks as in training: measuring memory's way makes every large
  // allocation fault in fresh pages, which would distort the times.
  std::vector<Row> rows;
  mallopt(M_MMAP_THRESHOLD, 64 * 1024);
  mallopt(M_TRIM_THRESHOLD, 0);
  for (int64_t n : ns) {
    for (double target : targets) {
      std::fprintf(stderr, "peak memory n=%lld density=%.2f...\n", static_cast<long long>(n),
                   target);
      rows.push_back(Measure(n, target, clusters, 1, /*memory=*/true));
    }
  }
  RestoreMallocThresholds();
  for (Row& r : rows) {
    const double target = targets[(&r - rows.data()) % targets.size()];
    std::fprintf(stderr, "timing n=%lld density=%.2f...\n", static_cast<long long>(r.n), target);
    const Row t = Measure(r.n, target, clusters, repeats, /*memory=*/false);
    r.density = t.density;
    r.edges = t.edges;
    r.sbm_ms = t.sbm_ms;
    r.dense_ms = t.dense_ms;
  }
  std::vector<Phases> phase_rows;
  if (phases) {
    for (int64_t n : ns) {
      for (double target : targets)
        phase_rows.push_back(MeasurePhases(n, target, clusters, repeats));
    }
  }

  if (csv) {
    std::printf("n,density,edges,sbm_ms,dense_ms,ratio,sbm_bytes,dense_bytes\n");
  } else {
    const char* blas_core = sbmt::runtime::LoadedOpenBlasCore();
    std::printf(
        "SBM attention vs full attention, forward+backward; batch 1, heads %lld, head dim "
        "%lld, k %lld, threads %d, median of %d, CPU kernels %s, OpenBLAS kernels %s\n",
        static_cast<long long>(kHeads), static_cast<long long>(kHeadDim),
        static_cast<long long>(clusters), threads, repeats,
        sbm_cpu_kernel_isa_name(sbm_cpu_kernel_isa()), blas_core != nullptr ? blas_core : "none");
    std::printf("%6s %8s %10s %10s %10s %7s %12s %12s %8s\n", "n", "density", "edges", "sbm_ms",
                "dense_ms", "ratio", "sbm_bytes", "dense_bytes", "mem");
  }
  for (const Row& r : rows) {
    if (csv) {
      std::printf("%lld,%.4f,%lld,%.2f,%.2f,%.4f,%lld,%lld\n", static_cast<long long>(r.n),
                  r.density, static_cast<long long>(r.edges), r.sbm_ms, r.dense_ms,
                  r.sbm_ms / r.dense_ms, static_cast<long long>(r.sbm_bytes),
                  static_cast<long long>(r.dense_bytes));
    } else {
      std::printf("%6lld %8.4f %10lld %10.2f %10.2f %7.3f %12lld %12lld %7.1f%%\n",
                  static_cast<long long>(r.n), r.density, static_cast<long long>(r.edges), r.sbm_ms,
                  r.dense_ms, r.sbm_ms / r.dense_ms, static_cast<long long>(r.sbm_bytes),
                  static_cast<long long>(r.dense_bytes),
                  100.0 * r.sbm_bytes / std::max<int64_t>(1, r.dense_bytes));
    }
  }
  if (phases) {
    std::printf(
        "\nSBM phases (ms): sampling, attention forward, attention backward (dq, dk, dv, "
        "dp), membership gradients (dY, dZ, dB)\n");
    std::printf("%6s %8s %10s %10s %10s %12s %10s\n", "n", "target", "sample", "forward",
                "backward", "membership", "total");
    for (size_t i = 0; i < phase_rows.size(); ++i) {
      const Phases& p = phase_rows[i];
      std::printf("%6lld %8.2f %10.2f %10.2f %10.2f %12.2f %10.2f\n",
                  static_cast<long long>(ns[i / targets.size()]), targets[i % targets.size()],
                  p.sample_ms, p.forward_ms, p.backward_ms, p.membership_ms,
                  p.sample_ms + p.forward_ms + p.backward_ms + p.membership_ms);
    }
  }
  std::fflush(stdout);
  return 0;
}
