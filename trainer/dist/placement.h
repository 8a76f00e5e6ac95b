// Where this process sits in the job, from the launcher's environment (OpenMPI's mpirun sets
// OMPI_COMM_WORLD_RANK, _SIZE, _LOCAL_RANK and _LOCAL_SIZE). Without a launcher: rank 0 of 1.
//
//   Placement p = PlacementFromEnvironment();  // p.threads = cores / ranks on this node
#pragma once

#include <cstdlib>
#include <functional>
#include <string>

namespace sbmt::dist {

struct Placement {
  int rank = 0;
  int world = 1;
  int local_rank = 0;  // among the ranks on this node: picks the GPU
  int local_size = 1;
  bool launched = false;  // started by mpirun
  int threads = 1;        // intra-op threads: this node's cores shared among its ranks
  // This rank's CUDA device index: the local rank, or 0 when CUDA_VISIBLE_DEVICES shows the
  // process one GPU (the coordinator's --gpu-slots gives each rank its own).
  int gpu_index = 0;
  int gpu() const { return gpu_index; }
};

// `getenv` and `cores` are parameters for tests. Throws sbmt::Error (invalid argument) naming the
// variable when one is set but malformed or inconsistent (e.g. rank >= size).
Placement PlacementFromEnvironment(
    const std::function<const char*(const char*)>& getenv =
        [](const char* n) { return std::getenv(n); },
    unsigned cores = 0 /* 0: this machine's */);

}  // namespace sbmt::dist
