#include "trainer/dist/mpi_communicator.h"

#include <mpi.h>

#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <limits>
#include <mutex>
#include <thread>

#include "runtime/error.h"
#include "trainer/dist/completion_work.h"

namespace sbmt::dist {
namespace {

MPI_Datatype ToMpi(DType dtype) {
  switch (dtype) {
    case DType::kFloat32:
      return MPI_FLOAT;
    case DType::kFloat64:
      return MPI_DOUBLE;
    case DType::kInt32:
      return MPI_INT32_T;
    case DType::kInt64:
      return MPI_INT64_T;
    case DType::kUInt8:
      return MPI_UINT8_T;
  }
  return MPI_DATATYPE_NULL;
}

std::string MpiError(int code) {
  char text[MPI_MAX_ERROR_STRING];
  int length = 0;
  MPI_Error_string(code, text, &length);
  return std::string(text, length);
}

// MPI counts are ints: large buffers go in pieces.
constexpr int64_t kMaxChunk = std::numeric_limits<int>::max() / 8;

// Calls call(data, count) on consecutive pieces of at most kMaxChunk elements of `buffer`;
// stops at the first MPI error and returns it.
template <typename Call>
int InChunks(const Buffer& buffer, Call call) {
  char* data = static_cast<char*>(buffer.data);
  const size_t element = DTypeSize(buffer.dtype);
  for (int64_t at = 0; at < buffer.count; at += kMaxChunk) {
    const int code =
        call(data + at * element, static_cast<int>(std::min(kMaxChunk, buffer.count - at)));
    if (code != MPI_SUCCESS) return code;
  }
  return MPI_SUCCESS;
}

struct Op {
  OpType type;
  uint64_t sequence;
  Buffer input, out;
  ReduceOp reduce;
  int root;
  std::shared_ptr<CompletionWork> work;
};

class MpiWorld : public Communicator {
 public:
  explicit MpiWorld(std::chrono::milliseconds deadline) : deadline_(deadline) {
    int initialized = 0;
    MPI_Initialized(&initialized);
    if (!initialized) {
      int provided = 0;
      MPI_Init_thread(nullptr, nullptr, MPI_THREAD_SERIALIZED, &provided);
      if (provided < MPI_THREAD_SERIALIZED) {
        throw CommError("MPI provides thread level " + std::to_string(provided) +
                        ", below the MPI_THREAD_SERIALIZED this backend needs");
      }
    }
    // Errors come back as codes (and become CommError) instead of killing the process silently.
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
    MPI_Comm_size(MPI_COMM_WORLD, &size_);
    worker_ = std::thread([this] { Serve(); });
    if (deadline_.count() > 0) watchdog_ = std::thread([this] { Watch(); });
  }

  ~MpiWorld() override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stopping_ = true;
    }
    cv_.notify_all();
    worker_.join();
    if (watchdog_.joinable()) watchdog_.join();
    int finalized = 0;
    MPI_Finalized(&finalized);
    if (!finalized) MPI_Finalize();
  }

  int rank() const override { return rank_; }
  int size() const override { return size_; }
  std::string backend() const override { return "mpi"; }

  std::shared_ptr<Work> AllReduce(Buffer buffer, ReduceOp op) override {
    CheckAllReduce(*this, buffer, op);
    return Enqueue({OpType::kAllReduce, 0, buffer, buffer, op, 0, nullptr});
  }
  std::shared_ptr<Work> Broadcast(Buffer buffer, int root) override {
    CheckBroadcast(*this, buffer, root);
    return Enqueue({OpType::kBroadcast, 0, buffer, buffer, ReduceOp::kSum, root, nullptr});
  }
  std::shared_ptr<Work> AllGather(Buffer input, Buffer out) override {
    CheckAllGather(*this, input, out);
    if (input.count > std::numeric_limits<int>::max()) {
      throw Error(ErrorCode::kInvalidArgument, "allgather: input.count: at most " +
                                                   std::to_string(std::numeric_limits<int>::max()) +
                                                   " with MPI, got " + std::to_string(input.count));
    }
    return Enqueue({OpType::kAllGather, 0, input, out, ReduceOp::kSum, 0, nullptr});
  }
  std::shared_ptr<Work> Barrier() override {
    return Enqueue({OpType::kBarrier, 0, {}, {}, ReduceOp::kSum, 0, nullptr});
  }

  [[noreturn]] void Abort(const std::string& reason) override {
    std::fprintf(stderr, "rank %d: aborting the job: %s\n", rank_, reason.c_str());
    std::fflush(stderr);
    MPI_Abort(MPI_COMM_WORLD, 1);
    std::_Exit(1);  // MPI_Abort does not return; in case an implementation does
  }

 private:
  std::shared_ptr<Work> Enqueue(Op op) {
    CountIssued();
    std::lock_guard<std::mutex> lock(mu_);
    op.sequence = next_++;
    op.work = std::make_shared<CompletionWork>(
        "rank " + std::to_string(rank_) + ": " +
        DescribeOp(op.type, op.sequence, op.type == OpType::kAllGather ? op.input : op.out));
    queue_.push_back(op);
    cv_.notify_all();
    return op.work;
  }

  void Serve() {
    for (;;) {
      Op op;
      {
        std::unique_lock<std::mutex> lock(mu_);
        cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
        if (queue_.empty()) return;  // stopping, and everything queued has run
        op = queue_.front();
        queue_.pop_front();
        running_ = op.work->what();
        running_since_ = std::chrono::steady_clock::now();
      }
      const int code = Run(op);
      {
        std::lock_guard<std::mutex> lock(mu_);
        running_.clear();
      }
      if (code == MPI_SUCCESS) {
        op.work->Complete();
      } else {
        op.work->Fail(MpiError(code));
      }
    }
  }

  int Run(const Op& op) {
    switch (op.type) {
      case OpType::kAllReduce: {
        const int code = InChunks(op.out, [&](void* data, int n) {
          return MPI_Allreduce(MPI_IN_PLACE, data, n, ToMpi(op.out.dtype), MPI_SUM, MPI_COMM_WORLD);
        });
        if (code == MPI_SUCCESS && op.reduce == ReduceOp::kAvg) {
          DivideBy(op.out.dtype, op.out.data, op.out.count, size_);
        }
        return code;
      }
      case OpType::kBroadcast:
        return InChunks(op.out, [&](void* data, int n) {
          return MPI_Bcast(data, n, ToMpi(op.out.dtype), op.root, MPI_COMM_WORLD);
        });
      case OpType::kAllGather:
        return MPI_Allgather(op.input.data, static_cast<int>(op.input.count), ToMpi(op.input.dtype),
                             op.out.data, static_cast<int>(op.input.count), ToMpi(op.out.dtype),
                             MPI_COMM_WORLD);
      case OpType::kBarrier:
        return MPI_Barrier(MPI_COMM_WORLD);
    }
    return MPI_ERR_OTHER;
  }

  void Watch() {
    std::unique_lock<std::mutex> lock(mu_);
    while (!stopping_) {
      cv_.wait_for(lock, std::chrono::milliseconds(100));
      if (running_.empty()) continue;
      const auto ran = std::chrono::steady_clock::now() - running_since_;
      if (ran < deadline_) continue;
      const std::string what = running_;
      lock.unlock();
      Abort("watchdog: " + what + " has not completed after " +
            std::to_string(std::chrono::duration_cast<std::chrono::seconds>(ran).count()) +
            " s (deadline " +
            std::to_string(std::chrono::duration_cast<std::chrono::seconds>(deadline_).count()) +
            " s); a peer rank is dead or stuck");
    }
  }

  const std::chrono::milliseconds deadline_;
  int rank_ = 0, size_ = 1;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Op> queue_;
  uint64_t next_ = 0;
  bool stopping_ = false;
  std::string running_;  // the op on the communication thread, empty when idle
  std::chrono::steady_clock::time_point running_since_;
  std::thread worker_, watchdog_;
};

}  // namespace

std::unique_ptr<Communicator> MpiCommunicator::Create(std::chrono::milliseconds watchdog_deadline) {
  return std::make_unique<MpiWorld>(watchdog_deadline);
}

}  // namespace sbmt::dist
