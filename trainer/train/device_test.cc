// run.device and run.precision on a build whose LibTorch may have no CUDA: cpu is the CPU, cuda
// is refused with the way to a CUDA build when no GPU is visible, bf16 autocast is on inside a
// PrecisionScope only, and the config refuses combinations that cannot work.
#include "trainer/train/device.h"

#include <ATen/autocast_mode.h>
#include <gtest/gtest.h>
#include <torch/cuda.h>

#include <string>

#include "runtime/error.h"
#include "trainer/config/train_config.h"
#include "trainer/train/task.h"

namespace sbmt::trainer {
namespace {

TEST(TrainingDevice, CpuIsTheCpuAndCudaWithoutAGpuSaysHowToGetOne) {
  TrainConfig c;
  EXPECT_TRUE(TrainingDevice(c).is_cpu());
  c.run.device = "cuda";
  if (torch::cuda::device_count() > 0) {
    EXPECT_TRUE(TrainingDevice(c).is_cuda());
    return;
  }
  try {
    TrainingDevice(c);
    ADD_FAILURE() << "run.device: cuda accepted without a GPU";
  } catch (const Error& e) {
    const std::string what = e.what();
    EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
    EXPECT_NE(what.find("run.device: cuda"), std::string::npos) << what;
    EXPECT_NE(what.find("SBMT_LIBTORCH"), std::string::npos) << what;
  }
}

TEST(PrecisionScope, Bf16TurnsOnCudaAutocastInsideTheScopeOnly) {
  TrainConfig c;
  {
    const PrecisionScope fp32(c);
    EXPECT_FALSE(at::autocast::is_enabled());
  }
  c.run.precision = "bf16";
  {
    const PrecisionScope bf16(c);
    EXPECT_TRUE(at::autocast::is_enabled());
    EXPECT_EQ(at::autocast::get_autocast_gpu_dtype(), at::kBFloat16);
  }
  EXPECT_FALSE(at::autocast::is_enabled());
  EXPECT_EQ(at::autocast::get_autocast_gpu_dtype(), at::kHalf);  // LibTorch's default, restored
}

TEST(TrainConfig, RefusesBf16AndNcclWithoutCuda) {
  for (const auto& [setting, message] :
       {std::pair<std::string, std::string>{"run.precision=bf16",
                                            "run.precision: bf16 needs run.device: cuda"},
        {"dist.backend=nccl", "dist.backend: nccl reduces GPU tensors"},
        {"run.device=tpu", "expected one of cpu, cuda, got 'tpu'"}}) {
    try {
      LoadTrainConfig("configs/tiny.yaml", {setting});
      ADD_FAILURE() << setting << " accepted";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(message), std::string::npos) << e.what();
    }
  }
}

TEST(MoveTensors, MovesDefinedTensorsAndSkipsUndefinedOnes) {
  torch::Tensor a = torch::ones({2}, torch::kFloat64), b;
  MoveTensors(torch::Device(torch::kCPU), {&a, &b});
  EXPECT_TRUE(a.is_cpu());
  EXPECT_FALSE(b.defined());
  torch::nn::Linear model(3, 2);
  EXPECT_TRUE(DeviceOf(*model).is_cpu());
}

}  // namespace
}  // namespace sbmt::trainer
