// One knob for a process's compute threads: LibTorch's intra-op pool (and OpenMP, which our
// attention kernels use) and the BLAS library's own pool. OpenBLAS sizes its pool to the
// machine's cores by default, so two ranks on one node would each run a BLAS thread per core
// and slow each other down; this caps it too.
#pragma once

namespace sbmt::runtime {

// Sets torch's, OpenMP's and (when the loaded BLAS is OpenBLAS) the BLAS thread counts.
void SetComputeThreads(int threads);

}  // namespace sbmt::runtime
