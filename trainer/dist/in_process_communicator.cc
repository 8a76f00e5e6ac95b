#include "trainer/dist/in_process_communicator.h"

#include <cstdlib>
#include <cstring>
#include <iostream>

#include "runtime/error.h"
#include "trainer/dist/completion_work.h"

namespace sbmt::dist {

struct InProcessWorld::Op {
  OpType type = OpType::kBarrier;
  uint64_t sequence = 0;
  Buffer input, out;  // in-place ops use `out` as input too
  ReduceOp reduce = ReduceOp::kSum;
  int root = 0;
};

struct InProcessWorld::Slot {
  Op first;  // the first joiner's op, which the others must match
  int first_rank = -1;
  std::vector<std::vector<char>> inputs;  // copies, by rank
  std::vector<Buffer> outs;
  std::vector<std::shared_ptr<CompletionWork>> works;
  int joined = 0;
  std::string mismatch;
};

class InProcessCommunicator : public Communicator {
 public:
  InProcessCommunicator(InProcessWorld* world, int rank) : world_(world), rank_(rank) {}
  explicit InProcessCommunicator(std::shared_ptr<InProcessWorld> owned)
      : owned_(std::move(owned)), world_(owned_.get()), rank_(0) {}

  int rank() const override { return rank_; }
  int size() const override { return world_->size(); }
  std::string backend() const override { return "in-process"; }

  std::shared_ptr<Work> AllReduce(Buffer buffer, ReduceOp op) override {
    CheckAllReduce(*this, buffer, op);
    return world_->Join(rank_, {OpType::kAllReduce, next_++, buffer, buffer, op, 0});
  }
  std::shared_ptr<Work> Broadcast(Buffer buffer, int root) override {
    CheckBroadcast(*this, buffer, root);
    return world_->Join(rank_, {OpType::kBroadcast, next_++, buffer, buffer, ReduceOp::kSum, root});
  }
  std::shared_ptr<Work> AllGather(Buffer input, Buffer out) override {
    CheckAllGather(*this, input, out);
    return world_->Join(rank_, {OpType::kAllGather, next_++, input, out, ReduceOp::kSum, 0});
  }
  std::shared_ptr<Work> Barrier() override {
    return world_->Join(rank_, {OpType::kBarrier, next_++, {}, {}, ReduceOp::kSum, 0});
  }
  [[noreturn]] void Abort(const std::string& reason) override {
    std::cerr << "rank " << rank_ << ": aborting: " << reason << std::endl;
    std::abort();
  }

 private:
  std::shared_ptr<InProcessWorld> owned_;  // set for Single()
  InProcessWorld* world_;
  const int rank_;
  uint64_t next_ = 0;
};

InProcessWorld::InProcessWorld(int size) : size_(size) {
  if (size < 1)
    throw Error(ErrorCode::kInvalidArgument,
                "InProcessWorld: size: expected >= 1, got " + std::to_string(size));
}

InProcessWorld::~InProcessWorld() = default;

std::unique_ptr<Communicator> InProcessWorld::Connect(int rank) {
  if (rank < 0 || rank >= size_) {
    throw Error(ErrorCode::kInvalidArgument, "InProcessWorld::Connect: rank: expected [0, " +
                                                 std::to_string(size_) + "), got " +
                                                 std::to_string(rank));
  }
  return std::make_unique<InProcessCommunicator>(this, rank);
}

std::unique_ptr<Communicator> InProcessWorld::Single() {
  return std::make_unique<InProcessCommunicator>(std::make_shared<InProcessWorld>(1));
}

void InProcessWorld::DropRank(int rank, uint64_t from_sequence) {
  std::lock_guard<std::mutex> lock(mu_);
  dropped_[rank] = from_sequence;
}

void InProcessWorld::FailOp(int rank, uint64_t sequence, const std::string& error) {
  std::lock_guard<std::mutex> lock(mu_);
  failures_[{rank, sequence}] = error;
}

std::string InProcessWorld::Missing(uint64_t sequence) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = slots_.find(sequence);
  std::string missing;
  for (int r = 0; r < size_; ++r) {
    if (it == slots_.end() || it->second->works[r] == nullptr) {
      missing += (missing.empty() ? "" : ", ") + std::to_string(r);
    }
  }
  return missing.empty() ? "all ranks joined" : "waiting for rank " + missing + " to join";
}

std::shared_ptr<Work> InProcessWorld::Join(int rank, Op op) {
  const std::string what =
      "rank " + std::to_string(rank) + ": " +
      DescribeOp(op.type, op.sequence, op.type == OpType::kAllGather ? op.input : op.out);
  const uint64_t sequence = op.sequence;
  auto work =
      std::make_shared<CompletionWork>(what, [this, sequence] { return Missing(sequence); });
  std::unique_lock<std::mutex> lock(mu_);
  auto dropped = dropped_.find(rank);
  if (dropped != dropped_.end() && sequence >= dropped->second) return work;  // never completes
  auto failure = failures_.find({rank, sequence});
  if (failure != failures_.end()) {
    work->Fail(failure->second);
    return work;
  }
  std::unique_ptr<Slot>& slot = slots_[sequence];
  if (!slot) {
    slot = std::make_unique<Slot>();
    slot->first = op;
    slot->first_rank = rank;
    slot->inputs.resize(size_);
    slot->outs.resize(size_);
    slot->works.resize(size_);
  } else if (!(slot->first.type == op.type && slot->first.out.count == op.out.count &&
               slot->first.out.dtype == op.out.dtype && slot->first.input.count == op.input.count &&
               slot->first.root == op.root && slot->first.reduce == op.reduce)) {
    slot->mismatch = "rank " + std::to_string(rank) + " issued " +
                     DescribeOp(op.type, sequence, op.out) + " but rank " +
                     std::to_string(slot->first_rank) + " issued " +
                     DescribeOp(slot->first.type, sequence, slot->first.out);
  }
  const Buffer& in = op.type == OpType::kAllGather ? op.input : op.out;
  const char* bytes = static_cast<const char*>(in.data);
  slot->inputs[rank].assign(bytes, bytes + in.bytes());
  slot->outs[rank] = op.out;
  slot->works[rank] = work;
  if (++slot->joined < size_) return work;

  // The last rank in: compute, write every rank's output, complete everyone.
  std::unique_ptr<Slot> done = std::move(slot);
  slots_.erase(sequence);
  lock.unlock();
  if (!done->mismatch.empty()) {
    for (auto& w : done->works) w->Fail(done->mismatch);
    return work;
  }
  const Op& f = done->first;
  std::vector<char> result;
  switch (f.type) {
    case OpType::kAllReduce:
      result = done->inputs[0];
      for (int r = 1; r < size_; ++r)
        AddInto(f.out.dtype, result.data(), done->inputs[r].data(), f.out.count);
      if (f.reduce == ReduceOp::kAvg) DivideBy(f.out.dtype, result.data(), f.out.count, size_);
      break;
    case OpType::kBroadcast:
      result = done->inputs[f.root];
      break;
    case OpType::kAllGather:
      for (int r = 0; r < size_; ++r)
        result.insert(result.end(), done->inputs[r].begin(), done->inputs[r].end());
      break;
    case OpType::kBarrier:
      break;
  }
  for (int r = 0; r < size_; ++r) {
    if (!result.empty()) std::memcpy(done->outs[r].data, result.data(), result.size());
    done->works[r]->Complete();
  }
  return work;
}

}  // namespace sbmt::dist
