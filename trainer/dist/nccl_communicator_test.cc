// The conformance suite on NCCL, world size 1, on the first GPU; skips without one. (--config=cuda)
#include <cuda_runtime.h>
#include <gtest/gtest.h>

#include "trainer/dist/conformance_suite.h"
#include "trainer/dist/nccl_available.h"

namespace sbmt::dist {
namespace {

class DeviceMemory : public testing::TestMemory {
 public:
  void* Allocate(size_t bytes) override {
    void* p = nullptr;
    EXPECT_EQ(cudaMalloc(&p, bytes == 0 ? 1 : bytes), cudaSuccess);
    return p;
  }
  void Free(void* data) override { cudaFree(data); }
  void CopyIn(void* dst, const void* host, size_t bytes) override {
    EXPECT_EQ(cudaMemcpy(dst, host, bytes, cudaMemcpyHostToDevice), cudaSuccess);
  }
  void CopyOut(void* host, const void* src, size_t bytes) override {
    EXPECT_EQ(cudaMemcpy(host, src, bytes, cudaMemcpyDeviceToHost), cudaSuccess);
  }
};

bool HaveGpu() {
  int devices = 0;
  return cudaGetDeviceCount(&devices) == cudaSuccess && devices > 0;
}

TEST(NcclCommunicator, PassesTheConformanceSuiteOnOneGpu) {
  if (!HaveGpu()) GTEST_SKIP() << "no CUDA device visible";
  std::unique_ptr<Communicator> comm = ConnectNccl(Placement{}, std::chrono::seconds(60));
  EXPECT_EQ(comm->backend(), "nccl");
  DeviceMemory memory;
  testing::RunConformanceSuite(*comm, memory);
}

TEST(NcclCommunicator, AllReduceAveragesOnTheDevice) {
  if (!HaveGpu()) GTEST_SKIP() << "no CUDA device visible";
  std::unique_ptr<Communicator> comm = ConnectNccl(Placement{}, std::chrono::seconds(60));
  DeviceMemory memory;
  const std::vector<float> host = {1.5f, -2.0f, 4.0f};
  void* device = memory.Allocate(sizeof(float) * host.size());
  memory.CopyIn(device, host.data(), sizeof(float) * host.size());
  comm->AllReduce({device, 3, DType::kFloat32}, ReduceOp::kAvg)->Wait(std::chrono::seconds(30));
  std::vector<float> out(3);
  memory.CopyOut(out.data(), device, sizeof(float) * out.size());
  EXPECT_EQ(out, host);  // the mean over one rank is the input
  memory.Free(device);
}

}  // namespace
}  // namespace sbmt::dist
