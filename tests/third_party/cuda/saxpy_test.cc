// Checks the CUDA toolchain end to end on a GPU; on a machine without one, skips (exit 0).
#include "tests/third_party/cuda/saxpy.h"

#include <gtest/gtest.h>

TEST(CudaToolchain, SaxpyMatchesHostComputation) {
  if (sbmt::cuda_smoke::DeviceCount() == 0) {
    GTEST_SKIP() << "no CUDA device visible; the kernel compiled but cannot run here";
  }
  const int n = 1000;
  std::vector<float> x(n);
  std::vector<float> y(n);
  for (int i = 0; i < n; ++i) {
    x[i] = 0.5f * i;
    y[i] = 3.0f - i;
  }
  std::vector<float> out = sbmt::cuda_smoke::Saxpy(2.0f, x, y);
  ASSERT_EQ(out.size(), x.size());
  for (int i = 0; i < n; ++i) EXPECT_FLOAT_EQ(out[i], 2.0f * x[i] + y[i]) << "at " << i;
}
