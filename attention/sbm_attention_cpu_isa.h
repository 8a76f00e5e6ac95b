// Internal: sbm_attention_cpu.cc is compiled once per instruction set, each copy in its own
// namespace, and sbm_attention_cpu_dispatch.cc picks one at run time. The kernels are bound by
// gathers of k- and d-wide rows; AVX2 + FMA makes those row updates ~1.3x faster, and every x86
// server GPU node has them, but the build must still run on a plain x86-64 machine.
#pragma once

#include "attention/sbm_attention_kernels.h"

SBMT_DECLARE_KERNELS(cpu_generic)
SBMT_DECLARE_KERNELS(cpu_avx2)

namespace sbmt::attention {
// True when the CPU kernels run the AVX2 + FMA build.
bool sbm_cpu_kernels_use_avx2();
}  // namespace sbmt::attention
