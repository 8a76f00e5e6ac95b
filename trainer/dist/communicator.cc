#include "trainer/dist/communicator.h"

#include "runtime/error.h"

namespace sbmt::dist {

size_t DTypeSize(DType dtype) {
  switch (dtype) {
    case DType::kFloat32:
      return 4;
    case DType::kFloat64:
      return 8;
    case DType::kInt32:
      return 4;
    case DType::kInt64:
      return 8;
    case DType::kUInt8:
      return 1;
  }
  return 0;
}

const char* DTypeName(DType dtype) {
  switch (dtype) {
    case DType::kFloat32:
      return "float32";
    case DType::kFloat64:
      return "float64";
    case DType::kInt32:
      return "int32";
    case DType::kInt64:
      return "int64";
    case DType::kUInt8:
      return "uint8";
  }
  return "?";
}

const char* OpName(OpType op) {
  switch (op) {
    case OpType::kAllReduce:
      return "allreduce";
    case OpType::kBroadcast:
      return "broadcast";
    case OpType::kAllGather:
      return "allgather";
    case OpType::kBarrier:
      return "barrier";
  }
  return "?";
}

std::string DescribeOp(OpType op, uint64_t sequence, const Buffer& buffer) {
  std::string s = std::string(OpName(op)) + " #" + std::to_string(sequence);
  if (op != OpType::kBarrier) {
    s += " (" + std::to_string(buffer.count) + " " + DTypeName(buffer.dtype) + ")";
  }
  return s;
}

namespace {

void CheckBuffer(const Communicator& comm, const char* op, const char* name, const Buffer& b) {
  if (b.on_device && comm.backend() != "nccl") {
    throw Error(ErrorCode::kInvalidArgument,
                std::string(op) + ": " + name + " is GPU memory, but backend " + comm.backend() +
                    " reads host memory (GPU tensors go through dist.backend nccl)");
  }
  if (b.count < 0) {
    throw Error(
        ErrorCode::kInvalidArgument,
        std::string(op) + ": " + name + ".count: expected >= 0, got " + std::to_string(b.count));
  }
  if (b.count > 0 && b.data == nullptr) {
    throw Error(ErrorCode::kInvalidArgument, std::string(op) + ": " + name +
                                                 ".data: expected memory for " +
                                                 std::to_string(b.count) + " elements, got null");
  }
}

}  // namespace

void CheckAllReduce(const Communicator& comm, const Buffer& buffer, ReduceOp op) {
  CheckBuffer(comm, "allreduce", "buffer", buffer);
  if (op == ReduceOp::kAvg && buffer.dtype != DType::kFloat32 && buffer.dtype != DType::kFloat64) {
    throw Error(ErrorCode::kInvalidArgument,
                std::string("allreduce: avg needs a float32 or float64 buffer, got ") +
                    DTypeName(buffer.dtype) + " (backend " + comm.backend() + ")");
  }
}

void CheckBroadcast(const Communicator& comm, const Buffer& buffer, int root) {
  CheckBuffer(comm, "broadcast", "buffer", buffer);
  if (root < 0 || root >= comm.size()) {
    throw Error(ErrorCode::kInvalidArgument, "broadcast: root: expected a rank in [0, " +
                                                 std::to_string(comm.size()) + "), got " +
                                                 std::to_string(root));
  }
}

void CheckAllGather(const Communicator& comm, const Buffer& input, const Buffer& out) {
  CheckBuffer(comm, "allgather", "input", input);
  CheckBuffer(comm, "allgather", "out", out);
  if (out.dtype != input.dtype) {
    throw Error(ErrorCode::kInvalidArgument, std::string("allgather: out.dtype: expected ") +
                                                 DTypeName(input.dtype) + " (the input's), got " +
                                                 DTypeName(out.dtype));
  }
  if (out.count != input.count * comm.size()) {
    throw Error(ErrorCode::kInvalidArgument,
                "allgather: out.count: expected " + std::to_string(input.count * comm.size()) +
                    " (world size " + std::to_string(comm.size()) + " x " +
                    std::to_string(input.count) + "), got " + std::to_string(out.count));
  }
}

}  // namespace sbmt::dist
