#include "tests/third_party/cuda/saxpy.h"

#include <cuda_runtime.h>

#include <stdexcept>

namespace sbmt::cuda_smoke {
namespace {

__global__ void SaxpyKernel(int n, float a, const float* x, float* y) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) y[i] = a * x[i] + y[i];
}

void Check(cudaError_t status, const char* what) {
  if (status != cudaSuccess) {
    throw std::runtime_error(std::string(what) + ": " + cudaGetErrorString(status));
  }
}

}  // namespace

int DeviceCount() {
  int count = 0;
  if (cudaGetDeviceCount(&count) != cudaSuccess) return 0;
  return count;
}

std::vector<float> Saxpy(float a, const std::vector<float>& x, const std::vector<float>& y) {
  if (x.size() != y.size()) throw std::invalid_argument("Saxpy: x and y differ in size");
  const int n = static_cast<int>(x.size());
  const size_t bytes = x.size() * sizeof(float);
  float* dx = nullptr;
  float* dy = nullptr;
  Check(cudaMalloc(&dx, bytes), "cudaMalloc x");
  Check(cudaMalloc(&dy, bytes), "cudaMalloc y");
  Check(cudaMemcpy(dx, x.data(), bytes, cudaMemcpyHostToDevice), "copy x");
  Check(cudaMemcpy(dy, y.data(), bytes, cudaMemcpyHostToDevice), "copy y");
  SaxpyKernel<<<(n + 255) / 256, 256>>>(n, a, dx, dy);
  Check(cudaGetLastError(), "launch");
  std::vector<float> out(x.size());
  Check(cudaMemcpy(out.data(), dy, bytes, cudaMemcpyDeviceToHost), "copy result");
  cudaFree(dx);
  cudaFree(dy);
  return out;
}

}  // namespace sbmt::cuda_smoke
