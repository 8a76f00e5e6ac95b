// A tiny CUDA kernel that proves the --config=cuda toolchain: y = a * x + y on the GPU.
// Declared in plain C++ so callers need no CUDA headers.
#pragma once

#include <string>
#include <vector>

namespace sbmt::cuda_smoke {

// Number of visible CUDA devices; 0 when there is no GPU or no driver.
int DeviceCount();

// Copies x and y to the device, runs the kernel, and returns the result. Throws
// std::runtime_error with the CUDA error string on failure.
std::vector<float> Saxpy(float a, const std::vector<float>& x, const std::vector<float>& y);

}  // namespace sbmt::cuda_smoke
