// Prints the settings an sbmt program runs its libraries with, after ReexecWithTunedLibraries:
// the OpenBLAS kernels, OPENBLAS_CORETYPE and OMP_WAIT_POLICY. For checking a machine:
//
//   bazel run //runtime:runtime_report
//   openblas_core=Cooperlake
//   OPENBLAS_CORETYPE=Cooperlake
//   OMP_WAIT_POLICY=PASSIVE
#include <cstdio>
#include <cstdlib>

#include "runtime/library_tuning.h"

// One BLAS call, so that the program loads the system BLAS as LibTorch does (libblas.so.3).
extern "C" float sdot_(const int* n, const float* x, const int* incx, const float* y,
                       const int* incy);

int main(int argc, char** argv) {
  sbmt::runtime::ReexecWithTunedLibraries(argv);
  const int n = 2, one = 1;
  const float x[2] = {1, 2}, y[2] = {3, 4};
  if (sdot_(&n, x, &one, y, &one) != 11.0f) {
    std::fprintf(stderr, "runtime_report: the system BLAS computed a wrong dot product\n");
    return 1;
  }
  auto env = [](const char* name) {
    const char* value = std::getenv(name);
    return value != nullptr ? value : "(unset)";
  };
  const char* core = sbmt::runtime::LoadedOpenBlasCore();
  std::printf("openblas_core=%s\n", core != nullptr ? core : "(not OpenBLAS)");
  std::printf("OPENBLAS_CORETYPE=%s\n", env("OPENBLAS_CORETYPE"));
  std::printf("OMP_WAIT_POLICY=%s\n", env("OMP_WAIT_POLICY"));
  return 0;
}
