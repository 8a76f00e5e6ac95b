// Chooses the AVX2 + FMA build of the CPU kernels when the processor has both.
#include "attention/sbm_attention_cpu_isa.h"

namespace sbmt::attention {

bool sbm_cpu_kernels_use_avx2() {
  static const bool avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  return avx2;
}

namespace cpu {

template <typename T>
void sbm_attention_forward(const SbmForwardParams<T>& p) {
  sbm_cpu_kernels_use_avx2() ? cpu_avx2::sbm_attention_forward(p)
                             : cpu_generic::sbm_attention_forward(p);
}

template <typename T>
void sbm_attention_backward(const SbmBackwardParams<T>& p) {
  sbm_cpu_kernels_use_avx2() ? cpu_avx2::sbm_attention_backward(p)
                             : cpu_generic::sbm_attention_backward(p);
}

template <typename T>
void sbm_membership_backward(const SbmMembershipBackwardParams<T>& p) {
  sbm_cpu_kernels_use_avx2() ? cpu_avx2::sbm_membership_backward(p)
                             : cpu_generic::sbm_membership_backward(p);
}

SBMT_INSTANTIATE_KERNELS

}  // namespace cpu
}  // namespace sbmt::attention
