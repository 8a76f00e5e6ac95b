// Masking rates (15 %, then 80/10/10), special tokens untouched, and determinism per sequence.
#include "trainer/data/mlm_masking.h"

#include <gtest/gtest.h>

#include <cmath>

namespace sbmt::trainer {
namespace {

TokenBatch Batch(int rows, int width, int64_t first_id) {
  TokenBatch b;
  b.rows = rows;
  b.width = width;
  for (int r = 0; r < rows; ++r) {
    b.sequence_ids.push_back(first_id + r);
    const int length = width - r % 3;  // some padding
    b.lengths.push_back(length);
    for (int t = 0; t < width; ++t) {
      int32_t id = 2000 + (r * 31 + t) % 5000;
      if (t == 0) id = 101;
      if (t == length - 1) id = 102;
      if (t >= length) id = 0;
      b.tokens.push_back(id);
    }
  }
  return b;
}

TEST(MlmMasking, RatesFollowBert) {
  const TokenBatch b = Batch(400, 128, 0);
  const MaskedBatch m = MaskTokens(b, MaskingOptions{});
  int64_t maskable = 0;
  for (int64_t r = 0; r < b.rows; ++r) maskable += b.lengths[r] - 2;
  const double n = static_cast<double>(maskable);
  EXPECT_NEAR(static_cast<double>(m.positions.size()), 0.15 * n, 4 * std::sqrt(n * 0.15 * 0.85));
  int masked = 0, random = 0, kept = 0;
  for (size_t i = 0; i < m.positions.size(); ++i) {
    const int32_t now = m.inputs[m.positions[i]];
    EXPECT_EQ(m.labels[i], b.tokens[m.positions[i]]);
    EXPECT_NE(m.labels[i], 101);
    EXPECT_NE(m.labels[i], 102);
    EXPECT_NE(m.labels[i], 0);
    if (now == 103) {
      ++masked;
    } else if (now == m.labels[i]) {
      ++kept;
    } else {
      ++random;
      EXPECT_GE(now, 999);
      EXPECT_LT(now, 30522);
    }
  }
  const double k = static_cast<double>(m.positions.size());
  EXPECT_NEAR(masked, 0.8 * k, 4 * std::sqrt(k * 0.16));
  EXPECT_NEAR(random, 0.1 * k, 4 * std::sqrt(k * 0.09) + 2);  // a random draw can hit the same id
  EXPECT_NEAR(kept, 0.1 * k, 4 * std::sqrt(k * 0.09) + 2);
}

TEST(MlmMasking, SameSequenceSameMaskWhateverItsRowAndBatch) {
  const TokenBatch whole = Batch(4, 32, 10);
  TokenBatch last = Batch(4, 32, 10);  // row 3 alone, as another rank would read it
  last.rows = 1;
  last.sequence_ids = {13};
  last.lengths = {whole.lengths[3]};
  last.tokens.assign(whole.tokens.begin() + 3 * 32, whole.tokens.end());
  const MaskedBatch a = MaskTokens(whole, MaskingOptions{});
  const MaskedBatch b = MaskTokens(last, MaskingOptions{});
  EXPECT_EQ(std::vector<int32_t>(a.inputs.begin() + 3 * 32, a.inputs.end()), b.inputs);
  MaskingOptions other;
  other.epoch = 1;
  EXPECT_NE(MaskTokens(whole, other).inputs, a.inputs);
}

}  // namespace
}  // namespace sbmt::trainer
