// The NCCL backend (GPU buffers), built only with --config=cuda (see nccl_available.h).
//
// - Bootstrap: rank 0 creates the ncclUniqueId and broadcasts it over MPI (a world of one needs
//   no MPI). The communicator is non-blocking (ncclConfig_t.blocking = 0): no NCCL call can hang
//   the host, and an abort can always reach it.
// - Ops run in call order on one CUDA stream of this communicator; each Work records a CUDA
//   event after its op. Wait(timeout) polls the event and ncclCommGetAsyncError.
// - A watchdog thread polls the outstanding ops: on an asynchronous NCCL error, or an op older
//   than the deadline, it reports rank, op and sequence number, aborts the NCCL communicator
//   (ncclCommAbort) and ends the job through MPI_Abort, so peers never wait on a dead rank.
#include <cuda_runtime.h>
#include <nccl.h>

#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <mutex>
#include <stdexcept>
#include <thread>

#include "trainer/dist/mpi_communicator.h"
#include "trainer/dist/nccl_available.h"

namespace sbmt::dist {
namespace {

void CheckCuda(cudaError_t status, const char* what) {
  if (status != cudaSuccess) {
    throw CommError(std::string(what) + ": " + cudaGetErrorString(status));
  }
}

ncclDataType_t ToNccl(DType dtype) {
  switch (dtype) {
    case DType::kFloat32:
      return ncclFloat32;
    case DType::kFloat64:
      return ncclFloat64;
    case DType::kInt32:
      return ncclInt32;
    case DType::kInt64:
      return ncclInt64;
    case DType::kUInt8:
      return ncclUint8;
  }
  return ncclFloat32;
}

class NcclWork;

// A CUDA event shared by a Work and the watchdog's list, destroyed with its last holder.
struct Event {
  cudaEvent_t event = nullptr;
  Event() {
    CheckCuda(cudaEventCreateWithFlags(&event, cudaEventDisableTiming), "cudaEventCreate");
  }
  ~Event() { cudaEventDestroy(event); }
  Event(const Event&) = delete;
  Event& operator=(const Event&) = delete;
};

class NcclWorld : public Communicator {
 public:
  NcclWorld(const Placement& placement, std::chrono::milliseconds deadline, Communicator* bootstrap)
      : deadline_(deadline), rank_(placement.rank), size_(placement.world), bootstrap_(bootstrap) {
    CheckCuda(cudaSetDevice(placement.gpu()), "cudaSetDevice");
    ncclUniqueId id;
    if (size_ > 1) {
      if (bootstrap_ == nullptr) {
        own_bootstrap_ = MpiCommunicator::Create(deadline);
        bootstrap_ = own_bootstrap_.get();
      }
      if (rank_ == 0) Check(ncclGetUniqueId(&id), "ncclGetUniqueId");
      bootstrap_
          ->Broadcast(Buffer::Of(reinterpret_cast<uint8_t*>(id.internal), NCCL_UNIQUE_ID_BYTES), 0)
          ->Wait(deadline);
    } else {
      Check(ncclGetUniqueId(&id), "ncclGetUniqueId");
    }
    ncclConfig_t config = NCCL_CONFIG_INITIALIZER;
    config.blocking = 0;
    Check(ncclCommInitRankConfig(&comm_, size_, id, rank_, &config), "ncclCommInitRankConfig");
    AwaitInProgress("ncclCommInitRankConfig");
    CheckCuda(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking), "cudaStreamCreate");
    CheckCuda(cudaEventCreateWithFlags(&produced_, cudaEventDisableTiming), "cudaEventCreate");
    CheckCuda(cudaMalloc(&scratch_, sizeof(int32_t)), "cudaMalloc");
    watchdog_ = std::thread([this] { Watch(); });
  }

  ~NcclWorld() override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stopping_ = true;
    }
    cv_.notify_all();
    watchdog_.join();
    cudaStreamSynchronize(stream_);
    ncclCommFinalize(comm_);
    AwaitInProgress("ncclCommFinalize", /*throw_on_error=*/false);
    ncclCommDestroy(comm_);
    cudaFree(scratch_);
    cudaEventDestroy(produced_);
    cudaStreamDestroy(stream_);
  }

  int rank() const override { return rank_; }
  int size() const override { return size_; }
  std::string backend() const override { return "nccl"; }

  std::shared_ptr<Work> AllReduce(Buffer buffer, ReduceOp op) override {
    CheckAllReduce(*this, buffer, op);
    return Launch(OpType::kAllReduce, buffer, [&] {
      return ncclAllReduce(buffer.data, buffer.data, buffer.count, ToNccl(buffer.dtype),
                           op == ReduceOp::kAvg ? ncclAvg : ncclSum, comm_, stream_);
    });
  }
  std::shared_ptr<Work> Broadcast(Buffer buffer, int root) override {
    CheckBroadcast(*this, buffer, root);
    return Launch(OpType::kBroadcast, buffer, [&] {
      return ncclBroadcast(buffer.data, buffer.data, buffer.count, ToNccl(buffer.dtype), root,
                           comm_, stream_);
    });
  }
  std::shared_ptr<Work> AllGather(Buffer input, Buffer out) override {
    CheckAllGather(*this, input, out);
    return Launch(OpType::kAllGather, input, [&] {
      return ncclAllGather(input.data, out.data, input.count, ToNccl(input.dtype), comm_, stream_);
    });
  }
  std::shared_ptr<Work> Barrier() override {
    // NCCL has no barrier: a one-element allreduce on the communicator's stream serves.
    return Launch(OpType::kBarrier, {}, [&] {
      return ncclAllReduce(scratch_, scratch_, 1, ncclInt32, ncclSum, comm_, stream_);
    });
  }

  [[noreturn]] void Abort(const std::string& reason) override {
    std::fprintf(stderr, "rank %d: aborting the job: %s\n", rank_, reason.c_str());
    std::fflush(stderr);
    ncclCommAbort(comm_);
    if (bootstrap_) bootstrap_->Abort(reason);
    std::_Exit(1);
  }

  // Polled by NcclWork::Wait: "" while running, "done", or the error.
  std::string Poll(cudaEvent_t event) {
    ncclResult_t async = ncclSuccess;
    ncclCommGetAsyncError(comm_, &async);
    if (async != ncclSuccess && async != ncclInProgress) return ncclGetErrorString(async);
    const cudaError_t status = cudaEventQuery(event);
    if (status == cudaSuccess) return "done";
    if (status != cudaErrorNotReady) return cudaGetErrorString(status);
    return "";
  }

 private:
  struct Outstanding {
    std::string what;
    std::shared_ptr<Event> event;
    std::chrono::steady_clock::time_point since;
  };

  void Check(ncclResult_t result, const char* what) {
    if (result != ncclSuccess && result != ncclInProgress) {
      throw CommError("rank " + std::to_string(rank_) + ": " + what + ": " +
                      ncclGetErrorString(result));
    }
  }

  // A non-blocking communicator may return ncclInProgress: poll until the call has finished.
  void AwaitInProgress(const char* what, bool throw_on_error = true) {
    const auto until = std::chrono::steady_clock::now() + deadline_;
    for (;;) {
      ncclResult_t state = ncclSuccess;
      ncclCommGetAsyncError(comm_, &state);
      if (state == ncclSuccess) return;
      if (state != ncclInProgress) {
        if (throw_on_error) Check(state, what);
        return;
      }
      if (std::chrono::steady_clock::now() > until) {
        if (throw_on_error) {
          throw CommError("rank " + std::to_string(rank_) + ": " + what +
                          " did not finish within the deadline");
        }
        return;
      }
      std::this_thread::sleep_for(std::chrono::microseconds(50));
    }
  }

  template <typename Call>
  std::shared_ptr<Work> Launch(OpType type, const Buffer& buffer, Call call);

  void Watch() {
    std::unique_lock<std::mutex> lock(mu_);
    while (!stopping_) {
      cv_.wait_for(lock, std::chrono::milliseconds(100));
      while (!outstanding_.empty() &&
             cudaEventQuery(outstanding_.front().event->event) == cudaSuccess) {
        outstanding_.pop_front();
      }
      ncclResult_t async = ncclSuccess;
      ncclCommGetAsyncError(comm_, &async);
      std::string problem;
      if (async != ncclSuccess && async != ncclInProgress) {
        problem = std::string("NCCL error ") + ncclGetErrorString(async) +
                  (outstanding_.empty() ? "" : " during " + outstanding_.front().what);
      } else if (!outstanding_.empty() &&
                 std::chrono::steady_clock::now() - outstanding_.front().since > deadline_) {
        problem =
            outstanding_.front().what + " has not completed after " +
            std::to_string(std::chrono::duration_cast<std::chrono::seconds>(deadline_).count()) +
            " s; a peer rank is dead or stuck";
      }
      if (!problem.empty()) {
        lock.unlock();
        Abort("watchdog: " + problem);
      }
    }
  }

  friend class NcclWork;
  const std::chrono::milliseconds deadline_;
  const int rank_, size_;
  // The host communicator (MPI), for the unique id and the job-wide abort: the job's, or one of
  // this world's own.
  Communicator* bootstrap_ = nullptr;
  std::unique_ptr<Communicator> own_bootstrap_;
  cudaEvent_t produced_ = nullptr;  // the legacy default stream's work before an op
  ncclComm_t comm_ = nullptr;
  cudaStream_t stream_ = nullptr;
  void* scratch_ = nullptr;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  uint64_t next_ = 0;
  std::deque<Outstanding> outstanding_;  // launched, in order; the watchdog retires them
  std::thread watchdog_;
};

class NcclWork : public Work {
 public:
  NcclWork(NcclWorld* world, std::string what, std::shared_ptr<Event> event)
      : world_(world), what_(std::move(what)), event_(std::move(event)) {}

  void Wait(std::chrono::milliseconds timeout) override {
    const auto until = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      const std::string state = world_->Poll(event_->event);
      if (state == "done") return;
      if (!state.empty()) throw CommError(what_ + " failed: " + state);
      if (std::chrono::steady_clock::now() > until) {
        throw CommError(what_ + " did not complete within " +
                        std::to_string(timeout.count() / 1000.0) + " s");
      }
      std::this_thread::sleep_for(std::chrono::microseconds(20));
    }
  }
  bool IsCompleted() override { return world_->Poll(event_->event) == "done"; }

 private:
  NcclWorld* world_;
  const std::string what_;
  std::shared_ptr<Event> event_;
};

template <typename Call>
std::shared_ptr<Work> NcclWorld::Launch(OpType type, const Buffer& buffer, Call call) {
  CountIssued();
  std::lock_guard<std::mutex> lock(mu_);
  const std::string what =
      "rank " + std::to_string(rank_) + ": " + DescribeOp(type, next_++, buffer);
  // The buffers were written on the legacy default stream (LibTorch's default stream): the op,
  // on this world's non-blocking stream, first waits for everything queued there.
  CheckCuda(cudaEventRecord(produced_, cudaStreamLegacy), "cudaEventRecord");
  CheckCuda(cudaStreamWaitEvent(stream_, produced_, 0), "cudaStreamWaitEvent");
  Check(call(), what.c_str());
  AwaitInProgress(what.c_str());
  auto event = std::make_shared<Event>();
  CheckCuda(cudaEventRecord(event->event, stream_), "cudaEventRecord");
  outstanding_.push_back({what, event, std::chrono::steady_clock::now()});
  return std::make_shared<NcclWork>(this, what, event);
}

}  // namespace

std::unique_ptr<Communicator> ConnectNccl(const Placement& placement,
                                          std::chrono::milliseconds timeout,
                                          Communicator* bootstrap) {
  return std::make_unique<NcclWorld>(placement, timeout, bootstrap);
}

}  // namespace sbmt::dist
