// The shared hashes are the keys of every seeded stream (data order, masking, dropout seeds,
// attention graphs): these values pin them, so a change that would silently alter every run's
// data order or samples fails here first.
#include "runtime/hash.h"

#include <gtest/gtest.h>

namespace sbmt::runtime {
namespace {

TEST(Hash, SplitMix64MatchesThePublishedSequence) {
  // Vigna's reference splitmix64.c from seed 1234567: the first outputs.
  uint64_t state = 1234567;
  EXPECT_EQ(SplitMix64Next(state), 6457827717110365317ull);
  EXPECT_EQ(SplitMix64Next(state), 3203168211198807973ull);
  EXPECT_EQ(SplitMix64Next(state), 9817491932198370423ull);
}

TEST(Hash, Mix64IsOneGeneratorStep) {
  for (uint64_t x : {uint64_t{0}, uint64_t{1}, uint64_t{0xDEADBEEF}, ~uint64_t{0}}) {
    uint64_t state = x;
    EXPECT_EQ(Mix64(x), SplitMix64Next(state));
  }
}

TEST(Hash, UnitDoubleCoversZeroToOne) {
  EXPECT_EQ(UnitDouble(0), 0.0);
  EXPECT_LT(UnitDouble(~uint64_t{0}), 1.0);
  EXPECT_GT(UnitDouble(~uint64_t{0}), 1.0 - 1e-15);
}

}  // namespace
}  // namespace sbmt::runtime
