#include "trainer/train/compute_threads.h"

#include <ATen/Parallel.h>
#include <dlfcn.h>
#include <omp.h>
#include <unistd.h>

#include <cstdlib>

namespace sbmt::trainer {

void SetComputeThreads(int threads) {
  at::set_num_threads(threads);
  omp_set_num_threads(threads);
  // Looked up at run time: LibTorch reaches BLAS through libblas.so.3, which Debian's
  // alternatives may point at OpenBLAS (pthread build) or another implementation.
  using SetThreads = void (*)(int);
  if (auto set = reinterpret_cast<SetThreads>(dlsym(RTLD_DEFAULT, "openblas_set_num_threads"))) {
    set(threads);
  }
}

void ReexecWithPassiveOpenMpWait(char** argv) {
  if (std::getenv("OMP_WAIT_POLICY") != nullptr) return;
  setenv("OMP_WAIT_POLICY", "PASSIVE", 1);
  execv("/proc/self/exe", argv);
  // Only reached when exec failed: carry on with libgomp's default.
}

}  // namespace sbmt::trainer
