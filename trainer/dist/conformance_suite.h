// One conformance suite for every Communicator (STYLE.md rule 5): each rank calls
// RunConformanceSuite with its communicator, with the ranks running concurrently (threads for the
// in-process backend, processes under mpirun for MPI, one GPU for NCCL). Failures are reported
// through GoogleTest, prefixed by the rank.
//
// Buffers live where the backend wants them: `memory` allocates and copies (host memory by
// default; device memory for NCCL).
#pragma once

#include <cstddef>
#include <memory>

#include "trainer/dist/communicator.h"

namespace sbmt::dist::testing {

class TestMemory {
 public:
  virtual ~TestMemory() = default;
  virtual void* Allocate(size_t bytes) = 0;
  virtual void Free(void* data) = 0;
  virtual void CopyIn(void* dst, const void* host, size_t bytes) = 0;
  virtual void CopyOut(void* host, const void* src, size_t bytes) = 0;
};

std::unique_ptr<TestMemory> HostMemory();

void RunConformanceSuite(Communicator& comm, TestMemory& memory);

}  // namespace sbmt::dist::testing
