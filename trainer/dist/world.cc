#include "trainer/dist/world.h"

#include <stdexcept>

#include "runtime/error.h"
#include "trainer/dist/in_process_communicator.h"
#include "trainer/dist/mpi_communicator.h"
#include "trainer/dist/nccl_available.h"

namespace sbmt::dist {

std::unique_ptr<Communicator> ConnectWorld(const Placement& placement, const std::string& backend,
                                           std::chrono::milliseconds timeout) {
  if (backend == "auto") {
    if (placement.world == 1) return InProcessWorld::Single();
    return MpiCommunicator::Create(timeout);
  }
  if (backend == "mpi") {
    if (!placement.launched) {
      throw Error(ErrorCode::kInvalidArgument,
                  "dist.backend: mpi needs a launcher; start with mpirun");
    }
    return MpiCommunicator::Create(timeout);
  }
  if (backend == "nccl") {
    // The host side of an NCCL job: NCCL itself carries the tensors (ConnectTensorWorld).
    if (placement.world == 1) return InProcessWorld::Single();
    if (!placement.launched) {
      throw Error(ErrorCode::kInvalidArgument,
                  "dist.backend: nccl needs a launcher; start with mpirun");
    }
    return MpiCommunicator::Create(timeout);
  }
  throw Error(ErrorCode::kInvalidArgument,
              "dist.backend: expected auto, mpi or nccl, got '" + backend + "'");
}

std::unique_ptr<Communicator> ConnectTensorWorld(const Placement& placement,
                                                 const std::string& backend, bool gpu_tensors,
                                                 Communicator& host,
                                                 std::chrono::milliseconds timeout) {
  // Host tensors go through `host`; a world of one has nothing to reduce. (dist.backend: nccl
  // without GPU tensors is refused with the config, train_config.cc.)
  if (!gpu_tensors || host.size() == 1) return nullptr;
  if (backend == "mpi") {
    throw Error(ErrorCode::kInvalidArgument,
                "dist.backend: mpi reduces host memory; with run.device: cuda use nccl (or auto)");
  }
  return ConnectNccl(placement, timeout, &host);
}

}  // namespace sbmt::dist
