// Philox4x32-10 against the Random123 known-answer vectors, plus the sampling primitives'
// moments.
#include "attention/philox.h"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "attention/sampling_primitives.h"

namespace sbmt::attention {
namespace {

TEST(Philox, MatchesRandom123KnownAnswers) {
  // kat_vectors from Random123 1.09: philox4x32 10 rounds.
  EXPECT_EQ(Philox4x32({0, 0, 0, 0}, 0, 0),
            (PhiloxWords{0x6627e8d5u, 0xe169c58du, 0xbc57ac4cu, 0x9b00dbd8u}));
  EXPECT_EQ(
      Philox4x32({0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu}, 0xffffffffu, 0xffffffffu),
      (PhiloxWords{0x408f276du, 0x41c83b0eu, 0xa20bc7c6u, 0x6d5451fdu}));
  EXPECT_EQ(
      Philox4x32({0x243f6a88u, 0x85a308d3u, 0x13198a2eu, 0x03707344u}, 0xa4093822u, 0x299f31d0u),
      (PhiloxWords{0xd16cfe09u, 0x94fdccebu, 0x5001e420u, 0x24126ea1u}));
}

TEST(Philox, StreamsAreReproducibleAndDistinct) {
  PhiloxStream a(7, StreamId({1, 2, 3}));
  PhiloxStream b(7, StreamId({1, 2, 3}));
  PhiloxStream c(7, StreamId({1, 2, 4}));
  int same_as_c = 0;
  for (int i = 0; i < 64; ++i) {
    const uint32_t x = a.NextU32();
    EXPECT_EQ(x, b.NextU32());
    same_as_c += x == c.NextU32();
  }
  EXPECT_LT(same_as_c, 2);
}

TEST(Philox, UniformHasUniformMoments) {
  PhiloxStream rng(1, 2);
  const int n = 200000;
  double sum = 0;
  double sum_sq = 0;
  for (int i = 0; i < n; ++i) {
    const double u = rng.Uniform();
    ASSERT_GE(u, 0.0);
    ASSERT_LT(u, 1.0);
    sum += u;
    sum_sq += u * u;
  }
  // Mean 1/2 (sd 1/sqrt(12 n)), second moment 1/3.
  EXPECT_NEAR(sum / n, 0.5, 5 / std::sqrt(12.0 * n));
  EXPECT_NEAR(sum_sq / n, 1.0 / 3, 0.005);
}

// Poisson draws have mean and variance equal to the rate, on both sides of the algorithm switch.
TEST(SamplePoisson, MeanAndVarianceMatchRate) {
  for (double rate : {0.05, 2.5, 9.9, 10.5, 300.0, 2e6}) {
    PhiloxStream rng(11, StreamId({static_cast<uint64_t>(rate * 100)}));
    const int n = 40000;
    double sum = 0;
    double sum_sq = 0;
    for (int i = 0; i < n; ++i) {
      const double x = static_cast<double>(SamplePoisson(rng, rate));
      sum += x;
      sum_sq += x * x;
    }
    const double mean = sum / n;
    const double var = sum_sq / n - mean * mean;
    EXPECT_NEAR(mean, rate, 5 * std::sqrt(rate / n)) << "rate " << rate;
    // Var of the sample variance of a Poisson ~ (rate + 2 rate^2) / n.
    EXPECT_NEAR(var, rate, 5 * std::sqrt((rate + 2 * rate * rate) / n)) << "rate " << rate;
  }
  PhiloxStream rng(1, 1);
  EXPECT_EQ(SamplePoisson(rng, 0.0), 0);
}

TEST(AliasTables, FrequenciesFollowWeights) {
  const std::vector<float> weights = {0.0f, 1.0f, 2.0f, 0.5f, 4.5f};  // sum 8
  AliasTables tables(2, 5);
  EXPECT_DOUBLE_EQ(tables.Build(1, weights.data()), 8.0);
  // Table 0 from a strided column: every other element of a 10-vector.
  const std::vector<float> strided = {3, 9, 0, 9, 1, 9, 0, 9, 0, 9};
  EXPECT_DOUBLE_EQ(tables.Build(0, strided.data(), 2), 4.0);
  PhiloxStream rng(3, 4);
  const int n = 160000;
  std::vector<int> counts(5), counts0(5);
  for (int i = 0; i < n; ++i) {
    ++counts[tables.Sample(1, rng)];
    ++counts0[tables.Sample(0, rng)];
  }
  EXPECT_EQ(counts[0], 0);  // zero weight: never drawn
  for (size_t i = 1; i < weights.size(); ++i) {
    const double p = weights[i] / 8.0;
    EXPECT_NEAR(counts[i], n * p, 5 * std::sqrt(n * p * (1 - p))) << "index " << i;
  }
  EXPECT_EQ(counts0[1] + counts0[3] + counts0[4], 0);
  EXPECT_NEAR(counts0[0], n * 0.75, 5 * std::sqrt(n * 0.75 * 0.25));
  const std::vector<float> zeros = {0.0f, 0.0f, 0.0f, 0.0f, 0.0f};
  EXPECT_EQ(tables.Build(0, zeros.data()), 0.0);
}

// Stride 0 repeats one weight, and entries marked invalid get none: uniform over the valid ones.
TEST(AliasTables, RepeatedWeightOverValidEntries) {
  const float one = 1.0f;
  const std::vector<uint8_t> valid = {1, 0, 1, 1, 0};
  AliasTables tables(1, 5);
  EXPECT_DOUBLE_EQ(tables.Build(0, &one, 0, valid.data()), 3.0);
  PhiloxStream rng(5, 6);
  const int n = 90000;
  std::vector<int> counts(5);
  for (int i = 0; i < n; ++i) ++counts[tables.Sample(0, rng)];
  EXPECT_EQ(counts[1] + counts[4], 0);
  for (int i : {0, 2, 3}) {
    EXPECT_NEAR(counts[i], n / 3.0, 5 * std::sqrt(n * (1 / 3.0) * (2 / 3.0))) << "index " << i;
  }
}

// The search tables draw with the same law: zero weights (first, inside, last) never come up.
TEST(CdfTables, FrequenciesFollowWeights) {
  const std::vector<float> weights = {0.0f, 1.0f, 2.0f, 0.0f, 0.5f, 4.5f, 0.0f};  // sum 8
  const std::vector<float> single = {0.0f, 0.0f, 3.0f, 0.0f, 0.0f, 0.0f, 0.0f};
  CdfTables tables(2, 7);
  EXPECT_DOUBLE_EQ(tables.Build(0, weights.data()), 8.0);
  EXPECT_DOUBLE_EQ(tables.Build(1, single.data()), 3.0);
  PhiloxStream rng(7, 8);
  const int n = 160000;
  std::vector<int> counts(7), counts1(7);
  for (int i = 0; i < n; ++i) {
    ++counts[tables.Sample(0, rng)];
    ++counts1[tables.Sample(1, rng)];
  }
  EXPECT_EQ(counts[0] + counts[3] + counts[6], 0);
  for (size_t i : {1, 2, 4, 5}) {
    const double p = weights[i] / 8.0;
    EXPECT_NEAR(counts[i], n * p, 5 * std::sqrt(n * p * (1 - p))) << "index " << i;
  }
  EXPECT_EQ(counts1[2], n);
}

// Every table size from 1 to 40 (the search halves odd and even lengths): each entry of
// positive weight comes up, none of zero weight does.
TEST(CdfTables, EverySizeReachesEveryPositiveEntry) {
  PhiloxStream rng(9, 10);
  for (int64_t size = 1; size <= 40; ++size) {
    std::vector<float> weights(size);
    for (int64_t i = 0; i < size; ++i) weights[i] = i % 3 == 1 ? 0.0f : 1.0f + i % 4;
    if (size == 2) weights = {0.0f, 1.0f};
    CdfTables tables(1, size);
    tables.Build(0, weights.data());
    std::vector<int> counts(size);
    for (int d = 0; d < 400 * size; ++d) ++counts[tables.Sample(0, rng)];
    for (int64_t i = 0; i < size; ++i) {
      if (weights[i] > 0) {
        EXPECT_GT(counts[i], 0) << "size " << size << " index " << i;
      } else {
        EXPECT_EQ(counts[i], 0) << "size " << size << " index " << i;
      }
    }
  }
}

}  // namespace
}  // namespace sbmt::attention

namespace sbmt::attention {
namespace {

// The lane-batched stream yields exactly the blocks of the one-block function, in order.
TEST(Philox, StreamEqualsBlockByBlockComputation) {
  const uint64_t seed = 0x0123456789abcdefull;
  const uint64_t stream = StreamId({4, 5, 6});
  const uint64_t offset = (uint64_t{7} << 32) - 3;  // crosses a 32-bit carry in the counter
  PhiloxStream rng(seed, stream, offset);
  for (uint64_t b = offset; b < offset + 3 * kPhiloxLanes + 1; ++b) {
    const PhiloxWords expected =
        Philox4x32({static_cast<uint32_t>(b), static_cast<uint32_t>(b >> 32),
                    static_cast<uint32_t>(stream), static_cast<uint32_t>(stream >> 32)},
                   static_cast<uint32_t>(seed), static_cast<uint32_t>(seed >> 32));
    for (int w = 0; w < 4; ++w) ASSERT_EQ(rng.NextU32(), expected[w]) << "block " << b;
  }
}

}  // namespace
}  // namespace sbmt::attention
