#include <stdexcept>

#include "runtime/error.h"
#include "trainer/dist/nccl_available.h"

namespace sbmt::dist {

std::unique_ptr<Communicator> ConnectNccl(const Placement&, std::chrono::milliseconds,
                                          Communicator*) {
  throw Error(
      ErrorCode::kInvalidArgument,
      "dist.backend: nccl is not in this build; build with `bazel build --config=cuda` on a "
      "machine with CUDA and NCCL, or use dist.backend=mpi");
}

}  // namespace sbmt::dist
