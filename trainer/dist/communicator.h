// The collectives data-parallel training calls (DESIGN.md section 5), behind one interface with
// three implementations: MPI (CPU buffers; mpi_communicator.h), NCCL (GPU buffers;
// nccl_communicator.h, --config=cuda builds) and an in-process one (in_process_communicator.h:
// world size 1, and threads standing in for ranks in tests, with failure injection).
//
// The interface is torch-free: a Buffer is a typed view of memory on the communicator's device,
// so the backends build without LibTorch and the NCCL one works on raw device memory.
//
// Every op is asynchronous. It is queued in call order and numbered (the sequence number); all
// ranks must issue the same ops in the same order, as in MPI. The returned Work completes when
// the op has finished on this rank: its output buffer may be read and its input reused.
// Work::Wait(timeout) blocks until then and throws CommError (naming rank, op and sequence
// number) when the op failed or did not finish within the timeout. Buffers must stay alive and
// untouched until the Work completes.
//
//   std::unique_ptr<Communicator> comm = ...;
//   auto work = comm->AllReduce(Buffer::Of(grads.data(), grads.size()), ReduceOp::kSum);
//   ... compute ...
//   work->Wait(std::chrono::seconds(300));
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>

#include "runtime/error.h"

namespace sbmt::dist {

enum class DType { kFloat32, kFloat64, kInt32, kInt64, kUInt8 };
enum class ReduceOp { kSum, kAvg };
enum class OpType { kAllReduce, kBroadcast, kAllGather, kBarrier };

size_t DTypeSize(DType dtype);
const char* DTypeName(DType dtype);
const char* OpName(OpType op);

template <typename T>
constexpr DType DTypeOf();
template <>
constexpr DType DTypeOf<float>() {
  return DType::kFloat32;
}
template <>
constexpr DType DTypeOf<double>() {
  return DType::kFloat64;
}
template <>
constexpr DType DTypeOf<int32_t>() {
  return DType::kInt32;
}
template <>
constexpr DType DTypeOf<int64_t>() {
  return DType::kInt64;
}
template <>
constexpr DType DTypeOf<uint8_t>() {
  return DType::kUInt8;
}

struct Buffer {
  void* data = nullptr;
  int64_t count = 0;  // elements
  DType dtype = DType::kFloat32;
  bool on_device = false;  // GPU memory: only NCCL takes it (MPI and in-process read the host)

  template <typename T>
  static Buffer Of(T* data, int64_t count) {
    return {data, count, DTypeOf<T>()};
  }
  size_t bytes() const { return static_cast<size_t>(count) * DTypeSize(dtype); }
};

// A failed, timed-out or mismatched collective. what() names the rank, the op and its sequence
// number, e.g. "rank 1: allreduce #57 (6291456 float32) did not complete within 30 s".
SBMT_DEFINE_ERROR(CommError, ErrorCode::kUnavailable);

class Work {
 public:
  virtual ~Work() = default;
  // Blocks until the op completed; throws CommError if it failed or the timeout passed first.
  virtual void Wait(std::chrono::milliseconds timeout) = 0;
  virtual bool IsCompleted() = 0;
};

class Communicator {
 public:
  virtual ~Communicator() = default;

  virtual int rank() const = 0;
  virtual int size() const = 0;
  virtual std::string backend() const = 0;

  // In place: every rank ends with the elementwise sum (or mean) of all ranks' buffers. kAvg is
  // for floating-point buffers only.
  virtual std::shared_ptr<Work> AllReduce(Buffer buffer, ReduceOp op) = 0;
  // In place: every rank ends with root's buffer.
  virtual std::shared_ptr<Work> Broadcast(Buffer buffer, int root) = 0;
  // `out` holds size() x input.count elements: rank r's input lands at offset r x input.count.
  virtual std::shared_ptr<Work> AllGather(Buffer input, Buffer out) = 0;
  virtual std::shared_ptr<Work> Barrier() = 0;

  // Ends the whole job now, from any thread (after an unrecoverable error on this rank), so that
  // peers do not wait for a rank that is gone. Does not return.
  [[noreturn]] virtual void Abort(const std::string& reason) = 0;

  // Collectives this rank has issued (MPI and NCCL; 0 in-process), read from any thread. In a
  // stalled job the rank whose count lags its peers' is the one they wait for: the coordinator
  // blames it by rank and host.
  int64_t collectives_issued() const { return issued_.load(std::memory_order_relaxed); }

 protected:
  void CountIssued() { issued_.fetch_add(1, std::memory_order_relaxed); }

 private:
  std::atomic<int64_t> issued_{0};
};

// Checks an op's arguments against the communicator (same for every backend); throws
// sbmt::Error (invalid argument) naming the argument, the expected and the actual value.
void CheckAllReduce(const Communicator& comm, const Buffer& buffer, ReduceOp op);
void CheckBroadcast(const Communicator& comm, const Buffer& buffer, int root);
void CheckAllGather(const Communicator& comm, const Buffer& input, const Buffer& out);

// "allreduce #57 (6291456 float32)", the op's name in errors and logs.
std::string DescribeOp(OpType op, uint64_t sequence, const Buffer& buffer);

}  // namespace sbmt::dist
