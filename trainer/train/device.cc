#include "trainer/train/device.h"

#include <ATen/autocast_mode.h>
#include <torch/cuda.h>
#include <torch/version.h>

#include <string>

#include "runtime/error.h"
#include "trainer/dist/placement.h"

namespace sbmt::trainer {

// LibTorch 2.4 made autocast per device type; earlier versions have one CUDA switch.
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
#define SBMT_AUTOCAST_PER_DEVICE 1
#endif

torch::Device TrainingDevice(const TrainConfig& config) {
  if (config.run.device == "cpu") return torch::Device(torch::kCPU);
  const int64_t gpus = static_cast<int64_t>(torch::cuda::device_count());
  if (gpus == 0) {
    throw ConfigError(
        "run.device: cuda, but this build's LibTorch sees no GPU (a CPU-only LibTorch, or no "
        "device visible): build with --config=cuda and SBMT_LIBTORCH=<a CUDA LibTorch> (README, "
        "'Training on GPUs')");
  }
  const dist::Placement placement = dist::PlacementFromEnvironment();
  if (placement.gpu() >= gpus) {
    throw ConfigError("run.device: cuda: local rank " + std::to_string(placement.local_rank) +
                      " of this node needs GPU " + std::to_string(placement.gpu()) + ", but " +
                      std::to_string(gpus) +
                      " are visible (start at most one rank per GPU on each node)");
  }
  return torch::Device(torch::kCUDA, static_cast<c10::DeviceIndex>(placement.gpu()));
}

PrecisionScope::PrecisionScope(const TrainConfig& config) {
  if (config.run.precision != "bf16") return;
  active_ = true;
#if defined(SBMT_AUTOCAST_PER_DEVICE)
  was_enabled_ = at::autocast::is_autocast_enabled(at::kCUDA);
  was_dtype_ = at::autocast::get_autocast_dtype(at::kCUDA);
  at::autocast::set_autocast_enabled(at::kCUDA, true);
  at::autocast::set_autocast_dtype(at::kCUDA, at::kBFloat16);
#else
  was_enabled_ = at::autocast::is_enabled();
  was_dtype_ = at::autocast::get_autocast_gpu_dtype();
  at::autocast::set_enabled(true);
  at::autocast::set_autocast_gpu_dtype(at::kBFloat16);
#endif
  at::autocast::increment_nesting();
}

PrecisionScope::~PrecisionScope() {
  if (!active_) return;
  // Leaving the outermost scope drops the cached bfloat16 copies of the weights.
  if (at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
#if defined(SBMT_AUTOCAST_PER_DEVICE)
  at::autocast::set_autocast_enabled(at::kCUDA, was_enabled_);
  at::autocast::set_autocast_dtype(at::kCUDA, was_dtype_);
#else
  at::autocast::set_enabled(was_enabled_);
  at::autocast::set_autocast_gpu_dtype(was_dtype_);
#endif
}

}  // namespace sbmt::trainer
