// Internal: sbm_attention_cpu.cc is compiled once per instruction set, each copy in its own
// namespace, and sbm_attention_cpu_dispatch.cc picks one at run time. The kernels are bound by
// gathers of k- and d-wide rows; AVX2 + FMA makes those row updates ~1.3x faster, and AVX-512
// (64-byte rows in the membership pass) takes another ~10 % off it at k = 128. Every x86 server
// GPU node has AVX2, many have AVX-512, but the build must still run on a plain x86-64 machine.
#pragma once

#include "attention/sbm_attention_kernels.h"

SBMT_DECLARE_KERNELS(cpu_generic)
SBMT_DECLARE_KERNELS(cpu_avx2)
SBMT_DECLARE_KERNELS(cpu_avx512)

namespace sbmt::attention {

enum class CpuKernelIsa { kGeneric, kAvx2, kAvx512 };

// The build the cpu:: kernels run: the widest this CPU supports, or the one named by the
// environment variable SBMT_CPU_KERNELS (generic, avx2 or avx512; capped at what the CPU
// supports), read once.
CpuKernelIsa sbm_cpu_kernel_isa();
// Whether this CPU can run a build.
bool sbm_cpu_supports(CpuKernelIsa isa);
// "generic", "avx2+fma", "avx512".
const char* sbm_cpu_kernel_isa_name(CpuKernelIsa isa);

}  // namespace sbmt::attention
