// Settings that the libraries under our binaries read from the environment once, as they load
// (before main): every sbmt program calls ReexecWithTunedLibraries first thing in main.
//
//   int main(int argc, char** argv) {
//     sbmt::runtime::ReexecWithTunedLibraries(argv);
//     ...
#pragma once

#include "runtime/cpu_features.h"

namespace sbmt::runtime {

// Sets, where the user has not, and then re-executes the program once (same process id and
// arguments, so launchers such as mpirun are unaffected):
//   - OMP_WAIT_POLICY=PASSIVE. libgomp's idle threads otherwise spin and take the cores from
//     OpenBLAS's threads between the two libraries' parallel regions: passive waiting trains the
//     tiny config 1.4x to 1.6x faster on 2 cores.
//   - OPENBLAS_CORETYPE, when the loaded OpenBLAS fell back to its oldest x86-64 kernels
//     ("Prescott", SSE3) on a CPU that runs better ones: OpenBLAS picks kernels by CPU model,
//     and Debian's 0.3.21 does not know recent Xeons (family 6, model 207). There, BERT-small
//     training ran 3.2x faster with the right kernels (415 -> 1333 tokens/s).
//   - MALLOC_MMAP_THRESHOLD_ and MALLOC_TRIM_THRESHOLD_ (glibc malloc), so that freed blocks of
//     up to kMallocReuseLimitBytes stay in the heap for the next step instead of going back to
//     the kernel. By default glibc maps every block above 32 MiB afresh and unmaps it on free,
//     and each new 4 KiB page then costs a fault (about 2 us on our VMs): dense attention at
//     n = 4096 spent half its time faulting in its score matrices. BERT-small training at
//     length 512 faults 11x less, and with full attention runs 10-26 % faster. The price is
//     that the process keeps its peak heap (as caching allocators on GPUs do).
// Does nothing when there is nothing to set; returns only when it did not re-execute.
void ReexecWithTunedLibraries(char** argv);

// Blocks up to this size are reused by malloc after ReexecWithTunedLibraries; larger ones are
// still mapped and unmapped each time.
inline constexpr long long kMallocReuseLimitBytes = 1LL << 30;

// The OPENBLAS_CORETYPE for a CPU with these features, or nullptr for none better than the
// generic kernels.
const char* OpenBlasCoreFor(const CpuFeatures& cpu);

// The kernels the loaded OpenBLAS uses ("Cooperlake", "Haswell", ...), or nullptr when the
// process has no OpenBLAS.
const char* LoadedOpenBlasCore();

}  // namespace sbmt::runtime
