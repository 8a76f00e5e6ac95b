// Ranks as threads of one process: the communicator of world size 1 (training without a
// launcher needs no MPI), and the stand-in for a real world in unit tests, with failure
// injection. Collectives rendezvous by sequence number; the last rank to join computes the
// result (sums in rank order, so results are deterministic) and completes every rank's Work.
//
//   InProcessWorld world(2);
//   std::thread t([&] { auto c = world.Connect(1); ... });
//   auto c0 = world.Connect(0);
//   world.DropRank(1, /*from_sequence=*/3);  // rank 1 "dies": its ops from #3 on never join
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "trainer/dist/communicator.h"

namespace sbmt::dist {

class InProcessWorld {
 public:
  explicit InProcessWorld(int size);
  ~InProcessWorld();

  // The communicator of `rank`; the world must outlive it. Each rank connects once.
  std::unique_ptr<Communicator> Connect(int rank);

  // Failure injection. DropRank: the rank's ops with sequence >= from_sequence never join, as if
  // the process had died, so its peers time out; the timeout message names the missing rank.
  // FailOp: the rank's op `sequence` fails on that rank with `error`.
  void DropRank(int rank, uint64_t from_sequence);
  void FailOp(int rank, uint64_t sequence, const std::string& error);

  int size() const { return size_; }

  // A world of one that its communicator owns: training without a launcher.
  static std::unique_ptr<Communicator> Single();

 private:
  friend class InProcessCommunicator;
  struct Slot;
  struct Op;

  std::shared_ptr<Work> Join(int rank, Op op);
  std::string Missing(uint64_t sequence);

  const int size_;
  std::mutex mu_;
  std::map<uint64_t, std::unique_ptr<Slot>> slots_;
  std::map<int, uint64_t> dropped_;  // rank -> first dropped sequence
  std::map<std::pair<int, uint64_t>, std::string> failures_;
};

}  // namespace sbmt::dist
