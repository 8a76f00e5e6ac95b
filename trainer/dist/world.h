// This process's communicator, chosen from the launcher's placement and dist.backend:
//   auto: the in-process world of one without a launcher (or with one rank), MPI otherwise;
//   mpi:  MPI (CPU tensors);
//   nccl: NCCL for the model's tensors (only in --config=cuda builds; ConnectTensorWorld), with
//         MPI (or the in-process world of one) for host-side collectives: metrics sums,
//         settings checks, barriers.
//
//   std::unique_ptr<Communicator> comm = ConnectWorld(placement, "auto",
//   std::chrono::seconds(300));
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "trainer/dist/communicator.h"
#include "trainer/dist/placement.h"

namespace sbmt::dist {

// Throws sbmt::Error (invalid argument) for an unknown or unavailable backend, saying what to do.
std::unique_ptr<Communicator> ConnectWorld(const Placement& placement, const std::string& backend,
                                           std::chrono::milliseconds timeout);

// The communicator of the model's tensors (gradient buckets, parameter broadcasts) when they
// cannot go through `host` (ConnectWorld's): NCCL, bootstrapped over `host`, for GPU tensors
// of a world of several ranks (backend auto or nccl); null otherwise (host carries them, or a
// world of one has nothing to reduce). Throws for mpi with GPU tensors.
std::unique_ptr<Communicator> ConnectTensorWorld(const Placement& placement,
                                                 const std::string& backend, bool gpu_tensors,
                                                 Communicator& host,
                                                 std::chrono::milliseconds timeout);

}  // namespace sbmt::dist
