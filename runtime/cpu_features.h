// What the host CPU supports, probed once. The attention kernels pick their instruction-set
// build from it, and the runtime picks OpenBLAS's kernels from it. On CPUs other than x86-64
// (aarch64 GPU hosts, for example) every x86 feature reads false.
//
//   if (ThisCpu().avx2_fma) { ... }
#pragma once

namespace sbmt::runtime {

struct CpuFeatures {
  bool x86_64 = false;
  bool avx2_fma = false;
  bool avx512 = false;       // F, CD, BW, DQ and VL: Skylake-X and later
  bool avx512_bf16 = false;  // Cooper Lake, Sapphire Rapids, Zen 4
};

const CpuFeatures& ThisCpu();

}  // namespace sbmt::runtime
