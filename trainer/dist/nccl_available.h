// The NCCL backend's entry point. Bazel picks its definition (STYLE.md rule 6): the real
// communicator (nccl_communicator.cc) in --config=cuda builds, else nccl_unavailable.cc, which
// says how to get it.
#pragma once

#include <chrono>
#include <memory>

#include "trainer/dist/communicator.h"
#include "trainer/dist/placement.h"

namespace sbmt::dist {

// NCCL over all ranks of the launcher's world, on GPU placement.gpu(); the ncclUniqueId goes
// from rank 0 to the others over `bootstrap` (the job's host communicator), or over an MPI world
// of its own when that is null. Throws sbmt::Error (invalid argument) in builds without CUDA.
std::unique_ptr<Communicator> ConnectNccl(const Placement& placement,
                                          std::chrono::milliseconds timeout,
                                          Communicator* bootstrap = nullptr);

}  // namespace sbmt::dist
