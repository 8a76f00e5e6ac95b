#include "runtime/library_tuning.h"

#include <dlfcn.h>
#include <strings.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <string>

namespace sbmt::runtime {

// SkylakeX needs AVX-512 F, CD, BW, DQ and VL (CpuFeatures::avx512); Cooperlake adds BF16.
const char* OpenBlasCoreFor(const CpuFeatures& cpu) {
  if (cpu.avx512_bf16) return "Cooperlake";
  if (cpu.avx512) return "SkylakeX";
  if (cpu.avx2_fma) return "Haswell";
  return nullptr;
}

const char* LoadedOpenBlasCore() {
  // Looked up at run time: LibTorch reaches BLAS through libblas.so.3, which Debian's
  // alternatives may point at OpenBLAS or another implementation.
  using CoreName = char* (*)();
  auto core_name = reinterpret_cast<CoreName>(dlsym(RTLD_DEFAULT, "openblas_get_corename"));
  return core_name != nullptr ? core_name() : nullptr;
}

void ReexecWithTunedLibraries(char** argv) {
  bool changed = false;
  if (std::getenv("OMP_WAIT_POLICY") == nullptr) {
    setenv("OMP_WAIT_POLICY", "PASSIVE", 1);
    changed = true;
  }
  if (std::getenv("OPENBLAS_CORETYPE") == nullptr) {
    const char* loaded = LoadedOpenBlasCore();
    const char* better = OpenBlasCoreFor(ThisCpu());
    if (loaded != nullptr && strcasecmp(loaded, "Prescott") == 0 && better != nullptr) {
      setenv("OPENBLAS_CORETYPE", better, 1);
      changed = true;
    }
  }
  // Only when the user tuned neither, in either spelling: the two settings work together.
  const char* tunables = std::getenv("GLIBC_TUNABLES");
  if (std::getenv("MALLOC_MMAP_THRESHOLD_") == nullptr &&
      std::getenv("MALLOC_TRIM_THRESHOLD_") == nullptr &&
      (tunables == nullptr || std::strstr(tunables, "glibc.malloc.") == nullptr)) {
    const std::string limit = std::to_string(kMallocReuseLimitBytes);
    setenv("MALLOC_MMAP_THRESHOLD_", limit.c_str(), 1);
    // Never give the top of the heap back: the next step needs it again.
    setenv("MALLOC_TRIM_THRESHOLD_", std::to_string(kMallocReuseLimitBytes * 64).c_str(), 1);
    changed = true;
  }
  if (!changed) return;
  execv("/proc/self/exe", argv);
  // Only reached when exec failed: carry on with the libraries' defaults.
}

}  // namespace sbmt::runtime
