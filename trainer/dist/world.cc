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
    if (!placement.launched) {
      throw Error(ErrorCode::kInvalidArgument,
                  "dist.backend: nccl needs a launcher; start with mpirun");
    }
    return ConnectNccl(placement, timeout);
  }
  throw Error(ErrorCode::kInvalidArgument,
              "dist.backend: expected auto, mpi or nccl, got '" + backend + "'");
}

}  // namespace sbmt::dist
