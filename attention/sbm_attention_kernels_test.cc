// SBM attention kernels: cpu:: against reference:: over random shapes (n_q != n_k, padding,
// empty rows, self loops, dropout), gradients against finite differences, the STE gradient
// against a dense oracle, and thread-count independence.
#include "attention/sbm_attention_kernels.h"

#include <gtest/gtest.h>
#include <omp.h>

#include <cmath>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "attention/fastrg_sampler.h"
#include "attention/sbm_attention_cpu_isa.h"
#include "attention/testing/dense_reference.h"
#include "attention/testing/tolerances.h"

namespace sbmt::attention {
namespace {

using testing::Dense;
using testing::Tolerance;

struct Shape {
  int64_t batch, heads, n_q, n_k, d, k;
  float eps;
  double b_total;  // sum of B's entries: controls density
  bool padding, self_loops;
  float dropout;
};

std::string Describe(const Shape& s) {
  return "batch " + std::to_string(s.batch) + " heads " + std::to_string(s.heads) + " n_q " +
         std::to_string(s.n_q) + " n_k " + std::to_string(s.n_k) + " d " + std::to_string(s.d) +
         (s.padding ? " padded" : "") + (s.self_loops ? " self-loops" : "") + " dropout " +
         std::to_string(s.dropout);
}

// Random inputs and one sampled edge set for a shape.
struct Case {
  Shape shape;
  std::vector<float> y, z, b;
  std::vector<uint8_t> query_valid, key_valid;
  SbmGraph graph;
  std::vector<double> q, k, v, grad_out, grad_edges;

  int64_t graphs() const { return shape.batch * shape.heads; }
  SbmEdges edges() const {
    return {graph.graphs, graph.n_q, graph.n_k, graph.row_ptr.data(), graph.col.data()};
  }
  SbmDropout dropout() const { return {shape.dropout, 1234, 5678}; }
};

Case MakeCase(const Shape& s, unsigned seed) {
  Case c;
  c.shape = s;
  std::mt19937 gen(seed);
  std::uniform_real_distribution<float> unit(0.0f, 1.0f);
  std::normal_distribution<double> normal(0.0, 1.0);
  const int64_t G = s.batch * s.heads;
  c.y.resize(G * s.n_q * s.k);
  c.z.resize(G * s.n_k * s.k);
  c.b.resize(s.heads * s.k * s.k);
  for (float& x : c.y) x = unit(gen);
  for (float& x : c.z) x = unit(gen);
  for (float& x : c.b) x = unit(gen) * static_cast<float>(2 * s.b_total / (s.k * s.k));
  FastRgParams p;
  p.batch = s.batch;
  p.heads = s.heads;
  p.n_q = s.n_q;
  p.n_k = s.n_k;
  p.k = s.k;
  p.y = c.y.data();
  p.z = c.z.data();
  p.b = c.b.data();
  p.eps = s.eps;
  p.self_loops = s.self_loops;
  p.seed = seed;
  if (s.padding) {
    c.query_valid.assign(s.batch * s.n_q, 1);
    c.key_valid.assign(s.batch * s.n_k, 1);
    for (int64_t bi = 0; bi < s.batch; ++bi) {
      for (int64_t i = s.n_q - 1 - bi; i < s.n_q; ++i) c.query_valid[bi * s.n_q + i] = 0;
      for (int64_t j = s.n_k - 2 - bi; j < s.n_k; ++j) c.key_valid[bi * s.n_k + j] = 0;
    }
    p.query_valid = c.query_valid.data();
    p.key_valid = c.key_valid.data();
  }
  c.graph = fastrg_sample(p);
  auto fill = [&](std::vector<double>& x, int64_t n) {
    x.resize(n);
    for (double& e : x) e = normal(gen);
  };
  fill(c.q, G * s.n_q * s.d);
  fill(c.k, G * s.n_k * s.d);
  fill(c.v, G * s.n_k * s.d);
  fill(c.grad_out, G * s.n_q * s.d);
  fill(c.grad_edges, G);
  for (double& x : c.grad_edges) x *= 0.01;
  return c;
}

template <typename T>
std::vector<T> Cast(const std::vector<double>& x) {
  return std::vector<T>(x.begin(), x.end());
}

template <typename T>
struct Results {
  std::vector<T> out, alpha, dq, dk, dv, dp, dy, dz, db;
};

// kCpu dispatches (the widest build this CPU runs); the others are the instruction-set builds
// themselves, each tested where the CPU supports it.
enum class Impl { kReference, kCpu, kCpuGeneric, kCpuAvx2, kCpuAvx512 };

#define SBMT_TEST_DISPATCH(kernel, p) \
  switch (impl) {                     \
    case Impl::kCpu:                  \
      return cpu::kernel(p);          \
    case Impl::kCpuGeneric:           \
      return cpu_generic::kernel(p);  \
    case Impl::kCpuAvx2:              \
      return cpu_avx2::kernel(p);     \
    case Impl::kCpuAvx512:            \
      return cpu_avx512::kernel(p);   \
    case Impl::kReference:            \
      return reference::kernel(p);    \
  }

template <typename P>
void Dispatch(Impl impl, const SbmForwardParams<P>& f) {
  SBMT_TEST_DISPATCH(sbm_attention_forward, f);
}
template <typename P>
void Dispatch(Impl impl, const SbmBackwardParams<P>& b) {
  SBMT_TEST_DISPATCH(sbm_attention_backward, b);
}
template <typename P>
void Dispatch(Impl impl, const SbmMembershipBackwardParams<P>& m) {
  SBMT_TEST_DISPATCH(sbm_membership_backward, m);
}

// The fast implementations this CPU can run, with a name for failure messages.
std::vector<std::pair<Impl, const char*>> FastImpls() {
  std::vector<std::pair<Impl, const char*>> impls = {{Impl::kCpu, "dispatched cpu kernels"},
                                                     {Impl::kCpuGeneric, "generic cpu kernels"}};
  if (sbm_cpu_supports(CpuKernelIsa::kAvx2)) impls.push_back({Impl::kCpuAvx2, "avx2 kernels"});
  if (sbm_cpu_supports(CpuKernelIsa::kAvx512)) {
    impls.push_back({Impl::kCpuAvx512, "avx512 kernels"});
  }
  return impls;
}

// Runs forward, backward and the membership backward with one implementation in precision T.
template <typename T>
Results<T> RunKernels(const Case& c, Impl impl, bool with_grad_edges = true) {
  const Shape& s = c.shape;
  const int64_t G = c.graphs();
  const int64_t E = c.graph.edges();
  std::vector<T> q = Cast<T>(c.q), k = Cast<T>(c.k), v = Cast<T>(c.v);
  std::vector<T> go = Cast<T>(c.grad_out), ge = Cast<T>(c.grad_edges);
  Results<T> r;
  r.out.resize(G * s.n_q * s.d);
  r.alpha.resize(E);
  SbmForwardParams<T> f;
  f.edges = c.edges();
  f.d = s.d;
  f.q = q.data();
  f.k = k.data();
  f.v = v.data();
  f.scale = T(1) / std::sqrt(T(s.d));
  f.dropout = c.dropout();
  f.out = r.out.data();
  f.alpha = r.alpha.data();
  Dispatch(impl, f);

  r.dq.resize(q.size());
  r.dk.resize(k.size());
  r.dv.resize(v.size());
  r.dp.resize(E);
  SbmBackwardParams<T> b;
  b.edges = c.edges();
  b.d = s.d;
  b.q = q.data();
  b.k = k.data();
  b.v = v.data();
  b.out = r.out.data();
  b.alpha = r.alpha.data();
  b.grad_out = go.data();
  b.grad_edges = with_grad_edges ? ge.data() : nullptr;
  b.scale = f.scale;
  b.dropout = f.dropout;
  b.self_loops = s.self_loops;
  b.dq = r.dq.data();
  b.dk = r.dk.data();
  b.dv = r.dv.data();
  b.dp = r.dp.data();
  Dispatch(impl, b);

  std::vector<T> y(c.y.begin(), c.y.end()), z(c.z.begin(), c.z.end()), bm(c.b.begin(), c.b.end());
  r.dy.resize(y.size());
  r.dz.resize(z.size());
  r.db.resize(bm.size());
  SbmMembershipBackwardParams<T> m;
  m.edges = c.edges();
  m.heads = s.heads;
  m.k = s.k;
  m.y = y.data();
  m.z = z.data();
  m.b = bm.data();
  m.dp = r.dp.data();
  m.dy = r.dy.data();
  m.dz = r.dz.data();
  m.db = r.db.data();
  Dispatch(impl, m);
  return r;
}

template <typename T>
void ExpectClose(const std::vector<T>& actual, const std::vector<T>& expected, Tolerance tol,
                 const std::string& what) {
  ASSERT_EQ(actual.size(), expected.size()) << what;
  int reported = 0;
  for (size_t i = 0; i < actual.size(); ++i) {
    const double a = actual[i];
    const double e = expected[i];
    if (std::fabs(a - e) > tol.atol + tol.rtol * std::fabs(e) && reported++ < 5) {
      ADD_FAILURE() << what << "[" << i << "]: " << a << " vs expected " << e;
    }
  }
}

const std::vector<Shape>& Shapes() {
  static const std::vector<Shape> shapes = {
      // batch heads n_q n_k d k eps b_total padding self_loops dropout
      {1, 1, 7, 7, 8, 3, 0.01f, 1.0, false, false, 0.0f},
      {2, 3, 13, 9, 16, 4, 0.05f, 2.0, true, false, 0.0f},  // n_q > n_k, padding
      {2, 2, 9, 21, 8, 5, 0.0f, 0.05, false, false, 0.0f},  // sparse: many empty rows
      {1, 2, 31, 31, 32, 8, 0.02f, 3.0, true, true, 0.0f},  // self loops with padding
      {3, 2, 17, 12, 16, 4, 0.03f, 2.0, true, true, 0.3f},  // dropout
      {1, 1, 120, 90, 64, 16, 0.01f, 6.0, false, false, 0.1f},
      {1, 2, 40, 33, 128, 128, 0.02f, 40.0, true, true, 0.1f},  // unrolled d = k = 128 paths
      {2, 1, 50, 50, 32, 64, 0.02f, 20.0, false, true, 0.0f},   // unrolled d = 32, k = 64
      // Over 512 query rows: several row chunks per graph, whose partial dk, dv and dB are
      // added up (shorter graphs sum straight into the outputs).
      {1, 2, 1100, 300, 16, 8, 0.01f, 0.4, true, true, 0.1f},
  };
  return shapes;
}

TEST(SbmAttentionKernels, CpuMatchesReferenceAcrossShapes) {
  unsigned seed = 10;
  for (const Shape& s : Shapes()) {
    SCOPED_TRACE(Describe(s));
    const Case c = MakeCase(s, seed++);
    for (const auto& [impl, name] : FastImpls()) {
      SCOPED_TRACE(name);
      Results<float> fast = RunKernels<float>(c, impl);
      Results<float> ref = RunKernels<float>(c, Impl::kReference);
      const Tolerance tol = testing::kFastVsReferenceFloat;
      ExpectClose(fast.out, ref.out, tol, "out");
      ExpectClose(fast.alpha, ref.alpha, tol, "alpha");
      ExpectClose(fast.dq, ref.dq, tol, "dq");
      ExpectClose(fast.dk, ref.dk, tol, "dk");
      ExpectClose(fast.dv, ref.dv, tol, "dv");
      ExpectClose(fast.dp, ref.dp, tol, "dp");
      ExpectClose(fast.dy, ref.dy, tol, "dy");
      ExpectClose(fast.dz, ref.dz, tol, "dz");
      ExpectClose(fast.db, ref.db, tol, "db");
    }
    for (const auto& [impl, name] : FastImpls()) {
      SCOPED_TRACE(name);
      Results<double> fast = RunKernels<double>(c, impl);
      Results<double> ref = RunKernels<double>(c, Impl::kReference);
      const Tolerance tol = testing::kFastVsReferenceDouble;
      ExpectClose(fast.out, ref.out, tol, "out");
      ExpectClose(fast.dq, ref.dq, tol, "dq");
      ExpectClose(fast.dk, ref.dk, tol, "dk");
      ExpectClose(fast.dv, ref.dv, tol, "dv");
      ExpectClose(fast.dp, ref.dp, tol, "dp");
      ExpectClose(fast.db, ref.db, tol, "db");
    }
  }
}

TEST(SbmAttentionKernels, EmptyRowsOutputZeroAndPaddingIsRespected) {
  const Case c = MakeCase(Shapes()[2], 3);
  Results<double> r = RunKernels<double>(c, Impl::kCpu);
  int empty = 0;
  for (int64_t row = 0; row < c.graphs() * c.shape.n_q; ++row) {
    if (c.graph.row_ptr[row] != c.graph.row_ptr[row + 1]) continue;
    ++empty;
    for (int64_t x = 0; x < c.shape.d; ++x) {
      EXPECT_EQ(r.out[row * c.shape.d + x], 0.0);
      EXPECT_EQ(r.dq[row * c.shape.d + x], 0.0);
    }
  }
  EXPECT_GT(empty, 0) << "the sparse shape should produce empty rows";
}

// L(q, k, v) = Σ out ⊙ G on a fixed edge set (and fixed dropout mask), in double.
double Loss(const Case& c, const std::vector<double>& q, const std::vector<double>& k,
            const std::vector<double>& v) {
  std::vector<double> out(c.graphs() * c.shape.n_q * c.shape.d);
  std::vector<double> alpha(c.graph.edges());
  SbmForwardParams<double> f;
  f.edges = c.edges();
  f.d = c.shape.d;
  f.q = q.data();
  f.k = k.data();
  f.v = v.data();
  f.scale = 1.0 / std::sqrt(static_cast<double>(c.shape.d));
  f.dropout = c.dropout();
  f.out = out.data();
  f.alpha = alpha.data();
  cpu::sbm_attention_forward(f);
  double loss = 0;
  for (size_t i = 0; i < out.size(); ++i) loss += out[i] * c.grad_out[i];
  return loss;
}

TEST(SbmAttentionKernels, GradientsMatchCentralFiniteDifferences) {
  const double h = testing::kFiniteDifferenceStep;
  for (const Shape& s : {Shapes()[1], Shapes()[3], Shapes()[4]}) {
    SCOPED_TRACE(Describe(s));
    const Case c = MakeCase(s, 21);
    Results<double> r = RunKernels<double>(c, Impl::kCpu);
    struct Input {
      const char* name;
      const std::vector<double>& grad;
      int which;
    };
    for (const Input& in : {Input{"dq", r.dq, 0}, Input{"dk", r.dk, 1}, Input{"dv", r.dv, 2}}) {
      std::vector<double> numeric(in.grad.size());
      for (size_t i = 0; i < in.grad.size(); ++i) {
        std::vector<double> q = c.q, k = c.k, v = c.v;
        std::vector<double>& x = in.which == 0 ? q : in.which == 1 ? k : v;
        x[i] += h;
        const double plus = Loss(c, q, k, v);
        x[i] -= 2 * h;
        const double minus = Loss(c, q, k, v);
        numeric[i] = (plus - minus) / (2 * h);
      }
      ExpectClose(in.grad, numeric, testing::kFiniteDifference, in.name);
    }
  }
}

// dp on each edge equals the clipped derivative of the loss with respect to that edge's mask
// weight in the dense masked-softmax formulation (the reference code's STE), by finite
// differences; self loops get 0.
TEST(SbmAttentionKernels, StraightThroughGradientMatchesDenseMaskDerivative) {
  Shape s = Shapes()[3];  // one batch element, two heads, self loops
  s.dropout = 0;
  const Case c = MakeCase(s, 31);
  Results<double> r = RunKernels<double>(c, Impl::kCpu, /*with_grad_edges=*/false);
  const double scale = 1.0 / std::sqrt(static_cast<double>(s.d));
  const double h = testing::kFiniteDifferenceStep;
  for (int64_t g = 0; g < c.graphs(); ++g) {
    Dense q(s.n_q, s.d), k(s.n_k, s.d), v(s.n_k, s.d), go(s.n_q, s.d), mask(s.n_q, s.n_k);
    for (int64_t i = 0; i < s.n_q * s.d; ++i) {
      q.data[i] = c.q[g * s.n_q * s.d + i];
      go.data[i] = c.grad_out[g * s.n_q * s.d + i];
    }
    for (int64_t i = 0; i < s.n_k * s.d; ++i) {
      k.data[i] = c.k[g * s.n_k * s.d + i];
      v.data[i] = c.v[g * s.n_k * s.d + i];
    }
    for (int64_t i = 0; i < s.n_q; ++i) {
      for (int64_t e = c.graph.row_ptr[g * s.n_q + i]; e < c.graph.row_ptr[g * s.n_q + i + 1];
           ++e) {
        mask.at(i, c.graph.col[e]) = 1.0;
      }
    }
    auto loss = [&](const Dense& m) {
      Dense out = testing::DenseMaskedAttention(q, k, v, m, scale);
      double l = 0;
      for (size_t i = 0; i < out.data.size(); ++i) l += out.data[i] * go.data[i];
      return l;
    };
    for (int64_t i = 0; i < s.n_q; ++i) {
      for (int64_t e = c.graph.row_ptr[g * s.n_q + i]; e < c.graph.row_ptr[g * s.n_q + i + 1];
           ++e) {
        const int64_t j = c.graph.col[e];
        Dense plus = mask, minus = mask;
        plus.at(i, j) += h;
        minus.at(i, j) -= h;
        const double fd = (loss(plus) - loss(minus)) / (2 * h);
        const double expected = j == i ? 0.0 : std::fmax(-1.0, std::fmin(1.0, fd));
        EXPECT_NEAR(r.dp[e], expected, 1e-6) << "graph " << g << " edge (" << i << "," << j << ")";
      }
    }
    // The forward output also matches the dense masked formulation.
    Dense dense_out = testing::DenseMaskedAttention(q, k, v, mask, scale);
    for (int64_t i = 0; i < s.n_q * s.d; ++i) {
      EXPECT_NEAR(r.out[g * s.n_q * s.d + i], dense_out.data[i], 1e-12);
    }
  }
}

TEST(SbmAttentionKernels, MembershipGradientsMatchDenseFormulas) {
  const Shape s = Shapes()[1];  // batch 2, heads 3: dB sums over the batch per head
  const Case c = MakeCase(s, 41);
  Results<double> r = RunKernels<double>(c, Impl::kCpu);
  std::vector<Dense> db_expected(s.heads, Dense(s.k, s.k));
  for (int64_t g = 0; g < c.graphs(); ++g) {
    const int64_t h = g % s.heads;
    Dense y(s.n_q, s.k), z(s.n_k, s.k), b(s.k, s.k), dp(s.n_q, s.n_k);
    for (int64_t i = 0; i < s.n_q * s.k; ++i) y.data[i] = c.y[g * s.n_q * s.k + i];
    for (int64_t i = 0; i < s.n_k * s.k; ++i) z.data[i] = c.z[g * s.n_k * s.k + i];
    for (int64_t i = 0; i < s.k * s.k; ++i) b.data[i] = c.b[h * s.k * s.k + i];
    for (int64_t i = 0; i < s.n_q; ++i) {
      for (int64_t e = c.graph.row_ptr[g * s.n_q + i]; e < c.graph.row_ptr[g * s.n_q + i + 1];
           ++e) {
        dp.at(i, c.graph.col[e]) = r.dp[e];
      }
    }
    testing::DenseMembershipGrads dense = testing::DenseMembershipBackward(y, z, b, dp);
    const Tolerance tol = testing::kDenseOracleDouble;
    ExpectClose(
        std::vector<double>(r.dy.begin() + g * s.n_q * s.k, r.dy.begin() + (g + 1) * s.n_q * s.k),
        dense.dy.data, tol, "dy");
    ExpectClose(
        std::vector<double>(r.dz.begin() + g * s.n_k * s.k, r.dz.begin() + (g + 1) * s.n_k * s.k),
        dense.dz.data, tol, "dz");
    for (int64_t i = 0; i < s.k * s.k; ++i) db_expected[h].data[i] += dense.db.data[i];
  }
  for (int64_t h = 0; h < s.heads; ++h) {
    ExpectClose(
        std::vector<double>(r.db.begin() + h * s.k * s.k, r.db.begin() + (h + 1) * s.k * s.k),
        db_expected[h].data, testing::kDenseOracleDouble, "db");
  }
}

TEST(SbmAttentionKernels, CpuResultsIdenticalForOneAndTwoThreads) {
  const Case c = MakeCase(Shapes().back(), 51);  // several row chunks per graph
  omp_set_num_threads(1);
  Results<float> one = RunKernels<float>(c, Impl::kCpu);
  omp_set_num_threads(2);
  Results<float> two = RunKernels<float>(c, Impl::kCpu);
  EXPECT_EQ(one.out, two.out);
  EXPECT_EQ(one.dq, two.dq);
  EXPECT_EQ(one.dk, two.dk);
  EXPECT_EQ(one.dv, two.dv);
  EXPECT_EQ(one.dp, two.dp);
  EXPECT_EQ(one.dy, two.dy);
  EXPECT_EQ(one.dz, two.dz);
  EXPECT_EQ(one.db, two.db);
}

}  // namespace
}  // namespace sbmt::attention
