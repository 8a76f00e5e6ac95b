// One knob for a process's compute threads: LibTorch's intra-op pool (and OpenMP, which our
// attention kernels use) and the BLAS library's own pool. OpenBLAS sizes its pool to the
// machine's cores by default, so two ranks on one node would each run a BLAS thread per core
// and slow each other down; this caps it too.
#pragma once

namespace sbmt::trainer {

// Sets torch's, OpenMP's and (when the loaded BLAS is OpenBLAS) the BLAS thread counts.
void SetComputeThreads(int threads);

// libgomp reads OMP_WAIT_POLICY once, as it loads, before main. Idle OpenMP threads that spin
// take the cores from OpenBLAS's threads between the two libraries' parallel regions: waiting
// passively trains the tiny config 1.4x to 1.6x faster on 2 cores (2626/2677 -> 4184/3627
// tok/s). Called first in main: when the variable is unset, sets PASSIVE and re-executes the
// program (same process id and arguments, so launchers such as mpirun are unaffected); a value
// the user set is kept.
void ReexecWithPassiveOpenMpWait(char** argv);

}  // namespace sbmt::trainer
