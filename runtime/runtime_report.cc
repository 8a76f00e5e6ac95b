// Prints the settings an sbmt program runs its libraries with, after ReexecWithTunedLibraries:
// the OpenBLAS kernels, OPENBLAS_CORETYPE, OMP_WAIT_POLICY, the malloc thresholds, and whether
// malloc really hands a freed 64 MiB block back without new page faults. For checking a machine:
//
//   bazel run //runtime:runtime_report
//   openblas_core=Cooperlake
//   OPENBLAS_CORETYPE=Cooperlake
//   OMP_WAIT_POLICY=PASSIVE
//   MALLOC_MMAP_THRESHOLD_=1073741824
//   MALLOC_TRIM_THRESHOLD_=68719476736
//   malloc_reuses_large_blocks=yes (0 page faults refilling 64 MiB, 16383 the first time)
#include <sys/resource.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "runtime/library_tuning.h"

// One BLAS call, so that the program loads the system BLAS as LibTorch does (libblas.so.3).
extern "C" float sdot_(const int* n, const float* x, const int* incx, const float* y,
                       const int* incy);

namespace {

long MinorFaults() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_minflt;
}

// Page faults while filling a fresh malloc block of `bytes`; the block is freed afterwards.
long FaultsFillingBlock(size_t bytes) {
  char* block = static_cast<char*>(std::malloc(bytes));
  if (block == nullptr) return -1;
  const long before = MinorFaults();
  std::memset(block, 1, bytes);
  const long faults = MinorFaults() - before;
  // Read back through a volatile so that the compiler keeps the fill.
  if (*static_cast<volatile char*>(block + bytes / 2) != 1) std::abort();
  std::free(block);
  return faults;
}

}  // namespace

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
  std::printf("MALLOC_MMAP_THRESHOLD_=%s\n", env("MALLOC_MMAP_THRESHOLD_"));
  std::printf("MALLOC_TRIM_THRESHOLD_=%s\n", env("MALLOC_TRIM_THRESHOLD_"));

  // Above glibc's largest default mmap threshold (32 MiB), so by default mapped afresh.
  constexpr size_t kBlock = size_t{64} << 20;
  const long first = FaultsFillingBlock(kBlock);
  const long again = FaultsFillingBlock(kBlock);
  // Reused memory faults in (almost) nothing; fresh memory a page at a time.
  const bool reused = first > 0 && again < first / 8;
  std::printf(
      "malloc_reuses_large_blocks=%s (%ld page faults refilling %zu MiB, %ld the first "
      "time)\n",
      reused ? "yes" : "no", again, kBlock >> 20, first);
  return 0;
}
