// The sampler's edge law, reproducibility across thread counts, padding, self loops and input
// validation.
#include "attention/fastrg_sampler.h"

#include <gtest/gtest.h>
#include <omp.h>

#include <cmath>
#include <random>
#include <stdexcept>
#include <vector>

#include "runtime/error.h"

namespace sbmt::attention {
namespace {

struct Inputs {
  std::vector<float> y, z, b;
  std::vector<uint8_t> query_valid, key_valid;
  FastRgParams params;
};

// Random memberships in [0, 1) and a block matrix whose entries sum to `b_total`.
Inputs MakeInputs(int64_t batch, int64_t heads, int64_t n_q, int64_t n_k, int64_t k, double b_total,
                  unsigned seed) {
  Inputs in;
  std::mt19937 gen(seed);
  std::uniform_real_distribution<float> unit(0.0f, 1.0f);
  in.y.resize(batch * heads * n_q * k);
  in.z.resize(batch * heads * n_k * k);
  in.b.resize(heads * k * k);
  for (float& x : in.y) x = unit(gen);
  for (float& x : in.z) x = unit(gen);
  for (int64_t h = 0; h < heads; ++h) {
    double sum = 0;
    for (int64_t e = 0; e < k * k; ++e) sum += in.b[h * k * k + e] = unit(gen);
    for (int64_t e = 0; e < k * k; ++e) in.b[h * k * k + e] *= static_cast<float>(b_total / sum);
  }
  FastRgParams& p = in.params;
  p.batch = batch;
  p.heads = heads;
  p.n_q = n_q;
  p.n_k = n_k;
  p.k = k;
  p.y = in.y.data();
  p.z = in.z.data();
  p.b = in.b.data();
  return in;
}

// p_ij = Y_i B Z_jᵀ + eps for graph (b, h), in double.
double Rate(const FastRgParams& p, int64_t bi, int64_t hi, int64_t i, int64_t j) {
  const int64_t g = bi * p.heads + hi;
  double r = p.eps;
  for (int64_t u = 0; u < p.k; ++u) {
    for (int64_t v = 0; v < p.k; ++v) {
      r += static_cast<double>(p.y[(g * p.n_q + i) * p.k + u]) * p.b[(hi * p.k + u) * p.k + v] *
           p.z[(g * p.n_k + j) * p.k + v];
    }
  }
  return r;
}

// Wilson-Hilferty approximation of the chi-square quantile.
double ChiSquareQuantile(double df, double z) {
  const double c = 2.0 / (9.0 * df);
  return df * std::pow(1 - c + z * std::sqrt(c), 3);
}

// Over many seeds, each (i, j)'s frequency matches 1 - exp(-p_ij) (chi-square at
// significance 0.001) and the mean number of draws matches sum p_ij within 3 standard errors.
void ExpectEdgeLaw(double b_total, float eps) {
  Inputs in = MakeInputs(1, 1, 6, 5, 3, b_total, 1);
  in.params.eps = eps;
  const int seeds = 20000;
  const int64_t n_q = in.params.n_q;
  const int64_t n_k = in.params.n_k;
  std::vector<int> hits(n_q * n_k, 0);
  double draws_sum = 0;
  double draws_sq = 0;
  for (int s = 0; s < seeds; ++s) {
    in.params.seed = static_cast<uint64_t>(s);
    SbmGraph graph = fastrg_sample(in.params);
    for (int64_t i = 0; i < n_q; ++i) {
      for (int64_t e = graph.row_ptr[i]; e < graph.row_ptr[i + 1]; ++e) {
        ++hits[i * n_k + graph.col[e]];
      }
    }
    draws_sum += graph.draws[0];
    draws_sq += static_cast<double>(graph.draws[0]) * graph.draws[0];
  }
  double chi2 = 0;
  double rate_sum = 0;
  for (int64_t i = 0; i < n_q; ++i) {
    for (int64_t j = 0; j < n_k; ++j) {
      const double p = Rate(in.params, 0, 0, i, j);
      rate_sum += p;
      const double q = 1 - std::exp(-p);
      const double expected = seeds * q;
      chi2 +=
          (hits[i * n_k + j] - expected) * (hits[i * n_k + j] - expected) / (expected * (1 - q));
    }
  }
  const double df = static_cast<double>(n_q * n_k);
  EXPECT_LT(chi2, ChiSquareQuantile(df, 3.0902)) << "chi-square with " << df << " cells";

  const double mean = draws_sum / seeds;
  const double stderr_mean = std::sqrt((draws_sq / seeds - mean * mean) / seeds);
  EXPECT_NEAR(mean, rate_sum, 3 * stderr_mean);
  EXPECT_NEAR(fastrg_expected_draws(in.params, 0, 0), rate_sum, 1e-4 * rate_sum);
}

// The sampler picks its per-row and per-block tables by how many draws they serve: search
// tables for sparse graphs, alias tables for dense ones (fastrg_sampler.cc). The law must hold
// for each, and for the mix in between.
TEST(FastRgSampler, EdgeLawMatchesPoissonModelWithSearchTables) {
  ExpectEdgeLaw(/*b_total=*/0.3, /*eps=*/0.01f);  // about 0.4 draws per row: search tables
}

TEST(FastRgSampler, EdgeLawMatchesPoissonModelWithMixedTables) {
  ExpectEdgeLaw(/*b_total=*/3.0, /*eps=*/0.05f);  // about 4 draws per row: both kinds
}

TEST(FastRgSampler, EdgeLawMatchesPoissonModelWithAliasTables) {
  ExpectEdgeLaw(/*b_total=*/8.0, /*eps=*/0.05f);  // about 10 draws per row: alias tables
}

TEST(FastRgSampler, SameEdgesForOneAndTwoThreads) {
  // Two shapes: few large graphs (parallel inside a graph) and many small ones (one per thread).
  for (auto [batch, heads, n] : {std::tuple<int, int, int>{1, 2, 700}, {8, 4, 40}}) {
    Inputs in = MakeInputs(batch, heads, n, n + 3, 16, 0.3, 2);
    in.params.seed = 99;
    in.params.self_loops = true;
    omp_set_num_threads(1);
    SbmGraph one = fastrg_sample(in.params);
    omp_set_num_threads(2);
    SbmGraph two = fastrg_sample(in.params);
    EXPECT_EQ(one.row_ptr, two.row_ptr);
    EXPECT_EQ(one.col, two.col);
    EXPECT_EQ(one.draws, two.draws);
    EXPECT_GT(one.edges(), 0);
  }
}

TEST(FastRgSampler, ASliceOfTheBatchWithItsOffsetSamplesTheSameGraphs) {
  // A rank or micro-step that holds examples [2, 4) of a batch of 4 samples what the whole batch
  // samples for them: graphs do not depend on how the global batch is split.
  const int64_t heads = 2, n = 50, k = 8;
  Inputs all = MakeInputs(4, heads, n, n, k, 0.2, 3);
  all.params.seed = 5;
  all.params.step = 11;
  const SbmGraph whole = fastrg_sample(all.params);
  FastRgParams slice = all.params;
  slice.batch = 2;
  slice.batch_offset = 2;
  slice.y += 2 * heads * n * k;
  slice.z += 2 * heads * n * k;
  const SbmGraph part = fastrg_sample(slice);
  const int64_t first_row = 2 * heads * n;
  ASSERT_EQ(part.row_ptr.size(), 2 * heads * n + 1);
  for (int64_t r = 0; r < 2 * heads * n; ++r) {
    const int64_t w0 = whole.row_ptr[first_row + r], w1 = whole.row_ptr[first_row + r + 1];
    const std::vector<int32_t> expected(whole.col.begin() + w0, whole.col.begin() + w1);
    const std::vector<int32_t> got(part.col.begin() + part.row_ptr[r],
                                   part.col.begin() + part.row_ptr[r + 1]);
    ASSERT_EQ(got, expected) << "row " << r;
  }
  // Without the offset the slice would reuse examples 0 and 1's randomness.
  slice.batch_offset = 0;
  EXPECT_NE(fastrg_sample(slice).col, part.col);
}

TEST(FastRgSampler, TrailingPaddingDoesNotChangeTheGraph) {
  // One example of 40 tokens, alone (width 40) or padded to width 57 in a wider batch.
  const int64_t heads = 2, n = 40, wide = 57, k = 8;
  Inputs tight = MakeInputs(1, heads, n, n, k, 0.3, 4);
  Inputs padded = MakeInputs(1, heads, wide, wide, k, 0.3, 4);
  for (int64_t h = 0; h < heads; ++h) {  // the same memberships for the 40 real tokens
    for (int64_t i = 0; i < n * k; ++i) {
      padded.y[h * wide * k + i] = tight.y[h * n * k + i];
      padded.z[h * wide * k + i] = tight.z[h * n * k + i];
    }
  }
  padded.b = tight.b;
  padded.params.b = padded.b.data();
  std::vector<uint8_t> valid(wide, 0);
  std::fill(valid.begin(), valid.begin() + n, 1);
  padded.params.key_valid = valid.data();
  padded.params.query_valid = valid.data();
  for (FastRgParams* p : {&tight.params, &padded.params}) {
    p->seed = 8;
    p->self_loops = true;
  }
  const SbmGraph a = fastrg_sample(tight.params), b = fastrg_sample(padded.params);
  for (int64_t h = 0; h < heads; ++h) {
    for (int64_t i = 0; i < n; ++i) {
      const int64_t ra = h * n + i, rb = h * wide + i;
      const std::vector<int32_t> ea(a.col.begin() + a.row_ptr[ra],
                                    a.col.begin() + a.row_ptr[ra + 1]);
      const std::vector<int32_t> eb(b.col.begin() + b.row_ptr[rb],
                                    b.col.begin() + b.row_ptr[rb + 1]);
      ASSERT_EQ(ea, eb) << "head " << h << " row " << i;
    }
  }
  EXPECT_GT(a.edges(), 0);
}

TEST(FastRgSampler, RowsAreSortedUniqueAndRespectPadding) {
  Inputs in = MakeInputs(2, 2, 50, 40, 4, 8.0, 3);  // dense enough for many duplicates
  in.query_valid.assign(2 * 50, 1);
  in.key_valid.assign(2 * 40, 1);
  for (int i = 45; i < 50; ++i) in.query_valid[50 + i] = 0;  // batch 1: last 5 queries padded
  for (int j = 30; j < 40; ++j) in.key_valid[j] = 0;         // batch 0: last 10 keys padded
  in.params.query_valid = in.query_valid.data();
  in.params.key_valid = in.key_valid.data();
  in.params.self_loops = true;
  SbmGraph graph = fastrg_sample(in.params);
  int64_t total_draws = 0;
  for (int64_t g = 0; g < graph.graphs; ++g) {
    const int64_t bi = g / 2;
    total_draws += graph.draws[g];
    for (int64_t i = 0; i < 50; ++i) {
      const int64_t r = g * 50 + i;
      const bool q_ok = in.query_valid[bi * 50 + i] != 0;
      if (!q_ok) {
        EXPECT_EQ(graph.row_ptr[r + 1], graph.row_ptr[r]) << "padded query " << i << " has edges";
      }
      bool has_loop = false;
      for (int64_t e = graph.row_ptr[r]; e < graph.row_ptr[r + 1]; ++e) {
        const int32_t j = graph.col[e];
        ASSERT_GE(j, 0);
        ASSERT_LT(j, 40);
        EXPECT_NE(in.key_valid[bi * 40 + j], 0) << "edge to padded key " << j;
        if (e > graph.row_ptr[r]) {
          EXPECT_LT(graph.col[e - 1], j) << "unsorted or duplicate";
        }
        has_loop |= j == i;
      }
      if (q_ok && i < 40 && in.key_valid[bi * 40 + i]) {
        EXPECT_TRUE(has_loop) << "row " << i;
      }
    }
  }
  EXPECT_GT(total_draws, graph.edges() - 4 * 40);  // duplicates were drawn and removed
}

TEST(FastRgSampler, RejectsBadInputWithNamedArgument) {
  Inputs in = MakeInputs(1, 1, 4, 4, 2, 0.5, 4);
  auto expect_error = [&](FastRgParams p, const std::string& needle) {
    try {
      fastrg_sample(p);
      ADD_FAILURE() << "expected an error mentioning " << needle;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
  };
  FastRgParams p = in.params;
  p.k = 0;
  expect_error(p, "k: expected > 0, got 0");
  p = in.params;
  p.eps = 1.0f;
  expect_error(p, "eps: expected a value in [0, 1)");
  p = in.params;
  p.eps = -0.1f;
  expect_error(p, "eps");
  in.y[5] = std::nanf("");
  expect_error(in.params, "y: expected finite entries >= 0, got nan at flat index 5");
  in.y[5] = 0.5f;
  in.b[1] = -1.0f;
  expect_error(in.params, "b: expected finite entries >= 0, got -1");
}

TEST(FastRgSampler, ZeroFloorAndZeroMembershipGivesNoEdges) {
  Inputs in = MakeInputs(1, 1, 10, 10, 2, 0.5, 5);
  for (float& x : in.y) x = 0.0f;
  in.params.eps = 0.0f;
  SbmGraph graph = fastrg_sample(in.params);
  EXPECT_EQ(graph.edges(), 0);
  EXPECT_EQ(graph.draws[0], 0);
}

}  // namespace
}  // namespace sbmt::attention
