// The MPI backend (OpenMPI; CPU buffers): the real one for CPU training and for the tests here.
//
// MPI is initialized with MPI_THREAD_SERIALIZED and every collective runs, in call order, on one
// communication thread, as blocking MPI calls: the caller's thread (autograd's, during backward)
// only queues work, so reduction overlaps computation without relying on MPI's asynchronous
// progress (which OpenMPI does not make without a progress thread).
//
// A watchdog thread aborts the whole job (MPI_Abort) when a collective has run longer than the
// deadline: a dead or stuck peer then ends the job with a message that names this rank, the op
// and its sequence number, instead of a hang.
//
//   auto comm = MpiCommunicator::Create(std::chrono::seconds(300));  // after mpirun
#pragma once

#include <chrono>
#include <memory>

#include "trainer/dist/communicator.h"

namespace sbmt::dist {

class MpiCommunicator {
 public:
  // Initializes MPI (once per process) and returns MPI_COMM_WORLD's communicator; finalizes MPI
  // when destroyed. `watchdog_deadline` of zero disables the watchdog.
  static std::unique_ptr<Communicator> Create(std::chrono::milliseconds watchdog_deadline);
};

}  // namespace sbmt::dist
