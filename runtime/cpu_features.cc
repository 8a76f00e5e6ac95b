#include "runtime/cpu_features.h"

namespace sbmt::runtime {
namespace {

CpuFeatures Probe() {
  CpuFeatures cpu;
#if defined(__x86_64__)
  __builtin_cpu_init();
  cpu.x86_64 = true;
  cpu.avx2_fma = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  cpu.avx512 = cpu.avx2_fma && __builtin_cpu_supports("avx512f") &&
               __builtin_cpu_supports("avx512cd") && __builtin_cpu_supports("avx512bw") &&
               __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl");
  cpu.avx512_bf16 = cpu.avx512 && __builtin_cpu_supports("avx512bf16");
#endif
  return cpu;
}

}  // namespace

const CpuFeatures& ThisCpu() {
  static const CpuFeatures cpu = Probe();
  return cpu;
}

}  // namespace sbmt::runtime
