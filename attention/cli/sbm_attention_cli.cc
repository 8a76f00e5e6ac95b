// sbm_attention_cli: SBM attention on one batch element and one head, from and to .npy files, so
// users can debug and cross-check the kernels with Python. See attention/README.md.
//
//   sbm_attention_cli --q=q.npy --k=k.npy --v=v.npy --out-dir=DIR
//       (--edges=E.npy | --y=Y.npy --z=Z.npy --b=B.npy [--eps=0.01] [--seed=S])
//       [--self-loops] [--grad-out=G.npy] [--sample-only]
//
// Writes DIR/edges.npy (int32 (E, 2), sorted by row then column), DIR/out.npy and, with
// --grad-out, DIR/{dq,dk,dv,dp}.npy and, when memberships are given, DIR/{dy,dz,db}.npy; all
// float64. Computes in double precision, without dropout.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "attention/cli/npy.h"
#include "attention/fastrg_sampler.h"
#include "attention/sbm_attention_kernels.h"
#include "runtime/error.h"

namespace sbmt::attention {
namespace {

struct Options {
  std::string q, k, v, out_dir, edges, y, z, b, grad_out;
  double eps = 0.01;
  uint64_t seed = 0;
  bool self_loops = false;
  bool sample_only = false;
};

SBMT_DEFINE_ERROR(CliError, ErrorCode::kInvalidArgument);

// A 2-d array from `path` whose shape must be (rows, cols); -1 accepts any size.
NpyArray Read2d(const std::string& flag, const std::string& path, int64_t rows, int64_t cols) {
  NpyArray a = ReadNpy(path);
  const bool ok = a.shape.size() == 2 && (rows < 0 || a.shape[0] == rows) &&
                  (cols < 0 || a.shape[1] == cols);
  if (!ok) {
    const std::string want = "(" + (rows < 0 ? std::string("*") : std::to_string(rows)) + ", " +
                             (cols < 0 ? std::string("*") : std::to_string(cols)) + ")";
    throw CliError("--" + flag + "=" + path + ": expected shape " + want + ", got " +
                   a.ShapeString());
  }
  if (flag != "edges" && !a.is_float()) {
    throw CliError("--" + flag + "=" + path + ": expected float32 or float64, got " + a.descr);
  }
  if (a.shape[0] == 0 && flag != "edges") {
    throw CliError("--" + flag + "=" + path + ": expected at least one row");
  }
  if (a.shape[1] == 0) {  // a zero-width q/k/v or membership divides by zero further on
    throw CliError("--" + flag + "=" + path + ": expected at least one column, got " +
                   a.ShapeString());
  }
  return a;
}

// The graph as CSR for one (batch, head): from --edges, or sampled from the memberships.
SbmGraph GraphFromEdges(const Options& o, int64_t n, int64_t m) {
  const NpyArray e = Read2d("edges", o.edges, -1, 2);
  const std::vector<int64_t> flat = e.AsInt64();
  std::vector<std::pair<int64_t, int64_t>> pairs;
  for (int64_t x = 0; x < e.shape[0]; ++x) {
    const int64_t i = flat[2 * x], j = flat[2 * x + 1];
    if (i < 0 || i >= n || j < 0 || j >= m) {
      throw CliError("--edges=" + o.edges + ": edge " + std::to_string(x) + " is (" +
                     std::to_string(i) + ", " + std::to_string(j) + "), outside [0, " +
                     std::to_string(n) + ") x [0, " + std::to_string(m) + ")");
    }
    pairs.emplace_back(i, j);
  }
  if (o.self_loops) {
    for (int64_t i = 0; i < std::min(n, m); ++i) pairs.emplace_back(i, i);
  }
  std::sort(pairs.begin(), pairs.end());
  if (!o.self_loops) {
    auto dup = std::adjacent_find(pairs.begin(), pairs.end());
    if (dup != pairs.end()) {
      throw CliError("--edges=" + o.edges + ": edge (" + std::to_string(dup->first) + ", " +
                     std::to_string(dup->second) + ") appears more than once");
    }
  }
  pairs.erase(std::unique(pairs.begin(), pairs.end()), pairs.end());
  SbmGraph g;
  g.graphs = 1;
  g.n_q = n;
  g.n_k = m;
  g.row_ptr.assign(n + 1, 0);
  for (const auto& [i, j] : pairs) {
    ++g.row_ptr[i + 1];
    g.col.push_back(static_cast<int32_t>(j));
  }
  for (int64_t i = 0; i < n; ++i) g.row_ptr[i + 1] += g.row_ptr[i];
  g.draws = {static_cast<int64_t>(pairs.size())};
  return g;
}

std::vector<float> ToFloat(const std::vector<double>& x) { return {x.begin(), x.end()}; }

int Run(const Options& o) {
  const bool memberships = !o.y.empty() || !o.z.empty() || !o.b.empty();
  if (memberships && (o.y.empty() || o.z.empty() || o.b.empty())) {
    throw CliError("--y, --z and --b go together: give all three");
  }
  if (o.edges.empty() && !memberships) {
    throw CliError("give either --edges=E.npy or --y=Y.npy --z=Z.npy --b=B.npy");
  }
  if (o.sample_only && !memberships) throw CliError("--sample-only needs --y, --z and --b");
  if (!(o.eps >= 0 && o.eps < 1)) {
    throw CliError("--eps: expected a value in [0, 1), got " + std::to_string(o.eps));
  }
  const NpyArray qa = Read2d("q", o.q, -1, -1);
  const int64_t n = qa.shape[0], d = qa.shape[1];
  const NpyArray ka = Read2d("k", o.k, -1, d);
  const int64_t m = ka.shape[0];
  const NpyArray va = Read2d("v", o.v, m, d);

  std::vector<double> y, z, b;
  int64_t clusters = 0;
  if (memberships) {
    const NpyArray ya = Read2d("y", o.y, n, -1);
    clusters = ya.shape[1];
    y = ya.AsDouble();
    z = Read2d("z", o.z, m, clusters).AsDouble();
    b = Read2d("b", o.b, clusters, clusters).AsDouble();
  }
  SbmGraph graph;
  if (!o.edges.empty()) {
    graph = GraphFromEdges(o, n, m);
  } else {
    const std::vector<float> yf = ToFloat(y), zf = ToFloat(z), bf = ToFloat(b);
    FastRgParams p;
    p.batch = 1;
    p.heads = 1;
    p.n_q = n;
    p.n_k = m;
    p.k = clusters;
    p.y = yf.data();
    p.z = zf.data();
    p.b = bf.data();
    p.eps = static_cast<float>(o.eps);
    p.self_loops = o.self_loops;
    p.seed = o.seed;
    try {
      graph = fastrg_sample(p);
    } catch (const Error& e) {
      throw CliError(std::string(e.what()) + " (from --y/--z/--b)");
    }
  }

  std::filesystem::create_directories(o.out_dir);
  auto path = [&](const char* name) { return (std::filesystem::path(o.out_dir) / name).string(); };
  const int64_t E = graph.edges();
  std::vector<int32_t> edge_pairs(2 * E);
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t e = graph.row_ptr[i]; e < graph.row_ptr[i + 1]; ++e) {
      edge_pairs[2 * e] = static_cast<int32_t>(i);
      edge_pairs[2 * e + 1] = graph.col[e];
    }
  }
  WriteNpy(path("edges.npy"), {E, 2}, edge_pairs);
  std::fprintf(stderr, "%lld edges (density %.4f)\n", static_cast<long long>(E),
               static_cast<double>(E) / (n * m));
  if (o.sample_only) return 0;

  const SbmEdges edges{1, n, m, graph.row_ptr.data(), graph.col.data()};
  const std::vector<double> q = qa.AsDouble(), k = ka.AsDouble(), v = va.AsDouble();
  std::vector<double> out(n * d), alpha(E);
  SbmForwardParams<double> f;
  f.edges = edges;
  f.d = d;
  f.q = q.data();
  f.k = k.data();
  f.v = v.data();
  f.scale = 1.0 / std::sqrt(static_cast<double>(d));
  f.out = out.data();
  f.alpha = alpha.data();
  cpu::sbm_attention_forward(f);
  WriteNpy(path("out.npy"), {n, d}, out);
  if (o.grad_out.empty()) return 0;

  const std::vector<double> g = Read2d("grad-out", o.grad_out, n, d).AsDouble();
  std::vector<double> dq(n * d), dk(m * d), dv(m * d), dp(E);
  SbmBackwardParams<double> bp;
  bp.edges = edges;
  bp.d = d;
  bp.q = q.data();
  bp.k = k.data();
  bp.v = v.data();
  bp.out = out.data();
  bp.alpha = alpha.data();
  bp.grad_out = g.data();
  bp.scale = f.scale;
  bp.self_loops = o.self_loops;
  bp.dq = dq.data();
  bp.dk = dk.data();
  bp.dv = dv.data();
  bp.dp = dp.data();
  cpu::sbm_attention_backward(bp);
  WriteNpy(path("dq.npy"), {n, d}, dq);
  WriteNpy(path("dk.npy"), {m, d}, dk);
  WriteNpy(path("dv.npy"), {m, d}, dv);
  WriteNpy(path("dp.npy"), {E}, dp);
  if (!memberships) return 0;

  std::vector<double> dy(n * clusters), dz(m * clusters), db(clusters * clusters);
  SbmMembershipBackwardParams<double> mp;
  mp.edges = edges;
  mp.heads = 1;
  mp.k = clusters;
  mp.y = y.data();
  mp.z = z.data();
  mp.b = b.data();
  mp.dp = dp.data();
  mp.dy = dy.data();
  mp.dz = dz.data();
  mp.db = db.data();
  cpu::sbm_membership_backward(mp);
  WriteNpy(path("dy.npy"), {n, clusters}, dy);
  WriteNpy(path("dz.npy"), {m, clusters}, dz);
  WriteNpy(path("db.npy"), {clusters, clusters}, db);
  return 0;
}

}  // namespace
}  // namespace sbmt::attention

int main(int argc, char** argv) {
  using namespace sbmt::attention;
  CLI::App app("SBM attention for one batch element and one head, on .npy files");
  Options o;
  app.add_option("--q", o.q, "queries (n, d)")->required();
  app.add_option("--k", o.k, "keys (m, d)")->required();
  app.add_option("--v", o.v, "values (m, d)")->required();
  app.add_option("--out-dir", o.out_dir, "output folder (created if missing)")->required();
  app.add_option("--edges", o.edges, "fixed edges: int32/int64 (E, 2) of (query row, key column)");
  app.add_option("--y", o.y, "query memberships (n, k)");
  app.add_option("--z", o.z, "key memberships (m, k)");
  app.add_option("--b", o.b, "block matrix (k, k)");
  app.add_option("--eps", o.eps, "edge-rate floor in [0, 1)");
  app.add_option("--seed", o.seed, "sampling seed");
  app.add_flag("--self-loops", o.self_loops, "add edge (i, i) for every query i < m");
  app.add_option("--grad-out", o.grad_out, "upstream gradient of the output (n, d)");
  app.add_flag("--sample-only", o.sample_only, "only sample and write edges.npy");
  CLI11_PARSE(app, argc, argv);
  try {
    return Run(o);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "sbm_attention_cli: error: %s\n", e.what());
    return 1;
  }
}
