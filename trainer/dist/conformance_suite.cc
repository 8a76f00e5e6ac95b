#include "trainer/dist/conformance_suite.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace sbmt::dist::testing {
namespace {

constexpr std::chrono::seconds kTimeout(60);

class Host : public TestMemory {
 public:
  void* Allocate(size_t bytes) override { return std::malloc(bytes == 0 ? 1 : bytes); }
  void Free(void* data) override { std::free(data); }
  void CopyIn(void* dst, const void* host, size_t bytes) override { std::memcpy(dst, host, bytes); }
  void CopyOut(void* host, const void* src, size_t bytes) override {
    std::memcpy(host, src, bytes);
  }
};

// A buffer in the backend's memory holding `values`, read back with Read().
template <typename T>
class TestBuffer {
 public:
  TestBuffer(TestMemory& memory, const std::vector<T>& values)
      : memory_(memory),
        count_(static_cast<int64_t>(values.size())),
        data_(memory.Allocate(values.size() * sizeof(T))) {
    memory_.CopyIn(data_, values.data(), values.size() * sizeof(T));
  }
  ~TestBuffer() { memory_.Free(data_); }
  TestBuffer(const TestBuffer&) = delete;
  TestBuffer& operator=(const TestBuffer&) = delete;

  Buffer buffer() const { return {data_, count_, DTypeOf<T>()}; }
  std::vector<T> Read() const {
    std::vector<T> values(count_);
    memory_.CopyOut(values.data(), data_, values.size() * sizeof(T));
    return values;
  }

 private:
  TestMemory& memory_;
  int64_t count_;
  void* data_;
};

void AllReduceSumFloat(Communicator& c, TestMemory& m) {
  const int n = 1000;
  std::vector<float> values(n);
  for (int i = 0; i < n; ++i) values[i] = static_cast<float>(c.rank() + 1) + 0.5f * i;
  TestBuffer<float> b(m, values);
  c.AllReduce(b.buffer(), ReduceOp::kSum)->Wait(kTimeout);
  const std::vector<float> got = b.Read();
  const int w = c.size();
  for (int i = 0; i < n; ++i) {
    ASSERT_EQ(got[i], static_cast<float>(w * (w + 1) / 2) + 0.5f * i * w) << "element " << i;
  }
}

void AllReduceAvgDouble(Communicator& c, TestMemory& m) {
  std::vector<double> values = {1.0 * c.rank(), -2.0 * c.rank(), 3.0};
  TestBuffer<double> b(m, values);
  c.AllReduce(b.buffer(), ReduceOp::kAvg)->Wait(kTimeout);
  const double mean_rank = (c.size() - 1) / 2.0;
  const std::vector<double> got = b.Read();
  EXPECT_DOUBLE_EQ(got[0], mean_rank);
  EXPECT_DOUBLE_EQ(got[1], -2 * mean_rank);
  EXPECT_DOUBLE_EQ(got[2], 3.0);
}

void AllReduceSumInt64(Communicator& c, TestMemory& m) {
  TestBuffer<int64_t> b(m, {int64_t{1} << 40, c.rank()});
  c.AllReduce(b.buffer(), ReduceOp::kSum)->Wait(kTimeout);
  const std::vector<int64_t> got = b.Read();
  EXPECT_EQ(got[0], (int64_t{1} << 40) * c.size());
  EXPECT_EQ(got[1], int64_t{c.size()} * (c.size() - 1) / 2);
}

void BroadcastFromEveryRoot(Communicator& c, TestMemory& m) {
  for (int root = 0; root < c.size(); ++root) {
    std::vector<int32_t> values(17);
    for (int i = 0; i < 17; ++i) values[i] = c.rank() * 100 + i;
    TestBuffer<int32_t> b(m, values);
    c.Broadcast(b.buffer(), root)->Wait(kTimeout);
    const std::vector<int32_t> got = b.Read();
    for (int i = 0; i < 17; ++i) ASSERT_EQ(got[i], root * 100 + i) << "root " << root;
  }
}

void AllGatherInRankOrder(Communicator& c, TestMemory& m) {
  TestBuffer<double> in(m, {1.0 * c.rank(), 10.0 * c.rank()});
  TestBuffer<double> out(m, std::vector<double>(2 * c.size(), -1.0));
  c.AllGather(in.buffer(), out.buffer())->Wait(kTimeout);
  const std::vector<double> got = out.Read();
  for (int r = 0; r < c.size(); ++r) {
    EXPECT_EQ(got[2 * r], 1.0 * r);
    EXPECT_EQ(got[2 * r + 1], 10.0 * r);
  }
}

void ManyOpsInFlight(Communicator& c, TestMemory& m) {
  // Queued back to back, waited in reverse: each op still gets its own result.
  std::vector<std::unique_ptr<TestBuffer<float>>> buffers;
  std::vector<std::shared_ptr<Work>> works;
  for (int op = 0; op < 8; ++op) {
    buffers.push_back(std::make_unique<TestBuffer<float>>(
        m, std::vector<float>(64 + op, static_cast<float>(op * (c.rank() + 1)))));
    works.push_back(c.AllReduce(buffers.back()->buffer(), ReduceOp::kSum));
  }
  works.push_back(c.Barrier());
  for (auto it = works.rbegin(); it != works.rend(); ++it) (*it)->Wait(kTimeout);
  for (auto& w : works) EXPECT_TRUE(w->IsCompleted());
  const float ranks_sum = static_cast<float>(c.size() * (c.size() + 1) / 2);
  for (int op = 0; op < 8; ++op) {
    for (float v : buffers[op]->Read()) ASSERT_EQ(v, op * ranks_sum) << "op " << op;
  }
}

void LargeAndEmptyBuffers(Communicator& c, TestMemory& m) {
  const int64_t n = 3 << 20;  // 12 MB: more than one MPI eager message or NCCL chunk
  std::vector<float> values(n);
  for (int64_t i = 0; i < n; ++i) values[i] = static_cast<float>((i % 1024) * (c.rank() + 1));
  TestBuffer<float> big(m, values);
  TestBuffer<float> empty(m, {});
  auto w1 = c.AllReduce(big.buffer(), ReduceOp::kSum);
  auto w2 = c.AllReduce(empty.buffer(), ReduceOp::kSum);
  w1->Wait(kTimeout);
  w2->Wait(kTimeout);
  const float ranks_sum = static_cast<float>(c.size() * (c.size() + 1) / 2);
  const std::vector<float> got = big.Read();
  for (int64_t i = 0; i < n; i += 4099)
    ASSERT_EQ(got[i], (i % 1024) * ranks_sum) << "element " << i;
  EXPECT_EQ(got[n - 1], ((n - 1) % 1024) * ranks_sum);
}

void BadArgumentsNameTheArgument(Communicator& c, TestMemory& m) {
  TestBuffer<int32_t> ints(m, {1, 2});
  try {
    c.AllReduce(ints.buffer(), ReduceOp::kAvg);
    ADD_FAILURE() << "avg of int32 accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("int32"), std::string::npos) << e.what();
  }
  try {
    c.Broadcast(ints.buffer(), c.size());
    ADD_FAILURE() << "root " << c.size() << " accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("root"), std::string::npos) << e.what();
  }
  TestBuffer<int32_t> small(m, std::vector<int32_t>(2 * c.size() + 1));
  try {
    c.AllGather(ints.buffer(), small.buffer());
    ADD_FAILURE() << "allgather into a buffer of the wrong size accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("out.count"), std::string::npos) << e.what();
  }
  // No collective was issued: the next one still matches across ranks.
  c.Barrier()->Wait(kTimeout);
}

}  // namespace

std::unique_ptr<TestMemory> HostMemory() { return std::make_unique<Host>(); }

void RunConformanceSuite(Communicator& comm, TestMemory& memory) {
  const struct {
    const char* name;
    void (*check)(Communicator&, TestMemory&);
  } checks[] = {
      {"AllReduceSumFloat", AllReduceSumFloat},
      {"AllReduceAvgDouble", AllReduceAvgDouble},
      {"AllReduceSumInt64", AllReduceSumInt64},
      {"BroadcastFromEveryRoot", BroadcastFromEveryRoot},
      {"AllGatherInRankOrder", AllGatherInRankOrder},
      {"ManyOpsInFlight", ManyOpsInFlight},
      {"LargeAndEmptyBuffers", LargeAndEmptyBuffers},
      {"BadArgumentsNameTheArgument", BadArgumentsNameTheArgument},
  };
  for (const auto& check : checks) {
    SCOPED_TRACE(std::string(check.name) + " on rank " + std::to_string(comm.rank()) + " of " +
                 std::to_string(comm.size()) + " (" + comm.backend() + ")");
    check.check(comm, memory);
    if (::testing::Test::HasFatalFailure()) return;  // the ranks no longer agree on the next op
  }
}

}  // namespace sbmt::dist::testing
