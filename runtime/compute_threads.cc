#include "runtime/compute_threads.h"

#include <ATen/Parallel.h>
#include <dlfcn.h>
#include <omp.h>

namespace sbmt::runtime {

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

}  // namespace sbmt::runtime
