// Chooses the instruction-set build of the CPU kernels (see sbm_attention_cpu_isa.h).
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "attention/sbm_attention_cpu_isa.h"
#include "runtime/cpu_features.h"

namespace sbmt::attention {

bool sbm_cpu_supports(CpuKernelIsa isa) {
  switch (isa) {
    case CpuKernelIsa::kGeneric:
      return true;
    case CpuKernelIsa::kAvx2:
      return runtime::ThisCpu().avx2_fma;
    case CpuKernelIsa::kAvx512:
      return runtime::ThisCpu().avx512;
  }
  return false;
}

const char* sbm_cpu_kernel_isa_name(CpuKernelIsa isa) {
  switch (isa) {
    case CpuKernelIsa::kGeneric:
      return "generic";
    case CpuKernelIsa::kAvx2:
      return "avx2+fma";
    case CpuKernelIsa::kAvx512:
      return "avx512";
  }
  return "?";
}

namespace {

CpuKernelIsa ChooseIsa() {
  CpuKernelIsa best = sbm_cpu_supports(CpuKernelIsa::kAvx512) ? CpuKernelIsa::kAvx512
                      : sbm_cpu_supports(CpuKernelIsa::kAvx2) ? CpuKernelIsa::kAvx2
                                                              : CpuKernelIsa::kGeneric;
  const char* wanted = std::getenv("SBMT_CPU_KERNELS");
  if (wanted == nullptr || *wanted == '\0') return best;
  CpuKernelIsa isa;
  if (std::strcmp(wanted, "generic") == 0) {
    isa = CpuKernelIsa::kGeneric;
  } else if (std::strcmp(wanted, "avx2") == 0) {
    isa = CpuKernelIsa::kAvx2;
  } else if (std::strcmp(wanted, "avx512") == 0) {
    isa = CpuKernelIsa::kAvx512;
  } else {
    std::fprintf(stderr, "SBMT_CPU_KERNELS=%s: expected generic, avx2 or avx512; using %s\n",
                 wanted, sbm_cpu_kernel_isa_name(best));
    return best;
  }
  if (!sbm_cpu_supports(isa)) {
    std::fprintf(stderr, "SBMT_CPU_KERNELS=%s: this CPU lacks it; using %s\n", wanted,
                 sbm_cpu_kernel_isa_name(best));
    return best;
  }
  return isa;
}

}  // namespace

CpuKernelIsa sbm_cpu_kernel_isa() {
  static const CpuKernelIsa isa = ChooseIsa();
  return isa;
}

namespace cpu {

#define SBMT_DISPATCH(kernel, p)     \
  switch (sbm_cpu_kernel_isa()) {    \
    case CpuKernelIsa::kAvx512:      \
      return cpu_avx512::kernel(p);  \
    case CpuKernelIsa::kAvx2:        \
      return cpu_avx2::kernel(p);    \
    case CpuKernelIsa::kGeneric:     \
      return cpu_generic::kernel(p); \
  }

template <typename T>
void sbm_attention_forward(const SbmForwardParams<T>& p) {
  SBMT_DISPATCH(sbm_attention_forward, p);
}

template <typename T>
void sbm_attention_backward(const SbmBackwardParams<T>& p) {
  SBMT_DISPATCH(sbm_attention_backward, p);
}

template <typename T>
void sbm_membership_backward(const SbmMembershipBackwardParams<T>& p) {
  SBMT_DISPATCH(sbm_membership_backward, p);
}

#undef SBMT_DISPATCH

SBMT_INSTANTIATE_KERNELS

}  // namespace cpu
}  // namespace sbmt::attention
