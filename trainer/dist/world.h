// This process's communicator, chosen from the launcher's placement and dist.backend:
//   auto: the in-process world of one without a launcher (or with one rank), MPI otherwise;
//   mpi:  MPI (CPU tensors);
//   nccl: NCCL, only in --config=cuda builds (GPU tensors).
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

}  // namespace sbmt::dist
