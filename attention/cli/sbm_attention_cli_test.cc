// sbm_attention_cli end to end: .npy files in, the real binary run as a subprocess, .npy files
// out, checked against the dense oracle, finite differences and the sampler library.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <vector>

#include "attention/cli/npy.h"
#include "attention/fastrg_sampler.h"
#include "attention/testing/dense_reference.h"

namespace sbmt::attention {
namespace {

std::string g_cli;  // path of the binary under test (first argument)

std::string Dir(const std::string& name) {
  const char* tmp = std::getenv("TEST_TMPDIR");
  const std::string dir = std::string(tmp ? tmp : "/tmp") + "/" + name;
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

struct Result {
  int exit_code;
  std::string err;
};

Result RunCli(const std::string& dir, const std::string& args) {
  const std::string err_path = dir + "/stderr.txt";
  const int status = std::system((g_cli + " " + args + " 2> " + err_path).c_str());
  std::ifstream in(err_path);
  return {WEXITSTATUS(status),
          std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>())};
}

std::vector<double> Random(int64_t count, std::mt19937& gen, double lo = -1, double hi = 1) {
  std::uniform_real_distribution<double> u(lo, hi);
  std::vector<double> x(count);
  for (double& e : x) e = u(gen);
  return x;
}

testing::Dense AsDense(const std::vector<double>& x, int64_t rows, int64_t cols) {
  testing::Dense d(rows, cols);
  d.data = x;
  return d;
}

// out and dq from fixed (unsorted) edges match the dense masked-softmax oracle and its
// finite differences; edges.npy comes back sorted.
TEST(SbmAttentionCli, FixedEdgesMatchDenseOracle) {
  const std::string dir = Dir("fixed");
  const int64_t n = 5, m = 4, d = 3;
  std::mt19937 gen(1);
  const std::vector<double> q = Random(n * d, gen), k = Random(m * d, gen), v = Random(m * d, gen),
                            g = Random(n * d, gen);
  const std::vector<int32_t> edges = {3, 1, 0, 0, 0, 2, 4, 3, 1, 1, 3, 0};  // unsorted
  WriteNpy(dir + "/q.npy", {n, d}, q);
  WriteNpy(dir + "/k.npy", {m, d}, k);
  WriteNpy(dir + "/v.npy", {m, d}, v);
  WriteNpy(dir + "/g.npy", {n, d}, g);
  WriteNpy(dir + "/e.npy", {6, 2}, edges);
  const Result r = RunCli(dir, "--q=" + dir + "/q.npy --k=" + dir + "/k.npy --v=" + dir +
                                   "/v.npy --edges=" + dir + "/e.npy --grad-out=" + dir +
                                   "/g.npy --out-dir=" + dir + "/out");
  ASSERT_EQ(r.exit_code, 0) << r.err;

  const NpyArray e = ReadNpy(dir + "/out/edges.npy");
  EXPECT_EQ(e.descr, "<i4");
  EXPECT_EQ(e.AsInt64(), (std::vector<int64_t>{0, 0, 0, 2, 1, 1, 3, 0, 3, 1, 4, 3}));
  testing::Dense mask(n, m);
  for (int x = 0; x < 6; ++x) mask.at(edges[2 * x], edges[2 * x + 1]) = 1;
  const double scale = 1 / std::sqrt(3.0);
  auto loss = [&](const std::vector<double>& qq) {
    testing::Dense o =
        testing::DenseMaskedAttention(AsDense(qq, n, d), AsDense(k, m, d), AsDense(v, m, d),
                                      mask, scale);
    double l = 0;
    for (size_t i = 0; i < o.data.size(); ++i) l += o.data[i] * g[i];
    return l;
  };
  const testing::Dense expected = testing::DenseMaskedAttention(
      AsDense(q, n, d), AsDense(k, m, d), AsDense(v, m, d), mask, scale);
  const NpyArray out = ReadNpy(dir + "/out/out.npy");
  EXPECT_EQ(out.descr, "<f8");
  EXPECT_EQ(out.ShapeString(), "(5, 3)");
  const std::vector<double> got = out.AsDouble();
  for (int64_t i = 0; i < n * d; ++i) {
    EXPECT_NEAR(got[i], expected.data[i], 1e-12) << i;
  }
  // Row 2 has no edge: zero output.
  for (int64_t c = 0; c < d; ++c) EXPECT_EQ(got[2 * d + c], 0.0);
  const std::vector<double> dq = ReadNpy(dir + "/out/dq.npy").AsDouble();
  for (int64_t i = 0; i < n * d; ++i) {
    std::vector<double> plus = q, minus = q;
    plus[i] += 1e-6;
    minus[i] -= 1e-6;
    EXPECT_NEAR(dq[i], (loss(plus) - loss(minus)) / 2e-6, 1e-7) << i;
  }
  EXPECT_EQ(ReadNpy(dir + "/out/dp.npy").ShapeString(), "(6)");
  EXPECT_FALSE(std::filesystem::exists(dir + "/out/dy.npy"));
}

// Sampling in the CLI gives the library's edges for the same seed (float32 inputs accepted),
// and with memberships and a gradient it writes the STE gradients.
TEST(SbmAttentionCli, SamplesLikeTheLibraryAndWritesMembershipGradients) {
  const std::string dir = Dir("sampled");
  const int64_t n = 30, m = 20, d = 4, c = 3;
  std::mt19937 gen(2);
  WriteNpy(dir + "/q.npy", {n, d}, Random(n * d, gen));
  WriteNpy(dir + "/k.npy", {m, d}, Random(m * d, gen));
  WriteNpy(dir + "/v.npy", {m, d}, Random(m * d, gen));
  WriteNpy(dir + "/g.npy", {n, d}, Random(n * d, gen));
  const std::vector<double> y = Random(n * c, gen, 0, 1), z = Random(m * c, gen, 0, 1),
                            b = Random(c * c, gen, 0, 0.1);
  WriteNpy(dir + "/y.npy", {n, c}, y);
  WriteNpy(dir + "/z.npy", {m, c}, z);
  WriteNpy(dir + "/b.npy", {c, c}, b);
  const std::string inputs = "--q=" + dir + "/q.npy --k=" + dir + "/k.npy --v=" + dir +
                             "/v.npy --y=" + dir + "/y.npy --z=" + dir + "/z.npy --b=" + dir +
                             "/b.npy --seed=17 --eps=0.05 --self-loops";
  Result r = RunCli(dir, inputs + " --sample-only --out-dir=" + dir + "/s");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(std::filesystem::exists(dir + "/s/edges.npy"));
  EXPECT_FALSE(std::filesystem::exists(dir + "/s/out.npy"));

  const std::vector<float> yf(y.begin(), y.end()), zf(z.begin(), z.end()), bf(b.begin(), b.end());
  FastRgParams p;
  p.batch = 1;
  p.heads = 1;
  p.n_q = n;
  p.n_k = m;
  p.k = c;
  p.y = yf.data();
  p.z = zf.data();
  p.b = bf.data();
  p.eps = 0.05f;
  p.self_loops = true;
  p.seed = 17;
  const SbmGraph graph = fastrg_sample(p);
  std::vector<int64_t> expected;
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t e = graph.row_ptr[i]; e < graph.row_ptr[i + 1]; ++e) {
      expected.push_back(i);
      expected.push_back(graph.col[e]);
    }
  }
  EXPECT_EQ(ReadNpy(dir + "/s/edges.npy").AsInt64(), expected);

  r = RunCli(dir, inputs + " --grad-out=" + dir + "/g.npy --out-dir=" + dir + "/o");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(ReadNpy(dir + "/o/dy.npy").ShapeString(), "(30, 3)");
  EXPECT_EQ(ReadNpy(dir + "/o/dz.npy").ShapeString(), "(20, 3)");
  EXPECT_EQ(ReadNpy(dir + "/o/db.npy").ShapeString(), "(3, 3)");
  // Self loops carry no straight-through gradient.
  const std::vector<int64_t> pairs = ReadNpy(dir + "/o/edges.npy").AsInt64();
  const std::vector<double> dp = ReadNpy(dir + "/o/dp.npy").AsDouble();
  int loops = 0;
  for (size_t e = 0; e < dp.size(); ++e) {
    if (pairs[2 * e] == pairs[2 * e + 1]) {
      ++loops;
      EXPECT_EQ(dp[e], 0.0);
    }
  }
  EXPECT_EQ(loops, 20);
}

TEST(SbmAttentionCli, BadInputGivesClearErrors) {
  const std::string dir = Dir("errors");
  std::mt19937 gen(3);
  WriteNpy(dir + "/q.npy", {3, 2}, Random(6, gen));
  WriteNpy(dir + "/k.npy", {4, 2}, Random(8, gen));
  WriteNpy(dir + "/v.npy", {3, 2}, Random(6, gen));  // wrong: must be (4, 2)
  WriteNpy(dir + "/v4.npy", {4, 2}, Random(8, gen));
  WriteNpy(dir + "/e.npy", {2, 2}, std::vector<int32_t>{0, 1, 2, 4});  // key 4 out of range
  const std::string qk = "--q=" + dir + "/q.npy --k=" + dir + "/k.npy --out-dir=" + dir + "/o ";

  Result r = RunCli(dir, qk + "--v=" + dir + "/v.npy --edges=" + dir + "/e.npy");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("--v=" + dir + "/v.npy: expected shape (4, 2), got (3, 2)"),
            std::string::npos)
      << r.err;

  r = RunCli(dir, qk + "--v=" + dir + "/v4.npy --edges=" + dir + "/e.npy");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("edge 1 is (2, 4), outside [0, 3) x [0, 4)"), std::string::npos) << r.err;

  // Zero-width q, k and v (head dimension 0) divided by zero (SIGFPE) before.
  WriteNpy(dir + "/q0.npy", {3, 0}, std::vector<double>{});
  WriteNpy(dir + "/k0.npy", {4, 0}, std::vector<double>{});
  WriteNpy(dir + "/v0.npy", {4, 0}, std::vector<double>{});
  r = RunCli(dir, "--q=" + dir + "/q0.npy --k=" + dir + "/k0.npy --v=" + dir +
                      "/v0.npy --edges=" + dir + "/e.npy --out-dir=" + dir + "/o");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("--q=" + dir + "/q0.npy: expected at least one column, got (3, 0)"),
            std::string::npos)
      << r.err;

  r = RunCli(dir, qk + "--v=" + dir + "/v4.npy --y=" + dir + "/q.npy");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("--y, --z and --b go together"), std::string::npos) << r.err;

  r = RunCli(dir, qk + "--v=" + dir + "/missing.npy --edges=" + dir + "/e.npy");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("missing.npy: cannot open for reading"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace sbmt::attention

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s PATH_TO_sbm_attention_cli\n", argv[0]);
    return 2;
  }
  sbmt::attention::g_cli = std::filesystem::absolute(argv[1]).string();
  return RUN_ALL_TESTS();
}
